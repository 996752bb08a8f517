/**
 * `docker pull`: resolve a reference at its registry, fetch the manifest
 * (choosing the platform from an index), then the config and the layers.
 *
 * Layers are downloaded three at a time into the content store under the
 * deterministic ingest ref `pull-<digest>`: the store hashes every byte as
 * it lands and verifies digest and size at commit, and an interrupted
 * download (a killed daemon, a dropped connection) resumes from the
 * ingest's offset with a Range request. Unpacking runs in layer order
 * alongside the downloads: the layer the unpacker is waiting for when its
 * download starts is tee'd straight into the snapshotter (which verifies the
 * diff ID of the uncompressed stream), so the common head layer is unpacked
 * while it streams in; the others finish downloading meanwhile and are
 * unpacked from the store (page cache) when their turn comes. Each byte is
 * thus hashed once compressed and once uncompressed, never twice.
 *
 * Nothing is registered until every blob verified and every layer unpacked;
 * everything written is leased until then.
 */
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Ctx } from '../base/ctx.js';
import { withLease } from '../base/ctx.js';
import { shortId, type Digest } from '../base/digest.js';
import { CancelledError, InternalError, InvalidArgumentError, NotFoundError, UnauthorizedError, UnavailableError, errorMessage, isBerthError } from '../base/errors.js';
import type { ContentStore, ContentWriter } from '../content/types.js';
import type { LeaseManager, Lease } from '../content/leases.js';
import type { LayerRecord } from '../metadata/images.js';
import { chainIds } from '../oci/chain.js';
import { hostPlatform, selectManifest } from '../oci/platform.js';
import { familiarName, familiarString, fullString, repositoryName, type Reference } from '../oci/reference.js';
import type { Descriptor, ImageConfig, ImageManifest, Platform } from '../oci/types.js';
import { parseImageConfig, parseManifestAny } from '../oci/validate.js';
import type { Credentials } from '../remotes/auth.js';
import { asBerthError, RegistryError, type FetchedManifest, type Registries, type RepositoryClient } from '../remotes/client.js';
import { progressMessage, statusMessage, Throttle, type ProgressSink } from '../remotes/progress.js';
import type { ImageService } from './service.js';
import type { Image } from './store.js';

export interface DistributionDeps {
  readonly images: ImageService;
  readonly content: ContentStore;
  readonly leases: LeaseManager;
  readonly registries: Registries;
}

export interface PullOptions {
  /** With a tag or a digest. */
  readonly ref: Reference;
  readonly platform?: Platform;
  readonly creds: Credentials;
  /** Parallel layer downloads (dockerd: 3). */
  readonly concurrency?: number;
}

export interface PreparedPull {
  /** Streams progress; resolves with the registered (or already present) image. */
  run(ctx: Ctx, progress: ProgressSink): Promise<Image>;
}

const DOWNLOAD_ATTEMPTS = 5;

/** The errors of resolving a name, in dockerd's words (sent as HTTP errors, before any stream output). */
function resolveError(ref: Reference, e: unknown): Error {
  if (e instanceof RegistryError) {
    if (e.status === 404) return new NotFoundError(`manifest for ${familiarString(ref)} not found: ${e.message}`, { cause: e });
    if (e.status === 401 || e.status === 403) {
      return new NotFoundError(`pull access denied for ${familiarName(ref)}, repository does not exist or may require 'docker login': ${e.message}`, { cause: e });
    }
    return asBerthError(e);
  }
  // A 401 here would make the CLI try an interactive login; dockerd answers 500.
  if (e instanceof UnauthorizedError) return new InternalError(e.message, { cause: e });
  return e instanceof Error ? e : new InternalError(String(e));
}

/**
 * Resolves the reference (trying Hub mirrors first) and fetches its top
 * manifest. Errors here are HTTP errors; the rest streams.
 */
export async function preparePull(ctx: Ctx, deps: DistributionDeps, opts: PullOptions): Promise<PreparedPull> {
  const ref = opts.ref;
  const reference = ref.digest ?? ref.tag;
  if (reference === undefined) throw new InvalidArgumentError('pull needs a tag or a digest');
  const endpoints = deps.registries.hosts.endpoints(ref.domain, false);
  let lastErr: unknown;
  for (const ep of endpoints) {
    const repo = deps.registries.repository(ref.domain, ref.path, ep.mirror ? {} : opts.creds, ['pull'], ep);
    try {
      const top = await repo.getManifest(reference, ctx.signal);
      return { run: (c, p) => new Pull(deps, opts, repo, top).run(c, p) };
    } catch (e) {
      lastErr = e;
      if (ep.mirror && !(e instanceof CancelledError)) {
        ctx.log.info('registry mirror failed; trying the next endpoint', { mirror: ep.base, err: errorMessage(e) });
        continue;
      }
      throw resolveError(ref, e);
    }
  }
  throw resolveError(ref, lastErr);
}

