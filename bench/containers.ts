/**
 * Issue 3's speed targets, berthd against dockerd in the same run:
 *  - `docker run --rm IMG true` end to end through the docker CLI (≤0.3x median);
 *  - 50 `run -d IMG sleep 300` one after another (≤0.3x total), and the PSS of
 *    berthd plus its conmons with 50 running (≤0.5x dockerd+containerd+shims);
 *  - `docker exec CTR true` (≤0.5x median);
 *  - GET /containers/json?all=1 with 200 containers, kept-alive (≤0.5x).
 * Run: node build/bench/containers.js [--runs 20] [--n 50] [--list 200]
 */
import { mkdtemp, rm, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docker } from '../test/helpers/daemon.js';
import { busyboxLayer, writeDockerArchive } from '../test/helpers/images.js';
import { median, pssMiB, timeGets, withTargets } from './harness.js';

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

const dir = await mkdtemp(join(tmpdir(), 'berth-bench-'));
try {
  const archive = join(dir, 'bb.tar');
  await writeDockerArchive(archive, [{ tags: [IMG], layers: [await busyboxLayer()] }]);
  await withTargets(async (t) => {
    const r: Record<string, number> = {};
    if ((await docker(t.host, ['load', '-q', '-i', archive])).code !== 0) throw new Error('load failed');
    await timed(t.host, ['run', '--rm', IMG, 'true']);
    const runs: number[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await timed(t.host, ['run', '--rm', IMG, 'true']));
    r[`run --rm true (ms, median of ${RUNS})`] = median(runs);

    const t0 = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < N; i++) {
      const x = await docker(t.host, ['run', '-d', '--label', 'bench=1', IMG, 'sleep', '300']);
      ids.push(x.stdout.trim());
    }
    r[`${N} x run -d sleep (s, total)`] = (Date.now() - t0) / 1000;
    await new Promise((res) => setTimeout(res, 2000));
    let pss = 0;
    if (t.name === 'berthd') {
      pss += await pssMiB(t.pid);
      for (const p of await pidsOf((c) => c.startsWith('/usr/bin/conmon ') && c.includes(t.socket.replace(/berth\.sock$/, '')))) pss += await pssMiB(p);
    } else {
      pss += await pssMiB(t.pid);
      for (const p of await pidsOf((c) => c.startsWith('containerd ') || c.startsWith('/usr/bin/containerd ') || c.includes('containerd-shim'))) pss += await pssMiB(p);
    }
    r[`PSS daemon + monitors with ${N} running (MiB)`] = pss;

    const execs: number[] = [];
    for (let i = 0; i < RUNS; i++) execs.push(await timed(t.host, ['exec', ids[0]!, 'true']));
    r[`exec true (ms, median of ${RUNS})`] = median(execs);
    await docker(t.host, ['rm', '-f', ...ids]);

    const created: string[] = [];
    for (let i = 0; i < LIST; i++) created.push((await docker(t.host, ['create', '--label', 'bench=1', IMG, 'true'])).stdout.trim());
    const times = await timeGets(t.socket, '/v1.41/containers/json?all=1', 200);
    r[`GET /containers/json?all=1, ${LIST} containers (ms, median)`] = median(times);
    for (let i = 0; i < created.length; i += 50) await docker(t.host, ['rm', '-f', ...created.slice(i, i + 50)]);
    await docker(t.host, ['rmi', IMG]);
    return r;
  });
} finally {
  await rm(dir, { recursive: true, force: true });
}
