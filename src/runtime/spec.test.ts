/** Unit tests of the pure spec generation: representative inputs → expected config.json fields. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../base/errors.js';
import type { OciSpec } from './oci-spec.js';
import { toOciSeccomp } from './seccomp.js';
import { dockerDefaultSeccompProfile } from './seccomp-default.js';
import {
  DEFAULT_CAPS,
  DEFAULT_MASKED_PATHS,
  commandLine,
  capabilities,
  generateExecProcess,
  generateSpec,
  hostsFile,
  mergeMountOptions,
  parseProcLimits,
  type GenerateInput,
  type HostFacts,
} from './spec.js';
import { parseUser, type ResolvedUser } from './user.js';

const ID = 'c0ffee0000000000000000000000000000000000000000000000000000000001';
const host: HostFacts = { arch: 'x64', kernel: '6.1.0', hardLimits: { nofile: 20000, nproc: 96364 }, lastCap: 40, cpus: 2 };
const root: ResolvedUser = { uid: 0, gid: 0, additionalGids: [10], home: '/root', username: 'root' };

function gen(over: Partial<GenerateInput> = {}): OciSpec {
  return generateSpec({
    id: ID,
    rootfs: '/var/lib/berth/rootfs',
    image: { Cmd: ['sh'], Env: ['PATH=/usr/bin:/bin', 'IMG=1'] },
    spec: {},
    user: root,
    host,
    ...over,
  });
}

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\n';
const GROUP = 'root:x:0:\nwheel:x:10:root\napp:x:1000:\nstaff:x:50:app\nvideo:x:44:\n';

describe('commandLine (Docker ENTRYPOINT/CMD rules)', () => {
  const image = { Entrypoint: ['/entry'], Cmd: ['img-cmd'] };
  it('uses the image entrypoint and cmd by default', () => assert.deepEqual(commandLine({}, image), ['/entry', 'img-cmd']));
  it('create Cmd replaces the image Cmd', () => assert.deepEqual(commandLine({ Cmd: ['x', 'y'] }, image), ['/entry', 'x', 'y']));
  it('create Entrypoint drops the image Cmd', () => assert.deepEqual(commandLine({ Entrypoint: ['/e2'] }, image), ['/e2']));
  it('create Entrypoint with create Cmd', () => assert.deepEqual(commandLine({ Entrypoint: ['/e2'], Cmd: ['a'] }, image), ['/e2', 'a']));
  it('Entrypoint [""] clears both', () => assert.throws(() => commandLine({ Entrypoint: [''] }, image), /No command specified/));
  it('Entrypoint [] clears the entrypoint, keeps the image Cmd', () => assert.deepEqual(commandLine({ Entrypoint: [] }, image), ['img-cmd']));
  it('nothing at all is an error', () => assert.throws(() => commandLine({}, {}), (e: unknown) => e instanceof InvalidArgumentError && e.message === 'No command specified'));
});

describe('generateSpec', () => {
  it('produces Docker defaults for a plain container', () => {
    const s = gen();
    assert.equal(s.ociVersion, '1.0.2-dev');
    assert.deepEqual(s.process.args, ['sh']);
    assert.deepEqual(s.process.env, ['PATH=/usr/bin:/bin', `HOSTNAME=${ID.slice(0, 12)}`, 'IMG=1']);
    assert.equal(s.process.cwd, '/');
    assert.equal(s.process.terminal, false);
    assert.deepEqual(s.process.user, { uid: 0, gid: 0, additionalGids: [10] });
    assert.deepEqual(s.process.capabilities?.bounding, [...DEFAULT_CAPS]);
    assert.deepEqual(s.process.capabilities?.inheritable, []);
    assert.equal(s.process.rlimits, undefined, 'rlimits only when asked');
    assert.equal(s.process.oomScoreAdj, undefined);
    assert.equal(s.hostname, ID.slice(0, 12));
    assert.deepEqual(s.root, { path: '/var/lib/berth/rootfs', readonly: false });
    assert.deepEqual(
      s.mounts.map((m) => m.destination),
      ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm'],
    );
    assert.deepEqual(s.mounts.find((m) => m.destination === '/dev/shm')?.options, ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864']);
    assert.deepEqual(s.mounts.find((m) => m.destination === '/sys')?.options, ['nosuid', 'noexec', 'nodev', 'ro']);
    assert.deepEqual(
      s.linux.namespaces.map((n) => n.type),
      ['pid', 'ipc', 'uts', 'mount', 'network', 'cgroup'],
    );
    assert.equal(s.linux.cgroupsPath, `/berth/${ID}`);
    assert.deepEqual(s.linux.maskedPaths, [...DEFAULT_MASKED_PATHS]);
    assert.deepEqual(s.linux.readonlyPaths, ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
    assert.deepEqual(s.linux.resources?.devices?.[0], { allow: false, access: 'rwm' });
    assert.equal(s.linux.resources?.devices?.length, 8);
    assert.equal(s.linux.seccomp?.defaultAction, 'SCMP_ACT_ERRNO');
    assert.deepEqual(s.linux.seccomp?.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    assert.equal(s.process.noNewPrivileges, undefined);
  });

  it('sets PATH when the image has none, TERM with a tty, and lets create Env override', () => {
    const s = gen({ image: { Cmd: ['sh'], Env: ['A=1', 'B=2'] }, spec: { Tty: true, Env: ['B=3', 'C=4'], Hostname: 'web', WorkingDir: '/app' } });
    assert.deepEqual(s.process.env, [
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOSTNAME=web',
      'TERM=xterm',
      'A=1',
      'B=3',
      'C=4',
    ]);
    assert.equal(s.process.cwd, '/app');
    assert.equal(s.process.terminal, true);
    assert.equal(s.hostname, 'web');
  });

  it('translates resources', () => {
    const s = gen({
      spec: {
        HostConfig: {
          Memory: 32 * 1024 * 1024,
          MemoryReservation: 16 * 1024 * 1024,
          NanoCpus: 1_500_000_000,
          CpuShares: 512,
          CpusetCpus: '0',
          PidsLimit: 50,
          ShmSize: 1024 * 1024,
        },
      },
    });
    assert.deepEqual(s.linux.resources?.memory, { limit: 33554432, swap: 67108864, reservation: 16777216 });
    assert.deepEqual(s.linux.resources?.cpu, { period: 100000, quota: 150000, shares: 512, cpus: '0' });
    assert.deepEqual(s.linux.resources?.pids, { limit: 50 });
    assert.ok(s.mounts.find((m) => m.destination === '/dev/shm')?.options?.includes('size=1048576'));
    assert.throws(() => gen({ spec: { HostConfig: { NanoCpus: 1e9, CpuQuota: 5000 } } }), /Nano CPUs and CPU Quota cannot both be set/);
    assert.throws(() => gen({ spec: { HostConfig: { NanoCpus: 3e9 } } }), /Range of CPUs is from 0.01 to 2.00/);
    assert.throws(() => gen({ spec: { HostConfig: { Memory: 1024 } } }), /Minimum memory limit allowed is 6MB/);
    assert.deepEqual(gen({ spec: { HostConfig: { Memory: 1e8, MemorySwap: -1 } } }).linux.resources?.memory, { limit: 1e8, swap: -1 });
  });

  it('checks ulimits against the host hard limit', () => {
    const s = gen({ spec: { HostConfig: { Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }] } } });
    assert.deepEqual(s.process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 2048, soft: 1024 }]);
    assert.throws(() => gen({ spec: { HostConfig: { Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 40000 }] } } }), /hard limit 40000 exceeds the host's hard limit 20000/);
    assert.throws(() => gen({ spec: { HostConfig: { Ulimits: [{ Name: 'bogus', Soft: 1, Hard: 1 }] } } }), /invalid ulimit type: bogus/);
  });

  it('adds and drops capabilities, and filters seccomp rules by them', () => {
    assert.deepEqual(capabilities({ CapDrop: ['chown', 'CAP_KILL'] }).includes('CAP_CHOWN'), false);
    assert.ok(capabilities({ CapAdd: ['SYS_ADMIN'] }).includes('CAP_SYS_ADMIN'));
    assert.deepEqual(capabilities({ CapDrop: ['ALL'], CapAdd: ['NET_ADMIN'] }), ['CAP_NET_ADMIN']);
    assert.equal(capabilities({ CapAdd: ['ALL'], CapDrop: ['MKNOD'] }).length, 40);
    assert.throws(() => capabilities({ CapAdd: ['FOO'] }), /unknown capability: "CAP_FOO"/);

    const plain = gen();
    const names = (s: OciSpec): string[] => (s.linux.seccomp?.syscalls ?? []).filter((r) => r.action === 'SCMP_ACT_ALLOW').flatMap((r) => r.names);
    assert.ok(!names(plain).includes('mount'));
    assert.ok(names(plain).includes('arch_prctl'), 'amd64-only rule kept on x64');
    assert.ok(!names(plain).includes('s390_runtime_instr'));
    const admin = gen({ spec: { HostConfig: { CapAdd: ['SYS_ADMIN'] } } });
    assert.ok(names(admin).includes('mount'));
    // clone3 → ENOSYS only without CAP_SYS_ADMIN
    const clone3 = (s: OciSpec) => s.linux.seccomp?.syscalls?.find((r) => r.names.includes('clone3') && r.action === 'SCMP_ACT_ERRNO');
    assert.equal(clone3(plain)?.errnoRet, 38);
    assert.equal(clone3(admin), undefined);
    // minKernel: ptrace needs 4.8
    const old = toOciSeccomp(dockerDefaultSeccompProfile, { arch: 'x64', caps: [...DEFAULT_CAPS], kernel: '4.4.0' });
    assert.ok(!old.syscalls?.some((r) => r.names.includes('ptrace')));
    assert.equal(toOciSeccomp(dockerDefaultSeccompProfile, { arch: 'arm64', caps: [], kernel: '6.1' }).architectures?.[0], 'SCMP_ARCH_AARCH64');
  });

  it('handles privileged, security opts and seccomp=unconfined', () => {
    const p = gen({ spec: { HostConfig: { Privileged: true } } });
    assert.equal(p.process.capabilities?.bounding.length, 41);
    assert.equal(p.linux.maskedPaths, undefined);
    assert.equal(p.linux.readonlyPaths, undefined);
    assert.equal(p.linux.seccomp, undefined);
    assert.deepEqual(p.linux.resources?.devices, [{ allow: true, access: 'rwm' }]);
    assert.deepEqual(p.mounts.find((m) => m.destination === '/sys')?.options, ['nosuid', 'noexec', 'nodev', 'rw']);

    const s = gen({ spec: { HostConfig: { SecurityOpt: ['no-new-privileges', 'seccomp=unconfined', 'apparmor=unconfined'] } } });
    assert.equal(s.process.noNewPrivileges, true);
    assert.equal(s.linux.seccomp, undefined);
    const custom = gen({ spec: { HostConfig: { SecurityOpt: ['seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["chmod"],"action":"SCMP_ACT_ERRNO"}]}'] } } });
    assert.deepEqual(custom.linux.seccomp, { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['chmod'], action: 'SCMP_ACT_ERRNO' }] });
    assert.throws(() => gen({ spec: { HostConfig: { SecurityOpt: ['bogus'] } } }), /invalid --security-opt/);
  });

  it('orders mounts: defaults, managed files, user mounts by depth; user mounts replace defaults', () => {
    const s = gen({
      files: { hosts: '/st/hosts', hostname: '/st/hostname', resolvConf: '/st/resolv.conf' },
      spec: {
        HostConfig: {
          ReadonlyRootfs: true,
          Mounts: [
            { source: '/data/b', target: '/a/b', type: 'bind', options: ['ro'] },
            { source: '/data/a', target: '/a', type: 'bind', options: [] },
            { source: '/host/shm', target: '/dev/shm', type: 'bind', options: [] },
          ],
          Tmpfs: { '/run': 'size=1m,exec' },
        },
      },
    });
    assert.deepEqual(
      s.mounts.map((m) => m.destination),
      ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/a', '/run', '/etc/resolv.conf', '/etc/hostname', '/etc/hosts', '/a/b', '/dev/shm'],
    );
    assert.deepEqual(s.mounts.find((m) => m.destination === '/etc/hosts'), { destination: '/etc/hosts', type: 'bind', source: '/st/hosts', options: ['rbind', 'rprivate', 'ro'] });
    assert.deepEqual(s.mounts.find((m) => m.destination === '/a/b')?.options, ['rbind', 'ro', 'rprivate']);
    assert.deepEqual(s.mounts.find((m) => m.destination === '/run')?.options, ['nosuid', 'nodev', 'rprivate', 'size=1m', 'exec']);
    assert.equal(s.mounts.find((m) => m.destination === '/dev/shm')?.source, '/host/shm');
    assert.equal(s.root.readonly, true);
  });

  it('handles namespaces modes, init, devices, sysctls, domain name', () => {
    const s = gen({
      netnsPath: '/var/run/netns/x',
      initBinary: '/usr/bin/tini-static',
      devices: [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0, permissions: 'rwm' }],
      spec: { Domainname: 'example.com', HostConfig: { Init: true, IpcMode: 'host', PidMode: 'host', Sysctls: { 'net.ipv4.ip_forward': '1' }, OomScoreAdj: 100 } },
    });
    assert.deepEqual(s.process.args, ['/dev/init', '--', 'sh']);
    assert.deepEqual(s.linux.namespaces, [{ type: 'uts' }, { type: 'mount' }, { type: 'network', path: '/var/run/netns/x' }, { type: 'cgroup' }]);
    assert.deepEqual(s.mounts.find((m) => m.destination === '/dev/init'), { destination: '/dev/init', type: 'bind', source: '/usr/bin/tini-static', options: ['bind', 'ro'] });
    assert.deepEqual(s.mounts.find((m) => m.destination === '/dev/shm')?.source, '/dev/shm');
    assert.deepEqual(s.linux.devices, [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }]);
    assert.deepEqual(s.linux.resources?.devices?.at(-1), { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' });
    assert.deepEqual(s.linux.sysctl, { 'net.ipv4.ip_forward': '1' });
    assert.equal(s.domainname, 'example.com');
    assert.equal(s.process.oomScoreAdj, 100);
    assert.throws(() => gen({ host: { ...host, minOomScoreAdj: 0 }, spec: { HostConfig: { OomScoreAdj: -100 } } }), /OomScoreAdj -100 is below 0/);
    assert.throws(() => gen({ spec: { HostConfig: { OomScoreAdj: 1001 } } }), /range for oom score adj is \[-1000, 1000\]/);

    const h = gen({ spec: { HostConfig: { NetworkMode: 'host', UTSMode: 'host' } } });
    assert.deepEqual(h.linux.namespaces.map((n) => n.type), ['pid', 'ipc', 'mount', 'cgroup']);
    assert.equal(h.hostname, undefined);
    assert.deepEqual(gen({ spec: { HostConfig: { NetworkMode: 'container:42' } } }).linux.namespaces.find((n) => n.type === 'network'), { type: 'network', path: '/proc/42/ns/net' });
  });

  it('derives exec processes from the container spec', () => {
    const s = gen({ spec: { Env: ['X=1'] } });
    const p = generateExecProcess(s, { Cmd: ['id'], Env: ['Y=2'], Tty: true, user: { uid: 1000, gid: 1000, additionalGids: [], home: '/' } });
    assert.deepEqual(p.args, ['id']);
    assert.deepEqual(p.user, { uid: 1000, gid: 1000 });
    assert.ok(p.env.includes('X=1') && p.env.includes('Y=2') && p.env.includes('TERM=xterm'));
    assert.equal(p.terminal, true);
    assert.deepEqual(p.capabilities?.bounding, s.process.capabilities?.bounding);
  });
});

describe('users', () => {
  it('resolves Docker user specs', () => {
    assert.deepEqual(parseUser(PASSWD, GROUP, ''), { uid: 0, gid: 0, additionalGids: [0, 10], home: '/root', username: 'root' });
    assert.deepEqual(parseUser(PASSWD, GROUP, 'app'), { uid: 1000, gid: 1000, additionalGids: [1000, 50], home: '/home/app', username: 'app' });
    assert.deepEqual(parseUser(PASSWD, GROUP, '1000'), { uid: 1000, gid: 1000, additionalGids: [1000, 50], home: '/home/app', username: 'app' });
    assert.deepEqual(parseUser(PASSWD, GROUP, 'app:video'), { uid: 1000, gid: 44, additionalGids: [44], home: '/home/app', username: 'app' });
    assert.deepEqual(parseUser(PASSWD, GROUP, '1000:1000'), { uid: 1000, gid: 1000, additionalGids: [1000], home: '/home/app', username: 'app' });
    assert.deepEqual(parseUser(PASSWD, GROUP, '4242:4343'), { uid: 4242, gid: 4343, additionalGids: [4343], home: '/' });
    assert.deepEqual(parseUser(undefined, undefined, '5'), { uid: 5, gid: 0, additionalGids: [0], home: '/' });
    assert.deepEqual(parseUser(PASSWD, GROUP, 'nobody', ['video', '99']).additionalGids, [65534, 44, 99]);
    assert.throws(() => parseUser(PASSWD, GROUP, 'ghost'), /^InvalidArgumentError: unable to find user ghost: no matching entries in passwd file$/);
    assert.throws(() => parseUser(PASSWD, GROUP, 'app:ghosts'), /unable to find group ghosts: no matching entries in group file/);
  });
});

describe('helpers', () => {
  it('merges mount options with later ones winning', () => {
    assert.deepEqual(mergeMountOptions(['noexec', 'nosuid', 'size=1m', 'exec', 'size=2m', 'rprivate', 'rshared']), ['nosuid', 'exec', 'size=2m', 'rshared']);
  });
  it('parses /proc/self/limits', () => {
    const l = parseProcLimits(
      'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            20000                20000                files     \nMax cpu time              unlimited            unlimited            seconds   \n',
    );
    assert.deepEqual(l, { nofile: 20000, cpu: Infinity });
  });
  it('writes a Docker-like hosts file', () => {
    const h = hostsFile('web', undefined, ['10.89.0.5'], ['db:10.0.0.9']);
    assert.match(h, /^127\.0\.0\.1\tlocalhost\n/);
    assert.match(h, /10\.0\.0\.9\tdb\n/);
    assert.match(h, /10\.89\.0\.5\tweb\n$/);
  });
});
