import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cidrString, contains, macFor, overlaps, parseCidr, parseIp } from './ipv4.js';
import { portRequests } from './ports.js';
import { parseBind } from '../volumes/service.js';

test('CIDR parsing, containment and overlap', () => {
  const b = parseCidr('10.88.0.1/16');
  assert.equal(cidrString(b.net), '10.88.0.0/16');
  assert.equal(b.ip, parseIp('10.88.0.1'));
  assert.ok(contains(b.net, parseIp('10.88.255.254')!));
  assert.ok(!contains(b.net, parseIp('10.89.0.1')!));
  assert.ok(overlaps(parseCidr('10.89.0.0/16').net, parseCidr('10.89.3.0/24').net));
  assert.ok(!overlaps(parseCidr('10.89.2.0/24').net, parseCidr('10.89.3.0/24').net));
  assert.throws(() => parseCidr('10.300.0.0/16'), /invalid CIDR/);
  assert.equal(macFor(parseIp('172.18.0.2')!), '02:42:ac:12:00:02');
});

test('port bindings: fixed, random, ranges, udp, publish-all', () => {
  const r = portRequests({
    ExposedPorts: { '80/tcp': {}, '443/tcp': {} },
    PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }], '53/udp': [{ HostIp: '', HostPort: '' }], '90/tcp': [{ HostIp: '', HostPort: '9000-9010' }] },
    PublishAllPorts: true,
  });
  assert.deepEqual(r, [
    { hostIp: '127.0.0.1', hostPorts: [8080, 8080], containerPort: 80, proto: 'tcp' },
    { hostIp: '', hostPorts: [0, 0], containerPort: 53, proto: 'udp' },
    { hostIp: '', hostPorts: [9000, 9010], containerPort: 90, proto: 'tcp' },
    { hostIp: '', hostPorts: [0, 0], containerPort: 443, proto: 'tcp' },
  ]);
  assert.throws(() => portRequests({ PortBindings: { '80/tcp': [{ HostIp: '', HostPort: 'x' }] }, PublishAllPorts: false }), /invalid hostPort/);
});

test('binds: named volumes, host paths, modes as dockerd reports them', () => {
  assert.deepEqual(parseBind('vol1:/data'), { Type: 'volume', Name: 'vol1', Source: '', Destination: '/data', Mode: 'z', RW: true, Propagation: '' });
  assert.deepEqual(parseBind('/tmp:/h:ro'), { Type: 'bind', Source: '/tmp', Destination: '/h', Mode: 'ro', RW: false, Propagation: 'rprivate' });
  assert.equal(parseBind('vv:/d:rw,nocopy').noCopy, true);
  assert.throws(() => parseBind('vv:rel'), /must be absolute/);
  assert.throws(() => parseBind('bad$name:/d'), /invalid characters/);
});
