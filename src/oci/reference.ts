/**
 * Docker's image reference grammar, after github.com/distribution/reference
 * (the package moby and the docker CLI use). Error texts are Docker's, since
 * clients print them verbatim.
 *
 * The CLI imports this module at startup: keep it free of heavy imports
 * (no zod), only base/digest and base/errors.
 */
import { isDigest, type Digest } from '../base/digest.js';
import { InvalidArgumentError } from '../base/errors.js';

export const DEFAULT_DOMAIN = 'docker.io';
/** The old "Docker Index" name of Docker Hub; canonicalised to DEFAULT_DOMAIN. */
export const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
export const OFFICIAL_REPO_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';
/** Limit on the path (domain excluded), as in distribution/reference >= v0.6. */
export const REPOSITORY_NAME_MAX = 255;

/** A named reference, normalised: `domain` is never empty (docker.io for Hub). */
export interface Reference {
  readonly domain: string;
  /** Remote name without domain, e.g. `library/busybox`. */
  readonly path: string;
  readonly tag?: string;
  readonly digest?: Digest;
}

// --- the grammar (regexp.go), as JS regexps. JS `\w` is ASCII-only like RE2's.
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const optionalPort = '(?::[0-9]+)?';
const tagPat = '[\\w][\\w.-]{0,127}';
const digestPat = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const host = `(?:${domainName}|${ipv6address})`;
const domainAndPort = host + optionalPort;
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const namePat = `(?:${domainAndPort}/)?${remoteName}`;

const REFERENCE_RE = new RegExp(`^(${namePat})(?::(${tagPat}))?(?:@(${digestPat}))?$`);
const ANCHORED_NAME_RE = new RegExp(`^(?:(${domainAndPort})/)?(${remoteName})$`);
const TAG_RE = new RegExp(`^${tagPat}$`);
const REMOTE_NAME_RE = new RegExp(`^${remoteName}$`);
const DOMAIN_RE = new RegExp(`^${domainAndPort}$`);
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;
// go-digest's own (looser) digest shape, used to tell "unsupported" from "invalid".
const GO_DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const HEX_LEN: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

const ERR_FORMAT = 'invalid reference format';
const ERR_NAME_EMPTY = 'repository name must have at least one component';
const ERR_UPPERCASE = 'repository name must be lowercase';
const ERR_TOO_LONG = `repository name must not be more than ${REPOSITORY_NAME_MAX} characters`;

function invalid(msg: string): InvalidArgumentError {
  return new InvalidArgumentError(msg);
}

/**
 * go-digest's `digest.Parse`, with its messages. Berth's Digest type knows
 * sha256 and sha512 only, so sha384 (valid for Docker) reports unsupported.
 */
