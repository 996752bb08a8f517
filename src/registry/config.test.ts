/**
 * `berth registry serve --config` with Distribution's config.yml: real
 * registry processes started from YAML files (Debian's default file with
 * htpasswd; token auth with a root certificate bundle over TLS), and the
 * errors a file berth cannot honour gets.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDistributionConfig } from './distconfig.js';
import { parseDuration, readConfigFile } from './cli.js';
import { loadTokenKeys, signJwt } from './auth/token.js';
import { freePort, have, http, run, sha256, tempDir } from './testutil.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

interface Proc {
  p: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts `serve --config file` and waits until `probe` answers (any HTTP status). */
function serve(cfg: string, probe: () => Promise<unknown>): Promise<Proc> {
  const p = spawn(process.execPath, [MAIN, 'serve', '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const proc: Proc = {
    p,
    stderr: () => err,
    async stop() {
      if (p.exitCode !== null || p.signalCode !== null) return;
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await gone;
    },
  };
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 10_000;
    const poll = (): void => {
      probe().then(
        () => resolve(proc),
        () => (Date.now() > deadline ? reject(new Error(`registry did not start: ${err}`)) : setTimeout(poll, 50)),
      );
    };
    p.once('exit', (code) => reject(new Error(`registry exited early with ${code}: ${err}`)));
    poll();
  });
}

/** Runs `serve --config file` expecting it to refuse; returns its exit code and stderr. */
async function refused(cfg: string): Promise<{ code: number | null; stderr: string }> {
  const r = await run(process.execPath, [MAIN, 'serve', '--config', cfg]);
  return { code: r.status, stderr: r.stderr };
}

