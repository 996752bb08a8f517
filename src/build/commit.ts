/**
 * The builder's own commit: an overlay upper directory (a RUN container's,
 * or a scratch snapshot a COPY wrote into) → a layer tar → content store and
 * snapshotter in one pass → a new image config and manifest → a registered
 * image whose parent is the previous step's image.
 *
 * Kept here rather than shared with `containers/fs.ts` so each step's
 * layer is deterministic on purpose: `writeDiff` sorts names, the mtime
 * clamp (SOURCE_DATE_EPOCH, or the base image's creation time) removes the
 * wall clock, the runtime's mount points are dropped, and configs carry no
 * container ID or build-time timestamp. Same inputs → same digests.
 */
import type { Stats } from 'node:fs';
import { lutimes } from 'node:fs/promises';
import { PassThrough, Readable, Writable } from 'node:stream';
import type { Ctx } from '../base/ctx.js';
import { digestOf, type Digest } from '../base/digest.js';
import { InternalError } from '../base/errors.js';
import type { Sys } from '../base/sys.js';
import type { ContentStore } from '../content/types.js';
import type { LeaseManager } from '../content/leases.js';
import type { ImageService, StagedLayers } from '../images/service.js';
import type { Image } from '../images/store.js';
import { MediaType } from '../oci/mediatypes.js';
import type { HistoryEntry, ImageConfig, ImageManifest, Descriptor } from '../oci/types.js';
import { filterDiff, RUNTIME_MOUNT_POINTS, writeDiff } from '../snapshots/diff.js';
import type { Snapshotter, StagedLayer } from '../snapshots/types.js';

export interface CommitDeps {
  readonly images: ImageService;
  readonly content: ContentStore;
  readonly leases: LeaseManager;
  readonly sys: Sys;
}

/** An image-to-be: what a step produces before it is registered. */
export interface BuildState {
  readonly image?: Image;
  readonly config: ImageConfig;
  readonly layers: readonly Descriptor[];
}


export interface LayerResult {
  /** The diff ID (and, without `desc`, the uncompressed blob's digest). */
  readonly digest: Digest;
  readonly size: number;
  /** Unpacked while it was made; absent when the layer already exists (a cache source's). */
  readonly staged?: StagedLayer;
  /** The blob as another image's manifest names it (a cache source's layer, perhaps compressed). */
  readonly desc?: Descriptor;
}

/**
 * Writes the changes of `upper` as a layer. `skip` lists paths (relative,
 * no leading slash) that are mount points of this step, not its changes.
 * Returns undefined when nothing changed.
 */
export async function commitUpper(
  ctx: Ctx,
  d: CommitDeps,
  upper: string,
  lowers: readonly string[],
  skip: readonly string[],
  epoch: number,
  lease: { add(d: string): void },
): Promise<LayerResult | undefined> {
  const raw = new PassThrough({ highWaterMark: 1 << 20 });
  const diffDone = writeDiff(d.sys, upper, raw, { sourceDateEpoch: epoch }).catch((e: unknown) => {
    raw.destroy(e instanceof Error ? e : new InternalError(String(e)));
    throw e;
  });
  const filtered = Readable.from(filterDiff(raw, lowers, new Set([...RUNTIME_MOUNT_POINTS, ...skip])));
  const toStore = new PassThrough({ highWaterMark: 1 << 20 });
  const toStage = new PassThrough({ highWaterMark: 1 << 20 });
  const fan = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _e, cb) {
      let pending = 2;
      const done = (): void => {
        if (--pending === 0) cb();
      };
      if (toStore.write(chunk)) done();
      else toStore.once('drain', done);
      if (toStage.write(chunk)) done();
      else toStage.once('drain', done);
    },
    final(cb) {
      toStore.end();
      toStage.end();
      cb();
    },
  });
  filtered.on('error', (e) => {
    toStore.destroy(e);
    toStage.destroy(e);
  });
  const piping = new Promise<void>((res, rej) => {
    filtered.pipe(fan);
    fan.on('finish', res);
    filtered.on('error', rej);
  });
  const [stored, staged] = await Promise.all([d.content.ingest(ctx, toStore), d.images.stageLayer(ctx, toStage), piping, diffDone]);
  lease.add(stored.digest);
  // An empty layer is just the 1024-byte trailer.
  if (stored.size <= 1024) {
    await d.images.abortStagedLayer(staged);
    return undefined;
  }
  return { digest: stored.digest, size: stored.size, staged };
}

