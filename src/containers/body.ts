/**
 * The container create body (POST /containers/create), from `unknown` to
 * typed settings. Clients send Go structs with every field (CLI), sparse
 * objects (dockerode) or Python's spacing (docker-py); unknown fields are
 * ignored and wrong types refused with dockerd's 400 wording.
 */
import { InvalidArgumentError } from '../base/errors.js';
import type { HealthConfig } from '../oci/types.js';

type Obj = Record<string, unknown>;

function obj(v: unknown, what: string): Obj {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidArgumentError(`json: cannot unmarshal ${typeof v} into Go value of type ${what}`);
  return v as Obj;
}
function str(o: Obj, k: string): string | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new InvalidArgumentError(`json: cannot unmarshal ${typeof v} into Go struct field ${k} of type string`);
  return v;
}
function bool(o: Obj, k: string): boolean | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new InvalidArgumentError(`json: cannot unmarshal ${typeof v} into Go struct field ${k} of type bool`);
  return v;
}
function num(o: Obj, k: string): number | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidArgumentError(`json: cannot unmarshal ${typeof v} into Go struct field ${k} of type int64`);
  return v;
}
/** Docker accepts a string where a list is expected for Cmd/Entrypoint (StrSlice). */
function strs(o: Obj, k: string, strSlice = false): string[] | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (strSlice && typeof v === 'string') return [v];
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) {
    throw new InvalidArgumentError(`json: cannot unmarshal ${typeof v} into Go struct field ${k} of type []string`);
  }
  return v;
}
function strMap(o: Obj, k: string): Record<string, string> | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  const m = obj(v, `map[string]string`);
  const out: Record<string, string> = {};
  for (const [a, b] of Object.entries(m)) {
    if (typeof b !== 'string') throw new InvalidArgumentError(`json: cannot unmarshal ${typeof b} into Go value of type string`);
    out[a] = b;
  }
  return out;
}
function keySet(o: Obj, k: string): Record<string, object> | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  const m = obj(v, 'map[string]struct {}');
  return Object.fromEntries(Object.keys(m).map((x) => [x, {}]));
}

export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

export interface MountSpec {
  Type: 'bind' | 'volume' | 'tmpfs' | string;
  Source: string;
  Target: string;
  ReadOnly: boolean;
  BindOptions?: { Propagation?: string };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string>; DriverConfig?: { Name?: string; Options?: Record<string, string> } };
}

export interface ContainerConfigIn {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  ExposedPorts?: Record<string, object>;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[] | null;
  Cmd: string[] | null;
  Healthcheck?: HealthConfig;
  Image: string;
  Volumes: Record<string, object> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  OnBuild: string[] | null;
  Labels: Record<string, string>;
  StopSignal?: string;
  StopTimeout?: number;
  NetworkDisabled?: boolean;
  /** --mac-address (API < 1.44 carries it here). */
  MacAddress?: string;
}

export interface HostConfigIn {
  Binds: string[] | null;
  LogConfig: { Type: string; Config: Record<string, string> };
  NetworkMode: string;
  PortBindings: Record<string, PortBinding[]>;
  RestartPolicy: { Name: string; MaximumRetryCount: number };
  AutoRemove: boolean;
  VolumesFrom: string[] | null;
  CapAdd: string[] | null;
  CapDrop: string[] | null;
  Dns: string[];
  DnsOptions: string[];
  DnsSearch: string[];
  ExtraHosts: string[] | null;
  GroupAdd: string[] | null;
  IpcMode: string;
  PidMode: string;
  UTSMode: string;
  Privileged: boolean;
  PublishAllPorts: boolean;
  ReadonlyRootfs: boolean;
  SecurityOpt: string[] | null;
  Tmpfs?: Record<string, string>;
  ShmSize: number;
  Sysctls?: Record<string, string>;
  Runtime: string;
  ConsoleSize: [number, number];
  Init?: boolean;
  Memory: number;
  MemorySwap: number;
  MemoryReservation: number;
  NanoCpus: number;
  CpuShares: number;
  CpuPeriod: number;
  CpuQuota: number;
  CpusetCpus: string;
  CpusetMems: string;
  PidsLimit: number | null;
  Ulimits: { Name: string; Soft: number; Hard: number }[];
  Devices: { PathOnHost: string; PathInContainer: string; CgroupPermissions: string }[];
  OomScoreAdj: number;
  Mounts?: MountSpec[];
  /** --link: as sent (`name:alias`), stored as `/name:/linker/alias` by the container service. */
  Links?: string[];
}

