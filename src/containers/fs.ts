/**
 * The container endpoints that work on a container's filesystem and
 * settings: `cp` (the archive API), `export`, `diff` (changes), `commit`
 * and `update`.
 *
 * Filesystem access goes through `withRootfs`: a running container's live
 * mount, or the snapshot mounted on a private directory for the duration of
 * one call (always unmounted afterwards, also on errors). Reads that must
 * not see what runc put on top of the live mount (export) use a read-only
 * overlay of the snapshot's upper dir over its lowers, which never touches
 * the upper/work dirs a running container holds.
 *
 * cp resolves paths in the container's view (`resolveInView`): its rootfs at
 * `/` and, where they sit, the /etc files and the bind and volume mounts the
 * host can reach (tmpfs mounts, like Docker's, are not), so symlinks inside
 * the container resolve inside that view and never reach the host, and a
 * volume's files are read and written where they live; extraction reuses
 * `applyTar`, which refuses entries that climb out and never writes through
 * a symlink.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { constants as C, type BigIntStats, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, rmdir } from 'node:fs/promises';
import { dirname, join, posix, relative } from 'node:path';
import { PassThrough, Readable, type Writable } from 'node:stream';
import type { Ctx } from '../base/ctx.js';
import { lstatIfExists } from '../base/fsutil.js';
import type { Digest } from '../base/digest.js';
import { digestOf } from '../base/digest.js';
import { ConflictError, ForbiddenError, InternalError, InvalidArgumentError, NotFoundError, errnoCode, errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { SysError, type Sys } from '../base/sys.js';
import type { ContentStore } from '../content/types.js';
import type { LeaseManager } from '../content/leases.js';
import type { EventBus } from '../events/bus.js';
import { applyChanges } from '../images/changes.js';
import type { ImageService } from '../images/service.js';
import { MediaType } from '../oci/mediatypes.js';
import { fullString, parseReference, withDefaultTag, withTag, isValidTag, familiarString } from '../oci/reference.js';
import type { ContainerConfig, HistoryEntry, ImageConfig, ImageManifest } from '../oci/types.js';
import type { OciResources } from '../runtime/oci-spec.js';
import type { Runc } from '../runtime/runc.js';
import { mapInView, resolveInRoot, resolveInView, type ViewMount } from '../runtime/user.js';
import { filterDiff, RUNTIME_MOUNT_POINTS, writeDiff } from '../snapshots/diff.js';
import { mountAll, unmountAll } from '../snapshots/mount.js';
import { devMajor, devMinor, encodeHeader, tarPadding, tarTrailer, TarReader, copyEntry } from '../base/tar.js';
import { StreamWriter } from '../base/stream.js';
import type { Mount, Snapshotter } from '../snapshots/types.js';
import { applyTar, cleanEntryName } from '../snapshots/unpack.js';
import type { HostConfigIn } from './body.js';
import type { ContainerRecord } from './model.js';
import type { ContainerService } from './service.js';

export interface ContainerFsDeps {
  readonly containers: ContainerService;
  readonly snapshots: Snapshotter;
  readonly sys: Sys;
  readonly images: ImageService;
  readonly events: EventBus;
  /** For commit: the new layer blob and config/manifest go here. */
  readonly content: ContentStore;
  readonly leases: LeaseManager;
  readonly runc: Runc;
  readonly log: Logger;
}

/** X-Docker-Container-Path-Stat (Docker's types.ContainerPathStat). */
export interface PathStat {
  name: string;
  size: number;
  /** Go os.FileMode bits. */
  mode: number;
  mtime: string;
  linkTarget: string;
}

export interface CommitOptions {
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  changes?: readonly string[];
  pause: boolean;
  /** The optional request body (a container.Config). */
  config?: unknown;
}

type Access = 'read' | 'write' | 'snapshot';

// Go os.FileMode type bits.
const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const MODE_DEVICE = 2 ** 26;
const MODE_PIPE = 2 ** 25;
const MODE_SOCKET = 2 ** 24;
const MODE_SETUID = 2 ** 23;
const MODE_SETGID = 2 ** 22;
const MODE_CHARDEV = 2 ** 21;
const MODE_STICKY = 2 ** 20;

const READ_CHUNK = 1024 * 1024;
/** sha256 of an empty tar (two zero blocks): Docker's DigestSHA256EmptyTar. */
const EMPTY_TAR_SIZE = 1024;

/**
 * What Docker keeps in a container's "-init" layer (mount points runc
 * creates): they are not the container's changes, so diff and commit skip
 * them, as dockerd does by keeping them below the read-write layer.
 */
const INIT_PATHS = new Set(RUNTIME_MOUNT_POINTS);

