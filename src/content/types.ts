/**
 * Content store: immutable, content-addressed blobs (manifests, configs,
 * compressed layers) under `<data-root>/content/`.
 *
 * Lifecycle: bytes enter only through an ingest (`writer`/`ingest`), which
 * hashes and counts while streaming into `ingest/<ref>/data`; `commit`
 * verifies size and digest and renames the file into `blobs/<alg>/<hex>`.
 * Until commit, nothing is visible to readers; after commit a blob never
 * changes. Concurrent ingests of the same digest are safe: the second commit
 * finds the blob present and discards its copy. An ingest is keyed by a
 * caller-chosen `ref` and can be resumed from its current offset after a
 * crash; stale ingests are removed by `cleanIngests`.
 *
 * Errors: NotFoundError for missing blobs; InvalidArgumentError when the
 * committed bytes do not match what was expected.
 */
import type { Readable, Writable } from 'node:stream';
import type { Ctx } from '../base/ctx.js';
import type { Digest } from '../base/digest.js';

export interface BlobInfo {
  readonly digest: Digest;
  readonly size: number;
  /** mtime of the committed file */
  readonly committedAt: Date;
}

export interface Expected {
  readonly digest?: Digest;
  readonly size?: number;
}

export interface IngestStatus {
  readonly ref: string;
  readonly offset: number;
  readonly updatedAt: Date;
}

export interface ContentWriter {
  /** Bytes already written (non-zero when resuming). */
  readonly offset: number;
  /** A writable that appends to the ingest; end it before commit. */
  stream(): Writable;
  /** Verifies and publishes the blob. Returns its digest and size. */
  commit(expected?: Expected): Promise<{ digest: Digest; size: number }>;
  /** Drops the ingest's data. */
  abort(): Promise<void>;
}

export interface ContentStore {
  info(digest: Digest): Promise<BlobInfo>;
  has(digest: Digest): Promise<boolean>;
  /** Local path of a committed blob (for sendfile-like fast paths); the blob may not exist. */
  blobPath(digest: Digest): string;
  /** Streams a committed blob, optionally a byte range [start, end] inclusive. */
  reader(digest: Digest, range?: { start: number; end?: number }): Promise<Readable>;
  /** Reads a small blob (manifest, config) into memory; refuses more than `max` bytes. */
  readBlob(digest: Digest, max?: number): Promise<Buffer>;
  /** Opens (or resumes) the ingest `ref`. */
  writer(ctx: Ctx, ref: string): Promise<ContentWriter>;
  /** Streams `body` into the store and commits it, verifying `expected`. */
  ingest(ctx: Ctx, body: Readable | AsyncIterable<Buffer>, expected?: Expected): Promise<{ digest: Digest; size: number }>;
  /** Stores a small buffer. */
  put(ctx: Ctx, data: Buffer, expected?: Expected): Promise<{ digest: Digest; size: number }>;
  delete(digest: Digest): Promise<void>;
  list(): AsyncIterable<BlobInfo>;
  listIngests(): Promise<IngestStatus[]>;
  /** Removes ingests not touched for `olderThanMs`. */
  cleanIngests(olderThanMs: number): Promise<number>;
}