interface LayerJob {
  readonly index: number;
  readonly desc: Descriptor;
  readonly id: string;
  readonly chainId: Digest;
  readonly parent: Digest | null;
  readonly diffId: Digest;
  /** Resolves once the blob is committed (verified) in the content store. */
  downloaded?: Promise<void>;
  /** Set when the download was tee'd into the unpacker. */
  teed?: Promise<LayerRecord>;
}

class Pull {
  private readonly ref: Reference;
  private lease!: Lease;
  private ctx!: Ctx;
  private progress: ProgressSink = () => {};
  private stop: AbortController | undefined;

  constructor(
    private readonly d: DistributionDeps,
    private readonly opts: PullOptions,
    private readonly repo: RepositoryClient,
    private readonly top: FetchedManifest,
  ) {
    this.ref = opts.ref;
  }

  async run(ctx: Ctx, progress: ProgressSink): Promise<Image> {
    this.progress = progress;
    this.lease = this.d.leases.create({ expiresInMs: 6 * 3600_000 });
    // One failure stops the other downloads (their ingests stay, for a resume).
    const stop = new AbortController();
    this.stop = stop;
    this.ctx = { ...withLease(ctx, this.lease.id), signal: AbortSignal.any([ctx.signal, stop.signal]) };
    try {
      return await this.pull();
    } catch (e) {
      stop.abort(e);
      if (e instanceof RegistryError) throw asBerthError(e);
      throw e;
    } finally {
      this.lease.release();
    }
  }

  private async pull(): Promise<Image> {
    const { ref, top } = this;
    const images = this.d.images;
    this.progress({ status: `Pulling from ${ref.path}`, id: ref.digest ?? ref.tag ?? '' });

    // The top document: an image manifest, or an index to choose from.
    const parsedTop = parseManifestAny(top.bytes, top.mediaType, familiarString(ref));
    await this.d.content.put(this.ctx, top.bytes, { digest: top.digest });
    let manifest: ImageManifest;
    let manifestDigest: Digest;
    if (parsedTop.kind === 'index') {
      const want = this.opts.platform ?? hostPlatform();
      const desc = selectManifest(parsedTop.index, want);
      const child = await this.repo.getManifest(desc.digest, this.ctx.signal);
      if (child.bytes.length !== desc.size) throw new InvalidArgumentError(`manifest ${desc.digest} is ${child.bytes.length} bytes, the index says ${desc.size}`);
      const parsed = parseManifestAny(child.bytes, child.mediaType !== '' ? child.mediaType : desc.mediaType, familiarString(ref));
      if (parsed.kind !== 'manifest') throw new InvalidArgumentError(`nested index ${desc.digest} is not supported`);
      await this.d.content.put(this.ctx, child.bytes, { digest: child.digest });
      manifest = parsed.manifest;
      manifestDigest = child.digest;
    } else {
      manifest = parsedTop.manifest;
      manifestDigest = top.digest;
    }

    // The config names the image (its digest is the ID) and the layers' diff IDs.
    const cdesc = manifest.config;
    let cbytes: Buffer;
    if (await this.d.content.has(cdesc.digest)) cbytes = await this.d.content.readBlob(cdesc.digest);
    else {
      cbytes = await this.repo.readBlob(cdesc.digest, cdesc.size, this.ctx.signal);
      await this.d.content.put(this.ctx, cbytes, { digest: cdesc.digest, size: cdesc.size });
    }
    this.lease.add(cdesc.digest);
    const config = parseImageConfig(cbytes);
    const configDigest = cdesc.digest;
    if (config.rootfs.diff_ids.length !== manifest.layers.length) {
      throw new InvalidArgumentError(`image config has ${config.rootfs.diff_ids.length} layer diff IDs but the manifest has ${manifest.layers.length} layers`);
    }

    const tagFull = ref.tag !== undefined && ref.digest === undefined ? fullString({ domain: ref.domain, path: ref.path, tag: ref.tag }) : undefined;
    const digestFull = `${repositoryName(ref)}@${top.digest}`;
    const before = images.index.byRef(tagFull ?? digestFull)?.record.id;
    const now = new Date().toISOString();

    let img: Image;
    const existing = images.index.byId(configDigest);
    if (existing !== undefined) {
      // Known image (dockerd checks the config first): only names change.
      if (tagFull !== undefined) images.index.setRef(tagFull, configDigest, 'tag', now);
      images.index.setRef(digestFull, configDigest, 'digest', now);
      img = images.index.byId(configDigest) ?? existing;
    } else {
      await this.fetchLayers(manifest, config, (e) => this.stop?.abort(e));
      // Every layer is unpacked now: unpack() only collects their records.
      const layers = await images.unpack(this.ctx, manifest, config);
      img = images.register(
        { manifestDigest, manifest, configDigest, config, ...(tagFull !== undefined ? { tags: [tagFull] } : {}), digests: [digestFull] },
        layers,
      );
    }
    const name = familiarString(ref);
    this.progress({ status: `Digest: ${top.digest}` });
    this.progress({ status: `Status: ${before === configDigest ? 'Image is up to date' : 'Downloaded newer image'} for ${name}` });
    images.events.publish('image', 'pull', name, { name });
    return img;
  }