function parseRefDigest(s: string): Digest {
  const i = s.indexOf(':');
  if (i <= 0 || i + 1 === s.length) throw invalid('invalid checksum digest format');
  const alg = s.slice(0, i);
  const enc = s.slice(i + 1);
  const want = HEX_LEN[alg];
  if (want === undefined) {
    if (!GO_DIGEST_RE.test(s)) throw invalid('invalid checksum digest format');
    throw invalid('unsupported digest algorithm');
  }
  if (enc.length !== want) throw invalid('invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(enc)) throw invalid('invalid checksum digest format');
  if (!isDigest(s)) throw invalid('unsupported digest algorithm');
  return s;
}

/**
 * distribution/reference `Parse`: the raw grammar, no normalisation. The
 * domain is '' when the string has none. Exported for callers that must
 * not normalise (registry names in URLs); most code wants parseReference.
 */
export function parseRawReference(s: string): { domain: string; path: string; tag?: string; digest?: Digest } {
  if (s === '') throw invalid(ERR_NAME_EMPTY);
  const m = REFERENCE_RE.exec(s);
  if (m === null) {
    const lower = s.toLowerCase();
    if (lower !== s && REFERENCE_RE.test(lower)) throw invalid(ERR_UPPERCASE);
    throw invalid(ERR_FORMAT);
  }
  const name = m[1] ?? '';
  const nm = ANCHORED_NAME_RE.exec(name);
  const domain = nm?.[1] ?? '';
  const path = nm?.[2] ?? name;
  if (path.length > REPOSITORY_NAME_MAX) throw invalid(ERR_TOO_LONG);
  const out: { domain: string; path: string; tag?: string; digest?: Digest } = { domain, path };
  if (m[2] !== undefined && m[2] !== '') out.tag = m[2];
  if (m[3] !== undefined && m[3] !== '') out.digest = parseRefDigest(m[3]);
  return out;
}

/**
 * splitDockerDomain: the first component is a domain when it has a `.` or
 * `:`, is `localhost`, or has uppercase (namespaces never do); otherwise the
 * name lives on Docker Hub, where single names are official (`library/`).
 */
function splitDockerDomain(name: string): [domain: string, remainder: string] {
  const slash = name.indexOf('/');
  if (slash === -1) return [DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name];
  const maybeDomain = name.slice(0, slash);
  const rest = name.slice(slash + 1);
  let domain: string;
  let remainder: string;
  if (maybeDomain === 'localhost') [domain, remainder] = [maybeDomain, rest];
  else if (maybeDomain === LEGACY_DEFAULT_DOMAIN) [domain, remainder] = [DEFAULT_DOMAIN, rest];
  else if (/[.:]/.test(maybeDomain)) [domain, remainder] = [maybeDomain, rest];
  else if (maybeDomain.toLowerCase() !== maybeDomain) [domain, remainder] = [maybeDomain, rest];
  else [domain, remainder] = [DEFAULT_DOMAIN, name];
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return [domain, remainder];
}

/**
 * ParseNormalizedNamed: parses what a user types (`busybox`, `user/app:1`,
 * `localhost:5000/a/b@sha256:…`) into a fully qualified reference.
 * A bare 64-hex string is refused: it is an image ID, see parseAnyReference.
 */
export function parseReference(s: string): Reference {
  if (IDENTIFIER_RE.test(s)) {
    throw invalid(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  const [domain, remainder] = splitDockerDomain(s);
  const colon = remainder.indexOf(':');
  // Docker checks case before the grammar, to give the friendlier message.
  const remote = colon === -1 ? remainder : remainder.slice(0, colon);
  if (remote.toLowerCase() !== remote) {
    // dockerd 20.10's wording (newer releases add the name in parentheses).
    throw invalid(`invalid reference format: ${ERR_UPPERCASE}`);
  }
  const raw = parseRawReference(`${domain}/${remainder}`);
  // A first component that looked like a domain but is not one by the
  // grammar (`a_b.c/x`) parses as a domain-less path. Docker then carries an
  // empty domain nobody can pull from; berth refuses it up front.
  if (raw.domain !== domain) throw invalid(ERR_FORMAT);
  return raw;
}

/** Like parseReference, but returns undefined instead of throwing. */
export function tryParseReference(s: string): Reference | undefined {
  try {
    return parseReference(s);
  } catch {
    return undefined;
  }
}

/**
 * ParseDockerRef: normalised, with `:latest` added when neither tag nor
 * digest is given, and the tag dropped when both are (the digest wins).
 */
export function parseDockerRef(s: string): Reference {
  const r = parseReference(s);
  if (r.digest !== undefined) return { domain: r.domain, path: r.path, digest: r.digest };
  return withDefaultTag(r);
}

/** `domain/path`: the name without tag or digest. */
export function repositoryName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The canonical repository name of what a user typed; any tag or digest is dropped. */
export function normalizeName(s: string): string {
  return repositoryName(parseReference(s));
}

/** The reference without tag and digest. */
export function trimReference(ref: Reference): Reference {
  return { domain: ref.domain, path: ref.path };
}

/** The shortest name Docker shows: `docker.io/library/` and `docker.io/` stripped. */
export function familiarName(nameOrRef: string | Reference): string {
  const ref = typeof nameOrRef === 'string' ? parseReference(nameOrRef) : nameOrRef;
  if (ref.domain !== DEFAULT_DOMAIN) return repositoryName(ref);
  if (ref.path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = ref.path.slice(OFFICIAL_REPO_PREFIX.length);
    // Only single-component official names are shortened, as Docker does.
    if (!rest.includes('/')) return rest;
  }
  return ref.path;
}

function suffix(ref: Reference): string {
  return (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

/** `docker.io/library/busybox:1.36@sha256:…` */
export function fullString(ref: Reference): string {
  return repositoryName(ref) + suffix(ref);
}

/** `busybox:1.36@sha256:…` */
export function familiarString(ref: Reference): string {
  return familiarName(ref) + suffix(ref);
}

/** TagNameOnly: adds `:latest` when there is neither tag nor digest. */
export function withDefaultTag(ref: Reference): Reference {
  if (ref.tag !== undefined || ref.digest !== undefined) return ref;
  return { ...ref, tag: DEFAULT_TAG };
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** WithTag: replaces the tag (keeps a digest). */
export function withTag(ref: Reference, tag: string): Reference {
  if (!TAG_RE.test(tag)) throw invalid('invalid tag format');
  return { ...ref, tag };
}

/** WithDigest: sets the digest (keeps a tag). */
export function withDigest(ref: Reference, digest: string): Reference {
  return { ...ref, digest: parseRefDigest(digest) };
}

/** Whether `path` is a valid remote name (`library/busybox`), as in registry URLs. */
export function isValidRepositoryPath(path: string): boolean {
  return path.length <= REPOSITORY_NAME_MAX && REMOTE_NAME_RE.test(path);
}

/** Whether `domain` is a valid registry host[:port]. */
export function isValidDomain(domain: string): boolean {
  return DOMAIN_RE.test(domain);
}

// --- image IDs: not references, but users type them in the same places.

/** A full image ID: 64 lowercase hex, bare or as `sha256:<hex>`. */
export function looksLikeId(s: string): boolean {
  return IDENTIFIER_RE.test(s) || (s.startsWith('sha256:') && IDENTIFIER_RE.test(s.slice(7)));
}

export interface IdOrPrefix {
  /** Lowercase hex, 1..64 characters, without the algorithm. */
  readonly hex: string;
  /** Set when `hex` is a whole ID. */
  readonly digest?: Digest;
}

/**
 * Reads an image ID or a prefix of one (`3f57d9401f8d`, `sha256:3f57…`).
 * Returns undefined when the string cannot be one. A short hex string may
 * also be a valid name (`abc`): Docker looks it up as a name first, then as
 * an ID prefix, and so should callers.
 */
export function parseIdOrPrefix(s: string): IdOrPrefix | undefined {
  const hex = s.startsWith('sha256:') ? s.slice(7) : s;
  if (!/^[a-f0-9]{1,64}$/.test(hex)) return undefined;
  if (hex.length === 64) return { hex, digest: `sha256:${hex}` as Digest };
  return { hex };
}

export type AnyReference = { readonly kind: 'id'; readonly id: Digest } | { readonly kind: 'named'; readonly ref: Reference };

/**
 * ParseAnyReference: a 64-hex ID, a full digest, or a familiar name. Note
 * `sha256:abc` (short) is a name with tag `abc`, as in Docker.
 */
export function parseAnyReference(s: string): AnyReference {
  if (IDENTIFIER_RE.test(s)) return { kind: 'id', id: `sha256:${s}` as Digest };
  if (isDigest(s)) return { kind: 'id', id: s };
  return { kind: 'named', ref: parseReference(s) };
}
