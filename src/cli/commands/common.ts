/** Pieces shared by the image commands: filters, image rows, familiar names. */
import { StatusError } from '../errors.js';
import { truncateId, sortedJson } from '../format.js';
import { asRecord, num, strings, str } from '../narrow.js';
import type { Rec } from '../narrow.js';
import { familiarName, parseNormalizedNamed } from '../reference.js';
import { createdSince, humanSize, humanSizeWithPrecision } from '../units.js';
import type { FlagSpec } from '../argv.js';

export const FORMAT_HELP = `Format output using a custom template:
'table':            Print output in table format with column headers (default)
'table TEMPLATE':   Print output in table format using the given Go template
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template.
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates`;

export const INSPECT_FORMAT_HELP = `Format output using a custom template:
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template.
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates`;

export const FILTER_FLAG: FlagSpec = { name: 'filter', short: 'f', type: 'stringArray', varname: 'filter', usage: 'Filter output based on conditions provided' };

/** opts.FilterOpt: `key=value` pairs → the CLI's map-of-bools JSON. */
export function filtersJson(pairs: readonly string[], extra: ReadonlyArray<[string, string]> = []): string | undefined {
  const m: Record<string, Record<string, boolean>> = {};
  const add = (k: string, v: string): void => {
    (m[k] ??= {})[v] = true;
  };
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i === -1) throw new StatusError(`invalid argument "${p}" for "-f, --filter" flag: bad format of filter (expected name=value)\nSee '--help'.`, 125);
    add(p.slice(0, i).trim().toLowerCase(), p.slice(i + 1).trim());
  }
  for (const [k, v] of extra) add(k, v);
  return Object.keys(m).length === 0 ? undefined : JSON.stringify(m);
}

export const X_REGISTRY_AUTH = 'e30='; // base64url("{}"): anonymous

/** Splits "name:tag" (the tag is after the last ':' that follows the last '/'). */
export function splitTag(ref: string): [string, string | undefined] {
  const at = ref.indexOf('@');
  const base = at === -1 ? ref : ref.slice(0, at);
  const slash = base.lastIndexOf('/');
  const colon = base.lastIndexOf(':');
  if (colon > slash) return [base.slice(0, colon), base.slice(colon + 1)];
  return [base, undefined];
}

function familiar(ref: string): string | undefined {
  try {
    return familiarName(parseNormalizedNamed(ref));
  } catch {
    return undefined;
  }
}

export function isDangling(img: Rec): boolean {
  const tags = strings(img, 'RepoTags');
  const digests = strings(img, 'RepoDigests');
  if (tags.length === 0 && digests.length === 0) return true;
  return tags.length === 1 && tags[0] === '<none>:<none>' && digests.length === 1 && digests[0] === '<none>@<none>';
}

/** One row of `images` (formatter.imageContext); getters are template fields. */
export class ImageContext {
  constructor(private readonly i: Rec, private readonly trunc: boolean, private readonly repo: string, private readonly tag: string, private readonly digest: string) {}
  get ID(): string {
    const id = str(this.i, 'Id');
    return this.trunc ? truncateId(id) : id;
  }
  get Repository(): string { return this.repo; }
  get Tag(): string { return this.tag; }
  get Digest(): string { return this.digest; }
  get CreatedSince(): string { return createdSince(num(this.i, 'Created')); }
  get CreatedAt(): string { return goTimeString(num(this.i, 'Created')); }
  get Size(): string { return humanSizeWithPrecision(num(this.i, 'Size'), 3); }
  get Containers(): string {
    const c = num(this.i, 'Containers', -1);
    return c === -1 ? 'N/A' : String(c);
  }
  get VirtualSize(): string { return humanSize(num(this.i, 'Size')); }
  get SharedSize(): string {
    const s = num(this.i, 'SharedSize', -1);
    return s === -1 ? 'N/A' : humanSize(s);
  }
  get UniqueSize(): string {
    const size = num(this.i, 'Size', -1);
    const shared = num(this.i, 'SharedSize', -1);
    return size === -1 || shared === -1 ? 'N/A' : humanSize(size - shared);
  }
  toJSON(): Record<string, unknown> {
    return sortedJson({
      Containers: this.Containers, CreatedAt: this.CreatedAt, CreatedSince: this.CreatedSince, Digest: this.Digest, ID: this.ID,
      Repository: this.Repository, SharedSize: this.SharedSize, Size: this.Size, Tag: this.Tag, UniqueSize: this.UniqueSize, VirtualSize: this.VirtualSize,
    });
  }
}

