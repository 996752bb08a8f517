/**
 * Docker token auth. The registry answers 401 with a Bearer challenge
 * naming the scope it needs; the client fetches a JWT from the realm and
 * retries. We verify ES256/RS256 JWTs with node:crypto against one
 * configured key and check that their `access` claims grant the actions.
 *
 * A built-in token server (`TokenIssuer`) can issue such tokens itself to
 * htpasswd users, granting the requested actions that a small ACL allows.
 */
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Htpasswd } from './htpasswd.js';
import { basicCredentials, parseScope, scopeString, type Access, type Action, type Authenticator, type AuthResult } from './types.js';

export type JwtAlg = 'ES256' | 'RS256';

export interface TokenKeys {
  /** Present when we can issue tokens. */
  privateKey?: KeyObject;
  publicKey: KeyObject;
  alg: JwtAlg;
  kid: string;
}

/** Loads a PEM private key (sign + verify), public key or certificate (verify only). */
export function loadTokenKeys(pem: string): TokenKeys {
  let privateKey: KeyObject | undefined;
  let publicKey: KeyObject;
  if (/PRIVATE KEY-----/.test(pem)) {
    privateKey = createPrivateKey(pem);
    publicKey = createPublicKey(privateKey);
  } else {
    publicKey = createPublicKey(pem);
  }
  const t = publicKey.asymmetricKeyType;
  let alg: JwtAlg;
  if (t === 'ec') {
    if (publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new Error('token auth: EC keys must be P-256 (ES256)');
    alg = 'ES256';
  } else if (t === 'rsa') {
    alg = 'RS256';
  } else {
    throw new Error(`token auth: unsupported key type ${String(t)}`);
  }
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const kid = createHash('sha256').update(spki).digest('base64url').slice(0, 32);
  return privateKey !== undefined ? { privateKey, publicKey, alg, kid } : { publicKey, alg, kid };
}

export function loadTokenKeysFile(path: string): TokenKeys {
  return loadTokenKeys(readFileSync(path, 'utf8'));
}

function b64url(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}

export interface AccessClaim {
  type: string;
  name: string;
  actions: string[];
}

export interface TokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  nbf: number;
  iat: number;
  jti: string;
  access: AccessClaim[];
}

