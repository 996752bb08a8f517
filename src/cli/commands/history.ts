/** `berth history`: GET /images/{name}/history, docker's table. */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { DEFAULT_QUIET_FORMAT, ellipsis, renderRows, sortedJson, TABLE_KEY, truncateId } from '../format.js';
import { asArray, asRecord, num, str } from '../narrow.js';
import type { Rec } from '../narrow.js';
import { createdSince, humanSizeWithPrecision } from '../units.js';
import { FORMAT_HELP, goRfc3339 } from './common.js';

export const spec: CommandSpec = {
  use: 'history [OPTIONS] IMAGE',
  short: 'Show the history of an image',
  aliases: 'docker image history, docker history',
  args: { min: 1, max: 1 },
  flags: [
    { name: 'format', type: 'string', usage: FORMAT_HELP },
    { name: 'human', short: 'H', type: 'bool', usage: 'Print sizes and dates in human readable format', default: true },
    { name: 'no-trunc', type: 'bool', usage: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Only show image IDs' },
  ],
};

const EPOCH_2000 = Date.UTC(2000, 0, 1) / 1000;

class HistoryContext {
  constructor(private readonly h: Rec, private readonly trunc: boolean, private readonly human: boolean) {}
  get ID(): string {
    const id = str(this.h, 'Id');
    return this.trunc ? truncateId(id) : id;
  }
  get CreatedAt(): string { return goRfc3339(num(this.h, 'Created')); }
  get CreatedSince(): string {
    if (!this.human) return this.CreatedAt;
    if (num(this.h, 'Created') <= EPOCH_2000) return 'N/A';
    return createdSince(num(this.h, 'Created'));
  }
  get CreatedBy(): string {
    const s = str(this.h, 'CreatedBy').replace(/\t/g, ' ');
    return this.trunc ? ellipsis(s, 45) : s;
  }
  get Size(): string {
    return this.human ? humanSizeWithPrecision(num(this.h, 'Size'), 3) : String(num(this.h, 'Size'));
  }
  get Comment(): string { return str(this.h, 'Comment'); }
  toJSON(): Record<string, unknown> {
    return sortedJson({ Comment: this.Comment, CreatedAt: this.CreatedAt, CreatedBy: this.CreatedBy, CreatedSince: this.CreatedSince, ID: this.ID, Size: this.Size });
  }
}

const HEADERS = { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' };

export async function run(ctx: CommandContext): Promise<number> {
  const o = ctx.opts;
  const client = await ctx.client();
  const items = asArray(await client.get(`/images/${ctx.args[0] ?? ''}/history`));
  const human = o.bool('human');
  const src = o.string('format') === '' ? TABLE_KEY : o.string('format');
  let format = src;
  if (src === TABLE_KEY) {
    format = o.bool('quiet')
      ? DEFAULT_QUIET_FORMAT
      : human
        ? 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}'
        : 'table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';
  }
  const rows = items.map((h) => new HistoryContext(asRecord(h), !o.bool('no-trunc'), human));
  ctx.out.write(renderRows(format, rows, HEADERS));
  return 0;
}
