import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Digest } from '../base/digest.js';
import { InvalidArgumentError, NotFoundError } from '../base/errors.js';
import { MediaType } from './mediatypes.js';
import {
  formatPlatform,
  hostPlatform,
  normalizePlatform,
  parsePlatform,
  platformFromNode,
  platformMatches,
  platformPreferences,
  selectManifest,
} from './platform.js';
import type { Descriptor, ImageIndex, Platform } from './types.js';

test('node arch to OCI platform', () => {
  assert.deepEqual(platformFromNode('x64'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(platformFromNode('arm64'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.deepEqual(platformFromNode('arm'), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.deepEqual(platformFromNode('arm', '6'), { os: 'linux', architecture: 'arm', variant: 'v6' });
  assert.deepEqual(platformFromNode('ia32'), { os: 'linux', architecture: '386' });
  assert.deepEqual(platformFromNode('ppc64'), { os: 'linux', architecture: 'ppc64le' });
  assert.deepEqual(platformFromNode('ppc64', undefined, false), { os: 'linux', architecture: 'ppc64' });
  assert.deepEqual(platformFromNode('s390x'), { os: 'linux', architecture: 's390x' });
  assert.deepEqual(platformFromNode('riscv64'), { os: 'linux', architecture: 'riscv64' });
  const h = hostPlatform();
  assert.equal(h.os, 'linux');
  assert.ok(h.architecture.length > 0);
});

test('parsePlatform', () => {
  assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.deepEqual(parsePlatform('linux/arm64'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(parsePlatform('linux/amd64/v1'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(parsePlatform('linux/amd64/v3'), { os: 'linux', architecture: 'amd64', variant: 'v3' });
  assert.deepEqual(parsePlatform('Linux/x86_64'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(parsePlatform('linux/aarch64'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.deepEqual(parsePlatform('linux/arm'), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.deepEqual(parsePlatform('linux/armhf'), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.deepEqual(parsePlatform('linux/arm/6'), { os: 'linux', architecture: 'arm', variant: 'v6' });
  assert.deepEqual(parsePlatform('linux/i386'), { os: 'linux', architecture: '386' });
  assert.deepEqual(parsePlatform('amd64'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(parsePlatform('linux'), hostPlatform());
  assert.deepEqual(parsePlatform('windows/amd64'), { os: 'windows', architecture: 'amd64' });
  for (const bad of ['', 'linux/', 'linux//v7', 'linux/amd64/v1/x', 'nosuchthing', 'linux/*', 'linux/am d64']) {
    assert.throws(() => parsePlatform(bad), InvalidArgumentError, bad);
  }
  assert.throws(() => parsePlatform('nosuchthing'), /"nosuchthing": unknown operating system or architecture: invalid argument/);
});

test('formatPlatform', () => {
  assert.equal(formatPlatform({ os: 'linux', architecture: 'amd64' }), 'linux/amd64');
  assert.equal(formatPlatform({ os: 'linux', architecture: 'arm64', variant: 'v8' }), 'linux/arm64/v8');
  assert.equal(formatPlatform(parsePlatform('linux/arm/v7')), 'linux/arm/v7');
});

test('normalizePlatform spells out default variants', () => {
  assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'arm64' }), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'arm' }), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'amd64', variant: 'v1' }), { os: 'linux', architecture: 'amd64' });
});

test('platformMatches: defaults and compatible variants', () => {
  const p = (s: string): Platform => parsePlatform(s);
  const amd64: Platform = { os: 'linux', architecture: 'amd64' };
  assert.ok(platformMatches(amd64, amd64));
  assert.ok(platformMatches(amd64, { os: 'linux', architecture: 'amd64', variant: 'v1' }));
  assert.ok(!platformMatches(amd64, p('linux/amd64/v2')));
  assert.ok(platformMatches(p('linux/amd64/v3'), p('linux/amd64/v2')));
  assert.ok(platformMatches(p('linux/amd64/v3'), amd64));
  assert.ok(!platformMatches(p('linux/amd64/v3'), p('linux/amd64/v4')));
  assert.ok(platformMatches(amd64, p('linux/386')));
  assert.ok(!platformMatches(amd64, p('linux/arm64')));
  assert.ok(!platformMatches(amd64, { os: 'windows', architecture: 'amd64' }));
  // arm64: a missing variant is v8.
  assert.ok(platformMatches({ os: 'linux', architecture: 'arm64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }));
  assert.ok(platformMatches({ os: 'linux', architecture: 'arm64', variant: 'v8' }, { os: 'linux', architecture: 'arm64' }));
  assert.ok(platformMatches(p('linux/arm64'), p('linux/arm/v7')));
  // arm: a missing variant is v7; older variants run, newer do not.
  assert.ok(platformMatches({ os: 'linux', architecture: 'arm' }, { os: 'linux', architecture: 'arm', variant: 'v7' }));
  assert.ok(platformMatches(p('linux/arm/v7'), p('linux/arm/v6')));
  assert.ok(!platformMatches(p('linux/arm/v6'), p('linux/arm/v7')));
  assert.ok(!platformMatches(p('linux/arm/v7'), p('linux/arm64')));
  assert.deepEqual(platformPreferences(p('linux/amd64/v3')).map(formatPlatform), [
    'linux/amd64/v3',
    'linux/amd64/v2',
    'linux/amd64',
    'linux/386',
  ]);
});

const D = (n: number): Digest => `sha256:${n.toString(16).padStart(64, '0')}` as Digest;
function entry(n: number, platform?: Platform, mediaType: string = MediaType.ociManifest): Descriptor {
  const d: Descriptor = { mediaType, digest: D(n), size: 100 };
  if (platform !== undefined) d.platform = platform;
  return d;
}
function index(...manifests: Descriptor[]): ImageIndex {
  return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests };
}

test('selectManifest picks the best entry', () => {
  const ix = index(
    entry(1, { os: 'linux', architecture: 'amd64' }),
    entry(2, { os: 'linux', architecture: 'arm', variant: 'v6' }),
    entry(3, { os: 'linux', architecture: 'arm', variant: 'v7' }),
    entry(4, { os: 'linux', architecture: 'arm64', variant: 'v8' }),
    entry(5, { os: 'unknown', architecture: 'unknown' }), // a BuildKit attestation
    entry(6, { os: 'linux', architecture: '386' }),
  );
  assert.equal(selectManifest(ix, { os: 'linux', architecture: 'amd64' }).digest, D(1));
  assert.equal(selectManifest(ix, { os: 'linux', architecture: 'arm64' }).digest, D(4));
  assert.equal(selectManifest(ix, parsePlatform('linux/arm/v7')).digest, D(3));
  assert.equal(selectManifest(ix, parsePlatform('linux/arm/v8')).digest, D(3));
  assert.equal(selectManifest(ix, parsePlatform('linux/arm/v6')).digest, D(2));
  // Exact beats compatible, whatever the order.
  const v = index(entry(1, { os: 'linux', architecture: 'amd64' }), entry(2, { os: 'linux', architecture: 'amd64', variant: 'v3' }));
  assert.equal(selectManifest(v, parsePlatform('linux/amd64/v3')).digest, D(2));
  assert.equal(selectManifest(v, parsePlatform('linux/amd64/v2')).digest, D(1));
  // 386 only as a fallback on amd64.
  assert.equal(selectManifest(index(entry(6, { os: 'linux', architecture: '386' })), { os: 'linux', architecture: 'amd64' }).digest, D(6));
  // Equal ranks: the first listed wins.
  const dup = index(entry(7, { os: 'linux', architecture: 'amd64' }), entry(8, { os: 'linux', architecture: 'amd64' }));
  assert.equal(selectManifest(dup, { os: 'linux', architecture: 'amd64' }).digest, D(7));
});

test('selectManifest: no platform is a last resort; non-manifests are skipped', () => {
  const ix = index(entry(1), entry(2, { os: 'linux', architecture: 'amd64' }));
  assert.equal(selectManifest(ix, { os: 'linux', architecture: 'amd64' }).digest, D(2));
  assert.equal(selectManifest(ix, { os: 'linux', architecture: 's390x' }).digest, D(1));
  const blobs = index(entry(3, { os: 'linux', architecture: 'amd64' }, 'application/vnd.example+json'));
  assert.throws(() => selectManifest(blobs, { os: 'linux', architecture: 'amd64' }), NotFoundError);
});

test("selectManifest: Docker's message when nothing matches", () => {
  const ix = index(entry(1, { os: 'linux', architecture: 'arm64', variant: 'v8' }));
  assert.throws(
    () => selectManifest(ix, { os: 'linux', architecture: 'amd64' }),
    (e: unknown) => e instanceof NotFoundError && e.message === 'no matching manifest for linux/amd64 in the manifest list entries',
  );
  assert.throws(
    () => selectManifest(index(), { os: 'linux', architecture: 'arm64', variant: 'v8' }),
    /no matching manifest for linux\/arm64\/v8 in the manifest list entries/,
  );
});
