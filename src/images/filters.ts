/**
 * `filters=` for image lists and prunes, validated as dockerd does
 * (`Invalid filter 'foo'`), and matched against the in-memory view.
 */
import { InvalidArgumentError } from '../base/errors.js';
import { familiarName, familiarString, parseReference } from '../oci/reference.js';
import type { Image, ImageIndex } from './store.js';

export type Filters = ReadonlyMap<string, readonly string[]>;

export function checkFilters(f: Filters, allowed: readonly string[]): void {
  for (const k of f.keys()) if (!allowed.includes(k)) throw new InvalidArgumentError(`Invalid filter '${k}'`);
}

export function boolFilter(f: Filters, key: string): boolean | undefined {
  const v = f.get(key);
  if (v === undefined || v.length === 0) return undefined;
  const x = v[0]!.toLowerCase();
  if (x === 'true' || x === '1') return true;
  if (x === 'false' || x === '0') return false;
  throw new InvalidArgumentError(`Invalid filter '${key}=[${v.join(' ')}]'`);
}

/** Labels: `key` (present) or `key=value` (equal); all given must match. */
export function matchLabels(labels: Record<string, string> | null | undefined, wanted: readonly string[] | undefined): boolean {
  if (wanted === undefined) return true;
  const l = labels ?? {};
  return wanted.every((w) => {
    const i = w.indexOf('=');
    if (i === -1) return Object.prototype.hasOwnProperty.call(l, w);
    return l[w.slice(0, i)] === w.slice(i + 1);
  });
}

/** Go's path.Match, enough for reference filters (`busybox*`, `user/app:v?`). */
export function globMatch(pattern: string, s: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const j = pattern.indexOf(']', i);
      if (j === -1) throw new InvalidArgumentError('syntax error in pattern');
      re += '[' + pattern.slice(i + 1, j).replace(/^!/, '^').replace(/\\/g, '\\\\') + ']';
      i = j;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(re + '$').test(s);
}

/** Docker's reference filter: the pattern against the familiar name, and name:tag. */
export function matchReference(img: Image, patterns: readonly string[] | undefined): boolean {
  if (patterns === undefined) return true;
  for (const full of [...img.tags, ...img.digests]) {
    const ref = parseReference(full);
    const name = familiarName(ref);
    const withTag = familiarString(ref);
    if (patterns.some((p) => globMatch(p, name) || globMatch(p, withTag))) return true;
  }
  return false;
}

/** `before`/`since`: an image reference whose creation time bounds the result (as dockerd). */
export function timeBound(index: ImageIndex, f: Filters, key: 'before' | 'since'): number | undefined {
  const v = f.get(key);
  if (v === undefined || v.length === 0) return undefined;
  const img = index.resolve(v[0]!);
  return createdMs(img);
}

export function createdMs(img: Image): number {
  const t = Date.parse(img.config.created ?? '');
  return Number.isNaN(t) ? 0 : t;
}
