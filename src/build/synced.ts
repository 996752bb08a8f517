/**
 * Kept build contexts (`berth build`): instead of sending the whole folder
 * every time, the CLI sends a manifest of its entries with their stat
 * (size, mode, mtime and ctime in ns, inode), the daemon answers which
 * regular files it does not hold with exactly that stat, and the build
 * request then carries a tar of only those files (plus every directory and
 * symlink, which cost a header each). The daemon keeps one folder per
 * context under <data-root>/build/contexts/<key>, with a record per file:
 * the client stat it was sent with, its own inode stat since, and the
 * sha256 of its bytes (so COPY keys need not read it: BuildContext.digestOf).
 *
 * Why a client stat is enough to skip a file: every write to a file moves its
 * ctime (which no user can set back) and the client's stat is taken before
 * the bytes are read, so same (inode, size, mode, mtime, ctime) means the
 * bytes the daemon holds are the file's bytes, as with BuildKit's file
 * sync. The daemon re-checks its own copy's stat too: nothing else writes
 * it, but a changed copy is never trusted.
 *
 * The folder ends up as a full upload would have made it: entries not in
 * the manifest are removed first, then the tar is applied with the layer
 * extractor's rules. A build holds its context's lock until it ends, so
 * two builds of one folder take turns; if the folder changed between the
 * manifest and the upload (another build of it ran in between) the build
 * request fails with 409 and the CLI sends everything instead.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, type Stats } from 'node:fs';
import { lstat, readdir, readFile, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../base/errors.js';
import { ensureDir, writeFileAtomic } from '../base/fsutil.js';
import type { Logger } from '../base/log.js';
import type { Sys } from '../base/sys.js';
import { applyTar, cleanEntryName } from '../snapshots/unpack.js';
import { autoDecompress } from '../base/compress.js';
import type { TarHeader } from '../base/tar.js';
import { BuildContext, extractHashed } from './context.js';
import { YIELD_EVERY } from './copy.js';

/** One manifest entry: name, type (d, f, l), mode, size; mtime, ctime and inode as decimal strings (ns). */
export interface ManifestEntry {
  readonly n: string;
  readonly t: 'd' | 'f' | 'l';
  readonly m: number;
  readonly s: number;
  readonly mt: string;
  readonly ct: string;
  readonly i: string;
}

