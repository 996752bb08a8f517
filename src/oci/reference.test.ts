import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../base/errors.js';
import {
  familiarName,
  familiarString,
  fullString,
  isValidDomain,
  isValidRepositoryPath,
  isValidTag,
  looksLikeId,
  normalizeName,
  parseAnyReference,
  parseDockerRef,
  parseIdOrPrefix,
  parseRawReference,
  parseReference,
  repositoryName,
  trimReference,
  tryParseReference,
  withDefaultTag,
  withDigest,
  withTag,
} from './reference.js';

const HEX = 'a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';
const DGST = `sha256:${HEX}`;

function rejects(s: string, message: string): void {
  assert.throws(
    () => parseReference(s),
    (e: unknown) => e instanceof InvalidArgumentError && e.message === message,
    `${JSON.stringify(s)} should fail with ${JSON.stringify(message)}`,
  );
}

test('familiar names normalise to docker.io/library', () => {
  assert.deepEqual(parseReference('busybox'), { domain: 'docker.io', path: 'library/busybox' });
  assert.deepEqual(parseReference('busybox:1.36'), { domain: 'docker.io', path: 'library/busybox', tag: '1.36' });
  assert.deepEqual(parseReference('library/busybox'), { domain: 'docker.io', path: 'library/busybox' });
  assert.deepEqual(parseReference('docker.io/busybox'), { domain: 'docker.io', path: 'library/busybox' });
  assert.deepEqual(parseReference('index.docker.io/library/busybox'), { domain: 'docker.io', path: 'library/busybox' });
  assert.deepEqual(parseReference('index.docker.io/busybox'), { domain: 'docker.io', path: 'library/busybox' });
  assert.deepEqual(parseReference('user/app'), { domain: 'docker.io', path: 'user/app' });
  assert.deepEqual(parseReference('docker.io/user/app:v2'), { domain: 'docker.io', path: 'user/app', tag: 'v2' });
});

test('domains: dot, colon, localhost, uppercase', () => {
  assert.deepEqual(parseReference('localhost:5000/t1:v1'), { domain: 'localhost:5000', path: 't1', tag: 'v1' });
  assert.deepEqual(parseReference('localhost/foo'), { domain: 'localhost', path: 'foo' });
  assert.deepEqual(parseReference('host.example/x'), { domain: 'host.example', path: 'x' });
  assert.deepEqual(parseReference('Registry.Example.COM/a/b'), { domain: 'Registry.Example.COM', path: 'a/b' });
  assert.deepEqual(parseReference('Foo/bar'), { domain: 'Foo', path: 'bar' });
  assert.deepEqual(parseReference('127.0.0.1:5000/a'), { domain: '127.0.0.1:5000', path: 'a' });
  assert.deepEqual(parseReference('[::1]:5000/a:t'), { domain: '[::1]:5000', path: 'a', tag: 't' });
  // `foo` has no dot, colon and is lowercase: a Hub namespace, not a host.
  assert.deepEqual(parseReference('foo/bar/baz'), { domain: 'docker.io', path: 'foo/bar/baz' });
  // Bare `localhost` is a name, as in Docker.
  assert.deepEqual(parseReference('localhost'), { domain: 'docker.io', path: 'library/localhost' });
  // A colon with no slash is a tag.
  assert.deepEqual(parseReference('foo:5000'), { domain: 'docker.io', path: 'library/foo', tag: '5000' });
});

test('tag and digest together', () => {
  const r = parseReference(`host:5000/a/b:tag@${DGST}`);
  assert.deepEqual(r, { domain: 'host:5000', path: 'a/b', tag: 'tag', digest: DGST });
  assert.equal(fullString(r), `host:5000/a/b:tag@${DGST}`);
  assert.equal(familiarString(r), `host:5000/a/b:tag@${DGST}`);
  assert.deepEqual(parseReference(`busybox@${DGST}`), { domain: 'docker.io', path: 'library/busybox', digest: DGST });
  // ParseDockerRef: the digest wins over the tag; a bare name gets :latest.
  assert.deepEqual(parseDockerRef(`busybox:1@${DGST}`), { domain: 'docker.io', path: 'library/busybox', digest: DGST });
  assert.deepEqual(parseDockerRef('busybox'), { domain: 'docker.io', path: 'library/busybox', tag: 'latest' });
});

