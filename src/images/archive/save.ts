/**
 * `docker save`: one tar holding both layouts, as Docker 25+ writes it, so
 * every tool reads it: `manifest.json` + `repositories` (docker-archive:
 * dockerd 20.10's load, skopeo's docker-archive:) and `oci-layout` +
 * `index.json` (skopeo's oci-archive:, containerd). All files live once under
 * `blobs/sha256/`. Layers are written uncompressed (their digest is the diff
 * ID), decompressing pulled blobs on the fly, so the archive never depends on
 * how a registry compressed them.
 *
 * The tar is produced as a stream: blob bytes flow from the content store
 * to the response; only the small index files are built in memory.
 */
import { Readable } from 'node:stream';
import type { Digest } from '../../base/digest.js';
import { digestHex, digestOf } from '../../base/digest.js';
import { autoDecompress } from '../../base/compress.js';
import { InternalError } from '../../base/errors.js';
import type { ContentStore } from '../../content/types.js';
import type { ImageTable } from '../../metadata/images.js';
import { chainIds } from '../../oci/chain.js';
import { layerCompression, MediaType } from '../../oci/mediatypes.js';
import { familiarName, familiarString, parseReference } from '../../oci/reference.js';
import { encodeHeader, tarPadding, tarTrailer } from '../../base/tar.js';
import type { Image } from '../store.js';

export interface SaveItem {
  readonly image: Image;
  /** Full names to record for this image (the ones asked for, or all its tags when asked by ID). */
  readonly names: readonly string[];
}

const EPOCH = 0;

function fileHeader(name: string, size: number): Buffer[] {
  return encodeHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size, mtime: EPOCH });
}
function dirHeader(name: string): Buffer[] {
  return encodeHeader({ name, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: EPOCH });
}

export function saveArchive(deps: { content: ContentStore; table: ImageTable }, items: readonly SaveItem[]): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    const written = new Set<string>();
    const manifestJson: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
    const repositories: Record<string, Record<string, string>> = {};
    const indexEntries: Record<string, unknown>[] = [];
    yield* dirHeader('blobs/');
    yield* dirHeader('blobs/sha256/');

    async function* blob(digest: Digest, size: number, body: () => Promise<AsyncIterable<Buffer>>): AsyncGenerator<Buffer> {
      const name = `blobs/sha256/${digestHex(digest)}`;
      if (written.has(name)) return;
      written.add(name);
      yield* fileHeader(name, size);
      let n = 0;
      for await (const chunk of await body()) {
        n += chunk.length;
        yield chunk;
      }
      if (n !== size) throw new InternalError(`save: ${digest} has ${n} bytes, expected ${size}`);
      yield tarPadding(size);
    }
    function* small(data: Buffer): Generator<Buffer> {
      const d = digestOf(data);
      const name = `blobs/sha256/${digestHex(d)}`;
      if (written.has(name)) return;
      written.add(name);
      yield* fileHeader(name, data.length);
      yield data;
      yield tarPadding(data.length);
    }

    for (const { image, names } of items) {
      const cfg = image.manifest.config;
      yield* blob(cfg.digest, cfg.size, async () => (await deps.content.reader(cfg.digest)) as AsyncIterable<Buffer>);
      const diffIds = image.config.rootfs.diff_ids;
      const chains = chainIds(diffIds);
      const layerPaths: string[] = [];
      const ociLayers: { mediaType: string; digest: Digest; size: number }[] = [];
      for (let i = 0; i < image.manifest.layers.length; i++) {
        const desc = image.manifest.layers[i]!;
        const diffId = diffIds[i]!;
        const uncompressed = layerCompression(desc.mediaType) === 'none' && desc.digest === diffId;
        const rec = deps.table.layer(chains[i]!);
        const size = uncompressed ? desc.size : rec?.tarSize;
        if (size === undefined) throw new InternalError(`save: layer ${diffId} has no recorded size`);
        yield* blob(diffId, size, async () => {
          const r = await deps.content.reader(desc.digest);
          return (uncompressed ? r : r.pipe(autoDecompress())) as AsyncIterable<Buffer>;
        });
        layerPaths.push(`blobs/sha256/${digestHex(diffId)}`);
        ociLayers.push({ mediaType: MediaType.ociLayer, digest: diffId, size });
      }
      const ociManifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.ociManifest,
          config: { mediaType: MediaType.ociConfig, digest: cfg.digest, size: cfg.size },
          layers: ociLayers,
        }),
      );
      yield* small(ociManifest);
      const mdesc = { mediaType: MediaType.ociManifest, digest: digestOf(ociManifest), size: ociManifest.length };
      const tags = names.map((n) => familiarString(parseReference(n)));
      manifestJson.push({ Config: `blobs/sha256/${digestHex(cfg.digest)}`, RepoTags: tags.length > 0 ? tags : null, Layers: layerPaths });
      const top = chains.at(-1);
      for (const n of names) {
        const ref = parseReference(n);
        if (ref.tag === undefined || top === undefined) continue;
        (repositories[familiarName(ref)] ??= {})[ref.tag] = digestHex(top);
        indexEntries.push({ ...mdesc, annotations: { 'io.containerd.image.name': n, 'org.opencontainers.image.ref.name': ref.tag } });
      }
      if (names.length === 0) indexEntries.push(mdesc);
    }
    const files: [string, Buffer][] = [
      ['index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: indexEntries }))],
      ['manifest.json', Buffer.from(JSON.stringify(manifestJson))],
      ['oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' }))],
      ['repositories', Buffer.from(JSON.stringify(repositories))],
    ];
    for (const [name, data] of files) {
      yield* fileHeader(name, data.length);
      yield data;
      yield tarPadding(data.length);
    }
    yield tarTrailer();
  }
  return Readable.from(gen(), { objectMode: false, highWaterMark: 1 << 20 });
}
