/**
 * `docker import`: a rootfs tarball (plain, gzip or zstd) becomes a one-layer
 * image. The blob is stored as it came (so push can reuse it) while its
 * uncompressed digest, the diff ID, is computed in the same pass; the layer
 * is then unpacked and verified against that diff ID.
 */
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import type { Ctx } from '../base/ctx.js';
import { autoDecompress, detectCompression } from '../base/compress.js';
import { DigestStream, digestOf } from '../base/digest.js';
import { InvalidArgumentError } from '../base/errors.js';
import type { ContentStore } from '../content/types.js';
import type { LeaseManager } from '../content/leases.js';
import { MediaType } from '../oci/mediatypes.js';
import { hostPlatform } from '../oci/platform.js';
import type { ContainerConfig, ImageConfig, ImageManifest } from '../oci/types.js';
import { chainIds } from '../oci/chain.js';
import type { ImageService } from './service.js';
import { applyChanges } from './changes.js';

export interface ImportOptions {
  readonly tag?: string;
  readonly changes?: readonly string[];
  readonly message?: string;
  readonly platform?: { os: string; architecture: string; variant?: string };
}

export async function importRootfs(
  ctx: Ctx,
  deps: { images: ImageService; content: ContentStore; leases: LeaseManager },
  body: Readable,
  opts: ImportOptions,
): Promise<string> {
  const lease = deps.leases.create({ expiresInMs: 3600_000 });
  try {
    const raw = new PassThrough({ highWaterMark: 1 << 20 });
    const plain = new PassThrough({ highWaterMark: 1 << 20 });
    const diff = new DigestStream('sha256');
    const fanout = new Writable({
      highWaterMark: 1 << 20,
      write(chunk: Buffer, _e, cb) {
        let pending = 2;
        const done = (): void => {
          if (--pending === 0) cb();
        };
        if (raw.write(chunk)) done();
        else raw.once('drain', done);
        if (plain.write(chunk)) done();
        else plain.once('drain', done);
      },
      final(cb) {
        raw.end();
        plain.end();
        cb();
      },
    });
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    const [stored] = await Promise.all([
      deps.content.ingest(ctx, raw),
      pipeline(plain, autoDecompress(), diff, sink),
      pipeline(body, fanout),
    ]);
    lease.add(stored.digest);
    if (diff.size === 0) throw new InvalidArgumentError('EOF');
    const headParts: Buffer[] = [];
    for await (const ch of await deps.content.reader(stored.digest, { start: 0, end: 7 })) headParts.push(ch as Buffer);
    const kind = detectCompression(Buffer.concat(headParts));
    const diffId = diff.digest;
    const now = new Date().toISOString();
    const plat = opts.platform ?? hostPlatform();
    const base: ContainerConfig = {};
    const cfg = applyChanges(base, opts.changes ?? []);
    const config: ImageConfig = {
      architecture: plat.architecture,
      os: plat.os,
      ...(plat.variant !== undefined ? { variant: plat.variant } : {}),
      created: now,
      comment: opts.message !== undefined && opts.message !== '' ? opts.message : 'Imported from -',
      config: cfg,
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created: now, created_by: '', comment: opts.message !== undefined && opts.message !== '' ? opts.message : 'Imported from -' }],
    };
    const configBytes = Buffer.from(JSON.stringify(config));
    const c = await deps.content.put(ctx, configBytes, { digest: digestOf(configBytes) });
    lease.add(c.digest);
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.dockerManifest,
      config: { mediaType: MediaType.dockerConfig, digest: c.digest, size: c.size },
      layers: [
        {
          mediaType: kind === 'gzip' ? MediaType.dockerLayerGzip : kind === 'zstd' ? MediaType.ociLayerZstd : MediaType.dockerLayer,
          digest: stored.digest,
          size: stored.size,
        },
      ],
    };
    const mbytes = Buffer.from(JSON.stringify(manifest));
    const m = await deps.content.put(ctx, mbytes, { digest: digestOf(mbytes) });
    lease.add(m.digest);
    const layers = await deps.images.unpack(ctx, manifest, config);
    void chainIds;
    const tags = opts.tag !== undefined && opts.tag !== '' ? [opts.tag] : [];
    const img = deps.images.register({ manifestDigest: m.digest, manifest, configDigest: c.digest, config, tags }, layers);
    deps.images.events.publish('image', 'import', img.record.id, { name: img.record.id });
    return img.record.id;
  } finally {
    lease.release();
  }
}
