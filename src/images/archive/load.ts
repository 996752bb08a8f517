/**
 * `docker load`: reads an image archive as a stream and registers its
 * images. Two formats, told apart by their index files:
 *  - docker-archive (`manifest.json` + `repositories`), as `docker save` and
 *    skopeo's docker-archive write it (layers at `<id>/layer.tar` or, since
 *    Docker 25, `blobs/sha256/<hex>`);
 *  - OCI image layout (`oci-layout` + `index.json` + `blobs/`), as skopeo's
 *    oci-archive writes it (dockerd 20.10 cannot load these).
 *
 * The index files come last in docker's archives, so every other file is
 * streamed into the content store as it arrives (hashed on the way; nothing
 * large is buffered) and paths are mapped to digests; only small JSON files
 * are kept in memory. Paths are never used to write to the filesystem, so a
 * hostile `../` name cannot escape anything; layers are then unpacked by the
 * snapshotter, which confines them. Everything ingested is leased until the
 * images are registered, and an error registers nothing.
 *
 * Speed: a blob that starts like a tar is also unpacked while it streams in
 * (teed into a staged snapshot), since unpacking needs no parent. When the
 * manifest later names it as a layer whose diff ID is the blob's digest,
 * the content store has verified those very bytes, so the staged copy is
 * committed by rename without a second read or hash. Any other case (and a
 * staging failure, e.g. a hostile layer) takes the ordinary path from the
 * content store, which reports the error; unused staged copies are
 * discarded, and a crash leaves them where start-up cleanup removes them.
 */
import { PassThrough, type Readable } from 'node:stream';
import { posix } from 'node:path';
import type { Ctx } from '../../base/ctx.js';
import { digestOf, isDigest, type Digest } from '../../base/digest.js';
import { InvalidArgumentError } from '../../base/errors.js';
import { MAX_JSON_BYTES, readAllLimited } from '../../base/stream.js';
import { detectCompression } from '../../base/compress.js';
import type { ContentStore } from '../../content/types.js';
import type { LeaseManager } from '../../content/leases.js';
import { MediaType, isIndexType } from '../../oci/mediatypes.js';
import { hostPlatform, selectManifest } from '../../oci/platform.js';
import { fullString, parseReference, withDefaultTag } from '../../oci/reference.js';
import type { Descriptor, ImageConfig, ImageManifest } from '../../oci/types.js';
import { parseImageConfig, parseManifestAny, parseJson } from '../../oci/validate.js';
import { looksLikeTarHeader, TarReader } from '../../base/tar.js';
import type { StagedLayer } from '../../snapshots/types.js';
import type { ImageService, StagedLayers } from '../service.js';
import { familiarRef } from '../store.js';

export interface LoadProgress {
  (msg: { stream?: string; status?: string; id?: string; progressDetail?: { current?: number; total?: number } }): void;
}

/** Files that are metadata, not blobs: kept in memory (size-limited). */
function isSmallMeta(name: string): boolean {
  return (
    name === 'manifest.json' || name === 'repositories' || name === 'index.json' || name === 'oci-layout' ||
    (!name.startsWith('blobs/') && (name.endsWith('.json') || name.endsWith('/json') || name.endsWith('/VERSION')))
  );
}

interface Collected {
  readonly meta: Map<string, Buffer>;
  readonly blobs: Map<string, { digest: Digest; size: number }>;
  readonly links: Map<string, string>;
}

/** Bytes the staging branch may run behind the content store before the tee waits. */
const STAGE_BUFFER = 1024 * 1024;
const TAR_BLOCK = 512;

/** Staged layers by blob digest, each handed out once; the rest discarded at the end. */
class StagedSet implements StagedLayers {
  private readonly byBlob = new Map<Digest, StagedLayer>();
  constructor(private readonly images: ImageService) {}
  async add(blob: Digest, s: StagedLayer): Promise<void> {
    // The same bytes twice in one archive: one staged copy is enough.
    if (this.byBlob.has(blob)) await this.images.abortStagedLayer(s);
    else this.byBlob.set(blob, s);
  }
  take(blob: Digest): StagedLayer | undefined {
    const s = this.byBlob.get(blob);
    this.byBlob.delete(blob);
    return s;
  }
  async discard(): Promise<void> {
    for (const s of this.byBlob.values()) await this.images.abortStagedLayer(s);
    this.byBlob.clear();
  }
}

async function* prepend<T>(head: readonly T[], rest: AsyncIterator<T>): AsyncGenerator<T> {
  yield* head;
  for (;;) {
    const r = await rest.next();
    if (r.done === true) return;
    yield r.value;
  }
}

/**
 * Stores one archive entry in the content store and, when it starts like a
 * tar, unpacks it into a staged layer at the same time. The staged copy is
 * returned only if it got exactly the bytes the store verified and stored.
 */