export function goFileMode(st: Stats | BigIntStats): number {
  const m = Number(st.mode);
  let out = m & 0o777;
  if ((m & 0o4000) !== 0) out += MODE_SETUID;
  if ((m & 0o2000) !== 0) out += MODE_SETGID;
  if ((m & 0o1000) !== 0) out += MODE_STICKY;
  if (st.isDirectory()) out += MODE_DIR;
  else if (st.isSymbolicLink()) out += MODE_SYMLINK;
  else if (st.isFIFO()) out += MODE_PIPE;
  else if (st.isSocket()) out += MODE_SOCKET;
  else if (st.isCharacterDevice()) out += MODE_DEVICE + MODE_CHARDEV;
  else if (st.isBlockDevice()) out += MODE_DEVICE;
  return out;
}

/** Go's time.Time JSON (RFC 3339 with nanoseconds, trailing zeros trimmed), UTC. */
export function goTime(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const base = new Date(ms).toISOString().slice(0, 19);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${frac === '' ? '' : `.${frac}`}Z`;
}

/** Docker's header value: base64 (standard, padded) of the stat JSON in Go's field order. */
export function encodePathStat(st: PathStat): string {
  const json = JSON.stringify({ name: st.name, size: st.size, mode: st.mode, mtime: st.mtime, linkTarget: st.linkTarget });
  return Buffer.from(json).toString('base64');
}

/** A request path taken apart as Docker's archive code does it. */
interface SplitPath {
  /** Absolute, cleaned, no trailing slash (except "/"). */
  clean: string;
  /** Resolve the last component too (trailing "/" or "/."). */
  followLast: boolean;
  /** The name Docker reports and uses as the archive's top entry. */
  base: string;
}

function splitPath(p: string): SplitPath {
  const raw = p === '' ? '/' : p;
  const clean = posix.normalize(`/${raw}`).replace(/(.)\/+$/, '$1');
  const dotted = /\/\.$/.test(raw) || raw === '.';
  const followLast = clean === '/' || dotted || raw.endsWith('/');
  const base = dotted ? '.' : clean === '/' ? '/' : posix.basename(clean);
  return { clean, followLast, base };
}

/**
 * Where each mount covers the view below it: the host path its mount point
 * has in the mounts above it (its placeholder) → the mount's source, so a
 * tree walk crosses into mounts as the container sees them.
 */
function mountOverlay(view: readonly ViewMount[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of view) {
    const parts = m.dest.split('/').filter((x) => x !== '');
    if (parts.length === 0) continue;
    const above = view.filter((x) => x.dest.split('/').filter((y) => y !== '').length < parts.length);
    out.set(mapInView(above, parts).host, m.src);
  }
  return out;
}

/** Tars `abs` (not following symlinks) as `name`, directories recursively in name order. */
async function writeTree(w: StreamWriter, placeholder: string, name: string, links: Map<number, string>, over?: ReadonlyMap<string, string>): Promise<void> {
  // a mount point: its content comes from the mount's source, as the container sees it
  const abs = over?.get(placeholder) ?? placeholder;
  const st = await lstat(abs);
  const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: 0, mtime: Math.floor(st.mtimeMs / 1000) };
  if (st.isDirectory()) {
    await w.writeAll(encodeHeader({ ...base, name: `${name}/`, type: 'dir' }));
    let names: string[];
    try {
      names = (await readdir(abs)).sort();
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return; // removed meanwhile (live container)
      throw e;
    }
    for (const n of names) {
      try {
        await writeTree(w, `${abs}/${n}`, name === '' ? n : `${name}/${n}`, links, over);
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw e;
      }
    }
    return;
  }
  if (st.nlink > 1 && !st.isSymbolicLink()) {
    const first = links.get(st.ino);
    if (first !== undefined) {
      await w.writeAll(encodeHeader({ ...base, name, type: 'link', linkname: first }));
      return;
    }
    links.set(st.ino, name);
  }
  if (st.isSymbolicLink()) {
    await w.writeAll(encodeHeader({ ...base, name, type: 'symlink', linkname: await readlink(abs) }));
    return;
  }
  if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
    const type = st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? 'char' : 'block';
    await w.writeAll(encodeHeader({ ...base, name, type, devmajor: devMajor(st.rdev), devminor: devMinor(st.rdev) }));
    return;
  }
  if (!st.isFile()) return; // sockets are not archived (as Docker)
  const fh = await open(abs, C.O_RDONLY | C.O_NOFOLLOW);
  try {
    const fst = await fh.stat();
    const size = fst.size;
    await w.writeAll(encodeHeader({ ...base, name, type: 'file', size }));
    let left = size;
    while (left > 0) {
      const buf = Buffer.allocUnsafe(Math.min(left, READ_CHUNK));
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) {
        // Shrank while we read (a live container): pad with zeros, the header is out already.
        await w.write(Buffer.alloc(left));
        break;
      }
      left -= bytesRead;
      await w.write(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
    }
    const pad = tarPadding(size);
    if (pad.length > 0) await w.write(pad);
  } finally {
    await fh.close();
  }
}

function mountOption(m: Mount, key: string): string | undefined {
  const o = m.options.find((x) => x.startsWith(`${key}=`));
  return o?.slice(key.length + 1);
}

/** The lower directories (top first) and upper directory of an active snapshot. */
async function layersOf(snapshots: Snapshotter, id: string): Promise<{ upper: string; lowers: string[] }> {
  const ms = await snapshots.mounts(id);
  const m = ms[0];
  if (m !== undefined && m.type === 'overlay') {
    const lower = mountOption(m, 'lowerdir');
    return { upper: mountOption(m, 'upperdir') ?? snapshots.upperDir(id), lowers: lower === undefined ? [] : lower.split(':') };
  }
  return { upper: snapshots.upperDir(id), lowers: [] };
}

/** The first lower layer (top first) that has `rel`. */
async function inLowers(lowers: readonly string[], rel: string): Promise<Stats | undefined> {
  for (const l of lowers) {
    const st = await lstatIfExists(join(l, rel));
    if (st !== undefined) return st;
  }
  return undefined;
}

export interface Change {
  Path: string;
  /** 0 modified, 1 added, 2 deleted. */
  Kind: 0 | 1 | 2;
}

export class ContainerFs {
  constructor(private readonly d: ContainerFsDeps) {}

  private running(rec: ContainerRecord): boolean {
    return rec.State.Status === 'running' || rec.State.Status === 'paused';
  }

  /** A read-only overlay of the snapshot (its upper over its lowers): no upper/work dir in use. */
  private async readOnlyView(id: string): Promise<Mount[]> {
    const ms = await this.d.snapshots.mounts(id);
    const m = ms[0];
    if (ms.length === 1 && m !== undefined && m.type === 'overlay') {
      const { upper, lowers } = await layersOf(this.d.snapshots, id);
      return [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${[upper, ...lowers].join(':')}`, 'ro'] }];
    }
    if (ms.length === 1 && m !== undefined && m.type === 'bind') return [{ type: 'bind', source: m.source, options: ['rbind', 'ro'] }];
    return ms;
  }

  /**
   * Runs `fn` with the container's root filesystem: the live mount of a
   * running container ('read'/'write'), else the snapshot mounted on a
   * private directory that is unmounted and removed afterwards, whatever
   * happens. 'snapshot' always uses a private read-only view.
   */
  async withRootfs<T>(ref: string, fn: (root: string, rec: ContainerRecord) => Promise<T>, access: Access = 'read'): Promise<T> {
    const rec = this.d.containers.get(ref).rec;
    const id = rec.Id;
    if (access !== 'snapshot' && this.running(rec)) return fn(this.d.containers.rootfs(id), rec);
    const mounts = access === 'write' ? await this.d.snapshots.mounts(id) : await this.readOnlyView(id);
    const dir = join(dirname(this.d.containers.bundle(id)), `.fs-${id.slice(0, 12)}-${randomBytes(4).toString('hex')}`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    try {
      try {
        mountAll(this.d.sys, mounts, dir);
      } catch (e) {
        // Kernels with overlay's index feature refuse an upper dir in use as a
        // lower elsewhere: a running container's live mount is then the view.
        if (!(e instanceof SysError && e.code === 'EBUSY') || !this.running(rec)) throw e;
        return await fn(this.d.containers.rootfs(id), rec);
      }
      try {
        return await fn(dir, rec);
      } finally {
        try {
          unmountAll(this.d.sys, dir);
        } catch (e) {
          this.d.log.warn('unmounting a temporary rootfs failed', { id, dir, err: errorMessage(e) });
        }
      }
    } finally {
      await rmdir(dir).catch((e: unknown) => this.d.log.warn('removing a temporary mount point failed', { dir, err: errorMessage(e) }));
    }
  }

  /** The container's view for cp: its rootfs at `/`, then the mounts the host can reach. */
  private async view(root: string, rec: ContainerRecord): Promise<ViewMount[]> {
    return [{ dest: '/', src: root, rw: !rec.HostConfig.ReadonlyRootfs }, ...(await this.d.containers.viewMounts(rec.Id))];
  }

  /** Host path of `p` in the view: parents resolved, the last component only when asked. */
  private async hostPath(view: readonly ViewMount[], sp: SplitPath): Promise<{ host: string; mount: ViewMount }> {
    if (sp.followLast) return resolveInView(view, sp.clean);
    const parent = await resolveInView(view, posix.dirname(sp.clean));
    const r = mapInView(view, [...parent.path.split('/').filter((x) => x !== ''), posix.basename(sp.clean)]);
    const rel = relative(r.mount.src, r.host);
    if (rel.startsWith('..')) throw new InternalError(`path ${sp.clean} resolved outside the container's root`);
    return r;
  }

  private async statIn(view: readonly ViewMount[], ref: string, path: string): Promise<{ st: PathStat; host: string; sp: SplitPath }> {
    const sp = splitPath(path);
    const notFound = (): NotFoundError => new NotFoundError(`Could not find the file ${path} in container ${ref}`);
    let host: string;
    try {
      host = (await this.hostPath(view, sp)).host;
    } catch (e) {
      if (e instanceof InvalidArgumentError) throw notFound();
      throw e;
    }
    let st: BigIntStats;
    try {
      st = await lstat(host, { bigint: true });
    } catch (e) {
      const c = errnoCode(e);
      if (c === 'ENOENT' || c === 'ENOTDIR') throw notFound();
      throw e;
    }
    let linkTarget = '';
    if (st.isSymbolicLink()) linkTarget = (await resolveInView(view, sp.clean)).path;
    return { st: { name: sp.base, size: Number(st.size), mode: goFileMode(st), mtime: goTime(st.mtimeNs), linkTarget }, host, sp };
  }

  /** HEAD /containers/{id}/archive. */
  async stat(ref: string, path: string): Promise<PathStat> {
    return this.withRootfs(ref, async (root, rec) => (await this.statIn(await this.view(root, rec), ref, path)).st);
  }

  /**
   * GET /containers/{id}/archive: `begin` receives the stat (for the header)
   * once the path is known to exist and returns where the tar goes.
   */
  async getArchive(ref: string, path: string, begin: (st: PathStat) => Writable): Promise<void> {
    await this.withRootfs(ref, async (root, rec) => {
      const view = await this.view(root, rec);
      const { st, host, sp } = await this.statIn(view, ref, path);
      const out = begin(st);
      const w = new StreamWriter(out, 'archive output');
      const name = sp.base === '/' ? '.' : sp.base;
      await writeTree(w, host, name, new Map(), mountOverlay(view));
      await w.write(tarTrailer());
      out.end();
      this.d.events.publish('container', 'archive-path', rec.Id, { image: rec.Config.Image, name: rec.Name, path });
    });
  }

  /** PUT /containers/{id}/archive: extracts `tar` into the directory at `path`. */
  async putArchive(ref: string, path: string, tar: Readable, noOverwriteDirNonDir: boolean): Promise<void> {
    await this.withRootfs(
      ref,
      async (root, rec) => {
        const sp = splitPath(path);
        const { host: target, path: containerDir, mount } = await resolveInView(await this.view(root, rec), sp.clean);
        const st = await lstatIfExists(target);
        if (st === undefined) throw new NotFoundError(`Could not find the file ${path} in container ${ref}`);
        // moby's ErrRootFSReadOnly / ErrVolumeReadonly
        if (!mount.rw) throw new ForbiddenError(mount.dest === '/' ? 'container rootfs is marked read-only' : 'mounted volume is marked read-only');
        if (!st.isDirectory()) throw new InvalidArgumentError('extraction point is not a directory');
        // Re-encoded entry by entry so each can be checked before applyTar sees it.
        const checked = checkEntries(tar, target, containerDir, noOverwriteDirNonDir);
        await applyTar(this.d.sys, target, checked, { overlayWhiteouts: false });
        this.d.events.publish('container', 'extract-to-dir', rec.Id, { image: rec.Config.Image, name: rec.Name, path });
      },
      'write',
    );
  }

  /** GET /containers/{id}/export: the merged rootfs, without what runc mounted on the live one. */
  async export(ref: string, out: () => Writable): Promise<void> {
    await this.withRootfs(
      ref,
      async (root, rec) => {
        const o = out();
        const w = new StreamWriter(o, 'archive output');
        const links = new Map<number, string>();
        for (const n of (await readdir(root)).sort()) await writeTree(w, join(root, n), n, links);
        await w.write(tarTrailer());
        o.end();
        this.d.events.publish('container', 'export', rec.Id, { image: rec.Config.Image, name: rec.Name });
      },
      'snapshot',
    );
  }

  /** GET /containers/{id}/changes, by Docker's rules for overlay (pkg/archive changes()). */
  async changes(ref: string): Promise<Change[] | null> {
    const rec = this.d.containers.get(ref).rec;
    const { upper, lowers } = await layersOf(this.d.snapshots, rec.Id);
    const walk = async (rel: string): Promise<Change[]> => {
      const out: Change[] = [];
      const abs = rel === '' ? upper : join(upper, rel);
      let names: string[];
      try {
        names = (await readdir(abs)).sort();
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') return out;
        throw e;
      }
      for (const n of names) {
        const r = rel === '' ? n : `${rel}/${n}`;
        const st = await lstatIfExists(join(upper, r));
        if (st === undefined) continue;
        const path = `/${r}`;
        const init = INIT_PATHS.has(r);
        if (st.isCharacterDevice() && st.rdev === 0) {
          if (!init) out.push({ Path: path, Kind: 2 });
          continue;
        }
        if (init && !st.isDirectory()) continue;
        const lower = init ? st : await inLowers(lowers, r);
        if (st.isDirectory()) {
          const opq = this.d.sys.lgetxattr(join(upper, r), 'trusted.overlay.opaque');
          const opaque = opq !== undefined && opq.length === 1 && opq[0] === 0x79;
          const below = await walk(r);
          if (opaque) out.push({ Path: path, Kind: 2 });
          else if (lower === undefined) out.push({ Path: path, Kind: 1 });
          else if (!lower.isDirectory() || (lower.mode !== st.mode && !init) || below.length > 0) out.push({ Path: path, Kind: 0 });
          out.push(...below);
          continue;
        }
        out.push({ Path: path, Kind: lower === undefined ? 1 : 0 });
      }
      return out;
    };
    const list = await walk('');
    return list.length === 0 ? null : list;
  }

  /** POST /commit: the container's changes as a new image layer on its image. */
  async commit(ctx: Ctx, ref: string, opts: CommitOptions): Promise<string> {
    const l = this.d.containers.get(ref);
    const rec = l.rec;
    const id = rec.Id;
    const base = this.d.images.index.byId(rec.Image as Digest);
    if (base === undefined) throw new NotFoundError(`No such image: ${rec.Image}`);
    let tags: string[] = [];
    if (opts.repo !== undefined && opts.repo !== '') {
      const r = parseReference(opts.repo);
      if (r.digest !== undefined) throw new InvalidArgumentError('refusing to create a tag with a digest reference');
      if (opts.tag !== undefined && opts.tag !== '') {
        if (!isValidTag(opts.tag)) throw new InvalidArgumentError('invalid tag format');
        tags = [fullString(withTag(r, opts.tag))];
      } else tags = [fullString(withDefaultTag(r))];
    } else if (opts.tag !== undefined && opts.tag !== '') throw new InvalidArgumentError('tag requires a repository name');
    const containerConfig = containerConfigOf(rec);
    const requested = parseCommitConfig(opts.config);
    const changes = opts.changes ?? [];
    const config = requested === undefined ? applyChanges(containerConfig, changes) : mergeConfig(applyChanges(requested, changes), containerConfig);

    const lease = this.d.leases.create({ expiresInMs: 3600_000 });
    try {
      const { upper, lowers } = await layersOf(this.d.snapshots, id);
      let paused = false;
      if (opts.pause && rec.State.Status === 'running') {
        await this.d.runc.pause(id);
        paused = true;
      }
      let stored: { digest: Digest; size: number };
      try {
        const raw = new PassThrough({ highWaterMark: 1 << 20 });
        const diffDone = writeDiff(this.d.sys, upper, raw).catch((e: unknown) => {
          raw.destroy(e instanceof Error ? e : new InternalError(String(e)));
          throw e;
        });
        // The blob is the uncompressed tar, so its digest is the diff ID: one pass.
        const ingest = this.d.content.ingest(ctx, Readable.from(filterDiff(raw, lowers, new Set(RUNTIME_MOUNT_POINTS))));
        const [s] = await Promise.all([ingest.catch((e: unknown) => {
          raw.destroy();
          throw e;
        }), diffDone]);
        stored = s;
      } finally {
        if (paused) await this.d.runc.resume(id).catch((e: unknown) => this.d.log.warn('resuming after commit failed', { id, err: errorMessage(e) }));
      }
      lease.add(stored.digest);
      const empty = stored.size <= EMPTY_TAR_SIZE;
      const now = new Date().toISOString();
      const bc = base.config;
      const hist: HistoryEntry = { created: now, created_by: (rec.Config.Cmd ?? []).join(' ') };
      if (opts.author !== undefined && opts.author !== '') hist.author = opts.author;
      if (opts.comment !== undefined && opts.comment !== '') hist.comment = opts.comment;
      if (empty) hist.empty_layer = true;
      const imageConfig: ImageConfig = {
        architecture: bc.architecture,
        os: bc.os,
        ...(bc.variant !== undefined ? { variant: bc.variant } : {}),
        ...(bc['os.version'] !== undefined ? { 'os.version': bc['os.version'] } : {}),
        created: now,
        ...(opts.author !== undefined && opts.author !== '' ? { author: opts.author } : {}),
        ...(opts.comment !== undefined && opts.comment !== '' ? { comment: opts.comment } : {}),
        config,
        container: id,
        container_config: containerConfig,
        rootfs: { type: 'layers', diff_ids: empty ? [...bc.rootfs.diff_ids] : [...bc.rootfs.diff_ids, stored.digest] },
        history: [...(bc.history ?? []), hist],
      };
      const cbytes = Buffer.from(JSON.stringify(imageConfig));
      const c = await this.d.content.put(ctx, cbytes, { digest: digestOf(cbytes) });
      lease.add(c.digest);
      const manifest: ImageManifest = {
        schemaVersion: 2,
        mediaType: MediaType.dockerManifest,
        config: { mediaType: MediaType.dockerConfig, digest: c.digest, size: c.size },
        layers: empty ? [...base.manifest.layers] : [...base.manifest.layers, { mediaType: MediaType.dockerLayer, digest: stored.digest, size: stored.size }],
      };
      const mbytes = Buffer.from(JSON.stringify(manifest));
      const m = await this.d.content.put(ctx, mbytes, { digest: digestOf(mbytes) });
      lease.add(m.digest);
      const layers = await this.d.images.unpack(ctx, manifest, imageConfig);
      const img = this.d.images.register({ manifestDigest: m.digest, manifest, configDigest: c.digest, config: imageConfig, tags, parent: rec.Image }, layers);
      const imageRef = tags[0] !== undefined ? familiarString(parseReference(tags[0])) : '';
      this.d.events.publish('container', 'commit', id, { comment: opts.comment ?? '', imageID: img.record.id, imageRef, image: rec.Config.Image, name: rec.Name });
      return img.record.id;
    } finally {
      lease.release();
    }
  }

  /** POST /containers/{id}/update: resources and restart policy, Docker's UpdateContainer rules. */
  async update(ref: string, raw: unknown): Promise<{ Warnings: string[] }> {
    const l = this.d.containers.get(ref);
    const rec = l.rec;
    const u = parseUpdate(raw);
    const old = rec.HostConfig;
    const hc: HostConfigIn = { ...old, RestartPolicy: { ...old.RestartPolicy } };
    const conflict = (msg: string): ConflictError => new ConflictError(`Cannot update container ${rec.Id}: ${msg}`);
    if (u.NanoCpus > 0 && old.CpuPeriod > 0) throw conflict('Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set');
    if (u.NanoCpus > 0 && old.CpuQuota > 0) throw conflict('Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');
    if (u.CpuPeriod > 0 && old.NanoCpus > 0) throw conflict('Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set');
    if (u.CpuQuota > 0 && old.NanoCpus > 0) throw conflict('Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');
    if (u.CpuShares !== 0) hc.CpuShares = u.CpuShares;
    if (u.NanoCpus !== 0) hc.NanoCpus = u.NanoCpus;
    if (u.CpuPeriod !== 0) hc.CpuPeriod = u.CpuPeriod;
    if (u.CpuQuota !== 0) hc.CpuQuota = u.CpuQuota;
    if (u.CpusetCpus !== '') hc.CpusetCpus = u.CpusetCpus;
    if (u.CpusetMems !== '') hc.CpusetMems = u.CpusetMems;
    if (u.Memory !== 0) {
      if (u.Memory > old.MemorySwap && u.MemorySwap === 0) {
        throw conflict('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
      }
      hc.Memory = u.Memory;
    }
    if (u.MemorySwap !== 0) hc.MemorySwap = u.MemorySwap;
    if (u.MemoryReservation !== 0) hc.MemoryReservation = u.MemoryReservation;
    if (u.PidsLimit !== undefined) hc.PidsLimit = u.PidsLimit;
    if (hc.Memory > 0 && hc.Memory < 6 * 1024 * 1024) throw new InvalidArgumentError('Minimum memory limit allowed is 6MB');
    if (hc.MemorySwap > 0 && hc.MemorySwap < hc.Memory) throw new InvalidArgumentError('Minimum memoryswap limit should be larger than memory limit, see usage');
    if (u.RestartPolicy !== undefined && u.RestartPolicy.Name !== '') {
      if (old.AutoRemove && u.RestartPolicy.Name !== 'no') throw conflict('Restart policy cannot be updated because AutoRemove is enabled for the container');
      hc.RestartPolicy = u.RestartPolicy;
    }
    if (this.running(rec)) {
      try {
        await this.d.runc.update(rec.Id, ociResources(hc));
      } catch (e) {
        throw new InternalError(`Cannot update container ${rec.Id}: ${errorMessage(e)}`, { cause: e });
      }
    }
    rec.HostConfig = hc;
    this.d.containers.save(rec);
    this.d.events.publish('container', 'update', rec.Id, { image: rec.Config.Image, name: rec.Name });
    return { Warnings: [] };
  }
}

/**
 * The request tar, entry by entry, re-encoded after checks that need the
 * target's current state: Docker's noOverwriteDirNonDir. Parents are
 * resolved inside the target so the check never looks through a symlink.
 */
async function* checkEntries(tar: Readable, target: string, containerDir: string, noOverwriteDirNonDir: boolean): AsyncGenerator<Buffer> {
  tar.on('error', () => {});
  const reader = new TarReader(tar, { maxEntrySize: 64 * 1024 ** 3 });
  for (;;) {
    const h = await reader.next();
    if (h === undefined) break;
    if (noOverwriteDirNonDir) {
      const rel = cleanEntryName(h.name);
      if (rel !== '') {
        const parent = await resolveInRoot(target, posix.dirname(rel) === '.' ? '/' : posix.dirname(rel));
        const st = await lstatIfExists(join(parent, posix.basename(rel)));
        const where = posix.join(containerDir, rel);
        if (st !== undefined && st.isDirectory() && h.type !== 'dir') {
          throw new InvalidArgumentError(`cannot overwrite directory "${where}" with non-directory "${h.name}"`);
        }
        if (st !== undefined && !st.isDirectory() && h.type === 'dir') {
          throw new InvalidArgumentError(`cannot overwrite non-directory "${where}" with directory "${h.name}"`);
        }
      }
    }
    yield* copyEntry(reader, h);
  }
  await reader.drain();
  yield tarTrailer();
}


/** The container's Config as an image config (Docker's commit keeps every field). */
function containerConfigOf(rec: ContainerRecord): ContainerConfig {
  const c = rec.Config;
  const out: ContainerConfig = {
    Hostname: c.Hostname,
    Domainname: c.Domainname,
    User: c.User,
    AttachStdin: c.AttachStdin,
    AttachStdout: c.AttachStdout,
    AttachStderr: c.AttachStderr,
  };
  if (c.ExposedPorts !== undefined) out.ExposedPorts = c.ExposedPorts;
  out.Tty = c.Tty;
  out.OpenStdin = c.OpenStdin;
  out.StdinOnce = c.StdinOnce;
  if (c.Env !== null) out.Env = [...c.Env];
  out.Cmd = c.Cmd;
  if (c.Healthcheck !== undefined) out.Healthcheck = c.Healthcheck;
  out.Image = c.Image;
  out.Volumes = c.Volumes;
  out.WorkingDir = c.WorkingDir;
  out.Entrypoint = c.Entrypoint;
  out.OnBuild = c.OnBuild;
  out.Labels = { ...c.Labels };
  if (c.StopSignal !== undefined) out.StopSignal = c.StopSignal;
  return out;
}

type Obj = Record<string, unknown>;

function strList(v: unknown, k: string): string[] | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (typeof v === 'string' && (k === 'Cmd' || k === 'Entrypoint')) return [v];
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) throw new InvalidArgumentError(`json: cannot unmarshal ${typeof v} into Go struct field Config.${k} of type []string`);
  return v;
}

