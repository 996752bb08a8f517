/**
 * Untrusted JSON (registry responses, image archives, API bodies) into the
 * types of types.ts. Validation is by hand: the messages name the exact
 * field (`layers[2].digest: …`), and the branded Digest type falls out of
 * parseDigest. Unknown fields are dropped; callers that must keep the exact
 * document (to hash it) keep the bytes, not this object.
 */
import { parseDigest, type Digest } from '../base/digest.js';
import { errorMessage, InvalidArgumentError } from '../base/errors.js';
import { isIndexType, isManifestType, MediaType } from './mediatypes.js';
import type {
  ContainerConfig,
  Descriptor,
  HealthConfig,
  HistoryEntry,
  ImageConfig,
  ImageIndex,
  ImageManifest,
  Platform,
} from './types.js';

type Obj = Record<string, unknown>;

function fail(path: string, msg: string): never {
  throw new InvalidArgumentError(path === '' ? msg : `${path}: ${msg}`);
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function obj(v: unknown, path: string): Obj {
  if (!isObj(v)) fail(path, 'must be an object');
  return v;
}

function str(v: unknown, path: string): string {
  if (typeof v !== 'string') fail(path, 'must be a string');
  return v;
}

function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(path, 'must be a boolean');
  return v;
}

function int(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(path, 'must be an integer');
  return v;
}

function size(v: unknown, path: string): number {
  const n = int(v, path);
  if (n < 0) fail(path, 'must not be negative');
  return n;
}

function arr(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) fail(path, 'must be an array');
  return v;
}

function strArr(v: unknown, path: string): string[] {
  return arr(v, path).map((x, i) => str(x, join(path, i)));
}

function strMap(v: unknown, path: string): Record<string, string> {
  const o = obj(v, path);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(o)) out[k] = str(x, join(path, k));
  return out;
}

/** `{"80/tcp": {}}`: the values carry nothing, but must be objects. */
function objMap(v: unknown, path: string): Record<string, object> {
  const o = obj(v, path);
  const out: Record<string, object> = {};
  for (const [k, x] of Object.entries(o)) out[k] = obj(x, join(path, k));
  return out;
}

function digest(v: unknown, path: string): Digest {
  const s = str(v, path);
  try {
    return parseDigest(s);
  } catch (e) {
    return fail(path, `${errorMessage(e)}: ${JSON.stringify(s)}`);
  }
}

/** Calls `read` when the field is present; JSON null counts as absent. */
function opt<T>(o: Obj, key: string, path: string, read: (v: unknown, p: string) => T, set: (v: T) => void): void {
  const v = o[key];
  if (v !== undefined && v !== null) set(read(v, join(path, key)));
}

/** For the fields where Docker gives null a meaning of its own (Cmd, Entrypoint…). */
function optNullable<T>(o: Obj, key: string, path: string, read: (v: unknown, p: string) => T, set: (v: T | null) => void): void {
  const v = o[key];
  if (v === null) set(null);
  else if (v !== undefined) set(read(v, join(path, key)));
}

function req<T>(o: Obj, key: string, path: string, read: (v: unknown, p: string) => T): T {
  const v = o[key];
  if (v === undefined || v === null) fail(join(path, key), 'is required');
  return read(v, join(path, key));
}

export function validatePlatform(v: unknown, path = 'platform'): Platform {
  const o = obj(v, path);
  const p: Platform = { architecture: req(o, 'architecture', path, str), os: req(o, 'os', path, str) };
  opt(o, 'variant', path, str, (x) => (p.variant = x));
  opt(o, 'os.version', path, str, (x) => (p['os.version'] = x));
  opt(o, 'os.features', path, strArr, (x) => (p['os.features'] = x));
  return p;
}

export function validateDescriptor(v: unknown, path = 'descriptor'): Descriptor {
  const o = obj(v, path);
  const d: Descriptor = {
    mediaType: req(o, 'mediaType', path, str),
    digest: req(o, 'digest', path, digest),
    size: req(o, 'size', path, size),
  };
  opt(o, 'urls', path, strArr, (x) => (d.urls = x));
  opt(o, 'annotations', path, strMap, (x) => (d.annotations = x));
  opt(o, 'platform', path, validatePlatform, (x) => (d.platform = x));
  opt(o, 'artifactType', path, str, (x) => (d.artifactType = x));
  return d;
}

