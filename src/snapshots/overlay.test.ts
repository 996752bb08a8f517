import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { digestOf, type Digest } from '../base/digest.js';
import { InvalidArgumentError } from '../base/errors.js';
import { Sys } from '../base/sys.js';
import { mountAll, unmountAll } from './mount.js';
import { OverlaySnapshotter } from './overlay.js';
import { applyBuf, chainIdOf, makeTar, snapshotterConformance, streamOf, testCtx } from './testsuite.js';

snapshotterConformance('overlay', async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-ovl-'));
  const sys = new Sys();
  const sn = new OverlaySnapshotter(sys, root);
  await sn.init();
  return { sn, sys, cleanup: () => rm(root, { recursive: true, force: true }) };
});

describe('overlay snapshotter specifics', () => {
  const sys = new Sys();
  let root: string;
  let sn: OverlaySnapshotter;
  let mnt: string;
  let mounted = false;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-ovl2-'));
    mnt = await mkdtemp(join(tmpdir(), 'berth-ovl2-mnt-'));
    sn = new OverlaySnapshotter(sys, root);
    await sn.init();
  });
  after(async () => {
    if (mounted) unmountAll(sys, mnt);
    await rm(mnt, { recursive: true, force: true });
    await rm(root, { recursive: true, force: true });
  });

  it('lays out snapshots with short links and atomic metadata', async () => {
    const tar = await makeTar([{ name: 'a', body: 'a' }]);
    const id = await applyBuf(sn, undefined, tar);
    assert.match((await sn.linkOf(id)) ?? '', /^\.\.\/snapshots\/[0-9a-f]{64}\/fs$/);
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    const snaps = await readdir(join(root, 'snapshots'));
    assert.equal(snaps.length, 1);
    const meta = JSON.parse(await readFile(join(root, 'snapshots', snaps[0]!, 'meta.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(meta['kind'], 'committed');
    assert.equal(meta['key'], id);
    await sn.remove(id);
  });

  it('crashCleanup removes half-made snapshots and dangling links', async () => {
    await mkdir(join(root, 'tmp', 'deadbeef', 'fs'), { recursive: true });
    await writeFile(join(root, 'tmp', 'deadbeef', 'fs', 'junk'), 'x');
    await symlink('../snapshots/nope/fs', join(root, 'l', 'dangling'));
    await sn.crashCleanup();
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    assert.deepEqual(await readdir(join(root, 'l')), []);
  });

  it('a hostile layer leaves the store unchanged', async () => {
    const base = await applyBuf(sn, undefined, await makeTar([{ name: 'ok', body: 'ok' }]));
    const list = async (): Promise<string[]> => (await sn.list()).map((s) => s.key).sort();
    const linksBefore = (await readdir(join(root, 'l'))).sort();
    const snapsBefore = await list();
    const tar = await makeTar([
      { name: 'fine', body: 'fine' },
      { name: 's', type: 'symlink', linkname: '/tmp' },
      { name: 's/evil', body: 'evil' },
    ]);
    const diffId = digestOf(tar);
    await assert.rejects(sn.applyLayer(testCtx(), chainIdOf(base, diffId), base, diffId, streamOf(tar)), InvalidArgumentError);
    assert.deepEqual(await list(), snapsBefore);
    assert.deepEqual((await readdir(join(root, 'l'))).sort(), linksBefore);
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    await sn.remove(base);
  });

  it('stages a layer before its place is known, then commits or discards it', async () => {
    const base = await applyBuf(sn, undefined, await makeTar([{ name: 'b', body: 'b' }]));
    const tar = await makeTar([{ name: 'x', body: 'xyz' }, { name: 'l', type: 'symlink', linkname: 'x' }]);
    const diffId = digestOf(tar);
    const staged = await sn.stage(testCtx(), streamOf(tar));
    assert.equal(staged.size, 3 + 1);
    assert.equal((await readdir(join(root, 'tmp'))).length, 1);
    const chainId = chainIdOf(base, diffId);
    assert.deepEqual(await sn.commitStaged(testCtx(), staged, chainId, base, { diffId }), { size: 4 });
    assert.equal((await sn.stat(chainId))?.parent, base);
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    // A handle is used once.
    await assert.rejects(sn.commitStaged(testCtx(), staged, chainIdOf(undefined, diffId), undefined, { diffId }));
    // The chain ID exists: a second staged copy is discarded, the existing size returned.
    const again = await sn.stage(testCtx(), streamOf(tar));
    assert.deepEqual(await sn.commitStaged(testCtx(), again, chainId, base, { diffId }), { size: 4 });
    const dropped = await sn.stage(testCtx(), streamOf(tar));
    await sn.abortStaged(dropped);
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    const hostile = await makeTar([{ name: 's', type: 'symlink', linkname: '/tmp' }, { name: 's/evil', body: 'evil' }]);
    await assert.rejects(sn.stage(testCtx(), streamOf(hostile)), InvalidArgumentError);
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    await sn.remove(chainId);
    await sn.remove(base);
  });

  it('applyLayer with verifiedDiffId unpacks without hashing (the caller vouches)', async () => {
    const tar = await makeTar([{ name: 'v', body: 'v' }]);
    const claimed = digestOf('not the tar');
    const { size } = await sn.applyLayer(testCtx(), claimed, undefined, claimed, streamOf(tar), { verifiedDiffId: true });
    assert.equal(size, 1);
    await assert.rejects(sn.applyLayer(testCtx(), digestOf('other'), undefined, claimed, streamOf(tar)), InvalidArgumentError);
    await sn.remove(claimed);
  });

  it('mounts a deep chain (100 layers) within the option size limit', async () => {
    let parent: Digest | undefined;
    const ids: Digest[] = [];
    for (let i = 0; i < 100; i++) {
      parent = await applyBuf(sn, parent, await makeTar([{ name: `f${i}`, body: String(i) }]));
      ids.push(parent);
    }
    await sn.prepare(testCtx(), 'deep', parent);
    mountAll(sys, await sn.mounts('deep'), mnt);
    mounted = true;
    try {
      assert.equal((await readdir(mnt)).length, 100);
      assert.equal(await readFile(join(mnt, 'f0'), 'utf8'), '0');
      assert.equal(await readFile(join(mnt, 'f99'), 'utf8'), '99');
    } finally {
      unmountAll(sys, mnt);
      mounted = false;
    }
    await sn.remove('deep');
    for (const id of ids.reverse()) await sn.remove(id);
  });
});
