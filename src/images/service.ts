/**
 * ImageService: the image model's operations (list, inspect, tag, remove,
 * history, prune, disk usage) and the one path by which an image comes to
 * exist (`register`: blobs already in the content store → layers unpacked →
 * a database row). Loaders (archives, import, pull, build) produce blobs and
 * call `register`; they never write rows themselves.
 *
 * Crash safety follows from order: blobs are committed, then layers are
 * unpacked (each commits by rename), then the row is written in one
 * transaction. A kill -9 anywhere leaves at worst unreferenced blobs and
 * layers, which the collector removes.
 */
import { Transform, type Readable } from 'node:stream';
import type { Ctx } from '../base/ctx.js';
import { autoDecompress, decompressStream } from '../base/compress.js';
import type { Digest } from '../base/digest.js';
import { shortId } from '../base/digest.js';
import { ConflictError, InvalidArgumentError, NotFoundError, errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { ContentStore } from '../content/types.js';
import type { LeaseManager } from '../content/leases.js';
import { ContentGc } from '../content/gc.js';
import type { EventBus } from '../events/bus.js';
import type { ImageTable, LayerRecord } from '../metadata/images.js';
import { chainIds } from '../oci/chain.js';
import { layerCompression, MediaType } from '../oci/mediatypes.js';
import { familiarName, familiarString, fullString, parseReference, withDefaultTag, withTag, isValidTag } from '../oci/reference.js';
import type { ImageConfig, ImageManifest, Descriptor } from '../oci/types.js';
import { parseImageConfig, parseImageManifest } from '../oci/validate.js';
import type { ApplyLayerOptions, Snapshotter, StagedLayer } from '../snapshots/types.js';
import { dockerContainerConfig, historyOf, unixSeconds, ZERO_TIME, type HistoryItem } from './docker-json.js';
import { boolFilter, checkFilters, createdMs, matchLabels, matchReference, timeBound, type Filters } from './filters.js';
import { familiarRef, ImageIndex, type Image } from './store.js';

/** What the container side tells the image side: who uses an image, which layers back containers. */
export interface ImageUsage {
  containersUsing(imageId: Digest): { id: string; running: boolean }[];
  /** Chain IDs that containers' snapshots stand on (kept even if no image needs them). */
  layersInUse(): Iterable<string>;
}

/** Layers a loader unpacked while their blobs streamed in, by blob digest. */
export interface StagedLayers {
  /** The staged copy of `blob`, handed over once (later uses unpack from the store). */
  take(blob: Digest): StagedLayer | undefined;
}

export interface ImageServiceDeps {
  readonly content: ContentStore;
  readonly snapshots: Snapshotter;
  readonly table: ImageTable;
  readonly events: EventBus;
  readonly leases: LeaseManager;
  readonly log: Logger;
  readonly usage: ImageUsage;
  readonly dataRoot: string;
}

export interface RegisterInput {
  readonly manifestDigest: Digest;
  readonly manifest: ImageManifest;
  readonly configDigest: Digest;
  readonly config: ImageConfig;
  /** Full names to point at the image (tags and digests). */
  readonly tags?: readonly string[];
  readonly digests?: readonly string[];
  readonly parent?: string;
}

export interface DeleteItem {
  Untagged?: string;
  Deleted?: string;
}

export class ImageService {
  readonly index: ImageIndex;
  private gcRunning: Promise<void> | undefined;

  constructor(private readonly d: ImageServiceDeps) {
    this.index = new ImageIndex(d.table);
  }

  get events(): EventBus {
    return this.d.events;
  }

  /** Loads the view from the database; rows whose blobs vanished are logged and skipped. */
  async init(): Promise<void> {
    const refs = this.d.table.allRefs();
    for (const rec of this.d.table.allImages()) {
      try {
        const manifest = parseImageManifest(await this.d.content.readBlob(rec.manifest));
        const config = parseImageConfig(await this.d.content.readBlob(manifest.config.digest));
        const mine = refs.filter((r) => r.image === rec.id);
        this.index.add({
          record: rec,
          manifest,
          config,
          tags: mine.filter((r) => r.kind === 'tag').map((r) => r.name).sort(),
          digests: mine.filter((r) => r.kind === 'digest').map((r) => r.name).sort(),
        });
      } catch (e) {
        this.d.log.error('image metadata is unreadable; skipping it', { image: rec.id, err: errorMessage(e) });
      }
    }
  }

  // --- registration -------------------------------------------------------

  /**
   * Unpacks the manifest's layers (skipping those present) and records them.
   * `onLayer` reports progress per layer for load/pull streams.
   */
  async unpack(
    ctx: Ctx,
    manifest: ImageManifest,
    config: ImageConfig,
    onLayer?: (desc: Descriptor, state: 'exists' | 'done') => void,
    staged?: StagedLayers,
  ): Promise<LayerRecord[]> {
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length) {
      throw new InvalidArgumentError(`image config has ${diffIds.length} layer diff IDs but the manifest has ${manifest.layers.length} layers`);
    }
    const chains = chainIds(diffIds);
    const out: LayerRecord[] = [];
    for (let i = 0; i < manifest.layers.length; i++) {
      const desc = manifest.layers[i]!;
      const chainId = chains[i]!;
      const parent = i === 0 ? null : chains[i - 1]!;
      const have = this.d.table.layer(chainId);
      if (have !== undefined && (await this.d.snapshots.stat(chainId)) !== undefined) {
        out.push(have);
        onLayer?.(desc, 'exists');
        continue;
      }
      const diffId = diffIds[i]!;
      // Unpacked while it streamed in: usable when the blob is the tar
      // itself, i.e. the content store verified its bytes against diffId.
      const early = desc.digest === diffId ? staged?.take(desc.digest) : undefined;
      let rec: LayerRecord;
      if (early !== undefined) {
        const { size } = await this.d.snapshots.commitStaged(ctx, early, chainId, parent ?? undefined, { diffId });
        rec = { chainId, diffId, parent, size, tarSize: desc.size };
        this.d.table.putLayer(rec);
      } else {
        rec = await this.applyLayerBlob(ctx, desc, chainId, parent, diffId);
      }
      out.push(rec);
      onLayer?.(desc, 'done');
    }
    return out;
  }

  /** Streams one layer blob from the content store into a committed snapshot. */
  async applyLayerBlob(ctx: Ctx, desc: Descriptor, chainId: Digest, parent: Digest | null, diffId: Digest): Promise<LayerRecord> {
    const blob = await this.d.content.reader(desc.digest);
    if (desc.digest === diffId) {
      // The blob is the uncompressed tar and the content store verified its
      // digest at commit: unpacking it as is needs no second hash.
      return this.applyLayerStream(ctx, blob, 'none', chainId, parent, diffId, { verifiedDiffId: true });
    }
    const kind = layerCompression(desc.mediaType) ?? 'none';
    return this.applyLayerStream(ctx, blob, kind === 'none' ? 'auto' : kind, chainId, parent, diffId);
  }

  /** Unpacks a (possibly compressed) layer stream; the diff ID is verified by the snapshotter. */
  async applyLayerStream(
    ctx: Ctx,
    body: Readable,
    compression: 'auto' | 'gzip' | 'zstd' | 'none',
    chainId: Digest,
    parent: Digest | null,
    diffId: Digest,
    opts: ApplyLayerOptions = {},
  ): Promise<LayerRecord> {
    // Counts only: the snapshotter hashes (or the caller has verified) the tar.
    let tarSize = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb): void {
        tarSize += chunk.length;
        cb(null, chunk);
      },
    });
    const plain = (compression === 'none' ? body : body.pipe(compression === 'auto' ? autoDecompress() : decompressStream(compression))).pipe(counter);
    body.on('error', (e) => plain.destroy(e));
    const { size } = await this.d.snapshots.applyLayer(ctx, chainId, parent ?? undefined, diffId, plain, opts);
    const rec: LayerRecord = { chainId, diffId, parent, size, tarSize };
    this.d.table.putLayer(rec);
    return rec;
  }

  /**
   * Unpacks a layer tar that is still arriving into the snapshotter's
   * staging area (see Snapshotter.stage); `unpack` commits it through
   * `StagedLayers` once the chain is known and the blob is verified.
   */
  stageLayer(ctx: Ctx, tar: Readable | AsyncIterable<Buffer>): Promise<StagedLayer> {
    return this.d.snapshots.stage(ctx, tar);
  }

  /** Discards a staged layer that was not committed. */
  abortStagedLayer(staged: StagedLayer): Promise<void> {
    return this.d.snapshots.abortStaged(staged);
  }

  /** Makes an image exist: its layers must already be unpacked (see unpack). */
  register(input: RegisterInput, layers: readonly LayerRecord[]): Image {
    const now = new Date().toISOString();
    const tags = [...(input.tags ?? [])];
    const img: Image = {
      record: {
        id: input.configDigest,
        manifest: input.manifestDigest,
        size: layers.reduce((a, l) => a + l.size, 0),
        parent: input.parent ?? '',
        addedAt: Date.now(),
        lastTagTime: tags.length > 0 ? now : null,
      },
      manifest: input.manifest,
      config: input.config,
      tags: tags.sort(),
      digests: [...(input.digests ?? [])].sort(),
    };
    const losers = tags.map((t) => this.index.byRef(t)).filter((x): x is Image => x !== undefined && x.record.id !== img.record.id);
    this.index.put(img);
    for (const l of losers) if (l.tags.length === 0 && l.digests.length === 0) this.d.log.info('image is now dangling', { image: l.record.id });
    return this.index.byId(img.record.id) ?? img;
  }

  // --- queries ------------------------------------------------------------

  list(opts: { all?: boolean; filters?: Filters; digests?: boolean; sharedSize?: boolean }): Record<string, unknown>[] {
    const f: Filters = opts.filters ?? new Map();
    checkFilters(f, ['dangling', 'label', 'before', 'since', 'reference']);
    const dangling = boolFilter(f, 'dangling');
    const before = timeBound(this.index, f, 'before');
    const since = timeBound(this.index, f, 'since');
    const labels = f.get('label');
    const refs = f.get('reference');
    const out: { created: number; v: Record<string, unknown> }[] = [];
    // Untagged images with children are a build's intermediate steps: dockerd
    // lists them only with `-a`.
    const parents = new Set<string>();
    for (const img of this.index.all()) if (img.record.parent !== '') parents.add(img.record.parent);
    for (const img of this.index.all()) {
      const isDangling = img.tags.length === 0 && img.digests.length === 0;
      if (isDangling && opts.all !== true && parents.has(img.record.id)) continue;
      if (dangling === true && !isDangling) continue;
      if (dangling === false && isDangling) continue;
      const created = createdMs(img);
      if (before !== undefined && created >= before) continue;
      if (since !== undefined && created <= since) continue;
      if (!matchLabels(img.config.config?.Labels, labels)) continue;
      if (!matchReference(img, refs)) continue;
      out.push({ created, v: this.summary(img) });
    }
    out.sort((a, b) => b.created - a.created);
    return out.map((x) => x.v);
  }

  summary(img: Image, containers = -1): Record<string, unknown> {
    const tags = img.tags.map(familiarRef);
    const digests = img.digests.map(familiarRef);
    const none = tags.length === 0 && digests.length === 0;
    return {
      Containers: containers,
      Created: unixSeconds(img.config.created),
      Id: img.record.id,
      Labels: img.config.config?.Labels ?? null,
      ParentId: img.record.parent,
      // Go's nil slices: null, not [], when an image has tags but no digests.
      RepoDigests: none ? ['<none>@<none>'] : digests.length > 0 ? digests : null,
      RepoTags: none ? ['<none>:<none>'] : tags.length > 0 ? tags : null,
      SharedSize: -1,
      Size: img.record.size,
      VirtualSize: img.record.size,
    };
  }

  inspect(refOrId: string): Record<string, unknown> {
    let img: Image;
    try {
      img = this.index.resolve(refOrId);
    } catch (e) {
      // dockerd's inspect wording: "no such image: <input>: No such image: <name:tag>"
      if (e instanceof NotFoundError) throw new NotFoundError(`no such image: ${refOrId}: ${e.message}`);
      throw e;
    }
    const c = img.config;
    const fs = this.d.snapshots;
    const top = chainIds(c.rootfs.diff_ids).at(-1);
    const out: Record<string, unknown> = {
      Id: img.record.id,
      RepoTags: img.tags.map(familiarRef),
      RepoDigests: img.digests.map(familiarRef),
      Parent: img.record.parent,
      Comment: c.comment ?? '',
      Created: c.created ?? ZERO_TIME,
      Container: c.container ?? '',
      ContainerConfig: dockerContainerConfig(c.container_config),
      DockerVersion: c.docker_version ?? '',
      Author: c.author ?? '',
      Config: dockerContainerConfig(c.config),
      Architecture: c.architecture,
    };
    if (c.variant !== undefined) out['Variant'] = c.variant;
    out['Os'] = c.os;
    if (c['os.version'] !== undefined) out['OsVersion'] = c['os.version'];
    out['Size'] = img.record.size;
    out['VirtualSize'] = img.record.size;
    // dockerd's overlay2 shape: the top layer's directory, the others below it.
    const chain = chainIds(c.rootfs.diff_ids);
    const dirs = chain.map((ch) => fs.upperDir(ch)).reverse();
    out['GraphDriver'] = {
      Data:
        top === undefined
          ? null
          : { ...(dirs.length > 1 ? { LowerDir: dirs.slice(1).join(':') } : {}), MergedDir: '', UpperDir: dirs[0], WorkDir: '' },
      Name: 'overlay2',
    };
    out['RootFS'] = { Type: 'layers', Layers: c.rootfs.diff_ids };
    out['Metadata'] = { LastTagTime: img.record.lastTagTime ?? ZERO_TIME };
    return out;
  }

  history(refOrId: string): HistoryItem[] {
    const img = this.index.resolve(refOrId);
    const chains = chainIds(img.config.rootfs.diff_ids);
    const sizes = chains.map((ch) => this.d.table.layer(ch)?.size ?? 0);
    return historyOf(img.record.id, img.config, sizes, img.tags.map(familiarRef));
  }

  // --- names --------------------------------------------------------------

  /** POST /images/{name}/tag: `repo` may arrive fully qualified (docker.io/library/x). */
  tag(source: string, repo: string, tag: string | undefined): void {
    const img = this.index.resolve(source);
    const ref = parseReference(repo);
    if (ref.digest !== undefined) throw new InvalidArgumentError('refusing to create a tag with a digest reference');
    let target = ref;
    if (tag !== undefined && tag !== '') {
      if (!isValidTag(tag)) throw new InvalidArgumentError('invalid tag format');
      target = withTag(ref, tag);
    } else target = withDefaultTag(ref);
    const full = fullString(target);
    this.index.setRef(full, img.record.id, 'tag', new Date().toISOString());
    this.d.events.publish('image', 'tag', img.record.id, { name: familiarString(target) });
  }

  // --- removal ------------------------------------------------------------

  /** DELETE /images/{name}: Docker's untag/delete rules and conflict messages. */
  async remove(ctx: Ctx, refOrId: string, opts: { force: boolean; noprune: boolean }): Promise<DeleteItem[]> {
    const img = this.index.resolve(refOrId);
    const id = img.record.id;
    const records: DeleteItem[] = [];
    const byId = isIdPrefix(id, refOrId);
    let quiet = false;
    if (!byId) {
      const target = withDefaultTag(parseReference(refOrId));
      const full = fullString(target);
      const all = [...img.tags, ...img.digests];
      if (!opts.force && all.length === 1) {
        const user = this.d.usage.containersUsing(id)[0];
        if (user !== undefined) {
          throw new ConflictError(
            `conflict: unable to remove repository reference "${refOrId}" (must force) - container ${shortId(user.id)} is using its referenced image ${shortId(id)}`,
          );
        }
      }
      const name = full;
      this.index.deleteRef(name);
      records.push({ Untagged: familiarRef(name) });
      this.d.events.publish('image', 'untag', id, { name: familiarRef(name) });
      // Removing the last tag of a repository also removes its digest names.
      if (target.digest === undefined) {
        const repo = familiarName(target);
        const cur = this.index.byId(id);
        if (cur !== undefined && !cur.tags.some((t) => familiarName(parseReference(t)) === repo)) {
          for (const dg of cur.digests.filter((x) => familiarName(parseReference(x)) === repo)) {
            this.index.deleteRef(dg);
            records.push({ Untagged: familiarRef(dg) });
          }
        }
      }
      const left = this.index.byId(id);
      if (left !== undefined && left.tags.length + left.digests.length > 0) return records;
      quiet = true;
    } else if (isSingleRepo(img)) {
      this.checkConflicts(img, opts.force, true);
      for (const r of [...img.tags, ...img.digests]) {
        this.index.deleteRef(r);
        records.push({ Untagged: familiarRef(r) });
        this.d.events.publish('image', 'untag', id, { name: familiarRef(r) });
      }
    }
    try {
      this.checkConflicts(this.index.byId(id) ?? img, opts.force, false);
    } catch (e) {
      if (quiet) return records;
      throw e;
    }
    await this.deleteImage(ctx, id, records);
    return records;
  }

  private checkConflicts(img: Image, force: boolean, ignoreActiveRefs: boolean): void {
    const sid = shortId(img.record.id);
    for (const other of this.index.all()) {
      if (other.record.parent === img.record.id) throw new ConflictError(`conflict: unable to delete ${sid} (cannot be forced) - image has dependent child images`);
    }
    const users = this.d.usage.containersUsing(img.record.id);
    const running = users.find((u) => u.running);
    if (running !== undefined) throw new ConflictError(`conflict: unable to delete ${sid} (cannot be forced) - image is being used by running container ${shortId(running.id)}`);
    if (force) return;
    if (!ignoreActiveRefs && img.tags.length + img.digests.length > 0) {
      throw new ConflictError(`conflict: unable to delete ${sid} (must be forced) - image is referenced in multiple repositories`);
    }
    const stopped = users[0];
    if (stopped !== undefined) throw new ConflictError(`conflict: unable to delete ${sid} (must be forced) - image is being used by stopped container ${shortId(stopped.id)}`);
  }

  private async deleteImage(ctx: Ctx, id: Digest, records: DeleteItem[]): Promise<void> {
    const img = this.index.byId(id);
    if (img === undefined) return;
    for (const r of [...img.tags, ...img.digests]) {
      this.index.deleteRef(r);
      records.push({ Untagged: familiarRef(r) });
    }
    this.index.deleteImage(id);
    this.d.events.publish('image', 'delete', id, { name: id });
    records.push({ Deleted: id });
    for (const ch of await this.releaseLayers(ctx)) records.push({ Deleted: ch });
    this.scheduleGc(ctx);
  }

  /** Removes layer snapshots no image or container needs any more; returns their chain IDs, top first. */
  private async releaseLayers(ctx: Ctx): Promise<string[]> {
    const live = this.liveLayers();
    const removed: string[] = [];
    // Children before parents: sort by depth, deepest first.
    const layers = this.d.table.allLayers();
    const depth = new Map<string, number>();
    const byId = new Map(layers.map((l) => [l.chainId as string, l]));
    const depthOf = (c: string): number => {
      const known = depth.get(c);
      if (known !== undefined) return known;
      const p = byId.get(c)?.parent;
      const v = p === null || p === undefined ? 0 : depthOf(p) + 1;
      depth.set(c, v);
      return v;
    };
    const dead = layers.filter((l) => !live.has(l.chainId)).sort((a, b) => depthOf(b.chainId) - depthOf(a.chainId));
    for (const l of dead) {
      try {
        await this.d.snapshots.remove(l.chainId);
      } catch (e) {
        if (!String(errorMessage(e)).includes('No such') && !String(errorMessage(e)).includes('not found')) {
          ctx.log.warn('layer removal failed', { layer: l.chainId, err: errorMessage(e) });
          continue;
        }
      }
      this.d.table.deleteLayer(l.chainId);
      removed.push(l.chainId);
    }
    return removed;
  }

  private liveLayers(): Set<string> {
    const live = new Set<string>(this.d.usage.layersInUse());
    for (const img of this.index.all()) for (const c of chainIds(img.config.rootfs.diff_ids)) live.add(c);
    // A layer's parents are live when it is.
    const layers = new Map(this.d.table.allLayers().map((l) => [l.chainId as string, l]));
    for (const c of [...live]) {
      let p = layers.get(c)?.parent ?? null;
      while (p !== null && !live.has(p)) {
        live.add(p);
        p = layers.get(p)?.parent ?? null;
      }
    }
    for (const r of this.d.leases.leasedResources()) live.add(r);
    return live;
  }

  /** Digests the content store must keep: every image's manifest, config and layer blobs. */
  liveContent(): Set<string> {
    const live = new Set<string>();
    for (const img of this.index.all()) {
      live.add(img.record.manifest);
      live.add(img.manifest.config.digest);
      for (const l of img.manifest.layers) live.add(l.digest);
    }
    return live;
  }

  /** Runs the content collector in the background, one at a time. */
  scheduleGc(ctx: Ctx): void {
    if (this.gcRunning !== undefined) return;
    this.gcRunning = this.gc(ctx)
      .then(() => undefined)
      .catch((e: unknown) => ctx.log.warn('garbage collection failed', { err: errorMessage(e) }))
      .finally(() => (this.gcRunning = undefined));
  }

  async gc(ctx: Ctx): Promise<{ removed: number; bytes: number }> {
    await this.releaseLayers(ctx);
    const gc = new ContentGc(this.d.content, { isLeased: (r) => this.d.leases.isLeased(r), gracePeriodMs: 60_000, ingestMaxAgeMs: 24 * 3600_000, log: ctx.log });
    const r = await gc.sweep(this.liveContent() as Set<Digest>);
    return { removed: r.removed.length, bytes: r.bytesFreed };
  }

  // --- prune and disk usage ----------------------------------------------

  async prune(ctx: Ctx, filters: Filters): Promise<{ ImagesDeleted: DeleteItem[] | null; SpaceReclaimed: number }> {
    checkFilters(filters, ['dangling', 'label', 'label!', 'until']);
    const danglingOnly = boolFilter(filters, 'dangling') ?? true;
    const until = filters.get('until')?.[0];
    const untilMs = until === undefined ? undefined : parseUntil(until);
    const deleted: DeleteItem[] = [];
    let space = 0;
    for (const img of [...this.index.all()]) {
      const isDangling = img.tags.length === 0 && img.digests.length === 0;
      if (danglingOnly && !isDangling) continue;
      if (this.d.usage.containersUsing(img.record.id).length > 0) continue;
      if (!matchLabels(img.config.config?.Labels, filters.get('label'))) continue;
      const notLabels = filters.get('label!');
      if (notLabels !== undefined && notLabels.some((l) => matchLabels(img.config.config?.Labels, [l]))) continue;
      if (untilMs !== undefined && createdMs(img) >= untilMs) continue;
      if ([...this.index.all()].some((o) => o.record.parent === img.record.id)) continue;
      const before = deleted.length;
      try {
        await this.deleteImage(ctx, img.record.id, deleted);
        space += img.record.size;
      } catch (e) {
        deleted.length = before;
        ctx.log.warn('prune could not remove image', { image: img.record.id, err: errorMessage(e) });
      }
    }
    if (deleted.length > 0) this.d.events.publish('image', 'prune', '', { reclaimed: String(space) });
    return { ImagesDeleted: deleted.length > 0 ? deleted : null, SpaceReclaimed: space };
  }

  /** The images part of GET /system/df. */
  df(): { LayersSize: number; Images: Record<string, unknown>[] } {
    let layersSize = 0;
    for (const l of this.d.table.allLayers()) layersSize += l.size;
    const counts = new Map<string, number>();
    const layerRefs = new Map<string, number>();
    for (const img of this.index.all()) {
      counts.set(img.record.id, this.d.usage.containersUsing(img.record.id).length);
      for (const c of chainIds(img.config.rootfs.diff_ids)) layerRefs.set(c, (layerRefs.get(c) ?? 0) + 1);
    }
    const images = [...this.index.all()].map((img) => {
      let shared = 0;
      for (const c of chainIds(img.config.rootfs.diff_ids)) {
        if ((layerRefs.get(c) ?? 0) > 1) shared += this.d.table.layer(c)?.size ?? 0;
      }
      const s = this.summary(img, counts.get(img.record.id) ?? 0);
      s['SharedSize'] = shared;
      return s;
    });
    return { LayersSize: layersSize, Images: images };
  }

  /** Full names for a load/import `repo:tag` argument. */
  static fullTag(name: string): string {
    return fullString(withDefaultTag(parseReference(name)));
  }
}

function isIdPrefix(id: Digest, s: string): boolean {
  const hex = s.startsWith('sha256:') ? s.slice(7) : s;
  return hex.length > 0 && /^[a-f0-9]+$/.test(hex) && id.slice(7).startsWith(hex);
}

/** At most one tag, and all names in one repository: removing by ID may untag them. */
function isSingleRepo(img: Image): boolean {
  const repos = new Set([...img.tags, ...img.digests].map((r) => familiarName(parseReference(r))));
  return repos.size <= 1 && img.tags.length <= 1;
}

function parseUntil(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (!Number.isNaN(t)) return t;
  const m = /^(\d+)(h|m|s)$/.exec(v);
  if (m !== null) return Date.now() - Number(m[1]) * (m[2] === 'h' ? 3600_000 : m[2] === 'm' ? 60_000 : 1000);
  throw new InvalidArgumentError(`invalid filter 'until=${v}'`);
}

export { MediaType };
