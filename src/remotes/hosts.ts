/**
 * Where a registry name points: Docker Hub's aliases, mirrors (tried first
 * for Hub pulls), and which hosts may be spoken to without TLS — loopback
 * and those named by `--insecure-registry` (host, host:port or CIDR), as
 * dockerd decides.
 */
import { isIP } from 'node:net';
import { InvalidArgumentError } from '../base/errors.js';
import { DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN } from '../oci/reference.js';

/** Where Docker Hub's API actually lives. */
export const HUB_API_HOST = 'registry-1.docker.io';

export interface Endpoint {
  /** `host[:port]` as used in URLs and as the cache key for auth. */
  readonly host: string;
  /** `https://host[:port]` or `http://…`, plus a mirror's path prefix; no trailing slash. */
  readonly base: string;
  /** May fall back to plain HTTP and skip certificate checks. */
  readonly insecure: boolean;
  readonly mirror: boolean;
}

export interface HostOptions {
  readonly insecureRegistries: readonly string[];
  readonly mirrors: readonly string[];
}

/** `host` of `host:port` / `[v6]:port`, brackets removed. */
export function hostnameOf(hostPort: string): string {
  if (hostPort.startsWith('[')) {
    const end = hostPort.indexOf(']');
    return end === -1 ? hostPort : hostPort.slice(1, end);
  }
  const i = hostPort.lastIndexOf(':');
  return i === -1 || hostPort.indexOf(':') !== i ? hostPort : hostPort.slice(0, i);
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((a, p) => (a << 8) + Number(p), 0) >>> 0;
}

/** Whether an IPv4 address lies in `cidr` (IPv6 CIDRs: only exact-prefix text match). */
export function inCidr(ip: string, cidr: string): boolean {
  const [net, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  if (net === undefined || !Number.isInteger(bits)) return false;
  if (isIP(ip) === 4 && isIP(net) === 4 && bits >= 0 && bits <= 32) {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    return (ipv4ToInt(ip) & mask) === (ipv4ToInt(net) & mask);
  }
  if (isIP(ip) === 6 && isIP(net) === 6 && bits === 128) return ip === net;
  return false;
}

export function isLoopback(hostPort: string): boolean {
  const h = hostnameOf(hostPort).toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1') return true;
  return isIP(h) === 4 && inCidr(h, '127.0.0.0/8');
}

/** Canonical registry host of a reference domain (`docker.io` → Hub's API host). */
export function apiHost(domain: string): string {
  if (domain === DEFAULT_DOMAIN || domain === LEGACY_DEFAULT_DOMAIN) return HUB_API_HOST;
  return domain;
}

/**
 * The registry host of `docker login`'s server address: a bare host, a URL,
 * or Hub's legacy `https://index.docker.io/v1/`.
 */
export function loginHost(serverAddress: string): string {
  let s = serverAddress.trim();
  if (s === '') return HUB_API_HOST;
  s = s.replace(/^https?:\/\//, '');
  s = s.split('/')[0] ?? s;
  if (s === '') throw new InvalidArgumentError(`invalid registry address: ${serverAddress}`);
  return apiHost(s);
}

export class HostResolver {
  constructor(private readonly opts: HostOptions) {}

  isInsecure(host: string): boolean {
    if (isLoopback(host)) return true;
    const name = hostnameOf(host);
    for (const entry of this.opts.insecureRegistries) {
      const e = entry.replace(/^https?:\/\//, '').replace(/\/+$/, '');
      if (e === host || e === name) return true;
      if (e.includes('/') && isIP(name) !== 0 && inCidr(name, e)) return true;
    }
    return false;
  }

  /** Endpoints to try, in order: Hub mirrors first for pulls, then the registry itself. */
  endpoints(domain: string, forPush: boolean): Endpoint[] {
    const host = apiHost(domain);
    const out: Endpoint[] = [];
    if (host === HUB_API_HOST && !forPush) {
      for (const m of this.opts.mirrors) {
        let u: URL;
        try {
          u = new URL(m.includes('://') ? m : `https://${m}`);
        } catch {
          continue;
        }
        const base = `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
        out.push({ host: u.host, base, insecure: u.protocol === 'http:' || this.isInsecure(u.host), mirror: true });
      }
    }
    out.push({ host, base: `https://${host}`, insecure: this.isInsecure(host), mirror: false });
    return out;
  }
}
