/**
 * System routes: `/_ping`, `/version`, `/info` (REFERENCE §2). Host facts
 * are gathered once at startup (collectSystemFacts); per request only the
 * object counts and the clock are read.
 */
import { access, readFile } from 'node:fs/promises';
import { arch, availableParallelism, hostname, machine, release, totalmem } from 'node:os';
import { basename } from 'node:path';
import { run } from '../../base/exec.js';
import type { ApiResponse } from '../http.js';
import { API_VERSION, MIN_API_VERSION, type Route } from '../router.js';

export interface SystemCounts {
  readonly containers: number;
  readonly running: number;
  readonly paused: number;
  readonly stopped: number;
  readonly images: number;
}

/** Implemented by the composition root over the container and image stores. */
export interface SystemInfoSource {
  counts(): SystemCounts | Promise<SystemCounts>;
}

export interface ComponentVersion {
  readonly name: string;
  readonly version: string;
  readonly gitCommit: string;
}

/** Everything /version and /info say that does not change while the daemon runs. */
export interface SystemFacts {
  readonly version: string;
  readonly gitCommit: string;
  /** RFC 3339, as dockerd prints it. */
  readonly buildTime: string;
  /** "node v20.x" in the GoVersion slots. */
  readonly runtimeVersion: string;
  /** Go's GOARCH spelling (amd64, arm64) for /version. */
  readonly goArch: string;
  /** uname -m (x86_64) for /info Architecture. */
  readonly machine: string;
  readonly kernelVersion: string;
  readonly operatingSystem: string;
  readonly osVersion: string;
  readonly cgroupVersion: '1' | '2';
  readonly ncpu: number;
  readonly memTotal: number;
  readonly name: string;
  /** dockerd's engine ID shape (`XXXX:XXXX:…`), persisted by the caller. */
  readonly id: string;
  readonly rootDir: string;
  readonly components: readonly ComponentVersion[];
  readonly insecureRegistryCIDRs: readonly string[];
  readonly labels: readonly string[];
  /** The init binary --init runs (catatonit or tini), by file name; '' without one. */
  readonly initBinary: string;
}

