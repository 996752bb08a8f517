import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';
import { InvalidArgumentError } from '../base/errors.js';
import { Sys } from '../base/sys.js';
import { encodeHeader, tarPadding, tarTrailer } from '../base/tar.js';
import { makeTar, streamOf, type TestEntry } from './testsuite.js';
import { applyTar, cleanEntryName, dockerDirSize } from './unpack.js';

const sys = new Sys();

/** A full listing (path, type, size, mode) to prove a directory was not touched. */
async function snapshotTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const n of (await readdir(d)).sort()) {
      const st = await lstat(join(d, n));
      out.push(`${rel}${n} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs}`);
      if (st.isDirectory()) await walk(join(d, n), `${rel}${n}/`);
    }
  };
  await walk(dir, '');
  return out;
}

describe('cleanEntryName', () => {
  it('normalises and refuses breakouts', () => {
    assert.equal(cleanEntryName('./a/b/'), 'a/b');
    assert.equal(cleanEntryName('/abs/x'), 'abs/x');
    assert.equal(cleanEntryName('a/./b/../c'), 'a/c');
    assert.equal(cleanEntryName('./'), '');
    assert.throws(() => cleanEntryName('../x'), InvalidArgumentError);
    assert.throws(() => cleanEntryName('a/../../x'), InvalidArgumentError);
    assert.throws(() => cleanEntryName('a\0b'), InvalidArgumentError);
  });
});

