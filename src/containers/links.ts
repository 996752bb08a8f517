/**
 * Docker's legacy links (`--link name:alias`) as pure functions: the
 * request's spelling, the form inspect shows (`/target:/linker/alias`), and
 * the environment a linking container gets (daemon/links in dockerd 20.10:
 * ALIAS_PORT, ALIAS_PORT_<port>_<PROTO>[_ADDR|_PORT|_PROTO], the
 * _START/_END variables of a run of consecutive ports, ALIAS_NAME and
 * ALIAS_ENV_<var>).
 */
import { InvalidArgumentError } from '../base/errors.js';

/** `name` or `name:alias` (a leading `/` allowed, as dockerd does). */
export function parseLink(spec: string): { name: string; alias: string } {
  const parts = spec.split(':');
  const name = (parts[0] ?? '').replace(/^\//, '');
  const alias = parts.length === 2 ? (parts[1] ?? '') : name;
  if (parts.length > 2 || name === '' || alias === '') throw new InvalidArgumentError(`bad format for links: ${spec}`);
  return { name, alias: alias.replace(/^\//, '') };
}

/** The stored form, as inspect shows it: `/target:/linker/alias`. */
export function linkPath(target: string, linker: string, alias: string): string {
  return `/${target}:/${linker}/${alias}`;
}

/** Back from the stored form: the target's name and the alias. */
export function splitLinkPath(stored: string): { target: string; alias: string } {
  const [t = '', p = ''] = stored.split(':');
  return { target: t.replace(/^\//, ''), alias: p.slice(p.lastIndexOf('/') + 1) };
}

interface Port {
  port: number;
  proto: string;
}

/** dockerd's order: by number, tcp first among equal numbers. */
function sortPorts(ports: Port[]): Port[] {
  return [...ports].sort((a, b) => a.port - b.port || (a.proto === 'tcp' ? -1 : b.proto === 'tcp' ? 1 : 0));
}

/**
 * The index where a run of consecutive port numbers starting at `i` ends.
 * As dockerd: only numbers are compared (8000/tcp, 8001/udp, 8002/tcp is one
 * run), each entry counting as the next number.
 */
function runEnd(ports: Port[], i: number): number {
  let value = ports[i]!.port;
  for (let j = i + 1; j < ports.length; j++) {
    if (ports[j]!.port > value + 1) return j - 1;
    value++;
  }
  return ports.length - 1;
}

/**
 * The variables a container linking to `target` under `alias` gets.
 * `exposed`: the target's ExposedPorts keys (`80/tcp`); `env`: its Env.
 */
export function linkEnv(opts: { alias: string; linker: string; ip: string; exposed: readonly string[]; env: readonly string[] }): string[] {
  const a = opts.alias.toUpperCase().replace(/-/g, '_');
  const ip = opts.ip;
  const ports = sortPorts(
    opts.exposed.map((k) => {
      const [p = '', proto = 'tcp'] = k.split('/');
      return { port: Number(p), proto: proto.toLowerCase() };
    }).filter((p) => Number.isInteger(p.port) && p.port > 0),
  );
  const out: string[] = [];
  const first = ports[0];
  if (first !== undefined) out.push(`${a}_PORT=${first.proto}://${ip}:${first.port}`);
  for (let i = 0; i < ports.length; ) {
    const j = runEnd(ports, i);
    if (j > i) {
      const p = ports[i]!;
      const q = ports[j]!;
      const k = `${a}_PORT_${p.port}_${p.proto.toUpperCase()}`;
      out.push(`${k}_START=${p.proto}://${ip}:${p.port}`, `${k}_ADDR=${ip}`, `${k}_PROTO=${p.proto}`, `${k}_PORT_START=${p.port}`);
      const kq = `${a}_PORT_${p.port}_${q.proto.toUpperCase()}`;
      out.push(`${kq}_END=${q.proto}://${ip}:${q.port}`, `${kq}_PORT_END=${q.port}`);
      i = j + 1;
    } else i++;
  }
  for (const p of ports) {
    const k = `${a}_PORT_${p.port}_${p.proto.toUpperCase()}`;
    out.push(`${k}=${p.proto}://${ip}:${p.port}`, `${k}_ADDR=${ip}`, `${k}_PORT=${p.port}`, `${k}_PROTO=${p.proto}`);
  }
  out.push(`${a}_NAME=/${opts.linker}/${opts.alias}`);
  for (const v of opts.env) {
    const i = v.indexOf('=');
    if (i <= 0) continue;
    const key = v.slice(0, i);
    // dockerd leaves out what builds add and says nothing of the target.
    if (key === 'HOME' || key === 'PATH') continue;
    out.push(`${a}_ENV_${key}=${v.slice(i + 1)}`);
  }
  // A later duplicate (a run's _ADDR/_PROTO and the port's own) says the same: keep one.
  return [...new Set(out)];
}

/** The linking container's /etc/hosts line for a target, as an ExtraHosts entry (`names:ip`). */
export function linkHostEntry(opts: { alias: string; target: string; targetId: string; ip: string }): string {
  const names = opts.alias === opts.target ? `${opts.alias} ${opts.targetId.slice(0, 12)}` : `${opts.alias} ${opts.targetId.slice(0, 12)} ${opts.target}`;
  return `${names}:${opts.ip}`;
}
