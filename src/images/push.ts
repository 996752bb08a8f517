/**
 * `docker push`: uploads an image's layers, config and manifest.
 *
 * Layers the registry has (HEAD) are skipped; a blob that this image also
 * has in another repository of the same registry is mounted from there.
 * Compressed blobs (what a pull brought) are uploaded as they are, so a
 * pulled image keeps its manifest digest. Uncompressed layers (from a
 * docker-archive load, an import) are gzipped on all cores while they
 * stream out; the gzip bytes are tee'd into the content store, whose hash
 * names the blob, and the image is re-registered with the manifest that
 * references them (its ID, the config digest, stays), so the next push
 * finds them with a HEAD instead of compressing again.
 */
import { createReadStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Ctx } from '../base/ctx.js';
import { withLease } from '../base/ctx.js';
import { digestOf, shortId, type Digest } from '../base/digest.js';
import { InvalidArgumentError, NotFoundError } from '../base/errors.js';
import { layerCompression, MediaType } from '../oci/mediatypes.js';
import { familiarName, familiarString, parseReference, repositoryName, type Reference } from '../oci/reference.js';
import type { Descriptor, ImageManifest } from '../oci/types.js';
import type { Credentials } from '../remotes/auth.js';
import { asBerthError, RegistryError, type RepositoryClient } from '../remotes/client.js';
import { parallelGzip } from '../remotes/pgzip.js';
import { progressMessage, statusMessage, Throttle, type ProgressSink } from '../remotes/progress.js';
import type { DistributionDeps } from './pull.js';
import type { Image } from './store.js';

export interface PushOptions {
  /** The repository, with the tag to push (all of the repository's tags when absent). */
  readonly ref: Reference;
  readonly creds: Credentials;
  /** Parallel layer uploads (dockerd: 5). */
  readonly concurrency?: number;
}

export interface PushResult {
  readonly tag: string;
  readonly digest: Digest;
  readonly size: number;
}

/** Pushes; progress goes to `progress`, errors are thrown (the caller sends them in-stream). */
export async function pushImage(ctx: Ctx, deps: DistributionDeps, opts: PushOptions, progress: ProgressSink): Promise<PushResult[]> {
  const ref = opts.ref;
  const repoName = repositoryName(ref);
  progress({ status: `The push refers to repository [${repoName}]` });
  const targets: { tag: string; image: Image }[] = [];
  if (ref.tag !== undefined) {
    const img = deps.images.index.byRef(`${repoName}:${ref.tag}`);
    if (img === undefined) throw new NotFoundError(`tag does not exist: ${familiarString(ref)}`);
    targets.push({ tag: ref.tag, image: img });
  } else {
    for (const img of deps.images.index.all()) {
      for (const t of img.tags) if (t.startsWith(`${repoName}:`)) targets.push({ tag: t.slice(repoName.length + 1), image: img });
    }
    targets.sort((a, b) => a.tag.localeCompare(b.tag));
    if (targets.length === 0) throw new NotFoundError(`An image does not exist locally with the tag: ${familiarName(ref)}`);
  }
  const lease = deps.leases.create({ expiresInMs: 6 * 3600_000 });
  const lctx = withLease(ctx, lease.id);
  const repo = deps.registries.repository(ref.domain, ref.path, opts.creds, ['pull', 'push']);
  const out: PushResult[] = [];
  try {
    await repo.ensureAuth(ctx.signal);
    for (const t of targets) out.push(await new Push(lctx, deps, repo, ref, progress, opts.concurrency ?? 5, lease).one(t.tag, t.image));
  } catch (e) {
    if (e instanceof RegistryError) throw asBerthError(e);
    throw e;
  } finally {
    lease.release();
  }
  return out;
}

class Push {
  constructor(
    private readonly ctx: Ctx,
    private readonly d: DistributionDeps,
    private readonly repo: RepositoryClient,
    private readonly ref: Reference,
    private readonly progress: ProgressSink,
    private readonly concurrency: number,
    private readonly lease: { add(r: string): void },
  ) {}