  private async fetchLayers(manifest: ImageManifest, config: ImageConfig, stopOthers: (e: unknown) => void): Promise<void> {
    const diffIds = config.rootfs.diff_ids;
    const chains = chainIds(diffIds);
    const known = new Set<string>();
    for (const other of this.d.images.index.all()) for (const c of chainIds(other.config.rootfs.diff_ids)) known.add(c);

    const jobs: LayerJob[] = manifest.layers.map((desc, i) => ({
      index: i,
      desc,
      id: shortId(desc.digest),
      chainId: chains[i]!,
      parent: i === 0 ? null : chains[i - 1]!,
      diffId: diffIds[i]!,
    }));
    // A layer exists when its chain (hence all below it) is unpacked already.
    let firstMissing = jobs.length;
    for (const j of jobs) {
      if (known.has(j.chainId)) this.progress(statusMessage('Already exists', j.id));
      else {
        firstMissing = j.index;
        break;
      }
    }
    const todo = jobs.slice(firstMissing);
    for (const j of jobs.slice(0, firstMissing)) this.lease.add(j.chainId);
    const shown = new Set<string>();
    for (const j of todo) {
      if (shown.has(j.id)) continue;
      shown.add(j.id);
      this.progress(statusMessage('Pulling fs layer', j.id));
    }

    // Downloads: `concurrency` at a time, in layer order; one download per distinct blob.
    const concurrency = Math.max(1, this.opts.concurrency ?? 3);
    const byDigest = new Map<string, LayerJob>();
    let active = 0;
    const waiting: (() => void)[] = [];
    const slot = async (job: LayerJob): Promise<void> => {
      if (active >= concurrency) {
        this.progress(statusMessage('Waiting', job.id));
        await new Promise<void>((r) => waiting.push(r));
      }
      active++;
    };
    const release = (): void => {
      active--;
      waiting.shift()?.();
    };
    let applyHead = todo[0]?.index ?? -1;
    for (const job of todo) {
      const first = byDigest.get(job.desc.digest);
      if (first !== undefined) {
        job.downloaded = first.downloaded!;
        continue;
      }
      byDigest.set(job.desc.digest, job);
      job.downloaded = (async () => {
        await slot(job);
        try {
          await this.download(job, () => applyHead === job.index);
        } finally {
          release();
        }
      })();
    }
    // Fail fast: an error in any download rejects even while the unpacker waits on another.
    let failed: unknown;
    for (const j of todo) j.downloaded!.catch((e: unknown) => (failed ??= e));

    try {
      for (const job of todo) {
        applyHead = job.index;
        if (failed !== undefined) throw failed;
        let rec: LayerRecord;
        if (job.teed !== undefined) {
          try {
            rec = await job.teed;
            await job.downloaded;
          } catch (e) {
            // The download may have broken mid-stream and been resumed: unpack the verified blob.
            await job.downloaded;
            this.ctx.log.debug('streamed unpack failed; unpacking from the store', { layer: job.desc.digest, err: errorMessage(e) });
            rec = await this.applyFromStore(job);
          }
        } else {
          await job.downloaded;
          rec = await this.applyFromStore(job);
        }
        this.lease.add(rec.chainId);
        this.progress(progressMessage('Extracting', job.id, job.desc.size, job.desc.size));
        this.progress(statusMessage('Pull complete', job.id));
      }
    } catch (e) {
      stopOthers(e);
      throw e;
    } finally {
      applyHead = -1;
      // Let the other downloads settle (they stop on the ctx signal or finish) before the lease ends.
      await Promise.allSettled(todo.map((j) => j.downloaded));
      await Promise.allSettled(todo.map((j) => j.teed).filter((p) => p !== undefined));
    }
  }

  private async applyFromStore(job: LayerJob): Promise<LayerRecord> {
    const body = await this.d.content.reader(job.desc.digest);
    const total = job.desc.size;
    let done = 0;
    const t = new Throttle(100);
    body.on('data', (c: Buffer) => {
      done += c.length;
      t.emit(() => this.progress(progressMessage('Extracting', job.id, done, total)));
    });
    return this.d.images.applyLayerStream(this.ctx, body, 'auto', job.chainId, job.parent, job.diffId);
  }

