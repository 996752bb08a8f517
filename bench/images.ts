/**
 * Issue 2's speed targets:
 *  - `docker load` of a 500 MB image of 5 layers (no slower than dockerd);
 *  - GET /images/json with 200 images, at the API on a kept-alive
 *    connection (at most 0.5x dockerd's time);
 *  - resident memory when idle with 200 images (at most dockerd's).
 * Run: node build/bench/images.js [--mb 500] [--images 200]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { docker } from '../test/helpers/daemon.js';
import { busyboxLayer, layerTar, randomLayer, writeDockerArchive, type ArchiveImage } from '../test/helpers/images.js';
import { median, rssMiB, pssMiB, timeGets, withTargets } from './harness.js';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : Number(process.argv[i + 1]);
};
const MB = arg('mb', 500);
const N = arg('images', 200);

const dir = await mkdtemp(join(tmpdir(), 'berth-bench-'));
try {
  const tag = `bench-${randomBytes(3).toString('hex')}`;
  const big = join(dir, 'big.tar');
  const layers = Array.from({ length: 5 }, () => randomLayer(Math.floor((MB * 1024 * 1024) / 5), 20));
  await writeDockerArchive(big, [{ tags: [`${tag}:big`], layers }]);
  const many = join(dir, 'many.tar');
  const bb = await busyboxLayer();
  const imgs: ArchiveImage[] = Array.from({ length: N }, (_, i) => ({
    tags: [`${tag}-many:${i}`],
    layers: [bb, layerTar([{ name: `f${i}`, data: Buffer.from(`image ${i}\n`) }])],
    labels: { n: String(i) },
  }));
  await writeDockerArchive(many, imgs);

  await withTargets(async (t) => {
    const r: Record<string, number> = {};
    const loads: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      const l = await docker(t.host, ['load', '-q', '-i', big]);
      if (l.code !== 0) throw new Error(`${t.name} load failed: ${l.stderr}`);
      loads.push((Date.now() - t0) / 1000);
      await docker(t.host, ['rmi', `${tag}:big`]);
    }
    r[`load ${MB} MB, 5 layers (s, median of 3)`] = median(loads);
    const l = await docker(t.host, ['load', '-q', '-i', many]);
    if (l.code !== 0) throw new Error(`${t.name} load failed: ${l.stderr}`);
    const times = await timeGets(t.socket, '/v1.41/images/json', 200);
    r[`GET /images/json, ${N} images (ms, median)`] = median(times);
    await new Promise((res) => setTimeout(res, 3000));
    r['idle RSS with images (MiB)'] = await rssMiB(t.pid);
    r['idle PSS with images (MiB)'] = await pssMiB(t.pid);
    const ids = (await docker(t.host, ['images', '-q', '--filter', `reference=${tag}-many`])).stdout.trim().split('\n');
    await docker(t.host, ['rmi', '-f', ...new Set(ids)]);
    return r;
  });
} finally {
  await rm(dir, { recursive: true, force: true });
}
