/**
 * Registry authentication, driven by the registry's 401 challenges
 * (WWW-Authenticate): Basic sends the credentials; Bearer trades them (or
 * nothing, for anonymous pulls) at the challenge's realm for a token scoped
 * to `repository:<name>:<actions>`, cached until it expires.
 */
import { createHash } from 'node:crypto';

/** What X-Registry-Auth carries, reduced to what a registry needs. */
export interface Credentials {
  readonly username?: string;
  readonly password?: string;
  /** An OAuth refresh token from an earlier login. */
  readonly identitytoken?: string;
  /** A bearer token to send as is. */
  readonly registrytoken?: string;
}

/** Normalises Docker's AuthConfig: `auth` is base64 `user:password`. */
export function credentialsFrom(a: { username?: string; password?: string; auth?: string; identitytoken?: string; registrytoken?: string }): Credentials {
  let username = a.username;
  let password = a.password;
  if ((username === undefined || username === '') && a.auth !== undefined && a.auth !== '') {
    const text = Buffer.from(a.auth, 'base64').toString('utf8');
    const i = text.indexOf(':');
    if (i > 0) {
      username = text.slice(0, i);
      password = text.slice(i + 1);
    }
  }
  const out: { username?: string; password?: string; identitytoken?: string; registrytoken?: string } = {};
  if (username !== undefined && username !== '') out.username = username;
  if (password !== undefined && password !== '') out.password = password;
  if (a.identitytoken !== undefined && a.identitytoken !== '') out.identitytoken = a.identitytoken;
  if (a.registrytoken !== undefined && a.registrytoken !== '') out.registrytoken = a.registrytoken;
  return out;
}

export function hasCredentials(c: Credentials): boolean {
  return c.username !== undefined || c.identitytoken !== undefined || c.registrytoken !== undefined;
}

export interface Challenge {
  readonly scheme: 'basic' | 'bearer';
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Parses WWW-Authenticate values: `Bearer realm="…",service="…",scope="…"`
 * or `Basic realm="…"`. Unknown schemes are skipped; quoted strings may
 * contain commas and escaped quotes.
 */
export function parseChallenges(header: string | readonly string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = typeof header === 'string' ? [header] : header;
  const out: Challenge[] = [];
  for (const v of values) {
    let i = 0;
    const s = v;
    let current: { scheme: string; params: Record<string, string> } | undefined;
    const flush = (): void => {
      if (current !== undefined && (current.scheme === 'basic' || current.scheme === 'bearer')) {
        out.push({ scheme: current.scheme, params: current.params });
      }
      current = undefined;
    };
    while (i < s.length) {
      while (i < s.length && (s[i] === ' ' || s[i] === ',' || s[i] === '\t')) i++;
      const m = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+/.exec(s.slice(i));
      if (m === null) break;
      const token = m[0];
      i += token.length;
      while (i < s.length && s[i] === ' ') i++;
      if (s[i] === '=') {
        i++;
        while (i < s.length && s[i] === ' ') i++;
        let value = '';
        if (s[i] === '"') {
          i++;
          while (i < s.length && s[i] !== '"') {
            if (s[i] === '\\' && i + 1 < s.length) i++;
            value += s[i];
            i++;
          }
          i++;
        } else {
          const vm = /^[^,\s]*/.exec(s.slice(i));
          value = vm?.[0] ?? '';
          i += value.length;
        }
        if (current !== undefined) current.params[token.toLowerCase()] = value;
      } else {
        // A bare token starts a new challenge.
        flush();
        current = { scheme: token.toLowerCase(), params: {} };
      }
    }
    flush();
  }
  return out;
}

/** `repository:<path>:<actions>`, the scope a token request names. */
export function repositoryScope(path: string, actions: readonly string[]): string {
  return `repository:${path}:${actions.join(',')}`;
}

interface CachedToken {
  readonly token: string;
  readonly expiresAt: number;
}

/**
 * Bearer tokens keyed by realm, service, scopes and the identity that asked
 * (a hash of its credentials, so two users never share a token).
 */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();
  constructor(private readonly now: () => number = Date.now) {}

  static key(c: Challenge, scopes: readonly string[], creds: Credentials): string {
    const who = createHash('sha256')
      .update(JSON.stringify([creds.username ?? '', creds.password ?? '', creds.identitytoken ?? '']))
      .digest('hex');
    return JSON.stringify([c.params['realm'] ?? '', c.params['service'] ?? '', [...scopes].sort(), who]);
  }

  get(key: string): string | undefined {
    const t = this.tokens.get(key);
    if (t === undefined) return undefined;
    if (t.expiresAt <= this.now()) {
      this.tokens.delete(key);
      return undefined;
    }
    return t.token;
  }

  /** Keeps a token for `expiresInS` (default 60 s, the spec's minimum), less a margin for clock and latency. */
  set(key: string, token: string, expiresInS: number | undefined): void {
    const life = expiresInS !== undefined && expiresInS > 0 ? expiresInS : 60;
    this.tokens.set(key, { token, expiresAt: this.now() + Math.max(1, life - 10) * 1000 });
    if (this.tokens.size > 1024) {
      for (const [k, v] of this.tokens) if (v.expiresAt <= this.now()) this.tokens.delete(k);
    }
  }

  delete(key: string): void {
    this.tokens.delete(key);
  }
}

export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username ?? ''}:${c.password ?? ''}`).toString('base64')}`;
}

/** The token of a token endpoint's reply (`token` or OAuth's `access_token`) and its lifetime. */
export function parseTokenReply(v: unknown): { token: string; expiresIn?: number; refreshToken?: string } | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const token = typeof o['token'] === 'string' && o['token'] !== '' ? o['token'] : typeof o['access_token'] === 'string' ? o['access_token'] : undefined;
  if (token === undefined || token === '') return undefined;
  const out: { token: string; expiresIn?: number; refreshToken?: string } = { token };
  if (typeof o['expires_in'] === 'number' && Number.isFinite(o['expires_in'])) out.expiresIn = o['expires_in'];
  if (typeof o['refresh_token'] === 'string') out.refreshToken = o['refresh_token'];
  return out;
}
