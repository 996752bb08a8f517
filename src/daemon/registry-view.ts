/**
 * `berthd --registry-addr HOST:PORT`: berthd's own image store served as an
 * OCI distribution registry. Nothing is copied: manifests and blobs are
 * streamed straight out of the content store (`content.blobPath`), and the
 * repositories and tags are a live view of the image index, so an image
 * loaded, built, pulled or tagged locally is pullable at once, and one that
 * is removed is gone at once.
 *
 * Name mapping (reference → repository): the path part of each local name.
 *   docker.io/library/busybox:1  → `library/busybox`, tag `1` (also reachable as `busybox`)
 *   docker.io/me/app:2           → `me/app`, tag `2`
 *   localhost:5000/t1:v1         → `t1`, tag `v1`
 *   quay.io/org/x:3              → `org/x`, tag `3`
 * The domain is dropped (registry names cannot carry one). When two local
 * names collide on repository:tag, an exact path match beats the `library/`
 * alias, then docker.io beats other domains, then the lower domain wins, so
 * the answer is deterministic. Digest names (`x@sha256:…`) put an image in
 * its repository too; a manifest by digest is served only for digests that
 * are some image's stored manifest (a pulled multi-arch index is not kept
 * whole, so its digest is not served).
 *
 * Pushes land in the local image store: blobs are streamed into an upload
 * session under `<data-root>/registry-uploads`, then moved into the content
 * store through its verified ingest (digest checked) and leased until a
 * manifest names them; a manifest PUT stores the manifest blob, unpacks the
 * layers and registers (or retags) a local image named
 * `docker.io/<repository>:<tag>` (the inverse of the mapping above: pushing
 * `HOST:PORT/app:1` makes a local `app:1`, usable by `docker run`). Only
 * image manifests are accepted (an index cannot be a local image). Deletes
 * are refused with the spec's UNSUPPORTED: `docker rmi` is the way to remove.
 *
 * Implemented at the RegistryStore level (a subclass the unchanged handlers
 * talk to) rather than as a StorageDriver: the store's tag cache assumes it
 * is the only writer, which a live view of the image index is not, and the
 * content store's verified ingest is the only way blobs may enter it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { withLease, type Ctx } from '../base/ctx.js';
import type { Digest } from '../base/digest.js';
import { InvalidArgumentError, NotFoundError, errnoCode } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { ContentStore } from '../content/types.js';
import type { Lease, LeaseManager } from '../content/leases.js';
import type { ImageService } from '../images/service.js';
import type { Image } from '../images/store.js';
import { isIndexType } from '../oci/mediatypes.js';
import { DEFAULT_DOMAIN, fullString, parseReference, withDigest, withTag, type Reference } from '../oci/reference.js';
import type { Descriptor, ImageConfig, ImageManifest } from '../oci/types.js';
import { parseImageConfig, parseImageManifest } from '../oci/validate.js';
import { RegistryError } from '../registry/errors.js';
import { createRegistry } from '../registry/server.js';
import { parseManifest, type ParsedManifest } from '../registry/manifest.js';
import { FsDriver } from '../registry/storage/fs.js';
import * as L from '../registry/storage/layout.js';
import { RegistryStore, type ManifestMeta } from '../registry/storage/store.js';

const LIBRARY = 'library/';
/** How long a pushed blob waits (leased) for a manifest that names it. */
const PENDING_MS = 6 * 3600_000;
/** Digest → manifest metadata entries kept (content-addressed, so never stale). */
const META_CACHE = 4096;

export interface ImageRegistryDeps {
  readonly images: ImageService;
  readonly content: ContentStore;
  readonly leases: LeaseManager;
  readonly log: Logger;
  /** Where push upload sessions live until their blob is ingested (`<data-root>/registry-uploads`). */
  readonly uploadRoot: string;
}

/** Repository names a local reference is served under: its path, plus the bare name for docker.io/library/x. */
export function repositoriesOf(ref: Reference): string[] {
  if (ref.domain === DEFAULT_DOMAIN && ref.path.startsWith(LIBRARY)) return [ref.path, ref.path.slice(LIBRARY.length)];
  return [ref.path];
}

