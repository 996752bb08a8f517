/**
 * berthd's command line, with dockerd's flag names. Parsed by hand: the
 * daemon has a dozen flags and no need for a framework.
 */
import { InvalidArgumentError } from '../base/errors.js';
import type { LogLevel } from '../base/log.js';

export interface DaemonConfig {
  hosts: string[];
  dataRoot: string;
  execRoot: string;
  logLevel: LogLevel;
  group: string;
  pidfile: string;
  runtime: string;
  insecureRegistries: string[];
  registryMirrors: string[];
  registryAddr: string | undefined;
  bip: string | undefined;
  /** -b/--bridge: the default bridge's interface name (berth0). */
  bridge: string | undefined;
  defaultAddressPools: string[];
  help: boolean;
  version: boolean;
}

export const DEFAULT_SOCKET = '/run/berth/berth.sock';

export const USAGE = `Usage:	berthd [OPTIONS]

A self-sufficient runtime for containers, speaking the Docker Engine API.

Options:
      --bip string                          Specify network bridge IP (default 10.88.0.1/16)
  -b, --bridge string                       Name of the default bridge interface (default "berth0")
      --data-root string                    Root directory of persistent berth state (default "/var/lib/berth")
  -D, --debug                               Enable debug mode
      --default-address-pool pool-options   Default address pools for node specific local networks
      --exec-root string                    Root directory for execution state files (default "/run/berth")
  -G, --group string                        Group for the unix socket (default "docker")
  -h, --help                                Print usage
  -H, --host list                           Daemon socket(s) to connect to (default unix:///run/berth/berth.sock)
      --insecure-registry list              Enable insecure registry communication
  -l, --log-level string                    Set the logging level ("debug"|"info"|"warn"|"error") (default "info")
  -p, --pidfile string                      Path to use for daemon PID file (default "/run/berth/berthd.pid")
      --registry-addr string                Serve the image store as a registry at HOST:PORT
      --registry-mirror list                Preferred registry mirror
      --runtime string                      OCI runtime binary (default "runc")
  -v, --version                             Print version information and quit
`;

export function parseDaemonArgs(argv: readonly string[]): DaemonConfig {
  const c: DaemonConfig = {
    hosts: [],
    dataRoot: '/var/lib/berth',
    execRoot: '/run/berth',
    logLevel: 'info',
    group: 'docker',
    pidfile: '',
    runtime: 'runc',
    insecureRegistries: [],
    registryMirrors: [],
    registryAddr: undefined,
    bip: undefined,
    bridge: undefined,
    defaultAddressPools: [],
    help: false,
    version: false,
  };
  const args = [...argv];
  while (args.length > 0) {
    const raw = args.shift()!;
    if (!raw.startsWith('-')) throw new InvalidArgumentError(`berthd takes no positional arguments: "${raw}"`);
    let name = raw;
    let inline: string | undefined;
    const eq = raw.indexOf('=');
    if (raw.startsWith('--') && eq !== -1) {
      name = raw.slice(0, eq);
      inline = raw.slice(eq + 1);
    }
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = args.shift();
      if (v === undefined) throw new InvalidArgumentError(`flag needs an argument: ${name}`);
      return v;
    };
    switch (name) {
      case '-H': case '--host': c.hosts.push(value()); break;
      case '--data-root': c.dataRoot = value(); break;
      case '--exec-root': c.execRoot = value(); break;
      case '-l': case '--log-level': {
        const v = value();
        if (v !== 'debug' && v !== 'info' && v !== 'warn' && v !== 'error' && v !== 'fatal') throw new InvalidArgumentError(`unable to parse logging level: ${v}`);
        c.logLevel = v === 'fatal' ? 'error' : v;
        break;
      }
      case '-D': case '--debug': c.logLevel = 'debug'; break;
      case '-G': case '--group': c.group = value(); break;
      case '-p': case '--pidfile': c.pidfile = value(); break;
      case '--runtime': c.runtime = value(); break;
      case '--insecure-registry': c.insecureRegistries.push(value()); break;
      case '--registry-mirror': c.registryMirrors.push(value()); break;
      case '--registry-addr': c.registryAddr = value(); break;
      case '--bip': c.bip = value(); break;
      case '-b': case '--bridge': c.bridge = value(); break;
      case '--default-address-pool': c.defaultAddressPools.push(value()); break;
      case '-h': case '--help': c.help = true; break;
      case '-v': case '--version': c.version = true; break;
      default: throw new InvalidArgumentError(`unknown flag: ${name}`);
    }
  }
  if (c.hosts.length === 0) c.hosts.push(`unix://${DEFAULT_SOCKET.replace('/run/berth', c.execRoot)}`);
  if (c.pidfile === '') c.pidfile = `${c.execRoot}/berthd.pid`;
  return c;
}

/** `unix:///path`, `/path`, `tcp://host:port`. */
export function parseHost(h: string): { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number } {
  if (h.startsWith('unix://')) return { kind: 'unix', path: h.slice(7) };
  if (h.startsWith('/')) return { kind: 'unix', path: h };
  const m = /^(?:tcp:\/\/)?([^:]*):(\d+)$/.exec(h);
  if (m !== null) return { kind: 'tcp', host: m[1] === '' ? '127.0.0.1' : m[1]!, port: Number(m[2]) };
  throw new InvalidArgumentError(`invalid daemon host: ${h}`);
}
