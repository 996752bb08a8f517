/**
 * `berth stats`: per-container GET /containers/{id}/stats (stream=0 with
 * --no-stream), CPU% from the cpu/precpu deltas and memory without the
 * inactive page cache, exactly as the docker CLI computes them.
 */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { renderRows, sortedJson, truncateId } from '../format.js';
import { asArray, asRecord, num, str } from '../narrow.js';
import type { Rec } from '../narrow.js';
import { bytesSize, humanSizeWithPrecision } from '../units.js';
import { readJsonLines } from '../../client/jsonstream.js';
import type { EngineClient } from '../../client/engine.js';
import { FORMAT_HELP } from './common.js';
import { cpath, errorText } from './container-common.js';

export const spec: CommandSpec = {
  use: 'stats [OPTIONS] [CONTAINER...]',
  short: 'Display a live stream of container(s) resource usage statistics',
  aliases: 'docker container stats, docker stats',
  flags: [
    { name: 'all', short: 'a', type: 'bool', usage: 'Show all containers (default shows just running)' },
    { name: 'format', type: 'string', usage: FORMAT_HELP },
    { name: 'no-stream', type: 'bool', usage: 'Disable streaming stats and only pull the first result' },
    { name: 'no-trunc', type: 'bool', usage: 'Do not truncate output' },
  ],
};

const DEFAULT_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';
const HEADERS: Readonly<Record<string, string>> = {
  Container: 'CONTAINER', Name: 'NAME', ID: 'CONTAINER ID', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %',
  NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS',
};

interface Entry {
  container: string;
  name: string;
  id: string;
  cpu: number;
  mem: number;
  memLimit: number;
  memPerc: number;
  netRx: number;
  netTx: number;
  blkRead: number;
  blkWrite: number;
  pids: number;
  invalid: boolean;
  err: unknown;
}

function newEntry(container: string): Entry {
  return { container, name: '', id: '', cpu: 0, mem: 0, memLimit: 0, memPerc: 0, netRx: 0, netTx: 0, blkRead: 0, blkWrite: 0, pids: 0, invalid: false, err: undefined };
}

/** calculateCPUPercentUnix. */
export function cpuPercent(v: Rec): number {
  const cpu = asRecord(v['cpu_stats']);
  const pre = asRecord(v['precpu_stats']);
  const cpuDelta = num(asRecord(cpu['cpu_usage']), 'total_usage') - num(asRecord(pre['cpu_usage']), 'total_usage');
  const systemDelta = num(cpu, 'system_cpu_usage') - num(pre, 'system_cpu_usage');
  let online = num(cpu, 'online_cpus');
  if (online === 0) online = asArray(asRecord(cpu['cpu_usage'])['percpu_usage']).length;
  return systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * online * 100 : 0;
}

/** calculateMemUsageUnixNoCache: usage minus total_inactive_file (v1) or inactive_file (v2). */
export function memUsage(v: Rec): number {
  const m = asRecord(v['memory_stats']);
  const usage = num(m, 'usage');
  const st = asRecord(m['stats']);
  if ('total_inactive_file' in st && num(st, 'total_inactive_file') < usage) return usage - num(st, 'total_inactive_file');
  const inactive = num(st, 'inactive_file');
  if (inactive < usage) return usage - inactive;
  return usage;
}

function apply(e: Entry, v: Rec): void {
  let rd = 0;
  let wr = 0;
  for (const b of asArray(asRecord(v['blkio_stats'])['io_service_bytes_recursive']).map(asRecord)) {
    const op = str(b, 'op');
    if (op[0] === 'r' || op[0] === 'R') rd += num(b, 'value');
    else if (op[0] === 'w' || op[0] === 'W') wr += num(b, 'value');
  }
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(asRecord(v['networks'])).map(asRecord)) {
    rx += num(n, 'rx_bytes');
    tx += num(n, 'tx_bytes');
  }
  const mem = memUsage(v);
  const limit = num(asRecord(v['memory_stats']), 'limit');
  Object.assign(e, {
    name: str(v, 'name'), id: str(v, 'id'), cpu: cpuPercent(v), mem, memLimit: limit, memPerc: limit !== 0 ? (mem / limit) * 100 : 0,
    netRx: rx, netTx: tx, blkRead: rd, blkWrite: wr, pids: num(asRecord(v['pids_stats']), 'current'), err: undefined,
  });
}

const pct = (x: number): string => `${x.toFixed(2)}%`;