/** Lower is preferred when two local names map to the same repository:tag. */
function rank(ref: Reference, name: string): string {
  return `${ref.path === name ? 0 : 1}${ref.domain === DEFAULT_DOMAIN ? 0 : 1}${ref.domain}`;
}

interface RepoView {
  /** tag → image, with collisions resolved by rank. */
  tags: Map<string, Image>;
  images: Set<Image>;
}

interface Pending {
  readonly lease: Lease;
  readonly until: number;
}

/** The registry model over the image index and content store; the registry's handlers are unchanged. */
export class ImageRegistryStore extends RegistryStore {
  private readonly meta = new Map<Digest, ManifestMeta>();
  /** Pushed blobs not yet named by a manifest: repository → digest → lease. */
  private readonly pending = new Map<string, Map<Digest, Pending>>();

  constructor(
    private readonly d: ImageRegistryDeps,
    private readonly ctx: Ctx,
  ) {
    // The driver holds only push upload sessions; everything readable comes from the image store.
    super(new FsDriver(d.uploadRoot), { log: d.log, cacheSize: 1 });
  }

  /** Parses every local name once per call: the index is in memory and small next to an HTTP round trip. */
  private view(name: string): RepoView {
    const tags = new Map<string, { img: Image; rank: string }>();
    const images = new Set<Image>();
    for (const img of this.d.images.index.all()) {
      for (const full of [...img.tags, ...img.digests]) {
        let ref: Reference;
        try {
          ref = parseReference(full);
        } catch {
          continue;
        }
        if (!repositoriesOf(ref).includes(name)) continue;
        images.add(img);
        if (ref.tag === undefined) continue;
        const r = rank(ref, name);
        const have = tags.get(ref.tag);
        if (have === undefined || r < have.rank) tags.set(ref.tag, { img, rank: r });
      }
    }
    return { tags: new Map([...tags].map(([t, v]) => [t, v.img])), images };
  }

  private pendingIn(name: string): Map<Digest, Pending> | undefined {
    const m = this.pending.get(name);
    if (m === undefined) return undefined;
    const now = Date.now();
    for (const [dg, p] of m) if (p.until <= now || p.lease.released) m.delete(dg);
    if (m.size === 0) {
      this.pending.delete(name);
      return undefined;
    }
    return m;
  }

  private addPending(name: string, digest: Digest, lease: Lease): void {
    let m = this.pending.get(name);
    if (m === undefined) this.pending.set(name, (m = new Map()));
    m.get(digest)?.lease.release();
    m.set(digest, { lease, until: Date.now() + PENDING_MS });
  }

  private async contentSize(digest: Digest): Promise<number | undefined> {
    try {
      return (await stat(this.d.content.blobPath(digest))).size;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return undefined;
      throw e;
    }
  }

  // ---- repositories ----

  override async repoExists(name: string): Promise<boolean> {
    return this.view(name).images.size > 0 || this.pendingIn(name) !== undefined;
  }

  /** Canonical paths only (`library/x`, not its `x` alias), so each image is listed once. */
  override async catalog(): Promise<string[]> {
    const out = new Set<string>();
    for (const img of this.d.images.index.all()) {
      for (const full of [...img.tags, ...img.digests]) {
        try {
          out.add(parseReference(full).path);
        } catch {
          /* a name this grammar rejects is not served */
        }
      }
    }
    return [...out].sort();
  }

  override async tags(name: string): Promise<string[] | undefined> {
    const v = this.view(name);
    if (v.images.size === 0 && this.pendingIn(name) === undefined) return undefined;
    return [...v.tags.keys()].sort();
  }

  override async referrers(): Promise<Descriptor[]> {
    return [];
  }

  // ---- blobs: scoped to what the repository's images reference, read in place ----

  override async blobStat(name: string, digest: Digest): Promise<number | undefined> {
    let linked = this.pendingIn(name)?.has(digest) === true;
    if (!linked) {
      for (const img of this.view(name).images) {
        const m = img.manifest;
        if (img.record.manifest === digest || m.config.digest === digest || m.layers.some((l) => l.digest === digest)) {
          linked = true;
          break;
        }
      }
    }
    return linked ? this.contentSize(digest) : undefined;
  }

  override async globalBlobSize(digest: Digest): Promise<number | undefined> {
    return this.contentSize(digest);
  }

