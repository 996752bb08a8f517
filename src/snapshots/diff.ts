/**
 * The changes of an overlay upper directory as an OCI/Docker layer tar:
 * `docker commit`, `docker export` of changes, and every builder step.
 *
 * Overlay records deletions as 0:0 character devices and replaced
 * directories as `trusted.overlay.opaque=y`; layers say `.wh.<name>` and
 * `<dir>/.wh..wh..opq`. Output is deterministic: names sorted, parents
 * before children, no uname/gname, optional mtime clamp.
 */
import { once } from 'node:events';
import { constants as C, type Stats } from 'node:fs';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { join, posix } from 'node:path';
import { InternalError } from '../base/errors.js';
import { StreamWriter } from '../base/stream.js';
import type { Sys } from '../base/sys.js';
import { devMajor, devMinor, encodeHeader, tarPadding, tarTrailer, TarReader, toWriteHeader, type TarHeader, type TarWriteHeader, copyEntry } from '../base/tar.js';
import { OVERLAY_OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX } from './unpack.js';

export interface WriteDiffOptions {
  /** Clamp every mtime to at most this (seconds): SOURCE_DATE_EPOCH for reproducible builds. */
  sourceDateEpoch?: number;
  /** End `out` after the trailer (default true). */
  end?: boolean;
  /** Called with each entry's path and lstat before it is written (a builder committing the directory in place clamps mtimes there too). */
  onEntry?: (abs: string, st: Stats) => void | Promise<void>;
}

const READ_CHUNK = 1024 * 1024;
/** Siblings lstat'd at once. */
const STAT_BATCH = 32;
/** Read-ahead of small files: at most this many entries or bytes in flight. */
const AHEAD_ENTRIES = 16;
const AHEAD_BYTES = 8 << 20;

/** A small regular file's bytes: exactly `size` of them (it must not have shrunk), never through a symlink. */
async function readExactly(abs: string, size: number): Promise<Buffer> {
  const fh = await open(abs, C.O_RDONLY | C.O_NOFOLLOW);
  try {
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const { bytesRead } = await fh.read(buf, off, size - off, off);
      if (bytesRead === 0) throw new InternalError(`${abs}: file shrank while writing the diff`);
      off += bytesRead;
    }
    return buf;
  } finally {
    await fh.close();
  }
}

/** Attributes that describe the host or overlay itself, not the image. */
function keepXattr(name: string): boolean {
  return !name.startsWith('trusted.overlay.') && name !== 'security.selinux';
}



