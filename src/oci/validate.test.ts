import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../base/errors.js';
import { MediaType } from './mediatypes.js';
import {
  parseImageConfig,
  parseImageIndex,
  parseImageManifest,
  parseJson,
  parseManifestAny,
  validateDescriptor,
  validateImageConfig,
  validateIndex,
  validateManifest,
} from './validate.js';

const H = (c: string): string => `sha256:${c.repeat(64)}`;

function desc(mediaType: string, c: string, size = 10): Record<string, unknown> {
  return { mediaType, digest: H(c), size };
}

function manifest(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: desc(MediaType.ociConfig, 'a'),
    layers: [desc(MediaType.ociLayerGzip, 'b', 1000)],
    ...extra,
  };
}

function index(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [{ ...desc(MediaType.ociManifest, 'c'), platform: { os: 'linux', architecture: 'amd64' } }],
    ...extra,
  };
}

const bytes = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

function refused(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof InvalidArgumentError && re.test(e.message), String(re));
}

test('a valid OCI manifest', () => {
  const m = validateManifest(manifest({ annotations: { a: 'b' }, unknownField: 1 }));
  assert.equal(m.schemaVersion, 2);
  assert.equal(m.config.digest, H('a'));
  assert.equal(m.layers[0]?.size, 1000);
  assert.deepEqual(m.annotations, { a: 'b' });
  assert.ok(!('unknownField' in m));
});

test('manifest errors', () => {
  refused(() => validateManifest(manifest({ schemaVersion: 3 })), /manifest\.schemaVersion: unsupported schema version 3/);
  refused(() => validateManifest({ ...manifest(), schemaVersion: undefined }), /schemaVersion: unsupported schema version null/);
  refused(() => validateManifest(manifest({ config: undefined })), /manifest\.config: is required/);
  refused(() => validateManifest(manifest({ layers: undefined })), /manifest\.layers: is required/);
  refused(() => validateManifest(manifest({ layers: {} })), /manifest\.layers: must be an array/);
  refused(() => validateManifest(manifest({ manifests: [] })), /both an index and a manifest/);
  refused(() => validateManifest([]), /manifest: must be an object/);
  refused(() => validateManifest(null), /manifest: must be an object/);
  refused(
    () => validateManifest(manifest({ layers: [desc(MediaType.ociLayerGzip, 'b'), { ...desc(MediaType.ociLayerGzip, 'b'), digest: 'sha256:xyz' }] })),
    /manifest\.layers\[1\]\.digest: invalid checksum digest format/,
  );
  refused(() => validateManifest(manifest({ config: { ...desc(MediaType.ociConfig, 'a'), size: -1 } })), /config\.size: must not be negative/);
  refused(() => validateManifest(manifest({ config: { ...desc(MediaType.ociConfig, 'a'), size: 1.5 } })), /config\.size: must be an integer/);
  refused(() => validateManifest(manifest({ config: { ...desc(MediaType.ociConfig, 'a'), size: '10' } })), /config\.size: must be an integer/);
  refused(() => validateManifest(manifest({ config: { digest: H('a'), size: 1 } })), /config\.mediaType: is required/);
  refused(() => validateManifest(manifest({ config: { ...desc(MediaType.ociConfig, 'a'), annotations: { a: 1 } } })), /config\.annotations\.a: must be a string/);
  // A manifest that lies about its media type.
  refused(() => validateManifest(manifest(), MediaType.dockerManifest), /media type mismatch/);
  refused(() => validateManifest(manifest({ mediaType: MediaType.ociIndex })), /is not an image manifest media type/);
  refused(() => validateManifest({ ...manifest(), mediaType: undefined }, MediaType.ociIndex), /expected media type .* is not an image manifest media type/);
});

test('a valid index, and index errors', () => {
  const ix = validateIndex(index());
  assert.equal(ix.manifests[0]?.platform?.architecture, 'amd64');
  refused(() => validateIndex(index({ layers: [] })), /both an index and a manifest/);
  refused(() => validateIndex(index({ manifests: undefined })), /index\.manifests: is required/);
  refused(() => validateIndex(index({ mediaType: MediaType.dockerManifest })), /is not an image index media type/);
  refused(() => validateIndex(index(), MediaType.dockerManifestList), /media type mismatch/);
  refused(
    () => validateIndex(index({ manifests: [{ ...desc(MediaType.ociManifest, 'c'), platform: { os: 'linux' } }] })),
    /index\.manifests\[0\]\.platform\.architecture: is required/,
  );
});

test('parseManifestAny: kind from media type or shape', () => {
  const m = parseManifestAny(bytes(manifest()));
  assert.equal(m.kind, 'manifest');
  assert.equal(m.mediaType, MediaType.ociManifest);
  const i = parseManifestAny(bytes(index()));
  assert.equal(i.kind, 'index');
  // No mediaType field: shape decides, OCI types are assumed.
  const bare = parseManifestAny(bytes({ ...manifest(), mediaType: undefined }));
  assert.equal(bare.kind, 'manifest');
  assert.equal(bare.mediaType, MediaType.ociManifest);
  const bareIx = parseManifestAny(bytes({ ...index(), mediaType: undefined }));
  assert.equal(bareIx.kind, 'index');
  assert.equal(bareIx.mediaType, MediaType.ociIndex);
  // Declared type (Content-Type) with parameters; body without mediaType.
  const declared = parseManifestAny(bytes({ ...manifest(), mediaType: undefined }), `${MediaType.dockerManifest}; charset=utf-8`);
  assert.equal(declared.mediaType, MediaType.dockerManifest);
  // Generic Content-Types are ignored.
  assert.equal(parseManifestAny(bytes(index()), 'application/json').kind, 'index');
  const docker = parseManifestAny(bytes(manifest({ mediaType: MediaType.dockerManifest })), MediaType.dockerManifest);
  assert.equal(docker.kind, 'manifest');
  if (docker.kind === 'manifest') assert.equal(docker.manifest.mediaType, MediaType.dockerManifest);
});

