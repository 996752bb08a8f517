/** `berth image inspect`: GET /images/{name}/json for each argument. */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { INSPECT_FORMAT_HELP } from './common.js';
import { inspectAll } from './inspect-common.js';

export const spec: CommandSpec = {
  use: 'inspect [OPTIONS] IMAGE [IMAGE...]',
  short: 'Display detailed information on one or more images',
  args: { min: 1 },
  flags: [
    { name: 'format', short: 'f', type: 'string', usage: INSPECT_FORMAT_HELP },
    { name: 'platform', type: 'string', usage: 'Inspect a specific platform of the multi-platform image.', hidden: true },
  ],
};

export async function run(ctx: CommandContext): Promise<number> {
  const client = await ctx.client();
  // Image references go into the path unescaped, like the docker client.
  return inspectAll(ctx, ctx.args, ctx.opts.string('format'), (ref) => client.text('GET', `/images/${ref}/json`));
}
