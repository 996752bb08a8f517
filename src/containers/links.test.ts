import assert from 'node:assert/strict';
import { test } from 'node:test';
import { linkEnv, linkHostEntry, linkPath, parseLink, splitLinkPath } from './links.js';

test('parseLink: name, name:alias, bad formats in dockerd words', () => {
  assert.deepEqual(parseLink('web'), { name: 'web', alias: 'web' });
  assert.deepEqual(parseLink('/web:db'), { name: 'web', alias: 'db' });
  assert.throws(() => parseLink('a:b:c'), /bad format for links: a:b:c/);
  assert.throws(() => parseLink(':x'), /bad format for links/);
});

test('linkPath and splitLinkPath round-trip', () => {
  const p = linkPath('lkr', 'cli', 'r');
  assert.equal(p, '/lkr:/cli/r');
  assert.deepEqual(splitLinkPath(p), { target: 'lkr', alias: 'r' });
});

// Variables and values as dockerd 20.10 set them for
// `--expose 8000-8002 --expose 8001/udp --expose 9000` linked as my-db.
test('linkEnv: ports, a run of consecutive ports, name, env (as dockerd)', () => {
  const env = linkEnv({
    alias: 'my-db',
    linker: 'trusting_sinoussi',
    ip: '172.17.0.5',
    exposed: ['8000/tcp', '8001/tcp', '8002/tcp', '8001/udp', '9000/tcp'],
    env: ['PATH=/bin', 'HOME=/', 'FOO=bar', 'SP=a b', 'NOVALUE'],
  });
  const want = [
    'MY_DB_NAME=/trusting_sinoussi/my-db',
    'MY_DB_PORT=tcp://172.17.0.5:8000',
    'MY_DB_PORT_8000_TCP=tcp://172.17.0.5:8000',
    'MY_DB_PORT_8000_TCP_ADDR=172.17.0.5',
    'MY_DB_PORT_8000_TCP_END=tcp://172.17.0.5:8002',
    'MY_DB_PORT_8000_TCP_PORT=8000',
    'MY_DB_PORT_8000_TCP_PORT_END=8002',
    'MY_DB_PORT_8000_TCP_PORT_START=8000',
    'MY_DB_PORT_8000_TCP_PROTO=tcp',
    'MY_DB_PORT_8000_TCP_START=tcp://172.17.0.5:8000',
    'MY_DB_PORT_8001_TCP=tcp://172.17.0.5:8001',
    'MY_DB_PORT_8001_TCP_ADDR=172.17.0.5',
    'MY_DB_PORT_8001_TCP_PORT=8001',
    'MY_DB_PORT_8001_TCP_PROTO=tcp',
    'MY_DB_PORT_8001_UDP=udp://172.17.0.5:8001',
    'MY_DB_PORT_8001_UDP_ADDR=172.17.0.5',
    'MY_DB_PORT_8001_UDP_PORT=8001',
    'MY_DB_PORT_8001_UDP_PROTO=udp',
    'MY_DB_PORT_8002_TCP=tcp://172.17.0.5:8002',
    'MY_DB_PORT_8002_TCP_ADDR=172.17.0.5',
    'MY_DB_PORT_8002_TCP_PORT=8002',
    'MY_DB_PORT_8002_TCP_PROTO=tcp',
    'MY_DB_PORT_9000_TCP=tcp://172.17.0.5:9000',
    'MY_DB_PORT_9000_TCP_ADDR=172.17.0.5',
    'MY_DB_PORT_9000_TCP_PORT=9000',
    'MY_DB_PORT_9000_TCP_PROTO=tcp',
    'MY_DB_ENV_FOO=bar',
    'MY_DB_ENV_SP=a b',
  ];
  assert.deepEqual([...env].sort(), [...want].sort());
  assert.equal(env[0], 'MY_DB_PORT=tcp://172.17.0.5:8000');
});

test('linkEnv: the lowest port is ALIAS_PORT (udp 53 before tcp 80); no ports, no port variables', () => {
  const env = linkEnv({ alias: 'al', linker: 'c', ip: '10.0.0.2', exposed: ['80/tcp', '53/udp'], env: [] });
  assert.equal(env[0], 'AL_PORT=udp://10.0.0.2:53');
  assert.deepEqual(linkEnv({ alias: 'x', linker: 'c', ip: '10.0.0.2', exposed: [], env: [] }), ['X_NAME=/c/x']);
});

test('linkHostEntry: alias, short ID and name (name once when it is the alias)', () => {
  const id = 'ae6ac26deb87' + '0'.repeat(52);
  assert.equal(linkHostEntry({ alias: 'al', target: 'lkweb', targetId: id, ip: '172.17.0.3' }), 'al ae6ac26deb87 lkweb:172.17.0.3');
  assert.equal(linkHostEntry({ alias: 'lkweb', target: 'lkweb', targetId: id, ip: '172.17.0.3' }), 'lkweb ae6ac26deb87:172.17.0.3');
});