const SCHEMA1_TYPES = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);

/** moby's DeprecatedSchema1ImageError, word for word. */
function schema1Error(ref?: string): InvalidArgumentError {
  let msg = 'Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed.';
  if (ref !== undefined) {
    msg += ` Suggest the author of ${ref} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2.`;
  }
  msg += ' More information at https://docs.docker.com/go/deprecated-image-specs/';
  return new InvalidArgumentError(msg);
}

function schemaVersion2(o: Obj, path: string, ref?: string): 2 {
  const v = o['schemaVersion'];
  if (v === 1) throw schema1Error(ref);
  if (v !== 2) fail(join(path, 'schemaVersion'), `unsupported schema version ${JSON.stringify(v ?? null)}, expected 2`);
  return 2;
}

/** A `mediaType` field must agree with what the caller was told the document is. */
function checkMediaType(o: Obj, path: string, expected: string | undefined, isKind: (mt: string) => boolean, kind: string): string | undefined {
  if (expected !== undefined && !isKind(expected)) fail(path, `expected media type ${expected} is not ${kind} media type`);
  const mt = o['mediaType'];
  if (mt === undefined || mt === null) return undefined;
  const s = str(mt, join(path, 'mediaType'));
  if (expected !== undefined && s !== expected) {
    fail(path, `media type mismatch: expected ${expected}, document declares ${s}`);
  }
  if (!isKind(s)) fail(join(path, 'mediaType'), `${s} is not ${kind} media type`);
  return s;
}

/**
 * An image manifest (OCI or Docker schema2). `expectedMediaType` is what
 * the descriptor or Content-Type said; a body that says otherwise is refused.
 */
export function validateManifest(v: unknown, expectedMediaType?: string, path = 'manifest'): ImageManifest {
  const o = obj(v, path);
  schemaVersion2(o, path);
  if ('manifests' in o) fail(path, 'has "manifests": a document cannot be both an index and a manifest');
  const mt = checkMediaType(o, path, expectedMediaType, isManifestType, 'an image manifest');
  const m: ImageManifest = {
    schemaVersion: 2,
    config: req(o, 'config', path, validateDescriptor),
    layers: req(o, 'layers', path, arr).map((x, i) => validateDescriptor(x, join(join(path, 'layers'), i))),
  };
  if (mt !== undefined) m.mediaType = mt;
  opt(o, 'artifactType', path, str, (x) => (m.artifactType = x));
  opt(o, 'subject', path, validateDescriptor, (x) => (m.subject = x));
  opt(o, 'annotations', path, strMap, (x) => (m.annotations = x));
  return m;
}

/** An image index (OCI) or manifest list (Docker). */
export function validateIndex(v: unknown, expectedMediaType?: string, path = 'index'): ImageIndex {
  const o = obj(v, path);
  schemaVersion2(o, path);
  if ('layers' in o || 'config' in o) fail(path, 'has "layers" or "config": a document cannot be both an index and a manifest');
  const mt = checkMediaType(o, path, expectedMediaType, isIndexType, 'an image index');
  const ix: ImageIndex = {
    schemaVersion: 2,
    manifests: req(o, 'manifests', path, arr).map((x, i) => validateDescriptor(x, join(join(path, 'manifests'), i))),
  };
  if (mt !== undefined) ix.mediaType = mt;
  opt(o, 'artifactType', path, str, (x) => (ix.artifactType = x));
  opt(o, 'subject', path, validateDescriptor, (x) => (ix.subject = x));
  opt(o, 'annotations', path, strMap, (x) => (ix.annotations = x));
  return ix;
}

function validateHealth(v: unknown, path: string): HealthConfig {
  const o = obj(v, path);
  const h: HealthConfig = {};
  opt(o, 'Test', path, strArr, (x) => (h.Test = x));
  opt(o, 'Interval', path, size, (x) => (h.Interval = x));
  opt(o, 'Timeout', path, size, (x) => (h.Timeout = x));
  opt(o, 'StartPeriod', path, size, (x) => (h.StartPeriod = x));
  opt(o, 'StartInterval', path, size, (x) => (h.StartInterval = x));
  opt(o, 'Retries', path, int, (x) => (h.Retries = x));
  return h;
}

