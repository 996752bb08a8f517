/** `berth ps` / `berth container ls`: GET /containers/json rendered with docker's container formatter. */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { DEFAULT_QUIET_FORMAT, ellipsis, renderRows, sortedJson, TABLE_KEY, truncateId } from '../format.js';
import { asArray, asRecord, num, str, strings } from '../narrow.js';
import type { Rec } from '../narrow.js';
import { humanDuration, humanSizeWithPrecision } from '../units.js';
import { goQuote } from '../template.js';
import { containerImage, FILTER_FLAG, filtersJson, FORMAT_HELP, goTimeString } from './common.js';

export const spec: CommandSpec = {
  use: 'ps [OPTIONS]',
  short: 'List containers',
  aliases: 'docker container ls, docker container list, docker container ps, docker ps',
  args: { max: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', usage: 'Show all containers (default shows just running)' },
    FILTER_FLAG,
    { name: 'format', type: 'string', usage: FORMAT_HELP },
    { name: 'last', short: 'n', type: 'int', usage: 'Show n last created containers (includes all states)', default: -1 },
    { name: 'latest', short: 'l', type: 'bool', usage: 'Show the latest created container (includes all states)' },
    { name: 'no-trunc', type: 'bool', usage: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display container IDs' },
    { name: 'size', short: 's', type: 'bool', usage: 'Display total file sizes' },
  ],
};

const DEFAULT_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

export const CONTAINER_HEADERS: Readonly<Record<string, string>> = {
  ID: 'CONTAINER ID', Names: 'NAMES', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED',
  Ports: 'PORTS', State: 'STATE', Status: 'STATUS', Size: 'SIZE', Labels: 'LABELS', Mounts: 'MOUNTS', LocalVolumes: 'LOCAL VOLUMES',
  Networks: 'NETWORKS', Platform: 'PLATFORM',
};

/** formatter.NewContainerFormat. */
export function containerFormat(source: string, quiet: boolean, size: boolean): string {
  if (source === '' || source === TABLE_KEY) {
    if (quiet) return DEFAULT_QUIET_FORMAT;
    return size ? `${DEFAULT_TABLE}\\t{{.Size}}` : DEFAULT_TABLE;
  }
  if (source === 'raw') {
    if (quiet) return 'container_id: {{.ID}}';
    let f = 'container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\ncreated_at: {{.CreatedAt}}\nstate: {{- pad .State 1 0}}\nstatus: {{- pad .Status 1 0}}\nnames: {{.Names}}\nlabels: {{- pad .Labels 1 0}}\nports: {{- pad .Ports 1 0}}\n';
    if (size) f += 'size: {{.Size}}\\n';
    return f;
  }
  return quiet ? DEFAULT_QUIET_FORMAT : source;
}


interface PortEntry { IP: string; PrivatePort: number; PublicPort: number; Type: string }

function joinHostPort(host: string, port: string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** formatter.DisplayablePorts: groups consecutive ports, host mappings last. */
export function displayablePorts(list: readonly PortEntry[]): string {
  const ports = [...list].sort((i, j) => {
    if (i.PrivatePort !== j.PrivatePort) return i.PrivatePort - j.PrivatePort;
    if (i.IP !== j.IP) return i.IP < j.IP ? -1 : 1;
    if (i.PublicPort !== j.PublicPort) return i.PublicPort - j.PublicPort;
    return i.Type < j.Type ? -1 : i.Type > j.Type ? 1 : 0;
  });
  const groups = new Map<string, { first: number; last: number }>();
  const keys: string[] = [];
  const result: string[] = [];
  const hostMappings: string[] = [];
  const formGroup = (key: string, start: number, last: number): string => {
    const parts = key.split('/');
    let type = parts[0] as string;
    let ip = '';
    if (parts.length > 1) {
      ip = parts[0] as string;
      type = parts[1] as string;
    }
    let group = String(start);
    if (start !== last) group = `${group}-${last}`;
    if (ip !== '') group = `${joinHostPort(ip, group)}->${group}`;
    return `${group}/${type}`;
  };
  for (const p of ports) {
    const current = p.PrivatePort;
    let key = p.Type;
    if (p.IP !== '') {
      if (p.PublicPort !== current) {
        hostMappings.push(`${joinHostPort(p.IP, String(p.PublicPort))}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (g === undefined) {
      groups.set(key, { first: current, last: current });
      keys.push(key);
      continue;
    }
    if (current === g.last + 1) {
      g.last = current;
      continue;
    }
    result.push(formGroup(key, g.first, g.last));
    groups.set(key, { first: current, last: current });
  }
  for (const k of keys) {
    const g = groups.get(k) as { first: number; last: number };
    result.push(formGroup(k, g.first, g.last));
  }
  return [...result, ...hostMappings].join(', ');
}

/** formatter.ContainerContext: getters are template fields, Label is a method. */
export class ContainerContext {
  constructor(private readonly c: Rec, private readonly trunc: boolean) {}
  get ID(): string {
    const id = str(this.c, 'Id');
    return this.trunc ? truncateId(id) : id;
  }
  get Names(): string {
    let names = strings(this.c, 'Names').map((n) => n.slice(1));
    if (this.trunc) {
      const plain = names.find((n) => !n.includes('/'));
      if (plain !== undefined) names = [plain];
    }
    return names.join(',');
  }
  get Image(): string {
    return containerImage(this.c, this.trunc);
  }
  get Command(): string {
    const cmd = str(this.c, 'Command');
    return goQuote(this.trunc ? ellipsis(cmd, 20) : cmd);
  }
  get CreatedAt(): string { return goTimeString(num(this.c, 'Created')); }
  get RunningFor(): string { return `${humanDuration(Date.now() - num(this.c, 'Created') * 1000)} ago`; }
  get Platform(): null { return null; }
  get Ports(): string {
    return displayablePorts(asArray(this.c['Ports']).map(asRecord).map((p) => ({ IP: str(p, 'IP'), PrivatePort: num(p, 'PrivatePort'), PublicPort: num(p, 'PublicPort'), Type: str(p, 'Type') })));
  }
  get State(): string { return str(this.c, 'State'); }
  get Status(): string { return str(this.c, 'Status'); }
  get Size(): string {
    const srw = humanSizeWithPrecision(num(this.c, 'SizeRw'), 3);
    const rootfs = num(this.c, 'SizeRootFs');
    return rootfs > 0 ? `${srw} (virtual ${humanSizeWithPrecision(rootfs, 3)})` : srw;
  }
  get Labels(): string {
    const l = this.c['Labels'];
    if (l === null || l === undefined) return '';
    const r = asRecord(l);
    return Object.keys(r).map((k) => `${k}=${String(r[k])}`).sort().join(',');
  }
  Label(name: string): string {
    const v = asRecord(this.c['Labels'])[name];
    return typeof v === 'string' ? v : '';
  }
  get Mounts(): string {
    return asArray(this.c['Mounts']).map(asRecord).map((m) => {
      const n = str(m, 'Name') === '' ? str(m, 'Source') : str(m, 'Name');
      return this.trunc ? ellipsis(n, 15) : n;
    }).join(',');
  }
  get LocalVolumes(): string { return String(asArray(this.c['Mounts']).map(asRecord).filter((m) => str(m, 'Driver') === 'local').length); }
  get Networks(): string {
    const ns = this.c['NetworkSettings'];
    if (ns === null || ns === undefined) return '';
    return Object.keys(asRecord(asRecord(ns)['Networks'])).sort().join(',');
  }
  toJSON(): Record<string, unknown> {
    return sortedJson({
      Command: this.Command, CreatedAt: this.CreatedAt, ID: this.ID, Image: this.Image, Labels: this.Labels, LocalVolumes: this.LocalVolumes,
      Mounts: this.Mounts, Names: this.Names, Networks: this.Networks, Platform: this.Platform, Ports: this.Ports, RunningFor: this.RunningFor,
      Size: this.Size, State: this.State, Status: this.Status,
    });
  }
}

export async function run(ctx: CommandContext): Promise<number> {
  const o = ctx.opts;
  const quiet = o.bool('quiet');
  const format = o.string('format');
  if (format !== '' && quiet) ctx.err.write('WARNING: Ignoring custom format, because both --format and --quiet are set.\n');
  let limit = o.int('last');
  if (o.bool('latest') && limit === -1) limit = 1;
  let size = o.bool('size');
  // The CLI asks for sizes when the template uses .Size (or json, which renders every field).
  if (format !== '' && !quiet && !size && !o.changed('size') && (/\.Size\b/.test(format) || format === 'json' || /\{\{\s*json\s+\.\s*\}\}/.test(format))) size = true;
  const client = await ctx.client();
  const list = asArray(await client.get('/containers/json', {
    all: o.bool('all') ? '1' : undefined,
    limit: limit > 0 ? String(limit) : undefined,
    size: size ? '1' : undefined,
    filters: filtersJson(o.strings('filter')),
  }));
  const rows = list.map((c) => new ContainerContext(asRecord(c), !o.bool('no-trunc')));
  ctx.out.write(renderRows(containerFormat(format, quiet, size), rows, CONTAINER_HEADERS));
  return 0;
}