  /**
   * Fetches one blob into the content store, resuming a partial ingest,
   * retrying broken transfers; `teeNow()` says whether to unpack it as it streams.
   */
  private async download(job: LayerJob, teeNow: () => boolean): Promise<void> {
    const { desc } = job;
    const content = this.d.content;
    const ref = `pull-${desc.digest}`;
    const signal = this.ctx.signal;
    const t = new Throttle(100);
    for (let attempt = 0; ; attempt++) {
      if (await content.has(desc.digest)) {
        this.lease.add(desc.digest);
        this.progress(statusMessage('Download complete', job.id));
        return;
      }
      let w: ContentWriter = await content.writer(this.ctx, ref);
      let offset = w.offset;
      if (offset > desc.size) {
        await w.abort();
        continue;
      }
      let body: Readable | undefined;
      if (offset < desc.size) {
        let start: number;
        try {
          ({ body, start } = await this.repo.fetchBlob(desc.digest, offset, signal));
        } catch (e) {
          await closeWriter(w);
          if (e instanceof RegistryError) throw asBerthError(e, `${e.message}`);
          if (!retryable(e) || attempt + 1 >= DOWNLOAD_ATTEMPTS) throw e;
          await backoff(attempt, signal);
          continue;
        }
        if (start === 0 && offset > 0) {
          // The registry ignored the Range: start over.
          await w.abort();
          w = await content.writer(this.ctx, ref);
          offset = 0;
        }
        let received = offset;
        const src = body;
        src.on('data', (c: Buffer) => {
          received += c.length;
          if (received > desc.size) src.destroy(new InvalidArgumentError(`blob ${desc.digest} is larger than its declared size ${desc.size}`));
          t.emit(() => this.progress(progressMessage('Downloading', job.id, received, desc.size)));
        });
        let tee: PassThrough | undefined;
        if (offset === 0 && job.teed === undefined && teeNow()) {
          tee = new PassThrough({ highWaterMark: 1024 * 1024 });
          src.pipe(tee);
          job.teed = this.d.images.applyLayerStream(this.ctx, tee, 'auto', job.chainId, job.parent, job.diffId);
          // Its failure is handled by the unpacker; a dead tee must not stall the download.
          const tp = tee;
          job.teed.catch(() => src.unpipe(tp));
        }
        try {
          await pipeline(src, w.stream());
        } catch (e) {
          tee?.destroy(e instanceof Error ? e : new Error(String(e)));
          // The writer keeps what it wrote: the next attempt resumes from there.
          await closeWriter(w);
          if (signal.aborted) throw new CancelledError('pull cancelled', { cause: e });
          if (e instanceof InvalidArgumentError) {
            await dropIngest(content, this.ctx, ref);
            throw e;
          }
          if (attempt + 1 >= DOWNLOAD_ATTEMPTS) throw new UnavailableError(`error pulling ${desc.digest}: ${errorMessage(e)}`, { cause: e });
          this.ctx.log.info('layer download broke; resuming', { layer: desc.digest, offset: received, err: errorMessage(e) });
          await backoff(attempt, signal);
          continue;
        }
        t.flush();
      }
      this.progress(progressMessage('Downloading', job.id, desc.size, desc.size));
      this.progress(statusMessage('Verifying Checksum', job.id));
      try {
        await w.commit({ digest: desc.digest, size: desc.size });
      } catch (e) {
        if (isBerthError(e) && e.kind === 'invalid-argument') {
          throw new InvalidArgumentError(`filesystem layer verification failed for digest ${desc.digest}`, { cause: e });
        }
        throw e;
      }
      this.lease.add(desc.digest);
      this.progress(statusMessage('Download complete', job.id));
      return;
    }
  }
}

/** Gives up the ingest ref, keeping its bytes for a resume: a destroyed stream closes its writer. */
async function closeWriter(w: ContentWriter): Promise<void> {
  try {
    const ws = w.stream();
    if (!ws.destroyed) ws.destroy();
  } catch {
    /* already closed by its destroyed stream */
  }
  // The ref lock is released once the writer has closed its file.
  await new Promise((r) => setImmediate(r));
}

async function dropIngest(content: ContentStore, ctx: Ctx, ref: string): Promise<void> {
  try {
    const w = await content.writer(ctx, ref);
    await w.abort();
  } catch {
    /* best effort */
  }
}

function retryable(e: unknown): boolean {
  if (e instanceof CancelledError) return false;
  if (isBerthError(e)) return e.kind === 'unavailable';
  return true;
}

function backoff(attempt: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, Math.min(5000, 200 * 2 ** attempt));
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(new CancelledError('pull cancelled'));
      },
      { once: true },
    );
  });
}
