/**
 * LocalContentStore: the ContentStore on a local filesystem.
 *
 *   <root>/blobs/<alg>/<hex>                     committed, immutable (mode 0444)
 *   <root>/ingest/<sha256(ref)>/{data,ref,startedat}   in-flight writes
 *
 * The filesystem is the only state: nothing survives in memory that kill -9
 * could lose. A blob becomes visible only through `rename(2)` of a fully
 * written, fsynced and verified ingest file, so readers never see a torn
 * blob. The only in-memory state is the per-ref lock (an ingest has at most
 * one writer per process) and a per-digest lock around publishing.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream, writev as fsWritev } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, utimes, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Ctx } from '../base/ctx.js';
import { digestAlgorithm, digestHex, digestOf, isDigest, type Digest, type DigestAlgorithm } from '../base/digest.js';
import { CancelledError, InvalidArgumentError, NotFoundError, errnoCode } from '../base/errors.js';
import { syncDir } from '../base/fsutil.js';
import type { Logger } from '../base/log.js';
import { KeyedMutex } from '../base/mutex.js';
import { MAX_JSON_BYTES } from '../base/stream.js';
import type { BlobInfo, ContentStore, ContentWriter, Expected, IngestStatus } from './types.js';

/** Large buffers: per-chunk overhead (hash call, syscall, promise) dominates small ones. */
export const CONTENT_HWM = 1024 * 1024;
const ALGORITHMS: readonly DigestAlgorithm[] = ['sha256', 'sha512'];
const MAX_REF_LENGTH = 4096;
const TMP_PREFIX = '.tmp-';

/** Something that pins a resource against GC for the life of a lease (see leases.ts). */
export interface LeaseRegistry {
  addResource(leaseId: string, resource: string): void;
}

export interface LocalContentStoreOptions {
  readonly log?: Logger;
  /** When set, a blob committed under `ctx.lease` is added to that lease. */
  readonly leases?: LeaseRegistry;
}

export interface WriterOptions {
  /**
   * Known up front (e.g. from a manifest descriptor): the hash follows the
   * digest's algorithm and a body larger than `size` fails while streaming
   * instead of filling the disk.
   */
  readonly expected?: Expected;
}

function assertDigest(d: unknown): Digest {
  if (typeof d !== 'string' || !isDigest(d)) throw new InvalidArgumentError(`invalid digest: ${String(d)}`);
  return d;
}

function assertRef(ref: unknown): string {
  if (typeof ref !== 'string' || ref.length === 0 || ref.length > MAX_REF_LENGTH) {
    throw new InvalidArgumentError('invalid ingest ref: must be a non-empty string');
  }
  return ref;
}

function checkExpected(expected: unknown): Expected {
  if (expected === undefined) return {};
  if (typeof expected !== 'object' || expected === null) throw new InvalidArgumentError('invalid expected descriptor');
  const e = expected as { digest?: unknown; size?: unknown };
  const out: { digest?: Digest; size?: number } = {};
  if (e.digest !== undefined) out.digest = assertDigest(e.digest);
  if (e.size !== undefined) {
    if (typeof e.size !== 'number' || !Number.isSafeInteger(e.size) || e.size < 0) {
      throw new InvalidArgumentError(`invalid expected size: ${String(e.size)}`);
    }
    out.size = e.size;
  }
  return out;
}

function notFound(d: Digest): NotFoundError {
  return new NotFoundError(`content digest ${d}: not found`);
}

function checkSignal(ctx: Ctx): void {
  if (ctx.signal.aborted) throw new CancelledError('operation cancelled', { cause: ctx.signal.reason });
}

/** Hashes a file's bytes (used on resume and when the commit algorithm differs). */
async function hashFile(path: string, hash: Hash): Promise<number> {
  let n = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: CONTENT_HWM })) {
    const b = chunk as Buffer;
    hash.update(b);
    n += b.length;
  }
  return n;
}

