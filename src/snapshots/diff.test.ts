import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, link, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { digestOf } from '../base/digest.js';
import { Sys } from '../base/sys.js';
import { writeDiff } from './diff.js';
import { mountAll, unmountAll } from './mount.js';
import { OverlaySnapshotter } from './overlay.js';
import { TarReader, type TarHeader } from '../base/tar.js';
import { applyBuf, makeTar, testCtx } from './testsuite.js';
import { S_IFIFO } from './unpack.js';

const sys = new Sys();

/** Everything observable about a tree except directory times. */
async function describeTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const inodes = new Map<number, string>();
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const n of (await readdir(d)).sort()) {
      const p = join(d, n);
      const r = `${rel}${n}`;
      const st = await lstat(p);
      let line = `${r} mode=${st.mode.toString(8)} ${st.uid}:${st.gid}`;
      if (st.isFile()) {
        line += ` size=${st.size} sha=${createHash('sha256').update(await readFile(p)).digest('hex').slice(0, 12)} mtime=${Math.floor(st.mtimeMs / 1000)}`;
        if (st.nlink > 1) {
          const first = inodes.get(st.ino);
          if (first !== undefined) line += ` linkto=${first}`;
          else inodes.set(st.ino, r);
        }
      }
      if (st.isSymbolicLink()) line += ` -> ${await readlink(p)}`;
      if (st.isCharacterDevice() || st.isBlockDevice()) line += ` rdev=${st.rdev}`;
      const cap = sys.lgetxattr(p, 'security.capability');
      if (cap !== undefined) line += ` cap=${cap.toString('hex')}`;
      out.push(line);
      if (st.isDirectory()) await walk(p, `${r}/`);
    }
  };
  await walk(dir, '');
  return out;
}

async function collect(fn: (out: PassThrough) => Promise<void>): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (b: Buffer) => chunks.push(b));
  const ended = new Promise((r) => out.on('end', r));
  await fn(out);
  await ended;
  return Buffer.concat(chunks);
}

async function headers(tar: Buffer): Promise<TarHeader[]> {
  const r = new TarReader(Readable.from([tar]), { maxEntrySize: 1 << 30 });
  const hs: TarHeader[] = [];
  for (let h = await r.next(); h !== undefined; h = await r.next()) hs.push(h);
  return hs;
}

describe('writeDiff roundtrip through overlay', () => {
  let root: string;
  let mnt: string;
  let sn: OverlaySnapshotter;
  const mounted = new Set<string>();
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-diff-'));
    mnt = await mkdtemp(join(tmpdir(), 'berth-diff-mnt-'));
    sn = new OverlaySnapshotter(sys, root);
    await sn.init();
  });
  after(async () => {
    for (const m of mounted) unmountAll(sys, m);
    await rm(mnt, { recursive: true, force: true });
    await rm(root, { recursive: true, force: true });
  });
  const mountAt = async (key: string, name: string): Promise<string> => {
    const d = join(mnt, name);
    await mkdir(d, { recursive: true });
    mountAll(sys, await sn.mounts(key), d);
    mounted.add(d);
    return d;
  };
  const unmount = (d: string): void => {
    unmountAll(sys, d);
    mounted.delete(d);
  };

  it('a container change, written as a diff and applied as a layer, gives the same view', async () => {
    const l1 = await applyBuf(
      sn,
      undefined,
      await makeTar([
        { name: 'etc/', type: 'directory' },
        { name: 'etc/passwd', body: 'root:x:0:0\n' },
        { name: 'etc/group', body: 'root:x:0:\n' },
        { name: 'var/', type: 'directory' },
        { name: 'var/cache/', type: 'directory' },
        { name: 'var/cache/old/', type: 'directory' },
        { name: 'var/cache/old/y', body: 'y' },
        { name: 'var/cache/z', body: 'z' },
        { name: 'usr/bin/tool', body: 'tool', mode: 0o755 },
        { name: 'data/keep', body: 'keep', uid: 1000, gid: 1000 },
      ]),
    );
    await sn.prepare(testCtx(), 'c', l1);
    const c = await mountAt('c', 'c');
    let expected: string[];
    try {
      await rm(join(c, 'etc/group'));
      await rm(join(c, 'var/cache'), { recursive: true });
      await mkdir(join(c, 'var/cache'));
      await writeFile(join(c, 'var/cache/fresh'), 'fresh');
      await chmod(join(c, 'usr/bin/tool'), 0o4711);
      await writeFile(join(c, 'etc/passwd'), 'root:x:0:0\nu:x:1000:1000\n');
      await writeFile(join(c, 'h1'), 'linked');
      await link(join(c, 'h1'), join(c, 'h2'));
      await symlink('../etc/passwd', join(c, 'usr/pw'));
      sys.mknod(join(c, 'fifo'), S_IFIFO | 0o644);
      await writeFile(join(c, 'capped'), 'cap');
      sys.lsetxattr(join(c, 'capped'), 'security.capability', Buffer.from('0100000200200000000000000000000000000000', 'hex'));
      await mkdir(join(c, 'newdir/sub'), { recursive: true });
      await writeFile(join(c, `newdir/sub/${'n'.repeat(150)}`), 'long name');
      expected = await describeTree(c);
    } finally {
      unmount(c);
    }

    const tar = await collect((out) => writeDiff(sys, sn.upperDir('c'), out));
    const names = (await headers(tar)).map((h) => h.name);
    assert.ok(names.includes('etc/.wh.group'), names.join(' '));
    assert.ok(names.includes('var/cache/.wh..wh..opq'), names.join(' '));
    assert.ok(!names.includes('etc/group'));
    const hs = await headers(tar);
    assert.equal(hs.find((h) => h.name === 'h2')?.type, 'link');

    const tar2 = await collect((out) => writeDiff(sys, sn.upperDir('c'), out));
    assert.ok(tar.equals(tar2), 'deterministic');

    const l2 = await applyBuf(sn, l1, tar);
    const v = await mountAt(l2, 'view');
    try {
      assert.deepEqual(await describeTree(v), expected);
    } finally {
      unmount(v);
    }
    await sn.remove('c');
    await sn.remove(l2);
    await sn.remove(l1);
  });

  it('clamps mtimes to sourceDateEpoch', async () => {
    const up = join(root, 'clamp');
    await mkdir(join(up, 'd'), { recursive: true });
    await writeFile(join(up, 'd/f'), 'x');
    const tar = await collect((out) => writeDiff(sys, up, out, { sourceDateEpoch: 1000 }));
    const hs = await headers(tar);
    assert.deepEqual(
      hs.map((h) => [h.name, h.mtime]),
      [
        ['d/', 1000],
        ['d/f', 1000],
      ],
    );
    assert.equal(digestOf(tar), digestOf(await collect((out) => writeDiff(sys, up, out, { sourceDateEpoch: 1000 }))));
  });
});
