/**
 * `berthd --registry-addr`: berthd A serves its image store as a registry.
 * Pulled by raw HTTP, skopeo, a second berthd and (when present) dockerd;
 * pushed to by the second berthd. Blobs must come out of A's content store
 * as they are (same bytes, same inodes, nothing new on disk).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/base/exec.js';
import { startDaemon, docker, dockerdAvailable, dockerdSocket, type TestDaemon, freePort } from './helpers/daemon.js';
import { busyboxLayer, layerTar, writeDockerArchive, randomLayer } from './helpers/images.js';

let a: TestDaemon;
let b: TestDaemon | undefined;
let tmp: string;
let port: number;
let reg: string;
let archive: string;
let archiveB: string;

const sha256 = (b2: Buffer): string => `sha256:${createHash('sha256').update(b2).digest('hex')}`;
const blobFile = (d: TestDaemon, digest: string): string => join(d.dataRoot, 'content', 'blobs', 'sha256', digest.slice('sha256:'.length));

/** inode of every committed blob in a daemon's content store. */
async function blobInodes(d: TestDaemon): Promise<Map<string, number>> {
  const dir = join(d.dataRoot, 'content', 'blobs', 'sha256');
  const out = new Map<string, number>();
  for (const n of await readdir(dir)) out.set(n, (await stat(join(dir, n))).ino);
  return out;
}

