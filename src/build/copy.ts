/**
 * COPY and ADD on files: source resolution (wildcards, confinement to the
 * context or a stage's root, .dockerignore and --exclude), the content hash
 * that keys the step's cache (names, modes and bytes; never mtimes), and
 * the copy into a mounted rootfs.
 *
 * Confinement: a source path is cleaned lexically and refused if it climbs
 * out (`COPY ../x`); symlinks on the way are resolved as if the root were
 * `/` (resolveInRoot), so a context symlink to `/etc` means `<ctx>/etc`.
 * Inside a copied directory symlinks are copied as symlinks, never followed.
 * Destinations are resolved inside the rootfs the same way.
 */
import { lstatIfExists } from '../base/fsutil.js';
import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, readdirSync } from 'node:fs';
import { chmod, chown, copyFile, lchown, lstat, lutimes, mkdir, readdir, readlink, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join, posix } from 'node:path';
import { InvalidArgumentError, NotFoundError } from '../base/errors.js';
import { resolveInRoot } from '../runtime/user.js';
import type { IgnoreMatcher } from '../base/dockerignore.js';

export interface Source {
  /** Host path (symlinks already resolved for the top level). */
  readonly abs: string;
  /** Path relative to the source root, `/`-separated. */
  readonly rel: string;
  readonly st: Stats;
}

export interface ResolveOptions {
  /** .dockerignore of the context (not for --from). */
  readonly ignore?: IgnoreMatcher;
  readonly exclude?: IgnoreMatcher;
  /** What the root is, for messages: "build context" or `stage "x"`. */
  readonly what: string;
}

