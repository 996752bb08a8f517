/**
 * Networks and volumes end to end: a real berthd (netavark, aardvark-dns,
 * runc) driven by the docker CLI 28 and docker-compose 1.29. The daemon gets
 * its own bridge name and subnets so parallel runs and a developer's berthd
 * do not collide; everything it made is removed in `after`, also on failure.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import { run } from '../src/base/exec.js';
import { startDaemon, docker, type TestDaemon, freePort } from './helpers/daemon.js';
import { busyboxLayer, layerTar, writeDockerArchive } from './helpers/images.js';

let d: TestDaemon;
let tmp: string;
const tag = `bbnet-${randomBytes(3).toString('hex')}:v1`;
const bridge = `bt${randomBytes(3).toString('hex')}`;
// Random /24s in 10.0.0.0/8 that no route uses: the default bridge and the pool for user networks.
let bipNet = '';
let poolBase = '';
/** Every container address seen: none may remain in iptables at the end. */
const seenIps = new Set<string>();
/** The default bridge network's keeper link (bk + 12 hex of its ID). */
let bridgeKeeper = '';

function routeInUse(routes: string, prefix: string): boolean {
  return routes.includes(` ${prefix}.`) || routes.split('\n').some((l) => l.startsWith(`${prefix}.`));
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }));
    }).on('error', reject);
  });
}

