/**
 * Snapshots: unpacked filesystem layers that overlayfs stacks.
 *
 * Vocabulary (as containerd's): a *committed* snapshot is read-only and
 * named by its layer chain ID; an *active* snapshot is writable, named by a
 * caller's key (a container ID, a build step), and has a committed parent.
 * Snapshotters never mount anything: they return `Mount` descriptions, and
 * the caller mounts them (see `mount.ts`). Data crosses layers, not actions.
 *
 * Committed snapshots are created only by `applyLayer`, which unpacks an
 * uncompressed layer tar into a fresh directory, converts Docker/OCI
 * whiteouts into overlay's form, verifies the diff ID and renames the
 * directory into place; a failed or hostile layer leaves nothing behind.
 *
 * Or in two steps, so a layer can be unpacked while it is still arriving
 * and before its place in the chain is known (unpacking never reads the
 * parent): `stage` unpacks into a private directory and returns a handle;
 * `commitStaged` publishes it as a chain ID over a parent, `abortStaged`
 * discards it. Staging verifies nothing about the bytes: whoever commits
 * must have verified that the staged tar hashes to the diff ID. Handles
 * live only in this process; staged directories a crash leaves behind are
 * removed at start-up like any half-made snapshot.
 */
import type { Readable } from 'node:stream';
import type { Ctx } from '../base/ctx.js';
import type { Digest } from '../base/digest.js';

/** A mount as data; `options` as mount(8) -o takes them. */
export interface Mount {
  readonly type: 'overlay' | 'bind' | 'tmpfs' | 'proc' | 'sysfs' | 'devpts' | 'mqueue' | 'cgroup' | string;
  readonly source: string;
  readonly options: readonly string[];
}

export type SnapshotKind = 'committed' | 'active';

export interface SnapshotInfo {
  readonly key: string;
  readonly kind: SnapshotKind;
  readonly parent?: string;
  readonly createdAt: Date;
}

/** A layer unpacked by `stage`, not yet in the chain; `size` as applyLayer returns it. */
export interface StagedLayer {
  readonly id: string;
  readonly size: number;
}

export interface ApplyLayerOptions {
  /**
   * The caller has already verified that `tar`'s bytes hash to `diffId`
   * (e.g. they are a content-store blob whose digest is the diff ID, which
   * the store verified when it committed them), so the snapshotter need not
   * hash them again. Never set it for bytes that were decompressed,
   * transformed or not verified against exactly this digest.
   */
  readonly verifiedDiffId?: boolean;
}

export interface Snapshotter {
  stat(key: string): Promise<SnapshotInfo | undefined>;
  /**
   * Unpacks an uncompressed layer tar on top of `parent` as the committed
   * snapshot `chainId`. Verifies that the tar's sha256 equals `diffId`.
   * Idempotent: an existing `chainId` is returned untouched (the stream is
   * drained). Throws InvalidArgumentError for hostile or corrupt archives.
   * `size` follows Docker: lstat sizes of the layer's non-directories
   * (file bytes, symlink target lengths), hardlinked inodes once.
   */
  applyLayer(ctx: Ctx, chainId: Digest, parent: Digest | undefined, diffId: Digest, tar: Readable, opts?: ApplyLayerOptions): Promise<{ size: number }>;
  /**
   * Unpacks an uncompressed layer tar (read to its end) into a staging
   * directory; verifies nothing about its digest. Throws as applyLayer for
   * hostile or corrupt archives, leaving nothing behind.
   */
  stage(ctx: Ctx, tar: Readable | AsyncIterable<Buffer>): Promise<StagedLayer>;
  /**
   * Turns the active snapshot `key` (unmounted) into a staged layer as it
   * is: an upper directory already holds a layer's files in committed form
   * (overlay's own whiteouts and opaque markers), so a builder that wrote
   * it and made the layer tar from it need not unpack that tar again.
   * `size` is the layer's size by applyLayer's rule, as the caller counted
   * it. The active snapshot is gone afterwards; the same verification rule
   * as for `stage` applies before `commitStaged`.
   */
  stageActive(ctx: Ctx, key: string, size: number): Promise<StagedLayer>;
  /**
   * Publishes a staged layer as committed `chainId` over `parent`. Only
   * legal when the caller has verified that the staged tar's sha256 is
   * `verified.diffId`. Consumes the handle; if `chainId` already exists the
   * staged copy is discarded and the existing size returned.
   */
  commitStaged(ctx: Ctx, staged: StagedLayer, chainId: Digest, parent: Digest | undefined, verified: { diffId: Digest }): Promise<{ size: number }>;
  /** Discards a staged layer (no-op if already committed or discarded). */
  abortStaged(staged: StagedLayer): Promise<void>;
  /** A writable snapshot `key` over committed `parent` (undefined: empty rootfs). */
  prepare(ctx: Ctx, key: string, parent: Digest | undefined): Promise<Mount[]>;
  /** The mounts of an existing active snapshot, or a read-only view of a committed one. */
  mounts(key: string): Promise<Mount[]>;
  /** The writable (upper) directory of an active snapshot: its changes. */
  upperDir(key: string): string;
  /** Removes a snapshot; refuses (ConflictError) a committed one that has children. */
  remove(key: string): Promise<void>;
  list(): Promise<SnapshotInfo[]>;
  /** Disk usage in bytes of the snapshot's own directory. */
  usage(key: string): Promise<number>;
}
