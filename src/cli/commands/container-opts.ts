/**
 * The flags `run` and `create` share, and their translation into the
 * POST /containers/create body exactly as the docker CLI 28 builds it
 * (cli/command/container/opts.go): same fields, same key order, same
 * null-vs-empty choices, Go's sorted map keys.
 */
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { posix } from 'node:path';
import type { FlagSpec, ParsedArgs } from '../argv.js';
import { parseBool } from '../argv.js';
import type { CommandContext } from '../context.js';
import { flagValueError, parseCpus, parseGoDuration, parseKvFile, parseRestartPolicy, ramInBytes, validateEnv } from './container-common.js';

export const CONTAINER_FLAGS: readonly FlagSpec[] = [
  { name: 'add-host', type: 'stringArray', varname: 'list', usage: 'Add a custom host-to-IP mapping (host:ip)' },
  { name: 'annotation', type: 'stringArray', varname: 'map', usage: 'Add an annotation to the container (passed through to the OCI runtime)', default: 'map[]', hidden: true }, // API 1.43+: docker hides it against a 1.41 daemon
  { name: 'attach', short: 'a', type: 'stringArray', varname: 'list', usage: 'Attach to STDIN, STDOUT or STDERR' },
  { name: 'blkio-weight', type: 'int', varname: 'uint16', usage: 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)' },
  { name: 'blkio-weight-device', type: 'stringArray', varname: 'list', usage: 'Block IO weight (relative device weight)', default: '[]' },
  { name: 'cap-add', type: 'stringArray', varname: 'list', usage: 'Add Linux capabilities' },
  { name: 'cap-drop', type: 'stringArray', varname: 'list', usage: 'Drop Linux capabilities' },
  { name: 'cgroup-parent', type: 'string', usage: 'Optional parent cgroup for the container' },
  { name: 'cgroupns', type: 'string', usage: "Cgroup namespace to use (host|private)\n'host':    Run the container in the Docker host's cgroup namespace\n'private': Run the container in its own private cgroup namespace\n'':        Use the cgroup namespace as configured by the\n           default-cgroupns-mode option on the daemon (default)" },
  { name: 'cidfile', type: 'string', usage: 'Write the container ID to the file' },
  { name: 'cpu-count', type: 'int', usage: 'CPU count (Windows only)', hidden: true },
  { name: 'cpu-percent', type: 'int', usage: 'CPU percent (Windows only)', hidden: true },
  { name: 'cpu-period', type: 'int', usage: 'Limit CPU CFS (Completely Fair Scheduler) period' },
  { name: 'cpu-quota', type: 'int', usage: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
  { name: 'cpu-rt-period', type: 'int', usage: 'Limit CPU real-time period in microseconds' },
  { name: 'cpu-rt-runtime', type: 'int', usage: 'Limit CPU real-time runtime in microseconds' },
  { name: 'cpu-shares', short: 'c', type: 'int', usage: 'CPU shares (relative weight)' },
  { name: 'cpus', type: 'string', varname: 'decimal', usage: 'Number of CPUs' },
  { name: 'cpuset-cpus', type: 'string', usage: 'CPUs in which to allow execution (0-3, 0,1)' },
  { name: 'cpuset-mems', type: 'string', usage: 'MEMs in which to allow execution (0-3, 0,1)' },
  { name: 'device', type: 'stringArray', varname: 'list', usage: 'Add a host device to the container' },
  { name: 'device-cgroup-rule', type: 'stringArray', varname: 'list', usage: 'Add a rule to the cgroup allowed devices list' },
  { name: 'device-read-bps', type: 'stringArray', varname: 'list', usage: 'Limit read rate (bytes per second) from a device', default: '[]' },
  { name: 'device-read-iops', type: 'stringArray', varname: 'list', usage: 'Limit read rate (IO per second) from a device', default: '[]' },
  { name: 'device-write-bps', type: 'stringArray', varname: 'list', usage: 'Limit write rate (bytes per second) to a device', default: '[]' },
  { name: 'device-write-iops', type: 'stringArray', varname: 'list', usage: 'Limit write rate (IO per second) to a device', default: '[]' },
  { name: 'disable-content-trust', type: 'bool', usage: 'Skip image verification', default: true },
  { name: 'dns', type: 'stringArray', varname: 'list', usage: 'Set custom DNS servers' },
  { name: 'dns-opt', type: 'stringArray', varname: 'list', usage: 'Set DNS options', hidden: true },
  { name: 'dns-option', type: 'stringArray', varname: 'list', usage: 'Set DNS options' },
  { name: 'dns-search', type: 'stringArray', varname: 'list', usage: 'Set custom DNS search domains' },
  { name: 'domainname', type: 'string', usage: 'Container NIS domain name' },
  { name: 'entrypoint', type: 'string', usage: 'Overwrite the default ENTRYPOINT of the image' },
  { name: 'env', short: 'e', type: 'stringArray', varname: 'list', usage: 'Set environment variables' },
  { name: 'env-file', type: 'stringArray', varname: 'list', usage: 'Read in a file of environment variables' },
  { name: 'expose', type: 'stringArray', varname: 'list', usage: 'Expose a port or a range of ports' },
  { name: 'gpus', type: 'stringArray', varname: 'gpu-request', usage: "GPU devices to add to the container ('all' to pass all GPUs)" },
  { name: 'group-add', type: 'stringArray', varname: 'list', usage: 'Add additional groups to join' },
  { name: 'health-cmd', type: 'string', usage: 'Command to run to check health' },
  { name: 'health-interval', type: 'string', varname: 'duration', usage: 'Time between running the check (ms|s|m|h) (default 0s)' },
  { name: 'health-retries', type: 'int', usage: 'Consecutive failures needed to report unhealthy' },
  { name: 'health-start-interval', type: 'string', varname: 'duration', usage: 'Time between running the check during the start period (ms|s|m|h) (default 0s)', hidden: true }, // API 1.44+
  { name: 'health-start-period', type: 'string', varname: 'duration', usage: 'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)' },
  { name: 'health-timeout', type: 'string', varname: 'duration', usage: 'Maximum time to allow one check to run (ms|s|m|h) (default 0s)' },
  { name: 'help', type: 'bool', usage: 'Print usage' },
  { name: 'hostname', short: 'h', type: 'string', usage: 'Container host name' },
  { name: 'init', type: 'bool', usage: 'Run an init inside the container that forwards signals and reaps processes' },
  { name: 'interactive', short: 'i', type: 'bool', usage: 'Keep STDIN open even if not attached' },
  { name: 'io-maxbandwidth', type: 'string', varname: 'bytes', usage: 'Maximum IO bandwidth limit for the system drive (Windows only)', hidden: true },
  { name: 'io-maxiops', type: 'int', varname: 'uint', usage: 'Maximum IOps limit for the system drive (Windows only)', hidden: true },
  { name: 'ip', type: 'string', usage: 'IPv4 address (e.g., 172.30.100.104)' },
  { name: 'ip6', type: 'string', usage: 'IPv6 address (e.g., 2001:db8::33)' },
  { name: 'ipc', type: 'string', usage: 'IPC mode to use' },
  { name: 'isolation', type: 'string', usage: 'Container isolation technology' },
  { name: 'kernel-memory', type: 'string', varname: 'bytes', usage: 'Kernel memory limit' },
  { name: 'label', short: 'l', type: 'stringArray', varname: 'list', usage: 'Set meta data on a container' },
  { name: 'label-file', type: 'stringArray', varname: 'list', usage: 'Read in a line delimited file of labels' },
  { name: 'link', type: 'stringArray', varname: 'list', usage: 'Add link to another container' },
  { name: 'link-local-ip', type: 'stringArray', varname: 'list', usage: 'Container IPv4/IPv6 link-local addresses' },
  { name: 'log-driver', type: 'string', usage: 'Logging driver for the container' },
  { name: 'log-opt', type: 'stringArray', varname: 'list', usage: 'Log driver options' },
  { name: 'mac-address', type: 'string', usage: 'Container MAC address (e.g., 92:d0:c6:0a:29:33)' },
  { name: 'memory', short: 'm', type: 'string', varname: 'bytes', usage: 'Memory limit' },
  { name: 'memory-reservation', type: 'string', varname: 'bytes', usage: 'Memory soft limit' },
  { name: 'memory-swap', type: 'string', varname: 'bytes', usage: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap" },
  { name: 'memory-swappiness', type: 'int', usage: 'Tune container memory swappiness (0 to 100)', default: -1 },
  { name: 'mount', type: 'stringArray', varname: 'mount', usage: 'Attach a filesystem mount to the container' },
  { name: 'name', type: 'string', usage: 'Assign a name to the container' },
  { name: 'net', type: 'stringArray', varname: 'network', usage: 'Connect a container to a network', hidden: true },
  { name: 'net-alias', type: 'stringArray', varname: 'list', usage: 'Add network-scoped alias for the container', hidden: true },
  { name: 'network', type: 'stringArray', varname: 'network', usage: 'Connect a container to a network' },
  { name: 'network-alias', type: 'stringArray', varname: 'list', usage: 'Add network-scoped alias for the container' },
  { name: 'no-healthcheck', type: 'bool', usage: 'Disable any container-specified HEALTHCHECK' },
  { name: 'oom-kill-disable', type: 'bool', usage: 'Disable OOM Killer' },
  { name: 'oom-score-adj', type: 'int', usage: "Tune host's OOM preferences (-1000 to 1000)" },
  { name: 'pid', type: 'string', usage: 'PID namespace to use' },
  { name: 'pids-limit', type: 'int', usage: 'Tune container pids limit (set -1 for unlimited)' },
  { name: 'platform', type: 'string', usage: 'Set platform if server is multi-platform capable' },
  { name: 'privileged', type: 'bool', usage: 'Give extended privileges to this container' },
  { name: 'publish', short: 'p', type: 'stringArray', varname: 'list', usage: "Publish a container's port(s) to the host" },
  { name: 'publish-all', short: 'P', type: 'bool', usage: 'Publish all exposed ports to random ports' },
  { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress the pull output' },
  { name: 'read-only', type: 'bool', usage: "Mount the container's root filesystem as read only" },
  { name: 'restart', type: 'string', usage: 'Restart policy to apply when a container exits', default: 'no' },
  { name: 'rm', type: 'bool', usage: 'Automatically remove the container and its associated anonymous volumes when it exits' },
  { name: 'runtime', type: 'string', usage: 'Runtime to use for this container' },
  { name: 'security-opt', type: 'stringArray', varname: 'list', usage: 'Security Options' },
  { name: 'shm-size', type: 'string', varname: 'bytes', usage: 'Size of /dev/shm' },
  { name: 'stop-signal', type: 'string', usage: 'Signal to stop the container' },
  { name: 'stop-timeout', type: 'int', usage: 'Timeout (in seconds) to stop a container' },
  { name: 'storage-opt', type: 'stringArray', varname: 'list', usage: 'Storage driver options for the container' },
  { name: 'sysctl', type: 'stringArray', varname: 'map', usage: 'Sysctl options', default: 'map[]' },
  { name: 'tmpfs', type: 'stringArray', varname: 'list', usage: 'Mount a tmpfs directory' },
  { name: 'tty', short: 't', type: 'bool', usage: 'Allocate a pseudo-TTY' },
  { name: 'ulimit', type: 'stringArray', varname: 'ulimit', usage: 'Ulimit options', default: '[]' },
  { name: 'use-api-socket', type: 'bool', usage: 'Bind mount Docker API socket and required auth' },
  { name: 'user', short: 'u', type: 'string', usage: 'Username or UID (format: <name|uid>[:<group|gid>])' },
  { name: 'userns', type: 'string', usage: 'User namespace to use' },
  { name: 'uts', type: 'string', usage: 'UTS namespace to use' },
  { name: 'volume', short: 'v', type: 'stringArray', varname: 'list', usage: 'Bind mount a volume' },
  { name: 'volume-driver', type: 'string', usage: 'Optional volume driver for the container' },
  { name: 'volumes-from', type: 'stringArray', varname: 'list', usage: 'Mount volumes from the specified container(s)' },
  { name: 'workdir', short: 'w', type: 'string', usage: 'Working directory inside the container' },
];

/** A parse failure reported as `berth: <msg>\n\nRun 'berth run --help' …` (exit 125). */
export class ParseError extends Error {}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObj = { [k: string]: Json };

function sortedObj<T extends Json>(m: ReadonlyMap<string, T>): { [k: string]: T } {
  const o: { [k: string]: T } = {};
  for (const k of [...m.keys()].sort()) o[k] = m.get(k) as T;
  return o;
}

// ------------------------------------------------------------ ports (go-connections/nat)

function splitProtoPort(raw: string): [string, string] {
  const parts = raw.split('/');
  if (raw === '' || (parts[0] ?? '') === '') return ['', ''];
  if (parts.length === 1) return ['tcp', raw];
  if ((parts[1] ?? '') === '') return ['tcp', parts[0] as string];
  return [parts[1] as string, parts[0] as string];
}

function parsePortRange(s: string): [number, number] {
  if (s === '') throw new Error('empty string specified for ports');
  const one = (x: string): number => {
    if (!/^\d+$/.test(x) || Number(x) > 65535) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(x)}: invalid syntax`);
    return Number(x);
  };
  if (!s.includes('-')) {
    const p = one(s);
    return [p, p];
  }
  const [a = '', b = ''] = s.split('-');
  const start = one(a);
  const end = one(b);
  if (end < start) throw new Error(`invalid range specified for port: ${s}`);
  return [start, end];
}

function isIp(s: string): boolean {
  return /^(\d{1,3}\.){3}\d{1,3}$/.test(s) ? s.split('.').every((x) => Number(x) <= 255) : /^[0-9a-fA-F:.]+$/.test(s) && s.includes(':');
}

interface PortMapping { port: string; hostIp: string; hostPort: string }

function parsePortSpec(raw: string): PortMapping[] {
  const parts = raw.split(':');
  const n = parts.length;
  let containerPort = parts[n - 1] as string;
  let ip = '';
  let hostPort = '';
  if (n === 2) hostPort = parts[0] as string;
  else if (n === 3) [ip, hostPort] = [parts[0] as string, parts[1] as string];
  else if (n > 3) [ip, hostPort] = [parts.slice(0, n - 2).join(':'), parts[n - 2] as string];
  let proto: string;
  [proto, containerPort] = splitProtoPort(containerPort);
  if (ip.startsWith('[')) ip = ip.replace(/^\[|\]$/g, '');
  if (ip !== '' && !isIp(ip)) throw new Error(`invalid IP address: ${ip}`);
  if (containerPort === '') throw new Error(`no port specified: ${raw}<empty>`);
  let start: number; let end: number;
  try { [start, end] = parsePortRange(containerPort); } catch { throw new Error(`invalid containerPort: ${containerPort}`); }
  let hs = 0; let he = 0;
  if (hostPort !== '') {
    try { [hs, he] = parsePortRange(hostPort); } catch { throw new Error(`invalid hostPort: ${hostPort}`); }
  }
  if (hostPort !== '' && end - start !== he - hs && end !== start) throw new Error(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
  proto = proto.toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new Error(`invalid proto: ${proto}`);
  const out: PortMapping[] = [];
  for (let i = 0; i <= end - start; i++) {
    let hp = hostPort === '' ? '' : String(hs + i);
    if (start === end && hs !== he) hp = `${hostPort === '' ? '' : String(hs + i)}-${he}`;
    out.push({ port: `${start + i}/${proto}`, hostIp: ip, hostPort: hp });
  }
  return out;
}

/** convertToStandardNotation: `target=80,published=8080,protocol=udp` → `8080:80/udp`. */
function standardPort(p: string): string {
  if (!p.includes('=')) return p;
  const params = new Map<string, string>([['protocol', 'tcp']]);
  for (const param of p.split(',')) {
    const i = param.indexOf('=');
    if (i <= 0) throw new Error(`invalid publish opts format (should be name=value but got '${param}')`);
    params.set(param.slice(0, i), param.slice(i + 1));
  }
  return `${params.get('published') ?? ''}:${params.get('target') ?? ''}/${params.get('protocol') ?? ''}`;
}

// ------------------------------------------------------------ volumes and mounts

function parseVolumeSpec(spec: string): { source: string; target: string; type: 'bind' | 'volume' } {
  if (spec.length === 0) throw new Error('invalid empty volume spec');
  if (spec.length <= 2) return { source: '', target: spec, type: 'volume' };
  let source = '';
  let target = '';
  const fields = spec.split(':');
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i] as string;
    const last = i === fields.length - 1;
    if (f === '') throw new Error(`invalid spec: ${spec}: empty section between colons`);
    if (source === '' && last) target = f;
    else if (source === '') source = f;
    else if (target === '') target = f;
    else if (!last) throw new Error(`invalid spec: ${spec}: too many colons`);
  }
  const type = source !== '' && /^[./~]/.test(source) ? 'bind' : 'volume';
  return { source, target, type };
}

function parseCsvLine(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (q) {
      if (c === '"' && s[i + 1] === '"') { cur += '"'; i++; } else if (c === '"') q = false; else cur += c;
    } else if (c === '"' && cur === '') q = true;
    else if (c === ',') { out.push(cur); cur = ''; } else cur += c;
  }
  out.push(cur);
  return out;
}

function parseMount(value: string): JsonObj {
  let type = 'volume';
  let source: string | undefined;
  let target = '';
  let readOnly: boolean | undefined;
  let consistency: string | undefined;
  let bind: JsonObj | undefined;
  let volume: { NoCopy?: boolean; Labels: JsonObj; DriverConfig: JsonObj; Subpath?: string } | undefined;
  let image: JsonObj | undefined;
  let tmpfs: JsonObj | undefined;
  const vol = (): NonNullable<typeof volume> => (volume ??= { Labels: {}, DriverConfig: {} });
  const pb = (k: string, v: string): boolean => {
    const b = parseBool(v);
    if (b === undefined) throw new Error(`invalid value for ${k}: ${v}`);
    return b;
  };
  for (const field of parseCsvLine(value)) {
    const eq = field.indexOf('=');
    const key = (eq === -1 ? field : field.slice(0, eq)).toLowerCase();
    const val = eq === -1 ? '' : field.slice(eq + 1);
    if (eq === -1) {
      if (key === 'readonly' || key === 'ro') readOnly = true;
      else if (key === 'volume-nocopy') vol().NoCopy = true;
      else if (key === 'bind-nonrecursive') (bind ??= {})['NonRecursive'] = true;
      else throw new Error(`invalid field '${field}' must be a key=value pair`);
      continue;
    }
    switch (key) {
      case 'type': type = val.toLowerCase(); break;
      case 'source': case 'src': source = !isAbsolute(val) && val.startsWith('.') ? resolvePath(val) : val; break;
      case 'target': case 'dst': case 'destination': target = val; break;
      case 'readonly': case 'ro': readOnly = pb(key, val); break;
      case 'consistency': consistency = val.toLowerCase(); break;
      case 'bind-propagation': (bind ??= {})['Propagation'] = val.toLowerCase(); break;
      case 'bind-nonrecursive': (bind ??= {})['NonRecursive'] = pb(key, val); break;
      case 'bind-recursive':
        if (val === 'disabled') (bind ??= {})['NonRecursive'] = true;
        else if (val === 'writable') (bind ??= {})['ReadOnlyNonRecursive'] = true;
        else if (val === 'readonly') (bind ??= {})['ReadOnlyForceRecursive'] = true;
        else if (val !== 'enabled') throw new Error(`invalid value for ${key}: ${val} (must be "enabled", "disabled", "writable", or "readonly")`);
        break;
      case 'volume-subpath': vol().Subpath = val; break;
      case 'volume-nocopy': vol().NoCopy = pb('volume-nocopy', val); break;
      case 'volume-label': { const [k = '', v = ''] = splitOnce(val, '='); if (k !== '') vol().Labels[k] = v; break; }
      case 'volume-driver': vol().DriverConfig['Name'] = val; break;
      case 'volume-opt': {
        const opts = (vol().DriverConfig['Options'] ??= {}) as JsonObj;
        const [k = '', v = ''] = splitOnce(val, '=');
        if (k !== '') opts[k] = v;
        break;
      }
      case 'image-subpath': (image ??= {})['Subpath'] = val; break;
      case 'tmpfs-size': try { (tmpfs ??= {})['SizeBytes'] = ramInBytes(val); } catch { throw new Error(`invalid value for ${key}: ${val}`); } break;
      case 'tmpfs-mode': if (!/^[0-7]+$/.test(val)) throw new Error(`invalid value for ${key}: ${val}`); (tmpfs ??= {})['Mode'] = parseInt(val, 8); break;
      default: throw new Error(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (type === '') throw new Error('type is required');
  if (target === '') throw new Error('target is required');
  if (volume !== undefined && type !== 'volume') throw new Error(`cannot mix 'volume-*' options with mount type '${type}'`);
  if (image !== undefined && type !== 'image') throw new Error(`cannot mix 'image-*' options with mount type '${type}'`);
  if (bind !== undefined && type !== 'bind') throw new Error(`cannot mix 'bind-*' options with mount type '${type}'`);
  if (tmpfs !== undefined && type !== 'tmpfs') throw new Error(`cannot mix 'tmpfs-*' options with mount type '${type}'`);
  // mount.Mount field order, omitempty everywhere.
  const m: JsonObj = { Type: type };
  if (source !== undefined && source !== '') m['Source'] = source;
  m['Target'] = target;
  if (readOnly === true) m['ReadOnly'] = true;
  if (consistency !== undefined && consistency !== '') m['Consistency'] = consistency;
  if (bind !== undefined) m['BindOptions'] = bind;
  if (volume !== undefined) {
    const v: JsonObj = {};
    if (volume.Subpath !== undefined) v['Subpath'] = volume.Subpath;
    if (volume.NoCopy === true) v['NoCopy'] = true;
    if (Object.keys(volume.Labels).length > 0) v['Labels'] = sortKeys(volume.Labels);
    v['DriverConfig'] = volume.DriverConfig;
    m['VolumeOptions'] = v;
  }
  if (image !== undefined) m['ImageOptions'] = image;
  if (tmpfs !== undefined) m['TmpfsOptions'] = tmpfs;
  return m;
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i === -1 ? [s, undefined] : [s.slice(0, i), s.slice(i + sep.length)];
}

function sortKeys(o: JsonObj): JsonObj {
  const r: JsonObj = {};
  for (const k of Object.keys(o).sort()) r[k] = o[k] as Json;
  return r;
}

// ------------------------------------------------------------ misc validators

const ULIMITS = new Set(['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack']);

function parseUlimit(val: string): { Name: string; Hard: number; Soft: number } {
  const [name, rest] = splitOnce(val, '=');
  if (rest === undefined) throw new Error(`invalid ulimit argument: ${val}`);
  if (!ULIMITS.has(name)) throw new Error(`invalid ulimit type: ${name}`);
  const lim = rest.split(':');
  if (lim.length > 2) throw new Error(`too many limit value arguments - ${rest}, can only have up to two, \`soft[:hard]\``);
  const int = (s: string): number => {
    if (!/^[+-]?\d+$/.test(s)) throw new Error(`strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax`);
    return Number(s);
  };
  const hard = lim.length === 2 ? int(lim[1] as string) : undefined;
  const soft = int(lim[0] as string);
  const h = hard ?? soft;
  if (h !== -1) {
    if (soft === -1) throw new Error(`ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: ${h}`);
    if (soft > h) throw new Error(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${h}`);
  }
  return { Name: name, Hard: h, Soft: soft };
}

function validateExtraHost(val: string): string {
  let [k, v] = splitOnce(val, '=');
  if (v === undefined) [k, v] = splitOnce(val, ':');
  if (v === undefined || k === '' || k.includes(':')) throw new Error(`bad format for add-host: ${JSON.stringify(val)}`);
  if (v !== 'host-gateway') {
    if (v.length > 2 && v.startsWith('[') && v.endsWith(']')) v = v.slice(1, -1);
    if (!isIp(v)) throw new Error(`invalid IP address in add-host: ${JSON.stringify(v)}`);
  }
  return `${k}:${v}`;
}

function validateLabel(value: string): string {
  const key = splitOnce(value, '=')[0].replace(/^[ \t]+/, '');
  if (key === '') throw new Error(`invalid label '${value}': empty name`);
  if (/[ \t]/.test(key)) throw new Error(`label '${key}' contains whitespaces`);
  return value;
}

function validateSysctl(val: string): string {
  const [k, v] = splitOnce(val, '=');
  const ok = ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'];
  if (v === undefined || k === '' || !(ok.includes(k) || k.startsWith('net.') || k.startsWith('fs.mqueue.'))) throw new Error(`sysctl '${val}' is not allowed`);
  return val;
}

function validDeviceMode(mode: string): boolean {
  if (mode === '') return false;
  const seen = new Set<string>();
  for (const c of mode) {
    if (!'rwm'.includes(c) || seen.has(c)) return false;
    seen.add(c);
  }
  return true;
}

function parseDevice(device: string): JsonObj {
  if ((device.match(/:/g) ?? []).length > 2 || device.split(':')[0] === '') throw new Error(`bad format for path: ${device}`);
  const arr = device.split(':');
  let src = arr[0] as string;
  let dst = '';
  let perms = 'rwm';
  if (arr.length === 3) {
    if (!validDeviceMode(arr[2] as string)) throw new Error(`bad mode specified: ${arr[2] ?? ''}`);
    perms = arr[2] as string;
    dst = arr[1] as string;
  } else if (arr.length === 2) {
    if (validDeviceMode(arr[1] as string)) perms = arr[1] as string;
    else dst = arr[1] as string;
  }
  const cpath = dst === '' ? src : dst;
  if (!cpath.startsWith('/')) throw new Error(`${cpath} is not an absolute path`);
  if (arr.length === 1) src = posix.normalize(src);
  return { PathOnHost: src, PathInContainer: dst === '' ? src : dst, CgroupPermissions: perms };
}

function validMode(kind: 'pid' | 'uts' | 'userns' | 'cgroupns', v: string): boolean {
  switch (kind) {
    case 'pid': return v === '' || v === 'host' || (v.startsWith('container:') && v.length > 10);
    case 'uts': return v === '' || v === 'host';
    case 'userns': return v === '' || v === 'host';
    case 'cgroupns': return v === '' || v === 'host' || v === 'private';
  }
}

function isUserDefinedNetwork(n: string): boolean {
  return !['default', 'bridge', 'host', 'none'].includes(n) && !n.startsWith('container:');
}

interface NetAttach {
  target: string;
  aliases: string[];
  driverOpts: Map<string, string> | undefined;
  ipv4: string;
  ipv6: string;
  mac: string;
  linkLocal: string[];
  gwPriority: number;
  links: string[];
}

function parseNetworkOpt(value: string): NetAttach {
  const n: NetAttach = { target: value, aliases: [], driverOpts: undefined, ipv4: '', ipv6: '', mac: '', linkLocal: [], gwPriority: 0, links: [] };
  if (!/\w+=\w+(,\w+=\w+)*/.test(value)) return n;
  n.target = '';
  for (const field of parseCsvLine(value)) {
    const [rk, rv] = splitOnce(field.toLowerCase(), '=');
    if (rv === undefined || rk === '') throw new Error(`invalid field ${field}`);
    const k = rk.trim();
    const v = rv.trim();
    switch (k) {
      case 'name': n.target = v; break;
      case 'alias': n.aliases.push(v); break;
      case 'ip': n.ipv4 = v; break;
      case 'ip6': n.ipv6 = v; break;
      case 'mac-address': n.mac = v; break;
      case 'link-local-ip': n.linkLocal.push(v); break;
      case 'driver-opt': {
        const [dk, dv] = splitOnce(v.toLowerCase(), '=');
        if (dv === undefined || dk === '') throw new Error('invalid key value pair format in driver options');
        (n.driverOpts ??= new Map()).set(dk.trim(), dv.trim());
        break;
      }
      case 'gw-priority':
        if (!/^[+-]?\d+$/.test(v)) throw new Error(`invalid gw-priority (${v}): invalid syntax`);
        n.gwPriority = Number(v);
        break;
      default: throw new Error(`invalid field key ${k}`);
    }
  }
  if (n.target === '') throw new Error('network name/id is not specified');
  return n;
}

function endpointSettings(n: NetAttach): JsonObj {
  if (n.target.trim() === '') throw new Error('no name set for network');
  if (!isUserDefinedNetwork(n.target)) {
    if (n.aliases.length > 0) throw new Error('network-scoped aliases are only supported for user-defined networks');
    if (n.links.length > 0) throw new Error('links are only supported for user-defined networks');
  }
  let ipam: Json = null;
  if (n.ipv4 !== '' || n.ipv6 !== '' || n.linkLocal.length > 0) {
    const o: JsonObj = {};
    if (n.ipv4 !== '') o['IPv4Address'] = n.ipv4;
    if (n.ipv6 !== '') o['IPv6Address'] = n.ipv6;
    if (n.linkLocal.length > 0) o['LinkLocalIPs'] = n.linkLocal;
    ipam = o;
  }
  if (n.mac !== '' && !/^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(n.mac)) throw new Error(`${n.mac} is not a valid mac address`);
  return {
    IPAMConfig: ipam,
    Links: n.links.length > 0 ? n.links : null,
    Aliases: n.aliases.length > 0 ? n.aliases : null,
    MacAddress: n.mac,
    DriverOpts: n.driverOpts !== undefined && n.driverOpts.size > 0 ? sortedObj(n.driverOpts) : null,
    GwPriority: n.gwPriority,
    NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DNSNames: null,
  };
}

// ------------------------------------------------------------ the body

export interface ContainerConfig {
  /** The create body (Config fields, HostConfig, NetworkingConfig). */
  readonly body: JsonObj;
  readonly image: string;
  readonly attachStdin: boolean;
  readonly attachStdout: boolean;
  readonly attachStderr: boolean;
  readonly tty: boolean;
  readonly autoRemove: boolean;
  readonly cidfile: string;
  readonly hasAttachFlag: boolean;
}

/**
 * Values with validators (pflag `Set` errors) are checked first and
 * reported as flag errors; the rest as parse errors, in opts.parse order.
 */
export function parseContainerOptions(ctx: CommandContext, o: ParsedArgs, image: string, args: readonly string[], consoleSize: [number, number]): ContainerConfig {
  // ---- flag-level validation (exit 125 with usage, like pflag)
  const listV = (name: string, label: string, fn: (v: string) => string): string[] => o.strings(name).map((v) => {
    try { return fn(v); } catch (e) { throw flagValueError(ctx, label, v, e instanceof Error ? e.message : String(e)); }
  });
  const oneV = <T>(name: string, label: string, fn: (v: string) => T, dflt: T): T => {
    if (!o.changed(name)) return dflt;
    const v = o.string(name);
    try { return fn(v); } catch (e) { throw flagValueError(ctx, label, v, e instanceof Error ? e.message : String(e)); }
  };
  const attach = listV('attach', '-a, --attach', (v) => {
    const s = v.toLowerCase();
    if (!['stdin', 'stdout', 'stderr'].includes(s)) throw new Error('valid streams are STDIN, STDOUT and STDERR');
    return s;
  });
  const env = listV('env', '-e, --env', (v) => validateEnv(v, ctx.env));
  const labels = listV('label', '-l, --label', validateLabel);
  const extraHosts = listV('add-host', '--add-host', validateExtraHost);
  const dns = listV('dns', '--dns', (v) => {
    if (!isIp(v.trim())) throw new Error(`IP address is not correctly formatted: ${v}`);
    return v.trim();
  });
  const dnsSearch = listV('dns-search', '--dns-search', (v) => {
    const t = v.replace(/^ +| +$/g, '');
    if (t === '.') return t;
    if (!/[a-zA-Z]/.test(t) || !/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*\.?\s*$/.test(t)) throw new Error(`${t} is not a valid domain`);
    return t;
  });
  const links = listV('link', '--link', (v) => {
    if (v === '') throw new Error('empty string specified for links');
    if (v.split(':').length > 2) throw new Error(`bad format for links: ${v}`);
    return v;
  });
  const cgroupRules = listV('device-cgroup-rule', '--device-cgroup-rule', (v) => {
    if (!/^[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}$/.test(v)) throw new Error(`invalid device cgroup format '${v}'`);
    return v;
  });
  const sysctls = new Map<string, string>();
  for (const v of listV('sysctl', '--sysctl', validateSysctl)) {
    const [k, x = ''] = splitOnce(v, '=');
    sysctls.set(k, x);
  }
  const annotations = new Map<string, string>();
  for (const v of o.strings('annotation')) {
    const [k, x = ''] = splitOnce(v, '=');
    annotations.set(k, x);
  }
  const ulimits = new Map<string, { Name: string; Hard: number; Soft: number }>();
  for (const u of listV('ulimit', '--ulimit', (v) => JSON.stringify(parseUlimit(v)))) {
    const p = JSON.parse(u) as { Name: string; Hard: number; Soft: number };
    ulimits.set(p.Name, p);
  }
  const mounts: JsonObj[] = [];
  for (const v of o.strings('mount')) {
    try { mounts.push(parseMount(v)); } catch (e) { throw flagValueError(ctx, '--mount', v, e instanceof Error ? e.message : String(e)); }
  }
  const nets: NetAttach[] = [];
  for (const name of ['net', 'network']) {
    for (const v of o.strings(name)) {
      try { nets.push(parseNetworkOpt(v)); } catch (e) { throw flagValueError(ctx, `--${name}`, v, e instanceof Error ? e.message : String(e)); }
    }
  }
  const aliases = [...o.strings('net-alias'), ...o.strings('network-alias')];
  const memory = oneV('memory', '-m, --memory', ramInBytes, 0);
  const memoryReservation = oneV('memory-reservation', '--memory-reservation', ramInBytes, 0);
  const memorySwap = oneV('memory-swap', '--memory-swap', (v) => (v === '-1' ? -1 : ramInBytes(v)), 0);
  const kernelMemory = oneV('kernel-memory', '--kernel-memory', ramInBytes, 0);
  const shmSize = oneV('shm-size', '--shm-size', ramInBytes, 0);
  const ioMaxBandwidth = oneV('io-maxbandwidth', '--io-maxbandwidth', ramInBytes, 0);
  const nanoCpus = oneV('cpus', '--cpus', parseCpus, 0);
  const dur = (n: string): number => oneV(n, `--${n}`, parseGoDuration, 0);
  const healthInterval = dur('health-interval');
  const healthTimeout = dur('health-timeout');
  const healthStartPeriod = dur('health-start-period');
  const healthStartInterval = dur('health-start-interval');
  const blkioWeight = o.int('blkio-weight');
  if (blkioWeight < 0 || blkioWeight > 65535) throw flagValueError(ctx, '--blkio-weight', String(blkioWeight), `strconv.ParseUint: parsing "${blkioWeight}": value out of range`);

  // ---- opts.parse (errors → "berth: <msg>")
  const fail = (msg: string): never => { throw new ParseError(msg); };
  const attachStdin = attach.includes('stdin') || o.bool('interactive');
  const attachStdout = attach.length === 0 || attach.includes('stdout');
  const attachStderr = attach.length === 0 || attach.includes('stderr');
  const mac = o.string('mac-address');
  if (mac !== '' && !/^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(mac.trim())) fail(`${mac} is not a valid mac address`);
  const swappiness = o.int('memory-swappiness');
  if (swappiness !== -1 && (swappiness < 0 || swappiness > 100)) fail(`invalid value: ${swappiness}. Valid memory swappiness range is 0-100`);

  const volumes = new Map<string, Json>();
  const binds: string[] = [];
  for (const spec of new Set(o.strings('volume'))) {
    let parsed;
    try { parsed = parseVolumeSpec(spec); } catch (e) { return fail(e instanceof Error ? e.message : String(e)); }
    if (parsed.source === '') {
      volumes.set(spec, {});
      continue;
    }
    let toBind = spec;
    if (parsed.type === 'bind') {
      const [host, rest] = splitOnce(spec, ':');
      if (rest !== undefined) toBind = `${!isAbsolute(host) && host.startsWith('.') ? resolvePath(host) : host}:${rest}`;
    }
    binds.push(toBind);
  }

  const tmpfs = new Map<string, string>();
  for (const t of o.strings('tmpfs')) {
    const [k, v = ''] = splitOnce(t, ':');
    tmpfs.set(k, v);
  }

  const cmd: string[] | null = args.length > 0 ? [...args] : null;
  let entrypoint: string[] | null = null;
  if (o.string('entrypoint') !== '') entrypoint = [o.string('entrypoint')];
  else if (o.changed('entrypoint')) entrypoint = [''];

  const exposed = new Map<string, Json>();
  const bindings = new Map<string, Json[]>();
  try {
    for (const raw of o.strings('publish')) {
      for (const pm of parsePortSpec(standardPort(raw))) {
        exposed.set(pm.port, {});
        bindings.set(pm.port, [...(bindings.get(pm.port) ?? []), { HostIp: pm.hostIp, HostPort: pm.hostPort }]);
      }
    }
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  }
  for (const e of o.strings('expose')) {
    if (e.includes(':')) fail(`invalid port format for --expose: ${e}`);
    const [proto, port] = splitProtoPort(e);
    let range: [number, number] = [0, 0];
    try { range = parsePortRange(port); } catch (err) { fail(`invalid range format for --expose: ${e}, error: ${err instanceof Error ? err.message : String(err)}`); }
    for (let p = range[0]; p <= range[1]; p++) {
      const key = `${p}/${proto}`;
      if (!exposed.has(key)) exposed.set(key, {});
    }
  }

  const devices: Json[] = [];
  const cdi: string[] = [];
  for (const d of o.strings('device')) {
    if (/^[a-z0-9.-]+\/[a-z0-9._-]+=\S+$/i.test(d)) { cdi.push(d); continue; }
    try { devices.push(parseDevice(d)); } catch (e) { fail(e instanceof Error ? e.message : String(e)); }
  }

  let envList: string[] | null = null;
  let labelList: string[] = [];
  try {
    // run/create rebuild the env through a map (proxy config), so duplicates collapse.
    const envMap = new Map<string, string>();
    for (const v of env) envMap.set(splitOnce(v, '=')[0], v);
    const files = o.strings('env-file').flatMap((f) => parseKvFile(f, (k) => ctx.env[k]));
    const all = [...files, ...envMap.values()];
    envList = all.length > 0 ? all : null;
    labelList = [...o.strings('label-file').flatMap((f) => parseKvFile(f, undefined)), ...labels];
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  }
  const labelMap = new Map<string, string>();
  for (const l of labelList) {
    const [k, v = ''] = splitOnce(l, '=');
    labelMap.set(k, v);
  }

  if (!validMode('pid', o.string('pid'))) fail('--pid: invalid PID mode');
  if (!validMode('uts', o.string('uts'))) fail('--uts: invalid UTS mode');
  if (!validMode('userns', o.string('userns'))) fail('--userns: invalid USER mode');
  if (!validMode('cgroupns', o.string('cgroupns'))) fail('--cgroupns: invalid CGROUP mode');

  let restart = { Name: '', MaximumRetryCount: 0 };
  try { restart = parseRestartPolicy(o.string('restart')); } catch (e) { fail(e instanceof Error ? e.message : String(e)); }

  const logDriver = o.string('log-driver');
  const logOpts = new Map<string, string>();
  for (const l of o.strings('log-opt')) {
    const [k, v = ''] = splitOnce(l, '=');
    logOpts.set(k, v);
  }
  if (logDriver === 'none' && o.strings('log-opt').length > 0) fail(`invalid logging opts for driver ${logDriver}`);

  let securityOpts: string[] | null = o.strings('security-opt').length > 0 ? [...o.strings('security-opt')] : null;
  for (const opt of securityOpts ?? []) {
    let [k, v] = splitOnce(opt, '=');
    if (v === undefined && k !== 'no-new-privileges') [k, v] = splitOnce(opt, ':');
    if ((v === undefined || v === '') && k !== 'no-new-privileges') fail(`Invalid --security-opt: ${JSON.stringify(opt)}`);
  }
  let maskedPaths: string[] | null = null;
  let readonlyPaths: string[] | null = null;
  if (securityOpts !== null) {
    const filtered = securityOpts.filter((s) => s !== 'systempaths=unconfined');
    if (filtered.length !== securityOpts.length) {
      maskedPaths = [];
      readonlyPaths = [];
    }
    securityOpts = filtered;
  }

  const storageOpts = new Map<string, string>();
  for (const s of o.strings('storage-opt')) {
    const [k, v] = splitOnce(s, '=');
    if (v === undefined) fail('invalid storage option');
    storageOpts.set(k, v ?? '');
  }

  let healthcheck: JsonObj | undefined;
  const haveHealth = o.string('health-cmd') !== '' || healthInterval !== 0 || healthTimeout !== 0 || healthStartPeriod !== 0 || o.int('health-retries') !== 0 || healthStartInterval !== 0;
  if (o.bool('no-healthcheck')) {
    if (haveHealth) fail('--no-healthcheck conflicts with --health-* options');
    healthcheck = { Test: ['NONE'] };
  } else if (haveHealth) {
    if (healthInterval < 0) fail('--health-interval cannot be negative');
    if (healthTimeout < 0) fail('--health-timeout cannot be negative');
    if (o.int('health-retries') < 0) fail('--health-retries cannot be negative');
    if (healthStartPeriod < 0) fail('--health-start-period cannot be negative');
    if (healthStartInterval < 0) fail('--health-start-interval cannot be negative');
    healthcheck = {};
    if (o.string('health-cmd') !== '') healthcheck['Test'] = ['CMD-SHELL', o.string('health-cmd')];
    if (healthInterval !== 0) healthcheck['Interval'] = healthInterval;
    if (healthTimeout !== 0) healthcheck['Timeout'] = healthTimeout;
    if (healthStartPeriod !== 0) healthcheck['StartPeriod'] = healthStartPeriod;
    if (healthStartInterval !== 0) healthcheck['StartInterval'] = healthStartInterval;
    if (o.int('health-retries') !== 0) healthcheck['Retries'] = o.int('health-retries');
  }

  const deviceRequests: Json[] | null = cdi.length > 0 ? [{ Driver: 'cdi', Count: 0, DeviceIDs: cdi, Capabilities: null, Options: null }] : null;

  const autoRemove = o.bool('rm');
  if (autoRemove && !(restart.Name === '' || restart.Name === 'no')) fail('conflicting options: cannot specify both --restart and --rm');

  // ---- networking (parseNetworkOpts)
  const netMode = nets[0]?.target ?? 'default';
  const endpoints = new Map<string, JsonObj>();
  const apply = (n: NetAttach): void => {
    if (n.aliases.length > 0 && aliases.length > 0) fail('conflicting options: cannot specify both --network-alias and per-network alias');
    if (n.links.length > 0 && links.length > 0) fail('conflicting options: cannot specify both --link and per-network links');
    if (n.ipv4 !== '' && o.string('ip') !== '') fail('conflicting options: cannot specify both --ip and per-network IPv4 address');
    if (n.ipv6 !== '' && o.string('ip6') !== '') fail('conflicting options: cannot specify both --ip6 and per-network IPv6 address');
    if (n.mac !== '' && mac !== '') fail('conflicting options: cannot specify both --mac-address and per-network MAC address');
    if (n.linkLocal.length > 0 && o.strings('link-local-ip').length > 0) fail('conflicting options: cannot specify both --link-local-ip and per-network link-local IP addresses');
    if (aliases.length > 0) n.aliases = [...aliases];
    if (isUserDefinedNetwork(n.target) && links.length > 0) n.links = [...links];
    if (o.string('ip') !== '') n.ipv4 = o.string('ip');
    if (o.string('ip6') !== '') n.ipv6 = o.string('ip6');
    if (mac !== '') n.mac = mac;
    if (o.strings('link-local-ip').length > 0) n.linkLocal = [...o.strings('link-local-ip')];
  };
  const wrap = (f: () => JsonObj): JsonObj => {
    try { return f(); } catch (e) { if (e instanceof ParseError) throw e; return fail(e instanceof Error ? e.message : String(e)); }
  };
  if (nets.length === 0) {
    const n: NetAttach = { target: 'default', aliases: [], driverOpts: undefined, ipv4: '', ipv6: '', mac: '', linkLocal: [], gwPriority: 0, links: [] };
    apply(n);
    endpoints.set('default', wrap(() => endpointSettings(n)));
  }
  let hasUser = false;
  let hasNonUser = false;
  nets.forEach((n, i) => {
    if (isUserDefinedNetwork(n.target)) hasUser = true;
    else hasNonUser = true;
    if (i === 0) apply(n);
    const ep = wrap(() => endpointSettings(n));
    if (endpoints.has(n.target)) fail(`network ${JSON.stringify(n.target)} is specified multiple times`);
    // A single network with nothing set gets no endpoint entry at all.
    const empty = ep['IPAMConfig'] === null && ep['Links'] === null && ep['Aliases'] === null && ep['MacAddress'] === '' && ep['DriverOpts'] === null && ep['GwPriority'] === 0;
    if (i === 0 && nets.length === 1 && empty) return;
    endpoints.set(n.target, ep);
  });
  if (hasUser && hasNonUser) fail('conflicting options: cannot attach both user-defined and non-user-defined network-modes');
  const primary = endpoints.get(netMode);
  const configMac = primary !== undefined && typeof primary['MacAddress'] === 'string' ? primary['MacAddress'] : '';

  const capNorm = (caps: readonly string[]): string[] | null => {
    if (caps.length === 0) return null;
    const set = new Set(caps.map((c) => {
      const u = c.toUpperCase();
      return u === 'ALL' || u.startsWith('CAP_') ? u : `CAP_${u}`;
    }));
    return [...set].sort();
  };
  const nullIfEmpty = (a: readonly string[]): string[] | null => (a.length === 0 ? null : [...a]);

  // ---- container.Config
  const body: JsonObj = {
    Hostname: o.string('hostname'),
    Domainname: o.string('domainname'),
    User: o.string('user'),
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
  };
  if (exposed.size > 0) body['ExposedPorts'] = sortedObj(exposed);
  body['Tty'] = o.bool('tty');
  body['OpenStdin'] = o.bool('interactive');
  body['StdinOnce'] = o.bool('interactive') && attachStdin;
  body['Env'] = envList;
  body['Cmd'] = cmd;
  if (healthcheck !== undefined) body['Healthcheck'] = healthcheck;
  body['Image'] = image;
  body['Volumes'] = sortedObj(volumes);
  body['WorkingDir'] = o.string('workdir');
  body['Entrypoint'] = entrypoint;
  if (configMac !== '') body['MacAddress'] = configMac;
  body['OnBuild'] = null;
  body['Labels'] = sortedObj(labelMap);
  if (o.string('stop-signal') !== '') body['StopSignal'] = o.string('stop-signal');
  if (o.changed('stop-timeout')) body['StopTimeout'] = o.int('stop-timeout');

  // ---- container.HostConfig (Resources embedded)
  const hc: JsonObj = {
    Binds: nullIfEmpty(binds),
    ContainerIDFile: o.string('cidfile'),
    LogConfig: { Type: logDriver, Config: sortedObj(logOpts) },
    NetworkMode: netMode,
    PortBindings: sortedObj(bindings),
    RestartPolicy: restart,
    AutoRemove: autoRemove,
    VolumeDriver: o.string('volume-driver'),
    VolumesFrom: nullIfEmpty(o.strings('volumes-from')),
    ConsoleSize: consoleSize,
  };
  if (annotations.size > 0) hc['Annotations'] = sortedObj(annotations);
  Object.assign(hc, {
    CapAdd: capNorm(o.strings('cap-add')),
    CapDrop: capNorm(o.strings('cap-drop')),
    CgroupnsMode: o.string('cgroupns'),
    Dns: dns,
    DnsOptions: [...o.strings('dns-opt'), ...o.strings('dns-option')],
    DnsSearch: dnsSearch,
    ExtraHosts: nullIfEmpty(extraHosts),
    GroupAdd: nullIfEmpty(o.strings('group-add')),
    IpcMode: o.string('ipc'),
    Cgroup: '',
    Links: nullIfEmpty(links),
    OomScoreAdj: o.int('oom-score-adj'),
    PidMode: o.string('pid'),
    Privileged: o.bool('privileged'),
    PublishAllPorts: o.bool('publish-all'),
    ReadonlyRootfs: o.bool('read-only'),
    SecurityOpt: securityOpts !== null && securityOpts.length === 0 && maskedPaths === null ? null : securityOpts,
  });
  if (storageOpts.size > 0) hc['StorageOpt'] = sortedObj(storageOpts);
  if (tmpfs.size > 0) hc['Tmpfs'] = sortedObj(tmpfs);
  Object.assign(hc, { UTSMode: o.string('uts'), UsernsMode: o.string('userns'), ShmSize: shmSize });
  if (sysctls.size > 0) hc['Sysctls'] = sortedObj(sysctls);
  if (o.string('runtime') !== '') hc['Runtime'] = o.string('runtime');
  Object.assign(hc, {
    Isolation: o.string('isolation'),
    CpuShares: o.int('cpu-shares'),
    Memory: memory,
    NanoCpus: nanoCpus,
    CgroupParent: o.string('cgroup-parent'),
    BlkioWeight: blkioWeight,
    BlkioWeightDevice: [],
    BlkioDeviceReadBps: [],
    BlkioDeviceWriteBps: [],
    BlkioDeviceReadIOps: [],
    BlkioDeviceWriteIOps: [],
    CpuPeriod: o.int('cpu-period'),
    CpuQuota: o.int('cpu-quota'),
    CpuRealtimePeriod: o.int('cpu-rt-period'),
    CpuRealtimeRuntime: o.int('cpu-rt-runtime'),
    CpusetCpus: o.string('cpuset-cpus'),
    CpusetMems: o.string('cpuset-mems'),
    Devices: devices,
    DeviceCgroupRules: nullIfEmpty(cgroupRules),
    DeviceRequests: deviceRequests,
  });
  if (kernelMemory !== 0) hc['KernelMemory'] = kernelMemory;
  Object.assign(hc, {
    MemoryReservation: memoryReservation,
    MemorySwap: memorySwap,
    MemorySwappiness: swappiness,
    OomKillDisable: o.bool('oom-kill-disable'),
    PidsLimit: o.int('pids-limit'),
    Ulimits: [...ulimits.keys()].sort().map((k) => ulimits.get(k) as Json),
    CpuCount: o.int('cpu-count'),
    CpuPercent: o.int('cpu-percent'),
    IOMaximumIOps: o.int('io-maxiops'),
    IOMaximumBandwidth: ioMaxBandwidth,
  });
  if (mounts.length > 0) hc['Mounts'] = mounts;
  hc['MaskedPaths'] = maskedPaths;
  hc['ReadonlyPaths'] = readonlyPaths;
  if (o.changed('init')) hc['Init'] = o.bool('init');
  body['HostConfig'] = hc;
  body['NetworkingConfig'] = { EndpointsConfig: sortedObj(endpoints) };

  return {
    body,
    image,
    attachStdin,
    attachStdout,
    attachStderr,
    tty: o.bool('tty'),
    autoRemove,
    cidfile: o.string('cidfile'),
    hasAttachFlag: attach.length > 0,
  };
}
