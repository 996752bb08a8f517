/**
 * Networks issue's speed targets, berthd against dockerd in the same run:
 *  - `docker run --rm --network NET IMG true` through the docker CLI on a
 *    user-defined network (≤0.3x median), and the same on the default bridge;
 *  - iperf3 throughput container → container on that network, and host →
 *    published port on 127.0.0.1 (≥0.9x; berth forwards in the kernel, dockerd
 *    through docker-proxy for loopback).
 * The image carries the host's iperf3 and its libraries (apt-get install iperf3).
 * berthd gets its own bridge and subnets so it never meets a developer's berthd.
 * The `run --rm` timings run in blocks alternating between the two daemons
 * (ABBA, a pause before each block for the other's background work to end),
 * so a drift in the shared machine's load weighs on both alike.
 *
 *   node build/bench/network.js [--runs 15] [--seconds 5]
 */
import { spawnSync } from 'node:child_process';
import { readFile, mkdtemp, rm, realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/base/exec.js';
import { docker, dockerdAvailable, startDaemon, type TestDaemon, freePort } from '../test/helpers/daemon.js';
import { busyboxLayer, layerTar, writeDockerArchive, type LayerEntry } from '../test/helpers/images.js';
import { median, report } from './harness.js';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : Number(process.argv[i + 1]);
};
const RUNS = arg('runs', 15);
const SECONDS = arg('seconds', 5);
const IMG = 'bench-net:1';
const NET = 'benchnet';

/** iperf3 and the shared libraries ldd names, at their paths, as one layer. */
async function iperfLayer(): Promise<Buffer> {
  const ldd = (await run('ldd', ['/usr/bin/iperf3'])).stdout;
  const files = ['/usr/bin/iperf3', ...[...ldd.matchAll(/(\/[^\s]+)\s+\(/g)].map((m) => m[1]!)];
  const entries: LayerEntry[] = [];
  const dirs = new Set<string>();
  for (const f of files) {
    const real = await realpath(f);
    const parts = f.slice(1).split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/') + '/';
      if (!dirs.has(d)) {
        dirs.add(d);
        entries.push({ name: d, type: 'dir' });
      }
    }
    entries.push({ name: f.slice(1), data: await readFile(real), mode: 0o755 });
  }
  return layerTar(entries);
}

async function ok(host: string, args: string[]): Promise<string> {
  const r = await docker(host, args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

async function timed(host: string, args: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  await ok(host, args);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function gbits(json: string): number {
  const j = JSON.parse(json) as { end?: { sum_received?: { bits_per_second?: number } } };
  return (j.end?.sum_received?.bits_per_second ?? 0) / 1e9;
}

async function prepare(host: string, archive: string): Promise<void> {
  await ok(host, ['load', '-i', archive]);
  await docker(host, ['network', 'rm', NET]);
  await ok(host, ['network', 'create', NET]);
}

/** The same command RUNS times on every daemon (after a warm-up each), in two blocks per daemon (ABBA): medians by daemon. */
async function alternating(hosts: Record<string, string>, args: string[]): Promise<Record<string, number>> {
  const times: Record<string, number[]> = {};
  for (const [name, host] of Object.entries(hosts)) {
    await ok(host, args);
    times[name] = [];
  }
  const half = Math.ceil(RUNS / 2);
  for (const [b, order] of [Object.entries(hosts), Object.entries(hosts).reverse()].entries()) {
    for (const [name, host] of order) {
      await new Promise((res) => setTimeout(res, 1000));
      for (let i = b * half; i < Math.min(RUNS, (b + 1) * half); i++) times[name]!.push(await timed(host, args));
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
}

async function throughput(host: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const names: string[] = [];
  try {
    names.push('iperf-srv');
    await ok(host, ['run', '-d', '--name', 'iperf-srv', '--network', NET, IMG, 'iperf3', '-s']);
    await new Promise((r) => setTimeout(r, 300));
    const c2c = await ok(host, ['run', '--rm', '--network', NET, IMG, 'iperf3', '-c', 'iperf-srv', '-t', String(SECONDS), '-J']);
    out['iperf3 container→container Gbit/s'] = gbits(c2c);

    const port = await freePort();
    names.push('iperf-pub');
    await ok(host, ['run', '-d', '--name', 'iperf-pub', '-p', `127.0.0.1:${port}:5201`, IMG, 'iperf3', '-s']);
    await new Promise((r) => setTimeout(r, 300));
    const h2c = await run('iperf3', ['-c', '127.0.0.1', '-p', String(port), '-t', String(SECONDS), '-J']);
    out['iperf3 host→published port Gbit/s'] = gbits(h2c.stdout);
  } finally {
    if (names.length > 0) await docker(host, ['rm', '-f', ...names]);
  }
  return out;
}

async function cleanup(host: string): Promise<void> {
  await docker(host, ['network', 'rm', NET]);
  await docker(host, ['rmi', IMG]);
}

async function main(): Promise<void> {
  if (spawnSync('sh', ['-c', 'command -v iperf3']).status !== 0) throw new Error('iperf3 is missing: apt-get install -y iperf3');
  const tmp = await mkdtemp(join(tmpdir(), 'berth-bench-net-'));
  const archive = join(tmp, 'img.tar');
  await writeDockerArchive(archive, [{ tags: [IMG], layers: [await busyboxLayer(), await iperfLayer()] }]);
  const results: Record<string, Record<string, number>> = { berthd: {} };
  const hosts: Record<string, string> = {};
  let d: TestDaemon | undefined;
  try {
    d = await startDaemon(['--bip', '10.201.8.1/24', '--bridge', 'bberth0', '--default-address-pool', 'base=10.201.12.0/22,size=24']);
    hosts['berthd'] = d.host;
    if (await dockerdAvailable()) {
      hosts['dockerd'] = 'unix:///var/run/docker.sock';
      results['dockerd'] = {};
    } else console.log('dockerd is not running: no reference figures');
    for (const h of Object.values(hosts)) await prepare(h, archive);
    try {
      for (const [metric, args] of [
        ['run --rm on user network, median ms', ['run', '--rm', '--network', NET, IMG, 'true']],
        ['run --rm on the default bridge, median ms', ['run', '--rm', IMG, 'true']],
      ] as const) {
        for (const [name, v] of Object.entries(await alternating(hosts, [...args]))) results[name]![metric] = v;
      }
      for (const [name, host] of Object.entries(hosts)) Object.assign(results[name]!, await throughput(host));
    } finally {
      for (const h of Object.values(hosts)) await cleanup(h);
    }
  } finally {
    await d?.stop();
  }
  report(results);
  await rm(tmp, { recursive: true, force: true });
}

await main();
