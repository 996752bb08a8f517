/** `berth rmi` / `berth image rm`: DELETE /images/{name}, printing Untagged/Deleted lines. */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { asArray, asRecord, str } from '../narrow.js';
import { ApiError } from '../../client/errors.js';
import { errorText } from './inspect-common.js';

export const spec: CommandSpec = {
  use: 'rmi [OPTIONS] IMAGE [IMAGE...]',
  short: 'Remove one or more images',
  aliases: 'docker image rm, docker image remove, docker rmi',
  args: { min: 1 },
  flags: [
    { name: 'force', short: 'f', type: 'bool', usage: 'Force removal of the image' },
    { name: 'no-prune', type: 'bool', usage: 'Do not delete untagged parents' },
  ],
};

export async function run(ctx: CommandContext): Promise<number> {
  const force = ctx.opts.bool('force');
  const client = await ctx.client();
  const errors: string[] = [];
  let fatal = false;
  for (const img of ctx.args) {
    try {
      const res = asArray(await client.json('DELETE', `/images/${img}`, {
        query: { force: force ? '1' : undefined, noprune: ctx.opts.bool('no-prune') ? '1' : undefined },
      }));
      for (const item of res) {
        const r = asRecord(item);
        if (str(r, 'Deleted') !== '') ctx.out.write(`Deleted: ${str(r, 'Deleted')}\n`);
        else ctx.out.write(`Untagged: ${str(r, 'Untagged')}\n`);
      }
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) fatal = true;
      errors.push(errorText(e));
    }
  }
  if (errors.length > 0) {
    if (!force || fatal) throw new StatusError(errors.join('\n'), 1);
    ctx.err.write(`${errors.join('\n')}\n`);
  }
  return 0;
}
