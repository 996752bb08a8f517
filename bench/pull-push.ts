/**
 * Pull and push throughput against a loopback registry (Debian's
 * docker-registry), through the docker CLI, into berthd and (when
 * /var/run/docker.sock answers) into dockerd for comparison.
 *
 * The image: 5 layers of random (incompressible) data, ~500 MB in all,
 * built by test/helpers/images.ts. Each daemon pushes it from a
 * docker-archive load (uncompressed layers: both must gzip), then both pull
 * the same berth-pushed image back after removing it. MB/s are of the
 * uncompressed layer bytes.
 *
 *   node build/bench/pull-push.js [--layer-mb 100] [--layers 5]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/base/exec.js';
import { startDaemon, docker, dockerdAvailable, type TestDaemon, freePort } from '../test/helpers/daemon.js';
import { writeDockerArchive, randomLayer } from '../test/helpers/images.js';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : Number(process.argv[i + 1]);
};
const LAYER_MB = arg('layer-mb', 100);
const LAYERS = arg('layers', 5);
const DOCKERD = 'unix:///var/run/docker.sock';

async function timed(label: string, host: string, args: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await docker(host, args);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.code !== 0) throw new Error(`${label}: docker ${args.join(' ')} failed: ${r.stderr}`);
  return s;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-'));
  let reg: ChildProcess | undefined;
  let d: TestDaemon | undefined;
  const dockerdNames: string[] = [];
  const withDockerd = await dockerdAvailable();
  try {
    const layers = Array.from({ length: LAYERS }, () => randomLayer(LAYER_MB * 1024 * 1024, 4));
    const bytes = layers.reduce((a, l) => a + l.length, 0);
    const mb = bytes / 1e6;
    const tag = `bench-${process.pid}:1`;
    const archive = join(dir, 'img.tar');
    await writeDockerArchive(archive, [{ tags: [tag], layers }]);
    layers.length = 0;

    const port = await freePort();
    await writeFile(join(dir, 'reg.yml'), `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/reg\nhttp:\n  addr: 127.0.0.1:${port}\n`);
    reg = spawn('docker-registry', ['serve', join(dir, 'reg.yml')], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      const r = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/v2/`], { allowFailure: true });
      if (r.stdout === '200') break;
      await new Promise((r2) => setTimeout(r2, 100));
    }
    const R = `127.0.0.1:${port}`;
    console.log(`image: ${LAYERS} layers, ${mb.toFixed(0)} MB of random data; registry ${R}`);

    d = await startDaemon();
    const results: Record<string, number> = {};
    // berthd push
    await timed('load', d.host, ['load', '-i', archive]);
    await timed('tag', d.host, ['tag', tag, `${R}/bench/berth:1`]);
    results['berthd push'] = mb / (await timed('berthd push', d.host, ['push', `${R}/bench/berth:1`]));
    // berthd pull (of its own push)
    await timed('rmi', d.host, ['rmi', `${R}/bench/berth:1`, tag]);
    results['berthd pull'] = mb / (await timed('berthd pull', d.host, ['pull', `${R}/bench/berth:1`]));

    if (withDockerd) {
      await timed('load', DOCKERD, ['load', '-i', archive]);
      dockerdNames.push(tag);
      await timed('tag', DOCKERD, ['tag', tag, `${R}/bench/dockerd:1`]);
      dockerdNames.push(`${R}/bench/dockerd:1`);
      results['dockerd push'] = mb / (await timed('dockerd push', DOCKERD, ['push', `${R}/bench/dockerd:1`]));
      await docker(DOCKERD, ['rmi', '-f', tag, `${R}/bench/dockerd:1`]);
      results['dockerd pull'] = mb / (await timed('dockerd pull', DOCKERD, ['pull', `${R}/bench/berth:1`]));
      dockerdNames.push(`${R}/bench/berth:1`);
    }
    for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(14)} ${v.toFixed(1).padStart(7)} MB/s`);
    if (withDockerd) {
      console.log(`pull ratio berthd/dockerd: ${(results['berthd pull']! / results['dockerd pull']!).toFixed(2)}x`);
      console.log(`push ratio berthd/dockerd: ${(results['berthd push']! / results['dockerd push']!).toFixed(2)}x`);
    } else console.log('dockerd is not running: no comparison');
  } finally {
    if (withDockerd && dockerdNames.length > 0) await docker(DOCKERD, ['rmi', '-f', ...dockerdNames]);
    await d?.stop();
    if (reg !== undefined && reg.exitCode === null) {
      const gone = new Promise((r) => reg!.once('exit', r));
      reg.kill('SIGKILL');
      await gone;
    }
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
