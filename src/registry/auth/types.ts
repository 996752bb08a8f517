/**
 * The auth seam: handlers declare what access a route needs; an
 * Authenticator decides. Docker's scope grammar is used throughout:
 * `repository:<name>:<action>[,<action>]`.
 */
import type { IncomingMessage } from 'node:http';

export type Action = 'pull' | 'push' | 'delete' | '*';

export interface Access {
  type: 'repository' | 'registry';
  name: string;
  actions: Action[];
}

export type AuthResult =
  | { ok: true; user: string | undefined }
  | { ok: false; status: 401 | 403; challenge?: string; detail?: unknown };

export interface Authenticator {
  /** `access` is empty for `/v2/`, which only needs some valid credential. */
  authenticate(req: IncomingMessage, access: readonly Access[]): Promise<AuthResult> | AuthResult;
}

const ACTIONS: ReadonlySet<string> = new Set(['pull', 'push', 'delete', '*']);

export function scopeString(a: Access): string {
  return `${a.type}:${a.name}:${a.actions.join(',')}`;
}

/** Parses `repository:name:pull,push` (names may hold ':' only in a registry host:port, which we do not accept). */
export function parseScope(s: string): Access | undefined {
  const first = s.indexOf(':');
  const last = s.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  const type = s.slice(0, first);
  if (type !== 'repository' && type !== 'registry') return undefined;
  const name = s.slice(first + 1, last);
  const actions = s
    .slice(last + 1)
    .split(',')
    .filter((a): a is Action => ACTIONS.has(a));
  return { type, name, actions };
}

/** Docker's Basic credentials, or undefined. */
export function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  if (header === undefined || !/^basic /i.test(header)) return undefined;
  const raw = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const i = raw.indexOf(':');
  if (i < 0) return undefined;
  return { user: raw.slice(0, i), password: raw.slice(i + 1) };
}