async function ok(args: readonly string[]): Promise<string> {
  const r = await docker(d.host, args);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}\n--- daemon log ---\n${d.log().slice(-3000)}`);
  return r.stdout.trim();
}

async function remember(name: string): Promise<void> {
  const ips = await ok(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', name]);
  for (const ip of ips.split(/\s+/)) if (ip !== '') seenIps.add(ip);
}

/** Nothing of berth's networking or mounts is left on the host. */
async function assertNoLeftovers(what: string): Promise<void> {
  // The default bridge's keeper (bk…, no address, no namespace) belongs to the network, which outlives containers.
  const links = (await run('ip', ['-o', 'link', 'show'])).stdout.split('\n').filter((l) => !/^\d+: bk[0-9a-f]{12}@/.test(l)).join('\n');
  assert.doesNotMatch(links, new RegExp(`master ${bridge}\\b`), `${what}: a veth is still attached to ${bridge}`);
  const mounts = await readFile('/proc/mounts', 'utf8');
  const ours = mounts.split('\n').filter((l) => l.includes(d.dir) && (l.startsWith('nsfs ') || l.includes('/volumes/')));
  assert.deepEqual(ours, [], `${what}: namespaces or volume mounts left`);
  const netns = (await run('ip', ['netns', 'list'], { allowFailure: true })).stdout;
  for (const ip of seenIps) assert.ok(!netns.includes(ip));
  const rules = (await run('iptables-save', [], { allowFailure: true })).stdout + (await run('iptables-save', ['-t', 'nat'], { allowFailure: true })).stdout;
  for (const ip of seenIps) assert.ok(!new RegExp(`${ip.replace(/\./g, '\\.')}[/: ]`).test(rules), `${what}: an iptables rule still mentions ${ip}`);
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'berth-netvol-'));
  const routes = (await run('ip', ['-4', 'route', 'show'])).stdout;
  // An aligned block of eight /24s: the default bridge, then a /22 pool for user networks.
  for (;;) {
    const a = randomInt(130, 250);
    const b = randomInt(0, 31) * 8;
    bipNet = `10.${a}.${b}`;
    poolBase = `10.${a}.${b + 4}`;
    if ([0, 1, 2, 3, 4, 5, 6, 7].every((i) => !routeInUse(routes, `10.${a}.${b + i}`))) break;
  }
  const archive = join(tmp, 'bb.tar');
  const www = layerTar([{ name: 'www/', type: 'dir' }, { name: 'www/index.html', data: Buffer.from('from-image\n') }]);
  await writeDockerArchive(archive, [{ tags: [tag], layers: [await busyboxLayer(), www] }]);
  d = await startDaemon(['--bip', `${bipNet}.1/24`, '--bridge', bridge, '--default-address-pool', `base=${poolBase}.0/22,size=24`]);
  const load = await docker(d.host, ['load', '-i', archive]);
  assert.equal(load.code, 0, load.stderr);
  bridgeKeeper = `bk${(await ok(['network', 'inspect', '-f', '{{.Id}}', 'bridge'])).slice(0, 12)}`;
});

after(async () => {
  if (d !== undefined) {
    // Containers first (their netns, veths and rules), then networks and volumes, then the daemon.
    const ids = (await docker(d.host, ['ps', '-aq'])).stdout.split('\n').filter((x) => x !== '');
    if (ids.length > 0) await docker(d.host, ['rm', '-fv', ...ids]);
    await docker(d.host, ['network', 'prune', '-f']);
    await docker(d.host, ['volume', 'prune', '-f']);
    await d.stop();
    // A stopped berthd holds nothing on the host: its default bridge and that bridge's keeper went with it.
    const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
    assert.doesNotMatch(links, new RegExp(`^\\d+: ${bridge}:`, 'm'), `the default bridge ${bridge} outlived berthd`);
    if (bridgeKeeper !== '') assert.doesNotMatch(links, new RegExp(`^\\d+: ${bridgeKeeper}@`, 'm'), 'the default bridge keeper outlived berthd');
  }
  await rm(tmp, { recursive: true, force: true });
});

test('user-defined network: containers reach each other by name and by alias', async () => {
  await ok(['network', 'create', '--label', 'e2e=1', 'n1']);
  const insp = JSON.parse(await ok(['network', 'inspect', 'n1'])) as [{ Driver: string; IPAM: { Config: { Subnet: string; Gateway: string }[] }; Labels: Record<string, string> }];
  assert.equal(insp[0].Driver, 'bridge');
  assert.equal(insp[0].IPAM.Config[0]!.Subnet, `${poolBase}.0/24`);
  assert.equal(insp[0].Labels['e2e'], '1');
  await ok(['run', '-d', '--name', 'srv', '--network', 'n1', '--network-alias', 'web', tag, 'httpd', '-f', '-p', '80', '-h', '/www']);
  await remember('srv');
  const byName = await ok(['run', '--rm', '--network', 'n1', tag, 'wget', '-qO-', 'http://srv/index.html']);
  assert.equal(byName, 'from-image');
  const byAlias = await ok(['run', '--rm', '--network', 'n1', tag, 'wget', '-qO-', 'http://web/index.html']);
  assert.equal(byAlias, 'from-image');
  const aliases = await ok(['inspect', '-f', '{{json .NetworkSettings.Networks.n1.Aliases}}', 'srv']);
  assert.match(aliases, /"web"/);
  const members = await ok(['network', 'inspect', '-f', '{{range .Containers}}{{.Name}} {{end}}', 'n1']);
  assert.equal(members, 'srv');
  // The default bridge has no names (as Docker).
  const noDns = await docker(d.host, ['run', '--rm', tag, 'wget', '-qO-', '-T', '2', 'http://srv/index.html']);
  assert.notEqual(noDns.code, 0);
});

test('a published port answers from the host; docker port and inspect show it', async () => {
  const port = await freePort();
  await ok(['run', '-d', '--name', 'pub', '-p', `127.0.0.1:${port}:80`, tag, 'httpd', '-f', '-p', '80', '-h', '/www']);
  await remember('pub');
  let res: { status: number; body: string } | undefined;
  for (let i = 0; i < 20 && res === undefined; i++) {
    res = await httpGet(`http://127.0.0.1:${port}/index.html`).catch(async () => {
      await new Promise((r) => setTimeout(r, 100));
      return undefined;
    });
  }
  assert.equal(res?.body, 'from-image\n');
  assert.equal(await ok(['port', 'pub']), `80/tcp -> 127.0.0.1:${port}`);
  assert.equal(await ok(['inspect', '-f', '{{json .NetworkSettings.Ports}}', 'pub']), `{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"${port}"}]}`);
  assert.equal(await ok(['ps', '-f', 'name=pub', '--format', '{{.Ports}}']), `127.0.0.1:${port}->80/tcp`);
  // The default bridge fills the legacy top-level fields.
  const ip = await ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Gateway}}', 'pub']);
  assert.equal(ip.split(' ')[1], `${bipNet}.1`);
  assert.ok(ip.startsWith(`${bipNet}.`));
  // A random host port (HostPort "") is allocated and reported.
  await ok(['run', '-d', '--name', 'rnd', '-p', '127.0.0.1::80', tag, 'httpd', '-f', '-p', '80', '-h', '/www']);
  await remember('rnd');
  const rp = /127\.0\.0\.1:(\d+)/.exec(await ok(['port', 'rnd', '80']))?.[1];
  assert.ok(rp !== undefined && Number(rp) > 0);
  const r2 = await httpGet(`http://127.0.0.1:${rp}/index.html`);
  assert.equal(r2.body, 'from-image\n');
});

