/**
 * Container resource statistics read from the container's cgroup, shaped as
 * the Engine API's stats JSON (GET /containers/{id}/stats). cgroup v1 (one
 * hierarchy per controller, as on this hybrid host) and v2 (unified) are both
 * read; which one is decided by the presence of /sys/fs/cgroup/cgroup.controllers.
 * Network counters live in the container's network namespace and are the
 * network layer's to add (`networks`).
 */
import { readFile, stat } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface CpuStats {
  cpu_usage: {
    total_usage: number;
    percpu_usage?: number[];
    usage_in_kernelmode: number;
    usage_in_usermode: number;
  };
  system_cpu_usage: number;
  online_cpus: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

export interface DockerStats {
  read: string;
  preread: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: {
    io_service_bytes_recursive: BlkioEntry[] | null;
    io_serviced_recursive: BlkioEntry[] | null;
    io_queue_recursive: BlkioEntry[] | null;
    io_service_time_recursive: BlkioEntry[] | null;
    io_wait_time_recursive: BlkioEntry[] | null;
    io_merged_recursive: BlkioEntry[] | null;
    io_time_recursive: BlkioEntry[] | null;
    sectors_recursive: BlkioEntry[] | null;
  };
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats | Record<string, never>;
  memory_stats: { usage?: number; max_usage?: number; stats?: Record<string, number>; failcnt?: number; limit?: number };
  name: string;
  id: string;
  networks?: Record<string, { rx_bytes: number; rx_packets: number; rx_errors: number; rx_dropped: number; tx_bytes: number; tx_packets: number; tx_errors: number; tx_dropped: number }>;
}

export interface StatsOptions {
  /** The container's cgroupsPath as in its spec, e.g. "/berth/<id>". */
  cgroupPath: string;
  id: string;
  /** Docker's name with the leading slash. */
  name: string;
  /** The previous sample, for precpu_stats/preread. */
  previous?: DockerStats;
  /** Where cgroup filesystems are mounted. */
  cgroupRoot?: string;
}

/** USER_HZ: cpuacct.stat and /proc/stat count in these ticks. */
const CLK_TCK = 100;
const NS_PER_TICK = 1e9 / CLK_TCK;
const ZERO_TIME = '0001-01-01T00:00:00Z';

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function readNum(path: string): Promise<number | undefined> {
  const t = await readText(path);
  if (t === undefined) return undefined;
  const v = t.trim();
  if (v === 'max') return Infinity;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** "key value" lines → record. */
export function parseFlatKeyed(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k !== undefined && k !== '' && v !== undefined) {
      const n = Number(v);
      if (Number.isFinite(n)) out[k] = n;
    }
  }
  return out;
}

/** blkio.throttle.io_service_bytes_recursive lines "8:0 Read 1234". */
export function parseBlkio(text: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 3) continue;
    const [dev, op, value] = f as [string, string, string];
    const [maj, min] = dev.split(':').map(Number);
    if (maj === undefined || min === undefined || !Number.isFinite(maj)) continue;
    out.push({ major: maj, minor: min, op, value: Number(value) });
  }
  return out;
}

/** Total host CPU time in ns from /proc/stat's first line, as Docker's system_cpu_usage. */
export async function systemCpuUsage(): Promise<number> {
  const t = await readText('/proc/stat');
  const line = t?.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) return 0;
  const ticks = line
    .trim()
    .split(/\s+/)
    .slice(1, 8)
    .reduce((a, b) => a + Number(b), 0);
  return ticks * NS_PER_TICK;
}

async function isUnified(root: string): Promise<boolean> {
  try {
    await stat(join(root, 'cgroup.controllers'));
    return true;
  } catch {
    return false;
  }
}

async function v1(root: string, cg: string): Promise<Pick<DockerStats, 'pids_stats' | 'blkio_stats' | 'memory_stats'> & { cpu: Omit<CpuStats, 'system_cpu_usage' | 'online_cpus'> }> {
  const p = (ctrl: string, file: string): string => join(root, ctrl, cg, file);
  const [usage, percpu, cpuStat, throttle, memUsage, memMax, memLimit, memFail, memStat, pids, pidsMax, ioBytes, ioOps] = await Promise.all([
    readNum(p('cpuacct', 'cpuacct.usage')),
    readText(p('cpuacct', 'cpuacct.usage_percpu')),
    readText(p('cpuacct', 'cpuacct.stat')),
    readText(p('cpu', 'cpu.stat')),
    readNum(p('memory', 'memory.usage_in_bytes')),
    readNum(p('memory', 'memory.max_usage_in_bytes')),
    readNum(p('memory', 'memory.limit_in_bytes')),
    readNum(p('memory', 'memory.failcnt')),
    readText(p('memory', 'memory.stat')),
    readNum(p('pids', 'pids.current')),
    readNum(p('pids', 'pids.max')),
    readText(p('blkio', 'blkio.throttle.io_service_bytes_recursive')),
    readText(p('blkio', 'blkio.throttle.io_serviced_recursive')),
  ]);
  const cs = parseFlatKeyed(cpuStat);
  const th = parseFlatKeyed(throttle);
  const per = (percpu ?? '').trim().split(/\s+/).filter((s) => s !== '').map(Number);
  // an unlimited v1 limit reads as a huge page-aligned number; Docker shows host memory then
  const limit = memLimit === undefined || memLimit >= 2 ** 62 ? totalmem() : Math.min(memLimit, totalmem());
  const memory_stats: DockerStats['memory_stats'] = {};
  if (memUsage !== undefined) {
    memory_stats.usage = memUsage;
    if (memMax !== undefined) memory_stats.max_usage = memMax;
    memory_stats.stats = parseFlatKeyed(memStat);
    if (memFail !== undefined && memFail > 0) memory_stats.failcnt = memFail;
    memory_stats.limit = limit;
  }
  const pids_stats: DockerStats['pids_stats'] = {};
  if (pids !== undefined) pids_stats.current = pids;
  if (pidsMax !== undefined && Number.isFinite(pidsMax)) pids_stats.limit = pidsMax;
  return {
    cpu: {
      cpu_usage: {
        total_usage: usage ?? 0,
        percpu_usage: per,
        usage_in_kernelmode: (cs.system ?? 0) * NS_PER_TICK,
        usage_in_usermode: (cs.user ?? 0) * NS_PER_TICK,
      },
      throttling_data: { periods: th.nr_periods ?? 0, throttled_periods: th.nr_throttled ?? 0, throttled_time: th.throttled_time ?? 0 },
    },
    memory_stats,
    pids_stats,
    blkio_stats: emptyBlkio(parseBlkio(ioBytes), parseBlkio(ioOps)),
  };
}

