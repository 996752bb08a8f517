/**
 * Real clients against the registry: skopeo round trips with identical
 * digests, dockerd push and pull, and a kill -9 of a registry process in
 * the middle of an upload.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, have, http, run, sha256, startRegistry, tempDir } from './testutil.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

async function dockerReady(): Promise<boolean> {
  if (!have('docker')) return false;
  const r = await run('docker', ['image', 'inspect', 'busybox:local', '--format', '{{.Id}}']);
  return r.status === 0;
}

describe('skopeo', () => {
  test('copy in from docker-archive and back out with identical digests', async (t) => {
    if (!have('skopeo') || !(await dockerReady())) return t.skip('needs skopeo and dockerd with busybox:local');
    const r = await startRegistry();
    const dir = await tempDir();
    try {
      const archive = join(dir, 'bb.tar');
      assert.equal((await run('docker', ['save', 'busybox:local', '-o', archive])).status, 0);
      const cp = await run('skopeo', ['copy', '--dest-tls-verify=false', `docker-archive:${archive}`, `docker://${r.host}/lib/busybox:1`]);
      assert.equal(cp.status, 0, cp.stderr);
      const raw = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${r.host}/lib/busybox:1`]);
      assert.equal(raw.status, 0, raw.stderr);
      const served = await http('GET', `${r.base}/v2/lib/busybox/manifests/1`);
      assert.equal(sha256(raw.stdout), served.headers['docker-content-digest']);

      // out to dir: (bytes preserved) and oci-archive: (converted), then dir: back in under another name
      const out = join(dir, 'out');
      const toDir = await run('skopeo', ['copy', '--src-tls-verify=false', `docker://${r.host}/lib/busybox:1`, `dir:${out}`]);
      assert.equal(toDir.status, 0, toDir.stderr);
      assert.equal(sha256(await readFile(join(out, 'manifest.json'))), served.headers['docker-content-digest']);
      const toOci = await run('skopeo', ['copy', '--src-tls-verify=false', `docker://${r.host}/lib/busybox:1`, `oci-archive:${join(dir, 'bb-oci.tar')}:v1`]);
      assert.equal(toOci.status, 0, toOci.stderr);
      const back = await run('skopeo', ['copy', '--dest-tls-verify=false', `dir:${out}`, `docker://${r.host}/copy/busybox:again`]);
      assert.equal(back.status, 0, back.stderr);
      const raw2 = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${r.host}/copy/busybox:again`]);
      assert.equal(raw2.stdout, raw.stdout);
      // the OCI archive pushes as an OCI manifest, and reads back byte for byte
      const oci = await run('skopeo', ['copy', '--dest-tls-verify=false', `oci-archive:${join(dir, 'bb-oci.tar')}:v1`, `docker://${r.host}/oci/busybox:v1`]);
      assert.equal(oci.status, 0, oci.stderr);
      const ociRaw = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${r.host}/oci/busybox:v1`]);
      assert.equal(JSON.parse(ociRaw.stdout).mediaType, 'application/vnd.oci.image.manifest.v1+json');
      assert.equal((await http('HEAD', `${r.base}/v2/oci/busybox/manifests/v1`)).headers['docker-content-digest'], sha256(ociRaw.stdout));
    } finally {
      await r.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('dockerd', () => {
  test('docker push to and pull from the registry', async (t) => {
    if (!(await dockerReady())) return t.skip('needs dockerd with busybox:local');
    const r = await startRegistry();
    const ref = `${r.host}/t:1`;
    try {
      const id = (await run('docker', ['image', 'inspect', 'busybox:local', '--format', '{{.Id}}'])).stdout.trim();
      assert.equal((await run('docker', ['tag', 'busybox:local', ref])).status, 0);
      const push = await run('docker', ['push', ref]);
      assert.equal(push.status, 0, push.stderr + push.stdout);
      const m = /digest: (sha256:[a-f0-9]{64})/.exec(push.stdout);
      assert.ok(m !== null, push.stdout);
      assert.equal((await http('HEAD', `${r.base}/v2/t/manifests/1`)).headers['docker-content-digest'], m[1]);
      assert.equal((await run('docker', ['rmi', ref])).status, 0);
      const pull = await run('docker', ['pull', ref]);
      assert.equal(pull.status, 0, pull.stderr);
      assert.equal((await run('docker', ['image', 'inspect', ref, '--format', '{{.Id}}'])).stdout.trim(), id);
    } finally {
      await run('docker', ['rmi', ref]);
      await r.stop();
    }
  });
});

function startProcess(port: number, root: string): Promise<ChildProcess> {
  const p = spawn(process.execPath, [MAIN, 'serve', '--addr', `127.0.0.1:${port}`, '--root', root, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 10_000;
    const poll = (): void => {
      http('GET', `http://127.0.0.1:${port}/v2/`).then(
        () => resolve(p),
        () => (Date.now() > deadline ? reject(new Error('registry did not start')) : setTimeout(poll, 50)),
      );
    };
    p.once('exit', (code) => reject(new Error(`registry exited early with ${code}`)));
    poll();
  });
}

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((resolve) => p.once('exit', () => resolve()));
}

describe('crash safety', () => {
  test('kill -9 mid-upload: no partial blob, and the upload resumes after restart', async () => {
    const root = await tempDir();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    let proc: ChildProcess | undefined;
    try {
      proc = await startProcess(port, root);
      const data = randomBytes(8 * 1024 * 1024);
      const digest = sha256(data);
      const loc = String((await http('POST', `${base}/v2/crash/test/blobs/uploads/`)).headers.location);
      // Stream the first half slowly and keep the request open, then kill the server under it.
      const req = request(`${base}${loc}`, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream' }, agent: false });
      req.on('error', () => {});
      req.write(data.subarray(0, 4 * 1024 * 1024));
      const deadline = Date.now() + 10_000;
      for (;;) {
        const files = await readdir(join(root, 'repositories', 'crash', 'test', '_uploads'));
        const got = files.length === 1 ? (await readFile(join(root, 'repositories', 'crash', 'test', '_uploads', files[0]!, 'data'))).length : 0;
        if (got > 0) break;
        if (Date.now() > deadline) throw new Error('no bytes reached the upload');
        await new Promise((r) => setTimeout(r, 20));
      }
      proc.kill('SIGKILL');
      await exited(proc);
      req.destroy();

      const hex = digest.slice(7);
      const shard = await readdir(join(root, 'blobs', 'sha256', hex.slice(0, 2))).catch(() => [] as string[]);
      assert.ok(!shard.includes(hex), 'no blob may exist after a crash mid-upload');

      proc = await startProcess(port, root);
      assert.equal((await http('HEAD', `${base}/v2/crash/test/blobs/${digest}`)).status, 404);
      const st = await http('GET', `${base}${loc}`);
      assert.equal(st.status, 204);
      const received = Number(String(st.headers.range).split('-')[1]) + 1;
      assert.ok(received > 0 && received <= 4 * 1024 * 1024);
      // resume from the reported offset; the close recomputes the hash from disk (the running one died with the process)
      const rest = data.subarray(received);
      const patch = await http('PATCH', `${base}${loc}`, { body: rest, headers: { 'Content-Range': `${received}-${data.length - 1}` } });
      assert.equal(patch.status, 202);
      const put = await http('PUT', `${base}${loc}?digest=${digest}`);
      assert.equal(put.status, 201, put.text);
      const got = await http('GET', `${base}/v2/crash/test/blobs/${digest}`);
      assert.equal(sha256(got.body), digest);

      // A manifest written after the restart completes the push.
      const cfg = '{"architecture":"amd64","os":"linux"}';
      const cd = sha256(cfg);
      assert.equal((await http('POST', `${base}/v2/crash/test/blobs/uploads/?digest=${cd}`, { body: cfg })).status, 201);
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cd, size: cfg.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: data.length }],
      });
      const mp = await http('PUT', `${base}/v2/crash/test/manifests/latest`, { body: manifest, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
      assert.equal(mp.status, 201);
    } finally {
      if (proc !== undefined && proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await exited(proc);
      }
      await rm(root, { recursive: true, force: true });
    }
  });

  test('SIGTERM stops the server cleanly with exit code 0', async () => {
    const root = await tempDir();
    const port = await freePort();
    try {
      const p = await startProcess(port, root);
      const code = new Promise<number | null>((resolve) => p.once('exit', (c) => resolve(c)));
      p.kill('SIGTERM');
      assert.equal(await code, 0);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
