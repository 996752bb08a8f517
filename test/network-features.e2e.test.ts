/**
 * IPv6 (dual-stack) networks and legacy links end to end: a real berthd
 * (netavark, aardvark-dns, runc) driven by the docker CLI, and the same
 * commands against Debian's dockerd when it runs, to compare what a container
 * sees. berthd gets its own bridge and subnets; everything made here (on
 * either daemon) is removed in `after`, also when a test failed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import { run } from '../src/base/exec.js';
import { startDaemon, docker, dockerdAvailable, type TestDaemon } from './helpers/daemon.js';
import { busyboxLayer, writeDockerArchive } from './helpers/images.js';

const DOCKERD = 'unix:///var/run/docker.sock';
const sfx = randomBytes(3).toString('hex');
const tag = `bbfeat-${sfx}:v1`;
const bridge = `bf${sfx}`;
let d: TestDaemon;
let tmp: string;
let archive: string;
let v4 = '';
/** What this file made on dockerd (containers, networks), removed in `after`. */
const onDockerd = { containers: new Set<string>(), networks: new Set<string>(), image: false };

async function ok(host: string, args: readonly string[]): Promise<string> {
  const r = await docker(host, args);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}${host === DOCKERD ? '' : `\n--- daemon log ---\n${d.log().slice(-3000)}`}`);
  return r.stdout.trim();
}

/**
 * A ULA /64 (fdXX:0XXX:XXXX::/64) no interface of the host uses; the second
 * group is written with a leading zero, which dockerd keeps as given.
 */
async function freeV6(): Promise<string> {
  const addrs = (await run('ip', ['-6', 'addr', 'show'])).stdout;
  for (;;) {
    const p = `fd${randomBytes(1).toString('hex')}:0${randomBytes(2).toString('hex').slice(1)}:${randomBytes(2).toString('hex')}`;
    if (!addrs.includes(p.replace(/:0+([0-9a-f])/g, ":$1"))) return `${p}::/64`;
  }
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'berth-netfeat-'));
  const routes = (await run('ip', ['-4', 'route', 'show'])).stdout;
  // An aligned block of eight /24s: the default bridge, then a /22 pool for user networks.
  for (;;) {
    const a = randomInt(130, 250);
    const b = randomInt(0, 31) * 8;
    if ([0, 1, 2, 3, 4, 5, 6, 7].every((i) => !routes.includes(`10.${a}.${b + i}.`))) {
      v4 = `10.${a}.${b}`;
      break;
    }
  }
  archive = join(tmp, 'bb.tar');
  await writeDockerArchive(archive, [{ tags: [tag], layers: [await busyboxLayer()] }]);
  const [x, y, z] = v4.split('.');
  d = await startDaemon(['--bip', `${v4}.1/24`, '--bridge', bridge, '--default-address-pool', `base=${x}.${y}.${Number(z) + 4}.0/22,size=24`]);
  await ok(d.host, ['load', '-i', archive]);
});

after(async () => {
  if (d !== undefined) {
    const ids = (await docker(d.host, ['ps', '-aq'])).stdout.split('\n').filter((s) => s !== '');
    if (ids.length > 0) await docker(d.host, ['rm', '-f', ...ids]);
    await docker(d.host, ['network', 'prune', '-f']);
    await d.stop();
  }
  if (onDockerd.containers.size > 0) await docker(DOCKERD, ['rm', '-f', ...onDockerd.containers]);
  for (const n of onDockerd.networks) await docker(DOCKERD, ['network', 'rm', n]);
  if (onDockerd.image) await docker(DOCKERD, ['rmi', tag]);
  await rm(tmp, { recursive: true, force: true });
});

test('IPv6: a dual-stack network gives both addresses, inspect shows them, containers reach each other by name over v6', async () => {
  const h = d.host;
  const missing = await docker(h, ['network', 'create', '--ipv6', 'nov6pool']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network/);

  const subnet = await freeV6();
  // addresses come back in canonical form (no leading zeros in a group)
  const prefix = subnet.replace(/::\/64$/, '').replace(/:0+([0-9a-f])/g, ':$1');
  await ok(h, ['network', 'create', '--ipv6', '--subnet', subnet, 'v6net']);
  const net = JSON.parse(await ok(h, ['network', 'inspect', 'v6net'])) as [{ EnableIPv6: boolean; IPAM: { Config: { Subnet: string; Gateway?: string }[] } }];
  assert.equal(net[0].EnableIPv6, true);
  const cfg = net[0].IPAM.Config;
  assert.equal(cfg.length, 2);
  assert.match(cfg[0]!.Subnet, /^10\.\d+\.\d+\.0\/24$/, 'an IPv4 pool is allocated too, first');
  assert.deepEqual(cfg[1], { Subnet: subnet }, 'the IPv6 pool as given, no gateway shown (as dockerd)');

  await ok(h, ['run', '-d', '--name', 'v6srv', '--network', 'v6net', tag, 'sleep', '300']);
  const ep = JSON.parse(await ok(h, ['inspect', '-f', '{{json .NetworkSettings.Networks.v6net}}', 'v6srv'])) as Record<string, unknown>;
  assert.equal(ep['GlobalIPv6Address'], `${prefix}::2`);
  assert.equal(ep['GlobalIPv6PrefixLen'], 64);
  assert.equal(ep['IPv6Gateway'], `${prefix}::1`);
  assert.match(String(ep['IPAddress']), /^10\./);
  const members = JSON.parse(await ok(h, ['network', 'inspect', '-f', '{{json .Containers}}', 'v6net'])) as Record<string, { Name: string; IPv6Address: string }>;
  assert.deepEqual(Object.values(members).map((m) => [m.Name, m.IPv6Address]), [['v6srv', `${prefix}::2/64`]]);

  // A static --ip6, the container's own /etc/hosts lines, the name over IPv6 (AAAA from aardvark-dns).
  const out = await ok(h, ['run', '--rm', '--network', 'v6net', '--ip6', `${prefix}::99`, tag, 'sh', '-c',
    'ip -6 addr show dev eth0 scope global; cat /etc/hosts; nslookup -type=AAAA v6srv; ping -6 -c1 -W3 v6srv']);
  assert.match(out, new RegExp(`inet6 ${prefix}::99/64`));
  assert.match(out, new RegExp(`^${prefix}::99\\t`, 'm'), 'the IPv6 address has its /etc/hosts line');
  assert.match(out, new RegExp(`Address:\\s+${prefix}::2`));
  assert.match(out, /1 packets received/);

  // A second IPv6-enabled network may not overlap; an address outside the subnet is refused.
  const overlap = await docker(h, ['network', 'create', '--ipv6', '--subnet', subnet, 'v6dup']);
  assert.match(overlap.stderr, /Pool overlaps with other one on this address space/);
  const outside = await docker(h, ['run', '--rm', '--network', 'v6net', '--ip6', 'fd00:ffff::5', tag, 'true']);
  assert.notEqual(outside.code, 0);

  await ok(h, ['rm', '-f', 'v6srv']);
  await ok(h, ['network', 'rm', 'v6net']);
  const rules = (await run('ip6tables-save', [], { allowFailure: true })).stdout;
  assert.ok(!rules.includes(prefix), 'no ip6tables rule mentions the removed network');
  assert.ok(!(await run('ip', ['-6', 'addr', 'show'])).stdout.includes(prefix), 'no host address is left in the subnet');
});

/** Env names a link sets, the /etc/hosts lines of links, and inspect's Links, on one daemon. */
async function linkScenario(host: string, names: { srv: string; cli: string }): Promise<{ env: string[]; hosts: string[]; links: string; srvIp: string; srvId: string }> {
  await ok(host, ['run', '-d', '--name', names.srv, '--expose', '80', '--expose', '53/udp', '-e', 'FOO=bar', tag, 'sleep', '300']);
  await ok(host, ['run', '-d', '--name', names.cli, '--link', `${names.srv}:al`, '--link', names.srv, tag, 'sleep', '300']);
  const prefixes = ['AL_', `${names.srv.toUpperCase()}_`];
  const env = (await ok(host, ['exec', names.cli, 'env'])).split('\n').filter((l) => prefixes.some((p) => l.startsWith(p))).sort();
  const hosts = (await ok(host, ['exec', names.cli, 'cat', '/etc/hosts'])).split('\n');
  const links = await ok(host, ['inspect', '-f', '{{json .HostConfig.Links}}', names.cli]);
  const srvIp = await ok(host, ['inspect', '-f', '{{.NetworkSettings.IPAddress}}', names.srv]);
  const srvId = await ok(host, ['inspect', '-f', '{{.Id}}', names.srv]);
  // The alias answers from inside the linking container.
  const ping = await ok(host, ['exec', names.cli, 'ping', '-c1', '-W3', 'al']);
  assert.match(ping, /1 packets received/);
  return { env, hosts, links, srvIp, srvId };
}

test('--link on the default bridge: /etc/hosts lines, ALIAS_* variables and HostConfig.Links as dockerd', async () => {
  const b = await linkScenario(d.host, { srv: 'lsrv', cli: 'lcli' });
  const id12 = b.srvId.slice(0, 12);
  assert.ok(b.hosts.includes(`${b.srvIp}\tal ${id12} lsrv`), b.hosts.join('\n'));
  assert.ok(b.hosts.includes(`${b.srvIp}\tlsrv ${id12}`), b.hosts.join('\n'));
  assert.equal(b.links, '["/lsrv:/lcli/al","/lsrv:/lcli/lsrv"]');
  for (const v of [`AL_PORT=udp://${b.srvIp}:53`, `AL_PORT_80_TCP=tcp://${b.srvIp}:80`, `AL_PORT_80_TCP_ADDR=${b.srvIp}`, 'AL_PORT_80_TCP_PORT=80', 'AL_PORT_80_TCP_PROTO=tcp',
    `AL_PORT_53_UDP=udp://${b.srvIp}:53`, 'AL_NAME=/lcli/al', 'AL_ENV_FOO=bar', 'LSRV_NAME=/lcli/lsrv', 'LSRV_ENV_FOO=bar']) {
    assert.ok(b.env.includes(v), `${v} in\n${b.env.join('\n')}`);
  }
  assert.ok(!b.env.some((v) => v.startsWith('AL_ENV_PATH=') || v.startsWith('AL_ENV_HOME=')));
  // inspect keeps the container's own Env: the link variables are the runtime's.
  assert.doesNotMatch(await ok(d.host, ['inspect', '-f', '{{json .Config.Env}}', 'lcli']), /AL_/);

  // Errors in dockerd's words.
  const none = await docker(d.host, ['create', '--link', 'nosuch:x', tag, 'true']);
  assert.match(none.stderr, /could not get container for nosuch: No such container: nosuch/);
  await ok(d.host, ['create', '--name', 'lstopped', tag, 'true']);
  const stopped = await docker(d.host, ['run', '--rm', '--name', 'lrunner', '--link', 'lstopped:s', tag, 'true']);
  assert.match(stopped.stderr, /Cannot link to a non running container: \/lstopped AS \/lrunner\/s/);
  const hostNet = await docker(d.host, ['create', '--network', 'host', '--link', 'lsrv', tag, 'true']);
  assert.match(hostNet.stderr, /conflicting options: host type networking can't be used with links/);

  if (!(await dockerdAvailable())) return;
  // The same on dockerd: the same variable names, the same hosts line shapes.
  await ok(DOCKERD, ['load', '-i', archive]);
  onDockerd.image = true;
  const names = { srv: `lsrv${sfx}`, cli: `lcli${sfx}` };
  onDockerd.containers.add(names.srv).add(names.cli);
  const r = await linkScenario(DOCKERD, names);
  const shape = (x: { env: string[]; srvIp: string }, srv: string, cli: string): string[] =>
    x.env.map((v) => v.split(x.srvIp).join('IP').split(cli).join('CLI').split(srv.toUpperCase()).join('SRV').split(srv).join('srv')).sort();
  assert.deepEqual(shape(b, 'lsrv', 'lcli'), shape(r, names.srv, names.cli));
  const rid = r.srvId.slice(0, 12);
  assert.ok(r.hosts.includes(`${r.srvIp}\tal ${rid} ${names.srv}`), r.hosts.join('\n'));
  // dockerd lists a container's links from a map: their order varies from one inspect to the next
  assert.deepEqual((JSON.parse(r.links) as string[]).sort(), [`/${names.srv}:/${names.cli}/al`, `/${names.srv}:/${names.cli}/${names.srv}`].sort());
});