  async one(tag: string, img: Image): Promise<PushResult> {
    const signal = this.ctx.signal;
    const manifest = img.manifest;
    const diffIds = img.config.rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length) throw new InvalidArgumentError('image config and manifest disagree on the number of layers');
    const mounts = this.mountSources(img);
    // dockerd lists layers top first, by diff ID.
    const order = manifest.layers.map((_, i) => i).reverse();
    const shown = new Set<string>();
    for (const i of order) {
      const id = shortId(diffIds[i]!);
      if (!shown.has(id)) this.progress(statusMessage('Preparing', id));
      shown.add(id);
    }
    const result: Descriptor[] = [...manifest.layers];
    const isOci = manifest.mediaType === MediaType.ociManifest || (manifest.mediaType === undefined && manifest.config.mediaType === MediaType.ociConfig);
    let next = 0;
    let failed: unknown;
    const worker = async (): Promise<void> => {
      while (failed === undefined && next < order.length) {
        const i = order[next++]!;
        try {
          result[i] = await this.layer(manifest.layers[i]!, diffIds[i]!, mounts, isOci);
        } catch (e) {
          failed ??= e;
        }
      }
    };
    for (let i = this.concurrency; i < order.length; i++) this.progress(statusMessage('Waiting', shortId(diffIds[order[i]!]!)));
    await Promise.all(Array.from({ length: Math.min(this.concurrency, order.length) }, worker));
    if (failed !== undefined) throw failed;

    // The config blob.
    const cfg = manifest.config;
    if (!(await this.repo.hasBlob(cfg.digest, signal))) {
      const bytes = await this.d.content.readBlob(cfg.digest);
      const up = await this.repo.startUpload(signal);
      if (!up.mounted) await this.repo.putBlob(up.location, cfg.digest, bytes.length, () => Readable.from([bytes]), signal);
    }

    // The manifest: the stored bytes when nothing changed (a pulled image keeps its digest).
    const changed = result.some((r, i) => r.digest !== manifest.layers[i]!.digest);
    let bytes: Buffer;
    let newManifest: ImageManifest = manifest;
    if (!changed) bytes = await this.d.content.readBlob(img.record.manifest);
    else {
      newManifest = {
        schemaVersion: 2,
        mediaType: isOci ? MediaType.ociManifest : MediaType.dockerManifest,
        config: { mediaType: cfg.mediaType, digest: cfg.digest, size: cfg.size },
        layers: result.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      };
      // dockerd's (Go's MarshalIndent) layout, three-space indents.
      bytes = Buffer.from(JSON.stringify(newManifest, null, 3));
    }
    const mediaType = newManifest.mediaType ?? (isOci ? MediaType.ociManifest : MediaType.dockerManifest);
    const digest = await this.repo.putManifest(tag, bytes, mediaType, signal);
    const stored = await this.d.content.put(this.ctx, bytes, { digest: digestOf(bytes) });
    this.lease.add(stored.digest);

    const digestFull = `${repositoryName(this.ref)}@${digest}`;
    if (changed) {
      const layers = await this.d.images.unpack(this.ctx, newManifest, img.config);
      this.d.images.register(
        { manifestDigest: stored.digest, manifest: newManifest, configDigest: img.record.id, config: img.config, tags: img.tags, digests: [...img.digests, digestFull], parent: img.record.parent },
        layers,
      );
    } else this.d.images.index.setRef(digestFull, img.record.id, 'digest', new Date().toISOString());

