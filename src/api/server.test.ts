import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import Docker from 'dockerode';
import { ConflictError, InvalidArgumentError, NotFoundError, NotModifiedError, UnavailableError, NotImplementedError } from '../base/errors.js';
import type { Route } from './router.js';
import { frame, FrameDecoder } from './stdcopy.js';
import { systemRoutes, type SystemFacts } from './routes/system.js';
import { startTestServer, httpCall, RawConn, type TestServer } from './testkit.js';

const facts: SystemFacts = {
  version: '0.1.0-test', gitCommit: 'abc1234', buildTime: '2026-11-28T00:00:00.000000000+00:00', runtimeVersion: `node ${process.version}`,
  goArch: 'amd64', machine: 'x86_64', kernelVersion: '6.1.0', operatingSystem: 'Test OS', osVersion: '1', cgroupVersion: '1', ncpu: 2,
  memTotal: 1 << 30, name: 'testhost', id: 'AAAA:BBBB', rootDir: '/var/lib/berth', components: [], insecureRegistryCIDRs: ['127.0.0.0/8'], labels: [], initBinary: 'catatonit',
};

/** Echoes stdin back as stdout frames; the request body (if any) first as a stderr frame; "bye" after the client's FIN. */
const echo: Route['handler'] = async (req, res) => {
  const body = await req.json({ optional: true });
  const sock = await res.hijack();
  sock.write(frame(2, JSON.stringify(body ?? null) + '\n'));
  sock.on('data', (b: Buffer) => sock.write(frame(1, b)));
  sock.on('end', () => {
    setTimeout(() => {
      sock.write(frame(1, 'bye\n'));
      sock.end();
    }, 30);
  });
};

const routes: Route[] = [
  ...systemRoutes({ facts, source: { counts: () => ({ containers: 3, running: 1, paused: 0, stopped: 2, images: 5 }) } }),
  { method: 'POST', path: '/containers/{id}/attach', handler: echo },
  { method: 'POST', path: '/exec/{id}/start', handler: echo },
  { method: 'GET', path: '/images/{name:.+}/json', handler: (req, res) => res.json(200, { name: req.param('name'), v: req.apiVersion, html: '<&>' }) },
  { method: 'POST', path: '/containers/create', handler: async (req, res) => res.json(201, { body: await req.json(), name: req.query.str('name') ?? null }) },
  { method: 'GET', path: '/err/{kind}', handler: (req) => {
      const m = `boom ${req.param('kind')}`;
      switch (req.param('kind')) {
        case 'invalid': throw new InvalidArgumentError(m);
        case 'notfound': throw new NotFoundError('No such container: nosuch');
        case 'conflict': throw new ConflictError(m);
        case 'notmodified': throw new NotModifiedError(m);
        case 'unavailable': throw new UnavailableError(m);
        case 'notimpl': throw new NotImplementedError(m);
        case 'bool': req.query.bool('x'); throw new Error('unreachable');
        default: throw new Error(m);
      }
    } },
  { method: 'POST', path: '/containers/{id}/start', handler: (_req, res) => res.noContent() },
  { method: 'POST', path: '/images/{name:.+}/tag', handler: (_req, res) => res.empty(201) },
  { method: 'POST', path: '/images/create', handler: async (_req, res) => {
      const s = res.jsonStream({ terminator: '\r\n' });
      s.write({ status: 'Pulling from t1', id: 'v1' });
      await new Promise((r) => setTimeout(r, 20));
      throw new Error('manifest unknown');
    } },
  { method: 'POST', path: '/containers/{id}/wait', handler: async (_req, res) => {
      const s = res.jsonStream({ terminator: '\n' });
      await new Promise((r) => setTimeout(r, 50));
      s.write({ Error: null, StatusCode: 0 });
      s.end();
    } },
  { method: 'GET', path: '/silent', handler: () => {} },
  { method: 'GET', path: '/follow', handler: async (req, res) => {
      const s = res.jsonStream({ terminator: '\n' });
      s.write({ started: true });
      await new Promise((r) => req.signal.addEventListener('abort', r));
      aborted.push(req.path);
    } },
  { method: 'GET', path: '/quick', handler: (req, res) => {
      void req.signal; // subscribing must not leak listeners on the keep-alive socket
      res.json(200, { aborted: req.signal.aborted });
    } },
];

const aborted: string[] = [];
let srv: TestServer;
before(async () => {
  srv = await startTestServer(routes);
});
after(async () => {
  await srv.close();
});

/** Header names in order, without node's connection management headers. */
function names(raw: string): string[] {
  return raw.split('\r\n').slice(1).filter((l) => l !== '').map((l) => l.slice(0, l.indexOf(':'))).filter((n) => n !== 'Connection' && n !== 'Keep-Alive');
}

