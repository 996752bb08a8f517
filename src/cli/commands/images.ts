/** `berth images` / `berth image ls`: GET /images/json, rendered like docker. */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { DEFAULT_QUIET_FORMAT, renderRows, TABLE_KEY } from '../format.js';
import { asArray } from '../narrow.js';
import { FILTER_FLAG, filtersJson, FORMAT_HELP, IMAGE_HEADERS, imageRows } from './common.js';

export const spec: CommandSpec = {
  use: 'images [OPTIONS] [REPOSITORY[:TAG]]',
  short: 'List images',
  aliases: 'docker image ls, docker image list, docker images',
  args: { max: 1 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', usage: 'Show all images (default hides intermediate images)' },
    { name: 'digests', type: 'bool', usage: 'Show digests' },
    FILTER_FLAG,
    { name: 'format', type: 'string', usage: FORMAT_HELP },
    { name: 'no-trunc', type: 'bool', usage: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Only show image IDs' },
  ],
};

const DEFAULT_TABLE = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';
const DEFAULT_TABLE_DIGEST = 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';

/** formatter.NewImageFormat. */
export function imageFormat(source: string, quiet: boolean, digest: boolean): string {
  if (source === TABLE_KEY) return quiet ? DEFAULT_QUIET_FORMAT : digest ? DEFAULT_TABLE_DIGEST : DEFAULT_TABLE;
  if (source === 'raw') {
    if (quiet) return 'image_id: {{.ID}}';
    return digest
      ? 'repository: {{ .Repository }}\ntag: {{.Tag}}\ndigest: {{.Digest}}\nimage_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n'
      : 'repository: {{ .Repository }}\ntag: {{.Tag}}\nimage_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n';
  }
  if (source.startsWith(TABLE_KEY) && digest && !source.includes('{{.Digest}}')) return `${source}\t{{.Digest}}`;
  return source;
}

export async function run(ctx: CommandContext): Promise<number> {
  const o = ctx.opts;
  const extra: Array<[string, string]> = ctx.args[0] !== undefined ? [['reference', ctx.args[0]]] : [];
  const filters = filtersJson(o.strings('filter'), extra);
  const client = await ctx.client();
  const list = asArray(await client.get('/images/json', { all: o.bool('all') ? '1' : undefined, filters }));
  const source = o.string('format') === '' ? TABLE_KEY : o.string('format');
  const format = imageFormat(source, o.bool('quiet'), o.bool('digests'));
  const rows = imageRows(list, !o.bool('no-trunc'), o.bool('digests'), o.bool('digests') || format.includes('{{.Digest}}'));
  ctx.out.write(renderRows(format, rows, IMAGE_HEADERS));
  const m = ctx.args[0];
  if (m !== undefined && list.length === 0 && ctx.path === `${ctx.bin} images` && AMBIGUOUS.has(m)) {
    ctx.err.write(`\nNo images found matching "${m}": did you mean "${ctx.bin} image ${m}"?\n`);
  }
  return 0;
}

const AMBIGUOUS = new Set(['build', 'history', 'import', 'inspect', 'list', 'load', 'ls', 'prune', 'pull', 'push', 'rm', 'save', 'tag']);