    this.progress({ status: `${tag}: digest: ${digest} size: ${bytes.length}` });
    this.progress({ progressDetail: {}, aux: { Tag: tag, Digest: digest, Size: bytes.length } });
    const name = familiarString({ domain: this.ref.domain, path: this.ref.path, tag });
    this.d.images.events.publish('image', 'push', name, { name });
    return { tag, digest, size: bytes.length };
  }

  /** Other repositories of the same registry this image was pulled from or pushed to. */
  private mountSources(img: Image): string[] {
    const out: string[] = [];
    for (const n of [...img.digests, ...img.tags]) {
      try {
        const r = parseReference(n);
        if (r.domain === this.ref.domain && r.path !== this.ref.path && !out.includes(r.path)) out.push(r.path);
      } catch {
        /* not a name */
      }
    }
    return out;
  }

  private async layer(desc: Descriptor, diffId: Digest, mounts: readonly string[], isOci: boolean): Promise<Descriptor> {
    const id = shortId(diffId);
    const signal = this.ctx.signal;
    const t = new Throttle(100);
    const kind = layerCompression(desc.mediaType);
    if (kind !== 'none' && kind !== undefined) {
      if (await this.repo.hasBlob(desc.digest, signal)) {
        this.progress(statusMessage('Layer already exists', id));
        return desc;
      }
      for (const from of mounts) {
        const up = await this.repo.startUpload(signal, { digest: desc.digest, from });
        if (up.mounted) {
          this.progress(statusMessage(`Mounted from ${from}`, id));
          return desc;
        }
        // Not mountable: use the upload the registry opened instead.
        await this.uploadStored(up.location, desc, id, t);
        return desc;
      }
      const up = await this.repo.startUpload(signal);
      if (!up.mounted) await this.uploadStored(up.location, desc, id, t);
      return desc;
    }
    return this.uploadCompressed(desc, id, t, isOci);
  }

  private async uploadStored(location: string, desc: Descriptor, id: string, t: Throttle): Promise<void> {
    let sent = 0;
    await this.repo.putBlob(
      location,
      desc.digest,
      desc.size,
      () => {
        sent = 0;
        const s = createReadStream(this.d.content.blobPath(desc.digest), { highWaterMark: 1024 * 1024 });
        s.on('data', (c) => {
          sent += c.length;
          t.emit(() => this.progress(progressMessage('Pushing', id, sent, desc.size)));
        });
        return s;
      },
      this.ctx.signal,
    );
    t.flush();
    this.progress(statusMessage('Pushed', id));
  }

  /** Gzips an uncompressed layer while uploading it; the gzip blob is kept in the content store. */
  private async uploadCompressed(desc: Descriptor, id: string, t: Throttle, isOci: boolean): Promise<Descriptor> {
    const signal = this.ctx.signal;
    const up = await this.repo.startUpload(signal);
    if (up.mounted) throw new InvalidArgumentError('registry mounted a blob it was not asked to mount');
    const src = await this.d.content.reader(desc.digest);
    let read = 0;
    // Counted by the compressor as it consumes: a 'data' listener here would start the flow too early.
    const gz = parallelGzip(src, {
      onInput: (n) => {
        read += n;
        t.emit(() => this.progress(progressMessage('Pushing', id, read, desc.size)));
      },
    });
    const w = await this.d.content.writer(this.ctx, `push-gzip-${desc.digest}-${randomBytes(6).toString('hex')}`);
    const wire = new PassThrough({ highWaterMark: 1024 * 1024 });
    gz.pipe(wire);
    gz.on('error', (e) => wire.destroy(e));
    let location: string;
    try {
      [location] = await Promise.all([this.repo.patchStream(up.location, wire, signal), pipeline(gz, w.stream())]);
    } catch (e) {
      await w.abort().catch(() => {});
      src.destroy();
      throw e;
    }
    const blob = await w.commit();
    this.lease.add(blob.digest);
    await this.repo.finishUpload(location, blob.digest, signal);
    t.flush();
    this.progress(statusMessage('Pushed', id));
    this.ctx.log.debug('layer compressed for push', { diffId: desc.digest, blob: blob.digest, ratio: (blob.size / Math.max(1, desc.size)).toFixed(3) });
    return { mediaType: isOci ? MediaType.ociLayerGzip : MediaType.dockerLayerGzip, digest: blob.digest, size: blob.size };
  }
}
