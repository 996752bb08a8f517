/**
 * The container settings model and the pure translation into an OCI runtime
 * spec (config.json), following Docker's rules: ENTRYPOINT/CMD combination,
 * environment merge, default capabilities, mounts, masked and read-only
 * paths, device rules, resource limits and the default seccomp profile.
 *
 * `generateSpec` does no I/O: everything it needs from the machine (the
 * resolved user, device numbers, host rlimits, kernel version, architecture)
 * comes in through `GenerateInput`, produced by the small impure helpers in
 * this module (`hostFacts`, `resolveDevices`) and `user.ts`.
 */
import { readFile, stat } from 'node:fs/promises';
import { arch as osArch, release as osRelease, availableParallelism } from 'node:os';
import { InvalidArgumentError } from '../base/errors.js';
import type { ContainerConfig } from '../oci/types.js';
import type { OciDevice, OciDeviceRule, OciMount, OciNamespace, OciProcess, OciRlimit, OciSpec, OciResources } from './oci-spec.js';
import { dockerDefaultSeccompProfile } from './seccomp-default.js';
import { parseSeccompProfile, toOciSeccomp, type DockerSeccompProfile } from './seccomp.js';
import type { ResolvedUser } from './user.js';

/** A mount the caller has already resolved (Binds, Mounts, volumes) into host terms. */
export interface ResolvedMount {
  /** Host path for binds; "tmpfs" or anything for other types. */
  readonly source: string;
  /** Absolute path inside the container. */
  readonly target: string;
  readonly type: 'bind' | 'tmpfs' | string;
  /** mount(8) -o style: "ro", "rbind", "rprivate", "size=64m"... */
  readonly options: readonly string[];
}

export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer?: string;
  CgroupPermissions?: string;
}

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

/** The HostConfig fields berth honours. */
export interface HostConfigSpec {
  /**
   * Binds, Mounts and named volumes, resolved by the caller into host paths
   * (Docker's `HostConfig.Binds`/`HostConfig.Mounts` are parsed upstream).
   */
  Mounts?: readonly ResolvedMount[];
  /** target → "size=64m,mode=1777" */
  Tmpfs?: Record<string, string> | null;
  ReadonlyRootfs?: boolean;
  CapAdd?: readonly string[] | null;
  CapDrop?: readonly string[] | null;
  Privileged?: boolean;
  SecurityOpt?: readonly string[] | null;
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  NanoCpus?: number;
  CpuShares?: number;
  CpuQuota?: number;
  CpuPeriod?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  PidsLimit?: number | null;
  Ulimits?: readonly Ulimit[] | null;
  ShmSize?: number;
  Sysctls?: Record<string, string> | null;
  Devices?: readonly DeviceMapping[] | null;
  Init?: boolean | null;
  /** "none" | "host" | "container:<pid>" | a netns path | anything else (caller passes `netnsPath`). */
  NetworkMode?: string;
  IpcMode?: string;
  PidMode?: string;
  UTSMode?: string;
  OomScoreAdj?: number;
  GroupAdd?: readonly string[] | null;
  /** Written into the hosts file by the caller (see `hostsFile`). */
  ExtraHosts?: readonly string[] | null;
  ConsoleSize?: readonly [number, number] | null;
}

/**
 * The Docker create-body fields berth honours. Labels and StopSignal do not
 * reach config.json (Docker keeps them in its own state: the caller uses
 * StopSignal for `stop`); OpenStdin/StdinOnce/Tty also choose conmon's flags
 * (see CreateOptions).
 */
export interface ContainerSpec {
  Cmd?: readonly string[] | null;
  Entrypoint?: readonly string[] | null;
  Env?: readonly string[] | null;
  WorkingDir?: string;
  User?: string;
  Hostname?: string;
  Domainname?: string;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  HostConfig?: HostConfigSpec;
}

/** A device with its numbers read from the host (see `resolveDevices`). */
export interface ResolvedDevice {
  /** Path inside the container. */
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
  permissions: string;
}

/** Facts about the machine the spec depends on (see `hostFacts`). */
export interface HostFacts {
  /** process.arch */
  arch: string;
  /** os.release() */
  kernel: string;
  /** Current hard rlimits by Docker name (nofile, nproc...); Infinity for unlimited. */
  hardLimits: Record<string, number>;
  /** Highest capability number the kernel knows (/proc/sys/kernel/cap_last_cap). */
  lastCap: number;
  cpus: number;
  /**
   * Lowest OomScoreAdj the runtime can set: without CAP_SYS_RESOURCE a
   * process may only raise its score, so this is our own current value.
   * Undefined: anything in [-1000, 1000].
   */
  minOomScoreAdj?: number;
}

