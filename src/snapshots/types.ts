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

export interface Snapshotter {
  stat(key: string): Promise<SnapshotInfo | undefined>;
  /**
   * Unpacks an uncompressed layer tar on top of `parent` as the committed
   * snapshot `chainId`. Verifies that the tar's sha256 equals `diffId`.
   * Idempotent: an existing `chainId` is returned untouched (the stream is
   * drained). Throws InvalidArgumentError for hostile or corrupt archives.
   */
  applyLayer(ctx: Ctx, chainId: Digest, parent: Digest | undefined, diffId: Digest, tar: Readable): Promise<{ size: number }>;
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
