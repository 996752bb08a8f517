/**
 * Extracts an uncompressed layer tar into a directory, safely against
 * hostile archives, converting Docker/OCI whiteouts into overlay's form.
 *
 * Safety model: every entry name is cleaned lexically and refused when it
 * climbs out of `dir`; every parent component is checked with lstat (and
 * cached once known to be a real directory we own), so a symlink is never
 * traversed; the final component is created with calls that do not follow
 * symlinks (O_EXCL opens, mkdir, symlink, mknod, link without
 * AT_SYMLINK_FOLLOW, lchown/lutimes) and an existing entry is removed
 * first. Metadata calls that do follow (chmod, utimes) only ever see a
 * path we have just created as a non-symlink.
 *
 * Speed: namespace operations run in archive order, but each small file's
 * write, ownership, mode, xattrs and times run in the background (bounded),
 * so the thread pool works on several files while the next header is read.
 */
import { constants as C } from 'node:fs';
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { chmod, lchown, link, lstat, lutimes, mkdir, readFile, readdir, rm, symlink, unlink } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { InvalidArgumentError, errnoCode, isBerthError } from '../base/errors.js';
import { SysError, type Sys } from '../base/sys.js';
import { ERR_EOF, TarReader, type TarHeader } from '../base/tar.js';

export const WHITEOUT_PREFIX = '.wh.';
export const WHITEOUT_OPAQUE = '.wh..wh..opq';
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';

export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

export interface ApplyTarOptions {
  /** Largest declared entry size accepted; default 64 GiB. */
  maxEntrySize?: number;
  /** Convert `.wh.` entries into overlay whiteouts (default true). */
  overlayWhiteouts?: boolean;
  /**
   * Filled with the sha256 (hex) of each regular file's bytes by clean
   * name, taken as they pass (a build context's COPY keys need them); a
   * later entry of another kind at the same name drops the name.
   */
  fileDigests?: Map<string, string>;
  /**
   * With fileDigests, asked for each small regular file (up to 1 MiB)
   * before it is hashed or written, with its bytes: a digest back leaves
   * the file already at that name as it is and records that digest (the
   * caller vouches the file holds exactly these bytes, and that the digest
   * is theirs: it compared them); undefined goes on as usual. For a folder
   * kept between extractions of nearly the same tar (a build context): the
   * bytes are compared, not hashed again.
   */
  keepFile?: (rel: string, h: TarHeader, data: readonly Buffer[]) => string | undefined;
  /** Filled with the clean name of every entry. */
  seen?: Set<string>;
  /** Whether to compute the size (for a root that was not empty, a walk); default true. */
  countSize?: boolean;
}

export const DEFAULT_MAX_ENTRY_SIZE = 64 * 1024 ** 3;

/** Files up to this size are buffered and written in the background. */
const SMALL_FILE = 1024 * 1024;
const MAX_PENDING_TASKS = 64;
const MAX_PENDING_BYTES = 64 * 1024 * 1024;
/** Large files are written in batches of this many bytes. */
const WRITE_BATCH = 1024 * 1024;

/**
 * Cleans an entry name lexically: leading `/` and `./` go, `.` and empty
 * components go, `..` pops; one that would climb above the root is refused.
 * Returns '' for the root itself.
 */
export function cleanEntryName(name: string): string {
  if (name.includes('\0')) throw new InvalidArgumentError(`invalid tar entry name ${JSON.stringify(name)}`);
  const parts: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (parts.length === 0) throw new InvalidArgumentError(`tar entry ${JSON.stringify(name)} points outside the layer (breakout)`);
      parts.pop();
      continue;
    }
    parts.push(c);
  }
  return parts.join('/');
}

function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i === -1 ? '' : rel.slice(0, i);
}
function baseOf(rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}

/** Errors that mean the archive, not the machine, is at fault. */
const INPUT_ERRNOS = new Set(['ENAMETOOLONG', 'ENOTDIR', 'ELOOP', 'EISDIR', 'EEXIST', 'EMLINK', 'EINVAL']);