export interface GenerateInput {
  id: string;
  /** Host path of the (mounted) root filesystem. */
  rootfs: string;
  /** The image's config (Cmd, Entrypoint, Env, WorkingDir, User...). */
  image?: ContainerConfig | undefined;
  spec: ContainerSpec;
  /** From `resolveUser(rootfs, spec.User ?? image.User, GroupAdd)`. */
  user: ResolvedUser;
  host: HostFacts;
  /** Host files bind-mounted over /etc/hosts, /etc/hostname, /etc/resolv.conf. */
  files?: { hosts?: string; hostname?: string; resolvConf?: string };
  /** Network namespace to join (bridge networks: the caller made it). Overrides NetworkMode parsing. */
  netnsPath?: string;
  /** HostConfig.Devices resolved with `resolveDevices`. */
  devices?: readonly ResolvedDevice[];
  /** With Privileged: the host's devices to expose (resolveDevices over /dev); optional. */
  hostDevices?: readonly ResolvedDevice[];
  /** Seccomp profile loaded from a file path given in SecurityOpt (the caller read it). */
  seccompProfile?: DockerSeccompProfile;
  /** Host path of the init binary (tini/catatonit) to bind at /dev/init when Init is set. */
  initBinary?: string;
  /** cgroup namespace: Docker uses private on cgroup v2, host on v1. Default private. */
  cgroupns?: 'private' | 'host';
  /** Parent of the container cgroup. Default "/berth". */
  cgroupParent?: string;
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** Docker's default capability set. */
export const DEFAULT_CAPS: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Every capability, indexed by number (linux/capability.h). */
export const ALL_CAPS: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** Docker 20.10's masked paths (also shown in inspect's HostConfig.MaskedPaths). */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware',
];
export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** Docker's default device cgroup rules: deny all, allow the standard character devices, deny fuse. */
function defaultDeviceRules(): OciDeviceRule[] {
  const allow = (major: number, minor: number): OciDeviceRule => ({ allow: true, type: 'c', major, minor, access: 'rwm' });
  return [
    { allow: false, access: 'rwm' },
    allow(1, 5), // zero
    allow(1, 3), // null
    allow(1, 9), // urandom
    allow(1, 8), // random
    allow(5, 0), // tty
    allow(5, 1), // console
    { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' }, // fuse
  ];
}

const RLIMITS: Record<string, string> = {
  as: 'RLIMIT_AS', core: 'RLIMIT_CORE', cpu: 'RLIMIT_CPU', data: 'RLIMIT_DATA', fsize: 'RLIMIT_FSIZE',
  locks: 'RLIMIT_LOCKS', memlock: 'RLIMIT_MEMLOCK', msgqueue: 'RLIMIT_MSGQUEUE', nice: 'RLIMIT_NICE',
  nofile: 'RLIMIT_NOFILE', nproc: 'RLIMIT_NPROC', rss: 'RLIMIT_RSS', rtprio: 'RLIMIT_RTPRIO',
  rttime: 'RLIMIT_RTTIME', sigpending: 'RLIMIT_SIGPENDING', stack: 'RLIMIT_STACK',
};

// ---------------------------------------------------------------------------
// Pieces, exported for reuse (exec) and tests

/**
 * Docker's ENTRYPOINT/CMD rules: a create Cmd replaces the image Cmd; a create
 * Entrypoint replaces the image Entrypoint and then the image Cmd is dropped.
 * `Entrypoint: []` clears the entrypoint but keeps the image Cmd (len 0, as
 * Docker's merge); `[""]` clears it and drops the image Cmd.
 */
export function commandLine(spec: Pick<ContainerSpec, 'Cmd' | 'Entrypoint'>, image: ContainerConfig | undefined): string[] {
  let entrypoint: readonly string[];
  let cmd: readonly string[];
  if (spec.Entrypoint !== undefined && spec.Entrypoint !== null && spec.Entrypoint.length > 0) {
    entrypoint = spec.Entrypoint.length === 1 && spec.Entrypoint[0] === '' ? [] : spec.Entrypoint;
    cmd = spec.Cmd ?? [];
  } else {
    entrypoint = spec.Entrypoint === undefined || spec.Entrypoint === null ? image?.Entrypoint ?? [] : [];
    cmd = spec.Cmd !== undefined && spec.Cmd !== null && spec.Cmd.length > 0 ? spec.Cmd : image?.Cmd ?? [];
  }
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw new InvalidArgumentError('No command specified');
  return args;
}

const envKey = (e: string): string => {
  const i = e.indexOf('=');
  return i < 0 ? e : e.slice(0, i);
};

/** Replaces entries of `base` by key with `over`'s, appending new keys (Docker's ReplaceOrAppendEnvValues). */
export function mergeEnv(base: readonly string[], over: readonly string[]): string[] {
  const out = [...base];
  const idx = new Map<string, number>();
  out.forEach((e, i) => idx.set(envKey(e), i));
  for (const e of over) {
    const k = envKey(e);
    const i = idx.get(k);
    if (i !== undefined) out[i] = e;
    else {
      idx.set(k, out.length);
      out.push(e);
    }
  }
  return out;
}

/** The container's configured env: image Env, then create Env by key. */
export function configEnv(spec: Pick<ContainerSpec, 'Env'>, image: ContainerConfig | undefined): string[] {
  return mergeEnv(image?.Env ?? [], spec.Env ?? []);
}

/** The process env as Docker builds it: PATH default, HOSTNAME, TERM when tty, then the config env. */
export function processEnv(config: readonly string[], hostname: string, tty: boolean): string[] {
  const base = [`PATH=${DEFAULT_PATH}`, `HOSTNAME=${hostname}`];
  if (tty) base.push('TERM=xterm');
  return mergeEnv(base, config);
}

function normCap(c: string): string {
  const u = c.trim().toUpperCase();
  return u === 'ALL' ? 'ALL' : u.startsWith('CAP_') ? u : `CAP_${u}`;
}

/** Docker's TweakCapabilities: defaults, then CapAdd/CapDrop (either with or without CAP_, or ALL). */
export function capabilities(hc: HostConfigSpec, lastCap = ALL_CAPS.length - 1): string[] {
  const all = ALL_CAPS.slice(0, lastCap + 1);
  if (hc.Privileged === true) return [...all];
  const add = (hc.CapAdd ?? []).map(normCap);
  const drop = (hc.CapDrop ?? []).map(normCap);
  for (const c of [...add, ...drop]) {
    if (c !== 'ALL' && !ALL_CAPS.includes(c)) throw new InvalidArgumentError(`unknown capability: "${c}"`);
  }
  let caps: string[];
  if (add.includes('ALL')) caps = all.filter((c) => !drop.includes(c));
  else if (drop.includes('ALL')) caps = add;
  else caps = [...DEFAULT_CAPS.filter((c) => !drop.includes(c)), ...add];
  return [...new Set(caps)].filter((c) => all.includes(c));
}

/** Later options win over earlier conflicting ones (exec/noexec, size=...), as Docker's MergeTmpfsOptions. */
export function mergeMountOptions(opts: readonly string[]): string[] {
  const flagPairs: Record<string, string> = {
    exec: 'noexec', noexec: 'exec', suid: 'nosuid', nosuid: 'suid', dev: 'nodev', nodev: 'dev',
    ro: 'rw', rw: 'ro', atime: 'noatime', noatime: 'atime',
  };
  const propagation = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);
  const out: string[] = [];
  for (const o of opts) {
    if (o === '') continue;
    const eq = o.indexOf('=');
    let idx = -1;
    if (eq >= 0) {
      const k = o.slice(0, eq + 1);
      idx = out.findIndex((x) => x.startsWith(k));
    } else if (propagation.has(o)) {
      idx = out.findIndex((x) => propagation.has(x));
    } else {
      const opposite = flagPairs[o];
      idx = out.findIndex((x) => x === o || (opposite !== undefined && x === opposite));
    }
    if (idx >= 0) out.splice(idx, 1);
    out.push(o);
  }
  return out;
}

