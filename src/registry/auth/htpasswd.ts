/**
 * htpasswd basic auth, as Distribution's `auth.htpasswd`: every listed user
 * gets full access. Only bcrypt entries are accepted (as Distribution).
 * Verified credentials are remembered (by a hash of the header) because
 * Docker sends Basic credentials on every request and bcrypt is slow on
 * purpose.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../../base/log.js';
import { Bcrypt } from './bcrypt.js';
import { basicCredentials, type Access, type Authenticator, type AuthResult } from './types.js';

export class Htpasswd {
  private readonly users = new Map<string, string>();
  private readonly verified = new Map<string, string>();
  private readonly bcrypt = new Bcrypt();

  constructor(text: string, log?: Logger) {
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const i = line.indexOf(':');
      if (i <= 0) continue;
      const user = line.slice(0, i);
      const hash = line.slice(i + 1);
      if (!/^\$2[aby]\$/.test(hash)) {
        log?.warn('htpasswd: ignoring a non-bcrypt entry', { user });
        continue;
      }
      this.users.set(user, hash);
    }
  }

  static fromFile(path: string, log?: Logger): Htpasswd {
    return new Htpasswd(readFileSync(path, 'utf8'), log);
  }

  /** The user when `user:password` is valid. */
  check(user: string, password: string): boolean {
    const hash = this.users.get(user);
    if (hash === undefined) return false;
    const key = createHash('sha256').update(`${user}\0${password}\0${hash}`).digest('base64');
    if (this.verified.get(key) === user) return true;
    if (!this.bcrypt.verify(password, hash)) return false;
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(key, user);
    return true;
  }

  /** Checks a Basic Authorization header. */
  checkHeader(header: string | undefined): string | undefined {
    const c = basicCredentials(header);
    return c !== undefined && this.check(c.user, c.password) ? c.user : undefined;
  }
}

export class HtpasswdAuthenticator implements Authenticator {
  private readonly challenge: string;
  constructor(
    private readonly htpasswd: Htpasswd,
    realm: string,
  ) {
    this.challenge = `Basic realm="${realm.replace(/"/g, '')}"`;
  }
  authenticate(req: IncomingMessage, _access: readonly Access[]): AuthResult {
    const user = this.htpasswd.checkHeader(req.headers.authorization);
    if (user === undefined) return { ok: false, status: 401, challenge: this.challenge };
    return { ok: true, user };
  }
}