function writevAll(fd: number, bufs: Buffer[], cb: (err: Error | null) => void): void {
  let want = 0;
  for (const b of bufs) want += b.length;
  // libuv loops over short writes and IOV_MAX; a short total is an error.
  fsWritev(fd, bufs, (err, written) => {
    if (err) cb(err);
    else if (written !== want) cb(new Error(`short write: ${written} of ${want} bytes`));
    else cb(null);
  });
}

export class LocalContentStore implements ContentStore {
  private readonly refLocks = new KeyedMutex();
  private readonly publishLocks = new KeyedMutex();
  /** Refs with a live writer in this process; lets cleanIngests skip them. */
  private readonly activeRefs = new Set<string>();
  private readonly log: Logger | undefined;
  private readonly leases: LeaseRegistry | undefined;

  constructor(
    readonly root: string,
    opts: LocalContentStoreOptions = {},
  ) {
    if (typeof root !== 'string' || root === '') throw new InvalidArgumentError('content store root must be a path');
    this.log = opts.log;
    this.leases = opts.leases;
  }

  /** Creates the layout and removes debris a crash left behind. Call once before use. */
  async init(): Promise<void> {
    for (const alg of ALGORITHMS) await mkdir(join(this.root, 'blobs', alg), { recursive: true, mode: 0o755 });
    await mkdir(this.ingestRoot(), { recursive: true, mode: 0o755 });
    // Half-created ingest directories (crash between mkdir and rename) and
    // any temp file in blobs/ are garbage; complete ingests are kept for resume.
    for (const name of await readdir(this.ingestRoot())) {
      const dir = join(this.ingestRoot(), name);
      if (name.startsWith(TMP_PREFIX) || (await readRefFile(dir)) === undefined) {
        await rm(dir, { recursive: true, force: true });
        this.log?.debug('removed incomplete ingest', { dir });
      }
    }
    for (const alg of ALGORITHMS) {
      const dir = join(this.root, 'blobs', alg);
      for (const name of await readdir(dir)) {
        if (name.startsWith('.')) await rm(join(dir, name), { recursive: true, force: true });
      }
    }
  }

  blobPath(digest: Digest): string {
    const d = assertDigest(digest);
    return join(this.root, 'blobs', digestAlgorithm(d), digestHex(d));
  }

  async info(digest: Digest): Promise<BlobInfo> {
    const d = assertDigest(digest);
    try {
      const st = await stat(this.blobPath(d));
      return { digest: d, size: st.size, committedAt: st.mtime };
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') throw notFound(d);
      throw e;
    }
  }

  async has(digest: Digest): Promise<boolean> {
    try {
      await stat(this.blobPath(digest));
      return true;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return false;
      throw e;
    }
  }