function clean(p: string): string {
  const parts: string[] = [];
  for (const s of p.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') parts.pop();
    else parts.push(s);
  }
  return '/' + parts.join('/');
}

function parseSecurityOpts(opts: readonly string[], seccompFromFile: DockerSeccompProfile | undefined): {
  noNewPrivileges: boolean;
  seccomp: 'default' | 'unconfined' | DockerSeccompProfile;
} {
  let noNewPrivileges = false;
  let seccomp: 'default' | 'unconfined' | DockerSeccompProfile = 'default';
  for (const raw of opts) {
    const m = /^([a-z-]+)(?:[=:](.*))?$/s.exec(raw);
    const key = m?.[1];
    const val = m?.[2];
    if (key === 'no-new-privileges') {
      if (val === undefined || val === 'true') noNewPrivileges = true;
      else if (val === 'false') noNewPrivileges = false;
      else throw new InvalidArgumentError(`invalid --security-opt 2: "${raw}"`);
    } else if (key === 'seccomp' && val !== undefined) {
      if (val === 'unconfined') seccomp = 'unconfined';
      else if (val.trimStart().startsWith('{')) seccomp = parseSeccompProfile(val);
      else if (seccompFromFile !== undefined) seccomp = seccompFromFile;
      else throw new InvalidArgumentError(`opening seccomp profile (${val}) failed: the profile file was not loaded`);
    } else if (key === 'apparmor' || key === 'label' || key === 'systempaths' || key === 'mask' || key === 'unmask') {
      // no AppArmor/SELinux on berth; accepted and ignored as on hosts without them
    } else {
      throw new InvalidArgumentError(`invalid --security-opt 1: "${raw}"`);
    }
  }
  return { noNewPrivileges, seccomp };
}