  /** The content store's own file: no copy, and an fd opened before a `docker rmi` keeps reading. */
  override blobReader(digest: Digest, start?: number, end?: number): Readable {
    const opts: { start?: number; end?: number; highWaterMark: number } = { highWaterMark: 1 << 18 };
    if (start !== undefined) opts.start = start;
    if (end !== undefined) opts.end = end;
    return createReadStream(this.d.content.blobPath(digest), opts);
  }

  override async linkBlob(name: string, digest: Digest): Promise<void> {
    this.addPending(name, digest, this.leaseFor(digest));
  }

  override async unlinkBlob(): Promise<boolean> {
    throw new RegistryError('UNSUPPORTED', undefined, { message: 'deletes are not supported here; remove images with docker rmi' });
  }

  override async mountBlob(name: string, from: string, digest: Digest): Promise<number | undefined> {
    const size = await this.blobStat(from, digest);
    if (size !== undefined) await this.linkBlob(name, digest);
    return size;
  }

  private leaseFor(digest: Digest): Lease {
    const lease = this.d.leases.create({ expiresInMs: PENDING_MS });
    lease.add(digest);
    return lease;
  }

  // ---- uploads: sessions in the driver (the base class), commits into the content store ----

  override async commitUpload(name: string, uuid: string, expect: Digest): Promise<number> {
    const st = await this.uploadStatus(name, uuid);
    if (st === undefined) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', { uuid });
    const lease = this.leaseFor(expect);
    let size: number;
    try {
      // The content store's ingest re-hashes and refuses a mismatch; nothing unverified becomes visible.
      ({ size } = await this.d.content.ingest(withLease(this.ctx, lease.id), this.driver.reader(L.uploadData(name, uuid)), { digest: expect }));
    } catch (e) {
      lease.release();
      await super.cancelUpload(name, uuid);
      if (e instanceof InvalidArgumentError) throw new RegistryError('DIGEST_INVALID', { expected: expect, reason: e.message });
      throw e;
    }
    this.addPending(name, expect, lease);
    // Drops the session file and the base class's running hash for it.
    await super.cancelUpload(name, uuid);
    return size;
  }

  // ---- manifests ----

  /** Never cached by name: tags are a live view of the index (docker tag/rmi change them underneath). */
  override cachedManifest(): ManifestMeta | undefined {
    return undefined;
  }

