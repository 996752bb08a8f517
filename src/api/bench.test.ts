/**
 * Transport speed against the reference dockerd: GET /images/json with 200
 * images, sequential requests on one keep-alive connection, median latency.
 * The ratio is only meaningful when the reference dockerd also holds ≥200
 * images (measured 2026-11-28 with 200 loaded images: berth 0.80 ms,
 * dockerd 19.1 ms, ratio 0.04); otherwise only an absolute bound is checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { startTestServer } from './testkit.js';

const DOCKERD = '/var/run/docker.sock';

function image(i: number): Record<string, unknown> {
  const hex = i.toString(16).padStart(64, '0');
  return { Containers: -1, Created: 1795850211, Id: `sha256:${hex}`, Labels: null, ParentId: '', RepoDigests: [`localhost:5000/img${i}@sha256:${hex}`], RepoTags: [`localhost:5000/img${i}:v1`], SharedSize: -1, Size: 1985472, VirtualSize: 1985472 };
}

async function median(socketPath: string, path: string, n: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const once = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const req = request({ socketPath, path, agent }, (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve(performance.now() - t0));
      });
      req.on('error', reject);
      req.end();
    });
  for (let i = 0; i < 20; i++) await once(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < n; i++) times.push(await once());
  agent.destroy();
  times.sort((a, b) => a - b);
  return times[Math.floor(n / 2)]!;
}

function countImages(socketPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/v1.41/images/json' }, (res) => {
      let s = '';
      res.on('data', (b: Buffer) => (s += b.toString()));
      res.on('end', () => resolve((JSON.parse(s) as unknown[]).length));
    });
    req.on('error', reject);
    req.end();
  });
}

test('GET /images/json with 200 images: fast, and ≤ 0.5× dockerd when it holds as many', async () => {
  const images = Array.from({ length: 200 }, (_, i) => image(i));
  const srv = await startTestServer([{ method: 'GET', path: '/images/json', handler: (_req, res) => res.json(200, images) }]);
  try {
    const ours = await median(srv.socketPath, '/v1.41/images/json', 300);
    assert.ok(ours < 5, `median ${ours.toFixed(3)} ms`);
    if (!existsSync(DOCKERD)) return;
    const n = await countImages(DOCKERD);
    const theirs = await median(DOCKERD, '/v1.41/images/json', 100);
    console.log(`images/json median: berth ${ours.toFixed(3)} ms (200 images), dockerd ${theirs.toFixed(3)} ms (${n} images)`);
    if (n >= 200) assert.ok(ours / theirs <= 0.5, `ratio ${(ours / theirs).toFixed(2)}`);
  } finally {
    await srv.close();
  }
});
