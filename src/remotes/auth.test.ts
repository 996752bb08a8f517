import { test } from 'node:test';
import assert from 'node:assert/strict';
import { credentialsFrom, parseChallenges, parseTokenReply, TokenCache } from './auth.js';
import { humanSize, progressBar } from './progress.js';
import { HostResolver, isLoopback, loginHost } from './hosts.js';

test('parses Bearer and Basic challenges, quoted commas included', () => {
  const cs = parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push"');
  assert.deepEqual(cs, [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull,push' } }]);
  assert.deepEqual(parseChallenges(['Basic realm="Registry Realm"']), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
  assert.deepEqual(parseChallenges('Negotiate, Basic realm=x'), [{ scheme: 'basic', params: { realm: 'x' } }]);
  assert.deepEqual(parseChallenges(undefined), []);
});

test('credentials from AuthConfig: auth field decoded, empty strings dropped', () => {
  assert.deepEqual(credentialsFrom({ auth: Buffer.from('u:p:w').toString('base64') }), { username: 'u', password: 'p:w' });
  assert.deepEqual(credentialsFrom({ username: '', password: '' }), {});
  assert.deepEqual(credentialsFrom({ identitytoken: 't' }), { identitytoken: 't' });
});

test('token cache expires tokens and separates identities', () => {
  let now = 1000;
  const c = new TokenCache(() => now);
  const ch = { scheme: 'bearer' as const, params: { realm: 'r', service: 's' } };
  const k1 = TokenCache.key(ch, ['repository:a:pull'], { username: 'u', password: 'p' });
  const k2 = TokenCache.key(ch, ['repository:a:pull'], { username: 'u', password: 'q' });
  assert.notEqual(k1, k2);
  c.set(k1, 'T', 60);
  assert.equal(c.get(k1), 'T');
  assert.equal(c.get(k2), undefined);
  now += 60_000;
  assert.equal(c.get(k1), undefined);
  assert.deepEqual(parseTokenReply({ access_token: 'a', expires_in: 5 }), { token: 'a', expiresIn: 5 });
  assert.equal(parseTokenReply({ nope: 1 }), undefined);
});

test('progress bars and sizes as dockerd renders them', () => {
  assert.equal(humanSize(107), '107B');
  assert.equal(humanSize(36352), '36.35kB');
  assert.equal(humanSize(1982347), '1.982MB');
  assert.equal(humanSize(2048), '2.048kB');
  assert.equal(progressBar(107, 107), `[${'='.repeat(50)}>]     107B/107B`);
  assert.equal(progressBar(512, 3), `[${'='.repeat(50)}>]     512B`);
  assert.equal(progressBar(36352, 1982347), `[>${' '.repeat(50)}]  36.35kB/1.982MB`);
  assert.equal(progressBar(1871360, 1982347), `[${'='.repeat(47)}>${' '.repeat(3)}]  1.871MB/1.982MB`);
});

test('insecure hosts: loopback, listed names and CIDRs; Hub aliases; mirrors for pulls only', () => {
  for (const h of ['localhost:5000', '127.0.0.1:5000', '127.3.4.5', '[::1]:5000']) assert.ok(isLoopback(h), h);
  assert.ok(!isLoopback('example.com:5000'));
  const r = new HostResolver({ insecureRegistries: ['myreg:5000', '10.0.0.0/8'], mirrors: ['http://127.0.0.1:5001'] });
  assert.ok(r.isInsecure('myreg:5000'));
  assert.ok(r.isInsecure('10.1.2.3:443'));
  assert.ok(!r.isInsecure('registry.example.com'));
  assert.deepEqual(
    r.endpoints('docker.io', false).map((e) => [e.base, e.mirror]),
    [['http://127.0.0.1:5001', true], ['https://registry-1.docker.io', false]],
  );
  assert.equal(r.endpoints('docker.io', true).length, 1);
  assert.equal(loginHost('https://index.docker.io/v1/'), 'registry-1.docker.io');
  assert.equal(loginHost('127.0.0.1:5000'), '127.0.0.1:5000');
});