test('--network none has only lo; host shares the host network', async () => {
  const links = await ok(['run', '--rm', '--network', 'none', tag, 'sh', '-c', "ls /sys/class/net"]);
  assert.deepEqual(links.split(/\s+/), ['lo']);
  const hostname = await ok(['run', '--rm', '--network', 'host', tag, 'hostname']);
  assert.equal(hostname, (await run('hostname', [])).stdout.trim());
});

test('network connect gives a running container a new interface that works; disconnect removes it', async () => {
  const n2Subnet = `${bipNet.replace(/\.\d+$/, '')}.${Number(bipNet.split('.')[2]) + 7}`;
  await ok(['network', 'create', '--subnet', `${n2Subnet}.0/24`, '--gateway', `${n2Subnet}.254`, '--ip-range', `${n2Subnet}.128/25`, 'n2']);
  await ok(['run', '-d', '--name', 'srv2', '--network', 'n2', tag, 'httpd', '-f', '-p', '80', '-h', '/www']);
  await ok(['run', '-d', '--name', 'cli', tag, 'sleep', '600']);
  assert.deepEqual((await ok(['exec', 'cli', 'ls', '/sys/class/net'])).split(/\s+/), ['eth0', 'lo']);
  await ok(['network', 'connect', '--alias', 'late', 'n2', 'cli']);
  await remember('srv2');
  await remember('cli');
  const cliHost = await ok(['inspect', '-f', '{{.Config.Hostname}}', 'cli']);
  assert.deepEqual((await ok(['exec', 'cli', 'ls', '/sys/class/net'])).split(/\s+/), ['eth0', 'eth1', 'lo']);
  const srvIp = await ok(['inspect', '-f', '{{.NetworkSettings.Networks.n2.IPAddress}}', 'srv2']);
  assert.equal(await ok(['exec', 'cli', 'wget', '-qO-', `http://${srvIp}/index.html`]), 'from-image');
  // The new member is known by its alias on n2.
  const cliIp = await ok(['inspect', '-f', '{{.NetworkSettings.Networks.n2.IPAddress}}', 'cli']);
  assert.ok(cliIp.startsWith(`${n2Subnet}.`) && Number(cliIp.split('.')[3]) >= 128, `address ${cliIp} from the ip-range`);
  assert.match(await ok(['run', '--rm', '--network', 'n2', tag, 'busybox', 'nslookup', 'late']), new RegExp(`Address: ${cliIp.replace(/\./g, '\\.')}`));
  // As in Docker, /etc/hosts follows connect and disconnect.
  const hostsLine = new RegExp(`^${cliIp.replace(/\./g, '\\.')}\\s+${cliHost}$`, 'm');
  assert.match(await ok(['exec', 'cli', 'cat', '/etc/hosts']), hostsLine);
  await ok(['network', 'disconnect', 'n2', 'cli']);
  assert.deepEqual((await ok(['exec', 'cli', 'ls', '/sys/class/net'])).split(/\s+/), ['eth0', 'lo']);
  assert.doesNotMatch(await ok(['exec', 'cli', 'cat', '/etc/hosts']), hostsLine);
  // A network with a member that runs cannot go.
  const busy = await docker(d.host, ['network', 'rm', 'n2']);
  assert.notEqual(busy.code, 0);
  assert.match(busy.stderr, /has active endpoints/);
});