// Callback-based fs with plain fds: FileHandle's promise machinery costs
// more main-thread time per call than the syscalls themselves on small files.
const pOpen = (p: string, flags: number, mode: number): Promise<number> =>
  new Promise((res, rej) => fs.open(p, flags, mode, (e, fd) => (e ? rej(e) : res(fd))));
const pWrite = (fd: number, b: Buffer): Promise<number> =>
  new Promise((res, rej) => fs.write(fd, b, 0, b.length, null, (e, n) => (e ? rej(e) : res(n))));
const pWritev = (fd: number, bs: Buffer[]): Promise<number> =>
  new Promise((res, rej) => fs.writev(fd, bs, (e, n) => (e ? rej(e) : res(n))));
const pFchown = (fd: number, uid: number, gid: number): Promise<void> =>
  new Promise((res, rej) => fs.fchown(fd, uid, gid, (e) => (e ? rej(e) : res())));
const pFchmod = (fd: number, mode: number): Promise<void> =>
  new Promise((res, rej) => fs.fchmod(fd, mode, (e) => (e ? rej(e) : res())));
const pFutimes = (fd: number, t: number): Promise<void> =>
  new Promise((res, rej) => fs.futimes(fd, t, t, (e) => (e ? rej(e) : res())));
const pClose = (fd: number): Promise<void> => new Promise((res, rej) => fs.close(fd, (e) => (e ? rej(e) : res())));

/** Writes all of `bufs` (short writes are possible on some file systems). */
async function writeAll(fd: number, bufs: Buffer[]): Promise<void> {
  let rest = bufs;
  while (rest.length > 0) {
    let n = rest.length === 1 ? await pWrite(fd, rest[0]!) : await pWritev(fd, rest);
    const next: Buffer[] = [];
    for (const b of rest) {
      if (n >= b.length) n -= b.length;
      else {
        next.push(n > 0 ? b.subarray(n) : b);
        n = 0;
      }
    }
    rest = next;
  }
}

/** The process umask, from /proc (process.umask() without arguments is deprecated); unknown: 0o777. */
async function currentUmask(): Promise<number> {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(await readFile('/proc/self/status', 'utf8'));
    return m ? parseInt(m[1]!, 8) : 0o777;
  } catch {
    return 0o777;
  }
}

const O_CREATE_NEW = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;

class Extractor {
  private readonly root: string;
  /** Relative paths known to be real directories (created or lstat'ed by us). */
  private readonly knownDirs = new Set<string>(['']);
  /** Non-directories this extraction created (they may exist: never "fresh"). */
  private readonly created = new Set<string>();
  /** Paths with background work in flight: anything touching them (or below) waits. */
  private readonly pendingPaths = new Set<string>();
  private readonly pending = new Set<Promise<void>>();
  private pendingBytes = 0;
  private failure: { e: unknown } | undefined;
  /** Directory mtimes, applied at the end (keyed by relative path, so removal can drop them). */
  private readonly dirTimes = new Map<string, number>();
  private readonly myUid = process.getuid?.() ?? 0;
  private readonly myGid = process.getgid?.() ?? 0;
  /**
   * New entries take the group of a setgid parent; once one is seen,
   * ownership is always set explicitly instead of trusting the default.
   */
  setgidSeen = false;
  /** The root was empty at the start: paths not in `created`/`knownDirs` do not exist. */
  startedEmpty = false;
  /** See ApplyTarOptions. */
  digests: Map<string, string> | undefined;
  keepFile: ((rel: string, h: TarHeader, data: readonly Buffer[]) => string | undefined) | undefined;
  seen: Set<string> | undefined;
  umask = 0o777;
  /**
   * Docker's layer size (overlay2 reports pkg/directory's Size of the diff
   * dir): lstat sizes of non-directories, each inode once; so symlinks count
   * their target's length and hardlinks count once. Tracked per path while
   * extracting (an inode is an object shared by its links) instead of
   * walking the tree afterwards; only valid when the root started empty.
   */
  private readonly inodes = new Map<string, { size: number }>();

  /** The layer's size by Docker's rule (see `inodes`). */
  size(): number {
    let n = 0;
    for (const ino of new Set(this.inodes.values())) n += ino.size;
    return n;
  }

