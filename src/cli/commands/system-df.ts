/** `berth system df`: GET /system/df, summary or `-v` per-object tables. */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { execOrThrow, JSON_FORMAT, JSON_KEY, parseFormat, preFormat, renderRows, sortedJson, TABLE_KEY, truncateId, ellipsis } from '../format.js';
import { asArray, asRecord, bool, num, str, strings } from '../narrow.js';
import type { Rec } from '../narrow.js';
import { createdSince, humanSize } from '../units.js';
import { containerImage, FORMAT_HELP, IMAGE_HEADERS, ImageContext, isDangling, splitTag } from './common.js';

export const spec: CommandSpec = {
  use: 'df [OPTIONS]',
  short: 'Show docker disk usage',
  args: { max: 0 },
  flags: [
    { name: 'format', type: 'string', usage: FORMAT_HELP },
    { name: 'verbose', short: 'v', type: 'bool', usage: 'Show detailed information on space usage' },
  ],
};

function pct(part: number, total: number): string {
  return total > 0 ? `${humanSize(part)} (${Math.trunc((part * 100) / total)}%)` : humanSize(part);
}

class UsageRow {
  constructor(readonly Type: string, readonly TotalCount: string, readonly Active: string, readonly Size: string, readonly Reclaimable: string) {}
  toJSON(): Record<string, unknown> {
    return sortedJson({ Active: this.Active, Reclaimable: this.Reclaimable, Size: this.Size, TotalCount: this.TotalCount, Type: this.Type });
  }
}

const ACTIVE_STATES = new Set(['running', 'paused', 'restarting']);

function summaryRows(du: Rec): UsageRow[] {
  const images = asArray(du['Images']).map(asRecord);
  const containers = asArray(du['Containers']).map(asRecord);
  const volumes = asArray(du['Volumes']).map(asRecord);
  const cache = asArray(du['BuildCache']).map(asRecord);
  const layers = num(du, 'LayersSize');
  let used = 0;
  for (const i of images) {
    if (num(i, 'Containers') !== 0) {
      if (num(i, 'Size') === -1 || num(i, 'SharedSize') === -1) continue;
      used += num(i, 'Size') - num(i, 'SharedSize');
    }
  }
  let cSize = 0;
  let cReclaim = 0;
  for (const c of containers) {
    if (!ACTIVE_STATES.has(str(c, 'State'))) cReclaim += num(c, 'SizeRw');
    cSize += num(c, 'SizeRw');
  }
  let vSize = 0;
  let vReclaim = 0;
  for (const v of volumes) {
    const ud = asRecord(v['UsageData']);
    if (num(ud, 'Size', -1) !== -1) {
      if (num(ud, 'RefCount') === 0) vReclaim += num(ud, 'Size');
      vSize += num(ud, 'Size');
    }
  }
  const builder = num(du, 'BuilderSize');
  let inUse = 0;
  for (const b of cache) if (bool(b, 'InUse') && !bool(b, 'Shared')) inUse += num(b, 'Size');
  return [
    new UsageRow('Images', String(images.length), String(images.filter((i) => num(i, 'Containers') > 0).length), humanSize(layers), pct(layers - used, layers)),
    new UsageRow('Containers', String(containers.length), String(containers.filter((c) => ACTIVE_STATES.has(str(c, 'State'))).length), humanSize(cSize), pct(cReclaim, cSize)),
    new UsageRow('Local Volumes', String(volumes.length), String(volumes.filter((v) => num(asRecord(v['UsageData']), 'RefCount') > 0).length), humanSize(vSize), pct(vReclaim, vSize)),
    new UsageRow('Build Cache', String(cache.length), String(cache.filter((b) => bool(b, 'InUse')).length), humanSize(builder), humanSize(builder - inUse)),
  ];
}