  async reader(digest: Digest, range?: { start: number; end?: number }): Promise<Readable> {
    const d = assertDigest(digest);
    const fh = await this.openBlob(d);
    try {
      let start = 0;
      let end: number | undefined;
      if (range !== undefined) {
        const size = (await fh.stat()).size;
        start = range.start;
        if (!Number.isSafeInteger(start) || start < 0 || start > size) {
          throw new InvalidArgumentError(`invalid range start ${String(range.start)} for blob of ${size} bytes`);
        }
        if (range.end !== undefined) {
          if (!Number.isSafeInteger(range.end) || range.end < start - 1) {
            throw new InvalidArgumentError(`invalid range end ${String(range.end)}`);
          }
          end = Math.min(range.end, size - 1);
        }
      }
      // An empty range: createReadStream cannot express end < start.
      if (end !== undefined && end < start) {
        await fh.close();
        return Readable.from([]);
      }
      const opts: { start: number; highWaterMark: number; end?: number } = { start, highWaterMark: CONTENT_HWM };
      if (end !== undefined) opts.end = end;
      return fh.createReadStream(opts);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  async readBlob(digest: Digest, max: number = MAX_JSON_BYTES): Promise<Buffer> {
    const d = assertDigest(digest);
    const fh = await this.openBlob(d);
    try {
      const size = (await fh.stat()).size;
      if (size > max) throw new InvalidArgumentError(`blob ${d} is ${size} bytes, over the limit of ${max} bytes`);
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  }

  async writer(ctx: Ctx, ref: string, opts: WriterOptions = {}): Promise<LocalContentWriter> {
    const r = assertRef(ref);
    const expected = checkExpected(opts.expected);
    checkSignal(ctx);
    const release = await this.lockRef(ctx, r);
    try {
      return await this.openWriter(ctx, r, expected, release);
    } catch (e) {
      release();
      throw e;
    }
  }

  async ingest(ctx: Ctx, body: Readable | AsyncIterable<Buffer>, expected?: Expected): Promise<{ digest: Digest; size: number }> {
    const exp = checkExpected(expected);
    // Already stored: drain instead of writing, so a tar entry or HTTP body still advances.
    if (exp.digest !== undefined && (await this.has(exp.digest))) {
      const size = (await this.touch(exp.digest)).size;
      if (exp.size === undefined || exp.size === size) {
        for await (const _ of body) void _;
        this.addToLease(ctx, exp.digest);
        return { digest: exp.digest, size };
      }
    }
    // A private ref: nobody can resume it, so any failure aborts it.
    const w = await this.writer(ctx, `ingest-${randomBytes(12).toString('hex')}`, { expected: exp });
    try {
      await pipeline(body, w.stream(), { signal: ctx.signal });
      return await w.commit(exp);
    } catch (e) {
      await w.abort().catch(() => {});
      if (ctx.signal.aborted && !(e instanceof InvalidArgumentError)) {
        throw new CancelledError('ingest cancelled', { cause: e });
      }
      throw e;
    }
  }

  async put(ctx: Ctx, data: Buffer, expected?: Expected): Promise<{ digest: Digest; size: number }> {
    if (!Buffer.isBuffer(data)) throw new InvalidArgumentError('put: data must be a Buffer');
    const exp = checkExpected(expected);
    const alg = exp.digest !== undefined ? digestAlgorithm(exp.digest) : 'sha256';
    const digest = digestOf(data, alg);
    if (exp.digest !== undefined && digest !== exp.digest) {
      throw new InvalidArgumentError(`unexpected commit digest ${digest}, expected ${exp.digest}: failed precondition`);
    }
    if (exp.size !== undefined && data.length !== exp.size) {
      throw new InvalidArgumentError(`unexpected commit size ${data.length}, expected ${exp.size}: failed precondition`);
    }
    return this.ingest(ctx, Readable.from([data]), { digest, size: data.length });
  }

  async delete(digest: Digest): Promise<void> {
    const d = assertDigest(digest);
    try {
      await rm(this.blobPath(d));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') throw notFound(d);
      throw e;
    }
  }

  async *list(): AsyncIterable<BlobInfo> {
    for (const alg of ALGORITHMS) {
      const dir = join(this.root, 'blobs', alg);
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') continue;
        throw e;
      }
      for (const name of names) {
        const d = `${alg}:${name}`;
        if (!isDigest(d)) continue;
        try {
          const st = await stat(join(dir, name));
          yield { digest: d, size: st.size, committedAt: st.mtime };
        } catch (e) {
          if (errnoCode(e) !== 'ENOENT') throw e; // deleted while listing
        }
      }
    }
  }

  async listIngests(): Promise<IngestStatus[]> {
    const out: IngestStatus[] = [];
    for (const name of await this.ingestDirs()) {
      const dir = join(this.ingestRoot(), name);
      const ref = await readRefFile(dir);
      if (ref === undefined) continue;
      try {
        const st = await stat(join(dir, 'data'));
        out.push({ ref, offset: st.size, updatedAt: st.mtime });
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw e;
      }
    }
    return out;
  }

  async cleanIngests(olderThanMs: number): Promise<number> {
    if (typeof olderThanMs !== 'number' || !(olderThanMs >= 0)) throw new InvalidArgumentError('cleanIngests: olderThanMs must be >= 0');
    const cutoff = Date.now() - olderThanMs;
    let n = 0;
    for (const name of await this.ingestDirs()) {
      const dir = join(this.ingestRoot(), name);
      const ref = await readRefFile(dir);
      if (ref !== undefined && this.activeRefs.has(ref)) continue;
      let mtime: number;
      try {
        mtime = (await stat(join(dir, 'data'))).mtimeMs;
      } catch {
        try {
          mtime = (await stat(dir)).mtimeMs;
        } catch {
          continue;
        }
      }
      if (mtime > cutoff) continue;
      // Under the ref lock, and re-checked: a writer may have resumed meanwhile.
      const doRemove = async (): Promise<boolean> => {
        const st = await stat(join(dir, 'data')).catch(() => undefined);
        if (st !== undefined && st.mtimeMs > cutoff) return false;
        await rm(dir, { recursive: true, force: true });
        return true;
      };
      if (ref !== undefined ? await this.refLocks.run(ref, doRemove) : await doRemove()) n++;
    }
    return n;
  }

  /** @internal Removes the ingest of `ref` once no writer holds it. */
  async cleanRef(ref: string): Promise<void> {
    await this.refLocks.run(ref, () => rm(this.ingestDir(ref), { recursive: true, force: true }));
  }

  // ---- internals ----

  private ingestRoot(): string {
    return join(this.root, 'ingest');
  }

  private ingestDir(ref: string): string {
    return join(this.ingestRoot(), createHash('sha256').update(ref).digest('hex'));
  }

  private async ingestDirs(): Promise<string[]> {
    try {
      return (await readdir(this.ingestRoot())).filter((n) => !n.startsWith('.'));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return [];
      throw e;
    }
  }

  private async openBlob(d: Digest): Promise<FileHandle> {
    try {
      return await open(this.blobPath(d), 'r');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') throw notFound(d);
      throw e;
    }
  }

  /**
   * Holds `ref` until the returned function is called. A second writer for
   * the same ref waits for the first to commit, abort or close; its ctx
   * signal cancels the wait.
   */
  private lockRef(ctx: Ctx, ref: string): Promise<() => void> {
    return new Promise((resolve, reject) => {
      let cancelled = false;
      const onAbort = (): void => {
        cancelled = true;
        reject(new CancelledError(`waiting for ingest ref "${ref}" cancelled`, { cause: ctx.signal.reason }));
      };
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      void this.refLocks.run(ref, () =>
        new Promise<void>((release) => {
          ctx.signal.removeEventListener('abort', onAbort);
          if (cancelled) {
            release();
            return;
          }
          this.activeRefs.add(ref);
          let done = false;
          resolve(() => {
            if (done) return;
            done = true;
            this.activeRefs.delete(ref);
            release();
          });
        }),
      );
    });
  }

  private async openWriter(ctx: Ctx, ref: string, expected: Expected, release: () => void): Promise<LocalContentWriter> {
    const dir = this.ingestDir(ref);
    const alg = expected.digest !== undefined ? digestAlgorithm(expected.digest) : 'sha256';
    const hash = createHash(alg);
    let offset = 0;
    const existing = await readRefFile(dir);
    if (existing !== undefined) {
      if (existing !== ref) throw new InvalidArgumentError(`ingest directory ${dir} belongs to ref "${existing}"`);
      // Resume: the running hash must cover the bytes already on disk.
      try {
        offset = await hashFile(join(dir, 'data'), hash);
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw e;
      }
    } else {
      await rm(dir, { recursive: true, force: true });
      // Build the directory aside and rename it in, so a crash never leaves a ref-less ingest.
      const tmp = join(this.ingestRoot(), `${TMP_PREFIX}${randomBytes(8).toString('hex')}`);
      await mkdir(tmp, { mode: 0o755 });
      try {
        await writeFile(join(tmp, 'ref'), ref);
        await writeFile(join(tmp, 'startedat'), new Date().toISOString());
        await writeFile(join(tmp, 'data'), '', { mode: 0o644 });
        await rename(tmp, dir);
      } catch (e) {
        await rm(tmp, { recursive: true, force: true });
        throw e;
      }
    }
    const fh = await open(join(dir, 'data'), 'a', 0o644);
    return new LocalContentWriter(this, ctx, ref, dir, fh, hash, alg, offset, expected.size, release);
  }

  /** @internal Publishes a verified ingest file as `digest`. */
  async publish(ctx: Ctx, dataPath: string, digest: Digest): Promise<void> {
    const target = this.blobPath(digest);
    await this.publishLocks.run(digest, async () => {
      if (await this.has(digest)) {
        // Someone else committed it: keep theirs, refresh its mtime so a GC
        // grace period covers the caller that is about to reference it.
        await this.touch(digest);
        return;
      }
      await rename(dataPath, target);
      await syncDir(join(this.root, 'blobs', digestAlgorithm(digest)));
    });
    this.addToLease(ctx, digest);
  }

  private async touch(digest: Digest): Promise<{ size: number }> {
    const p = this.blobPath(digest);
    const now = new Date();
    await utimes(p, now, now).catch((e: unknown) => {
      if (errnoCode(e) !== 'ENOENT') throw e;
    });
    return { size: (await stat(p)).size };
  }

  private addToLease(ctx: Ctx, digest: Digest): void {
    if (ctx.lease !== undefined && this.leases !== undefined) this.leases.addResource(ctx.lease, digest);
  }
}

async function readRefFile(dir: string): Promise<string | undefined> {
  try {
    return await readFile(join(dir, 'ref'), 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return undefined;
    throw e;
  }
}

/** open: owns the ref; dropped: ref released, bytes kept; done: committed or aborted. */
type WriterState = 'open' | 'dropped' | 'done';

/**
 * One ingest's writer. It owns the ref lock from `writer()` until commit,
 * abort or close. If its stream is destroyed before ending (a dropped
 * connection), the lock is released and the bytes kept for a resume.
 */
export class LocalContentWriter implements ContentWriter {
  private state: WriterState = 'open';
  private ws: Writable | undefined;
  private size: number;
  /** The write in flight: the fd must not be closed under it (destroy does not wait). */
  private inflight: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: LocalContentStore,
    private readonly ctx: Ctx,
    readonly ref: string,
    private readonly dir: string,
    private readonly fh: FileHandle,
    private readonly hash: Hash,
    private readonly algorithm: DigestAlgorithm,
    private readonly startOffset: number,
    private readonly maxSize: number | undefined,
    private readonly releaseLock: () => void,
  ) {
    this.size = startOffset;
  }

  get offset(): number {
    return this.startOffset;
  }

  /** Bytes in the ingest so far (offset plus what this writer appended). */
  get written(): number {
    return this.size;
  }

  stream(): Writable {
    if (this.state !== 'open') throw new InvalidArgumentError(`ingest ref "${this.ref}" is closed`);
    if (this.ws !== undefined) return this.ws;
    const fd = this.fh.fd;
    const append = (bufs: Buffer[], cb: (err?: Error | null) => void): void => {
      let n = 0;
      for (const b of bufs) n += b.length;
      if (this.maxSize !== undefined && this.size + n > this.maxSize) {
        cb(new InvalidArgumentError(`content is larger than its declared size ${this.maxSize}`));
        return;
      }
      this.size += n;
      // Issue the write first, then hash the same (unmutated) buffers on the
      // main thread while the threadpool writes: cost is max(hash, write),
      // not the sum. cb waits for the write, so callers may reuse buffers.
      this.inflight = new Promise((resolve) => {
        writevAll(fd, bufs, (err) => {
          resolve();
          cb(err);
        });
      });
      for (const b of bufs) this.hash.update(b);
    };
    const ws = new Writable({
      highWaterMark: CONTENT_HWM,
      decodeStrings: true,
      write: (chunk: Buffer, _enc, cb) => append([chunk], cb),
      writev: (chunks, cb) => append(chunks.map((c) => c.chunk as Buffer), cb),
    });
    ws.on('close', () => {
      // Destroyed before finishing: the writer is dead, the data stays for a resume.
      if (!ws.writableFinished && this.state === 'open') void this.close();
    });
    this.ws = ws;
    return ws;
  }

  async commit(expected?: Expected): Promise<{ digest: Digest; size: number }> {
    const exp = checkExpected(expected);
    if (this.state !== 'open') throw new InvalidArgumentError(`ingest ref "${this.ref}" is closed`);
    const ws = this.ws;
    if (ws !== undefined) {
      if (!ws.writableEnded) throw new InvalidArgumentError(`commit on ref "${this.ref}" before its stream ended`);
      if (!ws.writableFinished) {
        await new Promise<void>((resolve, reject) => {
          ws.once('finish', resolve);
          ws.once('error', reject);
        });
      }
    }
    this.state = 'done';
    const data = join(this.dir, 'data');
    try {
      await this.inflight;
      await this.fh.sync();
      await this.fh.chmod(0o444);
      await this.fh.close();
      let digest = `${this.algorithm}:${this.hash.digest('hex')}` as Digest;
      if (exp.digest !== undefined && digestAlgorithm(exp.digest) !== this.algorithm) {
        // Caller did not announce the algorithm: rehash what is on disk.
        const h = createHash(digestAlgorithm(exp.digest));
        await hashFile(data, h);
        digest = `${digestAlgorithm(exp.digest)}:${h.digest('hex')}` as Digest;
      }
      const size = (await stat(data)).size;
      if (size !== this.size) {
        throw new InvalidArgumentError(`failed commit on ref "${this.ref}": ingest file is ${size} bytes, wrote ${this.size}: failed precondition`);
      }
      if (exp.size !== undefined && size !== exp.size) {
        throw new InvalidArgumentError(`failed commit on ref "${this.ref}": unexpected commit size ${size}, expected ${exp.size}: failed precondition`);
      }
      if (exp.digest !== undefined && digest !== exp.digest) {
        throw new InvalidArgumentError(`failed commit on ref "${this.ref}": unexpected commit digest ${digest}, expected ${exp.digest}: failed precondition`);
      }
      await this.store.publish(this.ctx, data, digest);
      await rm(this.dir, { recursive: true, force: true });
      return { digest, size };
    } catch (e) {
      // A failed verification poisons the ingest: drop it so a retry starts clean.
      await rm(this.dir, { recursive: true, force: true }).catch(() => {});
      throw e;
    } finally {
      await this.fh.close().catch(() => {});
      this.releaseLock();
    }
  }

  async abort(): Promise<void> {
    const prev = this.state;
    if (prev === 'done') return;
    this.state = 'done';
    if (prev === 'dropped') {
      // The ref lock is already given up: take it back to remove safely.
      await this.store.cleanRef(this.ref);
      return;
    }
    this.ws?.destroy();
    try {
      await this.inflight;
      await this.fh.close().catch(() => {});
      await rm(this.dir, { recursive: true, force: true });
    } finally {
      this.releaseLock();
    }
  }

  /** Releases the ref, keeping the written bytes so a later `writer(ref)` resumes. */
  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'dropped';
    if (this.ws !== undefined && !this.ws.destroyed) this.ws.destroy();
    try {
      await this.inflight;
      await this.fh.close();
    } finally {
      this.releaseLock();
    }
  }
}