test('uppercase in the repository name', () => {
  rejects('UPPER', 'invalid reference format: repository name must be lowercase');
  rejects('library/Busybox', 'invalid reference format: repository name must be lowercase');
  rejects('localhost:5000/Foo:v1', 'invalid reference format: repository name must be lowercase');
  // Uppercase tags are fine.
  assert.equal(parseReference('busybox:LATEST').tag, 'LATEST');
});

test('malformed references', () => {
  for (const s of ['a:b:c', ':tag', '', 'busybox:', 'busybox@', '/busybox', 'busybox/', 'a//b', '-a', 'a-', 'a..b', 'a___b',
    'a_-b', '.a', 'busybox:-tag', 'busybox:.tag', `busybox:${'t'.repeat(129)}`, 'foo@sha256:short', 'a b', 'a_b.c/x', 'foo bar:1']) {
    rejects(s, 'invalid reference format');
  }
  assert.equal(parseReference(`busybox:${'t'.repeat(128)}`).tag, 't'.repeat(128));
});

test('separators: ., _, __, and runs of -', () => {
  for (const s of ['a.b', 'a_b', 'a__b', 'a-b', 'a---b', 'a-b_c.d__e', 'x/y-z/w__v']) {
    assert.ok(tryParseReference(s) !== undefined, s);
  }
  assert.equal(tryParseReference('a___b'), undefined);
  assert.equal(tryParseReference('a._b'), undefined);
});

test('repository name length', () => {
  // 247 + "library/" = 255: the limit, which ignores the domain.
  assert.equal(parseReference('a'.repeat(247)).path.length, 255);
  rejects('a'.repeat(248), 'repository name must not be more than 255 characters');
  rejects('a'.repeat(256), 'repository name must not be more than 255 characters');
  assert.equal(parseReference(`example.com/${'b'.repeat(255)}`).path.length, 255);
  rejects(`example.com/${'b'.repeat(256)}`, 'repository name must not be more than 255 characters');
});

test('digest errors', () => {
  rejects(`foo@sha256:${HEX.slice(0, 40)}`, 'invalid checksum digest length');
  rejects(`foo@sha256:${HEX.toUpperCase()}`, 'invalid checksum digest format');
  rejects(`foo@md5:${HEX}`, 'unsupported digest algorithm');
  rejects(`foo@sha384:${'a'.repeat(96)}`, 'unsupported digest algorithm');
  assert.equal(parseReference(`foo@sha512:${'b'.repeat(128)}`).digest, `sha512:${'b'.repeat(128)}`);
});

test('a 64-hex string is an ID, not a name', () => {
  rejects(HEX, `invalid repository name (${HEX}), cannot specify 64-byte hexadecimal strings`);
  assert.deepEqual(parseAnyReference(HEX), { kind: 'id', id: DGST });
  assert.deepEqual(parseAnyReference(DGST), { kind: 'id', id: DGST });
  assert.deepEqual(parseAnyReference('busybox'), { kind: 'named', ref: { domain: 'docker.io', path: 'library/busybox' } });
  // A short digest is a name with a tag, as in Docker.
  assert.deepEqual(parseAnyReference('sha256:abc'), { kind: 'named', ref: { domain: 'docker.io', path: 'library/sha256', tag: 'abc' } });
});

