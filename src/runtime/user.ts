/**
 * User resolution against the container's own /etc/passwd and /etc/group, as
 * Docker does it (libcontainer's GetExecUser): `name`, `uid`, `name:group`,
 * `uid:gid`; supplementary groups are the groups that list the user as a
 * member, but only when no group was named explicitly.
 *
 * `parseUser` is pure (file contents in, ids out); `resolveUser` is the
 * impure edge that reads the files, resolving symlinks inside the rootfs so
 * an image's `/etc/passwd -> /host/file` cannot make us read the host's.
 */
import { readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError, errnoCode } from '../base/errors.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups from /etc/group membership, then GroupAdd. */
  additionalGids: number[];
  home: string;
  /** The passwd entry's name, when one matched. */
  username?: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const isNumeric = (s: string): boolean => /^\d+$/.test(s);

function parsePasswd(text: string | undefined): PasswdEntry[] {
  if (text === undefined) return [];
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const f = t.split(':');
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (f[0] === undefined || !Number.isInteger(uid) || !Number.isInteger(gid)) continue;
    out.push({ name: f[0], uid, gid, home: f[5] ?? '' });
  }
  return out;
}

function parseGroup(text: string | undefined): GroupEntry[] {
  if (text === undefined) return [];
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const f = t.split(':');
    const gid = Number(f[2]);
    if (f[0] === undefined || !Number.isInteger(gid)) continue;
    out.push({ name: f[0], gid, members: (f[3] ?? '').split(',').filter((m) => m !== '') });
  }
  return out;
}

/**
 * Pure resolution. `passwd`/`group` are the files' contents, or undefined
 * when the image has none (then only numeric ids work, as in Docker).
 */
export function parseUser(passwd: string | undefined, group: string | undefined, userSpec: string, groupAdd: readonly string[] = []): ResolvedUser {
  const spec = userSpec.trim();
  const colon = spec.indexOf(':');
  const userArg = colon < 0 ? spec : spec.slice(0, colon);
  const groupArg = colon < 0 ? '' : spec.slice(colon + 1);
  const users = parsePasswd(passwd);
  const groups = parseGroup(group);

  const res: ResolvedUser = { uid: 0, gid: 0, additionalGids: [], home: '/' };
  let matchedName: string | undefined;
  if (userArg === '') {
    // root by default; still look it up for the home and supplementary groups
    const u = users.find((e) => e.uid === 0);
    if (u !== undefined) {
      matchedName = u.name;
      res.gid = u.gid;
      res.home = u.home || '/';
    }
  } else {
    const u = users.find((e) => e.name === userArg || (isNumeric(userArg) && e.uid === Number(userArg)));
    if (u !== undefined) {
      matchedName = u.name;
      res.uid = u.uid;
      res.gid = u.gid;
      res.home = u.home || '/';
    } else if (isNumeric(userArg)) {
      res.uid = Number(userArg);
    } else {
      throw new InvalidArgumentError(`unable to find user ${userArg}: no matching entries in passwd file`);
    }
  }
  if (matchedName !== undefined) res.username = matchedName;

  if (groupArg !== '') {
    const g = groups.find((e) => e.name === groupArg || (isNumeric(groupArg) && e.gid === Number(groupArg)));
    if (g !== undefined) res.gid = g.gid;
    else if (isNumeric(groupArg)) res.gid = Number(groupArg);
    else throw new InvalidArgumentError(`unable to find group ${groupArg}: no matching entries in group file`);
  } else if (matchedName !== undefined) {
    // supplementary ids only in the implicit form, as libcontainer
    for (const g of groups) if (g.members.includes(matchedName)) res.additionalGids.push(g.gid);
  }

  for (const ga of groupAdd) {
    const g = groups.find((e) => e.name === ga);
    if (g !== undefined) res.additionalGids.push(g.gid);
    else if (isNumeric(ga)) res.additionalGids.push(Number(ga));
    else throw new InvalidArgumentError(`Unable to find group ${ga}: no matching entries in group file`);
  }
  // Docker's getUser (daemon/oci_linux.go) lists the primary group first: `id` shows groups=<gid>,…
  res.additionalGids = [...new Set([res.gid, ...res.additionalGids])];
  return res;
}

/** One mount of a container's filesystem view: what lies at `dest` comes from host path `src`. */
export interface ViewMount {
  readonly dest: string;
  readonly src: string;
  /** Writable (a `:ro` volume or a read-only rootfs is not). */
  readonly rw: boolean;
}

/** The mount a container path falls in (the longest destination that is a prefix; the later of equals) and the host path. */
export function mapInView(view: readonly ViewMount[], parts: readonly string[]): { host: string; mount: ViewMount } {
  let best: ViewMount | undefined;
  let bestLen = -1;
  for (const m of view) {
    const d = m.dest.split('/').filter((x) => x !== '');
    if (d.length < bestLen || d.length > parts.length) continue;
    if (d.every((x, i) => parts[i] === x)) {
      best = m;
      bestLen = d.length;
    }
  }
  if (best === undefined) throw new InvalidArgumentError('no root in the container view');
  return { host: join(best.src, ...parts.slice(bestLen)), mount: best };
}

/**
 * Resolves `p` (absolute, inside the container) to a host path through the
 * container's mounts (its rootfs at `/`, volumes and bind mounts where they
 * sit), following symlinks as if the container's `/` were the root: `..` and
 * absolute links never leave the view, and a path is only ever mapped into a
 * mount's own source. Returns the host path, the container path it ended
 * at, and the mount it lies in.
 */
export async function resolveInView(view: readonly ViewMount[], p: string): Promise<{ host: string; path: string; mount: ViewMount }> {
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  const done: string[] = [];
  let hops = 0;
  while (parts.length > 0) {
    const part = parts.shift() as string;
    if (part === '..') {
      done.pop();
      continue;
    }
    const candidate = mapInView(view, [...done, part]).host;
    let target: string | undefined;
    try {
      target = await readlink(candidate);
    } catch (e) {
      const c = errnoCode(e);
      if (c !== 'EINVAL' && c !== 'ENOENT' && c !== 'ENOTDIR') throw e;
    }
    if (target === undefined) {
      done.push(part);
      continue;
    }
    if (++hops > 40) throw new InvalidArgumentError(`too many symlinks resolving ${p}`);
    const rest = target.split('/').filter((s) => s !== '' && s !== '.');
    if (target.startsWith('/')) done.length = 0;
    parts.unshift(...rest);
  }
  const { host, mount } = mapInView(view, done);
  return { host, path: `/${done.join('/')}`, mount };
}

/**
 * Resolves `p` (absolute, inside the container) to a host path under
 * `root`, following symlinks as if `root` were `/`.
 */
export async function resolveInRoot(root: string, p: string): Promise<string> {
  return (await resolveInView([{ dest: '/', src: root, rw: true }], p)).host;
}

async function readInRoot(root: string, p: string): Promise<string | undefined> {
  try {
    return await readFile(await resolveInRoot(root, p), 'utf8');
  } catch (e) {
    const c = errnoCode(e);
    if (c === 'ENOENT' || c === 'ENOTDIR' || c === 'EISDIR') return undefined;
    throw e;
  }
}

/** Reads the rootfs's /etc/passwd and /etc/group and resolves `userSpec` (Docker's `User`). */
export async function resolveUser(rootfs: string, userSpec: string, groupAdd: readonly string[] = []): Promise<ResolvedUser> {
  const [passwd, group] = await Promise.all([readInRoot(rootfs, '/etc/passwd'), readInRoot(rootfs, '/etc/group')]);
  return parseUser(passwd, group, userSpec, groupAdd);
}
