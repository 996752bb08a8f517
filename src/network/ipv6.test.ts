import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cidr6String, contains6, ip6String, overlaps6, parseCidr6, parseIp6 } from './ipv6.js';

test('parseIp6 and ip6String round-trip in the RFC 5952 form', () => {
  for (const [input, canonical] of [
    ['fd00:dead:beef::2', 'fd00:dead:beef::2'],
    ['FD00:0:0:0:0:0:0:1', 'fd00::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8:0000:0001:0000:0000:0000:0001', '2001:db8:0:1::1'],
    ['::ffff:10.1.2.3', '::ffff:a01:203'], // mapped IPv4 in hex (RFC 5952 would keep the dotted quad)
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1:0:3:4:5:6:7:8', '1:0:3:4:5:6:7:8'],
  ]) {
    const n = parseIp6(input!);
    assert.notEqual(n, undefined, input);
    assert.equal(ip6String(n!), canonical, input);
  }
  assert.equal(parseIp6('10.0.0.1'), undefined);
  assert.equal(parseIp6('fd00::g'), undefined);
});

test('parseCidr6: network, containment, overlap, bad input', () => {
  const a = parseCidr6('fd00:dead:beef::5/64');
  assert.equal(cidr6String(a.net), 'fd00:dead:beef::/64');
  assert.ok(contains6(a.net, parseIp6('fd00:dead:beef::ffff')!));
  assert.ok(!contains6(a.net, parseIp6('fd00:dead:bef0::1')!));
  assert.ok(overlaps6(a.net, parseCidr6('fd00::/16').net));
  assert.ok(!overlaps6(a.net, parseCidr6('fd00:dead:beee::/64').net));
  assert.throws(() => parseCidr6('fd00::/129'), /invalid CIDR address/);
  assert.throws(() => parseCidr6('nope/64'), /invalid CIDR address/);
});
