/** `berth container inspect`: GET /containers/{id}/json[?size=1] only. */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { INSPECT_FORMAT_HELP } from './common.js';
import { cpath } from './container-common.js';
import { inspectAll } from './inspect-common.js';

export const spec: CommandSpec = {
  use: 'inspect [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Display detailed information on one or more containers',
  args: { min: 1 },
  flags: [
    { name: 'format', short: 'f', type: 'string', usage: INSPECT_FORMAT_HELP },
    { name: 'size', short: 's', type: 'bool', usage: 'Display total file sizes' },
  ],
};

export async function run(ctx: CommandContext): Promise<number> {
  const client = await ctx.client();
  const size = ctx.opts.bool('size');
  return inspectAll(ctx, ctx.args, ctx.opts.string('format'), (ref) => client.text('GET', `/containers/${cpath(ref)}/json`, size ? { query: { size: '1' } } : {}));
}
