/** `berth kill`: parallel POST /containers/{id}/kill[?signal=S]. */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { cpath, forEachContainer } from './container-common.js';

export const spec: CommandSpec = {
  use: 'kill [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Kill one or more running containers',
  aliases: 'docker container kill, docker kill',
  args: { min: 1 },
  flags: [{ name: 'signal', short: 's', type: 'string', usage: 'Signal to send to the container' }],
};

export async function run(ctx: CommandContext): Promise<number> {
  const sig = ctx.opts.string('signal');
  const client = await ctx.client();
  return forEachContainer(ctx, (name) => client.json('POST', `/containers/${cpath(name)}/kill`, { query: { signal: sig !== '' ? sig : undefined } }));
}
