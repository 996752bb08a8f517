/**
 * Registry issue, pull and push end to end: a real berthd driven by the
 * docker CLI 28, against Debian's docker-registry (Distribution 2.8), berth's
 * own registry, and a small in-test registry that lies or crawls (corrupt
 * blobs, platform indexes, a pull interrupted by kill -9 and resumed), and
 * kill -9 of berthd or of the registry process in the middle of a push or
 * a pull, behind a relay that slows the link down.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { createServer as createNetServer, connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { digestOf } from '../src/base/digest.js';
import { run } from '../src/base/exec.js';
import { MediaType } from '../src/oci/mediatypes.js';
import { startFakeRegistry, type FakeRegistry } from '../src/remotes/fakeregistry.js';
import { startDaemon, docker, api, DOCKER, type TestDaemon, freePort } from './helpers/daemon.js';
import { busyboxLayer, layerTar, writeDockerArchive, randomLayer } from './helpers/images.js';

let d: TestDaemon;
let tmp: string;
const cleanups: (() => Promise<void>)[] = [];

/** Debian's docker-registry on 127.0.0.1, optionally behind htpasswd basic auth. */
async function startDockerRegistry(htpasswd?: string): Promise<string> {
  const dir = await mkdtemp(join(tmp, 'reg-'));
  const port = await freePort();
  let cfg = `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`;
  if (htpasswd !== undefined) {
    await writeFile(join(dir, 'htpasswd'), htpasswd);
    cfg += `auth:\n  htpasswd:\n    realm: test-realm\n    path: ${dir}/htpasswd\n`;
  }
  await writeFile(join(dir, 'config.yml'), cfg);
  const proc: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  cleanups.push(async () => {
    if (proc.exitCode === null) {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await gone;
    }
  });
  for (let i = 0; i < 100; i++) {
    const r = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/v2/`], { allowFailure: true });
    if (r.stdout === '200' || r.stdout === '401') return `127.0.0.1:${port}`;
    await new Promise((r2) => setTimeout(r2, 100));
  }
  throw new Error(`docker-registry did not start: ${err}`);
}

const haveRegistry = existsSync('/usr/bin/docker-registry');
let archive: string;
let imageId: string;
let archive2: string;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'berth-dist-'));
  const bb = await busyboxLayer();
  archive = join(tmp, 'x.tar');
  [imageId] = (await writeDockerArchive(archive, [{ tags: ['dist-x:1'], layers: [bb, layerTar([{ name: 'x.txt', data: Buffer.from('x\n') }])] }])) as [string];
  archive2 = join(tmp, 'z.tar');
  await writeDockerArchive(archive2, [{ tags: ['dist-z:1'], layers: [bb, randomLayer(300_000, 2)] }]);
  d = await startDaemon();
});

after(async () => {
  await d?.stop();
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await rm(tmp, { recursive: true, force: true });
});

test('push, pull back, push again, up to date, shared layers, missing tag (docker-registry)', { skip: !haveRegistry && 'docker-registry is not installed' }, async () => {
  const reg = await startDockerRegistry();
  const name = `${reg}/t/x:1`;
  assert.equal((await docker(d.host, ['load', '-i', archive])).code, 0);
  assert.equal((await docker(d.host, ['tag', 'dist-x:1', name])).code, 0);
  const push = await docker(d.host, ['push', name]);
  assert.equal(push.code, 0, push.stderr);
  assert.match(push.stdout, new RegExp(`The push refers to repository \\[${reg}/t/x\\]`));
  assert.match(push.stdout, /: Pushed/);
  const pushed = /1: digest: (sha256:[0-9a-f]{64}) size: (\d+)/.exec(push.stdout);
  assert.ok(pushed !== null, push.stdout);

  const again = await docker(d.host, ['push', name]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((again.stdout.match(/Layer already exists/g) ?? []).length, 2, again.stdout);
  assert.match(again.stdout, new RegExp(`1: digest: ${pushed[1]} size: ${pushed[2]}`));

  assert.equal((await docker(d.host, ['rmi', name, 'dist-x:1'])).code, 0);
  const pull = await docker(d.host, ['pull', name]);
  assert.equal(pull.code, 0, pull.stderr);
  assert.match(pull.stdout, /1: Pulling from t\/x/);
  assert.match(pull.stdout, /Pull complete/);
  assert.match(pull.stdout, new RegExp(`Digest: ${pushed[1]}`));
  assert.match(pull.stdout, new RegExp(`Status: Downloaded newer image for ${name}`));
  const id = await docker(d.host, ['image', 'inspect', '-f', '{{.Id}} {{json .RepoDigests}}', name]);
  assert.equal(id.stdout.trim(), `${imageId} ["${reg}/t/x@${pushed[1]}"]`);

  const upToDate = await docker(d.host, ['pull', name]);
  assert.equal(upToDate.code, 0);
  assert.match(upToDate.stdout, new RegExp(`Status: Image is up to date for ${name}`));
  assert.doesNotMatch(upToDate.stdout, /Pull complete/);

  // A second image on the same base: the base layer is not fetched again.
  assert.equal((await docker(d.host, ['load', '-i', archive2])).code, 0);
  assert.equal((await docker(d.host, ['tag', 'dist-z:1', `${reg}/t/z:1`])).code, 0);
  assert.equal((await docker(d.host, ['push', `${reg}/t/z:1`])).code, 0);
  assert.equal((await docker(d.host, ['rmi', `${reg}/t/z:1`, 'dist-z:1'])).code, 0);
  const z = await docker(d.host, ['pull', `${reg}/t/z:1`]);
  assert.equal(z.code, 0, z.stderr);
  assert.equal((z.stdout.match(/Already exists/g) ?? []).length, 1, z.stdout);
  assert.equal((z.stdout.match(/Pull complete/g) ?? []).length, 1, z.stdout);

  // Missing: Docker's 404 before any stream output.
  const missing = await api(d.socket, 'POST', `/v1.41/images/create?fromImage=${encodeURIComponent(`${reg}/nosuch`)}&tag=v1`);
  assert.equal(missing.status, 404);
  assert.deepEqual(JSON.parse(missing.body), { message: `manifest for ${reg}/nosuch:v1 not found: manifest unknown: manifest unknown` });
  const cli = await docker(d.host, ['pull', `${reg}/nosuch:v1`]);
  assert.notEqual(cli.code, 0);
  assert.match(cli.stderr, new RegExp(`Error response from daemon: manifest for ${reg}/nosuch:v1 not found: manifest unknown: manifest unknown`));

  // The raw stream: \r\n-terminated JSON messages with dockerd's fields.
  const raw = await api(d.socket, 'POST', `/v1.41/images/create?fromImage=${encodeURIComponent(`${reg}/t/x`)}&tag=1`);
  assert.equal(raw.status, 200);
  assert.deepEqual(raw.body.split('\r\n').filter((l) => l !== '').map((l) => JSON.parse(l) as unknown), [
    { status: 'Pulling from t/x', id: '1' },
    { status: `Digest: ${pushed[1]}` },
    { status: `Status: Image is up to date for ${name}` },
  ]);
});

test('htpasswd registry: push needs docker login (POST /auth)', { skip: !haveRegistry && 'docker-registry is not installed' }, async (t) => {
  const h = await run('htpasswd', ['-Bbn', 'bob', 'hunter2'], { allowFailure: true });
  if (h.code !== 0) {
    t.skip('htpasswd (apache2-utils) is not installed');
    return;
  }
  const reg = await startDockerRegistry(h.stdout);
  const cfgDir = await mkdtemp(join(tmp, 'dockercfg-'));
  await mkdir(cfgDir, { recursive: true });
  const cli = (args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> =>
    run(DOCKER, args, { allowFailure: true, env: { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: cfgDir }, ...(input !== undefined ? { input } : {}) });
  const name = `${reg}/private/x:1`;
  await cli(['load', '-i', archive]);
  assert.equal((await cli(['tag', 'dist-x:1', name])).code, 0);
  const denied = await cli(['push', name]);
  assert.notEqual(denied.code, 0);
  assert.match(denied.stdout + denied.stderr, /no basic auth credentials/);
  const wrong = await cli(['login', reg, '-u', 'bob', '--password-stdin'], 'nope\n');
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /401 Unauthorized/);
  const login = await cli(['login', reg, '-u', 'bob', '--password-stdin'], 'hunter2\n');
  assert.equal(login.code, 0, login.stderr);
  assert.match(login.stdout, /Login Succeeded/);
  const push = await cli(['push', name]);
  assert.equal(push.code, 0, push.stderr);
  assert.match(push.stdout, /1: digest: sha256:/);
  assert.equal((await cli(['rmi', name])).code, 0);
  const pull = await cli(['pull', name]);
  assert.equal(pull.code, 0, pull.stderr);
});

test("push and pull through berth's own registry", async (t) => {
  let mod: typeof import('../src/registry/index.js');
  try {
    mod = await import('../src/registry/index.js');
  } catch (e) {
    t.skip(`berth registry not available: ${String(e)}`);
    return;
  }
  const reg = mod.createRegistry({ root: join(tmp, 'berth-registry') });
  const addr = await reg.listen(0, '127.0.0.1');
  cleanups.push(() => reg.close());
  const name = `127.0.0.1:${addr.port}/own/x:1`;
  await docker(d.host, ['load', '-i', archive]);
  assert.equal((await docker(d.host, ['tag', 'dist-x:1', name])).code, 0);
  const push = await docker(d.host, ['push', name]);
  assert.equal(push.code, 0, push.stderr);
  assert.equal((await docker(d.host, ['rmi', name])).code, 0);
  const pull = await docker(d.host, ['pull', name]);
  assert.equal(pull.code, 0, pull.stderr);
  const id = await docker(d.host, ['image', 'inspect', '-f', '{{.Id}}', name]);
  assert.equal(id.stdout.trim(), imageId);
  await reg.close();
});

/** Serves an image (docker schema2, gzip layers) from a fake registry; returns its config digest. */
function serveImage(fake: FakeRegistry, repo: string, tag: string, layers: Buffer[], opts: { arch?: string; corrupt?: number } = {}): { id: string; manifest: Buffer } {
  const gz = layers.map((l) => gzipSync(l, { level: 1 }));
  const config = Buffer.from(JSON.stringify({ architecture: opts.arch ?? 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => digestOf(l)) } }));
  const cd = fake.blob(config);
  const descs = gz.map((g, i) => {
    let served: Buffer | undefined;
    if (opts.corrupt === i) {
      served = Buffer.from(g);
      for (let k = 100; k < served.length; k += 997) served[k] = served[k]! ^ 0xff;
    }
    return { mediaType: MediaType.dockerLayerGzip, digest: fake.blob(g, served), size: g.length };
  });
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.dockerManifest, config: { mediaType: MediaType.dockerConfig, digest: cd, size: config.length }, layers: descs }));
  fake.manifest(repo, tag, manifest, MediaType.dockerManifest);
  return { id: cd, manifest };
}

test('a registry serving bytes that do not match the digest is refused; nothing is registered', async () => {
  const fake = await startFakeRegistry();
  cleanups.push(() => fake.close());
  serveImage(fake, 'bad/img', '1', [layerTar([{ name: 'a', data: Buffer.from('a') }]), randomLayer(200_000, 2)], { corrupt: 1 });
  const r = await docker(d.host, ['pull', `${fake.host}/bad/img:1`]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /filesystem layer verification failed for digest sha256:[0-9a-f]{64}/);
  const ls = await docker(d.host, ['images', '-q', `${fake.host}/bad/img`]);
  assert.equal(ls.stdout.trim(), '');
  await fake.close();
});

test('an index: the host platform by default, --platform picks another', async () => {
  const fake = await startFakeRegistry();
  cleanups.push(() => fake.close());
  const amd = serveImage(fake, 'multi/img', 'amd64-only', [layerTar([{ name: 'amd', data: Buffer.from('amd64') }])], { arch: 'amd64' });
  const arm = serveImage(fake, 'multi/img', 'arm64-only', [layerTar([{ name: 'arm', data: Buffer.from('arm64') }])], { arch: 'arm64' });
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [
      { mediaType: MediaType.dockerManifest, digest: digestOf(amd.manifest), size: amd.manifest.length, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: MediaType.dockerManifest, digest: digestOf(arm.manifest), size: arm.manifest.length, platform: { os: 'linux', architecture: 'arm64' } },
    ],
  }));
  const indexDigest = fake.manifest('multi/img', '1', index, MediaType.ociIndex);
  fake.manifest('multi/img', '2', index, MediaType.ociIndex);
  const def = await docker(d.host, ['pull', `${fake.host}/multi/img:2`]);
  assert.equal(def.code, 0, def.stderr);
  if (process.arch === 'x64') assert.equal((await docker(d.host, ['image', 'inspect', '-f', '{{.Id}}', `${fake.host}/multi/img:2`])).stdout.trim(), amd.id);
  const r = await docker(d.host, ['pull', '--platform', 'linux/arm64', `${fake.host}/multi/img:1`]);
  assert.equal(r.code, 0, r.stderr);
  const insp = await docker(d.host, ['image', 'inspect', '-f', '{{.Id}} {{.Architecture}} {{json .RepoDigests}}', `${fake.host}/multi/img:1`]);
  // The repo digest is the index's, as dockerd records it.
  assert.equal(insp.stdout.trim(), `${arm.id} arm64 ["${fake.host}/multi/img@${indexDigest}"]`);
  // A document claiming to be a manifest while its body says index is refused.
  fake.manifest('multi/img', 'liar', index, MediaType.dockerManifest);
  const liar = await docker(d.host, ['pull', `${fake.host}/multi/img:liar`]);
  assert.notEqual(liar.code, 0);
  assert.match(liar.stderr, /media type mismatch/);
  await fake.close();
});

test('a pull killed (-9) mid-download resumes from the ingest offset with Range', async () => {
  const fake = await startFakeRegistry({ throttle: 2 * 1024 * 1024 });
  cleanups.push(() => fake.close());
  const big = randomLayer(6 * 1024 * 1024, 2);
  const { id } = serveImage(fake, 'slow/img', '1', [big]);
  const ref = `${fake.host}/slow/img`;
  // Not awaited: the daemon dies under it.
  const first = api(d.socket, 'POST', `/v1.41/images/create?fromImage=${encodeURIComponent(ref)}&tag=1`).catch(() => undefined);
  const layerGets = (): { range: string | undefined }[] => fake.requests.filter((q) => q.method === 'GET' && q.url.includes('/blobs/') && !q.url.includes(id.slice(7))).map((q) => ({ range: q.headers.range }));
  for (let i = 0; i < 100 && layerGets().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 1500));
  await d.kill9();
  await first;
  await d.restart();
  const r = await docker(d.host, ['pull', `${ref}:1`]);
  assert.equal(r.code, 0, r.stderr);
  const gets = layerGets();
  assert.equal(gets.length, 2, JSON.stringify(gets));
  assert.equal(gets[0]!.range, undefined);
  const m = /^bytes=(\d+)-$/.exec(gets[1]!.range ?? '');
  assert.ok(m !== null && Number(m[1]) > 256 * 1024, `resumed with ${gets[1]!.range}`);
  const insp = await docker(d.host, ['image', 'inspect', '-f', '{{.Id}}', `${ref}:1`]);
  assert.equal(insp.stdout.trim(), id);
  await fake.close();
});

/**
 * A TCP relay to a registry that slows one direction down, so a kill -9
 * lands in the middle of a transfer rather than after it. It counts the
 * bytes it relays and keeps the HTTP request heads it sees.
 */
interface Relay {
  port: number;
  up(): number;
  down(): number;
  heads: string[];
  close(): Promise<void>;
}

async function startRelay(target: number, rate: { up?: number; down?: number }): Promise<Relay> {
  let up = 0;
  let down = 0;
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  const pipe = (from: Socket, to: Socket, bps: number | undefined, count: (n: number) => void, onChunk?: (b: Buffer) => void): void => {
    from.on('data', (b: Buffer) => {
      onChunk?.(b);
      count(b.length);
      to.write(b);
      if (bps !== undefined) {
        from.pause();
        setTimeout(() => from.resume(), (b.length / bps) * 1000);
      }
    });
    from.on('end', () => to.end());
    from.on('error', () => to.destroy());
    from.on('close', () => to.destroy());
  };
  const server = createNetServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    pipe(client, upstream, rate.up, (n) => (up += n), (b) => {
      const s = b.subarray(0, 2048).toString('latin1');
      if (/^(GET|HEAD|POST|PUT|PATCH|DELETE) /.test(s)) heads.push(s.slice(0, s.indexOf('\r\n\r\n') >>> 0));
    });
    pipe(upstream, client, rate.down, (n) => (down += n));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    up: () => up,
    down: () => down,
    heads,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

const REGISTRY_MAIN = join(new URL('../src/registry/main.js', import.meta.url).pathname);

/** berth's registry as its own process (so it can be killed -9), on a fixed port and root. */
async function registryProcess(port: number, root: string): Promise<{ kill9(): Promise<void>; stop(): Promise<void> }> {
  const p = spawn(process.execPath, [REGISTRY_MAIN, 'serve', '--addr', `127.0.0.1:${port}`, '--root', root, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const gone = new Promise<void>((r) => p.once('exit', () => r()));
  const kill = async (sig: NodeJS.Signals): Promise<void> => {
    if (p.exitCode === null && p.signalCode === null) p.kill(sig);
    await gone;
  };
  for (let i = 0; ; i++) {
    const r = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/v2/`], { allowFailure: true });
    if (r.stdout === '200') break;
    if (i > 100 || p.exitCode !== null) {
      await kill('SIGKILL');
      throw new Error(`registry did not start: ${err}`);
    }
    await new Promise((r2) => setTimeout(r2, 100));
  }
  return { kill9: () => kill('SIGKILL'), stop: () => kill('SIGTERM') };
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** HTTP status of a HEAD on the registry (curl: the registry may be the only thing listening). */
async function headStatus(url: string): Promise<string> {
  return (await run('curl', ['-s', '-I', '-o', '/dev/null', '-w', '%{http_code}', url], { allowFailure: true })).stdout;
}