describe('applyTar', () => {
  let base: string;
  let layer: string;
  let sentinel: string;
  let sentinelBefore: string[];
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'berth-unpack-'));
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await rm(join(base, 'layer'), { recursive: true, force: true });
    await rm(join(base, 'outside'), { recursive: true, force: true });
    layer = join(base, 'layer', 'root');
    sentinel = join(base, 'outside');
    await mkdir(layer, { recursive: true });
    await mkdir(join(sentinel, 'dir'), { recursive: true });
    await writeFile(join(sentinel, 'x'), 'precious');
    await writeFile(join(sentinel, 'dir', 'f'), 'precious');
    sentinelBefore = await snapshotTree(base);
  });

  const apply = (tar: Buffer, opts = {}): Promise<{ size: number }> => applyTar(sys, layer, streamOf(tar, 1000), opts);

  async function assertRefused(entries: TestEntry[], re: RegExp): Promise<void> {
    const tar = await makeTar(entries);
    await assert.rejects(apply(tar), (e: unknown) => {
      assert.ok(e instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(e)}`);
      assert.match(e.message, re);
      return true;
    });
    // Nothing outside the layer dir appeared or changed (the layer dir itself is the caller's to discard).
    const now = (await snapshotTree(base)).filter((l) => !l.startsWith('layer/root'));
    assert.deepEqual(now, sentinelBefore.filter((l) => !l.startsWith('layer/root')));
  }

  it('fileDigests: the sha256 of each regular file as written; a later entry of another kind drops the name', async () => {
    const { createHash } = await import('node:crypto');
    const big = Buffer.alloc(3 * 1024 * 1024 + 7, 7); // past the buffered small-file path
    const digests = new Map<string, string>();
    const tar = await makeTar([
      { name: 'a.txt', body: 'alpha' },
      { name: 'd/', type: 'directory' },
      { name: 'd/big', body: big },
      { name: 'gone', body: 'x' },
      { name: 'gone', type: 'symlink', linkname: 'a.txt' },
    ]);
    await applyTar(sys, layer, streamOf(tar), { fileDigests: digests });
    const sha = (b: string | Buffer): string => createHash('sha256').update(b).digest('hex');
    assert.deepEqual(Object.fromEntries(digests), { 'a.txt': sha('alpha'), 'd/big': sha(big) });
    assert.equal(sha(await readFile(join(layer, 'd', 'big'))), sha(big));
  });

  it('keepFile: a kept file is left as it is, others are written again (a symlink in the way is replaced, never followed)', async () => {
    const { createHash } = await import('node:crypto');
    const { symlink } = await import('node:fs/promises');
    const sha = (b: string): string => createHash('sha256').update(b).digest('hex');
    await applyTar(sys, layer, streamOf(await makeTar([{ name: 'a.txt', body: 'one' }, { name: 'b.txt', body: 'two' }])));
    await symlink(join(sentinel, 'x'), join(layer, 'c'));
    const inoA = (await lstat(join(layer, 'a.txt'))).ino;
    const digests = new Map<string, string>();
    const asked: string[] = [];
    // the caller compares the bytes and vouches for the digest it returns
    const keepFile = (rel: string, _h: unknown, data: readonly Buffer[]): string | undefined => {
      asked.push(rel);
      return rel === 'a.txt' && Buffer.concat(data).toString() === 'one' ? sha('one') : undefined;
    };
    const tar = await makeTar([{ name: 'a.txt', body: 'one' }, { name: 'b.txt', body: 'TWO' }, { name: 'c', body: 'see' }]);
    await applyTar(sys, layer, streamOf(tar), { fileDigests: digests, keepFile, countSize: false });
    assert.deepEqual(asked.sort(), ['a.txt', 'b.txt', 'c']);
    assert.equal((await lstat(join(layer, 'a.txt'))).ino, inoA);
    assert.equal(await readFile(join(layer, 'b.txt'), 'utf8'), 'TWO');
    assert.ok((await lstat(join(layer, 'c'))).isFile());
    assert.equal(await readFile(join(layer, 'c'), 'utf8'), 'see');
    assert.equal(await readFile(join(sentinel, 'x'), 'utf8'), 'precious');
    assert.deepEqual(Object.fromEntries(digests), { 'a.txt': sha('one'), 'b.txt': sha('TWO'), c: sha('see') });
  });

  // The layer lives at <base>/layer/root, so "../../outside/x" would hit the sentinel.
  it('refuses ../evil', () => assertRefused([{ name: '../evil', body: 'x' }], /outside the layer/));
  it('refuses a/../../evil', () => assertRefused([{ name: 'a/', type: 'directory' }, { name: 'a/../../evil', body: 'x' }], /outside the layer/));
  it('refuses ../../outside/x (overwrite attempt)', () => assertRefused([{ name: '../../outside/x', body: 'pwned' }], /outside the layer/));
  it('refuses writing through a symlink to outside', () =>
    assertRefused(
      [
        { name: 's', type: 'symlink', linkname: sentinel },
        { name: 's/evil', body: 'x' },
      ],
      /symlink/,
    ));
  it('refuses writing through a relative symlink that climbs out', () =>
    assertRefused(
      [
        { name: 'd/', type: 'directory' },
        { name: 'd/s', type: 'symlink', linkname: '../../../outside/dir' },
        { name: 'd/s/f', body: 'pwned' },
      ],
      /symlink/,
    ));
  it('refuses a hardlink to /etc/passwd (confined: not in the layer)', () =>
    assertRefused([{ name: 'pw', type: 'link', linkname: '/etc/passwd' }], /not found in the layer/));
  it('refuses a hardlink to ../../x', () => assertRefused([{ name: 'h', type: 'link', linkname: '../../outside/x' }], /outside the layer/));
  it('refuses a hardlink through a symlink to a directory outside', () =>
    assertRefused(
      [
        { name: 'out', type: 'symlink', linkname: sentinel },
        { name: 'h', type: 'link', linkname: 'out/x' },
      ],
      /symlink/,
    ));
  it('refuses a hardlink to a directory', () =>
    assertRefused([{ name: 'd/', type: 'directory' }, { name: 'h', type: 'link', linkname: 'd' }], /not a regular file/));
  it('refuses a whiteout through a symlink', () =>
    assertRefused(
      [
        { name: 's', type: 'symlink', linkname: sentinel },
        { name: 's/.wh.x' },
      ],
      /symlink/,
    ));
  it('refuses an opaque marker through a symlink', () =>
    assertRefused(
      [
        { name: 's', type: 'symlink', linkname: join(sentinel, 'dir') },
        { name: 's/.wh..wh..opq' },
      ],
      /symlink/,
    ));
  it('refuses a device node through a symlink', () =>
    assertRefused(
      [
        { name: 's', type: 'symlink', linkname: sentinel },
        { name: 's/null', type: 'character-device', devmajor: 1, devminor: 3 },
      ],
      /symlink/,
    ));

  it('confines an absolute name inside the layer', async () => {
    await apply(await makeTar([{ name: '/abs/evil', body: 'x' }]));
    assert.equal(await readFile(join(layer, 'abs/evil'), 'utf8'), 'x');
    await assert.rejects(stat('/abs/evil'), { code: 'ENOENT' });
  });

  it('replaces a symlink entry by a file without following it', async () => {
    await apply(
      await makeTar([
        { name: 'x', type: 'symlink', linkname: join(sentinel, 'x') },
        { name: 'x', body: 'mine' },
      ]),
    );
    assert.equal(await readFile(join(layer, 'x'), 'utf8'), 'mine');
    assert.equal(await readFile(join(sentinel, 'x'), 'utf8'), 'precious');
  });

  it('refuses a truncated tar (header says 1 MB, stream ends)', async () => {
    const tar = await makeTar([{ name: 'big', body: Buffer.alloc(1024 * 1024, 1) }]);
    await assert.rejects(apply(tar.subarray(0, 512 + 4096)), /unexpected EOF/);
    await assert.rejects(apply(tar.subarray(0, 300)), /unexpected EOF/);
  });

  it('refuses a corrupt header', async () => {
    const tar = Buffer.from(await makeTar([{ name: 'a', body: 'a' }]));
    tar[10] = 0x41;
    await assert.rejects(apply(tar), (e: unknown) => e instanceof InvalidArgumentError && /invalid tar header/.test(e.message));
  });

  it('refuses an entry above the size limit', async () => {
    const tar = await makeTar([{ name: 'big', body: Buffer.alloc(10_000) }]);
    await assert.rejects(apply(tar, { maxEntrySize: 4096 }), /more than the limit/);
  });

  it('refuses a stream that fails', async () => {
    const src = new Readable({
      read() {
        this.destroy(new Error('socket hang up'));
      },
    });
    await assert.rejects(applyTar(sys, layer, src), /socket hang up/);
  });

  it('keeps devices, setuid, ownership, capabilities, times, links', async () => {
    const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex'); // cap_net_raw+ep v2, with a byte >= 0x80 below
    cap[4] = 0x80;
    const parts: Buffer[] = [];
    const add = (h: Parameters<typeof encodeHeader>[0], body?: Buffer): void => {
      parts.push(...encodeHeader(h));
      if (body) parts.push(body, tarPadding(body.length));
    };
    add({ name: 'dev/', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 1_500_000_000 });
    add({ name: 'dev/null', type: 'char', mode: 0o666, uid: 0, gid: 0, size: 0, mtime: 1_500_000_000, devmajor: 1, devminor: 3 });
    add({ name: 'dev/sda', type: 'block', mode: 0o660, uid: 0, gid: 6, size: 0, mtime: 1_500_000_000, devmajor: 8, devminor: 0 });
    add({ name: 'dev/fifo', type: 'fifo', mode: 0o600, uid: 0, gid: 0, size: 0, mtime: 1_500_000_000 });
    add({ name: 'bin/su', type: 'file', mode: 0o4755, uid: 0, gid: 0, size: 3, mtime: 1_500_000_001 }, Buffer.from('su!'));
    add({ name: 'bin/ping', type: 'file', mode: 0o755, uid: 0, gid: 0, size: 4, mtime: 1_500_000_002, xattrs: new Map([['security.capability', cap]]) }, Buffer.from('ping'));
    add({ name: 'home/u/', type: 'dir', mode: 0o2750, uid: 1000, gid: 1000, size: 0, mtime: 1_500_000_003 });
    add({ name: 'home/u/f', type: 'file', mode: 0o640, uid: 1000, gid: 1000, size: 1, mtime: 1_500_000_004 }, Buffer.from('f'));
    add({ name: 'tmp/', type: 'dir', mode: 0o1777, uid: 0, gid: 0, size: 0, mtime: 1_500_000_005 });
    add({ name: 'bin/ln', type: 'link', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0, linkname: 'bin/ping' });
    add({ name: 'bin/sl', type: 'symlink', mode: 0o777, uid: 1000, gid: 1000, size: 0, mtime: 1_500_000_006, linkname: '/nonexistent/target' });
    const long = `${'d'.repeat(120)}/${'f'.repeat(200)}`;
    add({ name: long, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 2, mtime: 0 }, Buffer.from('ok'));
    parts.push(tarTrailer());
    const { size } = await apply(Buffer.concat(parts));
    // Docker's rule: file bytes plus symlink target lengths, the hardlink once.
    assert.equal(size, 3 + 4 + 1 + 2 + '/nonexistent/target'.length);
    assert.equal(size, await dockerDirSize(layer));

    const nul = await lstat(join(layer, 'dev/null'));
    assert.ok(nul.isCharacterDevice());
    assert.equal(nul.rdev, (1 << 8) | 3);
    assert.equal(nul.mode & 0o7777, 0o666);
    const sda = await lstat(join(layer, 'dev/sda'));
    assert.ok(sda.isBlockDevice());
    assert.equal(sda.gid, 6);
    assert.ok((await lstat(join(layer, 'dev/fifo'))).isFIFO());
    const su = await lstat(join(layer, 'bin/su'));
    assert.equal(su.mode & 0o7777, 0o4755);
    assert.equal(su.mtimeMs, 1_500_000_001_000);
    assert.deepEqual(sys.lgetxattr(join(layer, 'bin/ping'), 'security.capability'), cap);
    const hu = await lstat(join(layer, 'home/u'));
    assert.equal(hu.mode & 0o7777, 0o2750);
    assert.equal(hu.uid, 1000);
    assert.equal(hu.gid, 1000);
    assert.equal(hu.mtimeMs, 1_500_000_003_000);
    const f = await lstat(join(layer, 'home/u/f'));
    assert.equal(f.uid, 1000);
    assert.equal(f.gid, 1000);
    assert.equal((await lstat(join(layer, 'tmp'))).mode & 0o7777, 0o1777);
    assert.equal((await lstat(join(layer, 'bin/ln'))).ino, (await lstat(join(layer, 'bin/ping'))).ino);
    const sl = await lstat(join(layer, 'bin/sl'));
    assert.ok(sl.isSymbolicLink());
    assert.equal(sl.uid, 1000);
    assert.equal(await readlink(join(layer, 'bin/sl')), '/nonexistent/target');
    assert.equal(await readFile(join(layer, long), 'utf8'), 'ok');
  });

  it('converts whiteouts to overlay form', async () => {
    await apply(
      await makeTar([
        { name: 'etc/', type: 'directory' },
        { name: 'etc/.wh.passwd' },
        { name: 'var/', type: 'directory' },
        { name: 'var/.wh..wh..opq' },
        { name: 'var/new', body: 'n' },
        { name: '.wh..wh.plnk/', type: 'directory' },
      ]),
    );
    const wh = await lstat(join(layer, 'etc/passwd'));
    assert.ok(wh.isCharacterDevice());
    assert.equal(wh.rdev, 0);
    assert.deepEqual(await readdir(join(layer, 'etc')), ['passwd']);
    assert.deepEqual(sys.lgetxattr(join(layer, 'var'), 'trusted.overlay.opaque'), Buffer.from('y'));
    assert.deepEqual((await readdir(layer)).sort(), ['etc', 'var']);
  });

  it('ignores trusted.overlay xattrs from the archive', async () => {
    const parts = [
      ...encodeHeader({ name: 'd/', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0, xattrs: new Map([['trusted.overlay.opaque', Buffer.from('y')]]) }),
      tarTrailer(),
    ];
    await apply(Buffer.concat(parts));
    assert.equal(sys.lgetxattr(join(layer, 'd'), 'trusted.overlay.opaque'), undefined);
  });

  it('lets later entries replace earlier ones of another type', async () => {
    await apply(
      await makeTar([
        { name: 'a', body: 'file' },
        { name: 'a/', type: 'directory' },
        { name: 'a/in', body: 'in' },
        { name: 'b/', type: 'directory' },
        { name: 'b/deep/', type: 'directory' },
        { name: 'b/deep/x', body: 'x' },
        { name: 'b', type: 'symlink', linkname: '/etc' },
        { name: 'c', body: 'one' },
        { name: 'c', body: 'two' },
        { name: 'd', type: 'symlink', linkname: 'x' },
        { name: 'd/', type: 'directory' },
      ]),
    );
    assert.equal(await readFile(join(layer, 'a/in'), 'utf8'), 'in');
    assert.equal(await readlink(join(layer, 'b')), '/etc');
    assert.equal(await readFile(join(layer, 'c'), 'utf8'), 'two');
    assert.ok((await lstat(join(layer, 'd'))).isDirectory());
  });

  it('sizes a layer as Docker does, through replacements and hardlinks', async () => {
    const { size } = await apply(
      await makeTar([
        { name: 'a', body: 'aaaa' },
        { name: 'h', type: 'link', linkname: 'a' },
        { name: 'a', body: 'bb' },
        { name: 'd/', type: 'directory' },
        { name: 'd/x', body: 'xxxxxxxx' },
        { name: 'd', body: 'file now' },
        { name: 's', type: 'symlink', linkname: 'täget' },
        { name: 'e', body: '' },
        { name: '.wh.gone', body: '' },
      ]),
    );
    // h keeps a's first inode (4), a is 2, d is 8, s is 6 bytes of UTF-8.
    assert.equal(size, 4 + 2 + 8 + 6);
    assert.equal(size, await dockerDirSize(layer));
  });

  it('extracts a large file exactly', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024 + 123);
    for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
    const { size } = await applyTar(sys, layer, streamOf(await makeTar([{ name: 'big', body: big }]), 65536));
    assert.equal(size, big.length);
    assert.ok((await readFile(join(layer, 'big'))).equals(big));
  });
});