function rlimits(ulimits: readonly Ulimit[], hard: Record<string, number>): OciRlimit[] {
  const out: OciRlimit[] = [];
  for (const u of ulimits) {
    const type = RLIMITS[u.Name];
    if (type === undefined) throw new InvalidArgumentError(`invalid ulimit type: ${u.Name}`);
    if (u.Soft > u.Hard) throw new InvalidArgumentError(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
    // Without CAP_SYS_RESOURCE a hard limit cannot be raised: runc would fail
    // with a bare "operation not permitted", so refuse with the numbers.
    const max = hard[u.Name];
    if (max !== undefined && u.Hard > max) {
      throw new InvalidArgumentError(`ulimit ${u.Name}: hard limit ${u.Hard} exceeds the host's hard limit ${max}`);
    }
    out.push({ type, hard: u.Hard, soft: u.Soft });
  }
  return out;
}

function resources(hc: HostConfigSpec, cpus: number): OciResources {
  const r: OciResources = {};
  const mem = hc.Memory ?? 0;
  const swap = hc.MemorySwap ?? 0;
  if (mem < 0) throw new InvalidArgumentError('invalid memory limit');
  if (mem > 0 && mem < 6 * 1024 * 1024) throw new InvalidArgumentError('Minimum memory limit allowed is 6MB');
  if (swap > 0 && mem === 0) throw new InvalidArgumentError('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (swap > 0 && swap < mem) throw new InvalidArgumentError('Minimum memoryswap limit should be larger than memory limit, see usage');
  const memory: NonNullable<OciResources['memory']> = {};
  if (mem > 0) {
    memory.limit = mem;
    // Docker: unset swap lets the container use as much swap as memory
    memory.swap = swap === 0 ? mem * 2 : swap;
  }
  if ((hc.MemoryReservation ?? 0) > 0) memory.reservation = hc.MemoryReservation as number;
  if (Object.keys(memory).length > 0) r.memory = memory;

  const cpu: NonNullable<OciResources['cpu']> = {};
  const nano = hc.NanoCpus ?? 0;
  if (nano > 0) {
    if ((hc.CpuPeriod ?? 0) > 0) throw new InvalidArgumentError('Conflicting options: Nano CPUs and CPU Period cannot both be set');
    if ((hc.CpuQuota ?? 0) > 0) throw new InvalidArgumentError('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
    if (nano < 1e7 || nano > cpus * 1e9) {
      throw new InvalidArgumentError(`Range of CPUs is from 0.01 to ${cpus}.00, as there are only ${cpus} CPUs available`);
    }
    cpu.period = 100000;
    cpu.quota = Math.round((nano * 100000) / 1e9);
  } else {
    if ((hc.CpuPeriod ?? 0) > 0) cpu.period = hc.CpuPeriod as number;
    if ((hc.CpuQuota ?? 0) > 0) cpu.quota = hc.CpuQuota as number;
  }
  if ((hc.CpuShares ?? 0) > 0) cpu.shares = hc.CpuShares as number;
  if (hc.CpusetCpus !== undefined && hc.CpusetCpus !== '') cpu.cpus = hc.CpusetCpus;
  if (hc.CpusetMems !== undefined && hc.CpusetMems !== '') cpu.mems = hc.CpusetMems;
  if (Object.keys(cpu).length > 0) r.cpu = cpu;

  const pids = hc.PidsLimit ?? 0;
  if (pids > 0) r.pids = { limit: pids };
  return r;
}

/** Namespace for a mode: "host" → none (share the host's), "container:<pid>" → join, else new. */
function nsFor(type: OciNamespace['type'], mode: string | undefined): OciNamespace | undefined {
  if (mode === 'host') return undefined;
  if (mode !== undefined && mode.startsWith('container:')) {
    const pid = mode.slice('container:'.length);
    if (!/^\d+$/.test(pid)) throw new InvalidArgumentError(`invalid ${type} mode ${mode}: the caller must resolve the container to its pid`);
    const nsName = type === 'network' ? 'net' : type === 'mount' ? 'mnt' : type;
    return { type, path: `/proc/${pid}/ns/${nsName}` };
  }
  return { type };
}

function networkNamespace(mode: string | undefined, netnsPath: string | undefined): OciNamespace | undefined {
  if (netnsPath !== undefined) return { type: 'network', path: netnsPath };
  if (mode === 'host') return undefined;
  if (mode !== undefined && mode.startsWith('/')) return { type: 'network', path: mode };
  if (mode !== undefined && mode.startsWith('container:')) return nsFor('network', mode);
  // none, default, bridge without a prepared namespace: a fresh one with loopback only
  return { type: 'network' };
}

/** Sort by path depth so parents are mounted before children (Docker sorts the same way). */
function byDepth(a: OciMount, b: OciMount): number {
  return clean(a.destination).split('/').length - clean(b.destination).split('/').length;
}

function userMount(m: ResolvedMount): OciMount {
  const destination = clean(m.target);
  if (!m.target.startsWith('/')) throw new InvalidArgumentError(`invalid mount config: mount path must be absolute: ${m.target}`);
  if (m.type === 'bind') {
    const opts = [...m.options];
    if (!opts.includes('bind') && !opts.includes('rbind')) opts.unshift('rbind');
    if (!opts.some((o) => /^r?(private|shared|slave)$/.test(o))) opts.push('rprivate');
    return { destination, type: 'bind', source: m.source, options: opts };
  }
  if (m.type === 'tmpfs') {
    return { destination, type: 'tmpfs', source: 'tmpfs', options: mergeMountOptions(['noexec', 'nosuid', 'nodev', 'rprivate', ...m.options]) };
  }
  return { destination, type: m.type, source: m.source, options: [...m.options] };
}

// ---------------------------------------------------------------------------

/** Docker's default hostname: the first 12 characters of the ID. */
export function defaultHostname(id: string): string {
  return id.slice(0, 12);
}

/** Builds config.json for a container. Pure. Throws InvalidArgumentError with Docker's messages. */
export function generateSpec(input: GenerateInput): OciSpec {
  const { spec, image, host } = input;
  const hc = spec.HostConfig ?? {};
  const privileged = hc.Privileged === true;
  const tty = spec.Tty === true;
  const utsHost = hc.UTSMode === 'host';
  const hostname = spec.Hostname !== undefined && spec.Hostname !== '' ? spec.Hostname : defaultHostname(input.id);

  let args = commandLine(spec, image);
  if (hc.Init === true) args = ['/dev/init', '--', ...args];

  const env = processEnv(configEnv(spec, image), hostname, tty);
  const workingDir = spec.WorkingDir !== undefined && spec.WorkingDir !== '' ? spec.WorkingDir : image?.WorkingDir ?? '';
  const cwd = workingDir === '' ? '/' : workingDir;
  if (!cwd.startsWith('/')) throw new InvalidArgumentError(`the working directory '${cwd}' is invalid, it needs to be an absolute path`);

  const caps = capabilities(hc, host.lastCap);
  const sec = parseSecurityOpts(hc.SecurityOpt ?? [], input.seccompProfile);

  const process: OciProcess = {
    terminal: tty,
    user: { uid: input.user.uid, gid: input.user.gid, additionalGids: [...input.user.additionalGids] },
    args,
    env,
    cwd,
    // Docker 20.10.14+: no inheritable set (CVE-2022-24769)
    capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [] },
  };
  if (input.user.additionalGids.length === 0) delete process.user.additionalGids;
  if (tty && hc.ConsoleSize !== undefined && hc.ConsoleSize !== null && hc.ConsoleSize[0] > 0 && hc.ConsoleSize[1] > 0) {
    process.consoleSize = { height: hc.ConsoleSize[0], width: hc.ConsoleSize[1] };
  }
  if (sec.noNewPrivileges) process.noNewPrivileges = true;
  if (hc.Ulimits !== undefined && hc.Ulimits !== null && hc.Ulimits.length > 0) process.rlimits = rlimits(hc.Ulimits, host.hardLimits);
  const oom = hc.OomScoreAdj ?? 0;
  if (oom < -1000 || oom > 1000) throw new InvalidArgumentError(`Invalid value ${oom}, range for oom score adj is [-1000, 1000]`);
  if (host.minOomScoreAdj !== undefined && oom !== 0 && oom < host.minOomScoreAdj) {
    // runc would fail with "can't get final child's PID from pipe: EOF"
    throw new InvalidArgumentError(`OomScoreAdj ${oom} is below ${host.minOomScoreAdj}, the lowest this host allows (no CAP_SYS_RESOURCE)`);
  }
  // only when asked: writing oom_score_adj needs privileges some hosts lack
  if (oom !== 0) process.oomScoreAdj = oom;

  // --- mounts
  const shmSize = hc.ShmSize !== undefined && hc.ShmSize > 0 ? hc.ShmSize : DEFAULT_SHM_SIZE;
  const ipcHost = hc.IpcMode === 'host';
  const defaults: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: [privileged ? 'rw' : 'ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    ipcHost
      ? { destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate'] }
      : { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmSize}`] },
  ];
  const ro = hc.ReadonlyRootfs === true;
  const users: OciMount[] = [];
  const fileMount = (dst: string, src: string | undefined): void => {
    if (src !== undefined) users.push({ destination: dst, type: 'bind', source: src, options: ro ? ['rbind', 'rprivate', 'ro'] : ['rbind', 'rprivate'] });
  };
  fileMount('/etc/resolv.conf', input.files?.resolvConf);
  fileMount('/etc/hostname', input.files?.hostname);
  fileMount('/etc/hosts', input.files?.hosts);
  for (const m of hc.Mounts ?? []) users.push(userMount(m));
  for (const [target, data] of Object.entries(hc.Tmpfs ?? {})) {
    users.push(userMount({ source: 'tmpfs', target, type: 'tmpfs', options: data === '' ? [] : data.split(',') }));
  }
  if (hc.Init === true && input.initBinary !== undefined) {
    users.push({ destination: '/dev/init', type: 'bind', source: input.initBinary, options: ['bind', 'ro'] });
  }
  // a user mount replaces the default/managed one at the same destination
  const seen = new Set<string>();
  const userMounts: OciMount[] = [];
  for (let i = users.length - 1; i >= 0; i--) {
    const m = users[i] as OciMount;
    if (seen.has(m.destination)) continue;
    seen.add(m.destination);
    userMounts.unshift(m);
  }
  const mountsDev = seen.has('/dev');
  const mounts = [
    ...defaults.filter((m) => !seen.has(m.destination) && !(mountsDev && m.destination.startsWith('/dev/'))),
    ...userMounts.sort(byDepth),
  ];

  // --- namespaces
  const namespaces: OciNamespace[] = [];
  const add = (n: OciNamespace | undefined): void => {
    if (n !== undefined) namespaces.push(n);
  };
  add(nsFor('pid', hc.PidMode));
  add(nsFor('ipc', hc.IpcMode));
  add(nsFor('uts', hc.UTSMode));
  namespaces.push({ type: 'mount' });
  add(networkNamespace(hc.NetworkMode, input.netnsPath));
  if ((input.cgroupns ?? 'private') === 'private') namespaces.push({ type: 'cgroup' });

  // --- devices
  const devices: OciDevice[] = [];
  const deviceRules: OciDeviceRule[] = privileged ? [{ allow: true, access: 'rwm' }] : defaultDeviceRules();
  const toDev = (d: ResolvedDevice): OciDevice => ({ type: d.type, path: d.path, major: d.major, minor: d.minor, fileMode: d.fileMode, uid: d.uid, gid: d.gid });
  if (privileged) for (const d of input.hostDevices ?? []) devices.push(toDev(d));
  for (const d of input.devices ?? []) {
    devices.push(toDev(d));
    if (!privileged) deviceRules.push({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.permissions });
  }

  const res = resources(hc, host.cpus);
  res.devices = deviceRules;

  const out: OciSpec = {
    ociVersion: '1.0.2-dev',
    process,
    root: { path: input.rootfs, readonly: ro },
    mounts,
    linux: {
      namespaces,
      cgroupsPath: `${input.cgroupParent ?? '/berth'}/${input.id}`,
      resources: res,
    },
  };
  if (!utsHost) {
    out.hostname = hostname;
    if (spec.Domainname !== undefined && spec.Domainname !== '') out.domainname = spec.Domainname;
  }
  if (devices.length > 0) out.linux.devices = devices;
  if (hc.Sysctls !== undefined && hc.Sysctls !== null && Object.keys(hc.Sysctls).length > 0) out.linux.sysctl = { ...hc.Sysctls };
  if (!privileged) {
    out.linux.maskedPaths = [...DEFAULT_MASKED_PATHS];
    out.linux.readonlyPaths = [...DEFAULT_READONLY_PATHS];
    if (sec.seccomp !== 'unconfined') {
      const profile = sec.seccomp === 'default' ? dockerDefaultSeccompProfile : sec.seccomp;
      out.linux.seccomp = toOciSeccomp(profile, { arch: host.arch, caps, kernel: host.kernel });
    }
  }
  return out;
}

export interface ExecProcessOptions {
  Cmd: readonly string[];
  Env?: readonly string[] | null;
  /** Resolved exec user; defaults to the container's process user. */
  user?: ResolvedUser;
  WorkingDir?: string;
  Tty?: boolean;
  Privileged?: boolean;
  ConsoleSize?: readonly [number, number] | null;
}

/**
 * The process.json for an exec session (runc exec --process), derived from
 * the container's spec as Docker does: same capabilities (all when
 * Privileged), the container's env plus the exec's, the exec's user/cwd.
 */
export function generateExecProcess(container: OciSpec, opts: ExecProcessOptions, lastCap = ALL_CAPS.length - 1): OciProcess {
  if (opts.Cmd.length === 0) throw new InvalidArgumentError('No exec command specified');
  const tty = opts.Tty === true;
  const hostname = container.hostname ?? '';
  // the container env minus TERM (the exec decides), then the exec's own
  const base = container.process.env.filter((e) => !(e.startsWith('TERM=') && !tty));
  let env = mergeEnv(base, opts.Env ?? []);
  if (tty && !env.some((e) => e.startsWith('TERM='))) env = mergeEnv([`HOSTNAME=${hostname}`, 'TERM=xterm'], env);
  const caps = opts.Privileged === true ? ALL_CAPS.slice(0, lastCap + 1) : container.process.capabilities?.bounding ?? [...DEFAULT_CAPS];
  const user = opts.user !== undefined ? { uid: opts.user.uid, gid: opts.user.gid, additionalGids: [...opts.user.additionalGids] } : { ...container.process.user };
  const p: OciProcess = {
    terminal: tty,
    user,
    args: [...opts.Cmd],
    env,
    cwd: opts.WorkingDir !== undefined && opts.WorkingDir !== '' ? opts.WorkingDir : container.process.cwd,
    capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps], inheritable: [] },
  };
  if (user.additionalGids !== undefined && user.additionalGids.length === 0) delete p.user.additionalGids;
  if (container.process.noNewPrivileges === true) p.noNewPrivileges = true;
  if (tty && opts.ConsoleSize !== undefined && opts.ConsoleSize !== null && opts.ConsoleSize[0] > 0 && opts.ConsoleSize[1] > 0) {
    p.consoleSize = { height: opts.ConsoleSize[0], width: opts.ConsoleSize[1] };
  }
  return p;
}

/** Docker's /etc/hosts content for a container (localhost, IPv6 entries, own address, ExtraHosts). */
export function hostsFile(hostname: string, domainname: string | undefined, ips: readonly string[], extraHosts: readonly string[] = []): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  for (const h of extraHosts) {
    // "name:ip" (the IP may itself contain colons)
    const i = h.indexOf(':');
    if (i <= 0) throw new InvalidArgumentError(`invalid argument "${h}" for "--add-host" flag`);
    lines.push(`${h.slice(i + 1)}\t${h.slice(0, i)}`);
  }
  const names = domainname !== undefined && domainname !== '' ? `${hostname}.${domainname} ${hostname}` : hostname;
  for (const ip of ips) lines.push(`${ip}\t${names}`);
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------
// Impure helpers producing GenerateInput's machine facts

const LIMIT_ROWS: Record<string, string> = {
  'Max cpu time': 'cpu', 'Max file size': 'fsize', 'Max data size': 'data', 'Max stack size': 'stack',
  'Max core file size': 'core', 'Max resident set': 'rss', 'Max processes': 'nproc', 'Max open files': 'nofile',
  'Max locked memory': 'memlock', 'Max address space': 'as', 'Max file locks': 'locks',
  'Max pending signals': 'sigpending', 'Max msgqueue size': 'msgqueue', 'Max nice priority': 'nice',
  'Max realtime priority': 'rtprio', 'Max realtime timeout': 'rttime',
};

/** Parses /proc/<pid>/limits into hard limits by Docker's ulimit names. */
export function parseProcLimits(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    for (const [row, name] of Object.entries(LIMIT_ROWS)) {
      if (!line.startsWith(row + ' ')) continue;
      const fields = line.slice(row.length).trim().split(/\s+/);
      const hard = fields[1];
      if (hard !== undefined) out[name] = hard === 'unlimited' ? Infinity : Number(hard);
    }
  }
  return out;
}

/** Reads the machine facts generateSpec needs. conmon and runc inherit our rlimits, so ours are the ceiling. */
export async function hostFacts(): Promise<HostFacts> {
  const [limits, lastCap, status, oomAdj] = await Promise.all([
    readFile('/proc/self/limits', 'utf8').catch(() => ''),
    readFile('/proc/sys/kernel/cap_last_cap', 'utf8').catch(() => String(ALL_CAPS.length - 1)),
    readFile('/proc/self/status', 'utf8').catch(() => ''),
    readFile('/proc/self/oom_score_adj', 'utf8').catch(() => '0'),
  ]);
  const lc = Number(lastCap.trim());
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  const sysResource = capEff !== undefined && (BigInt(`0x${capEff}`) & (1n << 24n)) !== 0n;
  const facts: HostFacts = {
    arch: osArch(),
    kernel: osRelease(),
    hardLimits: parseProcLimits(limits),
    lastCap: Number.isInteger(lc) ? Math.min(lc, ALL_CAPS.length - 1) : ALL_CAPS.length - 1,
    cpus: availableParallelism(),
  };
  if (!sysResource) facts.minOomScoreAdj = Number(oomAdj.trim()) || 0;
  return facts;
}

/** Stats HostConfig.Devices on the host for their type and numbers. */
export async function resolveDevices(devices: readonly DeviceMapping[]): Promise<ResolvedDevice[]> {
  const out: ResolvedDevice[] = [];
  for (const d of devices) {
    const perms = d.CgroupPermissions !== undefined && d.CgroupPermissions !== '' ? d.CgroupPermissions : 'rwm';
    if (!/^[rwm]+$/.test(perms)) throw new InvalidArgumentError(`invalid device cgroup permissions: ${perms}`);
    let st;
    try {
      st = await stat(d.PathOnHost, { bigint: true });
    } catch {
      throw new InvalidArgumentError(`error gathering device information while adding custom device "${d.PathOnHost}": no such file or directory`);
    }
    const S_IFMT = 0o170000n;
    const fmt = st.mode & S_IFMT;
    const type = fmt === 0o020000n ? 'c' : fmt === 0o060000n ? 'b' : undefined;
    if (type === undefined) throw new InvalidArgumentError(`error gathering device information while adding custom device "${d.PathOnHost}": not a device node`);
    const rdev = st.rdev;
    const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
    const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
    out.push({
      path: d.PathInContainer !== undefined && d.PathInContainer !== '' ? d.PathInContainer : d.PathOnHost,
      type,
      major,
      minor,
      fileMode: Number(st.mode & 0o777n),
      uid: Number(st.uid),
      gid: Number(st.gid),
      permissions: perms,
    });
  }
  return out;
}
