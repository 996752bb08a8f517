/** bcrypt, htpasswd basic auth (curl and docker login), token auth scope isolation, TLS. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Bcrypt } from './bcrypt.js';
import { Htpasswd } from './htpasswd.js';
import { loadTokenKeys, signJwt, verifyJwt, allowedActions } from './token.js';
import { errorCode, freePort, have, http, run, sha256, startRegistry, tempDir } from '../testutil.js';

describe('bcrypt', () => {
  const b = new Bcrypt();
  test('known vector and round trip', () => {
    assert.equal(b.verify('U*U', '$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW'), true);
    assert.equal(b.verify('U*V', '$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW'), false);
    const h = b.hash('correct horse', 4);
    assert.match(h, /^\$2b\$04\$/);
    assert.equal(b.verify('correct horse', h), true);
    assert.equal(b.verify('correct horsf', h), false);
    assert.equal(b.verify('x', 'not a hash'), false);
  });
  test('agrees with Apache htpasswd both ways', async (t) => {
    if (!have('htpasswd')) return t.skip('no htpasswd');
    const r = await run('htpasswd', ['-nbB', '-C', '5', 'u', 'pä$$ word']);
    const hash = r.stdout.trim().split(':')[1]!;
    assert.match(hash, /^\$2y\$05\$/);
    assert.equal(b.verify('pä$$ word', hash), true);
    assert.equal(b.verify('pa$$ word', hash), false);
    const dir = await tempDir();
    try {
      await writeFile(join(dir, 'h'), `u:${b.hash('ours', 5, undefined, 'y')}\n`);
      assert.equal((await run('htpasswd', ['-vb', join(dir, 'h'), 'u', 'ours'])).status, 0);
      assert.notEqual((await run('htpasswd', ['-vb', join(dir, 'h'), 'u', 'other'])).status, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function htpasswdText(users: Record<string, string>): string {
  const b = new Bcrypt();
  return Object.entries(users)
    .map(([u, p]) => `${u}:${b.hash(p, 5, undefined, 'y')}`)
    .join('\n');
}

function basic(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}

describe('htpasswd auth', () => {
  test('401 with a Basic challenge without credentials; curl -u works', async () => {
    const r = await startRegistry({ htpasswd: new Htpasswd(htpasswdText({ alice: 'wonderland' })), htpasswdRealm: 'test realm' });
    try {
      const res = await http('GET', `${r.base}/v2/`);
      assert.equal(res.status, 401);
      assert.equal(res.headers['www-authenticate'], 'Basic realm="test realm"');
      assert.equal(errorCode(res), 'UNAUTHORIZED');
      const push = await http('POST', `${r.base}/v2/x/blobs/uploads/?digest=${sha256('a')}`, { body: 'a' });
      assert.equal(push.status, 401);
      assert.equal((await http('GET', `${r.base}/v2/`, { headers: { Authorization: basic('alice', 'nope') } })).status, 401);
      const ok = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-u', 'alice:wonderland', '-X', 'POST', '--data-binary', 'a', `${r.base}/v2/x/blobs/uploads/?digest=${sha256('a')}`]);
      assert.equal(ok.stdout, '201');
    } finally {
      await r.stop();
    }
  });

  test('docker: push refused without login, works after docker login', async (t) => {
    if (!have('docker') || (await run('docker', ['image', 'inspect', 'busybox:local'])).status !== 0) return t.skip('needs dockerd with busybox:local');
    const r = await startRegistry({ htpasswd: new Htpasswd(htpasswdText({ alice: 'wonderland' })) });
    const cfg = await tempDir('berth-docker-config-');
    const env = { DOCKER_CONFIG: cfg };
    const ref = `${r.host}/auth/bb:1`;
    try {
      assert.equal((await run('docker', ['tag', 'busybox:local', ref], env)).status, 0);
      const denied = await run('docker', ['push', ref], env);
      assert.notEqual(denied.status, 0);
      assert.match(denied.stderr + denied.stdout, /no basic auth credentials|unauthorized|authentication required/i);
      const bad = await run('docker', ['login', r.host, '-u', 'alice', '--password-stdin'], env, 'wrong');
      assert.notEqual(bad.status, 0);
      const login = await run('docker', ['login', r.host, '-u', 'alice', '--password-stdin'], env, 'wonderland');
      assert.equal(login.status, 0, login.stderr);
      const push = await run('docker', ['push', ref], env);
      assert.equal(push.status, 0, push.stderr + push.stdout);
      assert.equal((await http('GET', `${r.base}/v2/auth/bb/tags/list`, { headers: { Authorization: basic('alice', 'wonderland') } })).status, 200);
    } finally {
      await run('docker', ['rmi', ref], env);
      await r.stop();
      await rm(cfg, { recursive: true, force: true });
    }
  });
});

describe('token auth', () => {
  test('JWT sign/verify: ES256 and RS256, tampering and wrong audience refused', () => {
    for (const kind of ['ec', 'rsa'] as const) {
      const { privateKey } =
        kind === 'ec'
          ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
          : generateKeyPairSync('rsa', { modulusLength: 2048 });
      const keys = loadTokenKeys(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
      assert.equal(keys.alg, kind === 'ec' ? 'ES256' : 'RS256');
      const now = Math.floor(Date.now() / 1000);
      const tok = signJwt(keys, { iss: 'i', sub: 'alice', aud: 's', exp: now + 60, nbf: now, iat: now, jti: 'j', access: [{ type: 'repository', name: 'a', actions: ['pull'] }] });
      const ok = verifyJwt(keys, tok, { issuer: 'i', service: 's' });
      assert.ok('claims' in ok && ok.claims.access[0]?.name === 'a');
      assert.ok('error' in verifyJwt(keys, tok, { issuer: 'i', service: 'other' }));
      assert.ok('error' in verifyJwt(keys, tok, { issuer: 'x', service: 's' }));
      const [h, p, s] = tok.split('.') as [string, string, string];
      const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), access: [{ type: 'repository', name: 'b', actions: ['push'] }] })).toString('base64url');
      assert.ok('error' in verifyJwt(keys, `${h}.${forged}.${s}`, { issuer: 'i', service: 's' }));
      const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`;
      assert.ok('error' in verifyJwt(keys, none, { issuer: 'i', service: 's' }));
      assert.ok('error' in verifyJwt(keys, tok, { issuer: 'i', service: 's' }, now + 3600));
    }
  });

  test('ACL matching', () => {
    const acl = [
      { account: 'alice', name: 'alice/*', actions: ['pull', 'push'] as ('pull' | 'push')[] },
      { account: '*', name: '${account}/private', actions: ['pull' as const] },
      { account: 'anonymous', name: 'public/*', actions: ['pull' as const] },
    ];
    assert.deepEqual(allowedActions(acl, 'alice', { type: 'repository', name: 'alice/app', actions: ['pull', 'push'] }), ['pull', 'push']);
    assert.deepEqual(allowedActions(acl, 'alice', { type: 'repository', name: 'bob/app', actions: ['pull', 'push'] }), []);
    assert.deepEqual(allowedActions(acl, 'bob', { type: 'repository', name: 'bob/private', actions: ['pull', 'push'] }), ['pull']);
    assert.deepEqual(allowedActions(acl, '', { type: 'repository', name: 'public/x', actions: ['pull', 'push'] }), ['pull']);
    assert.deepEqual(allowedActions(acl, 'alice', { type: 'repository', name: 'public/x', actions: ['pull'] }), []);
  });

  test('built-in token endpoint; a token for one repository cannot push to another', async () => {
    const port = await freePort();
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keys = loadTokenKeys(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const r = await startRegistry(
      {
        htpasswd: new Htpasswd(htpasswdText({ alice: 'a-pass', bob: 'b-pass' })),
        token: {
          realm: `http://127.0.0.1:${port}/token`,
          service: 'test-registry',
          issuer: 'test-issuer',
          keys,
          issue: true,
          acl: [
            { account: '*', name: '${account}/*', actions: ['pull', 'push', 'delete'] },
            { account: 'anonymous', name: 'public/*', actions: ['pull'] },
          ],
        },
      },
      port,
    );
    const token = async (user: string | undefined, scope: string): Promise<string> => {
      const res = await http('GET', `${r.base}/token?service=test-registry&scope=${encodeURIComponent(scope)}`, user === undefined ? {} : { headers: { Authorization: basic(user, `${user[0]}-pass`) } });
      assert.equal(res.status, 200, res.text);
      return (res.json() as { token: string }).token;
    };
    try {
      const chal = await http('POST', `${r.base}/v2/alice/app/blobs/uploads/`);
      assert.equal(chal.status, 401);
      assert.equal(chal.headers['www-authenticate'], `Bearer realm="http://127.0.0.1:${port}/token",service="test-registry",scope="repository:alice/app:pull,push"`);
      assert.equal(errorCode(chal), 'UNAUTHORIZED');
      assert.equal((await http('GET', `${r.base}/token?service=test-registry`, { headers: { Authorization: basic('alice', 'wrong') } })).status, 401);

      const aliceTok = await token('alice', 'repository:alice/app:pull,push');
      const bearer = { Authorization: `Bearer ${aliceTok}` };
      const ok = await http('POST', `${r.base}/v2/alice/app/blobs/uploads/?digest=${sha256('x')}`, { body: 'x', headers: bearer });
      assert.equal(ok.status, 201);
      // the same token is worth nothing for bob's repository
      const other = await http('POST', `${r.base}/v2/bob/app/blobs/uploads/?digest=${sha256('x')}`, { body: 'x', headers: bearer });
      assert.equal(other.status, 401);
      assert.match(String(other.headers['www-authenticate']), /error="insufficient_scope"/);
      // and asking for bob's repository yields a token without actions
      const stolen = await token('alice', 'repository:bob/app:pull,push');
      const claims = JSON.parse(Buffer.from(stolen.split('.')[1]!, 'base64url').toString()) as { access: { actions: string[] }[] };
      assert.deepEqual(claims.access[0]?.actions, []);
      assert.equal((await http('POST', `${r.base}/v2/bob/app/blobs/uploads/`, { headers: { Authorization: `Bearer ${stolen}` } })).status, 401);
      // pull-only grants cannot delete
      const pullOnly = await token('alice', 'repository:alice/app:pull');
      assert.equal((await http('HEAD', `${r.base}/v2/alice/app/blobs/${sha256('x')}`, { headers: { Authorization: `Bearer ${pullOnly}` } })).status, 200);
      assert.equal((await http('DELETE', `${r.base}/v2/alice/app/blobs/${sha256('x')}`, { headers: { Authorization: `Bearer ${pullOnly}` } })).status, 401);
      // anonymous: public pull only
      const anon = await token(undefined, 'repository:public/x:pull,push');
      const anonClaims = JSON.parse(Buffer.from(anon.split('.')[1]!, 'base64url').toString()) as { access: { actions: string[] }[] };
      assert.deepEqual(anonClaims.access[0]?.actions, ['pull']);
      // a token signed by another key is refused
      const { privateKey: k2 } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const foreign = signJwt(loadTokenKeys(k2.export({ type: 'pkcs8', format: 'pem' }).toString()), {
        iss: 'test-issuer', sub: 'mallory', aud: 'test-registry', exp: Math.floor(Date.now() / 1000) + 60, nbf: 0, iat: 0, jti: 'x',
        access: [{ type: 'repository', name: 'alice/app', actions: ['pull', 'push'] }],
      });
      const forged = await http('GET', `${r.base}/v2/alice/app/tags/list`, { headers: { Authorization: `Bearer ${foreign}` } });
      assert.equal(forged.status, 401);
      assert.match(String(forged.headers['www-authenticate']), /error="invalid_token"/);
    } finally {
      await r.stop();
    }
  });

  test('docker login and push through token auth, limited by the ACL', async (t) => {
    if (!have('docker') || (await run('docker', ['image', 'inspect', 'busybox:local'])).status !== 0) return t.skip('needs dockerd with busybox:local');
    const port = await freePort();
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const r = await startRegistry(
      {
        htpasswd: new Htpasswd(htpasswdText({ alice: 'a-pass' })),
        token: {
          realm: `http://127.0.0.1:${port}/token`,
          service: 'test-registry',
          issuer: 'test-issuer',
          keys: loadTokenKeys(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
          issue: true,
          acl: [{ account: '*', name: '${account}/*', actions: ['pull', 'push'] }],
        },
      },
      port,
    );
    const cfg = await tempDir('berth-docker-config-');
    const env = { DOCKER_CONFIG: cfg };
    const mine = `${r.host}/alice/bb:1`;
    const theirs = `${r.host}/bob/bb:1`;
    try {
      const login = await run('docker', ['login', r.host, '-u', 'alice', '--password-stdin'], env, 'a-pass');
      assert.equal(login.status, 0, login.stderr);
      await run('docker', ['tag', 'busybox:local', mine], env);
      await run('docker', ['tag', 'busybox:local', theirs], env);
      const ok = await run('docker', ['push', mine], env);
      assert.equal(ok.status, 0, ok.stderr + ok.stdout);
      const denied = await run('docker', ['push', theirs], env);
      assert.notEqual(denied.status, 0);
      assert.match(denied.stderr + denied.stdout, /denied|unauthorized|authentication required/i);
    } finally {
      await run('docker', ['rmi', mine, theirs], env);
      await r.stop();
      await rm(cfg, { recursive: true, force: true });
    }
  });
});

describe('TLS', () => {
  test('serves https with --tls-cert/--tls-key material', async (t) => {
    if (!have('openssl')) return t.skip('no openssl');
    const dir = await tempDir();
    try {
      const gen = await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
      assert.equal(gen.status, 0, gen.stderr);
      const r = await startRegistry({ tls: { cert: await readFile(join(dir, 'cert.pem')), key: await readFile(join(dir, 'key.pem')) } });
      try {
        const res = await run('curl', ['-s', '--cacert', join(dir, 'cert.pem'), '-w', ' %{http_code}', `https://127.0.0.1:${r.port}/v2/`]);
        assert.equal(res.stdout, '{} 200');
        const d = await pushBlobTls(r.port, dir);
        assert.equal(d, '201');
      } finally {
        await r.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

async function pushBlobTls(port: number, dir: string): Promise<string> {
  const res = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', join(dir, 'cert.pem'), '-X', 'POST', '--data-binary', 'tls', `https://127.0.0.1:${port}/v2/tls/blobs/uploads/?digest=${sha256('tls')}`]);
  return res.stdout;
}


