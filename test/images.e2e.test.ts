/**
 * Issue 2 end to end: a real berthd, the real docker CLI 28 and skopeo,
 * and (when it is running) Debian's dockerd as the reference. Images are
 * built from scratch by test/helpers/images.ts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { run } from '../src/base/exec.js';
import { startDaemon, docker, api, dockerdAvailable, type TestDaemon } from './helpers/daemon.js';
import { busyboxLayer, layerTar, writeDockerArchive, randomLayer } from './helpers/images.js';

let d: TestDaemon;
let tmp: string;
let archive: string;
let imageId: string;
const tag = `bb-e2e-${randomBytes(3).toString('hex')}`;
const dockerdTags: string[] = [];

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'berth-e2e-'));
  archive = join(tmp, 'bb.tar');
  const bb = await busyboxLayer();
  const extra = layerTar([{ name: 'hello.txt', data: Buffer.from('hello\n') }]);
  [imageId] = (await writeDockerArchive(archive, [{ tags: [`${tag}:v1`], layers: [bb, extra], labels: { 'org.test': 'yes' } }])) as [string];
  d = await startDaemon();
});

after(async () => {
  await d?.stop();
  if (await dockerdAvailable()) for (const t of dockerdTags) await docker('unix:///var/run/docker.sock', ['rmi', '-f', t]);
  await rm(tmp, { recursive: true, force: true });
});

test('docker load, images, inspect, history through the docker CLI', async () => {
  const load = await docker(d.host, ['load', '-i', archive]);
  assert.equal(load.code, 0, load.stderr);
  assert.match(load.stdout, new RegExp(`Loaded image: ${tag}:v1`));
  const images = await docker(d.host, ['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
  assert.match(images.stdout, new RegExp(`${tag}:v1 ${imageId.slice(7, 19)}`));
  const insp = await docker(d.host, ['image', 'inspect', '-f', '{{.Id}} {{len .RootFS.Layers}} {{json .Config.Cmd}} {{index .Config.Labels "org.test"}}', `${tag}:v1`]);
  assert.equal(insp.stdout.trim(), `${imageId} 2 ["sh"] yes`);
  const hist = await docker(d.host, ['history', '--format', '{{.CreatedBy}}|{{.Size}}', `${tag}:v1`]);
  assert.deepEqual(hist.stdout.trim().split('\n'), ['layer 1|6B', `layer 0|${hist.stdout.trim().split('\n')[1]!.split('|')[1]}`]);
  const q = await docker(d.host, ['images', '-q', '--filter', 'label=org.test=yes']);
  assert.equal(q.stdout.trim(), imageId.slice(7, 19));
  const none = await docker(d.host, ['images', '-q', '--filter', 'dangling=true']);
  assert.equal(none.stdout.trim(), '');
  const bad = await docker(d.host, ['images', '--filter', 'bogus=1']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /Invalid filter 'bogus'/);
});

test('the same archive gives the same answers from dockerd', { skip: !(await dockerdAvailable()) && 'dockerd is not running' }, async () => {
  const D = 'unix:///var/run/docker.sock';
  const l = await docker(D, ['load', '-i', archive]);
  assert.equal(l.code, 0, l.stderr);
  dockerdTags.push(`${tag}:v1`);
  for (const args of [
    ['images', '--format', '{{.Repository}} {{.Tag}} {{.ID}} {{.Size}}', tag],
    ['image', 'inspect', '-f', '{{.Id}} {{json .RepoTags}} {{json .RootFS}} {{json .Config}} {{.Architecture}} {{.Os}} {{.Created}} {{.Size}}', `${tag}:v1`],
    ['history', '--no-trunc', '--format', '{{.CreatedBy}} {{.Size}} {{.Comment}}', `${tag}:v1`],
  ]) {
    const a = await docker(D, args);
    const b = await docker(d.host, args);
    assert.equal(b.stdout, a.stdout, `docker ${args.join(' ')}`);
  }
});

test('tag, rmi rules and conflicts as Docker', async () => {
  assert.equal((await docker(d.host, ['tag', `${tag}:v1`, `${tag}:v2`])).code, 0);
  assert.equal((await docker(d.host, ['tag', `${tag}:v1`, `other/${tag}:x`])).code, 0);
  // By ID with several names: refused without force.
  const byId = await docker(d.host, ['rmi', imageId.slice(7, 19)]);
  assert.notEqual(byId.code, 0);
  assert.match(byId.stderr, /unable to delete [0-9a-f]{12} \(must be forced\) - image is referenced in multiple repositories/);
  // By name: only untags.
  const un = await docker(d.host, ['rmi', `${tag}:v2`]);
  assert.equal(un.stdout.trim(), `Untagged: ${tag}:v2`);
  const un2 = await docker(d.host, ['rmi', `other/${tag}:x`]);
  assert.equal(un2.stdout.trim(), `Untagged: other/${tag}:x`);
  const missing = await docker(d.host, ['rmi', 'nosuch-image:nope']);
  assert.match(missing.stderr, /No such image: nosuch-image:nope/);
  const inspMissing = await api(d.socket, 'GET', '/images/nosuch/json');
  assert.equal(inspMissing.status, 404);
  assert.equal(JSON.parse(inspMissing.body).message, 'no such image: nosuch: No such image: nosuch:latest');
  const badTag = await api(d.socket, 'POST', `/v1.41/images/${tag}:v1/tag?repo=UPPER`);
  assert.equal(badTag.status, 400);
});

test('save: skopeo reads both layouts, and the archive loads back to the same ID', async () => {
  const out = join(tmp, 'saved.tar');
  const s = await docker(d.host, ['save', '-o', out, `${tag}:v1`]);
  assert.equal(s.code, 0, s.stderr);
  const da = await run('skopeo', ['inspect', '--raw', `docker-archive:${out}`]);
  assert.match(da.stdout, /"layers"/);
  const cfg = await run('skopeo', ['inspect', '--config', `docker-archive:${out}`]);
  assert.match(cfg.stdout, /"diff_ids"/);
  const oci = await run('skopeo', ['inspect', `oci-archive:${out}`]);
  assert.match(oci.stdout, /"Layers"/);
  // Into a second daemon: same image ID.
  const d2 = await startDaemon();
  try {
    const l = await docker(d2.host, ['load', '-i', out]);
    assert.match(l.stdout, new RegExp(`Loaded image: ${tag}:v1`));
    const id = await docker(d2.host, ['image', 'inspect', '-f', '{{.Id}}', `${tag}:v1`]);
    assert.equal(id.stdout.trim(), imageId);
  } finally {
    await d2.stop();
  }
});

test('what berth saves loads into dockerd', { skip: !(await dockerdAvailable()) && 'dockerd is not running' }, async () => {
  const D = 'unix:///var/run/docker.sock';
  const out = join(tmp, 'to-dockerd.tar');
  assert.equal((await docker(d.host, ['tag', `${tag}:v1`, `${tag}:tod`])).code, 0);
  assert.equal((await docker(d.host, ['save', '-o', out, `${tag}:tod`])).code, 0);
  const l = await docker(D, ['load', '-i', out]);
  assert.equal(l.code, 0, l.stderr);
  dockerdTags.push(`${tag}:tod`);
  const id = await docker(D, ['image', 'inspect', '-f', '{{.Id}}', `${tag}:tod`]);
  assert.equal(id.stdout.trim(), imageId);
  const r = await docker(D, ['run', '--rm', `${tag}:tod`, 'cat', '/hello.txt']);
  assert.equal(r.stdout, 'hello\n', r.stderr);
});

test('an OCI layout tarball (skopeo oci-archive) loads', async () => {
  const oci = join(tmp, 'oci.tar');
  await run('skopeo', ['copy', '-q', `docker-archive:${archive}`, `oci-archive:${oci}:docker.io/library/${tag}:oci`]);
  const l = await docker(d.host, ['load', '-i', oci]);
  assert.equal(l.code, 0, l.stderr);
  assert.match(l.stdout, new RegExp(`Loaded image: ${tag}:oci`));
  // skopeo rewrites the config as OCI, so the ID is that config's digest.
  const raw = JSON.parse((await run('skopeo', ['inspect', '--raw', `oci-archive:${oci}`])).stdout) as { config: { digest: string } };
  const id = await docker(d.host, ['image', 'inspect', '-f', '{{.Id}}', `${tag}:oci`]);
  assert.equal(id.stdout.trim(), raw.config.digest);
  const layers = await docker(d.host, ['image', 'inspect', '-f', '{{len .RootFS.Layers}}', `${tag}:oci`]);
  assert.equal(layers.stdout.trim(), '2');
});

test('import with --change, and system df', async () => {
  const rootfs = join(tmp, 'rootfs.tar');
  await writeFile(rootfs, layerTar([{ name: 'x/', type: 'dir' }, { name: 'x/y', data: Buffer.from('yy') }]));
  const imp = await docker(d.host, ['import', '-c', 'CMD ["/x/y"]', '-c', 'ENV A=1', rootfs, `${tag}:imp`]);
  assert.equal(imp.code, 0, imp.stderr);
  assert.match(imp.stdout, /^sha256:[0-9a-f]{64}/);
  const c = await docker(d.host, ['image', 'inspect', '-f', '{{json .Config.Cmd}} {{json .Config.Env}} {{.Comment}}', `${tag}:imp`]);
  assert.equal(c.stdout.trim(), '["/x/y"] ["A=1"] Imported from -');
  const df = await docker(d.host, ['system', 'df', '--format', '{{.Type}} {{.TotalCount}}']);
  assert.match(df.stdout, /^Images [1-9]/m);
});

test('a hostile layer is refused and nothing outside its directory changes', async () => {
  const evilDir = join(tmp, 'evil');
  const hostile = join(tmp, 'hostile.tar');
  const layer = layerTar([
    { name: 'ok', data: Buffer.from('ok') },
    { name: `../../../../../../../..${evilDir}/escaped`, data: Buffer.from('pwned') },
  ]);
  await writeDockerArchive(hostile, [{ tags: [`${tag}:evil`], layers: [layer] }]);
  const before = (await docker(d.host, ['images', '-q', '--no-trunc'])).stdout;
  const l = await docker(d.host, ['load', '-i', hostile]);
  assert.notEqual(l.code, 0);
  assert.match(l.stderr + l.stdout, /\.\.|outside|invalid|breakout|path/i);
  await assert.rejects(stat(join(evilDir, 'escaped')));
  const afterImgs = (await docker(d.host, ['images', '-q', '--no-trunc'])).stdout;
  assert.equal(afterImgs, before);
  // symlink then write through it
  const sneaky = join(tmp, 'sneaky.tar');
  await writeDockerArchive(sneaky, [
    { tags: [`${tag}:sneaky`], layers: [layerTar([{ name: 'link', type: 'symlink', linkname: evilDir }, { name: 'link/escaped', data: Buffer.from('x') }])] },
  ]);
  const l2 = await docker(d.host, ['load', '-i', sneaky]);
  assert.notEqual(l2.code, 0);
  await assert.rejects(stat(join(evilDir, 'escaped')));
});

test('berthd killed with -9 mid-load loses nothing; the load can be repeated', async () => {
  const big = join(tmp, 'big.tar');
  await writeDockerArchive(big, [{ tags: [`${tag}:big`], layers: [await busyboxLayer(), randomLayer(150 * 1024 * 1024, 8)] }]);
  const beforeList = (await docker(d.host, ['images', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}'])).stdout;
  const loading = docker(d.host, ['load', '-i', big]);
  // Kill it while bytes are flowing.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ingest = join(d.dataRoot, 'content', 'ingest');
    const n = await readdir(ingest).then((x) => x.length, () => 0);
    if (n > 0 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await d.kill9();
  const r = await loading;
  assert.notEqual(r.code, 0);
  await d.restart();
  const afterList = (await docker(d.host, ['images', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}'])).stdout;
  assert.equal(afterList, beforeList, 'no image lost or half-added');
  const blobs = await readdir(join(d.dataRoot, 'content', 'blobs', 'sha256'));
  assert.ok(blobs.every((b) => /^[0-9a-f]{64}$/.test(b)), 'no half-written blob visible');
  const again = await docker(d.host, ['load', '-i', big]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`Loaded image: ${tag}:big`));
  assert.equal((await docker(d.host, ['rmi', `${tag}:big`])).code, 0);
});