/** Writes the layer tar of `upperDir`'s changes to `out`. */
export async function writeDiff(sys: Sys, upperDir: string, out: Writable, opts: WriteDiffOptions = {}): Promise<void> {
  const w = new StreamWriter(out, 'diff output');
  const links = new Map<number, string>();
  const clamp = (st: Stats): number => {
    const t = Math.floor(st.mtimeMs / 1000);
    return opts.sourceDateEpoch !== undefined ? Math.min(t, opts.sourceDateEpoch) : t;
  };
  const xattrsOf = (p: string): Map<string, Buffer> | undefined => {
    const names = sys.llistxattr(p).filter(keepXattr).sort();
    if (names.length === 0) return undefined;
    const m = new Map<string, Buffer>();
    for (const n of names) {
      const v = sys.lgetxattr(p, n);
      if (v !== undefined) m.set(n, Buffer.from(v));
    }
    return m.size > 0 ? m : undefined;
  };

  const emit = async (abs: string, rel: string, st: Stats, linkTo: string | undefined, data: Promise<Buffer> | undefined): Promise<void> => {
    const base: Omit<TarWriteHeader, 'name' | 'type'> = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: 0, mtime: clamp(st) };
    if (st.isCharacterDevice() && st.rdev === 0) {
      // Overlay's whiteout (possibly a hardlink of a shared whiteout inode: never a tar link).
      const i = rel.lastIndexOf('/');
      const name = `${rel.slice(0, i + 1)}${WHITEOUT_PREFIX}${rel.slice(i + 1)}`;
      await w.writeAll(encodeHeader({ ...base, name, type: 'file', mode: 0o600 }));
      return;
    }
    if (st.isDirectory()) {
      const xattrs = xattrsOf(abs);
      const h: TarWriteHeader = { ...base, name: `${rel}/`, type: 'dir' };
      if (xattrs !== undefined) h.xattrs = xattrs;
      await w.writeAll(encodeHeader(h));
      const opq = sys.lgetxattr(abs, OVERLAY_OPAQUE_XATTR);
      if (opq !== undefined && opq.length === 1 && opq[0] === 0x79) {
        await w.writeAll(encodeHeader({ ...base, name: `${rel}/${WHITEOUT_OPAQUE}`, type: 'file', mode: st.mode & 0o777 }));
      }
      return;
    }
    if (linkTo !== undefined) {
      await w.writeAll(encodeHeader({ ...base, name: rel, type: 'link', linkname: linkTo }));
      return;
    }
    if (st.isSymbolicLink()) {
      const h: TarWriteHeader = { ...base, name: rel, type: 'symlink', linkname: await readlink(abs) };
      const xattrs = xattrsOf(abs);
      if (xattrs !== undefined) h.xattrs = xattrs;
      await w.writeAll(encodeHeader(h));
      return;
    }
    if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
      const type = st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? 'char' : 'block';
      const h: TarWriteHeader = { ...base, name: rel, type, devmajor: devMajor(st.rdev), devminor: devMinor(st.rdev) };
      const xattrs = xattrsOf(abs);
      if (xattrs !== undefined) h.xattrs = xattrs;
      await w.writeAll(encodeHeader(h));
      return;
    }
    if (st.isFile()) {
      const xattrs = xattrsOf(abs);
      const h: TarWriteHeader = { ...base, name: rel, type: 'file', size: st.size };
      if (xattrs !== undefined) h.xattrs = xattrs;
      if (data !== undefined) {
        const b = await data;
        await w.writeAll(encodeHeader(h));
        if (b.length > 0) await w.write(b);
      } else {
        const fh = await open(abs, C.O_RDONLY | C.O_NOFOLLOW);
        try {
          await w.writeAll(encodeHeader(h));
          let left = st.size;
          while (left > 0) {
            const buf = Buffer.allocUnsafe(Math.min(left, READ_CHUNK));
            const { bytesRead } = await fh.read(buf, 0, buf.length, null);
            if (bytesRead === 0) throw new InternalError(`${abs}: file shrank while writing the diff`);
            left -= bytesRead;
            await w.write(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
          }
        } finally {
          await fh.close();
        }
      }
      const pad = tarPadding(st.size);
      if (pad.length > 0) await w.write(pad);
      return;
    }
    // Sockets are not carried in layers (as Docker).
  };

  // Entries in tar order (names sorted, parents first); each directory's
  // entries are lstat'd a batch at a time, not one round trip each.
  async function* entries(abs: string, rel: string): AsyncGenerator<{ abs: string; rel: string; st: Stats }> {
    const names = (await readdir(abs)).sort();
    for (let i = 0; i < names.length; i += STAT_BATCH) {
      const batch = names.slice(i, i + STAT_BATCH);
      const sts = await Promise.all(batch.map((n) => lstat(`${abs}/${n}`)));
      for (let j = 0; j < batch.length; j++) {
        const a = `${abs}/${batch[j]!}`;
        const r = rel === '' ? batch[j]! : `${rel}/${batch[j]!}`;
        const st = sts[j]!;
        yield { abs: a, rel: r, st };
        if (st.isDirectory()) yield* entries(a, r);
      }
    }
  }

  // Small files are read a few entries ahead of the writer (in order, each
  // once), so the reads' thread-pool round trips overlap the output.
  const queue: { abs: string; rel: string; st: Stats; linkTo: string | undefined; data: Promise<Buffer> | undefined }[] = [];
  let aheadBytes = 0;
  const emitNext = async (): Promise<void> => {
    const q = queue.shift()!;
    if (q.data !== undefined) aheadBytes -= q.st.size;
    await emit(q.abs, q.rel, q.st, q.linkTo, q.data);
  };
  try {
    for await (const e of entries(upperDir.replace(/\/+$/, ''), '')) {
      if (opts.onEntry !== undefined) await opts.onEntry(e.abs, e.st);
      let linkTo: string | undefined;
      if (e.st.nlink > 1 && !e.st.isDirectory() && !(e.st.isCharacterDevice() && e.st.rdev === 0)) {
        linkTo = links.get(e.st.ino);
        if (linkTo === undefined) links.set(e.st.ino, e.rel);
      }
      let data: Promise<Buffer> | undefined;
      if (linkTo === undefined && e.st.isFile() && e.st.size <= READ_CHUNK) {
        data = readExactly(e.abs, e.st.size);
        data.catch(() => undefined); // surfaced when emitted
        aheadBytes += e.st.size;
      }
      queue.push({ ...e, linkTo, data });
      while (queue.length >= AHEAD_ENTRIES || aheadBytes >= AHEAD_BYTES) await emitNext();
    }
    while (queue.length > 0) await emitNext();
  } finally {
    // On failure, reads still in flight must not go unobserved.
    for (const q of queue) q.data?.catch(() => undefined);
  }

  await w.write(tarTrailer());
  if (opts.end ?? true) {
    out.end();
  }
}

