/**
 * The overlayfs snapshotter, laid out like docker's overlay2:
 *
 *   <root>/snapshots/<id>/fs         the layer's files (committed) or the upper dir (active)
 *   <root>/snapshots/<id>/work       overlay's workdir (active only)
 *   <root>/snapshots/<id>/meta.json  kind, key, parent, createdAt, link, size
 *   <root>/l/<short> -> ../snapshots/<id>/fs
 *   <root>/tmp/                      half-made snapshots; crashCleanup() empties it
 *
 * `<id>` is derived from the key (sha256), so stat/remove need no index and
 * any key (a container ID, a build step name) is a safe directory name. The
 * short links keep a deep image's lowerdir option under a page.
 *
 * A snapshot directory appears only by rename() of a complete directory
 * from tmp/, and disappears by rename() into tmp/ before deletion, so a
 * kill -9 at any point leaves either a whole snapshot or garbage in tmp/.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, stat, symlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import type { Ctx } from '../base/ctx.js';
import { DigestStream, type Digest } from '../base/digest.js';
import { CancelledError, ConflictError, InternalError, NotFoundError, errnoCode } from '../base/errors.js';
import { ensureDir, syncDir, writeFileAtomic } from '../base/fsutil.js';
import { KeyedMutex } from '../base/mutex.js';
import type { Sys } from '../base/sys.js';
import type { ApplyLayerOptions, Mount, SnapshotInfo, SnapshotKind, Snapshotter, StagedLayer } from './types.js';
import { applyTar, type ApplyTarOptions } from './unpack.js';

interface Meta {
  kind: SnapshotKind;
  key: string;
  parent?: string;
  createdAt: string;
  /** Name of the short link in <root>/l. */
  link: string;
  /** The layer's size by Docker's rule (committed snapshots; see applyTar). */
  size?: number;
}

export interface OverlayOptions {
  /** Passed to applyTar (entry size limit). */
  unpack?: ApplyTarOptions;
}

const SHORT_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
/** 10 base-32 characters: 50 bits, unique per store (checked at creation). */
function shortName(): string {
  const b = randomBytes(10);
  let s = '';
  for (const x of b) s += SHORT_ALPHABET[x & 31];
  return s;
}

function isMeta(v: unknown): v is Meta {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  return (
    (m['kind'] === 'committed' || m['kind'] === 'active') &&
    typeof m['key'] === 'string' &&
    typeof m['createdAt'] === 'string' &&
    typeof m['link'] === 'string' &&
    (m['parent'] === undefined || typeof m['parent'] === 'string')
  );
}

export class OverlaySnapshotter implements Snapshotter {
  private readonly locks = new KeyedMutex();
  private readonly snapDir: string;
  private readonly linkDir: string;
  private readonly tmpDir: string;
  /** Staged layers of this process: handle id → its dir under tmp/. */
  private readonly staged = new Map<string, string>();

  constructor(
    private readonly sys: Sys,
    readonly root: string,
    private readonly opts: OverlayOptions = {},
  ) {
    this.snapDir = join(root, 'snapshots');
    this.linkDir = join(root, 'l');
    this.tmpDir = join(root, 'tmp');
  }

  /** Creates the store's directories; call once before use. */
  async init(): Promise<void> {
    await ensureDir(this.snapDir, 0o700);
    await ensureDir(this.linkDir, 0o700);
    await ensureDir(this.tmpDir, 0o700);
  }

  /**
   * Removes what a kill -9 can leave: half-made or half-deleted snapshots
   * in tmp/ and short links whose snapshot never appeared.
   */
  async crashCleanup(): Promise<void> {
    await this.init();
    for (const n of await readdir(this.tmpDir)) await rm(join(this.tmpDir, n), { recursive: true, force: true });
    for (const n of await readdir(this.linkDir)) {
      const p = join(this.linkDir, n);
      try {
        await stat(p);
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') await rm(p, { force: true });
      }
    }
  }

  private id(key: string): string {
    return createHash('sha256').update(key).digest('hex');
  }

  private dirOf(key: string): string {
    return join(this.snapDir, this.id(key));
  }

  upperDir(key: string): string {
    return join(this.dirOf(key), 'fs');
  }

  private async readMeta(key: string): Promise<Meta | undefined> {
    let raw: Buffer;
    try {
      raw = await readFile(join(this.dirOf(key), 'meta.json'));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw e;
    }
    const m: unknown = JSON.parse(raw.toString('utf8'));
    if (!isMeta(m) || m.key !== key) throw new InternalError(`snapshot ${key}: corrupt metadata`);
    return m;
  }