test('looksLikeId and parseIdOrPrefix', () => {
  assert.equal(looksLikeId(HEX), true);
  assert.equal(looksLikeId(DGST), true);
  assert.equal(looksLikeId(HEX.slice(0, 12)), false);
  assert.equal(looksLikeId(HEX.toUpperCase()), false);
  assert.equal(looksLikeId('busybox'), false);
  assert.deepEqual(parseIdOrPrefix(HEX), { hex: HEX, digest: DGST });
  assert.deepEqual(parseIdOrPrefix(DGST), { hex: HEX, digest: DGST });
  assert.deepEqual(parseIdOrPrefix(HEX.slice(0, 12)), { hex: HEX.slice(0, 12) });
  assert.deepEqual(parseIdOrPrefix(`sha256:${HEX.slice(0, 5)}`), { hex: HEX.slice(0, 5) });
  assert.equal(parseIdOrPrefix('busybox'), undefined);
  assert.equal(parseIdOrPrefix(''), undefined);
  assert.equal(parseIdOrPrefix('sha256:'), undefined);
  assert.equal(parseIdOrPrefix(HEX + 'a'), undefined);
});

test('familiar forms and helpers', () => {
  assert.equal(normalizeName('busybox'), 'docker.io/library/busybox');
  assert.equal(normalizeName('user/x'), 'docker.io/user/x');
  assert.equal(normalizeName('localhost:5000/a/b'), 'localhost:5000/a/b');
  assert.equal(normalizeName('host.example/x'), 'host.example/x');
  assert.equal(normalizeName('busybox:1.36'), 'docker.io/library/busybox');
  assert.equal(familiarName('docker.io/library/busybox'), 'busybox');
  assert.equal(familiarName('docker.io/user/x'), 'user/x');
  assert.equal(familiarName('localhost:5000/a/b'), 'localhost:5000/a/b');
  // Nested names under library/ are not shortened.
  assert.equal(familiarName('docker.io/library/a/b'), 'library/a/b');
  const r = parseReference('busybox:1.36');
  assert.equal(fullString(r), 'docker.io/library/busybox:1.36');
  assert.equal(familiarString(r), 'busybox:1.36');
  assert.equal(repositoryName(r), 'docker.io/library/busybox');
  assert.deepEqual(trimReference(r), { domain: 'docker.io', path: 'library/busybox' });
  assert.equal(fullString(withDefaultTag(parseReference('busybox'))), 'docker.io/library/busybox:latest');
  assert.equal(withDefaultTag(r), r);
  const d = parseReference(`busybox@${DGST}`);
  assert.equal(withDefaultTag(d).tag, undefined);
  assert.equal(fullString(withTag(d, 'v1')), `docker.io/library/busybox:v1@${DGST}`);
  assert.throws(() => withTag(r, 'bad tag'), /invalid tag format/);
  assert.equal(fullString(withDigest(parseReference('a'), DGST)), `docker.io/library/a@${DGST}`);
});

test('validity helpers and the raw grammar', () => {
  assert.equal(isValidTag('v1.0-rc_1'), true);
  assert.equal(isValidTag('.v1'), false);
  assert.equal(isValidRepositoryPath('library/busybox'), true);
  assert.equal(isValidRepositoryPath('Library/busybox'), false);
  assert.equal(isValidDomain('localhost:5000'), true);
  assert.equal(isValidDomain('a_b'), false);
  // Without normalisation the first component is a domain when it can be one.
  assert.deepEqual(parseRawReference('a/b'), { domain: 'a', path: 'b' });
  assert.deepEqual(parseRawReference('busybox'), { domain: '', path: 'busybox' });
  assert.throws(() => parseRawReference(''), /repository name must have at least one component/);
  assert.throws(() => parseRawReference('Busybox'), /^InvalidArgumentError: repository name must be lowercase$/);
});

test('pathological input does not backtrack for long', () => {
  const t0 = Date.now();
  for (const s of ['a'.repeat(100_000) + '!', 'a-'.repeat(50_000) + '!', 'a.'.repeat(50_000) + '/!', `a@sha256:${'a'.repeat(100_000)}!`]) {
    assert.throws(() => parseReference(s), InvalidArgumentError);
  }
  assert.ok(Date.now() - t0 < 2000);
});
