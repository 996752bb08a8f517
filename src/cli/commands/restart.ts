/** `berth restart`: POST /containers/{id}/restart, one container after the other. */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { cpath, forEachContainer } from './container-common.js';
import { spec as stopSpec, stopQuery } from './stop.js';

export const spec: CommandSpec = {
  use: 'restart [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Restart one or more containers',
  aliases: 'docker container restart, docker restart',
  args: { min: 1 },
  flags: stopSpec.flags,
};

export async function run(ctx: CommandContext): Promise<number> {
  const query = stopQuery(ctx);
  const client = await ctx.client();
  return forEachContainer(ctx, (name) => client.json('POST', `/containers/${cpath(name)}/restart`, { query }), true);
}