/** Every regular file under `dir` (recursively), for "nothing was copied" checks. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return out;
  }
  for (const n of names) {
    const p = join(dir, n);
    const st = await stat(p);
    if (st.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}

async function ok(p: Promise<{ code: number; stdout: string; stderr: string }>): Promise<string> {
  const r = await p;
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'berth-regaddr-'));
  archive = join(tmp, 'bb.tar');
  await writeDockerArchive(archive, [{ tags: ['bb:1', 'localhost:5000/t1:v1'], layers: [await busyboxLayer(), layerTar([{ name: 'hello.txt', data: Buffer.from('from A\n') }])] }]);
  archiveB = join(tmp, 'b.tar');
  await writeDockerArchive(archiveB, [{ tags: ['frompush:1'], layers: [await busyboxLayer(), randomLayer(200_000, 2)], cmd: ['sh'] }]);
  port = await freePort();
  reg = `127.0.0.1:${port}`;
  a = await startDaemon(['--registry-addr', reg]);
  await ok(docker(a.host, ['load', '-i', archive]));
});

after(async () => {
  await b?.stop();
  await a?.stop();
  await rm(tmp, { recursive: true, force: true });
});

test('the v2 API over the local image store: catalog, tags, manifests, blobs with Range', async () => {
  const base = await fetch(`http://${reg}/v2/`);
  assert.equal(base.status, 200);
  assert.equal(base.headers.get('docker-distribution-api-version'), 'registry/2.0');

  const cat = (await (await fetch(`http://${reg}/v2/_catalog`)).json()) as { repositories: string[] };
  assert.ok(cat.repositories.includes('library/bb'), JSON.stringify(cat));
  assert.ok(cat.repositories.includes('t1'), JSON.stringify(cat));

  for (const name of ['library/bb', 'bb']) {
    const tags = (await (await fetch(`http://${reg}/v2/${name}/tags/list`)).json()) as { name: string; tags: string[] };
    assert.deepEqual(tags, { name, tags: ['1'] });
  }
  assert.deepEqual(((await (await fetch(`http://${reg}/v2/t1/tags/list`)).json()) as { tags: string[] }).tags, ['v1']);
  assert.equal((await fetch(`http://${reg}/v2/nope/tags/list`)).status, 404);

  const head = await fetch(`http://${reg}/v2/library/bb/manifests/1`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  const digest = head.headers.get('docker-content-digest') ?? '';
  const res = await fetch(`http://${reg}/v2/bb/manifests/${digest}`);
  assert.equal(res.status, 200);
  const body = Buffer.from(await res.arrayBuffer());
  // Exactly the stored bytes, under their own digest and media type.
  assert.deepEqual(body, await readFile(blobFile(a, digest)));
  assert.equal(sha256(body), digest);
  assert.equal(res.headers.get('docker-content-digest'), digest);
  const manifest = JSON.parse(body.toString()) as { mediaType: string; config: { digest: string }; layers: { digest: string; size: number }[] };
  assert.equal(res.headers.get('content-type'), manifest.mediaType);
  assert.equal((await fetch(`http://${reg}/v2/t1/manifests/v1`, { method: 'HEAD' })).headers.get('docker-content-digest'), digest);

  const layer = manifest.layers[0]!;
  const whole = await readFile(blobFile(a, layer.digest));
  const ranged = await fetch(`http://${reg}/v2/library/bb/blobs/${layer.digest}`, { headers: { Range: 'bytes=100-1099' } });
  assert.equal(ranged.status, 206);
  assert.equal(ranged.headers.get('content-range'), `bytes 100-1099/${whole.length}`);
  assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), whole.subarray(100, 1100));
  const full = await fetch(`http://${reg}/v2/library/bb/blobs/${layer.digest}`);
  assert.equal(sha256(Buffer.from(await full.arrayBuffer())), layer.digest);
  // Blobs are scoped to the repositories whose images use them.
  assert.equal((await fetch(`http://${reg}/v2/other/blobs/${layer.digest}`, { method: 'HEAD' })).status, 404);

  // Read-only for deletes: the spec's UNSUPPORTED.
  const del = await fetch(`http://${reg}/v2/library/bb/manifests/${digest}`, { method: 'DELETE' });
  assert.equal(del.status, 405);
  assert.equal(((await del.json()) as { errors: { code: string }[] }).errors[0]?.code, 'UNSUPPORTED');

  // A tag made locally shows up at once (no stale cache); rmi makes it vanish.
  await ok(docker(a.host, ['tag', 'bb:1', 'bb:later']));
  assert.deepEqual(((await (await fetch(`http://${reg}/v2/library/bb/tags/list`)).json()) as { tags: string[] }).tags, ['1', 'later']);
  assert.equal((await fetch(`http://${reg}/v2/library/bb/manifests/later`, { method: 'HEAD' })).status, 200);
  await ok(docker(a.host, ['rmi', 'bb:later']));
  assert.equal((await fetch(`http://${reg}/v2/library/bb/manifests/later`, { method: 'HEAD' })).status, 404);
});

test('skopeo inspects and copies from it; the blobs are the content store files, not copies', async () => {
  const before = await blobInodes(a);
  const insp = JSON.parse(await ok(run('skopeo', ['inspect', '--tls-verify=false', `docker://${reg}/library/bb:1`], { allowFailure: true }))) as { Digest: string; Layers: string[] };
  const head = await fetch(`http://${reg}/v2/library/bb/manifests/1`, { method: 'HEAD' });
  assert.equal(insp.Digest, head.headers.get('docker-content-digest'));

  const dir = join(tmp, 'skopeo-dir');
  await ok(run('skopeo', ['copy', '--src-tls-verify=false', `docker://${reg}/library/bb:1`, `dir:${dir}`], { allowFailure: true }));
  const got = await readFile(join(dir, 'manifest.json'));
  assert.equal(sha256(got), insp.Digest);
  for (const l of insp.Layers) {
    const copied = await readFile(join(dir, l.slice('sha256:'.length)));
    assert.equal(sha256(copied), l);
    assert.deepEqual(copied, await readFile(blobFile(a, l)));
  }
  // Same blob files (same inodes), none added, and nothing staged anywhere else.
  assert.deepEqual(await blobInodes(a), before);
  assert.deepEqual(await filesUnder(join(a.dataRoot, 'registry-uploads')), []);
});

test('skopeo pushes into it (plain uploads); a wrong digest is refused and nothing is kept', async () => {
  const dir = join(tmp, 'skopeo-dir');
  await ok(run('skopeo', ['copy', '--dest-tls-verify=false', `dir:${dir}`, `docker://${reg}/viaskopeo:2`], { allowFailure: true }));
  const tags = (await (await fetch(`http://${reg}/v2/viaskopeo/tags/list`)).json()) as { name: string; tags: string[] };
  assert.deepEqual(tags, { name: 'viaskopeo', tags: ['2'] });
  assert.equal((await ok(docker(a.host, ['run', '--rm', 'viaskopeo:2', 'cat', '/hello.txt']))).trim(), 'from A');

  const data = Buffer.from('not what the digest says');
  const bad = await fetch(`http://${reg}/v2/viaskopeo/blobs/uploads/?digest=${sha256(Buffer.from('other'))}`, { method: 'POST', body: data });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { errors: { code: string }[] }).errors[0]?.code, 'DIGEST_INVALID');
  const good = await fetch(`http://${reg}/v2/viaskopeo/blobs/uploads/?digest=${sha256(data)}`, { method: 'POST', body: data });
  assert.equal(good.status, 201);
  // The blob went through the content store's ingest, and is linked to this repository only.
  assert.deepEqual(await readFile(blobFile(a, sha256(data))), data);
  assert.equal((await fetch(`http://${reg}/v2/viaskopeo/blobs/${sha256(data)}`, { method: 'HEAD' })).status, 200);
  assert.equal((await fetch(`http://${reg}/v2/library/bb/blobs/${sha256(data)}`, { method: 'HEAD' })).status, 404);
  assert.deepEqual(await filesUnder(join(a.dataRoot, 'registry-uploads')), []);
});

test('a second berthd pulls from it and runs the image; and pushes into it', async () => {
  b = await startDaemon();
  await ok(docker(b.host, ['pull', `${reg}/library/bb:1`]));
  assert.equal((await ok(docker(b.host, ['run', '--rm', `${reg}/library/bb:1`, 'cat', '/hello.txt']))).trim(), 'from A');
  // The bare name for docker.io/library/x works too.
  await ok(docker(b.host, ['pull', `${reg}/bb:1`]));

  // Push: B's image becomes a local image on A, runnable there.
  await ok(docker(b.host, ['load', '-i', archiveB]));
  await ok(docker(b.host, ['tag', 'frompush:1', `${reg}/pushed/app:7`]));
  await ok(docker(b.host, ['push', `${reg}/pushed/app:7`]));
  const inspected = JSON.parse(await ok(docker(a.host, ['image', 'inspect', 'pushed/app:7']))) as { RepoTags: string[] }[];
  assert.deepEqual(inspected[0]?.RepoTags, ['pushed/app:7']);
  assert.equal((await ok(docker(a.host, ['run', '--rm', 'pushed/app:7', 'sh', '-c', 'ls /data | wc -l']))).trim(), '2');
  // And it is served back.
  assert.deepEqual(((await (await fetch(`http://${reg}/v2/pushed/app/tags/list`)).json()) as { tags: string[] }).tags, ['7']);
  assert.deepEqual(await filesUnder(join(a.dataRoot, 'registry-uploads')), []);
});

test('dockerd pulls from it and runs the image', async (t) => {
  if (!(await dockerdAvailable())) {
    t.skip('no dockerd at /var/run/docker.sock');
    return;
  }
  const host = `unix://${dockerdSocket}`;
  const ref = `${reg}/library/bb:1`;
  try {
    await ok(docker(host, ['pull', ref]));
    assert.equal((await ok(docker(host, ['run', '--rm', ref, 'cat', '/hello.txt']))).trim(), 'from A');
  } finally {
    await docker(host, ['rmi', '-f', ref]);
  }
});
