/**
 * Issue 3's speed targets, berthd against dockerd in the same run:
 *  - `docker run --rm IMG true` end to end through the docker CLI (≤0.3x median);
 *  - 50 `run -d IMG sleep 300` one after another (≤0.3x total), and the PSS of
 *    berthd plus its conmons with 50 running (≤0.5x dockerd+containerd+shims);
 *  - `docker exec CTR true` (≤0.5x median);
 *  - GET /containers/json?all=1 with 200 containers, kept-alive (≤0.5x).
 * The timed commands run in blocks that alternate between the two daemons
 * (ABBA: half the runs, then the other daemon's, and back; the 50 starts
 * too, their total the sum of each daemon's own commands), with a pause
 * before each block for the other daemon's background work to end: a drift
 * in the shared machine's load weighs on both alike, and neither daemon's
 * leftover work lands in the other's timings.
 * Run: node build/bench/containers.js [--runs 20] [--n 50] [--list 200]
 */
import { mkdtemp, rm, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docker, dockerdAvailable, startDaemon, type TestDaemon } from '../test/helpers/daemon.js';
import { busyboxLayer, writeDockerArchive } from '../test/helpers/images.js';
import { DOCKERD_SOCKET, median, pssMiB, report, timeGets, type Target } from './harness.js';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : Number(process.argv[i + 1]);
};
const RUNS = arg('runs', 20);
const N = arg('n', 50);
const LIST = arg('list', 200);
const IMG = 'bench-bb:1';

async function timed(host: string, args: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await docker(host, args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** PIDs of processes whose command line matches. */
async function pidsOf(match: (cmd: string) => boolean): Promise<number[]> {
  const out: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if (match(cmd.replace(/\0/g, ' '))) out.push(Number(p));
  }
  return out;
}

/** Runs `step(target, i)` for i < n on each daemon, in two blocks per daemon (ABBA) after a pause each; returns each daemon's times. */
async function alternate(targets: readonly Target[], n: number, step: (t: Target, i: number) => Promise<number>): Promise<Map<Target, number[]>> {
  const out = new Map<Target, number[]>(targets.map((t) => [t, []]));
  const half = Math.ceil(n / 2);
  for (const [b, order] of [targets, [...targets].reverse()].entries()) {
    for (const t of order) {
      await new Promise((res) => setTimeout(res, 1000));
      for (let i = b * half; i < Math.min(n, (b + 1) * half); i++) out.get(t)!.push(await step(t, i));
    }
  }
  return out;
}

const dir = await mkdtemp(join(tmpdir(), 'berth-bench-'));
let d: TestDaemon | undefined;
const targets: Target[] = [];
const ids = new Map<Target, string[]>();
try {
  const archive = join(dir, 'bb.tar');
  await writeDockerArchive(archive, [{ tags: [IMG], layers: [await busyboxLayer()] }]);
  d = await startDaemon();
  targets.push({ name: 'berthd', socket: d.socket, host: d.host, pid: d.proc.pid ?? 0 });
  if (await dockerdAvailable()) {
    const pid = Number((await readFile('/var/run/docker.pid', 'utf8').catch(() => '0')).trim());
    targets.push({ name: 'dockerd', socket: DOCKERD_SOCKET, host: `unix://${DOCKERD_SOCKET}`, pid });
  } else console.log('dockerd is not running: no reference figures (scripts/start-dockerd.sh starts it)');
  const r: Record<string, Record<string, number>> = Object.fromEntries(targets.map((t) => [t.name, {}]));
  const put = (m: Map<Target, number[]>, metric: string, f: (xs: number[]) => number): void => {
    for (const [t, xs] of m) r[t.name]![metric] = f(xs);
  };
  for (const t of targets) {
    if ((await docker(t.host, ['load', '-q', '-i', archive])).code !== 0) throw new Error('load failed');
    await timed(t.host, ['run', '--rm', IMG, 'true']);
  }
  put(await alternate(targets, RUNS, (t) => timed(t.host, ['run', '--rm', IMG, 'true'])), `run --rm true (ms, median of ${RUNS})`, median);

  for (const t of targets) ids.set(t, []);
  const starts = await alternate(targets, N, async (t) => {
    const t0 = process.hrtime.bigint();
    const x = await docker(t.host, ['run', '-d', '--label', 'bench=1', IMG, 'sleep', '300']);
    if (x.code !== 0) throw new Error(`run -d: ${x.stderr}`);
    ids.get(t)!.push(x.stdout.trim());
    return Number(process.hrtime.bigint() - t0) / 1e6;
  });
  put(starts, `${N} x run -d sleep (s, total)`, (xs) => xs.reduce((a, b) => a + b, 0) / 1000);
  await new Promise((res) => setTimeout(res, 2000));
  for (const t of targets) {
    let pss = await pssMiB(t.pid);
    if (t.name === 'berthd') {
      for (const p of await pidsOf((c) => c.startsWith('/usr/bin/conmon ') && c.includes(t.socket.replace(/berth\.sock$/, '')))) pss += await pssMiB(p);
    } else {
      for (const p of await pidsOf((c) => c.startsWith('containerd ') || c.startsWith('/usr/bin/containerd ') || c.includes('containerd-shim'))) pss += await pssMiB(p);
    }
    r[t.name]![`PSS daemon + monitors with ${N} running (MiB)`] = pss;
  }

  put(await alternate(targets, RUNS, (t) => timed(t.host, ['exec', ids.get(t)![0]!, 'true'])), `exec true (ms, median of ${RUNS})`, median);
  for (const t of targets) await docker(t.host, ['rm', '-f', ...ids.get(t)!]);

  for (const t of targets) {
    const created: string[] = [];
    for (let i = 0; i < LIST; i++) created.push((await docker(t.host, ['create', '--label', 'bench=1', IMG, 'true'])).stdout.trim());
    const times = await timeGets(t.socket, '/v1.41/containers/json?all=1', 200);
    r[t.name]![`GET /containers/json?all=1, ${LIST} containers (ms, median)`] = median(times);
    for (let i = 0; i < created.length; i += 50) await docker(t.host, ['rm', '-f', ...created.slice(i, i + 50)]);
    await docker(t.host, ['rmi', IMG]);
  }
  report(r);
} finally {
  // After a failure too: dockerd keeps nothing of the bench (berthd's stop removes everything of its own).
  for (const t of targets) {
    if (t.name !== 'dockerd') continue;
    const left = (await docker(t.host, ['ps', '-aq', '--filter', 'label=bench=1'])).stdout.split('\n').filter((x) => x !== '');
    if (left.length > 0) await docker(t.host, ['rm', '-f', ...left]);
    await docker(t.host, ['rmi', IMG]);
  }
  await d?.stop();
  await rm(dir, { recursive: true, force: true });
}