const GOARCH: Readonly<Record<string, string>> = { x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

function osReleaseField(text: string, key: string): string | undefined {
  const m = new RegExp(`^${key}=(.*)$`, 'm').exec(text);
  if (m === null) return undefined;
  return m[1]!.trim().replace(/^"(.*)"$/, '$1');
}

/** First line "<prog> version X", second "commit: Y" (runc, conmon, crun). */
async function probeComponent(name: string, bin: string): Promise<ComponentVersion | undefined> {
  try {
    const r = await run(bin, ['--version'], { allowFailure: true });
    if (r.code !== 0) return undefined;
    const version = /version\s+(\S+)/.exec(r.stdout)?.[1] ?? '';
    const gitCommit = /^commit:\s*(\S+)/m.exec(r.stdout)?.[1] ?? '';
    return { name, version, gitCommit };
  } catch {
    return undefined;
  }
}

/**
 * Reads the host facts once. `components` lists runtime tools found on the
 * host (runc, conmon by default); pass `probe: []` to skip probing.
 */
export async function collectSystemFacts(o: {
  version: string;
  id: string;
  rootDir: string;
  gitCommit?: string;
  buildTime?: string;
  name?: string;
  probe?: ReadonlyArray<{ name: string; bin: string }>;
  insecureRegistryCIDRs?: readonly string[];
  labels?: readonly string[];
  initBinary?: string;
}): Promise<SystemFacts> {
  const osRel = await readFile('/etc/os-release', 'utf8').catch(() => readFile('/usr/lib/os-release', 'utf8').catch(() => ''));
  const cgroup2 = await access('/sys/fs/cgroup/cgroup.controllers').then(
    () => true,
    () => false,
  );
  const probes = o.probe ?? [
    { name: 'runc', bin: 'runc' },
    { name: 'conmon', bin: 'conmon' },
  ];
  const components = (await Promise.all(probes.map((p) => probeComponent(p.name, p.bin)))).filter((c): c is ComponentVersion => c !== undefined);
  return {
    version: o.version,
    gitCommit: o.gitCommit ?? '',
    buildTime: o.buildTime ?? '',
    runtimeVersion: `node ${process.version}`,
    goArch: GOARCH[arch()] ?? arch(),
    machine: machine(),
    kernelVersion: release(),
    operatingSystem: osReleaseField(osRel, 'PRETTY_NAME') ?? 'Linux',
    osVersion: osReleaseField(osRel, 'VERSION_ID') ?? '',
    cgroupVersion: cgroup2 ? '2' : '1',
    ncpu: availableParallelism(),
    memTotal: totalmem(),
    name: o.name ?? hostname(),
    id: o.id,
    rootDir: o.rootDir,
    components,
    insecureRegistryCIDRs: o.insecureRegistryCIDRs ?? ['127.0.0.0/8'],
    labels: o.labels ?? [],
    initBinary: o.initBinary !== undefined ? basename(o.initBinary) : '',
  };
}

/** The /version body (samples/version.json shape), built once. */
export function versionBody(f: SystemFacts): Record<string, unknown> {
  return {
    Platform: { Name: 'Berth' },
    Components: [
      {
        Name: 'Engine',
        Version: f.version,
        Details: {
          ApiVersion: API_VERSION,
          Arch: f.goArch,
          BuildTime: f.buildTime,
          Experimental: 'false',
          GitCommit: f.gitCommit,
          GoVersion: f.runtimeVersion,
          KernelVersion: f.kernelVersion,
          MinAPIVersion: MIN_API_VERSION,
          Os: 'linux',
        },
      },
      ...f.components.map((c) => ({ Name: c.name, Version: c.version, Details: { GitCommit: c.gitCommit } })),
    ],
    Version: f.version,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: f.gitCommit,
    GoVersion: f.runtimeVersion,
    Os: 'linux',
    Arch: f.goArch,
    KernelVersion: f.kernelVersion,
    BuildTime: f.buildTime,
  };
}

/** Go's time.RFC3339Nano in UTC: nanoseconds, trailing zeros trimmed. */
function rfc3339Nano(ms: number, extraNs: number): string {
  const iso = new Date(ms).toISOString(); // 2026-11-28T05:54:25.687Z
  const frac = (iso.slice(20, 23) + String(extraNs).padStart(6, '0')).replace(/0+$/, '');
  return iso.slice(0, 19) + (frac === '' ? '' : '.' + frac) + 'Z';
}

/** The /info body (samples/info.json shape). */
export function infoBody(f: SystemFacts, c: SystemCounts): Record<string, unknown> {
  const runc = f.components.find((x) => x.name === 'runc');
  return {
    ID: f.id,
    Containers: c.containers,
    ContainersRunning: c.running,
    ContainersPaused: c.paused,
    ContainersStopped: c.stopped,
    Images: c.images,
    Driver: 'overlay2',
    DriverStatus: [
      ['Backing Filesystem', 'extfs'],
      ['Supports d_type', 'true'],
      ['Native Overlay Diff', 'true'],
      ['userxattr', 'false'],
    ],
    Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file'] },
    MemoryLimit: true,
    SwapLimit: true,
    KernelMemory: f.cgroupVersion === '1',
    KernelMemoryTCP: f.cgroupVersion === '1',
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    IPv4Forwarding: true,
    BridgeNfIptables: true,
    BridgeNfIp6tables: true,
    Debug: false,
    NFd: 0,
    OomKillDisable: f.cgroupVersion === '1',
    NGoroutines: 0,
    SystemTime: rfc3339Nano(Date.now(), Number(process.hrtime.bigint() % 1_000_000n)),
    LoggingDriver: 'json-file',
    CgroupDriver: 'cgroupfs',
    CgroupVersion: f.cgroupVersion,
    NEventsListener: 0,
    KernelVersion: f.kernelVersion,
    OperatingSystem: f.operatingSystem,
    OSVersion: f.osVersion,
    OSType: 'linux',
    Architecture: f.machine,
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: {
      AllowNondistributableArtifactsCIDRs: [],
      AllowNondistributableArtifactsHostnames: [],
      InsecureRegistryCIDRs: f.insecureRegistryCIDRs,
      IndexConfigs: { 'docker.io': { Name: 'docker.io', Mirrors: [], Secure: true, Official: true } },
      Mirrors: [],
    },
    NCPU: f.ncpu,
    MemTotal: f.memTotal,
    GenericResources: null,
    DockerRootDir: f.rootDir,
    HttpProxy: '',
    HttpsProxy: '',
    NoProxy: '',
    Name: f.name,
    Labels: f.labels,
    ExperimentalBuild: false,
    ServerVersion: f.version,
    Runtimes: { runc: { path: 'runc' } },
    DefaultRuntime: 'runc',
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    // containers run under conmon and outlive berthd: restoring them is not optional
    LiveRestoreEnabled: true,
    Isolation: '',
    InitBinary: f.initBinary,
    ContainerdCommit: { ID: '', Expected: '' },
    RuncCommit: { ID: runc?.gitCommit ?? '', Expected: runc?.gitCommit ?? '' },
    InitCommit: { ID: '', Expected: '' },
    SecurityOptions: ['name=seccomp,profile=default'],
    Warnings: null,
  };
}

/**
 * /_ping exactly as dockerd (§2): same bytes for HEAD and GET except the
 * body; HEAD carries `Content-Length: 0` and the Content-Type in Go's
 * sorted order, GET puts the sniffed length/type after Date.
 */
function ping(res: ApiResponse, head: boolean): void {
  const common = ['Api-Version', API_VERSION, 'Cache-Control', 'no-cache, no-store, must-revalidate'];
  if (head) {
    res.exact(200, [
      ...common,
      'Content-Length', '0',
      'Content-Type', 'text/plain; charset=utf-8',
      'Docker-Experimental', 'false',
      'Ostype', 'linux',
      'Pragma', 'no-cache',
      'Server', res.serverHeader,
      'Date', res.date(),
    ]);
    return;
  }
  res.exact(
    200,
    [
      ...common,
      'Docker-Experimental', 'false',
      'Ostype', 'linux',
      'Pragma', 'no-cache',
      'Server', res.serverHeader,
      'Date', res.date(),
      'Content-Length', '2',
      'Content-Type', 'text/plain; charset=utf-8',
    ],
    'OK',
  );
}

export function systemRoutes(deps: { facts: SystemFacts; source: SystemInfoSource }): Route[] {
  const version = versionBody(deps.facts);
  return [
    { method: 'HEAD', path: '/_ping', handler: (_req, res) => ping(res, true) },
    { method: 'GET', path: '/_ping', handler: (_req, res) => ping(res, false) },
    { method: 'GET', path: '/version', handler: (_req, res) => res.json(200, version) },
    {
      method: 'GET',
      path: '/info',
      handler: async (_req, res) => {
        res.json(200, infoBody(deps.facts, await deps.source.counts()));
      },
    },
  ];
}