export const IMAGE_HEADERS: Readonly<Record<string, string>> = {
  ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT',
  Size: 'SIZE', Containers: 'CONTAINERS', VirtualSize: 'SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE',
};

/** formatter.imageFormat: one row per (repo, tag[, digest]). */
export function imageRows(images: readonly unknown[], trunc: boolean, showDigests: boolean, needDigest: boolean): ImageContext[] {
  const rows: ImageContext[] = [];
  for (const raw of images) {
    const img = asRecord(raw);
    if (isDangling(img)) {
      rows.push(new ImageContext(img, trunc, '<none>', '<none>', '<none>'));
      continue;
    }
    const repoTags = new Map<string, string[]>();
    const repoDigests = new Map<string, string[]>();
    for (const t of strings(img, 'RepoTags')) {
      const [, tag] = splitTag(t);
      const name = familiar(t);
      if (name === undefined || tag === undefined) continue;
      repoTags.set(name, [...(repoTags.get(name) ?? []), tag]);
    }
    for (const d of strings(img, 'RepoDigests')) {
      const at = d.indexOf('@');
      if (at === -1) continue;
      const name = familiar(d);
      if (name === undefined) continue;
      repoDigests.set(name, [...(repoDigests.get(name) ?? []), d.slice(at + 1)]);
    }
    for (const [repo, tags] of repoTags) {
      let digests = repoDigests.get(repo) ?? [];
      repoDigests.delete(repo);
      if (!needDigest) digests = [];
      for (const tag of tags) {
        if (digests.length === 0) rows.push(new ImageContext(img, trunc, repo, tag, '<none>'));
        else for (const d of digests) rows.push(new ImageContext(img, trunc, repo, tag, d));
      }
    }
    for (const [repo, digests] of repoDigests) {
      if (showDigests) for (const d of digests) rows.push(new ImageContext(img, trunc, repo, '<none>', d));
      else rows.push(new ImageContext(img, trunc, repo, '<none>', ''));
    }
  }
  return rows;
}

/** Go's time.Time.String() in the local zone: "2026-11-28 07:16:51 +0000 UTC". */
export function goTimeString(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const off = -d.getTimezoneOffset();
  const local = new Date(d.getTime() + off * 60000);
  const p = (n: number): string => String(n).padStart(2, '0');
  const date = `${local.getUTCFullYear()}-${p(local.getUTCMonth() + 1)}-${p(local.getUTCDate())} ${p(local.getUTCHours())}:${p(local.getUTCMinutes())}:${p(local.getUTCSeconds())}`;
  const sign = off < 0 ? '-' : '+';
  const zoneOff = `${sign}${p(Math.trunc(Math.abs(off) / 60))}${p(Math.abs(off) % 60)}`;
  let abbr = 'UTC';
  if (off !== 0) {
    const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((x) => x.type === 'timeZoneName');
    abbr = part?.value ?? zoneOff;
  }
  return `${date} ${zoneOff} ${abbr}`;
}

/** RFC 3339 in the local zone (Go's time.Format(time.RFC3339)). */
export function goRfc3339(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const off = -d.getTimezoneOffset();
  const local = new Date(d.getTime() + off * 60000);
  const iso = local.toISOString().slice(0, 19);
  if (off === 0) return `${iso}Z`;
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${iso}${off < 0 ? '-' : '+'}${p(Math.trunc(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
}

/** Reads a whole stream (stdin for prompts and `load`). */
export async function readAll(src: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of src) parts.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(parts);
}

/**
 * A container's IMAGE column (the docker CLI's ContainerContext.Image, shared
 * by ps and system df -v): an image given by ID shows as the short ID, a name
 * in its familiar form, when truncating.
 */
export function containerImage(c: Rec, trunc: boolean): string {
  const image = str(c, 'Image');
  if (image === '') return '<no image>';
  if (!trunc) return image;
  const t = truncateId(str(c, 'ImageID'));
  if (t === truncateId(image)) return t;
  try {
    const ref = parseNormalizedNamed(image);
    return ref.tag !== undefined ? `${familiarName(ref)}:${ref.tag}` : familiarName(ref);
  } catch {
    return image;
  }
}
