import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus } from '../../events/bus.js';
import { collectSystemFacts, systemRoutes } from './system.js';
import { eventFilter, eventRoutes, parseEventTime } from './events.js';
import { startTestServer, httpCall, RawConn } from '../testkit.js';

test('event times: unix seconds, fractional, RFC 3339', () => {
  assert.equal(parseEventTime('1795844934'), 1795844934e9);
  assert.equal(parseEventTime('1795844934.941548268'), 1795844934e9 + 941548268);
  assert.equal(parseEventTime('1795844934.5'), 1795844934e9 + 500000000);
  assert.equal(parseEventTime('2026-11-28T05:48:54.941548268Z'), Date.parse('2026-11-28T05:48:54Z') * 1e6 + 941548268);
  assert.equal(parseEventTime('2026-11-28T06:48:54+01:00'), Date.parse('2026-11-28T05:48:54Z') * 1e6);
  assert.throws(() => parseEventTime('yesterday'), /failed to parse/);
});

test('event filters follow moby semantics', () => {
  const bus = new EventBus();
  const c = bus.publish('container', 'create', 'abc123def', { image: 'busybox:local', name: 'evt', 'com.docker.compose.project': 'cproj' });
  const n = bus.publish('network', 'connect', 'net999', { container: 'abc123def', name: 'bridge', type: 'bridge' });
  const i = bus.publish('image', 'tag', 'sha256:1111', { name: 'busybox:latest' });
  const m = (f: Record<string, string[]>) => [c, n, i].filter(eventFilter(new Map(Object.entries(f)))).map((e) => e.Type);
  assert.deepEqual(m({}), ['container', 'network', 'image']);
  assert.deepEqual(m({ type: ['container'] }), ['container']);
  assert.deepEqual(m({ type: ['container', 'network'] }), ['container', 'network']);
  assert.deepEqual(m({ event: ['connect'] }), ['network']);
  assert.deepEqual(m({ action: ['create'] }), ['container']);
  assert.deepEqual(m({ container: ['abc'] }), ['container']);
  assert.deepEqual(m({ container: ['evt'] }), ['container']);
  assert.deepEqual(m({ image: ['busybox'] }), ['container', 'image']);
  assert.deepEqual(m({ label: ['com.docker.compose.project=cproj'] }), ['container']);
  assert.deepEqual(m({ label: ['com.docker.compose.project'] }), ['container']);
  assert.deepEqual(m({ label: ['com.docker.compose.project=other'] }), []);
  assert.deepEqual(m({ network: ['net9'] }), ['network']);
  assert.deepEqual(m({ scope: ['local'] }), ['container', 'network', 'image']);
  assert.deepEqual(m({ scope: ['swarm'] }), []);
});

test('GET /events: until in the past replays history and ends; live stream with filters', async () => {
  const bus = new EventBus();
  const srv = await startTestServer(eventRoutes(bus));
  try {
    const t0 = (Date.now() - 1000) / 1000;
    bus.publish('container', 'create', 'c1', { image: 'busybox:local', name: 'evt' });
    bus.publish('volume', 'create', 'vol1', { driver: 'local' });
    const until = (Date.now() + 1) / 1000;
    await new Promise((r) => setTimeout(r, 5));
    const r = await httpCall(srv.socketPath, 'GET', `/v1.41/events?since=${t0.toFixed(9)}&until=${until.toFixed(9)}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    const lines = r.text().split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 2);
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(first).slice(0, 4), ['status', 'id', 'from', 'Type']);
    const filtered = await httpCall(srv.socketPath, 'GET', `/events?since=${t0}&until=${until}&filters=${encodeURIComponent('{"type":{"volume":true}}')}`);
    assert.deepEqual(filtered.text().split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { Type: string }).Type), ['volume']);

    // Live: headers at once, one event per chunk with "\n", filtered (docker-py list shape).
    const c = await RawConn.open(srv.socketPath);
    c.write(`GET /events?filters=${encodeURIComponent('{"label": ["app=demo"]}')} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const head = await c.head();
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(head, /Content-Type: application\/json\r\n/);
    bus.publish('container', 'start', 'c2', { image: 'busybox:local', name: 'other' });
    bus.publish('container', 'start', 'c3', { image: 'busybox:local', name: 'demo', app: 'demo' });
    const body = (await c.until((b) => b.includes('}\n\r\n'))).toString();
    const m = /^([0-9a-f]+)\r\n(.*\n)\r\n$/s.exec(body);
    assert.ok(m !== null, body);
    assert.equal(parseInt(m[1]!, 16), Buffer.byteLength(m[2]!));
    assert.equal((JSON.parse(m[2]!) as { id: string }).id, 'c3');
    c.close();
  } finally {
    await srv.close();
  }
});

test('docker events --since/--until (real CLI) prints replayed events', { skip: !(await import('node:fs')).existsSync('/usr/local/bin/docker') }, async () => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const bus = new EventBus();
  const facts = await collectSystemFacts({ version: '0.1.0', id: 'X', rootDir: '/r', probe: [] });
  const counts = { containers: 0, running: 0, paused: 0, stopped: 0, images: 0 };
  const srv = await startTestServer([...systemRoutes({ facts, source: { counts: () => counts } }), ...eventRoutes(bus)]);
  try {
    const since = Math.floor(Date.now() / 1000) - 5;
    bus.publish('container', 'create', 'c1', { image: 'busybox:local', name: 'evt' });
    const until = Math.floor(Date.now() / 1000) + 1;
    await new Promise((r) => setTimeout(r, 1100));
    const { stdout } = await promisify(execFile)('/usr/local/bin/docker', ['events', '--since', String(since), '--until', String(until)], {
      env: { ...process.env, DOCKER_HOST: `unix://${srv.socketPath}`, DOCKER_CONFIG: srv.dir },
      timeout: 15_000,
    });
    assert.match(stdout, /container create c1 \(image=busybox:local, name=evt\)/);
  } finally {
    await srv.close();
  }
});
