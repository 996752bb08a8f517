/**
 * The storage seam: a tiny key/value-with-streams interface over which the
 * registry's layout (layout.ts) and logic (store.ts) are written. Keys are
 * '/'-separated relative paths. A different backend (berthd's content
 * store, an object store) implements this and nothing above it changes.
 *
 * Guarantees every driver must give:
 *  - `put` and `move` are atomic and durable: readers see the old value or
 *    the new one, and after a crash a committed key has all its bytes.
 *  - `writer` appends to a private key that is never read as committed
 *    content; `move` of that key is the commit.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';

export interface StatInfo {
  size: number;
  /** Last modification, ms since the epoch. */
  mtimeMs: number;
  isDir: boolean;
}

export interface AppendWriter {
  /** Bytes in the key, including what was there before this writer opened. */
  readonly size: number;
  /**
   * Pipes `src` onto the end of the key; resolves with bytes written from
   * `src`. `onChunk` sees each chunk before it is written; `onWritten` gets
   * the key's size after each completed batch, and the batch's buffers,
   * which the writer no longer needs.
   */
  append(src: Readable | AsyncIterable<Buffer>, onChunk?: (b: Buffer) => void, onWritten?: (size: number, written: Buffer[]) => void): Promise<number>;
  /** Closes; durability comes with `move`, the commit. */
  close(): Promise<void>;
}

export interface StorageDriver {
  /** The whole value, or undefined when absent. Only for small values. */
  get(key: string): Promise<Buffer | undefined>;
  /** Replaces the value atomically. */
  put(key: string, data: Buffer | string): Promise<void>;
  /** Streams [offset, end] (inclusive end; omit for the rest). */
  reader(key: string, offset?: number, end?: number): Readable;
  /**
   * Optional, for drivers whose values are local files: the open file, so
   * the server can hand it to the kernel (sendfile) instead of streaming.
   * Rejects with ENOENT when absent. The caller closes it.
   */
  open?(key: string): Promise<FileHandle>;
  /** Optional, for drivers whose values are local files: the file behind `key`. */
  localPath?(key: string): string;
  /** Opens `key` for appending, creating it when absent. */
  writer(key: string): Promise<AppendWriter>;
  stat(key: string): Promise<StatInfo | undefined>;
  /** Names directly under `key` (empty when absent). */
  list(key: string): Promise<string[]>;
  /** Atomically renames `from` to `to`, replacing `to`. */
  move(from: string, to: string): Promise<void>;
  /** Removes a key and everything under it; absent is fine. */
  delete(key: string): Promise<void>;
  /** Marks a key as recently used (the GC grace period counts from here). */
  touch(key: string): Promise<void>;
}