/** Loads an image with one 8 MB random layer (gzip cannot shrink it); returns its id and layer digest (uncompressed). */
async function bigImage(tag: string): Promise<{ id: string; layer: string }> {
  const layer = randomLayer(8 * 1024 * 1024, 2);
  const path = join(tmp, `${tag.replace(/[^a-z0-9]/g, '-')}.tar`);
  const [id] = (await writeDockerArchive(path, [{ tags: [tag], layers: [layer] }])) as [string];
  const r = await docker(d.host, ['load', '-i', path]);
  assert.equal(r.code, 0, r.stderr);
  return { id, layer: digestOf(layer) };
}

/** The pushed image in the registry: its config digest, and every layer blob read back and hashed. */
async function checkRegistryImage(base: string, repo: string, tag: string, id: string): Promise<void> {
  const m = await run('curl', ['-sf', '-H', `Accept: ${MediaType.dockerManifest}`, `${base}/v2/${repo}/manifests/${tag}`], { allowFailure: true });
  assert.equal(m.code, 0, `manifest ${repo}:${tag} is not in the registry`);
  const man = JSON.parse(m.stdout) as { config: { digest: string }; layers: { digest: string; size: number }[] };
  assert.equal(man.config.digest, id);
  for (const l of man.layers) {
    const got = await run('sh', ['-c', `curl -sf ${base}/v2/${repo}/blobs/${l.digest} | sha256sum`], { allowFailure: true });
    assert.equal(`sha256:${got.stdout.split(' ')[0]}`, l.digest);
  }
}