test('volumes: named volume keeps data, :ro refuses writes, binds and tmpfs, in-use refusal', async () => {
  await ok(['volume', 'create', 'vol1']);
  // A new empty volume receives the image's content at its destination (copy-up).
  assert.equal(await ok(['run', '--rm', '-v', 'vol1:/www', tag, 'cat', '/www/index.html']), 'from-image');
  await ok(['run', '--rm', '-v', 'vol1:/data', tag, 'sh', '-c', 'echo persisted > /data/f']);
  assert.equal(await ok(['run', '--rm', '-v', 'vol1:/data', tag, 'cat', '/data/f']), 'persisted');
  const ro = await docker(d.host, ['run', '--rm', '-v', 'vol1:/data:ro', tag, 'sh', '-c', 'echo x > /data/g']);
  assert.notEqual(ro.code, 0);
  assert.match(ro.stderr, /Read-only file system/);
  const hostFile = join(tmp, 'host.txt');
  await writeFile(hostFile, 'from-host\n');
  assert.equal(await ok(['run', '--rm', '-v', `${hostFile}:/h.txt:ro`, tag, 'cat', '/h.txt']), 'from-host');
  assert.equal(await ok(['run', '--rm', '--mount', `type=bind,source=${hostFile},target=/m.txt`, tag, 'cat', '/m.txt']), 'from-host');
  assert.match(await ok(['run', '--rm', '--tmpfs', '/scratch', tag, 'sh', '-c', 'grep " /scratch " /proc/mounts']), /^tmpfs \/scratch tmpfs /);
  assert.match(await ok(['run', '--rm', '--mount', 'type=tmpfs,target=/t2', tag, 'sh', '-c', 'grep " /t2 " /proc/mounts']), /^tmpfs \/t2 tmpfs /);
  const holder = await ok(['create', '--name', 'holder', '-v', 'vol1:/data', tag, 'true']);
  const rmv = await docker(d.host, ['volume', 'rm', 'vol1']);
  assert.notEqual(rmv.code, 0);
  assert.match(rmv.stderr, new RegExp(`remove vol1: volume is in use - \\[${holder}\\]`));
  const mounts = JSON.parse(await ok(['inspect', '-f', '{{json .Mounts}}', 'holder'])) as { Type: string; Name: string; Destination: string; Driver: string; Mode: string; RW: boolean }[];
  assert.deepEqual(mounts.map((m) => [m.Type, m.Name, m.Destination, m.Driver, m.Mode, m.RW]), [['volume', 'vol1', '/data', 'local', 'z', true]]);
  await ok(['rm', 'holder']);
  // Anonymous volumes: made for -v /path, removed by rm -v.
  const before = (await ok(['volume', 'ls', '-q'])).split('\n').length;
  await ok(['create', '--name', 'anon', '-v', '/www', tag, 'true']);
  assert.equal((await ok(['volume', 'ls', '-q'])).split('\n').length, before + 1);
  await ok(['rm', '-v', 'anon']);
  assert.equal((await ok(['volume', 'ls', '-q'])).split('\n').length, before);
  await ok(['volume', 'rm', 'vol1']);
});

