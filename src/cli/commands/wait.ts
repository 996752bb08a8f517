/** `berth wait`: POST /containers/{id}/wait for each, printing each StatusCode. */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { errorText, startWait } from './container-common.js';

export const spec: CommandSpec = {
  use: 'wait CONTAINER [CONTAINER...]',
  short: 'Block until one or more containers stop, then print their exit codes',
  aliases: 'docker container wait, docker wait',
  args: { min: 1 },
  flags: [],
};

export async function run(ctx: CommandContext): Promise<number> {
  const client = await ctx.client();
  const errors: string[] = [];
  for (const name of ctx.args) {
    try {
      const r = await (await startWait(client, name, undefined)).result;
      ctx.out.write(`${r.statusCode}\n`);
    } catch (e) {
      errors.push(errorText(e));
    }
  }
  if (errors.length > 0) throw new StatusError(errors.join('\n'), 1);
  return 0;
}
