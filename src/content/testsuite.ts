/**
 * Conformance suite for ContentStore implementations (after containerd's
 * content/testsuite). Test-only: it imports node:test, so it is not
 * re-exported from index.ts. Usage in a *.test.ts:
 *
 *   contentStoreSuite('local', async () => { ...; return { store, cleanup } });
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, type Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { Ctx } from '../base/ctx.js';
import { digestOf, type Digest } from '../base/digest.js';
import { InvalidArgumentError, NotFoundError } from '../base/errors.js';
import { silentLogger } from '../base/log.js';
import type { ContentStore } from './types.js';

export interface StoreUnderTest {
  readonly store: ContentStore;
  readonly cleanup: () => Promise<void>;
}

export function testCtx(signal: AbortSignal = new AbortController().signal): Ctx {
  return { signal, log: silentLogger };
}

async function readAll(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

function write(ws: Writable, b: Buffer): Promise<void> {
  return new Promise((resolve, reject) => ws.write(b, (e) => (e ? reject(e) : resolve())));
}

function end(ws: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.end(() => resolve());
  });
}

async function collectList(store: ContentStore): Promise<Digest[]> {
  const out: Digest[] = [];
  for await (const b of store.list()) out.push(b.digest);
  return out.sort();
}

export function contentStoreSuite(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`ContentStore conformance: ${name}`, () => {
    const withStore = async (fn: (store: ContentStore) => Promise<void>): Promise<void> => {
      const { store, cleanup } = await makeStore();
      try {
        await fn(store);
      } finally {
        await cleanup();
      }
    };

    it('ingests and reads back a blob', () =>
      withStore(async (store) => {
        const data = randomBytes(3 * 1024 * 1024 + 17);
        const d = digestOf(data);
        const res = await store.ingest(testCtx(), Readable.from([data.subarray(0, 1000), data.subarray(1000)]), { digest: d, size: data.length });
        assert.deepEqual(res, { digest: d, size: data.length });
        assert.equal(await store.has(d), true);
        const info = await store.info(d);
        assert.equal(info.size, data.length);
        assert.equal(info.digest, d);
        assert.ok(info.committedAt instanceof Date);
        assert.deepEqual(await readAll(await store.reader(d)), data);
        assert.deepEqual(await store.readBlob(d), data);
        assert.deepEqual(await store.listIngests(), []);
      }));

    it('ingests without an expected digest and reports the computed one', () =>
      withStore(async (store) => {
        const data = Buffer.from('hello berth');
        const res = await store.put(testCtx(), data);
        assert.equal(res.digest, digestOf(data));
        assert.equal(res.size, data.length);
      }));

    it('refuses a digest mismatch and stores nothing', () =>
      withStore(async (store) => {
        const data = Buffer.from('the real bytes');
        const wrong = digestOf('other bytes');
        await assert.rejects(store.ingest(testCtx(), Readable.from([data]), { digest: wrong }), (e: unknown) => {
          assert.ok(e instanceof InvalidArgumentError, String(e));
          assert.match(e.message, /unexpected commit digest sha256:[0-9a-f]{64}, expected sha256:[0-9a-f]{64}: failed precondition/);
          return true;
        });
        assert.equal(await store.has(wrong), false);
        assert.equal(await store.has(digestOf(data)), false);
        assert.deepEqual(await collectList(store), []);
        assert.deepEqual(await store.listIngests(), []);
      }));

    it('a failed commit through writer() names the ref and removes the ingest', () =>
      withStore(async (store) => {
        const data = Buffer.from('x'.repeat(100));
        const w = await store.writer(testCtx(), 'my-ref');
        const ws = w.stream();
        await write(ws, data);
        await end(ws);
        const wrong = digestOf('nope');
        await assert.rejects(w.commit({ digest: wrong }), /failed commit on ref "my-ref": unexpected commit digest/);
        assert.deepEqual(await store.listIngests(), []);
        // The ref is free again and starts from zero.
        const w2 = await store.writer(testCtx(), 'my-ref');
        assert.equal(w2.offset, 0);
        await w2.abort();
      }));

    it('a mismatching commit leaves an existing blob untouched', () =>
      withStore(async (store) => {
        const good = Buffer.from('good');
        const d = (await store.put(testCtx(), good)).digest;
        const w = await store.writer(testCtx(), 'evil');
        const ws = w.stream();
        await write(ws, Buffer.from('evil'));
        await end(ws);
        await assert.rejects(w.commit({ digest: d }), InvalidArgumentError);
        assert.deepEqual(await store.readBlob(d), good);
      }));

    it('refuses a size mismatch, smaller or larger', () =>
      withStore(async (store) => {
        const data = Buffer.from('0123456789');
        const d = digestOf(data);
        await assert.rejects(store.ingest(testCtx(), Readable.from([data]), { digest: d, size: 11 }), /size/);
        await assert.rejects(store.ingest(testCtx(), Readable.from([data]), { digest: d, size: 9 }), /size/);
        await assert.rejects(store.ingest(testCtx(), Readable.from([data]), { size: 4 }), /size/);
        assert.equal(await store.has(d), false);
        assert.deepEqual(await store.listIngests(), []);
      }));

    it('accepts sha512 digests', () =>
      withStore(async (store) => {
        const data = randomBytes(5000);
        const d = digestOf(data, 'sha512');
        assert.deepEqual(await store.ingest(testCtx(), Readable.from([data]), { digest: d }), { digest: d, size: data.length });
        assert.deepEqual(await store.readBlob(d), data);
        // Algorithm announced only at commit: the store rehashes.
        const data2 = randomBytes(3000);
        const d2 = digestOf(data2, 'sha512');
        const w = await store.writer(testCtx(), 'sha512-late');
        const ws = w.stream();
        await write(ws, data2);
        await end(ws);
        assert.deepEqual(await w.commit({ digest: d2 }), { digest: d2, size: data2.length });
        assert.equal(await store.has(d2), true);
      }));

    it('concurrent ingests of the same digest both succeed', () =>
      withStore(async (store) => {
        const data = randomBytes(2 * 1024 * 1024);
        const d = digestOf(data);
        const chunks = (): Readable => Readable.from([data.subarray(0, 1 << 20), data.subarray(1 << 20)]);
        // Writers on different refs, interleaved, then committed in parallel.
        const [w1, w2] = await Promise.all([store.writer(testCtx(), 'a'), store.writer(testCtx(), 'b')]);
        const s1 = w1.stream();
        const s2 = w2.stream();
        await Promise.all([write(s1, data.subarray(0, 1000)), write(s2, data.subarray(0, 5000))]);
        await Promise.all([write(s1, data.subarray(1000)), write(s2, data.subarray(5000))]);
        await Promise.all([end(s1), end(s2)]);
        const [r1, r2] = await Promise.all([w1.commit({ digest: d }), w2.commit({ digest: d })]);
        assert.deepEqual(r1, { digest: d, size: data.length });
        assert.deepEqual(r2, r1);
        const r3 = await Promise.all([1, 2, 3].map(() => store.ingest(testCtx(), chunks(), { digest: d, size: data.length })));
        for (const r of r3) assert.deepEqual(r, r1);
        assert.deepEqual(await store.readBlob(d), data);
        assert.deepEqual(await collectList(store), [d]);
        assert.deepEqual(await store.listIngests(), []);
      }));

    it('a second writer on the same ref waits for the first', () =>
      withStore(async (store) => {
        const data = Buffer.from('serialised');
        const w1 = await store.writer(testCtx(), 'same');
        let second = false;
        const p2 = store.writer(testCtx(), 'same').then((w) => {
          second = true;
          return w;
        });
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(second, false, 'second writer must not get the ref while the first holds it');
        const ws = w1.stream();
        await write(ws, data);
        await end(ws);
        await w1.commit({ digest: digestOf(data) });
        const w2 = await p2;
        assert.equal(w2.offset, 0);
        await w2.abort();
      }));

    it('waiting for a held ref is cancelled by the context', () =>
      withStore(async (store) => {
        const w1 = await store.writer(testCtx(), 'held');
        const ac = new AbortController();
        const p = store.writer(testCtx(ac.signal), 'held');
        ac.abort();
        await assert.rejects(p, /cancelled/);
        await w1.abort();
        const w3 = await store.writer(testCtx(), 'held');
        await w3.abort();
      }));

    it('resumes after a partial write, rehashing what is on disk', () =>
      withStore(async (store) => {
        const data = randomBytes(1024 * 1024 + 333);
        const d = digestOf(data);
        const half = 600_000;
        const w1 = await store.writer(testCtx(), 'resume-me');
        assert.equal(w1.offset, 0);
        const s1 = w1.stream();
        await write(s1, data.subarray(0, half));
        // Drop the writer as a broken connection would.
        s1.on('error', () => {});
        s1.destroy(new Error('connection reset'));
        await new Promise((r) => setImmediate(r));
        const st = await store.listIngests();
        assert.equal(st.length, 1);
        assert.equal(st[0]!.ref, 'resume-me');
        assert.equal(st[0]!.offset, half);
        assert.equal(await store.has(d), false);

        const w2 = await store.writer(testCtx(), 'resume-me');
        assert.equal(w2.offset, half);
        const s2 = w2.stream();
        await write(s2, data.subarray(half));
        await end(s2);
        assert.deepEqual(await w2.commit({ digest: d, size: data.length }), { digest: d, size: data.length });
        assert.deepEqual(await store.readBlob(d), data);
        assert.deepEqual(await store.listIngests(), []);
      }));

    it('a resume that appends wrong bytes fails verification', () =>
      withStore(async (store) => {
        const data = randomBytes(10_000);
        const w1 = await store.writer(testCtx(), 'r');
        const s1 = w1.stream();
        await write(s1, data.subarray(0, 4000));
        s1.destroy();
        await new Promise((r) => setImmediate(r));
        const w2 = await store.writer(testCtx(), 'r');
        assert.equal(w2.offset, 4000);
        const s2 = w2.stream();
        await write(s2, data.subarray(4001)); // skips a byte
        await end(s2);
        await assert.rejects(w2.commit({ digest: digestOf(data) }), /unexpected commit/);
        assert.equal(await store.has(digestOf(data)), false);
      }));

    it('abort drops the ingest', () =>
      withStore(async (store) => {
        const w = await store.writer(testCtx(), 'gone');
        await write(w.stream(), Buffer.from('abc'));
        await w.abort();
        assert.deepEqual(await store.listIngests(), []);
        assert.deepEqual(await collectList(store), []);
      }));

    it('reads byte ranges', () =>
      withStore(async (store) => {
        const data = randomBytes(3 * 1024 * 1024);
        const { digest: d } = await store.put(testCtx(), data);
        assert.deepEqual(await readAll(await store.reader(d, { start: 0, end: 0 })), data.subarray(0, 1));
        assert.deepEqual(await readAll(await store.reader(d, { start: 10, end: 19 })), data.subarray(10, 20));
        assert.deepEqual(await readAll(await store.reader(d, { start: 1_500_000 })), data.subarray(1_500_000));
        assert.deepEqual(await readAll(await store.reader(d, { start: 100, end: data.length + 100 })), data.subarray(100));
        assert.deepEqual(await readAll(await store.reader(d, { start: data.length })), Buffer.alloc(0));
        await assert.rejects(store.reader(d, { start: data.length + 1 }), InvalidArgumentError);
        await assert.rejects(store.reader(d, { start: -1 }), InvalidArgumentError);
      }));

    it('deletes, and reports missing blobs as not found', () =>
      withStore(async (store) => {
        const { digest: d } = await store.put(testCtx(), Buffer.from('delete me'));
        await store.delete(d);
        assert.equal(await store.has(d), false);
        await assert.rejects(store.info(d), NotFoundError);
        await assert.rejects(store.reader(d), NotFoundError);
        await assert.rejects(store.readBlob(d), NotFoundError);
        await assert.rejects(store.delete(d), NotFoundError);
        // It can be stored again.
        await store.put(testCtx(), Buffer.from('delete me'));
        assert.equal(await store.has(d), true);
      }));

    it('lists committed blobs only', () =>
      withStore(async (store) => {
        const ds: Digest[] = [];
        for (let i = 0; i < 5; i++) ds.push((await store.put(testCtx(), Buffer.from(`blob ${i}`))).digest);
        ds.push((await store.ingest(testCtx(), Readable.from([Buffer.from('512')]), { digest: digestOf('512', 'sha512') })).digest);
        const w = await store.writer(testCtx(), 'pending');
        await write(w.stream(), Buffer.from('not committed'));
        assert.deepEqual(await collectList(store), ds.sort());
        const infos: { digest: Digest; size: number }[] = [];
        for await (const b of store.list()) infos.push({ digest: b.digest, size: b.size });
        assert.ok(infos.every((i) => i.size > 0));
        await w.abort();
      }));

    it('readBlob enforces its limit', () =>
      withStore(async (store) => {
        const data = randomBytes(4 * 1024 * 1024 + 1);
        const { digest: d } = await store.put(testCtx(), data);
        await assert.rejects(store.readBlob(d), InvalidArgumentError);
        await assert.rejects(store.readBlob(d, 100), InvalidArgumentError);
        assert.equal((await store.readBlob(d, data.length)).length, data.length);
        const small = await store.put(testCtx(), Buffer.from('tiny'));
        assert.deepEqual(await store.readBlob(small.digest, 4), Buffer.from('tiny'));
      }));

    it('rejects malformed digests and refs', () =>
      withStore(async (store) => {
        await assert.rejects(store.info('sha256:../../etc/passwd' as Digest), InvalidArgumentError);
        await assert.rejects(store.has('md5:abc' as Digest), InvalidArgumentError);
        await assert.rejects(store.writer(testCtx(), ''), InvalidArgumentError);
        await assert.rejects(store.ingest(testCtx(), Readable.from([Buffer.from('x')]), { size: -1 }), InvalidArgumentError);
      }));

    it('an empty blob is a valid blob', () =>
      withStore(async (store) => {
        const d = digestOf(Buffer.alloc(0));
        assert.deepEqual(await store.put(testCtx(), Buffer.alloc(0)), { digest: d, size: 0 });
        assert.deepEqual(await store.readBlob(d), Buffer.alloc(0));
      }));

    it('cleanIngests removes only stale ingests', () =>
      withStore(async (store) => {
        const w = await store.writer(testCtx(), 'stale');
        await write(w.stream(), Buffer.from('abc'));
        w.stream().destroy();
        await new Promise((r) => setImmediate(r));
        assert.equal(await store.cleanIngests(60_000), 0);
        assert.equal((await store.listIngests()).length, 1);
        await new Promise((r) => setTimeout(r, 20));
        assert.equal(await store.cleanIngests(0), 1);
        assert.deepEqual(await store.listIngests(), []);
      }));

    it('cancelling an ingest stores nothing', () =>
      withStore(async (store) => {
        const ac = new AbortController();
        async function* body(): AsyncIterable<Buffer> {
          yield randomBytes(1000);
          ac.abort();
          yield randomBytes(1000);
        }
        await assert.rejects(store.ingest(testCtx(ac.signal), body()), /cancel|abort/i);
        assert.deepEqual(await collectList(store), []);
        assert.deepEqual(await store.listIngests(), []);
      }));
  });
}
