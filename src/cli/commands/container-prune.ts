/** `berth container prune`: confirm, then POST /containers/prune. */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { asRecord, num, strings } from '../narrow.js';
import { humanSize } from '../units.js';
import { filtersJson } from './common.js';
import { confirm } from './image-prune.js';

export const spec: CommandSpec = {
  use: 'prune [OPTIONS]',
  short: 'Remove all stopped containers',
  args: { max: 0 },
  flags: [
    { name: 'filter', type: 'stringArray', varname: 'filter', usage: 'Provide filter values (e.g. "until=<timestamp>")' },
    { name: 'force', short: 'f', type: 'bool', usage: 'Do not prompt for confirmation' },
  ],
};

const WARNING = 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue?';

export async function run(ctx: CommandContext): Promise<number> {
  const filters = filtersJson(ctx.opts.strings('filter'));
  // A "no" is a cancellation: docker exits 0 without a message.
  if (!ctx.opts.bool('force') && !(await confirm(ctx, WARNING))) return 0;
  const client = await ctx.client();
  const report = asRecord(await client.json('POST', '/containers/prune', { query: { filters } }));
  const deleted = strings(report, 'ContainersDeleted');
  let reclaimed = 0;
  if (deleted.length > 0) {
    ctx.out.write(`Deleted Containers:\n${deleted.map((d) => `${d}\n`).join('')}\n`);
    reclaimed = num(report, 'SpaceReclaimed');
  }
  ctx.out.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
  return 0;
}