class ContainerRow {
  constructor(private readonly c: Rec, private readonly trunc: boolean) {}
  get ID(): string { return this.trunc ? truncateId(str(this.c, 'Id')) : str(this.c, 'Id'); }
  get Image(): string { return containerImage(this.c, this.trunc); }
  get Command(): string {
    const cmd = str(this.c, 'Command');
    return JSON.stringify(this.trunc ? ellipsis(cmd, 20) : cmd);
  }
  get LocalVolumes(): string {
    return String(asArray(this.c['Mounts']).filter((m) => str(asRecord(m), 'Driver') === 'local').length);
  }
  get Size(): string { return num(this.c, 'SizeRw') > 0 ? humanSize(num(this.c, 'SizeRw')) : '0B'; }
  get RunningFor(): string { return createdSince(num(this.c, 'Created')); }
  get Status(): string { return str(this.c, 'Status'); }
  get Names(): string { return strings(this.c, 'Names').map((n) => n.replace(/^\//, '')).join(','); }
}

class VolumeRow {
  constructor(private readonly v: Rec) {}
  get Name(): string { return str(this.v, 'Name'); }
  get Links(): string {
    const n = num(asRecord(this.v['UsageData']), 'RefCount', -1);
    return n === -1 ? 'N/A' : String(n);
  }
  get Size(): string {
    const s = num(asRecord(this.v['UsageData']), 'Size', -1);
    return s === -1 ? 'N/A' : humanSize(s);
  }
}

class CacheRow {
  constructor(private readonly b: Rec, private readonly trunc: boolean) {}
  get ID(): string { const id = str(this.b, 'ID'); return this.trunc ? id.slice(0, 12) : id; }
  get CacheType(): string { return str(this.b, 'Type'); }
  get Size(): string { return humanSize(num(this.b, 'Size')); }
  get CreatedSince(): string { return createdSince(Date.parse(str(this.b, 'CreatedAt')) / 1000); }
  get LastUsedSince(): string { const l = str(this.b, 'LastUsedAt'); return l === '' ? '' : createdSince(Date.parse(l) / 1000); }
  get UsageCount(): string { return String(num(this.b, 'UsageCount')); }
  get Shared(): string { return String(bool(this.b, 'Shared')); }
}

export async function run(ctx: CommandContext): Promise<number> {
  const client = await ctx.client();
  const du = asRecord(await client.get('/system/df'));
  const format = ctx.opts.string('format');
  if (!ctx.opts.bool('verbose')) {
    const f = format === '' || format === TABLE_KEY ? 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}' : format;
    ctx.out.write(renderRows(f, summaryRows(du), { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' }));
    return 0;
  }
  const trunc = format === '' || format.startsWith(TABLE_KEY);
  const images = asArray(du['Images']).map(asRecord).map((i) => {
    let repo = '<none>';
    let tag = '<none>';
    const first = strings(i, 'RepoTags')[0];
    if (first !== undefined && !isDangling(i)) {
      const [name, t] = splitTag(first);
      if (t !== undefined) { repo = name; tag = t; }
    }
    return new ImageContext(i, trunc, repo, tag, '');
  });
  const containers = asArray(du['Containers']).map((c) => new ContainerRow(asRecord(c), trunc));
  const volumes = asArray(du['Volumes']).map((v) => new VolumeRow(asRecord(v)));
  const cache = asArray(du['BuildCache']).map((b) => new CacheRow(asRecord(b), trunc));
  if (format !== '' && format !== TABLE_KEY) {
    const tmpl = parseFormat(preFormat(format === JSON_KEY ? JSON_FORMAT : format));
    ctx.out.write(execOrThrow(tmpl, { Images: images, Containers: containers, Volumes: volumes, BuildCache: cache }));
    return 0;
  }
  ctx.out.write('Images space usage:\n\n');
  ctx.out.write(renderRows('table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}', images, IMAGE_HEADERS));
  ctx.out.write('\nContainers space usage:\n\n');
  ctx.out.write(renderRows('table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}', containers, {
    ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', LocalVolumes: 'LOCAL VOLUMES', Size: 'SIZE', RunningFor: 'CREATED', Status: 'STATUS', Names: 'NAMES',
  }));
  ctx.out.write('\nLocal Volumes space usage:\n\n');
  ctx.out.write(renderRows('table {{.Name}}\t{{.Links}}\t{{.Size}}', volumes, { Name: 'VOLUME NAME', Links: 'LINKS', Size: 'SIZE' }));
  ctx.out.write(`\nBuild cache usage: ${humanSize(num(du, 'BuilderSize'))}\n\n`);
  ctx.out.write(renderRows('table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}', cache, {
    ID: 'CACHE ID', CacheType: 'CACHE TYPE', Size: 'SIZE', CreatedSince: 'CREATED', LastUsedSince: 'LAST USED', UsageCount: 'USAGE', Shared: 'SHARED',
  }));
  return 0;
}