  private info(m: Meta): SnapshotInfo {
    const i: { key: string; kind: SnapshotKind; createdAt: Date; parent?: string } = { key: m.key, kind: m.kind, createdAt: new Date(m.createdAt) };
    if (m.parent !== undefined) i.parent = m.parent;
    return i;
  }

  async stat(key: string): Promise<SnapshotInfo | undefined> {
    const m = await this.readMeta(key);
    return m === undefined ? undefined : this.info(m);
  }

  private async tmp(): Promise<string> {
    const d = join(this.tmpDir, randomBytes(12).toString('hex'));
    await mkdir(d, 0o700);
    return d;
  }

  /** Creates the short link to a snapshot's fs (dangling until the rename). */
  private async makeLink(id: string): Promise<string> {
    for (;;) {
      const s = shortName();
      try {
        await symlink(`../snapshots/${id}/fs`, join(this.linkDir, s));
        return s;
      } catch (e) {
        if (errnoCode(e) !== 'EEXIST') throw e;
      }
    }
  }

  /** The committed chain from `parent` down, top first, as short-link paths. */
  private async lowerDirs(parent: string): Promise<string[]> {
    const out: string[] = [];
    let k: string | undefined = parent;
    while (k !== undefined) {
      const m = await this.readMeta(k);
      if (m === undefined) throw new NotFoundError(`snapshot ${k} not found (parent chain)`);
      out.push(join(this.linkDir, m.link));
      k = m.parent;
      if (out.length > 500) throw new InternalError(`snapshot ${parent}: parent chain too deep or cyclic`);
    }
    return out;
  }

  /**
   * Moves a fully prepared tmp dir into place as snapshot `key`. Under the
   * parent's lock (always child, then parent: no cycles), so remove(parent)
   * cannot slip between the check and the rename.
   */
  private async publish(key: string, tmp: string, meta: Meta): Promise<void> {
    const parent = meta.parent;
    const go = async (): Promise<void> => {
      if (parent !== undefined) {
        const p = await this.readMeta(parent);
        if (p === undefined || p.kind !== 'committed') throw new NotFoundError(`parent snapshot ${parent} not found`);
      }
      await writeFileAtomic(join(tmp, 'meta.json'), JSON.stringify(meta));
      await rename(tmp, this.dirOf(key));
      await syncDir(this.snapDir);
    };
    if (parent === undefined) await go();
    else await this.locks.run(parent, go);
  }

  async applyLayer(ctx: Ctx, chainId: Digest, parent: Digest | undefined, diffId: Digest, tar: Readable, opts: ApplyLayerOptions = {}): Promise<{ size: number }> {
    return this.locks.run(chainId, async () => {
      const existing = await this.readMeta(chainId);
      if (existing !== undefined) {
        if (existing.kind !== 'committed') throw new ConflictError(`snapshot ${chainId} exists and is not committed`);
        tar.resume();
        await new Promise<void>((resolve, reject) => {
          if (tar.readableEnded) resolve();
          tar.once('end', resolve);
          tar.once('error', reject);
        });
        return { size: existing.size ?? 0 };
      }
      await this.checkParent(parent);
      ctx.signal.throwIfAborted();
      // The caller vouches for the bytes (see ApplyLayerOptions): hash nothing.
      if (opts.verifiedDiffId === true) {
        const staged = await this.stageUnlocked(ctx, tar);
        return this.commitUnlocked(ctx, staged, chainId, parent, diffId);
      }
      const digest = new DigestStream('sha256', { digest: diffId });
      // A small tar can flow through and fail verification before applyTar
      // starts reading; its error then reaches applyTar through the iterator.
      digest.on('error', () => {});
      const onSourceError = (e: Error): void => {
        digest.destroy(e);
      };
      tar.on('error', onSourceError);
      try {
        tar.pipe(digest);
        const staged = await this.stageUnlocked(ctx, digest);
        return await this.commitUnlocked(ctx, staged, chainId, parent, diffId);
      } catch (e) {
        tar.unpipe(digest);
        digest.destroy();
        throw e;
      } finally {
        tar.off('error', onSourceError);
      }
    });
  }

  async stage(ctx: Ctx, tar: Readable | AsyncIterable<Buffer>): Promise<StagedLayer> {
    return this.stageUnlocked(ctx, tar);
  }