test('berthd killed (-9) mid-push: after restart its store is intact, the registry kept no partial blob, and the push completes', async () => {
  const regPort = await freePort();
  const root = join(tmp, 'crash-push-d');
  const reg = await registryProcess(regPort, root);
  cleanups.push(() => reg.stop());
  const relay = await startRelay(regPort, { up: 2 * 1024 * 1024 });
  cleanups.push(() => relay.close());
  const name = `127.0.0.1:${relay.port}/crash/pushd`;
  const { id } = await bigImage(`${name}:1`);
  const first = docker(d.host, ['push', `${name}:1`]);
  await until('upload bytes', () => relay.up() > 1024 * 1024);
  await d.kill9();
  await first;
  await d.restart();
  // The daemon's store: the image is whole after the crash.
  const insp = await docker(d.host, ['image', 'inspect', '-f', '{{.Id}}', `${name}:1`]);
  assert.equal(insp.stdout.trim(), id);
  // The registry: the half-sent layer is not a blob, and no manifest was written.
  assert.ok(relay.heads.some((h) => /^PATCH \S+\/blobs\/uploads\//.test(h)), 'the push had started a streamed upload');
  assert.equal(await headStatus(`http://127.0.0.1:${regPort}/v2/crash/pushd/manifests/1`), '404');
  const again = await docker(d.host, ['push', `${name}:1`]);
  assert.equal(again.code, 0, again.stderr + again.stdout);
  await checkRegistryImage(`http://127.0.0.1:${regPort}`, 'crash/pushd', '1', id);
  await relay.close();
  await reg.stop();
});

test("berth's registry killed (-9) mid-push: no partial blob after restart, and the same push completes", async () => {
  const regPort = await freePort();
  const root = join(tmp, 'crash-push-r');
  let reg = await registryProcess(regPort, root);
  cleanups.push(() => reg.stop());
  const relay = await startRelay(regPort, { up: 2 * 1024 * 1024 });
  cleanups.push(() => relay.close());
  const name = `127.0.0.1:${relay.port}/crash/pushr`;
  const { id } = await bigImage(`${name}:1`);
  const first = docker(d.host, ['push', `${name}:1`]);
  await until('upload bytes', () => relay.up() > 1024 * 1024);
  await reg.kill9();
  const failed = await first;
  assert.notEqual(failed.code, 0, 'a push whose registry died cannot succeed');
  reg = await registryProcess(regPort, root);
  // Whatever was received sits in an upload session, not under any digest.
  const blobs = await run('sh', ['-c', `find ${join(root, 'blobs')} -name data -size +1M | wc -l`]);
  assert.equal(blobs.stdout.trim(), '0');
  assert.equal(await headStatus(`http://127.0.0.1:${regPort}/v2/crash/pushr/manifests/1`), '404');
  const again = await docker(d.host, ['push', `${name}:1`]);
  assert.equal(again.code, 0, again.stderr + again.stdout);
  await checkRegistryImage(`http://127.0.0.1:${regPort}`, 'crash/pushr', '1', id);
  await relay.close();
  await reg.stop();
});

test("berth's registry killed (-9) mid-pull: after restart the same pull resumes with Range and completes", async (t) => {
  if (!existsSync('/usr/bin/skopeo')) return t.skip('skopeo is not installed');
  const regPort = await freePort();
  const root = join(tmp, 'crash-pull-r');
  let reg = await registryProcess(regPort, root);
  cleanups.push(() => reg.stop());
  // Filled by skopeo, not by this daemon, so the daemon has none of the layer's bytes.
  const layer = randomLayer(8 * 1024 * 1024, 2);
  const path = join(tmp, 'crash-pull.tar');
  const [id] = (await writeDockerArchive(path, [{ tags: ['crash/pull:1'], layers: [layer] }])) as [string];
  const cp = await run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `docker-archive:${path}`, `docker://127.0.0.1:${regPort}/crash/pull:1`], { allowFailure: true });
  assert.equal(cp.code, 0, cp.stderr);
  const relay = await startRelay(regPort, { down: 2 * 1024 * 1024 });
  cleanups.push(() => relay.close());
  const ref = `127.0.0.1:${relay.port}/crash/pull:1`;
  const first = docker(d.host, ['pull', ref]);
  await until('layer bytes', () => relay.down() > 2 * 1024 * 1024);
  await reg.kill9();
  const failed = await first;
  assert.notEqual(failed.code, 0, 'a pull whose registry died cannot succeed');
  assert.notEqual((await docker(d.host, ['image', 'inspect', ref])).code, 0, 'no image from a broken pull');
  reg = await registryProcess(regPort, root);
  const again = await docker(d.host, ['pull', ref]);
  assert.equal(again.code, 0, again.stderr + again.stdout);
  const insp = await docker(d.host, ['image', 'inspect', '-f', '{{.Id}}', ref]);
  assert.equal(insp.stdout.trim(), id);
  // The second GET of the layer asked only for what the first did not deliver.
  const layerGets = relay.heads.filter((h) => /^GET \S+\/blobs\//.test(h) && !h.includes(id.slice(7)));
  const ranges = layerGets.map((h) => /\r\nrange: bytes=(\d+)-/i.exec(h)?.[1]);
  assert.equal(ranges[0], undefined, JSON.stringify(layerGets));
  assert.ok(ranges.slice(1).some((r) => r !== undefined && Number(r) > 1024 * 1024), `resumed with ${JSON.stringify(ranges)}`);
  await relay.close();
  await reg.stop();
});

test("Docker Hub's token flow: anonymous Bearer pulls and credentialed push/pull, tokens from a token server on another address", async (t) => {
  const h = await run('htpasswd', ['-Bbn', 'alice', 'a-secret'], { allowFailure: true });
  if (h.code !== 0) return t.skip('htpasswd (apache2-utils) is not installed');
  const mod = await import('../src/registry/index.js');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  // The token server (Hub's auth.docker.io): berth's own issuer, reached through a relay that records each request.
  const issuer = mod.createRegistry({
    root: join(tmp, 'hub-auth'),
    htpasswd: new mod.Htpasswd(h.stdout),
    token: {
      realm: 'http://unused/token',
      service: 'registry.test',
      issuer: 'auth.test',
      keys: mod.loadTokenKeys(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
      issue: true,
      acl: [
        { account: 'alice', name: '*', actions: ['pull', 'push'] },
        { account: 'anonymous', name: 'library/*', actions: ['pull'] },
      ],
    },
  });
  const ia = await issuer.listen(0, '127.0.0.1');
  cleanups.push(() => issuer.close());
  const auth = await startRelay(ia.port, {});
  cleanups.push(() => auth.close());
  // The registry (Hub's registry-1.docker.io): only the public key, so it verifies tokens and cannot issue any.
  const reg = mod.createRegistry({
    root: join(tmp, 'hub-registry'),
    token: {
      realm: `http://127.0.0.1:${auth.port}/token`,
      service: 'registry.test',
      issuer: 'auth.test',
      keys: mod.loadTokenKeys(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    },
  });
  const ra = await reg.listen(0, '127.0.0.1');
  cleanups.push(() => reg.close());
  const host = `127.0.0.1:${ra.port}`;
  const cfgDir = await mkdtemp(join(tmp, 'dockercfg-'));
  const cli = (args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> =>
    run(DOCKER, args, { allowFailure: true, env: { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: cfgDir }, ...(input !== undefined ? { input } : {}) });
  /** The token requests made since `from`: scope, service and whether credentials came along. */
  const tokenRequests = (from: number): { scope: string | null; service: string | null; basic: boolean }[] =>
    auth.heads.slice(from).flatMap((head) => {
      const m = /^GET (\/token\S*) HTTP/.exec(head);
      if (m === null) return [];
      const u = new URL(m[1]!, 'http://x');
      return [{ scope: u.searchParams.get('scope'), service: u.searchParams.get('service'), basic: /\r\nauthorization: basic /i.test(head) }];
    });
  const pub = `${host}/library/app:1`;
  const priv = `${host}/alice/app:1`;
  assert.equal((await cli(['load', '-i', archive])).code, 0);
  assert.equal((await cli(['tag', 'dist-x:1', pub])).code, 0);
  assert.equal((await cli(['tag', 'dist-x:1', priv])).code, 0);

  // Anonymous: a token comes from the token server without credentials, and it does not allow a push.
  let mark = auth.heads.length;
  const denied = await cli(['push', pub]);
  assert.notEqual(denied.code, 0);
  assert.match(denied.stdout + denied.stderr, /denied|unauthorized|authentication required/i);
  const anonPush = tokenRequests(mark);
  assert.ok(anonPush.length > 0 && anonPush.every((r) => !r.basic && r.service === 'registry.test'), JSON.stringify(anonPush));
  assert.ok(anonPush.some((r) => r.scope?.startsWith('repository:library/app:') === true && r.scope.includes('push')), JSON.stringify(anonPush));

  // With credentials: login, push both.
  assert.notEqual((await cli(['login', host, '-u', 'alice', '--password-stdin'], 'wrong\n')).code, 0);
  const login = await cli(['login', host, '-u', 'alice', '--password-stdin'], 'a-secret\n');
  assert.equal(login.code, 0, login.stderr);
  mark = auth.heads.length;
  for (const ref of [pub, priv]) {
    const p = await cli(['push', ref]);
    assert.equal(p.code, 0, p.stderr + p.stdout);
  }
  assert.ok(tokenRequests(mark).some((r) => r.basic && r.scope === 'repository:library/app:pull,push'), JSON.stringify(tokenRequests(mark)));

  // Logged out: the public image pulls with an anonymous token (realm, service and scope from the challenge); the private one does not.
  assert.equal((await cli(['logout', host])).code, 0);
  assert.equal((await cli(['rmi', pub, priv])).code, 0);
  mark = auth.heads.length;
  const anonPull = await cli(['pull', pub]);
  assert.equal(anonPull.code, 0, anonPull.stderr + anonPull.stdout);
  assert.deepEqual(tokenRequests(mark), [{ scope: 'repository:library/app:pull', service: 'registry.test', basic: false }]);
  const privDenied = await cli(['pull', priv]);
  assert.notEqual(privDenied.code, 0);
  assert.match(privDenied.stderr, /denied|unauthorized|authentication required|not found/i);

  // Logged in again: the private image pulls, its token asked for with credentials.
  assert.equal((await cli(['login', host, '-u', 'alice', '--password-stdin'], 'a-secret\n')).code, 0);
  mark = auth.heads.length;
  const privPull = await cli(['pull', priv]);
  assert.equal(privPull.code, 0, privPull.stderr + privPull.stdout);
  assert.deepEqual(tokenRequests(mark), [{ scope: 'repository:alice/app:pull', service: 'registry.test', basic: true }]);
  const id = await cli(['image', 'inspect', '-f', '{{.Id}}', priv]);
  assert.equal(id.stdout.trim(), imageId);
  await cli(['rmi', pub, priv]);
  await reg.close();
  await auth.close();
  await issuer.close();
});