test('parseManifestAny refuses liars and hybrids', () => {
  refused(() => parseManifestAny(bytes(manifest()), MediaType.ociIndex), /media type mismatch: declared .*index.*document declares .*manifest/);
  refused(() => parseManifestAny(bytes({ ...manifest(), mediaType: undefined }), MediaType.ociIndex), /both an index and a manifest/);
  refused(() => parseManifestAny(bytes({ ...index(), mediaType: undefined }), MediaType.ociManifest), /both an index and a manifest/);
  refused(() => parseManifestAny(bytes({ ...manifest(), mediaType: undefined, manifests: [] })), /both "manifests" and "layers"\/"config"/);
  refused(() => parseManifestAny(bytes(manifest({ mediaType: MediaType.ociIndex }))), /both an index and a manifest/);
  refused(() => parseManifestAny(bytes(manifest({ mediaType: 'application/vnd.example+json' }))), /unsupported manifest media type/);
  refused(() => parseManifestAny(bytes({ schemaVersion: 2 })), /^unsupported manifest format$/);
  refused(() => parseManifestAny('not json'), /^invalid manifest: /);
  refused(() => parseManifestAny('[]'), /manifest: must be an object/);
});

test('parseManifestAny: schema1 is unsupported, with moby\'s message', () => {
  const s1 = { schemaVersion: 1, name: 'x', tag: 'latest', fsLayers: [] };
  refused(() => parseManifestAny(bytes(s1)), /^Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed\. More information/);
  refused(
    () => parseManifestAny(bytes(s1), 'application/vnd.docker.distribution.manifest.v1+prettyjws', 'docker.io/library/old:1'),
    /Suggest the author of docker\.io\/library\/old:1 to upgrade/,
  );
  refused(() => validateManifest(s1), /schema 1 support has been removed/);
});

test('parseImageManifest / parseImageIndex insist on the kind', () => {
  assert.equal(parseImageManifest(bytes(manifest())).layers.length, 1);
  assert.equal(parseImageIndex(bytes(index())).manifests.length, 1);
  refused(() => parseImageManifest(bytes(index())), /expected an image manifest/);
  refused(() => parseImageIndex(bytes(manifest())), /expected an image index/);
});

test('descriptors', () => {
  const d = validateDescriptor({ ...desc(MediaType.ociLayer, 'd', 0), urls: ['https://x'], artifactType: 'a/b', extra: true });
  assert.deepEqual(d, { mediaType: MediaType.ociLayer, digest: H('d'), size: 0, urls: ['https://x'], artifactType: 'a/b' });
  refused(() => validateDescriptor({ ...desc(MediaType.ociLayer, 'd'), digest: 'md5:abc' }), /unsupported digest algorithm/);
  refused(() => validateDescriptor({ ...desc(MediaType.ociLayer, 'd'), size: Number.MAX_SAFE_INTEGER + 2 }), /must be an integer/);
});

const config = {
  created: '2024-01-01T00:00:00Z',
  architecture: 'amd64',
  os: 'linux',
  config: {
    Env: ['PATH=/usr/bin'],
    Cmd: ['sh'],
    Entrypoint: null,
    Labels: null,
    ExposedPorts: { '80/tcp': {} },
    Healthcheck: { Test: ['CMD', 'true'], Interval: 30_000_000_000, Retries: 3 },
    OnBuild: null,
    Shell: null,
  },
  rootfs: { type: 'layers', diff_ids: [H('e'), H('f')] },
  history: [{ created_by: 'ADD x', empty_layer: false }, { created_by: 'CMD', empty_layer: true }],
  docker_version: '24.0.0',
};

test('image config', () => {
  const c = parseImageConfig(bytes(config));
  assert.deepEqual(c.rootfs.diff_ids, [H('e'), H('f')]);
  assert.equal(c.config?.Entrypoint, null);
  assert.equal(c.config?.Labels, null);
  assert.deepEqual(c.config?.Cmd, ['sh']);
  // null where Docker gives it no meaning is simply absent.
  assert.ok(c.config !== undefined && !('Shell' in c.config));
  assert.equal(c.config?.Healthcheck?.Interval, 30_000_000_000);
  assert.equal(c.history?.[1]?.empty_layer, true);
  assert.equal(c.docker_version, '24.0.0');
  refused(() => validateImageConfig({ ...config, rootfs: { type: 'x', diff_ids: [] } }), /rootfs\.type: must be "layers"/);
  refused(() => validateImageConfig({ ...config, rootfs: { type: 'layers', diff_ids: ['x'] } }), /rootfs\.diff_ids\[0\]: invalid checksum digest format/);
  refused(() => validateImageConfig({ ...config, rootfs: undefined }), /image config\.rootfs: is required/);
  refused(() => validateImageConfig({ ...config, architecture: undefined }), /architecture: is required/);
  refused(() => validateImageConfig({ ...config, config: { Env: 'PATH=/' } }), /config\.Env: must be an array/);
  refused(() => validateImageConfig({ ...config, config: { ExposedPorts: { '80/tcp': 1 } } }), /ExposedPorts\.80\/tcp: must be an object/);
  refused(() => parseImageConfig('{'), /^invalid image config: /);
});

test('parseJson accepts a Uint8Array view', () => {
  const buf = Buffer.from('xx{"a":1}');
  assert.deepEqual(parseJson(buf.subarray(2), 'doc'), { a: 1 });
});
