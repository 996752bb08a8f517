/**
 * Parses an untrusted manifest body into just what the registry needs:
 * its media type, the blobs and child manifests it references, and its
 * subject/artifactType/annotations for the referrers API. The bytes are
 * stored as sent; this never re-serialises.
 */
import { isDigest, type Digest } from '../base/digest.js';
import { MediaType, isIndexType } from '../oci/mediatypes.js';
import type { Descriptor } from '../oci/types.js';
import { RegistryError } from './errors.js';

export const MANIFEST_TYPES: ReadonlySet<string> = new Set([
  MediaType.ociManifest,
  MediaType.ociIndex,
  MediaType.dockerManifest,
  MediaType.dockerManifestList,
]);

/** Media types whose layers may live elsewhere (`urls`), so their blobs need not be here. */
const FOREIGN_LAYER_TYPES: ReadonlySet<string> = new Set([
  MediaType.dockerForeignLayerGzip,
  MediaType.ociLayerNondistributableGzip,
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);

export interface ParsedManifest {
  mediaType: string;
  /** Blobs that must be linked in the repository (config, layers). */
  blobs: Descriptor[];
  /** Manifests that must exist in the repository (an index's children). */
  children: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  configMediaType?: string;
  annotations?: Record<string, string>;
}

function invalid(detail: string): RegistryError {
  return new RegistryError('MANIFEST_INVALID', detail);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown, what: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) throw invalid(`${what} must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') throw invalid(`${what}.${k} must be a string`);
    out[k] = x;
  }
  return out;
}

export function parseDescriptor(v: unknown, what: string): Descriptor {
  if (!isRecord(v)) throw invalid(`${what} must be a descriptor object`);
  const { mediaType, digest, size } = v;
  if (typeof mediaType !== 'string' || mediaType === '') throw invalid(`${what}.mediaType is required`);
  if (typeof digest !== 'string' || !isDigest(digest)) throw invalid(`${what}.digest is not a valid digest`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${what}.size must be a non-negative integer`);
  const d: Descriptor = { mediaType, digest: digest as Digest, size };
  if (Array.isArray(v.urls)) d.urls = v.urls.filter((u): u is string => typeof u === 'string');
  const ann = stringMap(v.annotations, `${what}.annotations`);
  if (ann !== undefined) d.annotations = ann;
  if (typeof v.artifactType === 'string') d.artifactType = v.artifactType;
  return d;
}

/** Strips parameters ("; charset=utf-8"), which the spec says to ignore. */
export function bareMediaType(ct: string | undefined): string | undefined {
  if (ct === undefined) return undefined;
  const i = ct.indexOf(';');
  const t = (i < 0 ? ct : ct.slice(0, i)).trim().toLowerCase();
  return t === '' ? undefined : t;
}

/**
 * `contentType` is the request's Content-Type. When the body names its
 * mediaType the two must agree; when neither names a manifest type the
 * shape decides (OCI allows mediaType to be absent).
 */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw invalid(`manifest is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isRecord(doc)) throw invalid('manifest must be a JSON object');
  if (doc.schemaVersion !== 2) throw invalid('unsupported schemaVersion (only 2 is accepted)');
  const ct = bareMediaType(contentType);
  const ctIsManifest = ct !== undefined && MANIFEST_TYPES.has(ct);
  let mediaType: string;
  if (doc.mediaType !== undefined) {
    if (typeof doc.mediaType !== 'string') throw invalid('mediaType must be a string');
    mediaType = doc.mediaType;
    if (ct !== undefined && ctIsManifest && ct !== mediaType) {
      throw invalid(`mediaType ${mediaType} does not match Content-Type ${ct}`);
    }
  } else if (ctIsManifest) {
    mediaType = ct;
  } else {
    mediaType = Array.isArray(doc.manifests) ? MediaType.ociIndex : MediaType.ociManifest;
  }
  if (!MANIFEST_TYPES.has(mediaType)) throw invalid(`unsupported manifest media type ${mediaType}`);

  const out: ParsedManifest = { mediaType, blobs: [], children: [] };
  if (isIndexType(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw invalid('an index must have a manifests array');
    doc.manifests.forEach((m, i) => out.children.push(parseDescriptor(m, `manifests[${i}]`)));
    if (doc.config !== undefined || doc.layers !== undefined) throw invalid('an index cannot have config or layers');
  } else {
    if (doc.manifests !== undefined) throw invalid('a manifest cannot have a manifests array');
    const config = parseDescriptor(doc.config, 'config');
    out.configMediaType = config.mediaType;
    out.blobs.push(config);
    if (doc.layers !== undefined) {
      if (!Array.isArray(doc.layers)) throw invalid('layers must be an array');
      doc.layers.forEach((l, i) => {
        const d = parseDescriptor(l, `layers[${i}]`);
        // A foreign layer with URLs is fetched from elsewhere; Distribution accepts it unlinked too.
        if (FOREIGN_LAYER_TYPES.has(d.mediaType) && d.urls !== undefined && d.urls.length > 0) return;
        out.blobs.push(d);
      });
    } else if (mediaType === MediaType.dockerManifest) {
      throw invalid('layers is required');
    }
  }
  if (doc.subject !== undefined) out.subject = parseDescriptor(doc.subject, 'subject');
  if (doc.artifactType !== undefined) {
    if (typeof doc.artifactType !== 'string') throw invalid('artifactType must be a string');
    out.artifactType = doc.artifactType;
  }
  const ann = stringMap(doc.annotations, 'annotations');
  if (ann !== undefined) out.annotations = ann;
  return out;
}

/** The descriptor the referrers API lists for a referring manifest. */
export function referrerDescriptor(p: ParsedManifest, digest: Digest, size: number): Descriptor {
  const d: Descriptor = { mediaType: p.mediaType, digest, size };
  const at = p.artifactType ?? (isIndexType(p.mediaType) ? undefined : p.configMediaType);
  if (at !== undefined && at !== '') d.artifactType = at;
  if (p.annotations !== undefined) d.annotations = p.annotations;
  return d;
}