test('--link on a user-defined network resolves the alias for the linking container', async () => {
  await ok(d.host, ['network', 'create', 'lnet']);
  await ok(d.host, ['run', '-d', '--name', 'usrv', '--network', 'lnet', tag, 'sleep', '300']);
  const out = await ok(d.host, ['run', '--rm', '--network', 'lnet', '--link', 'usrv:ualias', tag, 'ping', '-c1', '-W3', 'ualias']);
  assert.match(out, /1 packets received/);
  await ok(d.host, ['rm', '-f', 'usrv']);
  // With no container left, the network's DNS keeper (an endpoint of berth's own) still holds aardvark-dns up;
  // network rm frees it with the bridge.
  const br = `br-${(await ok(d.host, ['network', 'inspect', '-f', '{{.Id}}', 'lnet'])).slice(0, 12)}`;
  await ok(d.host, ['run', '--rm', '--network', 'lnet', tag, 'true']);
  const keepers = async (): Promise<string[]> => (await readFile('/proc/mounts', 'utf8')).split('\n').filter((l) => l.startsWith('nsfs ') && l.includes(d.dir) && l.includes('/dnskeep-'));
  for (let i = 0; i < 50 && (await keepers()).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal((await keepers()).length, 1, 'the network has its DNS keeper while no container is on it');
  await ok(d.host, ['network', 'rm', 'lnet']);
  assert.deepEqual(await keepers(), [], 'the DNS keeper namespace is gone');
  assert.doesNotMatch((await run('ip', ['-o', 'link', 'show'])).stdout, new RegExp(`\\b${br}\\b`), 'the network bridge is gone');
});