/**
 * The paths runc creates as mount points in every container. Docker keeps
 * them in a hidden "init" layer; they never belong in a committed layer.
 */
export const RUNTIME_MOUNT_POINTS: readonly string[] = [
  'dev', 'dev/pts', 'dev/shm', 'dev/console', 'proc', 'sys', '.dockerenv', 'etc/resolv.conf', 'etc/hosts', 'etc/hostname', 'etc/mtab',
];

async function lstatIn(lowers: readonly string[], rel: string): Promise<Stats | undefined> {
  for (const l of lowers) {
    try {
      return await lstat(join(l, rel));
    } catch {
      // not in this layer
    }
  }
  return undefined;
}

/**
 * Filters a diff tar (from writeDiff) for commit: drops `skip` paths (and
 * their whiteouts), and holds back directories that overlay merely copied
 * up (same mode, owner and no xattrs as in the `lowers`, top first) until
 * something beneath them is written — so committing a container that only
 * touched mount points adds no entries.
 */
export async function* filterDiff(diff: Readable, lowers: readonly string[], skip: ReadonlySet<string>): AsyncGenerator<Buffer> {
  const reader = new TarReader(diff, { maxEntrySize: 64 * 1024 ** 3 });
  const held: { rel: string; h: TarHeader }[] = [];
  for (;;) {
    const h = await reader.next();
    if (h === undefined) break;
    const rel = h.name.replace(/\/+$/, '');
    while (held.length > 0 && !rel.startsWith(`${held.at(-1)!.rel}/`)) held.pop();
    const base = posix.basename(rel);
    const whiteoutOf = base.startsWith(WHITEOUT_PREFIX) && base !== WHITEOUT_OPAQUE ? posix.join(posix.dirname(rel), base.slice(WHITEOUT_PREFIX.length)) : undefined;
    if (skip.has(rel) || (whiteoutOf !== undefined && skip.has(whiteoutOf))) {
      if (h.type === 'dir') held.push({ rel, h });
      continue;
    }
    if (h.type === 'dir') {
      const low = await lstatIn(lowers, rel);
      if (low !== undefined && low.isDirectory() && (low.mode & 0o7777) === h.mode && low.uid === h.uid && low.gid === h.gid && h.xattrs.size === 0) {
        held.push({ rel, h });
        continue;
      }
    }
    // Emitted now: later siblings need not emit them again.
    for (const p of held) for (const b of encodeHeader(toWriteHeader(p.h))) yield b;
    held.length = 0;
    yield* copyEntry(reader, h);
  }
  await reader.drain();
  yield tarTrailer();
}
