/**
 * IPv6 addresses and subnets as 128-bit bigints: parsing (node's isIPv6
 * validates every spelling, including embedded IPv4), the RFC 5952 text
 * form, containment and overlap. Written here because node has no address
 * arithmetic and this is all the IPAM of dual-stack networks needs.
 */
import { isIPv6 } from 'node:net';
import { InvalidArgumentError } from '../base/errors.js';

export interface Cidr6 {
  /** Network address (host bits cleared). */
  readonly base: bigint;
  readonly prefix: number;
}

const ALL = (1n << 128n) - 1n;

export function parseIp6(s: string): bigint | undefined {
  if (!isIPv6(s) || s.includes('%')) return undefined;
  let text = s;
  // A trailing dotted quad stands for the last two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4 !== null) {
    const b = v4.slice(1).map(Number);
    text = `${text.slice(0, v4.index)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  let n = 0n;
  for (const g of groups) n = (n << 16n) | BigInt(parseInt(g, 16));
  return n;
}

/** RFC 5952: lowercase, no leading zeros, the longest run (2+) of zero groups as `::`. */
export function ip6String(n: bigint): string {
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (best === -1) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

export function mask6(prefix: number): bigint {
  return prefix === 0 ? 0n : (ALL << BigInt(128 - prefix)) & ALL;
}

/** `fd00::/64` → the address as written and the network it lies in. */
export function parseCidr6(s: string): { ip: bigint; net: Cidr6 } {
  const i = s.lastIndexOf('/');
  const ip = parseIp6(i === -1 ? s : s.slice(0, i));
  const p = i === -1 ? '128' : s.slice(i + 1);
  const prefix = /^\d{1,3}$/.test(p) ? Number(p) : NaN;
  if (ip === undefined || !(prefix >= 0 && prefix <= 128)) throw new InvalidArgumentError(`invalid CIDR address: ${s}`);
  return { ip, net: { base: ip & mask6(prefix), prefix } };
}

export function cidr6String(c: Cidr6): string {
  return `${ip6String(c.base)}/${c.prefix}`;
}

export function contains6(c: Cidr6, ip: bigint): boolean {
  return (ip & mask6(c.prefix)) === c.base;
}

export function overlaps6(a: Cidr6, b: Cidr6): boolean {
  const m = mask6(Math.min(a.prefix, b.prefix));
  return (a.base & m) === (b.base & m);
}

export function isV6(s: string): boolean {
  return s.includes(':');
}