export function signJwt(keys: TokenKeys, claims: TokenClaims): string {
  if (keys.privateKey === undefined) throw new Error('token auth: no private key to sign with');
  const input = `${b64url({ typ: 'JWT', alg: keys.alg, kid: keys.kid })}.${b64url(claims)}`;
  const sig = sign('sha256', Buffer.from(input), keys.alg === 'ES256' ? { key: keys.privateKey, dsaEncoding: 'ieee-p1363' } : keys.privateKey);
  return `${input}.${sig.toString('base64url')}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Verifies signature, algorithm, issuer, audience and times; returns the claims or a reason. */
export function verifyJwt(
  keys: TokenKeys,
  token: string,
  expect: { issuer: string; service: string },
  nowSec = Math.floor(Date.now() / 1000),
): { claims: TokenClaims } | { error: string } {
  const parts = token.split('.');
  if (parts.length !== 3) return { error: 'malformed token' };
  const [h, p, s] = parts as [string, string, string];
  let header: unknown;
  let payload: unknown;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
    payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  } catch {
    return { error: 'malformed token' };
  }
  // The key decides the algorithm, never the token: no "alg: none" or HS256-with-a-public-key tricks.
  if (!isRecord(header) || header.alg !== keys.alg) return { error: 'unexpected signing algorithm' };
  const sig = Buffer.from(s, 'base64url');
  const data = Buffer.from(`${h}.${p}`);
  const ok = verify('sha256', data, keys.alg === 'ES256' ? { key: keys.publicKey, dsaEncoding: 'ieee-p1363' } : keys.publicKey, sig);
  if (!ok) return { error: 'invalid token signature' };
  if (!isRecord(payload)) return { error: 'malformed claims' };
  if (payload.iss !== expect.issuer) return { error: 'token issuer mismatch' };
  const aud = payload.aud;
  if (!(aud === expect.service || (Array.isArray(aud) && aud.includes(expect.service)))) return { error: 'token audience mismatch' };
  const leeway = 60;
  if (typeof payload.exp !== 'number' || payload.exp + leeway < nowSec) return { error: 'token expired' };
  if (typeof payload.nbf === 'number' && payload.nbf - leeway > nowSec) return { error: 'token not yet valid' };
  const access: AccessClaim[] = [];
  if (Array.isArray(payload.access)) {
    for (const a of payload.access) {
      if (isRecord(a) && typeof a.type === 'string' && typeof a.name === 'string' && Array.isArray(a.actions)) {
        access.push({ type: a.type, name: a.name, actions: a.actions.filter((x): x is string => typeof x === 'string') });
      }
    }
  }
  return {
    claims: {
      iss: payload.iss,
      sub: typeof payload.sub === 'string' ? payload.sub : '',
      aud: aud as string | string[],
      exp: payload.exp,
      nbf: typeof payload.nbf === 'number' ? payload.nbf : 0,
      iat: typeof payload.iat === 'number' ? payload.iat : 0,
      jti: typeof payload.jti === 'string' ? payload.jti : '',
      access,
    },
  };
}

function granted(claims: TokenClaims, want: Access): boolean {
  return want.actions.every((act) =>
    claims.access.some((a) => a.type === want.type && a.name === want.name && (a.actions.includes(act) || a.actions.includes('*'))),
  );
}

export interface TokenAuthSettings {
  realm: string;
  service: string;
  issuer: string;
}

export class TokenAuthenticator implements Authenticator {
  /** Verified tokens, so repeated requests skip the signature check. */
  private readonly cache = new Map<string, TokenClaims>();
  private readonly base: string;

  constructor(
    private readonly keys: TokenKeys,
    private readonly settings: TokenAuthSettings,
  ) {
    const q = (s: string): string => s.replace(/"/g, '');
    this.base = `Bearer realm="${q(settings.realm)}",service="${q(settings.service)}"`;
  }

  private challenge(access: readonly Access[], error?: string): string {
    let c = this.base;
    if (access.length > 0) c += `,scope="${access.map(scopeString).join(' ')}"`;
    if (error !== undefined) c += `,error="${error}"`;
    return c;
  }

  authenticate(req: IncomingMessage, access: readonly Access[]): AuthResult {
    const h = req.headers.authorization;
    if (h === undefined || !/^bearer /i.test(h)) return { ok: false, status: 401, challenge: this.challenge(access) };
    const token = h.slice(7).trim();
    const now = Math.floor(Date.now() / 1000);
    let claims = this.cache.get(token);
    if (claims !== undefined && claims.exp + 60 < now) {
      this.cache.delete(token);
      claims = undefined;
    }
    if (claims === undefined) {
      const r = verifyJwt(this.keys, token, this.settings, now);
      if ('error' in r) return { ok: false, status: 401, challenge: this.challenge(access, 'invalid_token'), detail: r.error };
      claims = r.claims;
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(token, claims);
    }
    for (const a of access) {
      if (!granted(claims, a)) {
        return { ok: false, status: 401, challenge: this.challenge(access, 'insufficient_scope'), detail: { access: [a] } };
      }
    }
    return { ok: true, user: claims.sub };
  }
}

/** One ACL rule: `account` and `name` are globs (`*` matches anything, `${account}` the user's name). */
export interface AclEntry {
  account: string;
  name: string;
  actions: Action[];
}

function glob(pattern: string, s: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(s);
}

/** The actions of `want` that `acl` allows `account` ('' when anonymous). */
export function allowedActions(acl: readonly AclEntry[] | undefined, account: string, want: Access): Action[] {
  if (acl === undefined) return account === '' ? [] : want.actions; // no ACL: every authenticated user may do everything
  const ok = new Set<Action>();
  for (const e of acl) {
    const acct = e.account === 'anonymous' ? account === '' : account !== '' && glob(e.account, account);
    if (!acct) continue;
    if (!glob(e.name.split('${account}').join(account), want.name)) continue;
    for (const a of e.actions) ok.add(a);
  }
  return want.actions.filter((a) => ok.has(a) || ok.has('*'));
}

export interface IssuerOptions extends TokenAuthSettings {
  keys: TokenKeys;
  htpasswd: Htpasswd;
  acl?: AclEntry[];
  /** Token lifetime in seconds (Distribution's default is 5 minutes). */
  expiration?: number;
}

export type TokenResponse =
  | { ok: true; body: { token: string; access_token: string; expires_in: number; issued_at: string } }
  | { ok: false; status: 401 | 400; message: string };

/** The built-in token server (GET `/token?service=…&scope=…`). */
export class TokenIssuer {
  constructor(private readonly opts: IssuerOptions) {}

  issue(req: IncomingMessage, query: URLSearchParams): TokenResponse {
    const o = this.opts;
    let account = '';
    const creds = basicCredentials(req.headers.authorization);
    if (creds !== undefined) {
      if (!o.htpasswd.check(creds.user, creds.password)) return { ok: false, status: 401, message: 'invalid username or password' };
      account = creds.user;
    }
    const service = query.get('service');
    if (service !== null && service !== o.service) return { ok: false, status: 400, message: `unknown service ${service}` };
    const access: AccessClaim[] = [];
    for (const raw of query.getAll('scope')) {
      for (const one of raw.split(' ')) {
        const want = parseScope(one);
        if (want === undefined) continue;
        const actions = allowedActions(o.acl, account, want);
        access.push({ type: want.type, name: want.name, actions });
      }
    }
    const now = Math.floor(Date.now() / 1000);
    const exp = o.expiration ?? 300;
    const token = signJwt(o.keys, {
      iss: o.issuer,
      sub: account,
      aud: o.service,
      exp: now + exp,
      nbf: now - 1,
      iat: now,
      jti: randomBytes(16).toString('hex'),
      access,
    });
    return { ok: true, body: { token, access_token: token, expires_in: exp, issued_at: new Date(now * 1000).toISOString() } };
  }
}