/** The optional commit body: a container.Config; unknown fields are ignored. */
function parseCommitConfig(raw: unknown): ContainerConfig | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidArgumentError(`json: cannot unmarshal ${Array.isArray(raw) ? 'array' : typeof raw} into Go value of type container.Config`);
  const o = raw as Obj;
  if (Object.keys(o).length === 0) return undefined;
  const c: ContainerConfig = {};
  for (const k of ['User', 'WorkingDir', 'StopSignal', 'Hostname', 'Domainname', 'Image'] as const) {
    const v = o[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') throw new InvalidArgumentError(`json: cannot unmarshal ${typeof v} into Go struct field Config.${k} of type string`);
    c[k] = v;
  }
  for (const k of ['Cmd', 'Entrypoint', 'Env', 'OnBuild'] as const) {
    const v = strList(o[k], k);
    if (v === undefined) continue;
    if (k === 'Env') {
      if (v !== null) c.Env = v;
    } else c[k] = v;
  }
  for (const k of ['ExposedPorts', 'Volumes'] as const) {
    const v = o[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidArgumentError(`json: cannot unmarshal ${typeof v} into Go struct field Config.${k}`);
    c[k] = Object.fromEntries(Object.keys(v).map((x) => [x, {}]));
  }
  const labels = o['Labels'];
  if (labels !== undefined && labels !== null) {
    if (typeof labels !== 'object' || Array.isArray(labels) || !Object.values(labels).every((x) => typeof x === 'string')) {
      throw new InvalidArgumentError('json: cannot unmarshal into Go struct field Config.Labels of type map[string]string');
    }
    c.Labels = labels as Record<string, string>;
  }
  return c;
}

/** Docker's commit merge(): the request's config wins, the container's fills the gaps. */
function mergeConfig(user: ContainerConfig, ctr: ContainerConfig): ContainerConfig {
  const u: ContainerConfig = { ...user };
  if ((u.User ?? '') === '') u.User = ctr.User ?? '';
  if (u.ExposedPorts === undefined) u.ExposedPorts = ctr.ExposedPorts ?? {};
  else u.ExposedPorts = { ...(ctr.ExposedPorts ?? {}), ...u.ExposedPorts };
  if (u.Env === undefined || u.Env.length === 0) u.Env = ctr.Env ?? [];
  else {
    const env = [...u.Env];
    for (const e of ctr.Env ?? []) {
      const k = e.split('=')[0];
      if (!env.some((x) => x.split('=')[0] === k)) env.push(e);
    }
    u.Env = env;
  }
  u.Labels = { ...(ctr.Labels ?? {}), ...(u.Labels ?? {}) };
  if ((u.Entrypoint ?? []).length === 0) {
    if ((u.Cmd ?? []).length === 0) u.Cmd = ctr.Cmd ?? null;
    if (u.Entrypoint === undefined || u.Entrypoint === null) u.Entrypoint = ctr.Entrypoint ?? null;
  }
  if ((u.OnBuild ?? []).length === 0) u.OnBuild = ctr.OnBuild ?? null;
  if (u.Volumes === undefined || u.Volumes === null) u.Volumes = ctr.Volumes ?? null;
  else u.Volumes = { ...(ctr.Volumes ?? {}), ...u.Volumes };
  if (u.StopSignal === undefined && ctr.StopSignal !== undefined) u.StopSignal = ctr.StopSignal;
  if ((u.WorkingDir ?? '') === '') u.WorkingDir = ctr.WorkingDir ?? '';
  for (const k of ['Hostname', 'Domainname', 'Image'] as const) if (u[k] === undefined && ctr[k] !== undefined) u[k] = ctr[k];
  return u;
}

interface UpdateBody {
  CpuShares: number;
  NanoCpus: number;
  CpuPeriod: number;
  CpuQuota: number;
  CpusetCpus: string;
  CpusetMems: string;
  Memory: number;
  MemorySwap: number;
  MemoryReservation: number;
  PidsLimit: number | undefined;
  RestartPolicy: { Name: string; MaximumRetryCount: number } | undefined;
}

/** container.UpdateConfig; zero values mean "unchanged", as in Docker. */
function parseUpdate(raw: unknown): UpdateBody {
  const o: Obj = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Obj) : {};
  if (raw !== undefined && raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) throw new InvalidArgumentError('json: cannot unmarshal into Go value of type container.UpdateConfig');
  const num = (k: string): number => {
    const v = o[k];
    if (v === undefined || v === null) return 0;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidArgumentError(`json: cannot unmarshal ${typeof v} into Go struct field UpdateConfig.${k} of type int64`);
    return v;
  };
  const str = (k: string): string => {
    const v = o[k];
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') throw new InvalidArgumentError(`json: cannot unmarshal ${typeof v} into Go struct field UpdateConfig.${k} of type string`);
    return v;
  };
  let rp: UpdateBody['RestartPolicy'];
  const r = o['RestartPolicy'];
  if (typeof r === 'object' && r !== null && !Array.isArray(r)) {
    const ro = r as Obj;
    const name = typeof ro['Name'] === 'string' ? ro['Name'] : '';
    const max = typeof ro['MaximumRetryCount'] === 'number' ? ro['MaximumRetryCount'] : 0;
    if (name !== '' && !['no', 'always', 'unless-stopped', 'on-failure'].includes(name)) throw new InvalidArgumentError(`invalid restart policy '${name}'`);
    if (max > 0 && name !== 'on-failure') throw new InvalidArgumentError(`maximum retry count cannot be used with restart policy '${name}'`);
    rp = { Name: name, MaximumRetryCount: max };
  }
  const pl = o['PidsLimit'];
  if (pl !== undefined && pl !== null && typeof pl !== 'number') throw new InvalidArgumentError('json: cannot unmarshal into Go struct field UpdateConfig.PidsLimit of type int64');
  return {
    CpuShares: num('CpuShares'),
    NanoCpus: num('NanoCpus'),
    CpuPeriod: num('CpuPeriod'),
    CpuQuota: num('CpuQuota'),
    CpusetCpus: str('CpusetCpus'),
    CpusetMems: str('CpusetMems'),
    Memory: num('Memory'),
    MemorySwap: num('MemorySwap'),
    MemoryReservation: num('MemoryReservation'),
    PidsLimit: typeof pl === 'number' ? pl : undefined,
    RestartPolicy: rp,
  };
}