test('docker-compose 1.29: up with a network, a volume and two services; down -v removes it all', async () => {
  const dir = join(tmp, 'cproj');
  const port = await freePort();
  await run('mkdir', ['-p', dir]);
  await writeFile(
    join(dir, 'docker-compose.yml'),
    [
      'version: "3"',
      'services:',
      '  web:',
      `    image: ${tag}`,
      '    command: ["httpd", "-f", "-p", "80", "-h", "/www"]',
      `    ports: ["127.0.0.1:${port}:80"]`,
      '    volumes: ["data:/www"]',
      '  client:',
      `    image: ${tag}`,
      '    depends_on: [web]',
      '    command: ["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://web/index.html && break; sleep 0.3; done; sleep 600"]',
      'volumes:',
      '  data: {}',
      '',
    ].join('\n'),
  );
  const compose = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    run('/usr/bin/docker-compose', ['-p', 'cproj', ...args], { cwd: dir, allowFailure: true, env: { ...process.env, DOCKER_HOST: d.host } });
  try {
    const up = await compose(['up', '-d']);
    assert.equal(up.code, 0, up.stderr);
    await remember('cproj_web_1');
    await remember('cproj_client_1');
    let logs = '';
    for (let i = 0; i < 30 && !logs.includes('from-image'); i++) {
      await new Promise((r) => setTimeout(r, 200));
      logs = (await compose(['logs', '--no-color', 'client'])).stdout;
    }
    assert.match(logs, /from-image/);
    assert.equal((await httpGet(`http://127.0.0.1:${port}/index.html`)).body, 'from-image\n');
    const ps = await compose(['ps']);
    assert.match(ps.stdout, new RegExp(`127\\.0\\.0\\.1:${port}->80/tcp`));
  } finally {
    const down = await compose(['down', '-v', '-t', '1']);
    assert.equal(down.code, 0, down.stderr);
  }
  assert.doesNotMatch(await ok(['network', 'ls', '--format', '{{.Name}}']), /cproj_default/);
  assert.doesNotMatch(await ok(['volume', 'ls', '--format', '{{.Name}}']), /cproj_data/);
  assert.equal(await ok(['ps', '-aq', '--filter', 'label=com.docker.compose.project=cproj']), '');
});

test('no leftovers after rm -f, network rm, and kill -9 + restart of berthd', async () => {
  await ok(['network', 'create', 'n3']);
  await ok(['run', '-d', '--name', 'k1', '--network', 'n3', '-p', `127.0.0.1:${await freePort()}:80`, '-v', 'kvol:/data', tag, 'httpd', '-f', '-p', '80', '-h', '/www']);
  await ok(['run', '-d', '--name', 'k2', tag, 'sleep', '1']);
  await ok(['run', '-d', '--name', 'k3', '--mount', 'type=volume,source=optvol,target=/o,volume-opt=type=tmpfs,volume-opt=device=tmpfs', tag, 'sleep', '600']);
  await remember('k1');
  await remember('k2');
  await remember('k3');
  assert.match(await ok(['exec', 'k3', 'sh', '-c', 'grep " /o " /proc/mounts']), /^tmpfs /);
  await d.kill9();
  await new Promise((r) => setTimeout(r, 1500)); // k2 exits while berthd is down
  await d.restart();
  assert.match(await ok(['ps', '-a', '--filter', 'name=k2', '--format', '{{.Status}}']), /^Exited \(0\)/);
  assert.match(await ok(['ps', '--filter', 'name=k1', '--format', '{{.Status}}']), /^Up/);
  await ok(['rm', '-f', '-v', 'k1', 'k2', 'k3', 'srv', 'pub', 'rnd', 'srv2', 'cli']);
  const netIds = await Promise.all(['n1', 'n2', 'n3'].map((n) => ok(['network', 'inspect', '-f', '{{.Id}}', n])));
  const subnets = await Promise.all(['n1', 'n2', 'n3'].map((n) => ok(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', n])));
  for (const n of ['n1', 'n2', 'n3']) await ok(['network', 'rm', n]);
  // Each network held its bridge (through a keeper) while it existed; rm frees bridge and keeper.
  const left = (await run('ip', ['-o', 'link', 'show'])).stdout;
  for (const id of netIds) assert.doesNotMatch(left, new RegExp(`^\\d+: (br-|bk)${id.slice(0, 12)}[:@]`, 'm'), `network ${id.slice(0, 12)}: bridge or keeper left`);
  const chains = (await run('iptables-save', [], { allowFailure: true })).stdout + (await run('iptables-save', ['-t', 'nat'], { allowFailure: true })).stdout;
  for (const sn of subnets) assert.ok(!chains.includes(`${sn} `), `an iptables rule for removed network ${sn} is left`);
  await ok(['volume', 'rm', 'kvol', 'optvol']);
  await assertNoLeftovers('after rm -f, network rm and kill -9');
  // A container caught mid-run by kill -9 and removed only after the restart leaves nothing either.
  await ok(['run', '-d', '--name', 'k4', '--network', 'bridge', tag, 'sleep', '600']);
  await remember('k4');
  await d.kill9();
  await d.restart();
  await ok(['rm', '-f', 'k4']);
  await assertNoLeftovers('after kill -9 with a running container');
});