async function v2(root: string, cg: string): Promise<Pick<DockerStats, 'pids_stats' | 'blkio_stats' | 'memory_stats'> & { cpu: Omit<CpuStats, 'system_cpu_usage' | 'online_cpus'> }> {
  const p = (file: string): string => join(root, cg, file);
  const [cpuStat, memCur, memPeak, memMax, memStat, pids, pidsMax, io] = await Promise.all([
    readText(p('cpu.stat')),
    readNum(p('memory.current')),
    readNum(p('memory.peak')),
    readNum(p('memory.max')),
    readText(p('memory.stat')),
    readNum(p('pids.current')),
    readNum(p('pids.max')),
    readText(p('io.stat')),
  ]);
  const cs = parseFlatKeyed(cpuStat);
  const memory_stats: DockerStats['memory_stats'] = {};
  if (memCur !== undefined) {
    memory_stats.usage = memCur;
    if (memPeak !== undefined) memory_stats.max_usage = memPeak;
    memory_stats.stats = parseFlatKeyed(memStat);
    memory_stats.limit = memMax === undefined || !Number.isFinite(memMax) ? totalmem() : memMax;
  }
  const pids_stats: DockerStats['pids_stats'] = {};
  if (pids !== undefined) pids_stats.current = pids;
  if (pidsMax !== undefined && Number.isFinite(pidsMax)) pids_stats.limit = pidsMax;
  // io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..."
  const bytes: BlkioEntry[] = [];
  const ops: BlkioEntry[] = [];
  for (const line of (io ?? '').split('\n')) {
    const [dev, ...kv] = line.trim().split(/\s+/);
    if (dev === undefined || dev === '') continue;
    const [major, minor] = dev.split(':').map(Number) as [number, number];
    const f = Object.fromEntries(kv.map((x) => x.split('=')).map(([k, v]) => [k, Number(v)])) as Record<string, number>;
    bytes.push({ major, minor, op: 'read', value: f.rbytes ?? 0 }, { major, minor, op: 'write', value: f.wbytes ?? 0 });
    ops.push({ major, minor, op: 'read', value: f.rios ?? 0 }, { major, minor, op: 'write', value: f.wios ?? 0 });
  }
  return {
    cpu: {
      cpu_usage: {
        total_usage: (cs.usage_usec ?? 0) * 1000,
        usage_in_kernelmode: (cs.system_usec ?? 0) * 1000,
        usage_in_usermode: (cs.user_usec ?? 0) * 1000,
      },
      throttling_data: { periods: cs.nr_periods ?? 0, throttled_periods: cs.nr_throttled ?? 0, throttled_time: (cs.throttled_usec ?? 0) * 1000 },
    },
    memory_stats,
    pids_stats,
    blkio_stats: emptyBlkio(bytes, ops),
  };
}

function emptyBlkio(bytes: BlkioEntry[], ops: BlkioEntry[]): DockerStats['blkio_stats'] {
  return {
    io_service_bytes_recursive: bytes,
    io_serviced_recursive: ops,
    io_queue_recursive: [],
    io_service_time_recursive: [],
    io_wait_time_recursive: [],
    io_merged_recursive: [],
    io_time_recursive: [],
    sectors_recursive: [],
  };
}

/** One stats sample for a container, in the Engine API's shape. */
export async function readStats(opts: StatsOptions): Promise<DockerStats> {
  const root = opts.cgroupRoot ?? '/sys/fs/cgroup';
  const unified = await isUnified(root);
  const [s, sys] = await Promise.all([unified ? v2(root, opts.cgroupPath) : v1(root, opts.cgroupPath), systemCpuUsage()]);
  const cpu_stats: CpuStats = {
    cpu_usage: s.cpu.cpu_usage,
    system_cpu_usage: sys,
    online_cpus: s.cpu.cpu_usage.percpu_usage?.length !== undefined && s.cpu.cpu_usage.percpu_usage.length > 0 ? s.cpu.cpu_usage.percpu_usage.length : availableParallelism(),
    throttling_data: s.cpu.throttling_data,
  };
  return {
    read: new Date().toISOString(),
    preread: opts.previous?.read ?? ZERO_TIME,
    pids_stats: s.pids_stats,
    blkio_stats: s.blkio_stats,
    num_procs: 0,
    storage_stats: {},
    cpu_stats,
    precpu_stats: opts.previous?.cpu_stats ?? {},
    memory_stats: s.memory_stats,
    name: opts.name,
    id: opts.id,
  };
}
