/**
 * IPv4 addresses and subnets as numbers: parsing Docker's spellings
 * (`10.88.0.1/16` for --bip, `10.89.0.0/16` for --subnet), containment,
 * overlap and the host's routes (a new subnet must not shadow one).
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from '../base/errors.js';

export interface Cidr {
  /** Network address (host bits cleared). */
  readonly base: number;
  readonly prefix: number;
}

export function parseIp(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (m === null) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export function ipString(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** `a.b.c.d/n` → the address as written and the network it lies in. */
export function parseCidr(s: string): { ip: number; net: Cidr } {
  const [a, p] = s.split('/');
  const ip = parseIp(a ?? '');
  const prefix = p === undefined ? 32 : /^\d{1,2}$/.test(p) ? Number(p) : NaN;
  if (ip === undefined || !(prefix >= 0 && prefix <= 32)) throw new InvalidArgumentError(`invalid CIDR address: ${s}`);
  return { ip, net: { base: (ip & mask(prefix)) >>> 0, prefix } };
}

export function cidrString(c: Cidr): string {
  return `${ipString(c.base)}/${c.prefix}`;
}

export function size(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function contains(c: Cidr, ip: number): boolean {
  return ((ip & mask(c.prefix)) >>> 0) === c.base;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(p)) >>> 0) === ((b.base & mask(p)) >>> 0);
}

/** IPv4 routes of the host's main table except the default route (/proc/net/route). */
export function hostRoutes(): Cidr[] {
  let text = '';
  try {
    text = readFileSync('/proc/net/route', 'utf8');
  } catch {
    return [];
  }
  const out: Cidr[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    // Little-endian hex as the kernel prints it.
    const le = (h: string): number => {
      const n = parseInt(h, 16);
      return (((n & 255) << 24) >>> 0) + (((n >>> 8) & 255) << 16) + (((n >>> 16) & 255) << 8) + ((n >>> 24) & 255);
    };
    const dst = le(f[1]!);
    const m = le(f[7]!);
    const prefix = 32 - countZeroBits(m);
    if (prefix === 0) continue;
    out.push({ base: dst, prefix });
  }
  return out;
}

function countZeroBits(m: number): number {
  let n = 0;
  for (let i = 0; i < 32; i++) if (((m >>> i) & 1) === 0) n++;
  return n;
}

/** Docker's MAC for an address: 02:42 followed by the four address bytes. */
export function macFor(ip: number): string {
  return ['02', '42', ...[ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