async function ingestEntry(
  ctx: Ctx,
  deps: { images: ImageService; content: ContentStore },
  data: AsyncIterable<Buffer>,
  expected: { digest?: Digest; size: number },
): Promise<{ blob: { digest: Digest; size: number }; staged: StagedLayer | undefined }> {
  const it = data[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let n = 0;
  while (n < TAR_BLOCK) {
    const r = await it.next();
    if (r.done === true) break;
    head.push(r.value);
    n += r.value.length;
  }
  const first = head.length === 1 ? head[0]! : Buffer.concat(head);
  const stage = n >= TAR_BLOCK && looksLikeTarHeader(first.subarray(0, TAR_BLOCK)) && !(expected.digest !== undefined && (await deps.content.has(expected.digest)));
  if (!stage) return { blob: await deps.content.ingest(ctx, prepend(head, it), expected), staged: undefined };

  const branch = new PassThrough({ highWaterMark: STAGE_BUFFER });
  let stageFailed = false;
  const staging = deps.images.stageLayer(ctx, branch).then(
    (s) => s,
    (e: unknown) => {
      // Not fatal here: if it is a layer, the ordinary path meets (and reports) the same problem.
      stageFailed = true;
      ctx.log.debug('load: early unpack failed; the layer will be unpacked from the store', { err: e instanceof Error ? e.message : String(e) });
      branch.destroy();
      return undefined;
    },
  );
  const waitDrain = (): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        branch.off('drain', done);
        branch.off('close', done);
        resolve();
      };
      branch.on('drain', done);
      branch.on('close', done);
    });
  async function* tee(): AsyncGenerator<Buffer> {
    for await (const c of prepend(head, it)) {
      if (!stageFailed && !branch.write(c)) await waitDrain();
      yield c;
    }
    branch.end();
  }
  let blob: { digest: Digest; size: number };
  try {
    blob = await deps.content.ingest(ctx, tee(), expected);
  } catch (e) {
    // The staging branch may be waiting for bytes that will not come.
    branch.destroy();
    const s = await staging;
    if (s !== undefined) await deps.images.abortStagedLayer(s);
    throw e;
  }
  return { blob, staged: await staging };
}

async function collect(
  ctx: Ctx,
  deps: { images: ImageService; content: ContentStore },
  lease: { add(r: string): void },
  body: Readable,
  staged: StagedSet,
): Promise<Collected> {
  const meta = new Map<string, Buffer>();
  const blobs = new Map<string, { digest: Digest; size: number }>();
  const links = new Map<string, string>();
  const reader = new TarReader(body, { maxEntrySize: 64 * 1024 ** 3 });
  for (;;) {
    const h = await reader.next();
    if (h === undefined) break;
    const name = posix.normalize(h.name.replace(/^\.?\/+/, '')).replace(/\/$/, '');
    if (h.type === 'symlink' || h.type === 'link') {
      // docker save links duplicate layers: a/layer.tar -> ../b/layer.tar
      const target = h.type === 'symlink' ? posix.normalize(posix.join(posix.dirname(name), h.linkname)) : posix.normalize(h.linkname);
      links.set(name, target);
      continue;
    }
    if (h.type !== 'file') continue;
    if (isSmallMeta(name)) {
      if (h.size > MAX_JSON_BYTES) throw new InvalidArgumentError(`invalid archive: ${name} is ${h.size} bytes`);
      meta.set(name, await readAllLimited(reader.data(), MAX_JSON_BYTES));
      continue;
    }
    // OCI blobs are named by their digest: verify it while storing.
    const m = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/.exec(name);
    const expected = m !== null && isDigest(`${m[1]}:${m[2]}`) ? { digest: `${m[1]}:${m[2]}` as Digest, size: h.size } : { size: h.size };
    const { blob: r, staged: s } = await ingestEntry(ctx, deps, reader.data(), expected);
    lease.add(r.digest);
    blobs.set(name, r);
    if (s !== undefined) await staged.add(r.digest, s);
  }
  return { meta, blobs, links };
}

function resolvePath(c: Collected, p: string): string {
  let cur = posix.normalize(p);
  for (let i = 0; i < 16 && c.links.has(cur); i++) cur = c.links.get(cur)!;
  return cur;
}

async function readSmall(ctx: Ctx, content: ContentStore, c: Collected, path: string): Promise<Buffer> {
  const p = resolvePath(c, path);
  const m = c.meta.get(p);
  if (m !== undefined) return m;
  const b = c.blobs.get(p);
  if (b !== undefined) return content.readBlob(b.digest);
  void ctx;
  throw new InvalidArgumentError(`invalid archive: ${path} is referenced but missing`);
}