export interface CreateBody {
  config: ContainerConfigIn;
  host: HostConfigIn;
  /** EndpointsConfig as sent (networks issue). */
  endpoints: Record<string, unknown>;
}

const RESTART = new Set(['', 'no', 'always', 'on-failure', 'unless-stopped']);

function health(v: unknown): HealthConfig | undefined {
  if (v === undefined || v === null) return undefined;
  const o = obj(v, 'container.HealthConfig');
  const h: HealthConfig = {};
  const t = strs(o, 'Test');
  if (t !== undefined) h.Test = t;
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const) {
    const n = num(o, k);
    if (n !== undefined) {
      if (n < 0) throw new InvalidArgumentError(`${k} in Healthcheck cannot be negative`);
      h[k] = n;
    }
  }
  return h;
}

export function parseCreateBody(raw: unknown): CreateBody {
  const o = obj(raw, 'container.Config');
  if (Object.keys(o).length === 0) throw new InvalidArgumentError('Config cannot be empty in order to create a container');
  const image = str(o, 'Image') ?? '';
  const config: ContainerConfigIn = {
    Hostname: str(o, 'Hostname') ?? '',
    Domainname: str(o, 'Domainname') ?? '',
    User: str(o, 'User') ?? '',
    AttachStdin: bool(o, 'AttachStdin') ?? false,
    AttachStdout: bool(o, 'AttachStdout') ?? false,
    AttachStderr: bool(o, 'AttachStderr') ?? false,
    Tty: bool(o, 'Tty') ?? false,
    OpenStdin: bool(o, 'OpenStdin') ?? false,
    StdinOnce: bool(o, 'StdinOnce') ?? false,
    Env: strs(o, 'Env') ?? null,
    Cmd: strs(o, 'Cmd', true) ?? null,
    Image: image,
    Volumes: keySet(o, 'Volumes') ?? null,
    WorkingDir: str(o, 'WorkingDir') ?? '',
    Entrypoint: strs(o, 'Entrypoint', true) ?? null,
    OnBuild: strs(o, 'OnBuild') ?? null,
    Labels: strMap(o, 'Labels') ?? {},
  };
  const ports = keySet(o, 'ExposedPorts');
  if (ports !== undefined && Object.keys(ports).length > 0) config.ExposedPorts = ports;
  const hc = health(o['Healthcheck']);
  if (hc !== undefined) config.Healthcheck = hc;
  const ss = str(o, 'StopSignal');
  if (ss !== undefined && ss !== '') config.StopSignal = ss;
  const st = num(o, 'StopTimeout');
  if (st !== undefined) config.StopTimeout = st;
  if (bool(o, 'NetworkDisabled') === true) config.NetworkDisabled = true;
  const mac = str(o, 'MacAddress');
  if (mac !== undefined && mac !== '') {
    if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(mac)) throw new InvalidArgumentError(`invalid MAC address: ${mac}`);
    config.MacAddress = mac.toLowerCase();
  }
  if (config.WorkingDir !== '' && !config.WorkingDir.startsWith('/')) {
    throw new InvalidArgumentError(`the working directory '${config.WorkingDir}' is invalid, it needs to be an absolute path`);
  }

  const h = obj(o['HostConfig'], 'container.HostConfig');
  const rp = obj(h['RestartPolicy'], 'container.RestartPolicy');
  const rpName = str(rp, 'Name') ?? '';
  if (!RESTART.has(rpName)) throw new InvalidArgumentError(`invalid restart policy '${rpName}'`);
  const rpMax = num(rp, 'MaximumRetryCount') ?? 0;
  if (rpMax !== 0 && rpName !== 'on-failure') throw new InvalidArgumentError(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  const autoRemove = bool(h, 'AutoRemove') ?? false;
  if (autoRemove && rpName !== '' && rpName !== 'no') {
    throw new InvalidArgumentError('conflicting options: cannot specify both --restart and --rm');
  }
  const log = obj(h['LogConfig'], 'container.LogConfig');
  // validated here, at create, as dockerd does
  const pb = obj(h['PortBindings'], 'nat.PortMap');
  const portBindings: Record<string, PortBinding[]> = {};
  for (const [port, list] of Object.entries(pb)) {
    if (list === null) continue;
    if (!Array.isArray(list)) throw new InvalidArgumentError('json: cannot unmarshal into nat.PortMap');
    portBindings[port] = list.map((b: unknown) => {
      const x = obj(b, 'nat.PortBinding');
      return { HostIp: str(x, 'HostIp') ?? '', HostPort: str(x, 'HostPort') ?? '' };
    });
  }
  const cs = h['ConsoleSize'];
  const consoleSize: [number, number] = Array.isArray(cs) && cs.length === 2 && typeof cs[0] === 'number' && typeof cs[1] === 'number' ? [cs[0], cs[1]] : [0, 0];
  const ulimits = Array.isArray(h['Ulimits'])
    ? (h['Ulimits'] as unknown[]).map((u) => {
        const x = obj(u, 'units.Ulimit');
        return { Name: str(x, 'Name') ?? '', Soft: num(x, 'Soft') ?? 0, Hard: num(x, 'Hard') ?? 0 };
      })
    : [];
  const devices = Array.isArray(h['Devices'])
    ? (h['Devices'] as unknown[]).map((u) => {
        const x = obj(u, 'container.DeviceMapping');
        const p = str(x, 'PathOnHost') ?? '';
        return { PathOnHost: p, PathInContainer: str(x, 'PathInContainer') ?? p, CgroupPermissions: str(x, 'CgroupPermissions') ?? 'rwm' };
      })
    : [];
  const mounts = Array.isArray(h['Mounts'])
    ? (h['Mounts'] as unknown[]).map((u): MountSpec => {
        const x = obj(u, 'mount.Mount');
        const m: MountSpec = { Type: str(x, 'Type') ?? '', Source: str(x, 'Source') ?? '', Target: str(x, 'Target') ?? '', ReadOnly: bool(x, 'ReadOnly') ?? false };
        const to = x['TmpfsOptions'];
        if (to !== undefined && to !== null) {
          const t = obj(to, 'mount.TmpfsOptions');
          const size = num(t, 'SizeBytes');
          const mode = num(t, 'Mode');
          m.TmpfsOptions = { ...(size !== undefined ? { SizeBytes: size } : {}), ...(mode !== undefined ? { Mode: mode } : {}) };
        }
        const bo = x['BindOptions'];
        if (bo !== undefined && bo !== null) {
          const prop = str(obj(bo, 'mount.BindOptions'), 'Propagation');
          m.BindOptions = prop !== undefined && prop !== '' ? { Propagation: prop } : {};
        }
        const vo = x['VolumeOptions'];
        if (vo !== undefined && vo !== null) {
          const v = obj(vo, 'mount.VolumeOptions');
          const dc = obj(v['DriverConfig'], 'mount.Driver');
          const labels = strMap(v, 'Labels');
          const dopts = strMap(dc, 'Options');
          const dname = str(dc, 'Name');
          m.VolumeOptions = {
            ...(bool(v, 'NoCopy') === true ? { NoCopy: true } : {}),
            ...(labels !== undefined ? { Labels: labels } : {}),
            ...(dname !== undefined || dopts !== undefined ? { DriverConfig: { ...(dname !== undefined ? { Name: dname } : {}), ...(dopts !== undefined ? { Options: dopts } : {}) } } : {}),
          };
        }
        return m;
      })
    : undefined;
  const host: HostConfigIn = {
    Binds: strs(h, 'Binds') ?? null,
    LogConfig: { Type: logDriver(str(log, 'Type')), Config: strMap(log, 'Config') ?? {} },
    NetworkMode: str(h, 'NetworkMode') || 'default',
    PortBindings: portBindings,
    RestartPolicy: { Name: rpName === '' ? 'no' : rpName, MaximumRetryCount: rpMax },
    AutoRemove: autoRemove,
    VolumesFrom: strs(h, 'VolumesFrom') ?? null,
    CapAdd: strs(h, 'CapAdd') ?? null,
    CapDrop: strs(h, 'CapDrop') ?? null,
    Dns: strs(h, 'Dns') ?? [],
    DnsOptions: strs(h, 'DnsOptions') ?? [],
    DnsSearch: strs(h, 'DnsSearch') ?? [],
    ExtraHosts: strs(h, 'ExtraHosts') ?? null,
    GroupAdd: strs(h, 'GroupAdd') ?? null,
    IpcMode: str(h, 'IpcMode') || 'private',
    PidMode: str(h, 'PidMode') ?? '',
    UTSMode: str(h, 'UTSMode') ?? '',
    Privileged: bool(h, 'Privileged') ?? false,
    PublishAllPorts: bool(h, 'PublishAllPorts') ?? false,
    ReadonlyRootfs: bool(h, 'ReadonlyRootfs') ?? false,
    SecurityOpt: strs(h, 'SecurityOpt') ?? null,
    ShmSize: num(h, 'ShmSize') || 64 * 1024 * 1024,
    Runtime: str(h, 'Runtime') || 'runc',
    ConsoleSize: consoleSize,
    Memory: num(h, 'Memory') ?? 0,
    MemorySwap: num(h, 'MemorySwap') ?? 0,
    MemoryReservation: num(h, 'MemoryReservation') ?? 0,
    NanoCpus: num(h, 'NanoCpus') ?? 0,
    CpuShares: num(h, 'CpuShares') ?? 0,
    CpuPeriod: num(h, 'CpuPeriod') ?? 0,
    CpuQuota: num(h, 'CpuQuota') ?? 0,
    CpusetCpus: str(h, 'CpusetCpus') ?? '',
    CpusetMems: str(h, 'CpusetMems') ?? '',
    PidsLimit: num(h, 'PidsLimit') ?? null,
    Ulimits: ulimits,
    Devices: devices,
    OomScoreAdj: num(h, 'OomScoreAdj') ?? 0,
  };
  const tmpfs = strMap(h, 'Tmpfs');
  if (tmpfs !== undefined) host.Tmpfs = tmpfs;
  const sysctls = strMap(h, 'Sysctls');
  if (sysctls !== undefined) host.Sysctls = sysctls;
  const init = bool(h, 'Init');
  if (init !== undefined) host.Init = init;
  if (mounts !== undefined) host.Mounts = mounts;
  const links = strs(h, 'Links');
  if (links !== undefined && links.length > 0) host.Links = links;
  if (host.Memory > 0 && host.Memory < 6 * 1024 * 1024) throw new InvalidArgumentError('Minimum memory limit allowed is 6MB');
  if (host.NanoCpus < 0) throw new InvalidArgumentError('Range of CPUs is from 0.01 to the number of CPUs available');
  if (host.MemorySwap > 0 && host.Memory > 0 && host.MemorySwap < host.Memory) {
    throw new InvalidArgumentError('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  const nc = obj(o['NetworkingConfig'], 'network.NetworkingConfig');
  const endpoints = obj(nc['EndpointsConfig'], 'map[string]*network.EndpointSettings');
  return { config, host, endpoints };
}

/**
 * The logging driver, by Docker's names. Every file driver is one file
 * (conmon's, CRI's k8s-file lines, rotated by max-size/max-file) read back by
 * `docker logs`; it is reported as "json-file", the name clients key on
 * (docker-py's containers.run returns the output only for json-file or
 * journald). "none" keeps nothing. Drivers that ship logs elsewhere (journald,
 * syslog, fluentd, ...) are not available.
 */
const FILE_DRIVERS = new Set(['json-file', 'local', 'k8s-file']);
function logDriver(name: string | undefined): string {
  if (name === undefined || name === '') return 'json-file';
  if (FILE_DRIVERS.has(name) || name === 'none') return name;
  if (['journald', 'syslog', 'gelf', 'fluentd', 'awslogs', 'splunk', 'etwlogs', 'gcplogs', 'logentries'].includes(name)) {
    throw new InvalidArgumentError(`logging driver "${name}" is not supported by berth (use json-file, local or none)`);
  }
  throw new InvalidArgumentError(`error looking up logging plugin ${name}: plugin "${name}" not found`);
}
