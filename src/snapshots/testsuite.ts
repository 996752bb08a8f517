/**
 * A conformance suite for Snapshotter implementations (as containerd's
 * snapshots/testsuite): every implementation must pass it through real
 * mounts. Also the small tar-building helpers the snapshot tests share.
 *
 * Usage in a *.test.ts: `snapshotterConformance('overlay', async () => ({ ... }))`.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import * as tarStream from 'tar-stream';
import type { Ctx } from '../base/ctx.js';
import { digestOf, type Digest } from '../base/digest.js';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../base/errors.js';
import { silentLogger } from '../base/log.js';
import type { Sys } from '../base/sys.js';
import { mountAll, unmountAll } from './mount.js';
import type { Snapshotter } from './types.js';


export function testCtx(): Ctx {
  return { signal: new AbortController().signal, log: silentLogger };
}

export type TestEntry = Partial<tarStream.Header> & { name: string; body?: string | Buffer };

/** Builds a tar in memory with tar-stream (names exactly as given: hostile ones too). */
export async function makeTar(entries: readonly TestEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    const { body, ...h } = e;
    const header: Partial<tarStream.Header> & { name: string } = { mode: h.type === 'directory' ? 0o755 : 0o644, mtime: new Date(1_600_000_000_000), ...h };
    await new Promise<void>((resolve, reject) => {
      pack.entry(header, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** The OCI chain ID of `diffId` over `parent`. */
export function chainIdOf(parent: Digest | undefined, diffId: Digest): Digest {
  return parent === undefined ? diffId : digestOf(`${parent} ${diffId}`);
}

export function streamOf(buf: Buffer, chunk = 64 * 1024): Readable {
  // Small chunks make entries straddle reads, as a network stream would.
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) parts.push(buf.subarray(i, i + chunk));
  return Readable.from(parts);
}

/** Applies a layer tar over `parent`; returns its chain ID. */
export async function applyBuf(sn: Snapshotter, parent: Digest | undefined, tar: Buffer): Promise<Digest> {
  const diffId = digestOf(tar);
  const chainId = chainIdOf(parent, diffId);
  await sn.applyLayer(testCtx(), chainId, parent, diffId, streamOf(tar));
  return chainId;
}

/** Names in a directory, sorted. */
export async function ls(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

export interface ConformanceFixture {
  sn: Snapshotter;
  sys: Sys;
  cleanup(): Promise<void>;
}

export function snapshotterConformance(name: string, make: () => Promise<ConformanceFixture>): void {
  describe(`snapshotter conformance: ${name}`, () => {
    let fx: ConformanceFixture;
    let mnt: string;
    const mounted: string[] = [];
    before(async () => {
      fx = await make();
      mnt = await mkdtemp(join(tmpdir(), 'berth-conf-mnt-'));
    });
    after(async () => {
      for (const m of mounted) {
        try {
          unmountAll(fx.sys, m);
        } catch {
          // keep cleaning
        }
      }
      await rm(mnt, { recursive: true, force: true });
      await fx.cleanup();
    });
    const mountAt = async (dir: string, key: string): Promise<void> => {
      await mkdir(dir, { recursive: true });
      mountAll(fx.sys, await fx.sn.mounts(key), dir);
      mounted.push(dir);
    };
    const unmount = (dir: string): void => {
      unmountAll(fx.sys, dir);
      mounted.splice(mounted.indexOf(dir), 1);
    };

    let l1: Digest;
    let l2: Digest;

    it('applies a base layer and reports it', async () => {
      const tar = await makeTar([
        { name: 'etc/', type: 'directory' },
        { name: 'etc/hostname', body: 'base\n' },
        { name: 'etc/gone', body: 'delete me\n' },
        { name: 'opaque/', type: 'directory' },
        { name: 'opaque/old1', body: 'old' },
        { name: 'opaque/sub/', type: 'directory' },
        { name: 'opaque/sub/old2', body: 'old' },
        { name: 'keep/', type: 'directory' },
        { name: 'keep/a', body: 'a' },
        { name: 'bin/', type: 'directory' },
        { name: 'bin/sh', body: '#!', mode: 0o755 },
        { name: 'bin/ash', type: 'link', linkname: 'bin/sh' },
        { name: 'bin/link', type: 'symlink', linkname: '/bin/sh' },
      ]);
      l1 = await applyBuf(fx.sn, undefined, tar);
      const info = await fx.sn.stat(l1);
      assert.equal(info?.kind, 'committed');
      assert.equal(info?.parent, undefined);
      assert.ok((await fx.sn.list()).some((s) => s.key === l1));
      assert.ok((await fx.sn.usage(l1)) > 0);
    });

    it('applies the same chain ID again without changing it (idempotent, stream drained)', async () => {
      const before = await fx.sn.stat(l1);
      const tar = await makeTar([{ name: 'whatever', body: 'ignored' }]);
      const s = streamOf(tar);
      // A different tar under an existing chain ID is not even read: the ID names the content.
      await fx.sn.applyLayer(testCtx(), l1, undefined, l1, s);
      assert.equal(s.readableEnded, true);
      assert.deepEqual(await fx.sn.stat(l1), before);
    });

    it('applies a layer with a whiteout and an opaque directory', async () => {
      const tar = await makeTar([
        { name: 'etc/', type: 'directory' },
        { name: 'etc/.wh.gone' },
        { name: 'etc/hostname', body: 'layer2\n' },
        { name: 'opaque/', type: 'directory' },
        { name: 'opaque/.wh..wh..opq' },
        { name: 'opaque/new', body: 'new' },
      ]);
      l2 = await applyBuf(fx.sn, l1, tar);
      assert.equal((await fx.sn.stat(l2))?.parent, l1);
    });

    it('refuses a layer whose diff ID does not match, leaving nothing', async () => {
      const listBefore = (await fx.sn.list()).map((s) => s.key).sort();
      const tar = await makeTar([{ name: 'x', body: 'x' }]);
      const wrong = digestOf('not this');
      const chainId = chainIdOf(l2, wrong);
      await assert.rejects(fx.sn.applyLayer(testCtx(), chainId, l2, wrong, streamOf(tar)), InvalidArgumentError);
      assert.equal(await fx.sn.stat(chainId), undefined);
      assert.deepEqual((await fx.sn.list()).map((s) => s.key).sort(), listBefore);
    });

    it('refuses a layer over a missing parent', async () => {
      const tar = await makeTar([{ name: 'x', body: 'x' }]);
      const missing = digestOf('no such parent');
      await assert.rejects(applyBuf(fx.sn, missing, tar), NotFoundError);
    });

    it('prepares a container snapshot whose mount shows the merged view', async () => {
      const key = 'container-1';
      const mounts = await fx.sn.prepare(testCtx(), key, l2);
      assert.ok(mounts.length >= 1);
      assert.equal((await fx.sn.stat(key))?.kind, 'active');
      const dir = join(mnt, 'c1');
      await mountAt(dir, key);
      try {
        assert.equal(await readFile(join(dir, 'etc/hostname'), 'utf8'), 'layer2\n');
        await assert.rejects(lstat(join(dir, 'etc/gone')), { code: 'ENOENT' });
        assert.deepEqual(await ls(join(dir, 'opaque')), ['new']);
        assert.deepEqual(await ls(join(dir, 'keep')), ['a']);
        assert.equal(await readFile(join(dir, 'bin/ash'), 'utf8'), '#!');
        assert.equal((await lstat(join(dir, 'bin/link'))).isSymbolicLink(), true);
        // Whiteout markers never show through.
        assert.deepEqual(await ls(join(dir, 'etc')), ['hostname']);
        await writeFile(join(dir, 'etc/written'), 'by container');
        await rm(join(dir, 'keep/a'));
      } finally {
        unmount(dir);
      }
      const upper = fx.sn.upperDir(key);
      assert.equal(await readFile(join(upper, 'etc/written'), 'utf8'), 'by container');
      const wh = await lstat(join(upper, 'keep/a'));
      assert.equal(wh.isCharacterDevice() && wh.rdev === 0, true, 'deletion recorded as an overlay whiteout');
      // Committed layers are untouched by container writes.
      const ro = join(mnt, 'ro');
      await mountAt(ro, l1);
      try {
        assert.deepEqual(await ls(join(ro, 'keep')), ['a']);
        await assert.rejects(writeFile(join(ro, 'etc/x'), 'x'), { code: 'EROFS' });
      } finally {
        unmount(ro);
      }
    });

    it('gives a read-only merged view of a committed chain', async () => {
      const dir = join(mnt, 'view');
      await mountAt(dir, l2);
      try {
        assert.equal(await readFile(join(dir, 'etc/hostname'), 'utf8'), 'layer2\n');
        assert.deepEqual(await ls(join(dir, 'opaque')), ['new']);
        await assert.rejects(writeFile(join(dir, 'etc/x'), 'x'), { code: 'EROFS' });
      } finally {
        unmount(dir);
      }
    });

    it('prepares a snapshot with no parent (an empty rootfs)', async () => {
      const key = 'scratch-1';
      await fx.sn.prepare(testCtx(), key, undefined);
      const dir = join(mnt, 'scratch');
      await mountAt(dir, key);
      try {
        assert.deepEqual(await ls(dir), []);
        await writeFile(join(dir, 'f'), 'x');
      } finally {
        unmount(dir);
      }
      assert.equal(await readFile(join(fx.sn.upperDir(key), 'f'), 'utf8'), 'x');
      await fx.sn.remove(key);
      assert.equal(await fx.sn.stat(key), undefined);
    });

    it('refuses to prepare an existing key', async () => {
      await assert.rejects(fx.sn.prepare(testCtx(), 'container-1', l2), ConflictError);
    });

    it('refuses to remove a snapshot with children, then removes bottom-up', async () => {
      await assert.rejects(fx.sn.remove(l1), ConflictError);
      await assert.rejects(fx.sn.remove(l2), ConflictError);
      await fx.sn.remove('container-1');
      await fx.sn.remove(l2);
      await fx.sn.remove(l1);
      assert.deepEqual(await fx.sn.list(), []);
      await assert.rejects(fx.sn.remove(l1), NotFoundError);
      await assert.rejects(fx.sn.mounts(l1), NotFoundError);
    });

    it('serialises concurrent applies of the same chain ID', async () => {
      const tar = await makeTar([{ name: 'f', body: Buffer.alloc(300_000, 7) }]);
      const diffId = digestOf(tar);
      const rs = await Promise.all([1, 2, 3].map(() => fx.sn.applyLayer(testCtx(), diffId, undefined, diffId, streamOf(tar))));
      for (const r of rs) assert.equal(r.size, 300_000);
      assert.equal((await fx.sn.list()).filter((s) => s.key === diffId).length, 1);
      await fx.sn.remove(diffId);
    });
  });
}
