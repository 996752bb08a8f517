/** `berth unpause`: parallel POST /containers/{id}/unpause. */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { cpath, forEachContainer } from './container-common.js';

export const spec: CommandSpec = {
  use: 'unpause CONTAINER [CONTAINER...]',
  short: 'Unpause all processes within one or more containers',
  aliases: 'docker container unpause, docker unpause',
  args: { min: 1 },
  flags: [],
};

export async function run(ctx: CommandContext): Promise<number> {
  const client = await ctx.client();
  return forEachContainer(ctx, (name) => client.json('POST', `/containers/${cpath(name)}/unpause`));
}
