/**
 * Benchmark harness: runs the same scenario against a fresh berthd and,
 * when it answers at /var/run/docker.sock, Debian's dockerd, and prints both
 * figures and their ratio. Benchmarks are run by hand (`node
 * build/bench/<name>.js`) and their output recorded in docs/benchmarks.md;
 * tests never assert timings.
 */
import { Agent, request } from 'node:http';
import { readFile } from 'node:fs/promises';
import { dockerdAvailable, startDaemon, type TestDaemon } from '../test/helpers/daemon.js';

export const DOCKERD_SOCKET = '/var/run/docker.sock';

export interface Target {
  readonly name: 'berthd' | 'dockerd';
  readonly socket: string;
  readonly host: string;
  readonly pid: number;
}

export async function withTargets(fn: (t: Target) => Promise<Record<string, number>>): Promise<void> {
  const results: Record<string, Record<string, number>> = {};
  let d: TestDaemon | undefined;
  try {
    d = await startDaemon();
    results['berthd'] = await fn({ name: 'berthd', socket: d.socket, host: d.host, pid: d.proc.pid ?? 0 });
  } finally {
    await d?.stop();
  }
  if (await dockerdAvailable()) {
    const pid = Number((await readFile('/var/run/docker.pid', 'utf8').catch(() => '0')).trim());
    results['dockerd'] = await fn({ name: 'dockerd', socket: DOCKERD_SOCKET, host: `unix://${DOCKERD_SOCKET}`, pid });
  } else {
    console.log('dockerd is not running: no reference figures (scripts/start-dockerd.sh starts it)');
  }
  report(results);
}

export function report(results: Record<string, Record<string, number>>): void {
  const b = results['berthd'] ?? {};
  const dd = results['dockerd'] ?? {};
  const keys = [...new Set([...Object.keys(b), ...Object.keys(dd)])];
  console.log('\n| metric | berthd | dockerd | berthd/dockerd |\n|---|---:|---:|---:|');
  for (const k of keys) {
    const x = b[k];
    const y = dd[k];
    const ratio = x !== undefined && y !== undefined && y !== 0 ? (x / y).toFixed(2) : 'n/a';
    console.log(`| ${k} | ${fmt(x)} | ${fmt(y)} | ${ratio} |`);
  }
}

function fmt(v: number | undefined): string {
  if (v === undefined) return 'n/a';
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2);
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Times `n` GETs on one kept-alive connection; returns per-request milliseconds. */
export async function timeGets(socket: string, path: string, n: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const once = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const t0 = process.hrtime.bigint();
      const req = request({ socketPath: socket, path, agent }, (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve(Number(process.hrtime.bigint() - t0) / 1e6));
      });
      req.on('error', reject);
      req.end();
    });
  const out: number[] = [];
  for (let i = 0; i < 5; i++) await once(); // warm the connection and caches
  for (let i = 0; i < n; i++) out.push(await once());
  agent.destroy();
  return out;
}

/** Resident memory (VmRSS) of a process and, optionally, its named helpers, in MiB. */
export async function rssMiB(pid: number): Promise<number> {
  const s = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(s);
  return m === null ? 0 : Number(m[1]) / 1024;
}

/** Proportional set size in MiB (shared pages split among their users). */
export async function pssMiB(pid: number): Promise<number> {
  const s = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
  const m = /Pss:\s+(\d+) kB/.exec(s);
  return m === null ? 0 : Number(m[1]) / 1024;
}