interface DockerArchiveEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

function parseDockerManifest(buf: Buffer): DockerArchiveEntry[] {
  const doc = parseJson(buf, 'manifest.json');
  if (!Array.isArray(doc)) throw new InvalidArgumentError('invalid manifest.json: not an array');
  return doc.map((e: unknown, i) => {
    if (typeof e !== 'object' || e === null) throw new InvalidArgumentError(`invalid manifest.json: entry ${i} is not an object`);
    const o = e as Record<string, unknown>;
    const cfg = o['Config'];
    const layers = o['Layers'];
    const tags = o['RepoTags'];
    if (typeof cfg !== 'string') throw new InvalidArgumentError(`invalid manifest.json: entry ${i} has no Config`);
    if (!Array.isArray(layers) || !layers.every((l): l is string => typeof l === 'string')) throw new InvalidArgumentError(`invalid manifest.json: entry ${i} has bad Layers`);
    if (tags !== null && tags !== undefined && (!Array.isArray(tags) || !tags.every((t): t is string => typeof t === 'string'))) {
      throw new InvalidArgumentError(`invalid manifest.json: entry ${i} has bad RepoTags`);
    }
    return { Config: cfg, Layers: layers, RepoTags: (tags as string[] | null | undefined) ?? null };
  });
}

async function layerMediaType(content: ContentStore, digest: Digest): Promise<string> {
  const head = await content.reader(digest, { start: 0, end: 3 });
  const parts: Buffer[] = [];
  for await (const c of head) parts.push(c as Buffer);
  const kind = detectCompression(Buffer.concat(parts));
  return kind === 'gzip' ? MediaType.dockerLayerGzip : kind === 'zstd' ? MediaType.ociLayerZstd : MediaType.dockerLayer;
}

/** Loads an archive; returns the lines Docker prints ("Loaded image: x"). */
export async function loadArchive(
  ctx: Ctx,
  deps: { images: ImageService; content: ContentStore; leases: LeaseManager; trimHeap?: () => void },
  body: Readable,
  progress: LoadProgress,
): Promise<string[]> {
  const lease = deps.leases.create({ expiresInMs: 3600_000 });
  const staged = new StagedSet(deps.images);
  try {
    const t0 = Date.now();
    const c = await collect(ctx, deps, lease, body, staged);
    ctx.log.debug('load: archive received', { ms: Date.now() - t0, blobs: c.blobs.size });
    const lines: string[] = [];
    const manifestJson = c.meta.get('manifest.json');
    if (manifestJson !== undefined) {
      for (const e of parseDockerManifest(manifestJson)) {
        lines.push(...(await loadDockerEntry(ctx, deps, c, e, lease, progress, staged)));
      }
    } else if (c.meta.has('index.json')) {
      lines.push(...(await loadOciLayout(ctx, deps, c, progress, staged)));
    } else {
      throw new InvalidArgumentError('open /var/lib/berth/tmp/manifest.json: no such file or directory (the archive has neither manifest.json nor index.json)');
    }
    ctx.log.debug('load: done', { ms: Date.now() - t0 });
    return lines;
  } finally {
    await staged.discard();
    lease.release();
    releaseFreedHeap(ctx, deps.trimHeap);
  }
}

/**
 * A load streams hundreds of MB through short-lived buffers; the caller's
 * `trimHeap` (Sys.mallocTrim) gives the freed pages back once the response's
 * buffers are gone too. Best effort.
 */
function releaseFreedHeap(ctx: Ctx, trimHeap: (() => void) | undefined): void {
  if (trimHeap === undefined) return;
  setTimeout(() => {
    try {
      trimHeap();
    } catch (e) {
      ctx.log.debug('malloc_trim unavailable', { err: e instanceof Error ? e.message : String(e) });
    }
  }, 200).unref();
}

async function loadDockerEntry(
  ctx: Ctx,
  deps: { images: ImageService; content: ContentStore },
  c: Collected,
  e: DockerArchiveEntry,
  lease: { add(r: string): void },
  progress: LoadProgress,
  staged: StagedLayers,
): Promise<string[]> {
  const configBytes = await readSmall(ctx, deps.content, c, e.Config);
  const config = parseImageConfig(configBytes);
  const stored = await deps.content.put(ctx, configBytes);
  lease.add(stored.digest);
  if (config.rootfs.diff_ids.length !== e.Layers.length) {
    throw new InvalidArgumentError(`invalid manifest, layers length mismatch: expected ${config.rootfs.diff_ids.length}, got ${e.Layers.length}`);
  }
  const layers: Descriptor[] = [];
  for (const lp of e.Layers) {
    const b = c.blobs.get(resolvePath(c, lp));
    if (b === undefined) throw new InvalidArgumentError(`invalid archive: layer ${lp} is referenced but missing`);
    layers.push({ mediaType: await layerMediaType(deps.content, b.digest), digest: b.digest, size: b.size });
  }
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.dockerManifest,
    config: { mediaType: MediaType.dockerConfig, digest: stored.digest, size: stored.size },
    layers,
  };
  const tags = (e.RepoTags ?? []).map((t) => fullString(withDefaultTag(parseReference(t))));
  return registerLoaded(ctx, deps, manifest, stored.digest, config, tags, lease, progress, staged);
}