export function validateContainerConfig(v: unknown, path = 'config'): ContainerConfig {
  const o = obj(v, path);
  const c: ContainerConfig = {};
  opt(o, 'User', path, str, (x) => (c.User = x));
  opt(o, 'ExposedPorts', path, objMap, (x) => (c.ExposedPorts = x));
  opt(o, 'Env', path, strArr, (x) => (c.Env = x));
  optNullable(o, 'Entrypoint', path, strArr, (x) => (c.Entrypoint = x));
  optNullable(o, 'Cmd', path, strArr, (x) => (c.Cmd = x));
  optNullable(o, 'Volumes', path, objMap, (x) => (c.Volumes = x));
  opt(o, 'WorkingDir', path, str, (x) => (c.WorkingDir = x));
  optNullable(o, 'Labels', path, strMap, (x) => (c.Labels = x));
  opt(o, 'StopSignal', path, str, (x) => (c.StopSignal = x));
  opt(o, 'ArgsEscaped', path, bool, (x) => (c.ArgsEscaped = x));
  opt(o, 'Healthcheck', path, validateHealth, (x) => (c.Healthcheck = x));
  optNullable(o, 'OnBuild', path, strArr, (x) => (c.OnBuild = x));
  opt(o, 'Shell', path, strArr, (x) => (c.Shell = x));
  opt(o, 'Hostname', path, str, (x) => (c.Hostname = x));
  opt(o, 'Domainname', path, str, (x) => (c.Domainname = x));
  opt(o, 'AttachStdin', path, bool, (x) => (c.AttachStdin = x));
  opt(o, 'AttachStdout', path, bool, (x) => (c.AttachStdout = x));
  opt(o, 'AttachStderr', path, bool, (x) => (c.AttachStderr = x));
  opt(o, 'Tty', path, bool, (x) => (c.Tty = x));
  opt(o, 'OpenStdin', path, bool, (x) => (c.OpenStdin = x));
  opt(o, 'StdinOnce', path, bool, (x) => (c.StdinOnce = x));
  opt(o, 'Image', path, str, (x) => (c.Image = x));
  return c;
}

function validateHistory(v: unknown, path: string): HistoryEntry {
  const o = obj(v, path);
  const h: HistoryEntry = {};
  opt(o, 'created', path, str, (x) => (h.created = x));
  opt(o, 'created_by', path, str, (x) => (h.created_by = x));
  opt(o, 'author', path, str, (x) => (h.author = x));
  opt(o, 'comment', path, str, (x) => (h.comment = x));
  opt(o, 'empty_layer', path, bool, (x) => (h.empty_layer = x));
  return h;
}

/** An image config (OCI or Docker); rootfs.diff_ids are validated digests. */
export function validateImageConfig(v: unknown, path = 'image config'): ImageConfig {
  const o = obj(v, path);
  const rootfsPath = join(path, 'rootfs');
  const rootfs = req(o, 'rootfs', path, obj);
  if (rootfs['type'] !== 'layers') fail(join(rootfsPath, 'type'), `must be "layers"`);
  const diffIds = req(rootfs, 'diff_ids', rootfsPath, arr).map((x, i) => digest(x, join(join(rootfsPath, 'diff_ids'), i)));
  const c: ImageConfig = {
    architecture: req(o, 'architecture', path, str),
    os: req(o, 'os', path, str),
    rootfs: { type: 'layers', diff_ids: diffIds },
  };
  opt(o, 'created', path, str, (x) => (c.created = x));
  opt(o, 'author', path, str, (x) => (c.author = x));
  opt(o, 'variant', path, str, (x) => (c.variant = x));
  opt(o, 'os.version', path, str, (x) => (c['os.version'] = x));
  opt(o, 'config', path, validateContainerConfig, (x) => (c.config = x));
  opt(o, 'history', path, arr, (x) => (c.history = x.map((h, i) => validateHistory(h, join(join(path, 'history'), i)))));
  opt(o, 'container', path, str, (x) => (c.container = x));
  opt(o, 'container_config', path, validateContainerConfig, (x) => (c.container_config = x));
  opt(o, 'docker_version', path, str, (x) => (c.docker_version = x));
  opt(o, 'comment', path, str, (x) => (c.comment = x));
  return c;
}