describe('Distribution config.yml', () => {
  test("Debian's default file (htpasswd, headers, health, cache) serves with basic auth", async (t) => {
    const htp = await run('htpasswd', ['-Bbn', 'alice', 'secret']);
    if (htp.status !== 0) return t.skip('htpasswd (apache2-utils) is not installed');
    const dir = await tempDir('berth-yaml-');
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    await writeFile(join(dir, 'htpasswd'), htp.stdout);
    // Debian's /etc/docker/registry/config.yml, with paths and the address changed.
    const cfg = join(dir, 'config.yml');
    await writeFile(
      cfg,
      `version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: ${dir}/data
  delete:
    enabled: false
http:
  addr: 127.0.0.1:${port}
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  htpasswd:
    realm: basic-realm
    path: ${dir}/htpasswd
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
`,
    );
    const s = await serve(cfg, () => http('GET', `${base}/v2/`));
    try {
      const anon = await http('GET', `${base}/v2/`);
      assert.equal(anon.status, 401);
      assert.equal(anon.headers['www-authenticate'], 'Basic realm="basic-realm"');
      const auth = { Authorization: `Basic ${Buffer.from('alice:secret').toString('base64')}` };
      assert.equal((await http('GET', `${base}/v2/`, { headers: auth })).status, 200);
      const blob = 'stored under rootdirectory';
      const d = sha256(blob);
      assert.equal((await http('POST', `${base}/v2/yaml/app/blobs/uploads/?digest=${d}`, { body: blob, headers: auth })).status, 201);
      assert.equal(await readFile(join(dir, 'data', 'blobs', 'sha256', d.slice(7, 9), d.slice(7), 'data'), 'utf8'), blob);
      // storage.delete.enabled: false
      const del = await http('DELETE', `${base}/v2/yaml/app/blobs/${d}`, { headers: auth });
      assert.equal(del.status, 405);
      // Settings without effect are named in the log, not dropped silently.
      assert.match(s.stderr(), /http\.headers/);
      assert.match(s.stderr(), /health/);
    } finally {
      await s.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('token auth with a root certificate bundle, over TLS from http.tls', async (t) => {
    if (!have('openssl') || !have('curl')) return t.skip('needs openssl and curl');
    const dir = await tempDir('berth-yaml-');
    const port = await freePort();
    const key = join(dir, 'token.key');
    const cert = join(dir, 'token.crt');
    const gen = await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=token-issuer']);
    assert.equal(gen.status, 0, gen.stderr);
    const cfg = join(dir, 'config.yml');
    await writeFile(
      cfg,
      [
        'version: 0.1',
        'log:',
        '  level: warn',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${dir}/data`,
        'http:',
        `  addr: 127.0.0.1:${port}`,
        '  tls:',
        `    certificate: ${cert}`,
        `    key: ${key}`,
        'auth:',
        '  token:',
        '    realm: https://auth.example.test/token',
        '    service: yaml-registry',
        '    issuer: yaml-issuer',
        `    rootcertbundle: ${cert}`,
        '',
      ].join('\n'),
    );
    const curl = async (path: string, headers: string[] = []): Promise<{ code: string; headers: string }> => {
      const r = await run('curl', ['-sk', '-D', '-', '-o', '/dev/null', '-w', '%{http_code}', ...headers.flatMap((h) => ['-H', h]), `https://127.0.0.1:${port}${path}`]);
      const lines = r.stdout.trim().split('\n');
      return { code: lines[lines.length - 1] ?? '', headers: r.stdout };
    };
    const s = await serve(cfg, async () => {
      if ((await curl('/v2/')).code === '000') throw new Error('not yet');
    });
    try {
      const chal = await curl('/v2/yaml/app/tags/list');
      assert.equal(chal.code, '401');
      assert.match(chal.headers, /www-authenticate: Bearer realm="https:\/\/auth\.example\.test\/token",service="yaml-registry",scope="repository:yaml\/app:pull"/i);
      // A token from the issuer whose certificate is in the bundle is honoured for its scope only.
      const keys = loadTokenKeys((await readFile(key, 'utf8')).toString());
      const now = Math.floor(Date.now() / 1000);
      const tok = signJwt(keys, { iss: 'yaml-issuer', sub: 'alice', aud: 'yaml-registry', exp: now + 60, nbf: now - 5, iat: now, jti: 'j1', access: [{ type: 'repository', name: 'yaml/app', actions: ['pull'] }] });
      assert.equal((await curl('/v2/yaml/app/tags/list', [`Authorization: Bearer ${tok}`])).code, '404'); // authorised; the repository is empty
      assert.equal((await curl('/v2/yaml/other/tags/list', [`Authorization: Bearer ${tok}`])).code, '401');
      const wrongIssuer = signJwt(keys, { iss: 'someone-else', sub: 'alice', aud: 'yaml-registry', exp: now + 60, nbf: now - 5, iat: now, jti: 'j2', access: [{ type: 'repository', name: 'yaml/app', actions: ['pull'] }] });
      assert.equal((await curl('/v2/yaml/app/tags/list', [`Authorization: Bearer ${wrongIssuer}`])).code, '401');
      assert.deepEqual(await readdir(join(dir, 'data')).catch(() => []), []); // nothing stored by reads
    } finally {
      await s.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('settings berth cannot honour are refused by name, and the server does not start', async () => {
    const dir = await tempDir('berth-yaml-');
    try {
      const cases: [string, RegExp][] = [
        ['version: 0.1\nstorage:\n  s3:\n    bucket: x\n', /storage\.s3: unknown setting, or one berth does not support/],
        ['version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /tmp/x\nnotifications:\n  endpoints: []\n', /notifications: unknown setting/],
        ['version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /tmp/x\nhttp:\n  addr: 5\n', /http\.addr: Invalid input: expected string/],
        ['version: 0.2\nstorage:\n  filesystem:\n    rootdirectory: /tmp/x\n', /version: version must be 0\.1/],
        ['version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /tmp/x\n  delete:\n    enabled: "yes"\n', /storage\.delete\.enabled: Invalid input: expected boolean/],
        ['version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /tmp/x\nauth:\n  htpasswd:\n    path: /x\n  token:\n    realm: r\n    service: s\n    issuer: i\n    rootcertbundle: /c\n', /one of auth\.htpasswd and auth\.token/],
        ['storage:\n  filesystem:\n    rootdirectory: /tmp/x\n', /unknown setting storage .*version: 0\.1/],
        ['version: 0.1\nstorage: [\n', /config .*config\.yml: /],
      ];
      for (const [text, want] of cases) {
        const cfg = join(dir, 'config.yml');
        await writeFile(cfg, text);
        const r = await refused(cfg);
        assert.equal(r.code, 2, text);
        assert.match(r.stderr, want, text);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('mapping onto berth settings; Go durations', async () => {
    const d = parseDistributionConfig({
      version: '0.1',
      log: { level: 'fatal' },
      storage: { filesystem: { rootdirectory: '/r' }, maintenance: { uploadpurging: { enabled: true, age: '168h', interval: '24h', dryrun: false } } },
      http: { addr: ':5000' },
    });
    assert.deepEqual(
      { addr: d.addr, root: d.root, logLevel: d.logLevel, uploadGrace: d.uploadGrace },
      { addr: ':5000', root: '/r', logLevel: 'error', uploadGrace: '168h' },
    );
    assert.equal(parseDuration('168h'), 168 * 3.6e6);
    assert.equal(parseDuration('1h30m'), 5.4e6);
    assert.equal(parseDuration('250'), 250);
    assert.throws(() => parseDuration('1x'), /invalid duration/);
    // berth's own JSON shape still loads (JSON is YAML).
    const dir = await tempDir('berth-yaml-');
    try {
      await writeFile(join(dir, 'c.json'), JSON.stringify({ addr: '127.0.0.1:1', root: '/x', delete: false }));
      assert.deepEqual(readConfigFile(join(dir, 'c.json')), { cfg: { addr: '127.0.0.1:1', root: '/x', delete: false }, ignored: [] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