async function registerLoaded(
  ctx: Ctx,
  deps: { images: ImageService; content: ContentStore },
  manifest: ImageManifest,
  configDigest: Digest,
  config: ImageConfig,
  tags: string[],
  lease: { add(r: string): void },
  progress: LoadProgress,
  staged: StagedLayers,
  manifestBytes?: Buffer,
): Promise<string[]> {
  const mbytes = manifestBytes ?? Buffer.from(JSON.stringify(manifest));
  const m = await deps.content.put(ctx, mbytes, { digest: digestOf(mbytes) });
  lease.add(m.digest);
  const layers = await deps.images.unpack(
    ctx,
    manifest,
    config,
    (desc, state) => {
      if (state === 'done') progress({ status: 'Loading layer', id: desc.digest.slice(7, 19), progressDetail: { current: desc.size, total: desc.size } });
    },
    staged,
  );
  const img = deps.images.register({ manifestDigest: m.digest, manifest, configDigest, config, tags }, layers);
  const lines: string[] = [];
  if (tags.length === 0) lines.push(`Loaded image ID: ${img.record.id}`);
  for (const t of tags) lines.push(`Loaded image: ${familiarRef(t)}`);
  for (const t of tags) deps.images.events.publish('image', 'load', img.record.id, { name: familiarRef(t) });
  if (tags.length === 0) deps.images.events.publish('image', 'load', img.record.id, { name: img.record.id });
  return lines;
}

async function loadOciLayout(
  ctx: Ctx,
  deps: { images: ImageService; content: ContentStore },
  c: Collected,
  progress: LoadProgress,
  staged: StagedLayers,
): Promise<string[]> {
  const layout = c.meta.get('oci-layout');
  if (layout !== undefined) {
    const v = parseJson(layout, 'oci-layout');
    if (typeof v !== 'object' || v === null || (v as Record<string, unknown>)['imageLayoutVersion'] !== '1.0.0') {
      throw new InvalidArgumentError('unsupported oci-layout version');
    }
  }
  const idx = parseManifestAny(c.meta.get('index.json')!, MediaType.ociIndex);
  if (idx.kind !== 'index') throw new InvalidArgumentError('invalid index.json');
  const lines: string[] = [];
  const lease = { add: (_r: string): void => {} };
  const byImage = new Map<string, string[]>();
  const order: Descriptor[] = [];
  for (const d of idx.index.manifests) {
    const name = imageNameOf(d);
    const key = d.digest;
    if (!byImage.has(key)) {
      byImage.set(key, []);
      order.push(d);
    }
    if (name !== undefined) byImage.get(key)!.push(name);
  }
  for (const d of order) {
    let desc = d;
    let bytes = await deps.content.readBlob(desc.digest);
    let parsed = parseManifestAny(bytes, desc.mediaType);
    if (parsed.kind === 'index' || isIndexType(desc.mediaType)) {
      if (parsed.kind !== 'index') throw new InvalidArgumentError('invalid index');
      desc = selectManifest(parsed.index, hostPlatform());
      bytes = await deps.content.readBlob(desc.digest);
      parsed = parseManifestAny(bytes, desc.mediaType);
    }
    if (parsed.kind !== 'manifest') throw new InvalidArgumentError('nested indexes are not supported');
    const configBytes = await deps.content.readBlob(parsed.manifest.config.digest);
    const config = parseImageConfig(configBytes);
    lines.push(...(await registerLoaded(ctx, deps, parsed.manifest, parsed.manifest.config.digest, config, byImage.get(d.digest) ?? [], lease, progress, staged, bytes)));
  }
  return lines;
}

/** The image name an OCI index entry carries, if any. */
function imageNameOf(d: Descriptor): string | undefined {
  const a = d.annotations ?? {};
  const full = a['io.containerd.image.name'];
  const ref = a['org.opencontainers.image.ref.name'];
  for (const cand of [full, ref]) {
    if (cand === undefined || cand === '') continue;
    // A bare tag ("latest") names no repository: such images load untagged.
    if (!cand.includes('/') && !cand.includes(':')) continue;
    try {
      return fullString(withDefaultTag(parseReference(cand)));
    } catch {
      continue;
    }
  }
  return undefined;
}