/** JSON.parse with an InvalidArgumentError naming the document. */
export function parseJson(bytes: Uint8Array | string, what: string): unknown {
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new InvalidArgumentError(`invalid ${what}: ${errorMessage(e)}`);
  }
}

export function parseImageConfig(bytes: Uint8Array | string): ImageConfig {
  return validateImageConfig(parseJson(bytes, 'image config'));
}

export type ParsedManifest =
  | { readonly kind: 'manifest'; readonly mediaType: string; readonly manifest: ImageManifest }
  | { readonly kind: 'index'; readonly mediaType: string; readonly index: ImageIndex };

/** `application/foo; charset=utf-8` → `application/foo`. */
function bareMediaType(mt: string): string {
  const semi = mt.indexOf(';');
  return (semi === -1 ? mt : mt.slice(0, semi)).trim().toLowerCase();
}

/**
 * A manifest or index of unknown kind, as fetched by tag. The kind comes
 * from the declared media type (Content-Type or descriptor), else from the
 * body's `mediaType`, else from its shape. Generic declared types
 * (`application/json`, `text/plain`…), which some registries send, are
 * ignored. The returned `mediaType` is the effective one; a body without
 * any defaults to the OCI type (Docker schema2 always carries its own).
 */
export function parseManifestAny(bytes: Uint8Array | string, declaredMediaType?: string, ref?: string): ParsedManifest {
  let declared = declaredMediaType === undefined ? undefined : bareMediaType(declaredMediaType);
  if (declared !== undefined && SCHEMA1_TYPES.has(declared)) throw schema1Error(ref);
  if (declared !== undefined && !isManifestType(declared) && !isIndexType(declared)) declared = undefined;

  const doc = parseJson(bytes, 'manifest');
  const o = obj(doc, 'manifest');
  if (o['schemaVersion'] === 1) throw schema1Error(ref);
  const bodyType = typeof o['mediaType'] === 'string' ? o['mediaType'] : undefined;
  if (bodyType !== undefined && SCHEMA1_TYPES.has(bodyType)) throw schema1Error(ref);

  const hasIndexShape = 'manifests' in o;
  const hasManifestShape = 'config' in o || 'layers' in o;
  if (hasIndexShape && hasManifestShape) {
    fail('manifest', 'has both "manifests" and "layers"/"config": a document cannot be both an index and a manifest');
  }
  if (declared !== undefined && bodyType !== undefined && bodyType !== declared) {
    fail('manifest', `media type mismatch: declared ${declared}, document declares ${bodyType}`);
  }

  const mt = declared ?? bodyType;
  let kind: 'manifest' | 'index';
  if (mt !== undefined) {
    if (isManifestType(mt)) kind = 'manifest';
    else if (isIndexType(mt)) kind = 'index';
    else throw new InvalidArgumentError(`unsupported manifest media type ${mt}`);
  } else if (hasIndexShape) kind = 'index';
  else if (hasManifestShape) kind = 'manifest';
  else throw new InvalidArgumentError('unsupported manifest format');

  if (kind === 'manifest') {
    const manifest = validateManifest(o, mt, 'manifest');
    return { kind, mediaType: mt ?? MediaType.ociManifest, manifest };
  }
  const index = validateIndex(o, mt, 'index');
  return { kind, mediaType: mt ?? MediaType.ociIndex, index };
}

/** A manifest that must be an image manifest (fetched by a descriptor that says so). */
export function parseImageManifest(bytes: Uint8Array | string, expectedMediaType?: string, ref?: string): ImageManifest {
  const p = parseManifestAny(bytes, expectedMediaType, ref);
  if (p.kind !== 'manifest') throw new InvalidArgumentError(`expected an image manifest, got ${p.mediaType}`);
  return p.manifest;
}

/** A manifest that must be an index. */
export function parseImageIndex(bytes: Uint8Array | string, expectedMediaType?: string, ref?: string): ImageIndex {
  const p = parseManifestAny(bytes, expectedMediaType, ref);
  if (p.kind !== 'index') throw new InvalidArgumentError(`expected an image index, got ${p.mediaType}`);
  return p.index;
}