/** The cgroup settings runc update applies (Docker's toContainerdResources). */
function ociResources(hc: HostConfigIn): OciResources {
  const r: OciResources = {};
  const memory: NonNullable<OciResources['memory']> = {};
  if (hc.Memory > 0) memory.limit = hc.Memory;
  if (hc.MemorySwap !== 0) memory.swap = hc.MemorySwap;
  if (hc.MemoryReservation > 0) memory.reservation = hc.MemoryReservation;
  if (Object.keys(memory).length > 0) r.memory = memory;
  const cpu: NonNullable<OciResources['cpu']> = {};
  if (hc.CpuShares > 0) cpu.shares = hc.CpuShares;
  if (hc.NanoCpus > 0) {
    cpu.period = 100000;
    cpu.quota = Math.round((hc.NanoCpus * 100000) / 1e9);
  } else {
    if (hc.CpuPeriod > 0) cpu.period = hc.CpuPeriod;
    if (hc.CpuQuota !== 0) cpu.quota = hc.CpuQuota;
  }
  if (hc.CpusetCpus !== '') cpu.cpus = hc.CpusetCpus;
  if (hc.CpusetMems !== '') cpu.mems = hc.CpusetMems;
  if (Object.keys(cpu).length > 0) r.cpu = cpu;
  if (hc.PidsLimit !== null && hc.PidsLimit !== 0) r.pids = { limit: hc.PidsLimit > 0 ? hc.PidsLimit : -1 };
  return r;
}