  private track(rel: string, size: number): void {
    this.inodes.set(rel, { size });
  }

  constructor(
    private readonly sys: Sys,
    dir: string,
    private readonly whiteouts: boolean,
  ) {
    this.root = dir.replace(/\/+$/, '') || '/';
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  /** True when nothing can be at `rel`, so an O_EXCL create may run unawaited. */
  private fresh(rel: string): boolean {
    return this.startedEmpty && !this.created.has(rel) && !this.knownDirs.has(rel);
  }

  /** Waits for background work on `rel` or any of its parents. */
  private async waitFor(rel: string): Promise<void> {
    if (this.pendingPaths.size === 0) return;
    for (let p = rel; ; p = parentOf(p)) {
      if (this.pendingPaths.has(p)) {
        await this.settleAll();
        return;
      }
      if (p === '') return;
    }
  }

  /**
   * Makes sure every parent of `rel` is a real directory inside the root,
   * creating missing ones (0755, as Docker), refusing symlinks and files.
   */
  private async ensureParents(rel: string, create: boolean, what: string): Promise<void> {
    const parent = parentOf(rel);
    if (this.knownDirs.has(parent)) return;
    const parts = parent.split('/');
    let p = '';
    for (const c of parts) {
      p = p === '' ? c : `${p}/${c}`;
      if (this.knownDirs.has(p)) continue;
      let st;
      try {
        st = await lstat(this.abs(p));
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw e;
        if (!create) throw new InvalidArgumentError(`${what}: ${JSON.stringify(p)} not found in the layer`);
        await mkdir(this.abs(p), 0o755);
        this.knownDirs.add(p);
        continue;
      }
      if (st.isSymbolicLink()) {
        throw new InvalidArgumentError(`${what}: parent ${JSON.stringify(p)} is a symlink; refusing to write through it`);
      }
      if (!st.isDirectory()) throw new InvalidArgumentError(`${what}: parent ${JSON.stringify(p)} is not a directory`);
      if ((st.mode & 0o2000) !== 0) this.setgidSeen = true;
      this.knownDirs.add(p);
    }
  }

  private async settleAll(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure.e;
  }

  /** Removes whatever is at `rel` (after background work has finished). */
  private async removeExisting(rel: string): Promise<void> {
    await this.settleAll();
    const a = this.abs(rel);
    const st = await lstat(a);
    if (st.isDirectory()) {
      await rm(a, { recursive: true, force: true });
      const gone = (d: string): boolean => d === rel || d.startsWith(`${rel}/`);
      for (const d of [...this.knownDirs]) if (gone(d)) this.knownDirs.delete(d);
      for (const d of [...this.dirTimes.keys()]) if (gone(d)) this.dirTimes.delete(d);
      for (const p of [...this.inodes.keys()]) if (gone(p)) this.inodes.delete(p);
    } else {
      await unlink(a);
      this.inodes.delete(rel);
    }
  }

  /** Runs `create`; if something is in the way, removes it and runs it again. */
  private async replace<T>(rel: string, create: () => Promise<T>): Promise<T> {
    try {
      return await create();
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST' && !(e instanceof SysError && e.code === 'EEXIST')) throw e;
    }
    await this.removeExisting(rel);
    return await create();
  }

  private background(rel: string, bytes: number, task: Promise<void>): void {
    this.pendingBytes += bytes;
    this.pendingPaths.add(rel);
    const tracked: Promise<void> = task
      .catch((e: unknown) => {
        this.failure ??= { e };
      })
      .finally(() => {
        this.pending.delete(tracked);
        this.pendingPaths.delete(rel);
        this.pendingBytes -= bytes;
      });
    this.pending.add(tracked);
  }

  private async throttle(): Promise<void> {
    while (this.pending.size >= MAX_PENDING_TASKS || (this.pendingBytes >= MAX_PENDING_BYTES && this.pending.size > 0)) {
      await Promise.race(this.pending);
    }
    this.throwIfFailed();
  }

  private setXattrs(path: string, h: TarHeader): void {
    for (const [k, v] of h.xattrs) {
      // Overlay's own attributes decide what lower files mean; a layer may
      // only ask for opacity, through the .wh..wh..opq entry.
      if (k.startsWith('trusted.overlay.')) continue;
      try {
        this.sys.lsetxattr(path, k, v);
      } catch (e) {
        // As Docker: file systems without xattrs (or user.* on symlinks) are not fatal.
        if (e instanceof SysError && (e.code === 'EOPNOTSUPP' || e.code === 'EPERM')) continue;
        throw e;
      }
    }
  }

  private needsChown(h: TarHeader): boolean {
    return this.setgidSeen || h.uid !== this.myUid || h.gid !== this.myGid;
  }

  /**
   * Whether a mode given at creation still needs a chmod: the umask took
   * bits away, or special bits (which chown clears and creation may drop).
   */
  private needsChmod(mode: number): boolean {
    return (mode & this.umask) !== 0 || (mode & 0o7000) !== 0;
  }

  async entry(h: TarHeader, reader: TarReader): Promise<void> {
    this.throwIfFailed();
    const rel = cleanEntryName(h.name);
    const what = `tar entry ${JSON.stringify(h.name)}`;
    const base = baseOf(rel);

    // aufs metadata (.wh..wh.plnk and friends) at the top: Docker skips it.
    if (this.whiteouts && rel.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`) && rel !== WHITEOUT_OPAQUE) return;

    if (this.whiteouts && base.startsWith(WHITEOUT_PREFIX)) {
      await this.waitFor(rel);
      await this.ensureParents(rel, true, what);
      const dirRel = parentOf(rel);
      if (base === WHITEOUT_OPAQUE) {
        this.sys.lsetxattr(this.abs(dirRel), OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
        return;
      }
      // Other .wh..wh. names are aufs metadata: Docker skips them.
      if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return;
      const victim = base.slice(WHITEOUT_PREFIX.length);
      if (victim === '' || victim === '.' || victim === '..') throw new InvalidArgumentError(`${what}: invalid whiteout`);
      const target = dirRel === '' ? victim : `${dirRel}/${victim}`;
      await this.waitFor(target);
      const a = this.abs(target);
      await this.replace(target, async () => this.sys.mknod(a, S_IFCHR, 0, 0));
      this.created.add(target);
      this.track(target, 0);
      return;
    }

    if (rel === '') {
      // The layer's root ("./"): only a directory may describe it.
      if (h.type !== 'dir') throw new InvalidArgumentError(`${what}: the layer root must be a directory`);
      await this.applyDirMeta(rel, h, true);
      return;
    }

    await this.waitFor(rel);
    await this.ensureParents(rel, true, what);
    const a = this.abs(rel);
    this.seen?.add(rel);
    if (h.type !== 'file') this.digests?.delete(rel);
    switch (h.type) {
      case 'dir': {
        let chmodNeeded = true;
        if (!this.knownDirs.has(rel)) {
          const mode = h.mode & 0o777;
          try {
            await mkdir(a, mode);
            chmodNeeded = this.needsChmod(h.mode);
          } catch (e) {
            if (errnoCode(e) !== 'EEXIST') throw e;
            const st = await lstat(a);
            if (!st.isDirectory()) {
              await this.removeExisting(rel);
              await mkdir(a, mode);
            }
          }
          this.knownDirs.add(rel);
        }
        await this.applyDirMeta(rel, h, chmodNeeded);
        return;
      }
      case 'file':
        await this.file(rel, h, reader);
        return;
      case 'symlink': {
        const task = async (): Promise<void> => {
          if (this.needsChown(h)) await lchown(a, h.uid, h.gid);
          this.setXattrs(a, h);
          await lutimes(a, h.mtime, h.mtime);
        };
        // lstat's size of a symlink: its target's length in bytes.
        const linkSize = Buffer.byteLength(h.linkname);
        if (this.fresh(rel)) {
          this.created.add(rel);
          this.track(rel, linkSize);
          await this.throttle();
          this.background(rel, 0, symlink(h.linkname, a).then(task));
          return;
        }
        await this.replace(rel, () => symlink(h.linkname, a));
        this.created.add(rel);
        this.track(rel, linkSize);
        await task();
        return;
      }
      case 'link': {
        const targetRel = cleanEntryName(h.linkname);
        if (targetRel === '') throw new InvalidArgumentError(`${what}: hardlink to the layer root`);
        await this.waitFor(targetRel);
        await this.ensureParents(targetRel, false, `${what} (hardlink target)`);
        let st;
        try {
          st = await lstat(this.abs(targetRel));
        } catch (e) {
          if (errnoCode(e) === 'ENOENT') throw new InvalidArgumentError(`${what}: hardlink target ${JSON.stringify(h.linkname)} not found in the layer`);
          throw e;
        }
        // link(2) does not follow a symlink target, so linking one is safe.
        if (!st.isFile() && !st.isSymbolicLink()) {
          throw new InvalidArgumentError(`${what}: hardlink target ${JSON.stringify(h.linkname)} is not a regular file`);
        }
        if (targetRel === rel) return;
        await this.replace(rel, () => link(this.abs(targetRel), a));
        this.created.add(rel);
        // The same inode as its target: counted once.
        this.inodes.set(rel, this.inodes.get(targetRel) ?? { size: st.size });
        return;
      }
      case 'char':
      case 'block':
      case 'fifo': {
        const t = h.type === 'char' ? S_IFCHR : h.type === 'block' ? S_IFBLK : S_IFIFO;
        await this.replace(rel, async () => this.sys.mknod(a, t | (h.mode & 0o777), h.devmajor, h.devminor));
        this.created.add(rel);
        this.track(rel, 0);
        if (this.needsChown(h)) await lchown(a, h.uid, h.gid);
        await chmod(a, h.mode);
        this.setXattrs(a, h);
        await lutimes(a, h.mtime, h.mtime);
        return;
      }
    }
  }

  private async applyDirMeta(rel: string, h: TarHeader, chmodNeeded: boolean): Promise<void> {
    const a = this.abs(rel);
    if ((h.mode & 0o2000) !== 0) this.setgidSeen = true;
    if (this.needsChown(h)) {
      await lchown(a, h.uid, h.gid);
      chmodNeeded = true;
    }
    if (chmodNeeded) await chmod(a, h.mode);
    this.setXattrs(a, h);
    // Creating entries inside changes a directory's mtime: set them last.
    this.dirTimes.delete(rel);
    this.dirTimes.set(rel, h.mtime);
  }

  /** Ownership, mode, xattrs, times of a just-written file, in that order. */
  private async fileMeta(fd: number, a: string, h: TarHeader): Promise<void> {
    let chmodNeeded = this.needsChmod(h.mode);
    // chown clears setuid bits and capabilities: owner, then mode, then xattrs.
    if (this.needsChown(h)) {
      await pFchown(fd, h.uid, h.gid);
      chmodNeeded = true;
    }
    if (chmodNeeded) await pFchmod(fd, h.mode);
    this.setXattrs(a, h);
    await pFutimes(fd, h.mtime);
  }

  private async file(rel: string, h: TarHeader, reader: TarReader): Promise<void> {
    const a = this.abs(rel);
    const mode = h.mode & 0o777;
    if (h.size <= SMALL_FILE) {
      const chunks: Buffer[] = [];
      for await (const b of reader.data()) chunks.push(b);
      if (this.digests !== undefined) {
        const kept = this.keepFile?.(rel, h, chunks);
        if (kept !== undefined) {
          this.digests.set(rel, kept);
          return;
        }
        const hash = createHash('sha256');
        for (const b of chunks) hash.update(b);
        this.digests.set(rel, hash.digest('hex'));
      }
      await this.throttle();
      const write = async (fd: number): Promise<void> => {
        try {
          if (chunks.length > 0) await writeAll(fd, chunks);
          await this.fileMeta(fd, a, h);
        } finally {
          await pClose(fd);
        }
      };
      if (this.fresh(rel)) {
        // Nothing can be there: even the open runs in the background.
        this.created.add(rel);
        this.track(rel, h.size);
        this.background(rel, h.size, pOpen(a, O_CREATE_NEW, mode).then(write));
        return;
      }
      const fd = await this.replace(rel, () => pOpen(a, O_CREATE_NEW, mode));
      this.created.add(rel);
      this.track(rel, h.size);
      this.background(rel, h.size, write(fd));
      return;
    }
    const hash = this.digests !== undefined ? createHash('sha256') : undefined;
    const fd = await this.replace(rel, () => pOpen(a, O_CREATE_NEW, mode));
    this.created.add(rel);
    this.track(rel, h.size);
    try {
      // Double buffering: one batch is written while the next is read.
      let inflight: Promise<void> = Promise.resolve();
      let batch: Buffer[] = [];
      let n = 0;
      for await (const b of reader.data()) {
        hash?.update(b);
        batch.push(b);
        n += b.length;
        if (n >= WRITE_BATCH) {
          await inflight;
          inflight = writeAll(fd, batch);
          batch = [];
          n = 0;
        }
      }
      await inflight;
      if (batch.length > 0) await writeAll(fd, batch);
      if (hash !== undefined) this.digests?.set(rel, hash.digest('hex'));
      await this.fileMeta(fd, a, h);
    } finally {
      await pClose(fd);
    }
  }

  async finish(): Promise<void> {
    await this.settleAll();
    // lutimes: should a path have become a symlink after all, it is not followed.
    for (const [rel, t] of this.dirTimes) await lutimes(this.abs(rel), t, t);
  }

  async abort(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}

/**
 * Extracts the uncompressed layer tar `tar` into `dir` (see the module
 * comment for the safety rules). Reads the stream to its very end, so a
 * digest computed upstream covers every byte. On failure the directory is
 * left half-written for the caller to discard and the stream is left as is.
 * Returns the layer's size as Docker computes it: lstat sizes of the
 * non-directories in `dir`, hardlinked inodes once.
 */
export async function applyTar(sys: Sys, dir: string, tar: Readable | AsyncIterable<Buffer>, opts: ApplyTarOptions = {}): Promise<{ size: number }> {
  if (tar instanceof Readable) {
    // Its errors reach us through the iterator; node may also emit them
    // after the iterator has detached, which must not crash the process.
    tar.on('error', () => {});
  }
  const reader = new TarReader(tar, { maxEntrySize: opts.maxEntrySize ?? DEFAULT_MAX_ENTRY_SIZE });
  const ex = new Extractor(sys, dir, opts.overlayWhiteouts ?? true);
  ex.digests = opts.fileDigests;
  ex.keepFile = opts.keepFile;
  ex.seen = opts.seen;
  const rootSt = await lstat(dir);
  if (!rootSt.isDirectory()) throw new InvalidArgumentError(`${dir} is not a directory`);
  if ((rootSt.mode & 0o2000) !== 0) ex.setgidSeen = true;
  ex.startedEmpty = (await readdir(dir)).length === 0;
  ex.umask = await currentUmask();
  try {
    for (;;) {
      const h = await reader.next();
      if (h === undefined) break;
      try {
        await ex.entry(h, reader);
      } catch (e) {
        if (isBerthError(e) || e instanceof SysError) throw e;
        const code = errnoCode(e);
        if (code !== undefined && INPUT_ERRNOS.has(code)) {
          throw new InvalidArgumentError(`tar entry ${JSON.stringify(h.name)}: ${code}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
        }
        throw e;
      }
    }
    await reader.drain();
    await ex.finish();
    // A root that held files already: only a walk knows what they add up to.
    return { size: ex.startedEmpty ? ex.size() : opts.countSize === false ? 0 : await dockerDirSize(dir) };
  } catch (e) {
    await ex.abort();
    if (e instanceof Error && e.message === 'Premature close') throw new InvalidArgumentError(ERR_EOF, { cause: e });
    throw e;
  }
}

/** pkg/directory's Size: lstat sizes of non-directories under `dir`, each inode once. */
export async function dockerDirSize(dir: string): Promise<number> {
  const seen = new Set<number>();
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory()) {
        await walk(p);
        continue;
      }
      const st = await lstat(p);
      if (st.size === 0 || seen.has(st.ino)) continue;
      seen.add(st.ino);
      total += st.size;
    }
  };
  await walk(dir);
  return total;
}