const GLOB = /[*?[]/;

function cleanRel(p: string, what: string): string {
  const s = p.replace(/\\/g, '/');
  const n = posix.normalize(s);
  // `/x` means the root's x (as Docker); `../x` would leave the root.
  if (!s.startsWith('/') && (n === '..' || n.startsWith('../'))) throw new InvalidArgumentError(`forbidden path outside the ${what}: ${p} ()`);
  return posix.normalize('/' + s).slice(1).replace(/\/+$/, '');
}

function globToRe(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        let cls = pattern.slice(i + 1, end);
        if (cls.startsWith('!') || cls.startsWith('^')) cls = '^' + cls.slice(1);
        re += `[${cls}]`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(re + '$');
}

/** Expands one COPY/ADD source (wildcards allowed in any component) under `root`. */
export async function resolveSource(root: string, src: string, o: ResolveOptions): Promise<Source[]> {
  const rel = cleanRel(src, o.what);
  if (!GLOB.test(rel)) {
    const abs = await resolveInRoot(root, '/' + rel);
    const st = await lstatIfExists(abs);
    if (st === undefined || (rel !== '' && o.ignore?.ignores(rel) === true && !st.isDirectory())) {
      throw new NotFoundError(`COPY failed: file not found in ${o.what}: stat ${src}: file does not exist`);
    }
    return [{ abs, rel, st }];
  }
  let partial: string[] = [''];
  for (const comp of rel.split('/')) {
    const next: string[] = [];
    for (const base of partial) {
      if (!GLOB.test(comp)) {
        next.push(base === '' ? comp : `${base}/${comp}`);
        continue;
      }
      const dir = await resolveInRoot(root, '/' + base);
      let names: string[] = [];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      const re = globToRe(comp);
      for (const n of names.sort()) if (re.test(n)) next.push(base === '' ? n : `${base}/${n}`);
    }
    partial = next;
  }
  const out: Source[] = [];
  for (const r of partial) {
    if (o.ignore?.ignores(r) === true) continue;
    const abs = await resolveInRoot(root, '/' + r);
    const st = await lstatIfExists(abs);
    if (st !== undefined) out.push({ abs, rel: r, st });
  }
  if (out.length === 0) throw new NotFoundError(`COPY failed: no source files were specified`);
  return out;
}

export interface Entry {
  /** Relative to the source's own path ('' = the source itself). */
  readonly sub: string;
  readonly abs: string;
  readonly st: Stats;
}

/** Entries walked synchronously between two turns of the event loop. */
export const YIELD_EVERY = 2000;

/** Every entry of a source, parents before children, names sorted; ignored/excluded entries left out. */
export async function walkSource(s: Source, o: ResolveOptions): Promise<Entry[]> {
  const out: Entry[] = [{ sub: '', abs: s.abs, st: s.st }];
  if (!s.st.isDirectory()) return out;
  // Synchronous calls: a local tree (the context the daemon holds, or a
  // stage's mounted root) whose metadata is in memory; a thread-pool round
  // trip per entry costs more than the lstat itself. A huge tree still
  // lets the event loop run every few thousand entries.
  let sinceYield = 0;
  const walk = async (dir: string, sub: string): Promise<void> => {
    for (const n of readdirSync(dir).sort()) {
      if (++sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        await new Promise((r) => setImmediate(r));
      }
      const childSub = sub === '' ? n : `${sub}/${n}`;
      const ctxRel = s.rel === '' ? childSub : `${s.rel}/${childSub}`;
      const abs = join(dir, n);
      const st = lstatSync(abs);
      const ignored = o.ignore?.ignores(ctxRel) === true || o.exclude?.ignores(childSub) === true || o.exclude?.ignores(ctxRel) === true;
      if (ignored) {
        // A re-included path below an ignored directory still needs the walk.
        if (st.isDirectory() && !(o.ignore?.skipsDir(ctxRel) ?? true)) await walk(abs, childSub);
        continue;
      }
      out.push({ sub: childSub, abs, st });
      if (st.isDirectory()) await walk(abs, childSub);
    }
  };
  await walk(s.abs, '');
  return out;
}

/**
 * Adds the names, types, modes, link targets and contents of `entries` to
 * `h` (mtimes never). A file counts by its size and the sha256 of its
 * bytes; `known` may supply that digest for a file it vouches is unchanged
 * (the context's extraction-time hashes), else the file is read.
 */
export async function hashEntries(h: ReturnType<typeof createHash>, entries: readonly Entry[], known?: (st: Stats) => string | undefined): Promise<void> {
  for (const e of entries) {
    const st = e.st;
    const kind = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFile() ? 'f' : 'o';
    h.update(`${kind}\0${e.sub}\0${(st.mode & 0o7777).toString(8)}\0${st.uid}:${st.gid}\0`);
    if (kind === 'l') h.update(await readlink(e.abs));
    else if (kind === 'f') {
      let digest = known?.(st);
      if (digest === undefined) {
        const fh = createHash('sha256');
        if (st.size > 0) {
          for await (const c of createReadStream(e.abs, { highWaterMark: 1 << 20 })) fh.update(c as Buffer);
        }
        digest = fh.digest('hex');
      }
      h.update(`${st.size}\0${digest}`);
    }
    h.update('\n');
  }
}

/** Files copied at once by COPY/ADD (see copyInto). */
const COPY_CONCURRENCY = 16;

export interface CopyOptions {
  readonly uid?: number;
  readonly gid?: number;
  /** Keep the source's owner (COPY --from) when no --chown. */
  readonly keepOwner: boolean;
  readonly mode?: number;
  /** Clamp copied mtimes to at most this (seconds), as the layer tar does. */
  readonly epoch?: number;
}

/** The mtime a copied entry gets: the source's, clamped to the build's epoch. */
function mtimeOf(st: Stats, o: CopyOptions): number | Date {
  return o.epoch !== undefined && st.mtimeMs / 1000 > o.epoch ? o.epoch : st.mtime;
}

const EUID = process.geteuid?.() ?? -1;
const EGID = process.getegid?.() ?? -1;

async function ensureDirIn(rootfs: string, path: string, o: CopyOptions): Promise<string> {
  const parts = path.split('/').filter((x) => x !== '');
  let cur = '/';
  for (const p of parts) {
    cur = posix.join(cur, p);
    const host = await resolveInRoot(rootfs, cur);
    const st = await lstatIfExists(host);
    if (st === undefined) {
      await mkdir(host, { mode: 0o755 });
      await chmod(host, 0o755);
      if (o.uid !== undefined) await chown(host, o.uid, o.gid ?? o.uid);
    } else if (!st.isDirectory()) {
      throw new InvalidArgumentError(`cannot copy to non-directory: ${cur}`);
    }
  }
  return resolveInRoot(rootfs, path);
}

/** ensureDirIn, and whether the last directory was made by it. */
async function ensureDirMade(rootfs: string, path: string, o: CopyOptions): Promise<{ dir: string; made: boolean }> {
  const before = await lstatIfExists(await resolveInRoot(rootfs, path));
  const dir = await ensureDirIn(rootfs, path, o);
  return { dir, made: before === undefined };
}

/**
 * Copies one entry to host path `to` (its parent exists). `fresh`: `to`
 * cannot exist yet (its directory was made by this copy) and new files
 * there get the daemon's uid and gid (no setgid parent), so the checks and
 * calls that would change nothing are skipped: a file then costs copyFile
 * (which already gives it the source's mode) and utimes. A directory's
 * times are set by the caller once its children are in (see copyInto).
 */
async function copyEntry(e: Entry, to: string, o: CopyOptions, fresh = false): Promise<void> {
  const st = e.st;
  const uid = o.uid ?? (o.keepOwner ? st.uid : 0);
  const gid = o.gid ?? (o.keepOwner ? st.gid : 0);
  const have = fresh ? undefined : await lstatIfExists(to);
  const ownerIsOurs = fresh && uid === EUID && gid === EGID;
  if (st.isDirectory()) {
    if (have !== undefined && !have.isDirectory()) await rm(to, { recursive: true, force: true });
    if (have === undefined || !have.isDirectory()) await mkdir(to);
    // chown before chmod: chown clears set-id bits.
    await chown(to, uid, gid);
    await chmod(to, o.mode ?? st.mode & 0o7777);
    return;
  }
  if (have !== undefined) await rm(to, { recursive: true, force: true });
  if (st.isSymbolicLink()) {
    await symlink(await readlink(e.abs), to);
    if (!ownerIsOurs) await lchown(to, uid, gid);
    await lutimes(to, st.atime, mtimeOf(st, o));
    return;
  }
  if (!st.isFile()) return; // sockets, devices, fifos: not copied, as Docker
  await copyFile(e.abs, to);
  if (!ownerIsOurs) await chown(to, uid, gid);
  // copyFile gave it the source's mode; chown may have cleared set-id bits.
  if (o.mode !== undefined || (!ownerIsOurs && (st.mode & 0o6000) !== 0)) await chmod(to, o.mode ?? st.mode & 0o7777);
  await utimes(to, st.atime, mtimeOf(st, o));
}

/**
 * Copies `sources` to `dest` (absolute, inside `rootfs`) with Docker's
 * rules: a directory's contents go into dest; a file goes into dest when
 * dest ends with `/` or is an existing directory, else becomes dest.
 * `parents` keeps each source's path below dest (COPY --parents).
 */
export async function copyInto(rootfs: string, sources: readonly { src: Source; entries: readonly Entry[] }[], dest: string, destIsDir: boolean, o: CopyOptions, parents = false): Promise<void> {
  for (const { src, entries } of sources) {
    let target = dest;
    if (parents && src.rel !== '') target = posix.join(dest, posix.dirname(src.rel));
    const hostDest = await resolveInRoot(rootfs, target);
    const destSt = await lstatIfExists(hostDest);
    if (src.st.isDirectory()) {
      const base = parents && src.rel !== '' ? posix.join(target, posix.basename(src.rel)) : target;
      const { dir: root, made } = await ensureDirMade(rootfs, base, o);
      // A directory this copy made holds nothing yet, nor do those made
      // below it: their entries need no existence checks (setgid
      // directories aside, whose new entries take their group).
      const rootSt = made ? await lstat(root) : undefined;
      const fresh = rootSt !== undefined && (rootSt.mode & 0o2000) === 0;
      const setgidDirs = new Set<string>();
      const dirs: { e: Entry; to: string }[] = [];
      // Each file costs several syscalls, each a thread-pool round trip:
      // copying a few files at once hides that latency. Directories are made
      // in order (parents first); a file's parent is always made before it,
      // and no two entries share a destination.
      const pool = new Set<Promise<void>>();
      let failed: { e: unknown } | undefined;
      for (const e of entries) {
        if (e.sub === '') continue;
        if (failed !== undefined) break;
        const to = join(root, e.sub);
        const parent = e.sub.includes('/') ? e.sub.slice(0, e.sub.lastIndexOf('/')) : '';
        const freshHere = fresh && !setgidDirs.has(parent);
        if (e.st.isDirectory()) {
          await copyEntry(e, to, o, freshHere);
          dirs.push({ e, to });
          if (((o.mode ?? e.st.mode) & 0o2000) !== 0) setgidDirs.add(e.sub);
          continue;
        }
        const p: Promise<void> = copyEntry(e, to, o, freshHere)
          .catch((err: unknown) => {
            failed ??= { e: err };
          })
          .finally(() => pool.delete(p));
        pool.add(p);
        if (pool.size >= COPY_CONCURRENCY) await Promise.race(pool);
      }
      await Promise.all(pool);
      if (failed !== undefined) throw failed.e;
      // Directory times last (children first): adding entries moves them.
      for (let i = dirs.length - 1; i >= 0; i--) await utimes(dirs[i]!.to, dirs[i]!.e.st.atime, mtimeOf(dirs[i]!.e.st, o));
      continue;
    }
    let fileDest: string;
    if (destIsDir || parents || (destSt !== undefined && destSt.isDirectory())) {
      const dir = await ensureDirIn(rootfs, target, o);
      fileDest = join(dir, posix.basename(src.rel === '' ? src.abs : src.rel));
    } else {
      await ensureDirIn(rootfs, posix.dirname(target), o);
      fileDest = await resolveInRoot(rootfs, target);
    }
    await copyEntry(entries[0]!, fileDest, o);
  }
}

/** Writes a heredoc file (COPY <<EOF /dest). */
export async function writeHeredoc(rootfs: string, dest: string, content: string, o: CopyOptions): Promise<void> {
  await ensureDirIn(rootfs, posix.dirname(dest), o);
  const host = await resolveInRoot(rootfs, dest);
  await rm(host, { force: true, recursive: true });
  await writeFile(host, content, { mode: o.mode ?? 0o644 });
  await chmod(host, o.mode ?? 0o644);
  await chown(host, o.uid ?? 0, o.gid ?? 0);
}

export { ensureDirIn };