  /** Unpacks into a fresh dir under tmp/ (where crashCleanup finds it after a kill -9). */
  private async stageUnlocked(ctx: Ctx, tar: Readable | AsyncIterable<Buffer>): Promise<StagedLayer> {
    ctx.signal.throwIfAborted();
    const tmp = await this.tmp();
    const abort = new AbortController();
    const onAbort = (): void => abort.abort(new CancelledError('layer unpack cancelled'));
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await mkdir(join(tmp, 'fs'), 0o755);
      const { size } = await applyTar(this.sys, join(tmp, 'fs'), cancellable(tar, abort.signal), this.opts.unpack);
      const h: StagedLayer = { id: basename(tmp), size };
      this.staged.set(h.id, tmp);
      return h;
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
    }
  }

  async stageActive(ctx: Ctx, key: string, size: number): Promise<StagedLayer> {
    return this.locks.run(key, async () => {
      const m = await this.readMeta(key);
      if (m === undefined || m.kind !== 'active') throw new NotFoundError(`active snapshot ${key} not found`);
      ctx.signal.throwIfAborted();
      // Out of sight first (a crash now leaves garbage in tmp/, not a half snapshot), then drop what only an active one has.
      const tmp = join(this.tmpDir, randomBytes(12).toString('hex'));
      await rename(this.dirOf(key), tmp);
      await rm(join(this.linkDir, m.link), { force: true });
      await rm(join(tmp, 'work'), { recursive: true, force: true });
      await rm(join(tmp, 'meta.json'), { force: true });
      const h: StagedLayer = { id: basename(tmp), size };
      this.staged.set(h.id, tmp);
      return h;
    });
  }

  async commitStaged(ctx: Ctx, staged: StagedLayer, chainId: Digest, parent: Digest | undefined, verified: { diffId: Digest }): Promise<{ size: number }> {
    return this.locks.run(chainId, async () => {
      const existing = await this.readMeta(chainId);
      if (existing !== undefined) {
        if (existing.kind !== 'committed') throw new ConflictError(`snapshot ${chainId} exists and is not committed`);
        await this.abortStaged(staged);
        return { size: existing.size ?? 0 };
      }
      await this.checkParent(parent);
      return this.commitUnlocked(ctx, staged, chainId, parent, verified.diffId);
    });
  }

  async abortStaged(staged: StagedLayer): Promise<void> {
    const tmp = this.staged.get(staged.id);
    if (tmp === undefined) return;
    this.staged.delete(staged.id);
    await rm(tmp, { recursive: true, force: true });
  }

  private async checkParent(parent: Digest | undefined): Promise<void> {
    if (parent === undefined) return;
    const p = await this.readMeta(parent);
    if (p === undefined || p.kind !== 'committed') throw new NotFoundError(`parent snapshot ${parent} not found`);
  }

  /** Publishes a staged dir as committed `chainId` (caller holds chainId's lock); consumes the handle. */
  private async commitUnlocked(ctx: Ctx, staged: StagedLayer, chainId: Digest, parent: Digest | undefined, diffId: Digest): Promise<{ size: number }> {
    const tmp = this.staged.get(staged.id);
    if (tmp === undefined) throw new InternalError(`staged layer ${staged.id} is unknown or already used`);
    this.staged.delete(staged.id);
    let link: string | undefined;
    try {
      ctx.signal.throwIfAborted();
      link = await this.makeLink(this.id(chainId));
      const meta: Meta = { kind: 'committed', key: chainId, createdAt: new Date().toISOString(), link, size: staged.size };
      if (parent !== undefined) meta.parent = parent;
      await this.publish(chainId, tmp, meta);
      ctx.log.debug('layer applied', { chainId, diffId, size: staged.size });
      return { size: staged.size };
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      if (link !== undefined) await rm(join(this.linkDir, link), { force: true });
      throw e;
    }
  }

  async prepare(ctx: Ctx, key: string, parent: Digest | undefined): Promise<Mount[]> {
    return this.locks.run(key, async () => {
      if ((await this.readMeta(key)) !== undefined) throw new ConflictError(`snapshot ${key} already exists`);
      if (parent !== undefined) {
        const p = await this.readMeta(parent);
        if (p === undefined || p.kind !== 'committed') throw new NotFoundError(`parent snapshot ${parent} not found`);
      }
      ctx.signal.throwIfAborted();
      const id = this.id(key);
      const tmp = await this.tmp();
      let link: string | undefined;
      try {
        await mkdir(join(tmp, 'fs'), 0o755);
        await mkdir(join(tmp, 'work'), 0o700);
        link = await this.makeLink(id);
        const meta: Meta = { kind: 'active', key, createdAt: new Date().toISOString(), link };
        if (parent !== undefined) meta.parent = parent;
        await this.publish(key, tmp, meta);
      } catch (e) {
        await rm(tmp, { recursive: true, force: true });
        if (link !== undefined) await rm(join(this.linkDir, link), { force: true });
        throw e;
      }
      return this.mounts(key);
    });
  }

  async mounts(key: string): Promise<Mount[]> {
    const m = await this.readMeta(key);
    if (m === undefined) throw new NotFoundError(`snapshot ${key} not found`);
    const dir = this.dirOf(key);
    if (m.kind === 'active') {
      if (m.parent === undefined) return [{ type: 'bind', source: join(dir, 'fs'), options: ['rbind', 'rw'] }];
      const lowers = await this.lowerDirs(m.parent);
      return [
        {
          type: 'overlay',
          source: 'overlay',
          options: [`lowerdir=${lowers.join(':')}`, `upperdir=${join(dir, 'fs')}`, `workdir=${join(dir, 'work')}`],
        },
      ];
    }
    const lowers = await this.lowerDirs(key);
    if (lowers.length === 1) return [{ type: 'bind', source: join(dir, 'fs'), options: ['rbind', 'ro'] }];
    // Two or more lowers and no upper: overlay mounts read-only by itself.
    return [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${lowers.join(':')}`, 'ro'] }];
  }

  async remove(key: string): Promise<void> {
    await this.locks.run(key, async () => {
      const m = await this.readMeta(key);
      if (m === undefined) throw new NotFoundError(`snapshot ${key} not found`);
      if (m.kind === 'committed') {
        const children = (await this.list()).filter((s) => s.parent === key);
        if (children.length > 0) throw new ConflictError(`snapshot ${key} has ${children.length} child snapshot(s)`);
      }
      // Disappear atomically first, then delete at leisure.
      const doomed = join(this.tmpDir, `rm-${randomBytes(12).toString('hex')}`);
      await rename(this.dirOf(key), doomed);
      await rm(join(this.linkDir, m.link), { force: true });
      await rm(doomed, { recursive: true, force: true });
    });
  }

  async list(): Promise<SnapshotInfo[]> {
    const out: SnapshotInfo[] = [];
    for (const id of await readdir(this.snapDir)) {
      let raw: Buffer;
      try {
        raw = await readFile(join(this.snapDir, id, 'meta.json'));
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') continue; // removed meanwhile
        throw e;
      }
      const m: unknown = JSON.parse(raw.toString('utf8'));
      if (isMeta(m)) out.push(this.info(m));
    }
    return out;
  }

  /** Bytes on disk (du: allocated blocks, hardlinks counted once) of the snapshot's own directory. */
  async usage(key: string): Promise<number> {
    const m = await this.readMeta(key);
    if (m === undefined) throw new NotFoundError(`snapshot ${key} not found`);
    return diskUsage(join(this.dirOf(key), 'fs'));
  }

  /** The short link name, for tests and diagnostics. */
  async linkOf(key: string): Promise<string | undefined> {
    const m = await this.readMeta(key);
    if (m === undefined) return undefined;
    return readlink(join(this.linkDir, m.link));
  }
}

/** du -s in bytes: lstat walk, inodes counted once. */
export async function diskUsage(dir: string): Promise<number> {
  const seen = new Set<number>();
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(d);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return;
      throw e;
    }
    const sts = await Promise.all(
      names.map(async (n) => {
        const p = join(d, n);
        try {
          return { p, st: await lstat(p) };
        } catch (e) {
          if (errnoCode(e) === 'ENOENT') return undefined;
          throw e;
        }
      }),
    );
    for (const x of sts) {
      if (x === undefined) continue;
      if (x.st.nlink > 1) {
        if (seen.has(x.st.ino)) continue;
        seen.add(x.st.ino);
      }
      total += x.st.blocks * 512;
      if (x.st.isDirectory()) await walk(x.p);
    }
  };
  const st = await lstat(dir);
  total += st.blocks * 512;
  await walk(dir);
  return total;
}

/**
 * `tar`'s chunks until `signal` aborts; then the pending read fails (also
 * when the source has stalled), so applyTar stops and its caller removes
 * the half-made dir.
 */
async function* cancellable(tar: Readable | AsyncIterable<Buffer>, signal: AbortSignal): AsyncGenerator<Buffer> {
  // Errors reach us through the iterator; one emitted after we stopped
  // iterating must not crash the process.
  if (tar instanceof Readable) tar.on('error', () => {});
  const it = (tar as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  let fail: ((e: unknown) => void) | undefined;
  const onAbort = (): void => fail?.(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      signal.throwIfAborted();
      const r = await new Promise<IteratorResult<Buffer>>((resolve, reject) => {
        fail = reject;
        it.next().then(resolve, reject);
      });
      if (r.done === true) return;
      yield r.value;
    }
  } finally {
    fail = undefined;
    signal.removeEventListener('abort', onAbort);
  }
}
