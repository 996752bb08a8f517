import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { withLease } from '../base/ctx.js';
import { digestOf } from '../base/digest.js';
import { LeaseManager } from './leases.js';
import { LocalContentStore } from './local.js';
import { contentStoreSuite, testCtx } from './testsuite.js';

async function tempRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'berth-content-'));
}

contentStoreSuite('LocalContentStore', async () => {
  const root = await tempRoot();
  const store = new LocalContentStore(root);
  await store.init();
  return { store, cleanup: () => rm(root, { recursive: true, force: true }) };
});

describe('LocalContentStore (local specifics)', () => {
  const roots: string[] = [];
  after(async () => {
    for (const r of roots) await rm(r, { recursive: true, force: true });
  });
  const fresh = async (): Promise<{ root: string; store: LocalContentStore }> => {
    const root = await tempRoot();
    roots.push(root);
    const store = new LocalContentStore(root);
    await store.init();
    return { root, store };
  };

  it('lays blobs out as blobs/<alg>/<hex>, read-only', async () => {
    const { root, store } = await fresh();
    const data = Buffer.from('layout');
    const { digest } = await store.put(testCtx(), data);
    const p = join(root, 'blobs', 'sha256', digest.slice('sha256:'.length));
    assert.equal(store.blobPath(digest), p);
    const st = await stat(p);
    assert.equal(st.mode & 0o777, 0o444);
    assert.deepEqual(await readdir(join(root, 'ingest')), []);
  });

  it('init removes crash debris but keeps resumable ingests', async () => {
    const { root, store } = await fresh();
    const w = await store.writer(testCtx(), 'keep-me');
    await w.stream().write(Buffer.from('abc'));
    await w.close();
    await mkdir(join(root, 'ingest', '.tmp-deadbeef'));
    await mkdir(join(root, 'ingest', 'a'.repeat(64)));
    await writeFile(join(root, 'blobs', 'sha256', '.junk.tmp'), 'x');
    const again = new LocalContentStore(root);
    await again.init();
    assert.equal((await readdir(join(root, 'ingest'))).length, 1);
    assert.deepEqual(await readdir(join(root, 'blobs', 'sha256')), []);
    const st = await again.listIngests();
    assert.deepEqual(st.map((s) => [s.ref, s.offset]), [['keep-me', 3]]);
  });

  it('close() keeps the bytes and frees the ref', async () => {
    const { store } = await fresh();
    const w = await store.writer(testCtx(), 'c');
    await new Promise<void>((r) => w.stream().write(Buffer.from('12345'), () => r()));
    await w.close();
    const w2 = await store.writer(testCtx(), 'c');
    assert.equal(w2.offset, 5);
    await w2.abort();
    await w.abort(); // already dropped and re-taken: a no-op on a gone ingest
    assert.deepEqual(await store.listIngests(), []);
  });

  it('adds committed blobs to the context lease', async () => {
    const leases = new LeaseManager();
    const { root } = await fresh();
    const store = new LocalContentStore(root, { leases });
    await using lease = leases.create({ expiresInMs: 60_000 });
    const ctx = withLease(testCtx(), lease.id);
    const a = await store.put(ctx, Buffer.from('leased a'));
    const b = await store.ingest(ctx, Readable.from([Buffer.from('leased b')]));
    assert.equal(leases.isLeased(a.digest), true);
    assert.equal(leases.isLeased(b.digest), true);
    // Already present: still joins the lease.
    const ctx2 = withLease(testCtx(), leases.create({ expiresInMs: 1000, id: 'other' }).id);
    await store.put(ctx2, Buffer.from('leased a'));
    assert.ok(leases.get('other').resources().has(a.digest));
  });

  it('a process killed mid-ingest leaves no visible blob, and the ingest can be resumed or redone', async () => {
    const { root } = await fresh();
    const data = randomBytes(8 * 1024 * 1024 + 5);
    const d = digestOf(data);
    const src = join(root, 'src.bin');
    await writeFile(src, data);
    const child = `
      import { readFileSync } from 'node:fs';
      const { LocalContentStore } = await import(process.env.MOD);
      const data = readFileSync(process.env.SRC);
      const store = new LocalContentStore(process.env.ROOT);
      await store.init();
      const nop = () => {};
      const log = { debug: nop, info: nop, warn: nop, error: nop, with() { return log; } };
      const w = await store.writer({ signal: new AbortController().signal, log }, 'killed-ref');
      const ws = w.stream();
      ws.write(data.subarray(0, 1024 * 1024));
      ws.write(data.subarray(1024 * 1024, data.length / 2), () => process.kill(process.pid, 'SIGKILL'));
    `;
    const storeRoot = join(root, 'store');
    const sig = await new Promise<NodeJS.Signals | null>((resolve, reject) => {
      const p = spawn(process.execPath, ['--input-type=module', '-e', child], {
        env: { ...process.env, MOD: new URL('./local.js', import.meta.url).href, SRC: src, ROOT: storeRoot },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      p.on('error', reject);
      p.on('exit', (_code, signal) => resolve(signal));
    });
    assert.equal(sig, 'SIGKILL');

    const store = new LocalContentStore(storeRoot);
    await store.init();
    assert.equal(await store.has(d), false);
    const listed: string[] = [];
    for await (const b of store.list()) listed.push(b.digest);
    assert.deepEqual(listed, []);
    const ingests = await store.listIngests();
    assert.equal(ingests.length, 1);
    assert.equal(ingests[0]!.ref, 'killed-ref');
    const half = Math.floor(data.length / 2);
    assert.equal(ingests[0]!.offset, half);

    // Resume where the dead process stopped.
    const w = await store.writer(testCtx(), 'killed-ref');
    assert.equal(w.offset, half);
    const ws = w.stream();
    await new Promise<void>((r, j) => ws.end(data.subarray(w.offset), () => r()).once('error', j));
    assert.deepEqual(await w.commit({ digest: d, size: data.length }), { digest: d, size: data.length });
    assert.deepEqual(await store.readBlob(d, data.length), data);

    // And redoing it from scratch after a delete also works.
    await store.delete(d);
    assert.deepEqual(await store.ingest(testCtx(), Readable.from([data]), { digest: d }), { digest: d, size: data.length });
  });
});
