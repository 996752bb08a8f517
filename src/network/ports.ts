/**
 * Published ports: Docker's PortBindings (+ PublishAllPorts over
 * ExposedPorts) turned into concrete host ports. HostPort "" or "0" means
 * "pick one" (REFERENCE §9.6), "8000-8010" means "one free port of the
 * range"; HostIp "" means every interface. Ports berth hands out are
 * tracked so two containers never get the same one, and a candidate is
 * tried with a real bind so a port used by a host process is skipped.
 */
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { ConflictError, InvalidArgumentError } from '../base/errors.js';

export interface PortRequest {
  hostIp: string;
  /** Inclusive range; [0, 0] = any. */
  hostPorts: [number, number];
  containerPort: number;
  proto: 'tcp' | 'udp' | 'sctp';
}

export interface PortMapping {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  proto: 'tcp' | 'udp' | 'sctp';
}

export interface PortInput {
  ExposedPorts?: Record<string, object> | undefined;
  PortBindings: Record<string, { HostIp: string; HostPort: string }[]>;
  PublishAllPorts: boolean;
}

export function parsePortKey(k: string): { port: number; proto: 'tcp' | 'udp' | 'sctp' } {
  const [p = '', proto = 'tcp'] = k.split('/');
  const port = Number(p);
  if (!/^\d+$/.test(p) || port < 1 || port > 65535) throw new InvalidArgumentError(`invalid port specification: "${k}"`);
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') throw new InvalidArgumentError(`invalid proto: ${proto}`);
  return { port, proto };
}

export function portRequests(c: PortInput): PortRequest[] {
  const out: PortRequest[] = [];
  const keys = new Set(Object.keys(c.PortBindings));
  for (const [k, list] of Object.entries(c.PortBindings)) {
    const { port, proto } = parsePortKey(k);
    for (const b of list) {
      let range: [number, number] = [0, 0];
      if (b.HostPort !== '' && b.HostPort !== '0') {
        const m = /^(\d+)(?:-(\d+))?$/.exec(b.HostPort);
        if (m === null) throw new InvalidArgumentError(`invalid hostPort: ${b.HostPort}`);
        const lo = Number(m[1]);
        const hi = m[2] !== undefined ? Number(m[2]) : lo;
        if (lo < 1 || hi > 65535 || hi < lo) throw new InvalidArgumentError(`invalid hostPort: ${b.HostPort}`);
        range = [lo, hi];
      }
      out.push({ hostIp: b.HostIp, hostPorts: range, containerPort: port, proto });
    }
  }
  if (c.PublishAllPorts) {
    for (const k of Object.keys(c.ExposedPorts ?? {})) {
      if (keys.has(k)) continue;
      const { port, proto } = parsePortKey(k);
      out.push({ hostIp: '', hostPorts: [0, 0], containerPort: port, proto });
    }
  }
  return out;
}

function ephemeralRange(): [number, number] {
  try {
    const [a, b] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (a !== undefined && b !== undefined && a > 0 && b >= a) return [a, b];
  } catch {
    // fall through
  }
  return [32768, 60999];
}

function canBind(hostIp: string, port: number, proto: string): Promise<boolean> {
  const host = hostIp === '' ? '0.0.0.0' : hostIp;
  return new Promise((resolve) => {
    if (proto === 'udp') {
      const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      s.once('error', () => resolve(false));
      s.bind({ port, address: host, exclusive: true }, () => s.close(() => resolve(true)));
      return;
    }
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Ports held by berth's running containers: `ip|port|proto` → container. */
export class PortAllocator {
  private readonly held = new Map<string, string>();
  private next = 0;

  private key(ip: string, port: number, proto: string): string {
    return `${ip === '' ? '0.0.0.0' : ip}|${port}|${proto}`;
  }

  private taken(ip: string, port: number, proto: string): string | undefined {
    // A wildcard binding clashes with every address, and every address with a wildcard.
    const exact = this.held.get(this.key(ip, port, proto));
    if (exact !== undefined) return exact;
    if (ip === '' || ip === '0.0.0.0') {
      for (const [k, v] of this.held) if (k.endsWith(`|${port}|${proto}`)) return v;
      return undefined;
    }
    return this.held.get(this.key('', port, proto));
  }

  /** Re-registers mappings known from the database (daemon restart). */
  hold(owner: string, maps: readonly PortMapping[]): void {
    for (const m of maps) this.held.set(this.key(m.hostIp, m.hostPort, m.proto), owner);
  }

  release(owner: string): void {
    for (const [k, v] of this.held) if (v === owner) this.held.delete(k);
  }

  async allocate(owner: string, reqs: readonly PortRequest[]): Promise<PortMapping[]> {
    const out: PortMapping[] = [];
    try {
      for (const r of reqs) {
        let port: number | undefined;
        if (r.hostPorts[0] !== 0 && r.hostPorts[0] === r.hostPorts[1]) {
          const p = r.hostPorts[0];
          if (this.taken(r.hostIp, p, r.proto) !== undefined || !(await canBind(r.hostIp, p, r.proto))) {
            throw new ConflictError(`driver failed programming external connectivity on endpoint: Bind for ${r.hostIp === '' ? '0.0.0.0' : r.hostIp}:${p} failed: port is already allocated`);
          }
          port = p;
        } else {
          const [lo, hi] = r.hostPorts[0] === 0 ? ephemeralRange() : r.hostPorts;
          const span = hi - lo + 1;
          // Docker hands out ephemeral ports in sequence; ranges are tried from their start.
          const start = r.hostPorts[0] === 0 ? (this.next >= lo && this.next <= hi ? this.next : lo) : lo;
          for (let i = 0; i < span; i++) {
            const p = lo + ((start - lo + i) % span);
            if (this.taken(r.hostIp, p, r.proto) !== undefined) continue;
            if (!(await canBind(r.hostIp, p, r.proto))) continue;
            port = p;
            if (r.hostPorts[0] === 0) this.next = p + 1;
            break;
          }
          if (port === undefined) throw new ConflictError(`Bind for ${r.hostIp === '' ? '0.0.0.0' : r.hostIp}:${r.hostPorts.join('-')} failed: port is already allocated`);
        }
        const m: PortMapping = { hostIp: r.hostIp, hostPort: port, containerPort: r.containerPort, proto: r.proto };
        this.held.set(this.key(m.hostIp, m.hostPort, m.proto), owner);
        out.push(m);
      }
    } catch (e) {
      this.release(owner);
      throw e;
    }
    return out;
  }
}