  private async metaOf(digest: Digest): Promise<ManifestMeta | undefined> {
    const hit = this.meta.get(digest);
    if (hit !== undefined) return hit;
    let body: Buffer;
    try {
      body = await this.d.content.readBlob(digest);
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
    const mediaType = parseManifest(body, undefined).mediaType;
    const m: ManifestMeta = { digest, size: body.length, mediaType, sizeHeader: String(body.length) };
    if (this.meta.size >= META_CACHE) this.meta.clear();
    this.meta.set(digest, m);
    return m;
  }

  override async getManifest(name: string, ref: string, isDigestRef: boolean): Promise<ManifestMeta | undefined> {
    const v = this.view(name);
    let img: Image | undefined;
    if (isDigestRef) {
      for (const i of v.images) if (i.record.manifest === ref) img = i;
    } else img = v.tags.get(ref);
    return img === undefined ? undefined : this.metaOf(img.record.manifest);
  }

  override async readManifest(digest: Digest): Promise<Buffer | undefined> {
    try {
      return await this.d.content.readBlob(digest);
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  }

  /**
   * A push: the manifest blob goes into the content store, its layers are
   * unpacked, and a local image named docker.io/<name>[:tag] is registered
   * (or, when that exact image is already here, only its names change).
   */
  override async putManifest(
    name: string,
    ref: { tag?: string; digest?: Digest },
    body: Buffer,
    contentType: string | undefined,
  ): Promise<{ digest: Digest; parsed: ParsedManifest }> {
    const parsed = parseManifest(body, contentType);
    if (isIndexType(parsed.mediaType)) {
      throw new RegistryError('MANIFEST_INVALID', { mediaType: parsed.mediaType }, { message: 'only image manifests can be pushed here (an index cannot be a local image); push one platform' });
    }
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}` as Digest;
    if (ref.digest !== undefined && ref.digest !== digest) throw new RegistryError('DIGEST_INVALID', { expected: ref.digest, actual: digest });
    for (const b of parsed.blobs) {
      if ((await this.blobStat(name, b.digest)) === undefined) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', { digest: b.digest });
    }
    let manifest: ImageManifest;
    let config: ImageConfig;
    try {
      manifest = parseImageManifest(body, parsed.mediaType);
      config = parseImageConfig(await this.d.content.readBlob(manifest.config.digest));
    } catch (e) {
      throw new RegistryError('MANIFEST_INVALID', { reason: e instanceof Error ? e.message : String(e) }, { message: 'not a runnable image manifest' });
    }
    let local: Reference;
    try {
      local = parseReference(name);
    } catch (e) {
      throw new RegistryError('NAME_INVALID', { name, reason: e instanceof Error ? e.message : String(e) });
    }
    // `example.com/x` would become a local name on another registry, served back as `x`: refuse the ambiguity.
    if (local.domain !== DEFAULT_DOMAIN) throw new RegistryError('NAME_INVALID', { name }, { message: 'the first path component looks like a registry host' });
    const tagFull = ref.tag !== undefined ? fullString(withTag(local, ref.tag)) : undefined;
    const digestFull = fullString(withDigest(local, digest));
    const configDigest = manifest.config.digest;
    await this.locks.run(`manifests\0${name}`, async () => {
      const lease = this.d.leases.create({ expiresInMs: PENDING_MS });
      try {
        const ctx = withLease(this.ctx, lease.id);
        await this.d.content.put(ctx, body, { digest });
        const images = this.d.images;
        const existing = images.index.byId(configDigest);
        const now = new Date().toISOString();
        if (existing !== undefined && existing.record.manifest === digest) {
          if (tagFull !== undefined) images.index.setRef(tagFull, configDigest, 'tag', now);
          images.index.setRef(digestFull, configDigest, 'digest', now);
        } else {
          const layers = await images.unpack(ctx, manifest, config);
          images.register({ manifestDigest: digest, manifest, configDigest, config, ...(tagFull !== undefined ? { tags: [tagFull] } : {}), digests: [digestFull] }, layers);
        }
        // Named by an image now: the pushed blobs need no lease of their own.
        const p = this.pendingIn(name);
        for (const b of parsed.blobs) {
          p?.get(b.digest)?.lease.release();
          p?.delete(b.digest);
        }
      } finally {
        lease.release();
      }
    });
    this.d.log.info('image pushed to the registry view', { name, tag: ref.tag, digest });
    return { digest, parsed };
  }

  override async deleteManifest(): Promise<boolean> {
    throw new RegistryError('UNSUPPORTED', undefined, { message: 'deletes are not supported here; remove images with docker rmi' });
  }

  override async deleteTag(): Promise<boolean> {
    throw new RegistryError('UNSUPPORTED', undefined, { message: 'deletes are not supported here; remove images with docker rmi' });
  }
}

/** `HOST:PORT`, `:PORT` (all interfaces) or `[v6]:PORT`. */
export function parseListenAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr.trim());
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`--registry-addr ${addr}: expected HOST:PORT`);
  }
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

export interface ImageRegistry {
  readonly server: Server;
  readonly store: ImageRegistryStore;
  listen(addr: string): Promise<AddressInfo>;
  close(): Promise<void>;
}

/** The registry server (its handlers and routes, unchanged) over the image store view. */
export function createImageRegistry(deps: ImageRegistryDeps): ImageRegistry {
  const stop = new AbortController();
  const store = new ImageRegistryStore(deps, { signal: stop.signal, log: deps.log });
  // Blobs come from the content store through the view's own reader (it has no driver file to sendfile).
  const reg = createRegistry({ store, log: deps.log, deleteEnabled: false });
  return {
    server: reg.server as Server,
    store,
    async listen(addr) {
      const { host, port } = parseListenAddr(addr);
      // Upload sessions do not outlive the process that started them: drop what a previous run left.
      await rm(deps.uploadRoot, { recursive: true, force: true });
      return reg.listen(port, host);
    },
    close() {
      stop.abort(new Error('registry closing'));
      return reg.close();
    },
  };
}
