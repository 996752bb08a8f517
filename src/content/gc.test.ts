import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { NotFoundError } from '../base/errors.js';
import type { Digest } from '../base/digest.js';
import { collect, ContentGc } from './gc.js';
import { LeaseManager } from './leases.js';
import { LocalContentStore } from './local.js';
import { testCtx } from './testsuite.js';

// root -> a -> b, orphan c -> d, leased l -> m
const graph: Record<string, string[]> = { root: ['a'], a: ['b'], b: [], c: ['d'], d: [], l: ['m'], m: [], e: [] };
const refs = async (n: string): Promise<string[]> => graph[n] ?? [];

describe('collect', () => {
  it('removes what is neither reachable nor leased, keeping children of leased nodes', async () => {
    const gone: string[] = [];
    const res = await collect({
      roots: ['root'],
      refs,
      candidates: Object.keys(graph),
      isLeased: (n) => n === 'l',
      remove: async (n) => {
        gone.push(n);
        return 10;
      },
    });
    assert.deepEqual(res.removed.sort(), ['c', 'd', 'e']);
    assert.deepEqual(gone.sort(), ['c', 'd', 'e']);
    assert.equal(res.bytesFreed, 30);
  });

  it('honours the grace period and unknown ages', async () => {
    const ages: Record<string, number | undefined> = { c: 5, d: 1000, e: undefined };
    const res = await collect({
      roots: ['root'],
      refs,
      candidates: (async function* () {
        yield* ['a', 'b', 'c', 'd', 'e'];
      })(),
      isLeased: () => false,
      remove: async () => {},
      minAgeMs: 100,
      ageOf: async (n) => ages[n],
    });
    assert.deepEqual(res.removed, ['d']);
    assert.equal(res.bytesFreed, undefined);
  });

  it('removes nothing when marking fails', async () => {
    let removed = 0;
    await assert.rejects(
      collect({
        roots: ['a'],
        refs: async (n) => {
          if (n === 'a') throw new Error('cannot parse manifest');
          return [];
        },
        candidates: ['a', 'b', 'c'],
        isLeased: () => false,
        remove: async () => {
          removed++;
        },
      }),
      /cannot parse/,
    );
    assert.equal(removed, 0);
  });

  it('tolerates nodes already gone and re-checks leases before removing', async () => {
    const leased = new Set<string>();
    const res = await collect({
      roots: [],
      refs,
      candidates: ['x', 'y', 'z'],
      isLeased: (n) => leased.has(n),
      minAgeMs: 1,
      ageOf: async (n) => {
        if (n === 'x') leased.add('y'); // a lease appears mid-sweep
        return 10;
      },
      remove: async (n) => {
        if (n === 'z') throw new NotFoundError('gone');
      },
    });
    assert.deepEqual(res.removed, ['x']);
  });
});

describe('ContentGc', () => {
  const roots: string[] = [];
  after(async () => {
    for (const r of roots) await rm(r, { recursive: true, force: true });
  });

  it('sweeps unreferenced, old, unleased blobs only', async () => {
    const root = await mkdtemp(join(tmpdir(), 'berth-gc-'));
    roots.push(root);
    const store = new LocalContentStore(root);
    await store.init();
    const leases = new LeaseManager();
    const put = async (s: string): Promise<Digest> => (await store.put(testCtx(), Buffer.from(s))).digest;
    const live = await put('live manifest');
    const child = await put('live layer');
    const dead = await put('dead layer!');
    const leased = await put('leased');
    const young = await put('young');
    const old = new Date(Date.now() - 3600_000);
    for (const d of [live, child, dead, leased]) await utimes(store.blobPath(d), old, old);
    await using lease = leases.create({ expiresInMs: 60_000 });
    lease.add(leased);
    const w = await store.writer(testCtx(), 'stale-ingest');
    await w.close();

    const gc = new ContentGc(store, { isLeased: (r) => leases.isLeased(r), gracePeriodMs: 60_000, ingestMaxAgeMs: 0 });
    const res = await gc.sweep([live], async (d) => (d === live ? [child] : []));
    assert.deepEqual(res.removed, [dead]);
    assert.equal(res.bytesFreed, 'dead layer!'.length);
    assert.equal(res.ingestsRemoved, 1);
    for (const d of [live, child, leased, young]) assert.equal(await store.has(d), true);
    assert.equal(await store.has(dead), false);

    // A dedup commit refreshes the mtime, so the grace period covers it again.
    await utimes(store.blobPath(child), old, old);
    await store.put(testCtx(), Buffer.from('live layer'));
    const res2 = await gc.sweep([]);
    assert.ok(!res2.removed.includes(child));
  });
});
