/** `berth image prune`: confirm, then POST /images/prune with dangling=… */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { asArray, asRecord, num, str } from '../narrow.js';
import { humanSize } from '../units.js';
import { filtersJson } from './common.js';

export const spec: CommandSpec = {
  use: 'prune [OPTIONS]',
  short: 'Remove unused images',
  args: { max: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', usage: 'Remove all unused images, not just dangling ones' },
    { name: 'filter', type: 'stringArray', varname: 'filter', usage: 'Provide filter values (e.g. "until=<timestamp>")' },
    { name: 'force', short: 'f', type: 'bool', usage: 'Do not prompt for confirmation' },
  ],
};

const ALL_WARNING = 'WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?';
const DANGLING_WARNING = 'WARNING! This will remove all dangling images.\nAre you sure you want to continue?';

/** prompt.Confirm: one line from stdin, "y"/"Y" means yes; EOF means no. */
export async function confirm(ctx: CommandContext, message: string): Promise<boolean> {
  ctx.out.write(`${message} [y/N] `);
  const stdin = ctx.stdin;
  const line = await new Promise<string>((resolve) => {
    let buf = '';
    const done = (): void => {
      stdin.off('data', onData);
      stdin.off('end', done);
      stdin.pause();
      resolve(buf.split('\n')[0] ?? '');
    };
    const onData = (c: Buffer | string): void => {
      buf += c.toString();
      if (buf.includes('\n')) done();
    };
    stdin.on('data', onData);
    stdin.on('end', done);
  });
  return line.trim().toLowerCase() === 'y';
}

export async function run(ctx: CommandContext): Promise<number> {
  const all = ctx.opts.bool('all');
  const filters = filtersJson(ctx.opts.strings('filter'), [['dangling', String(!all)]]);
  if (!ctx.opts.bool('force') && !(await confirm(ctx, all ? ALL_WARNING : DANGLING_WARNING))) return 0;
  const client = await ctx.client();
  const report = asRecord(await client.json('POST', '/images/prune', { query: { filters } }));
  const deleted = asArray(report['ImagesDeleted']);
  let reclaimed = 0;
  if (deleted.length > 0) {
    let s = 'Deleted Images:\n';
    for (const d of deleted.map(asRecord)) {
      s += str(d, 'Untagged') !== '' ? `untagged: ${str(d, 'Untagged')}\n` : `deleted: ${str(d, 'Deleted')}\n`;
    }
    ctx.out.write(`${s}\n`);
    reclaimed = num(report, 'SpaceReclaimed');
  }
  ctx.out.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
  return 0;
}