/**
 * Commits the active snapshot `key` that a COPY/ADD wrote, in place: one
 * walk of its upper directory makes the layer tar, which is hashed and
 * stored as it streams, and the directory itself then becomes the layer's
 * snapshot (Snapshotter.stageActive) instead of a second copy unpacked
 * from that tar. The walk sets mtimes beyond `epoch` to `epoch` in the
 * directory too, so the snapshot holds what the tar says. Nothing is
 * filtered: only the builder's own copy wrote this directory (no runtime
 * mount points). Returns undefined when nothing changed (the snapshot is
 * then still the caller's to remove).
 */
export async function commitActive(
  ctx: Ctx,
  d: CommitDeps,
  snapshots: Snapshotter,
  key: string,
  upper: string,
  epoch: number,
  lease: { add(d: string): void },
): Promise<LayerResult | undefined> {
  const raw = new PassThrough({ highWaterMark: 1 << 20 });
  // The layer's size by applyLayer's rule: lstat sizes of non-directories, each inode once.
  let size = 0;
  const seen = new Set<number>();
  const onEntry = async (abs: string, st: Stats): Promise<void> => {
    if (!st.isDirectory() && !seen.has(st.ino)) {
      seen.add(st.ino);
      size += st.size;
    }
    if (Math.floor(st.mtimeMs / 1000) > epoch) await lutimes(abs, st.atime, epoch);
  };
  const diffDone = writeDiff(d.sys, upper, raw, { sourceDateEpoch: epoch, onEntry }).catch((e: unknown) => {
    raw.destroy(e instanceof Error ? e : new InternalError(String(e)));
    throw e;
  });
  const ingesting = d.content.ingest(ctx, raw).catch((e: unknown) => {
    raw.destroy(e instanceof Error ? e : new InternalError(String(e))); // unblocks the walk
    throw e;
  });
  const t0 = performance.now();
  let tWalked = t0;
  void diffDone.then(() => (tWalked = performance.now()), () => undefined);
  const [stored] = await Promise.all([ingesting, diffDone]);
  const tStored = performance.now();
  lease.add(stored.digest);
  if (stored.size <= 1024) return undefined;
  const staged = await snapshots.stageActive(ctx, key, size);
  ctx.log.debug('build commit in place', { walkMs: Math.round(tWalked - t0), storeMs: Math.round(tStored - tWalked), stageMs: Math.round(performance.now() - tStored), bytes: stored.size });
  return { digest: stored.digest, size: stored.size, staged };
}

/**
 * Registers the image for a step: `parent`'s config changed by the step,
 * plus `layer` when the step changed files.
 */
export async function registerStep(
  ctx: Ctx,
  d: CommitDeps,
  parent: BuildState,
  config: ImageConfig,
  history: HistoryEntry,
  layer: LayerResult | undefined,
  lease: { add(d: string): void },
): Promise<BuildState & { existed: boolean }> {
  const diffIds = [...config.rootfs.diff_ids];
  const layers = [...parent.layers];
  if (layer !== undefined) {
    diffIds.push(layer.digest);
    layers.push(layer.desc ?? { mediaType: MediaType.dockerLayer, digest: layer.digest, size: layer.size });
  }
  const hist: HistoryEntry = { ...history };
  if (layer === undefined) hist.empty_layer = true;
  const imageConfig: ImageConfig = { ...config, rootfs: { type: 'layers', diff_ids: diffIds }, history: [...(config.history ?? []), hist] };
  const cbytes = Buffer.from(JSON.stringify(imageConfig));
  const c = await d.content.put(ctx, cbytes, { digest: digestOf(cbytes) });
  lease.add(c.digest);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.dockerManifest,
    config: { mediaType: MediaType.dockerConfig, digest: c.digest, size: c.size },
    layers,
  };
  const mbytes = Buffer.from(JSON.stringify(manifest));
  const m = await d.content.put(ctx, mbytes, { digest: digestOf(mbytes) });
  lease.add(m.digest);
  const existed = d.images.index.byId(c.digest) !== undefined;
  let staged = layer?.staged;
  const handoff: StagedLayers = {
    take: (blob) => {
      if (layer === undefined || blob !== layer.digest || staged === undefined) return undefined;
      const s = staged;
      staged = undefined;
      return s;
    },
  };
  try {
    const recs = await d.images.unpack(ctx, manifest, imageConfig, undefined, handoff);
    const img = d.images.register(
      { manifestDigest: m.digest, manifest, configDigest: c.digest, config: imageConfig, ...(parent.image !== undefined ? { parent: parent.image.record.id } : {}) },
      recs,
    );
    return { image: img, config: imageConfig, layers, existed };
  } finally {
    // Already present (same layer built before): the staged copy is not needed.
    if (staged !== undefined) await d.images.abortStagedLayer(staged).catch(() => {});
  }
}

/** The state of an existing image (FROM, cache hits). */
export function stateOf(img: Image): BuildState {
  return { image: img, config: img.config, layers: img.manifest.layers };
}
