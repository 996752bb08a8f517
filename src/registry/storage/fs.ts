/** The filesystem StorageDriver: plain files under one root, renames for commits. */
import { createReadStream } from 'node:fs';
import { open, readdir, rename, rm, stat, utimes, mkdir, type FileHandle } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { Readable } from 'node:stream';
import { errnoCode, InvalidArgumentError } from '../../base/errors.js';
import { readFileIfExists, writeFileAtomic, syncDir } from '../../base/fsutil.js';
import type { AppendWriter, StatInfo, StorageDriver } from './driver.js';

export class FsDriver implements StorageDriver {
  constructor(readonly root: string) {}

  /** Keys come from validated names and digests; this is a last guard against escaping the root. */
  path(key: string): string {
    if (key.includes('..') || key.startsWith('/') || key.includes('\0')) {
      throw new InvalidArgumentError(`invalid storage key ${key}`);
    }
    return join(this.root, key.split('/').join(sep));
  }

  async get(key: string): Promise<Buffer | undefined> {
    return readFileIfExists(this.path(key));
  }

  async put(key: string, data: Buffer | string): Promise<void> {
    const p = this.path(key);
    await mkdir(dirname(p), { recursive: true });
    await writeFileAtomic(p, data);
  }

  reader(key: string, offset = 0, end?: number): Readable {
    // 256 KiB reads: measured best for many concurrent large pulls (1 MiB and 4 MiB were slower).
    const opts: { start: number; end?: number; highWaterMark: number } = { start: offset, highWaterMark: 1 << 18 };
    if (end !== undefined) opts.end = end;
    return createReadStream(this.path(key), opts);
  }

  localPath(key: string): string {
    return this.path(key);
  }

  async open(key: string): Promise<FileHandle> {
    return open(this.path(key), 'r');
  }

  async writer(key: string): Promise<AppendWriter> {
    const p = this.path(key);
    await mkdir(dirname(p), { recursive: true });
    const fh = await open(p, 'a');
    let size = (await fh.stat()).size;
    let closed = false;
    return {
      get size() {
        return size;
      },
      async append(src, onChunk, onWritten) {
        let n = 0;
        // Counted per completed write, so after a failure `size` still matches the file (and the caller's running hash).
        const written = (k: number): void => {
          n += k;
          size += k;
        };
        const flushed = (bufs: Buffer[]): void => onWritten?.(size, bufs);
        if (isReadable(src)) await appendStream(fh, src, onChunk, written, flushed);
        else {
          for await (const chunk of src) {
            await writeAll(fh, [chunk], onChunk, written);
            flushed([chunk]);
          }
        }
        return n;
      },
      async close() {
        if (closed) return;
        closed = true;
        // No fsync here: an upload is made durable once, when `move` commits it.
        await fh.close();
      },
    };
  }

  async stat(key: string): Promise<StatInfo | undefined> {
    try {
      const s = await stat(this.path(key));
      return { size: s.size, mtimeMs: s.mtimeMs, isDir: s.isDirectory() };
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return undefined;
      throw e;
    }
  }

  async list(key: string): Promise<string[]> {
    try {
      return await readdir(this.path(key));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return [];
      throw e;
    }
  }

  /** Data synced before the rename and the directory after, so a crash never exposes a name without its bytes. */
  async move(from: string, to: string): Promise<void> {
    const src = this.path(from);
    const dst = this.path(to);
    const fh = await open(src, 'r');
    try {
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await mkdir(dirname(dst), { recursive: true });
    await rename(src, dst);
    await syncDir(dirname(dst));
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { recursive: true, force: true });
  }

  async touch(key: string): Promise<void> {
    const now = new Date();
    try {
      await utimes(this.path(key), now, now);
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw e;
    }
  }
}

function isReadable(src: Readable | AsyncIterable<Buffer>): src is Readable {
  return src instanceof Readable;
}

/** Writes every byte of `bufs` (writev may write less than asked), reporting each completed write. */
async function writeAll(fh: FileHandle, bufs: Buffer[], onChunk: ((b: Buffer) => void) | undefined, written: (k: number) => void): Promise<void> {
  if (onChunk !== undefined) for (const b of bufs) onChunk(b);
  let rest = bufs;
  while (rest.length > 0) {
    const { bytesWritten } = await fh.writev(rest);
    written(bytesWritten);
    let k = bytesWritten;
    while (rest.length > 0 && k >= rest[0]!.length) {
      k -= rest[0]!.length;
      rest = rest.slice(1);
    }
    if (k > 0) rest = [rest[0]!.subarray(k), ...rest.slice(1)];
  }
}

/** Bytes gathered before a write starts: one writev per 64 KiB socket read costs more syscalls than it saves. */
const BATCH = 1 << 20;
/** Bytes queued before the socket is paused: enough to keep one writev busy while the next batch arrives. */
const HIGH_WATER = 4 << 20;

/**
 * Socket to file without a stream pipeline: each chunk is hashed as it
 * arrives and queued, and the queue goes out in one writev while the next
 * batch gathers. A Transform plus a WriteStream cost a few microseconds
 * per 64 KiB chunk each, which is a tenth of a large push's CPU.
 */
function appendStream(
  fh: FileHandle,
  src: Readable,
  onChunk: ((b: Buffer) => void) | undefined,
  written: (k: number) => void,
  flushed: (bufs: Buffer[]) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let queue: Buffer[] = [];
    let queued = 0;
    let writing = false;
    let ended = false;
    let failure: unknown;
    let settled = false;
    const settle = (): void => {
      if (settled || writing) return;
      if (failure !== undefined) {
        settled = true;
        cleanup();
        src.resume(); // drain what is left so the connection can answer
        reject(failure);
      } else if (ended && queued === 0) {
        settled = true;
        cleanup();
        resolve();
      }
    };
    const flush = (): void => {
      if (writing || queued === 0 || settled) return settle();
      const bufs = queue;
      queue = [];
      queued = 0;
      writing = true;
      writeAll(fh, bufs, undefined, written).then(
        () => {
          writing = false;
          flushed(bufs);
          if (failure === undefined && !ended && src.isPaused()) src.resume();
          flush();
        },
        (e: unknown) => {
          writing = false;
          failure ??= e;
          settle();
        },
      );
    };
    const onData = (chunk: Buffer): void => {
      if (failure !== undefined) return;
      onChunk?.(chunk);
      queue.push(chunk);
      queued += chunk.length;
      if (queued >= HIGH_WATER && writing) src.pause();
      if (!writing && queued >= BATCH) flush();
    };
    const onEnd = (): void => {
      ended = true;
      flush();
    };
    const onError = (e: unknown): void => {
      failure ??= e;
      flush();
    };
    // A request whose client went away closes without 'end'.
    const onClose = (): void => {
      if (!ended) onError(Object.assign(new Error('premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    };
    const cleanup = (): void => {
      src.off('data', onData);
      src.off('end', onEnd);
      src.off('error', onError);
      src.off('close', onClose);
    };
    src.on('data', onData);
    src.on('end', onEnd);
    src.on('error', onError);
    src.on('close', onClose);
  });
}
