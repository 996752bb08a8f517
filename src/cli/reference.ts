/**
 * Image references as the docker CLI handles them (distribution/reference):
 * normalizing `busybox` to `docker.io/library/busybox`, familiar names for
 * display, and docker's error messages for bad ones.
 */

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DOMAIN = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';

const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}';
const REFERENCE_RE = new RegExp(`^((?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const HEX64_RE = /^[a-f0-9]{64}$/;

export interface NamedRef {
  /** Fully qualified name, e.g. docker.io/library/busybox. */
  readonly name: string;
  readonly domain: string;
  /** Path within the domain, e.g. library/busybox. */
  readonly path: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;
}

export class ReferenceError extends Error {}

function splitDomain(name: string): [string, string] {
  const i = name.indexOf('/');
  let domain: string;
  let rest: string;
  if (i === -1) {
    domain = DEFAULT_DOMAIN;
    rest = name;
  } else {
    const first = name.slice(0, i);
    if (!first.includes('.') && !first.includes(':') && first !== 'localhost' && first.toLowerCase() === first) {
      domain = DEFAULT_DOMAIN;
      rest = name;
    } else {
      domain = first;
      rest = name.slice(i + 1);
    }
  }
  if (domain === LEGACY_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !rest.includes('/')) rest = OFFICIAL_PREFIX + rest;
  return [domain, rest];
}

/** reference.ParseNormalizedNamed. */
export function parseNormalizedNamed(s: string): NamedRef {
  if (HEX64_RE.test(s)) throw new ReferenceError(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  const [domain, remainder] = splitDomain(s);
  const tagSep = remainder.search(/[:@]/);
  const remoteName = tagSep === -1 ? remainder : remainder.slice(0, tagSep);
  if (remoteName.toLowerCase() !== remoteName) throw new ReferenceError(`invalid reference format: repository name (${remoteName}) must be lowercase`);
  const m = REFERENCE_RE.exec(`${domain}/${remainder}`);
  if (m === null) throw new ReferenceError('invalid reference format');
  const name = m[1] as string;
  if (name.length > 255) throw new ReferenceError('repository name must not be more than 255 characters');
  return { name, domain, path: name.slice(domain.length + 1), tag: m[2], digest: m[3] };
}

/** reference.FamiliarName: docker.io/library/x → x, docker.io/u/x → u/x. */
export function familiarName(r: NamedRef): string {
  if (r.domain !== DEFAULT_DOMAIN) return r.name;
  return r.path.startsWith(OFFICIAL_PREFIX) && !r.path.slice(OFFICIAL_PREFIX.length).includes('/') ? r.path.slice(OFFICIAL_PREFIX.length) : r.path;
}

/** reference.FamiliarString: familiar name plus tag/digest. */
export function familiarString(r: NamedRef): string {
  return familiarName(r) + (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');
}

/** Reference.String(): the full form. */
export function fullString(r: NamedRef): string {
  return r.name + (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');
}

/** reference.TagNameOnly: adds `latest` when there is neither tag nor digest. */
export function withDefaultTag(r: NamedRef): NamedRef {
  return r.tag === undefined && r.digest === undefined ? { ...r, tag: 'latest' } : r;
}

/** The `tag` query value the Go client sends for a pull/push. */
export function apiTag(r: NamedRef): string {
  if (r.digest !== undefined) return r.digest;
  return withDefaultTag(r).tag ?? '';
}
