import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { digestOf } from '../base/digest.js';
import { silentLogger } from '../base/log.js';
import { run } from '../base/exec.js';
import { readAllLimited } from '../base/stream.js';
import { MediaType } from '../oci/mediatypes.js';
import { Registries, RegistryError } from './client.js';
import { startFakeRegistry } from './fakeregistry.js';
import { parallelGzip } from './pgzip.js';

const signal = new AbortController().signal;
let regs: Registries;
before(() => {
  regs = new Registries({ log: silentLogger, insecureRegistries: [], mirrors: [] });
});
after(() => regs.close());

test('bearer flow: challenge, token with credentials, cached across requests', async () => {
  const fake = await startFakeRegistry({ bearer: { user: 'u', password: 'p' } });
  try {
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.dockerManifest, config: { mediaType: MediaType.dockerConfig, digest: digestOf('x'), size: 1 }, layers: [] }));
    const d = fake.manifest('a/b', 'v1', body, MediaType.dockerManifest);
    const blob = randomBytes(100_000);
    const bd = fake.blob(blob);
    const repo = regs.repository(fake.host, 'a/b', { username: 'u', password: 'p' }, ['pull']);
    const m = await repo.getManifest('v1', signal);
    assert.equal(m.digest, d);
    assert.ok(m.bytes.equals(body));
    assert.equal(m.mediaType, MediaType.dockerManifest);
    // Range resume.
    const { body: part, start } = await repo.fetchBlob(bd, 60_000, signal);
    assert.equal(start, 60_000);
    assert.ok((await readAllLimited(part, 1 << 20)).equals(blob.subarray(60_000)));
    assert.ok(await repo.hasBlob(bd, signal));
    assert.ok(!(await repo.hasBlob(digestOf('nope'), signal)));
    assert.equal(fake.tokensIssued(), 1, 'one token for the whole session');
    // Wrong password: the token endpoint refuses.
    const bad = regs.repository(fake.host, 'a/b', { username: 'u', password: 'x' }, ['pull']);
    await assert.rejects(bad.getManifest('v1', signal), /incorrect username or password/);
    // Unknown manifest: the registry's error, as dockerd prints it.
    await assert.rejects(repo.getManifest('nosuch', signal), (e: unknown) => e instanceof RegistryError && e.status === 404 && e.message === 'manifest unknown: manifest unknown');
  } finally {
    await fake.close();
  }
});

test('basic auth: no credentials is refused before sending anything else; login checks /v2/', async () => {
  const fake = await startFakeRegistry({ basic: { user: 'u', password: 'p' } });
  try {
    const repo = regs.repository(fake.host, 'a/b', {}, ['pull']);
    await assert.rejects(repo.getManifest('v1', signal), /no basic auth credentials/);
    await regs.login(fake.host, { username: 'u', password: 'p' }, signal);
    await assert.rejects(regs.login(fake.host, { username: 'u', password: 'bad' }, signal), /login attempt to http:\/\/127\.0\.0\.1:\d+\/v2\/ failed with status: 401 Unauthorized/);
  } finally {
    await fake.close();
  }
});

test('a manifest fetched by digest must hash to it', async () => {
  const fake = await startFakeRegistry();
  try {
    const body = Buffer.from('{"schemaVersion":2}');
    fake.manifest('a/b', 'v1', body, MediaType.ociManifest);
    const repo = regs.repository(fake.host, 'a/b', {}, ['pull']);
    const other = digestOf('something else');
    // Serve `body` under another digest.
    fake.manifest('a/b', other, body, MediaType.ociManifest);
    await assert.rejects(repo.getManifest(other, signal), /manifest verification failed for digest/);
  } finally {
    await fake.close();
  }
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return p;
}

test("push and pull against berth's own registry with token auth", async (t) => {
  let mod: typeof import('../registry/index.js');
  try {
    mod = await import('../registry/index.js');
  } catch (e) {
    t.skip(`berth registry not available: ${String(e)}`);
    return;
  }
  const htp = await run('htpasswd', ['-Bbn', 'alice', 'secret'], { allowFailure: true });
  if (htp.code !== 0) {
    t.skip('htpasswd (apache2-utils) is not installed');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'berth-remotes-'));
  const port = await freePort();
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const keys = mod.loadTokenKeys(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  const reg = mod.createRegistry({
    root: join(dir, 'store'),
    htpasswd: new mod.Htpasswd(htp.stdout),
    token: { realm: `http://127.0.0.1:${port}/token`, service: 'berth-test', issuer: 'berth-test', keys, issue: true },
  });
  await reg.listen(port, '127.0.0.1');
  const host = `127.0.0.1:${port}`;
  try {
    const creds = { username: 'alice', password: 'secret' };
    const repo = regs.repository(host, 'team/app', creds, ['pull', 'push']);
    await repo.ensureAuth(signal);
    // Streamed (PATCH) upload of a gzip made on the fly.
    const raw = Buffer.concat([randomBytes(300_000), Buffer.alloc(500_000, 1)]);
    const gz = await readAllLimited(parallelGzip(Readable.from([raw])), 4 << 20);
    const gd = digestOf(gz);
    const up = await repo.startUpload(signal);
    assert.equal(up.mounted, false);
    if (up.mounted) return;
    const loc = await repo.patchStream(up.location, Readable.from([gz.subarray(0, 1000), gz.subarray(1000)]), signal);
    await repo.finishUpload(loc, gd, signal);
    assert.ok(await repo.hasBlob(gd, signal));
    // Monolithic upload of the config.
    const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digestOf(raw)] } }));
    const cd = digestOf(cfg);
    const up2 = await repo.startUpload(signal);
    if (!up2.mounted) await repo.putBlob(up2.location, cd, cfg.length, () => Readable.from([cfg]), signal);
    const man = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.dockerManifest, config: { mediaType: MediaType.dockerConfig, digest: cd, size: cfg.length }, layers: [{ mediaType: MediaType.dockerLayerGzip, digest: gd, size: gz.length }] }, null, 3));
    const md = await repo.putManifest('v1', man, MediaType.dockerManifest, signal);
    assert.equal(md, digestOf(man));
    // Cross-repository mount into another repo.
    const other = regs.repository(host, 'team/other', creds, ['pull', 'push']);
    const mounted = await other.startUpload(signal, { digest: gd, from: 'team/app' });
    assert.equal(mounted.mounted, true);
    // Pull it back.
    const got = await repo.getManifest('v1', signal);
    assert.equal(got.digest, md);
    const { body } = await repo.fetchBlob(gd, 0, signal);
    assert.ok(gunzipSync(await readAllLimited(body, 4 << 20)).equals(raw));
    await regs.login(host, creds, signal);
    await assert.rejects(regs.login(host, { username: 'alice', password: 'wrong' }, signal), /unauthorized/);
    // Anonymous access is refused.
    const anon = regs.repository(host, 'team/app', {}, ['pull']);
    await assert.rejects(anon.getManifest('v1', signal));
  } finally {
    await reg.close();
    await rm(dir, { recursive: true, force: true });
  }
});