/** formatter statsContext. */
class StatsContext {
  constructor(private readonly s: Entry, private readonly trunc: boolean) {}
  get Container(): string { return this.s.container; }
  get Name(): string { return this.s.name.length > 1 ? this.s.name.slice(1) : '--'; }
  get ID(): string { return this.trunc ? truncateId(this.s.id) : this.s.id; }
  get CPUPerc(): string { return this.s.invalid ? '--' : pct(this.s.cpu); }
  get MemUsage(): string { return this.s.invalid ? '-- / --' : `${bytesSize(this.s.mem)} / ${bytesSize(this.s.memLimit)}`; }
  get MemPerc(): string { return this.s.invalid ? '--' : pct(this.s.memPerc); }
  get NetIO(): string { return this.s.invalid ? '--' : `${humanSizeWithPrecision(this.s.netRx, 3)} / ${humanSizeWithPrecision(this.s.netTx, 3)}`; }
  get BlockIO(): string { return this.s.invalid ? '--' : `${humanSizeWithPrecision(this.s.blkRead, 3)} / ${humanSizeWithPrecision(this.s.blkWrite, 3)}`; }
  get PIDs(): string { return this.s.invalid ? '--' : String(this.s.pids); }
  toJSON(): Record<string, unknown> {
    return sortedJson({ BlockIO: this.BlockIO, CPUPerc: this.CPUPerc, Container: this.Container, ID: this.ID, MemPerc: this.MemPerc, MemUsage: this.MemUsage, Name: this.Name, NetIO: this.NetIO, PIDs: this.PIDs });
  }
}

/** collect: resolves at the first sample (or error, or the 2 s timeout); streams on in the background. */
function collect(client: EngineClient, e: Entry, stream: boolean, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolveFirst) => {
    let first = true;
    const firstDone = (): void => {
      if (first) {
        first = false;
        resolveFirst();
      }
    };
    const timer = setTimeout(() => {
      Object.assign(e, { cpu: 0, mem: 0, memPerc: 0, memLimit: 0, netRx: 0, netTx: 0, blkRead: 0, blkWrite: 0, pids: 0, invalid: true, err: new Error('timeout waiting for stats') });
      firstDone();
    }, 2000);
    void (async () => {
      try {
        const res = await client.stream('GET', `/containers/${cpath(e.container)}/stats`, { query: { stream: stream ? '1' : '0' }, signal });
        for await (const v of readJsonLines(res)) {
          apply(e, asRecord(v));
          e.invalid = false;
          clearTimeout(timer);
          firstDone();
          if (!stream) break;
        }
        if (stream && !signal.aborted) {
          e.invalid = true;
          e.err = new Error('EOF');
        }
      } catch (err) {
        if (!signal.aborted) {
          e.err = err;
          e.invalid = true;
        }
      } finally {
        clearTimeout(timer);
        firstDone();
      }
    })();
  });
}

export async function run(ctx: CommandContext): Promise<number> {
  const o = ctx.opts;
  const noStream = o.bool('no-stream');
  const client = await ctx.client();
  const abort = new AbortController();
  const entries: Entry[] = [];
  const firsts: Array<Promise<void>> = [];
  const add = (container: string): void => {
    if (entries.some((x) => x.container === container)) return;
    const e = newEntry(container);
    entries.push(e);
    firsts.push(collect(client, e, !noStream, abort.signal));
  };
  const showAll = ctx.args.length === 0;
  try {
    if (showAll) {
      // Follow container events so new containers join (and stopped ones leave) the table.
      const events = await client.stream('GET', '/events', { query: { filters: JSON.stringify({ type: { container: true } }) }, signal: abort.signal });
      void (async () => {
        try {
          for await (const raw of readJsonLines(events)) {
            const ev = asRecord(raw);
            const id = str(asRecord(ev['Actor']), 'ID').slice(0, 12);
            const action = str(ev, 'Action');
            if (action === 'start' || (action === 'create' && o.bool('all'))) add(id);
            else if (action === 'die' && !o.bool('all')) {
              const i = entries.findIndex((x) => x.container === id);
              if (i !== -1) entries.splice(i, 1);
            }
          }
        } catch {
          // closed at the end
        }
      })();
      const list = asArray(await client.get('/containers/json', { all: o.bool('all') ? '1' : undefined }));
      for (const c of list) add(str(asRecord(c), 'Id').slice(0, 12));
      await Promise.all(firsts);
    } else {
      for (const name of ctx.args) add(name);
      await Promise.all(firsts);
      const errs = entries.filter((e) => e.err !== undefined).map((e) => errorText(e.err));
      if (errs.length > 0) throw new StatusError(errs.join('\n'), 1);
    }
    const source = o.string('format') === '' ? 'table' : o.string('format');
    const format = source === 'table' ? DEFAULT_TABLE : source;
    const trunc = !o.bool('no-trunc');
    for (;;) {
      const table = renderRows(format, entries.map((e) => new StatsContext(e, trunc)), HEADERS);
      if (noStream) {
        ctx.out.write(table);
        return 0;
      }
      // docker's redraw: home, the table, then every line again with erase-to-EOL, then erase below.
      let buf = `\x1b[H${table}`;
      buf += buf.split('\n').map((l) => `${l} \x1b[K\n`).join('');
      buf += '\x1b[J';
      ctx.out.write(buf);
      if (entries.length === 0 && !showAll) return 0;
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    abort.abort();
  }
}