interface FileRecord {
  /** The client stat the bytes were sent with. */
  readonly c: string;
  readonly digest: string;
  /** Our copy's stat when written: a different one is not trusted. */
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

/** Contexts kept; the least recently used beyond this are removed. */
const MAX_CONTEXTS = 8;
const PENDING_TTL_MS = 10 * 60_000;

/** What a tar header says about a file besides its bytes (a kept copy must match all of it). */
function headerKey(h: TarHeader): string {
  const x = [...h.xattrs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v.toString('hex')}`);
  return `tar:${h.mode}:${h.uid}:${h.gid}:${h.mtime}:${h.size}:${x.join(',')}`;
}

function lstatIfExistsSync(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

/** The slot of a classic build's kept context: its tags and Dockerfile name. */
export function slotOf(tags: readonly string[], dockerfile: string | undefined): string {
  return createHash('sha256').update(`classic\0${dockerfile ?? ''}\0${[...tags].sort().join('\0')}`).digest('hex');
}

function clientKey(e: ManifestEntry): string {
  return `${e.s}:${e.m}:${e.mt}:${e.ct}:${e.i}`;
}

function parseManifest(v: unknown): { key: string; entries: ManifestEntry[] } {
  if (typeof v !== 'object' || v === null) throw new InvalidArgumentError('context manifest: not an object');
  const o = v as Record<string, unknown>;
  const key = o['key'];
  if (typeof key !== 'string' || !/^[a-f0-9]{64}$/.test(key)) throw new InvalidArgumentError('context manifest: key must be 64 hex digits');
  if (!Array.isArray(o['entries'])) throw new InvalidArgumentError('context manifest: entries must be a list');
  const entries: ManifestEntry[] = [];
  const seen = new Set<string>();
  for (const x of o['entries'] as unknown[]) {
    if (typeof x !== 'object' || x === null) throw new InvalidArgumentError('context manifest: bad entry');
    const e = x as Record<string, unknown>;
    const { n, t, m, s, mt, ct, i } = e;
    if (typeof n !== 'string' || (t !== 'd' && t !== 'f' && t !== 'l') || typeof m !== 'number' || typeof s !== 'number' || typeof mt !== 'string' || typeof ct !== 'string' || typeof i !== 'string') {
      throw new InvalidArgumentError('context manifest: bad entry');
    }
    const name = cleanEntryName(n);
    if (name === '' || name !== n || seen.has(name)) throw new InvalidArgumentError(`context manifest: bad or repeated name ${JSON.stringify(n)}`);
    seen.add(name);
    entries.push({ n: name, t, m, s, mt, ct, i });
  }
  return { key, entries };
}

export class ContextStore {
  private readonly locks = new Map<string, Promise<void>>();
  private readonly pending = new Map<string, { key: string; entries: ManifestEntry[]; expires: number }>();

  constructor(
    private readonly sys: Sys,
    private readonly dir: string,
    private readonly log?: Logger,
  ) {}

  private recordsPath(key: string): string {
    return join(this.dir, `${key}.json`);
  }

  private async loadRecords(key: string): Promise<Map<string, FileRecord>> {
    try {
      const v = JSON.parse(await readFile(this.recordsPath(key), 'utf8')) as Record<string, FileRecord>;
      return new Map(Object.entries(v));
    } catch {
      return new Map();
    }
  }

  /** POST /build/context: which files of the manifest must be sent; a token for the build request. */
  async plan(body: unknown): Promise<{ token: string; need: string[] }> {
    const { key, entries } = parseManifest(body);
    const records = await this.loadRecords(key);
    const need = entries.filter((e) => e.t === 'f' && records.get(e.n)?.c !== clientKey(e)).map((e) => e.n);
    const now = Date.now();
    for (const [t, p] of this.pending) if (p.expires < now) this.pending.delete(t);
    if (this.pending.size >= 64) throw new ConflictError('too many pending build contexts');
    const token = randomBytes(16).toString('hex');
    this.pending.set(token, { key, entries, expires: now + PENDING_TTL_MS });
    return { token, need };
  }

  /** Waits for the context's lock; resolves to its release. */
  private async lock(key: string): Promise<() => void> {
    for (;;) {
      const held = this.locks.get(key);
      if (held === undefined) break;
      await held;
    }
    let release!: () => void;
    const held = new Promise<void>((r) => {
      // Idempotent: releasing twice must not drop a lock someone else took since.
      release = () => {
        if (this.locks.get(key) === held) this.locks.delete(key);
        r();
      };
    });
    this.locks.set(key, held);
    return release;
  }

  /**
   * The build request of a planned context: applies `body` (the tar of the
   * needed files, directories and symlinks) and opens the folder. The
   * context's lock is held until the BuildContext is disposed.
   */
  async open(token: string, body: Readable, dockerfileName: string | undefined): Promise<BuildContext> {
    const p = this.pending.get(token);
    if (p === undefined) throw new NotFoundError('build context token unknown or expired: send the context again');
    this.pending.delete(token);
    const release = await this.lock(p.key);
    try {
      const root = join(this.dir, p.key);
      await ensureDir(this.dir, 0o700);
      await ensureDir(root, 0o700);
      const records = await this.loadRecords(p.key);
      const want = new Map(p.entries.map((e) => [e.n, e]));
      // Remove what the manifest no longer has (or has as another type) first, so the tar lands as on an empty folder.
      const prune = async (dir: string, rel: string): Promise<void> => {
        for (const d of readdirSync(dir, { withFileTypes: true })) {
          const r = rel === '' ? d.name : `${rel}/${d.name}`;
          const e = want.get(r);
          const same = e !== undefined && ((e.t === 'd' && d.isDirectory()) || (e.t === 'f' && d.isFile()) || (e.t === 'l' && d.isSymbolicLink()));
          if (!same) {
            await rm(join(dir, d.name), { recursive: true, force: true });
            records.delete(r);
          } else if (d.isDirectory()) await prune(join(dir, d.name), r);
        }
      };
      await prune(root, '');
      const sent = await extractHashed(this.sys, root, body);
      const c = await BuildContext.open(root, dockerfileName, async () => release());
      try {
        // The regular files as found by a walk of real directories: a name is
        // never resolved through a symlink. Synchronous: a folder the daemon
        // owns, whose metadata is in memory; a thread-pool round trip per
        // file would cost more than the lstat.
        const files = new Map<string, Stats>();
        let sinceYield = 0;
        const walk = async (dir: string, rel: string): Promise<void> => {
          for (const d of readdirSync(dir, { withFileTypes: true })) {
            if (++sinceYield >= YIELD_EVERY) {
              sinceYield = 0;
              await new Promise((r) => setImmediate(r));
            }
            const r = rel === '' ? d.name : `${rel}/${d.name}`;
            if (d.isDirectory()) await walk(join(dir, d.name), r);
            else if (d.isFile()) files.set(r, lstatSync(join(dir, d.name)));
          }
        };
        await walk(root, '');
        let changed = records.size !== p.entries.filter((e) => e.t === 'f').length;
        const next: Record<string, FileRecord> = {};
        for (const e of p.entries) {
          if (e.t !== 'f') continue;
          const st = files.get(e.n);
          if (st === undefined) throw new ConflictError(`build context changed while being sent (${e.n} missing): send it again`);
          const digest = sent?.get(e.n);
          let rec: FileRecord | undefined;
          if (digest !== undefined) rec = { c: clientKey(e), digest, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
          else {
            const old = records.get(e.n);
            if (old === undefined || old.c !== clientKey(e) || old.ino !== st.ino || old.size !== st.size || old.mtimeMs !== st.mtimeMs || old.ctimeMs !== st.ctimeMs || !st.isFile()) {
              throw new ConflictError(`build context changed while being sent (${e.n}): send it again`);
            }
            rec = old;
          }
          next[e.n] = rec;
          if (rec !== records.get(e.n)) changed = true;
          c.addDigest(st, rec.digest);
        }
        // Nothing sent and nothing gone: the records on disk already say this.
        if (changed) await writeFileAtomic(this.recordsPath(p.key), JSON.stringify(next), 0o600);
        else await utimes(this.recordsPath(p.key), new Date(), new Date()).catch(() => undefined); // its age orders eviction
      } catch (e) {
        // The records may no longer describe the folder: start it over next time.
        await rm(this.recordsPath(p.key), { force: true });
        await c.dispose();
        throw e;
      }
      void this.evict(p.key).catch(() => undefined);
      return c;
    } catch (e) {
      release();
      throw e;
    }
  }

  /**
   * A full context tar (the classic API: docker CLI, compose, docker-py)
   * applied over a folder kept from the last build in the same slot
   * (`slot`: the tags and Dockerfile name, see slotOf): a small file whose
   * bytes (hashed as they arrive), header and our copy's stat all match the
   * record is left as is instead of written again, entries the tar no
   * longer has are removed after. The folder then is what a fresh
   * extraction would make. A slot another build holds is not waited for:
   * that build gets a private temporary folder, as before.
   */
  async openTar(slot: string, body: Readable, dockerfileName: string | undefined, tmpRoot: string): Promise<BuildContext> {
    if (this.locks.has(slot)) return BuildContext.fromTar(this.sys, tmpRoot, body, dockerfileName);
    const release = await this.lock(slot);
    try {
      const root = join(this.dir, slot);
      await ensureDir(this.dir, 0o700);
      await ensureDir(root, 0o700);
      const records = await this.loadRecords(slot);
      const digests = new Map<string, string>();
      const seen = new Set<string>();
      let kept = 0;
      const t0 = performance.now();
      // Small files' header keys, for the next records (larger files are always written again).
      const headers = new Map<string, string>();
      // A file is kept when the tar header is the one recorded, our copy is untouched since (stat)
      // and its bytes equal the entry's: compared, which costs far less than hashing them again
      // (sha256 runs 200-300 MB/s here); the recorded digest is then the entry's.
      const keepFile = (rel: string, h: TarHeader, data: readonly Buffer[]): string | undefined => {
        headers.set(rel, headerKey(h));
        const r = records.get(rel);
        if (r === undefined || r.c !== headerKey(h)) return undefined;
        const path = join(root, rel);
        const st = lstatIfExistsSync(path);
        if (st === undefined || !st.isFile() || st.ino !== r.ino || st.size !== r.size || st.mtimeMs !== r.mtimeMs || st.ctimeMs !== r.ctimeMs) return undefined;
        if (!sameBytes(path, data, st.size)) return undefined;
        kept++;
        return r.digest;
      };
      try {
        const plain = body.pipe(autoDecompress());
        body.on('error', (e) => plain.destroy(e));
        await applyTar(this.sys, root, plain, { overlayWhiteouts: false, fileDigests: digests, keepFile, seen, countSize: false });
      } catch (e) {
        await rm(this.recordsPath(slot), { force: true });
        throw new InvalidArgumentError(`invalid build context: ${e instanceof Error ? e.message : String(e)}`);
      }
      const tApplied = performance.now();
      // What the tar did not name goes (the parents of named entries stay).
      for (const n of [...seen]) for (let i = n.lastIndexOf('/'); i > 0; i = n.lastIndexOf('/', i - 1)) seen.add(n.slice(0, i));
      let sinceYield = 0;
      const turn = async (): Promise<void> => {
        if (++sinceYield < YIELD_EVERY) return;
        sinceYield = 0;
        await new Promise((r) => setImmediate(r));
      };
      const prune = async (dir: string, rel: string): Promise<void> => {
        for (const d of readdirSync(dir, { withFileTypes: true })) {
          await turn();
          const r = rel === '' ? d.name : `${rel}/${d.name}`;
          if (!seen.has(r)) await rm(join(dir, d.name), { recursive: true, force: true });
          else if (d.isDirectory()) await prune(join(dir, d.name), r);
        }
      };
      await prune(root, '');
      const c = await BuildContext.open(root, dockerfileName, async () => release());
      try {
        const next: Record<string, FileRecord> = {};
        for (const [rel, digest] of digests) {
          await turn();
          const st = lstatIfExistsSync(join(root, rel));
          if (st === undefined || !st.isFile()) continue;
          const hk = headers.get(rel);
          if (hk !== undefined) next[rel] = { c: hk, digest, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
          c.addDigest(st, digest);
        }
        await writeFileAtomic(this.recordsPath(slot), JSON.stringify(next), 0o600);
      } catch (e) {
        await rm(this.recordsPath(slot), { force: true });
        await c.dispose();
        throw e;
      }
      void this.evict(slot).catch(() => undefined);
      this.log?.debug('build context kept', { files: digests.size, kept, applyMs: Math.round(tApplied - t0), restMs: Math.round(performance.now() - tApplied) });
      return c;
    } catch (e) {
      release();
      throw e;
    }
  }

  /** Keeps the MAX_CONTEXTS most recently used contexts (never one in use). */
  private async evict(current: string): Promise<void> {
    const keys = (await readdir(this.dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5));
    if (keys.length <= MAX_CONTEXTS) return;
    const aged = await Promise.all(keys.map(async (k) => ({ k, t: (await stat(this.recordsPath(k)).catch(() => undefined))?.mtimeMs ?? 0 })));
    aged.sort((a, b) => b.t - a.t);
    for (const { k } of aged.slice(MAX_CONTEXTS)) {
      if (k === current || this.locks.has(k)) continue;
      await rm(this.recordsPath(k), { force: true });
      await rm(join(this.dir, k), { recursive: true, force: true });
    }
  }

  /** POST /build/prune: drops every kept context not in use. */
  async prune(): Promise<void> {
    for (const n of await readdir(this.dir).catch(() => [] as string[])) {
      const k = n.replace(/\.json$/, '');
      if (this.locks.has(k)) continue;
      await rm(join(this.dir, n), { recursive: true, force: true });
    }
  }
}

/** Whether the file at `path` (of `size` bytes, a small one) holds exactly `data`. */
function sameBytes(path: string, data: readonly Buffer[], size: number): boolean {
  let len = 0;
  for (const b of data) len += b.length;
  if (len !== size) return false;
  let onDisk: Buffer;
  try {
    onDisk = readFileSync(path);
  } catch {
    return false;
  }
  if (onDisk.length !== size) return false;
  let off = 0;
  for (const b of data) {
    if (!b.equals(onDisk.subarray(off, off + b.length))) return false;
    off += b.length;
  }
  return true;
}