test('HEAD /_ping bytes as dockerd', async () => {
  const c = await RawConn.open(srv.socketPath);
  c.write('HEAD /_ping HTTP/1.1\r\nHost: api.moby.localhost\r\nUser-Agent: Docker-Client/28.2.2 (linux)\r\n\r\n');
  const head = await c.head();
  assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
  assert.doesNotMatch(head, /Connection:/);
  assert.deepEqual(names(head), ['Api-Version', 'Cache-Control', 'Content-Length', 'Content-Type', 'Docker-Experimental', 'Ostype', 'Pragma', 'Server', 'Date']);
  assert.match(head, /\r\nApi-Version: 1\.41\r\nCache-Control: no-cache, no-store, must-revalidate\r\nContent-Length: 0\r\nContent-Type: text\/plain; charset=utf-8\r\nDocker-Experimental: false\r\nOstype: linux\r\nPragma: no-cache\r\nServer: Berth\/0\.1\.0-test \(linux\)\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n/);
  // Same connection, GET: body OK.
  c.write('GET /_ping HTTP/1.1\r\nHost: localhost\r\n\r\n');
  const h2 = await c.head();
  assert.match(h2, /Content-Length: 2\r\nContent-Type: text\/plain; charset=utf-8\r\n/);
  await c.until((b) => b.length >= 2);
  assert.equal(c.take().toString(), 'OK');
  c.close();
});

