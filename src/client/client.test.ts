import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { EngineClient, encodeQuery, negotiateVersion } from './engine.js';
import { ApiError, DaemonUnreachableError } from './errors.js';
import { DEFAULT_HOST, parseHost, resolveHostString } from './host.js';
import { readJsonLines } from './jsonstream.js';
import { StdcopyDemuxer, demuxStream, encodeFrame } from './stdcopy.js';

test('host resolution order: flag, BERTH_HOST, DOCKER_HOST, default', () => {
  assert.equal(resolveHostString('unix:///a', { BERTH_HOST: 'unix:///b', DOCKER_HOST: 'unix:///c' }), 'unix:///a');
  assert.equal(resolveHostString(undefined, { BERTH_HOST: 'unix:///b', DOCKER_HOST: 'unix:///c' }), 'unix:///b');
  assert.equal(resolveHostString(undefined, { DOCKER_HOST: 'unix:///c' }), 'unix:///c');
  assert.equal(resolveHostString(undefined, {}), DEFAULT_HOST);
  assert.deepEqual(parseHost('unix:///run/berth/berth.sock'), { kind: 'unix', socketPath: '/run/berth/berth.sock', url: 'unix:///run/berth/berth.sock' });
  assert.deepEqual(parseHost('tcp://127.0.0.1:2375'), { kind: 'tcp', host: '127.0.0.1', port: 2375, url: 'tcp://127.0.0.1:2375' });
  assert.equal(parseHost('http://example:80').kind, 'tcp');
  assert.throws(() => parseHost('ftp://x'), /unable to parse docker host/);
});

test('version negotiation caps at 1.41, falls back to 1.24', () => {
  assert.equal(negotiateVersion('1.41'), '1.41');
  assert.equal(negotiateVersion('1.50'), '1.41');
  assert.equal(negotiateVersion('1.24'), '1.24');
  assert.equal(negotiateVersion(undefined), '1.24');
});

test('query encoding: booleans as 1/0, arrays repeated, undefined dropped', () => {
  assert.equal(encodeQuery({ all: true, q: false, names: ['a:b', 'c/d'], x: undefined }), '?all=1&q=0&names=a%3Ab&names=c%2Fd');
  assert.equal(encodeQuery({}), '');
});

test('JSON line reader tolerates \\r\\n and split chunks', async () => {
  const src = Readable.from([Buffer.from('{"status":"a"}\r\n{"sta'), Buffer.from('tus":"b"}\n\n{"id":"c"}')]);
  const got: unknown[] = [];
  for await (const v of readJsonLines(src)) got.push(v);
  assert.deepEqual(got, [{ status: 'a' }, { status: 'b' }, { id: 'c' }]);
});

test('stdcopy demuxer handles frames split and joined across chunks', async () => {
  const all = Buffer.concat([encodeFrame(2, 'two\n'), encodeFrame(1, 'one\n'), encodeFrame(1, '')]);
  const frames: Array<[number, string]> = [];
  const d = new StdcopyDemuxer((s, p) => frames.push([s, p.toString()]));
  for (let i = 0; i < all.length; i += 3) d.push(all.subarray(i, i + 3));
  assert.deepEqual(frames, [[2, 'two\n'], [1, 'one\n'], [1, '']]);
  assert.equal(d.pendingBytes, 0);
  let out = '';
  let err = '';
  await demuxStream(Readable.from([all]), (b) => { out += b.toString(); }, (b) => { err += b.toString(); });
  assert.equal(out, 'one\n');
  assert.equal(err, 'two\n');
});

function withServer(handler: http.RequestListener, fn: (client: EngineClient, seen: string[]) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-client-'));
  const sock = join(dir, 's.sock');
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method ?? ''} ${req.url ?? ''}`);
    handler(req, res);
  });
  server.on('upgrade', (req, socket) => {
    seen.push(`UPGRADE ${req.method ?? ''} ${req.url ?? ''} ${req.headers['upgrade'] ?? ''}`);
    socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello');
    socket.end();
  });
  return new Promise((resolve, reject) => {
    server.listen(sock, () => {
      const client = new EngineClient({ host: parseHost(`unix://${sock}`) });
      fn(client, seen).then(
        () => { client.close(); server.close(); rmSync(dir, { recursive: true, force: true }); resolve(); },
        (e: unknown) => { client.close(); server.close(); rmSync(dir, { recursive: true, force: true }); reject(e); },
      );
    });
  });
}

test('pings once, prefixes paths, parses JSON and errors', async () => {
  await withServer((req, res) => {
    if (req.url === '/_ping') { res.writeHead(200, { 'Api-Version': '1.43' }); res.end(); return; }
    if (req.url === '/v1.41/images/json') { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end('[{"Id":"x"}]\n'); return; }
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end('{"message":"No such image: nosuch:latest"}\n');
  }, async (client, seen) => {
    assert.deepEqual(await client.get('/images/json'), [{ Id: 'x' }]);
    await assert.rejects(client.get('/images/nosuch/json'), (e: unknown) => e instanceof ApiError && e.status === 404 && e.message === 'No such image: nosuch:latest');
    assert.deepEqual(seen, ['HEAD /_ping', 'GET /v1.41/images/json', 'GET /v1.41/images/nosuch/json']);
  });
});

test('hijack requires 101 and returns the raw socket', async () => {
  await withServer((req, res) => {
    res.writeHead(200, { 'Api-Version': '1.41' });
    res.end();
  }, async (client, seen) => {
    const { socket, head } = await client.hijack('POST', '/containers/x/attach', { query: { stream: true } });
    let data = head.toString();
    for await (const c of socket) data += (c as Buffer).toString();
    assert.equal(data, 'hello');
    assert.ok(seen.includes('UPGRADE POST /v1.41/containers/x/attach?stream=1 tcp'));
  });
});

test('a missing socket is reported in docker words', async () => {
  const client = new EngineClient({ host: parseHost('unix:///nonexistent/berth.sock') });
  await assert.rejects(client.get('/info'), (e: unknown) => e instanceof DaemonUnreachableError && e.message === 'Cannot connect to the Docker daemon at unix:///nonexistent/berth.sock. Is the docker daemon running?');
  client.close();
});