test('versioned and unversioned paths, negotiation errors, 404', async () => {
  for (const [p, v] of [['/images/busybox:local/json', '1.41'], ['/v1.41/images/localhost:5000/t1:v1/json', '1.41'], ['/v1.24/images/x/json', '1.24'], ['/v1.12/images/x/json', '1.12']] as const) {
    const r = await httpCall(srv.socketPath, 'GET', p);
    assert.equal(r.status, 200);
    const body = JSON.parse(r.text()) as { v: string; name: string };
    assert.equal(body.v, v);
  }
  const inspect = await httpCall(srv.socketPath, 'GET', '/v1.41/images/localhost:5000/t1:v1/json');
  assert.equal(inspect.text(), '{"name":"localhost:5000/t1:v1","v":"1.41","html":"\\u003c\\u0026\\u003e"}\n');
  assert.equal(inspect.headers['content-type'], 'application/json');
  assert.equal(inspect.headers['api-version'], '1.41');
  assert.equal(inspect.headers['ostype'], 'linux');
  assert.equal(inspect.headers['docker-experimental'], 'false');
  assert.equal(inspect.headers['server'], 'Berth/0.1.0-test (linux)');

  const tooNew = await httpCall(srv.socketPath, 'GET', '/v1.50/version');
  assert.equal(tooNew.status, 400);
  assert.equal(tooNew.headers['content-type'], 'application/json');
  assert.equal(tooNew.text(), '{"message":"client version 1.50 is too new. Maximum supported API version is 1.41"}\n');
  const tooOld = await httpCall(srv.socketPath, 'GET', '/v1.11/version');
  assert.equal(tooOld.status, 400);
  assert.equal(tooOld.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(tooOld.text(), 'client version 1.11 is too old. Minimum supported API version is 1.12, please upgrade your client to a newer version');

  for (const [m, p] of [['GET', '/v1.41/nonexistent'], ['GET', '/nonexistent'], ['PUT', '/version'], ['GET', '/v1.41']] as const) {
    const nf = await httpCall(srv.socketPath, m, p);
    assert.equal(nf.status, 404, `${m} ${p}`);
    assert.equal(nf.text(), '{"message":"page not found"}\n');
  }
});

test('error mapping: taxonomy → status + {"message"}', async () => {
  const cases: Array<[string, number, string]> = [
    ['invalid', 400, 'boom invalid'],
    ['notfound', 404, 'No such container: nosuch'],
    ['conflict', 409, 'boom conflict'],
    ['unavailable', 503, 'boom unavailable'],
    ['notimpl', 501, 'boom notimpl'],
    ['plain', 500, 'boom plain'],
  ];
  for (const [kind, status, message] of cases) {
    const r = await httpCall(srv.socketPath, 'GET', `/err/${kind}`);
    assert.equal(r.status, status, kind);
    assert.equal(r.text(), JSON.stringify({ message }) + '\n');
    assert.equal(r.headers['content-type'], 'application/json');
  }
  const nm = await httpCall(srv.socketPath, 'GET', '/err/notmodified');
  assert.equal(nm.status, 304);
  assert.equal(nm.body.length, 0);
  const b = await httpCall(srv.socketPath, 'GET', '/err/bool?x=maybe');
  assert.equal(b.status, 400);
  assert.equal(b.text(), '{"message":"strconv.ParseBool: parsing \\"maybe\\": invalid syntax"}\n');
  const silent = await httpCall(srv.socketPath, 'GET', '/silent');
  assert.equal(silent.status, 500);
});

test('JSON bodies: decoded, Go errors for bad ones', async () => {
  const ok = await httpCall(srv.socketPath, 'POST', '/v1.41/containers/create?name=web', { body: '{"Image":"busybox"}\n', headers: { 'Content-Type': 'application/json' } });
  assert.equal(ok.status, 201);
  assert.deepEqual(JSON.parse(ok.text()), { body: { Image: 'busybox' }, name: 'web' });
  const bad = await httpCall(srv.socketPath, 'POST', '/v1.41/containers/create', { body: '{bad', headers: { 'Content-Type': 'application/json' } });
  assert.equal(bad.status, 500);
  assert.equal(bad.text(), `{"message":"invalid character 'b' looking for beginning of object key string"}\n`);
  const empty = await httpCall(srv.socketPath, 'POST', '/containers/create', { headers: { 'Content-Length': '0' } });
  assert.equal(empty.status, 500);
  assert.equal(empty.text(), '{"message":"EOF"}\n');
  const trunc = await httpCall(srv.socketPath, 'POST', '/containers/create', { body: '{"a":' });
  assert.equal(trunc.text(), '{"message":"unexpected EOF"}\n');
});

test('204 and 201-empty replies', async () => {
  const c = await RawConn.open(srv.socketPath);
  c.write('POST /v1.41/containers/x/start HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
  const h = await c.head();
  assert.match(h, /^HTTP\/1\.1 204 No Content\r\n/);
  assert.deepEqual(names(h), ['Api-Version', 'Docker-Experimental', 'Ostype', 'Server', 'Date']);
  c.write('POST /v1.41/images/t1/tag?repo=docker.io%2Flibrary%2Ft1&tag=v2 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
  const h2 = await c.head();
  assert.match(h2, /^HTTP\/1\.1 201 Created\r\n/);
  assert.deepEqual(names(h2), ['Api-Version', 'Docker-Experimental', 'Ostype', 'Server', 'Date', 'Content-Length']);
  assert.match(h2, /Content-Length: 0\r\n/);
  c.close();
});

test('JSON streams: headers at once, one object per chunk, terminators, in-stream error', async () => {
  const c = await RawConn.open(srv.socketPath);
  c.write('POST /v1.41/containers/x/wait?condition=next-exit HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
  const t0 = Date.now();
  const h = await c.head();
  assert.ok(Date.now() - t0 < 45, 'headers flushed before the body exists');
  assert.match(h, /Content-Type: application\/json\r\n/);
  assert.match(h, /Transfer-Encoding: chunked\r\n/);
  const body = await c.until((b) => b.includes('0\r\n\r\n'));
  assert.equal(body.toString(), '1e\r\n{"Error":null,"StatusCode":0}\n\r\n0\r\n\r\n');
  c.take();

  c.write('POST /images/create?fromImage=t1&tag=v1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
  await c.head();
  const pull = (await c.until((b) => b.includes('0\r\n\r\n'))).toString();
  assert.match(pull, /^28\r\n\{"status":"Pulling from t1","id":"v1"\}\r\n\r\n/);
  assert.ok(pull.includes('{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}\r\n'));
  c.close();
});

test('hijack with Upgrade: tcp → 101, body read, early stdin kept, half-close, server keeps writing', async () => {
  const c = await RawConn.open(srv.socketPath);
  const body = '{"Detach":false,"Tty":false}\n';
  // Head, body and early stdin in one packet, as can happen with `echo x | docker exec -i`.
  c.write(`POST /v1.41/exec/abc/start HTTP/1.1\r\nHost: api.moby.localhost\r\nUser-Agent: Docker-Client/28.2.2 (linux)\r\nContent-Length: ${body.length}\r\nConnection: Upgrade\r\nContent-Type: application/json\r\nUpgrade: tcp\r\n\r\n${body}early\n`);
  const head = await c.head();
  assert.equal(head, 'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
  const dec = new FrameDecoder();
  const frames: Array<[number, string]> = [];
  await c.until((b) => {
    frames.push(...dec.push(Buffer.from(b)).map((f) => [f.stream, f.payload.toString()] as [number, string]));
    c.take();
    return frames.length >= 2;
  });
  assert.deepEqual(frames, [[2, '{"Detach":false,"Tty":false}\n'], [1, 'early\n']]);
  c.write('more\n');
  c.socket.end(); // half-close: the server must still write "bye"
  const rest = await c.untilEnd();
  const tail = dec.push(Buffer.from(rest)).map((f) => [f.stream, f.payload.toString()]);
  assert.deepEqual(tail, [[1, 'more\n'], [1, 'bye\n']]);
});

test('hijack without Upgrade → 200 raw stream on a reused keep-alive socket; half-close', async () => {
  const c = await RawConn.open(srv.socketPath);
  // The socket first serves ordinary requests (dockerode's c145 had served 7).
  for (let i = 0; i < 3; i++) {
    c.write('GET /_ping HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n');
    await c.head();
    await c.until((b) => b.length >= 2);
    assert.equal(c.take(2).toString(), 'OK');
  }
  const body = '{"stream":true,"stdout":true,"stderr":true}';
  c.write(`POST /containers/abc/attach?stream=true&stdout=true&stderr=true HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n${body}`);
  const head = await c.head();
  assert.equal(head, 'HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\nApi-Version: 1.41\r\nDocker-Experimental: false\r\nOstype: linux\r\nServer: Berth/0.1.0-test (linux)\r\n\r\n');
  const dec = new FrameDecoder();
  const got: Array<[number, string]> = [];
  const collect = (b: Buffer): void => {
    got.push(...dec.push(Buffer.from(b)).map((f) => [f.stream, f.payload.toString()] as [number, string]));
    c.take();
  };
  await c.until((b) => (collect(b), got.length >= 1));
  assert.deepEqual(got[0], [2, body + '\n']);
  // Bytes that look like HTTP must not be parsed as a request any more.
  c.write('GET /_ping HTTP/1.1\r\n\r\n');
  await c.until((b) => (collect(b), got.length >= 2));
  assert.deepEqual(got[1], [1, 'GET /_ping HTTP/1.1\r\n\r\n']);
  c.socket.end();
  collect(await c.untilEnd());
  assert.deepEqual(got[2], [1, 'bye\n']);
  assert.equal(got.length, 3);
});

test('dockerode (real client): ping, version, attach without and with Upgrade', async () => {
  const docker = new Docker({ socketPath: srv.socketPath });
  assert.equal(String(await docker.ping()), 'OK');
  const v = await docker.version();
  assert.equal(v.ApiVersion, '1.41');
  // Default attach: no Upgrade header → 200 raw stream, read until the server closes.
  const plain = (await docker.getContainer('abc').attach({ stream: true, stdout: true, stderr: true })) as NodeJS.ReadableStream;
  const dec = new FrameDecoder();
  const got: string[] = [];
  plain.on('data', (b: Buffer) => got.push(...dec.push(Buffer.from(b)).map((f) => `${f.stream}:${f.payload.toString()}`)));
  // dockerode never half-closes here; end the request side ourselves the way a FIN would.
  const sock = (plain as unknown as { socket?: { end(): void } }).socket;
  sock?.end();
  await new Promise((r) => plain.on('end', r));
  assert.deepEqual(got, ['2:{"stream":true,"stdout":true,"stderr":true}\n', '1:bye\n']);
  // hijack: true → Upgrade: tcp → 101; stdin flows back as frames.
  const duplex = (await docker.getContainer('abc').attach({ stream: true, stdin: true, stdout: true, hijack: true })) as NodeJS.ReadWriteStream;
  const dec2 = new FrameDecoder();
  const got2: string[] = [];
  duplex.on('data', (b: Buffer) => got2.push(...dec2.push(Buffer.from(b)).map((f) => `${f.stream}:${f.payload.toString()}`)));
  duplex.write('ping\n');
  duplex.end();
  await new Promise((r) => duplex.on('end', r));
  assert.deepEqual(got2.slice(1), ['1:ping\n', '1:bye\n']);
});

test('request signal: aborts when the client leaves a stream, not after normal completion', async () => {
  const c = await RawConn.open(srv.socketPath);
  for (let i = 0; i < 15; i++) {
    c.write('GET /quick HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.head();
    await c.until((b) => b.includes('\n'));
    assert.equal(c.take().toString(), '{"aborted":false}\n');
  }
  assert.ok(c.socket.listenerCount('close') < 5);
  c.write('GET /follow HTTP/1.1\r\nHost: x\r\n\r\n');
  await c.until((b) => b.includes('started'));
  c.close();
  const t0 = Date.now();
  while (aborted.length === 0 && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(aborted, ['/follow']);
});

test('graceful close cuts hijacked sockets after the grace period', async () => {
  const s2 = await startTestServer(routes);
  const c = await RawConn.open(s2.socketPath);
  c.write('POST /containers/a/attach HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
  await c.head();
  const t0 = Date.now();
  await s2.close();
  assert.ok(Date.now() - t0 >= 150, 'waited for the grace period');
  await c.untilEnd();
});
