/**
 * A Docker/OCI distribution client over node:http and node:https.
 *
 * `Registries` is the daemon's one long-lived object (keep-alive agents,
 * learned challenges, token cache, scheme per host); `RepositoryClient` is
 * one repository on one endpoint with one caller's credentials, made per
 * pull or push. Every response is untrusted: manifests are size-limited
 * and digest-checked here, blobs are verified by the caller's content
 * store while they stream.
 */
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import { digestAlgorithm, digestOf, isDigest, type Digest } from '../base/digest.js';
import { CancelledError, ForbiddenError, InternalError, InvalidArgumentError, NotFoundError, UnauthorizedError, UnavailableError, errorMessage, type BerthError } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { MAX_JSON_BYTES, readAllLimited } from '../base/stream.js';
import { MediaType } from '../oci/mediatypes.js';
import { basicHeader, hasCredentials, parseChallenges, parseTokenReply, repositoryScope, TokenCache, type Challenge, type Credentials } from './auth.js';
import { HostResolver, loginHost, type Endpoint, type HostOptions } from './hosts.js';

/** What a pull accepts, best first (as containerd/dockerd send it). */
export const MANIFEST_ACCEPT = [
  MediaType.dockerManifest,
  MediaType.dockerManifestList,
  MediaType.ociManifest,
  MediaType.ociIndex,
].join(', ');

// --- errors -------------------------------------------------------------

/** Descriptions of the distribution spec's error codes, as Go's errcode prints them (lower case). */
const CODE_TEXT: Record<string, string> = {
  BLOB_UNKNOWN: 'blob unknown to registry',
  BLOB_UPLOAD_INVALID: 'blob upload invalid',
  BLOB_UPLOAD_UNKNOWN: 'blob upload unknown to registry',
  DIGEST_INVALID: 'provided digest did not match uploaded content',
  MANIFEST_BLOB_UNKNOWN: 'blob unknown to registry',
  MANIFEST_INVALID: 'manifest invalid',
  MANIFEST_UNKNOWN: 'manifest unknown',
  MANIFEST_UNVERIFIED: 'manifest failed signature verification',
  NAME_INVALID: 'invalid repository name',
  NAME_UNKNOWN: 'repository name not known to registry',
  SIZE_INVALID: 'provided length did not match content length',
  TAG_INVALID: 'manifest tag did not match URI',
  UNAUTHORIZED: 'authentication required',
  DENIED: 'requested access to the resource is denied',
  UNSUPPORTED: 'the operation is unsupported.',
  TOOMANYREQUESTS: 'toomanyrequests',
};

/** A registry's error reply: HTTP status plus the first spec error, printed as dockerd does. */
export class RegistryError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
  ) {
    super(code === '' ? detail : `${CODE_TEXT[code] ?? code.toLowerCase().replace(/_/g, ' ')}: ${detail}`);
    this.name = 'RegistryError';
  }
}

/** Turns a registry error into the taxonomy, keeping its text. */
export function asBerthError(e: RegistryError, message = e.message): BerthError {
  if (e.status === 404) return new NotFoundError(message, { cause: e });
  if (e.status === 401) return new UnauthorizedError(message, { cause: e });
  if (e.status === 403) return new ForbiddenError(message, { cause: e });
  if (e.status === 400) return new InvalidArgumentError(message, { cause: e });
  if (e.status >= 500 || e.status === 429) return new UnavailableError(message, { cause: e });
  return new InternalError(message, { cause: e });
}

async function readErrorBody(res: IncomingMessage): Promise<RegistryError> {
  let body: Buffer = Buffer.alloc(0);
  try {
    body = await readAllLimited(res, 64 * 1024);
  } catch {
    res.destroy();
  }
  const status = res.statusCode ?? 0;
  try {
    const v = JSON.parse(body.toString('utf8')) as unknown;
    if (typeof v === 'object' && v !== null) {
      const errs = (v as Record<string, unknown>)['errors'];
      if (Array.isArray(errs) && errs.length > 0 && typeof errs[0] === 'object' && errs[0] !== null) {
        const e0 = errs[0] as Record<string, unknown>;
        const code = typeof e0['code'] === 'string' ? e0['code'] : '';
        const msg = typeof e0['message'] === 'string' ? e0['message'] : (CODE_TEXT[code] ?? '');
        return new RegistryError(status, code, msg);
      }
      // Token servers: {"details": "..."} or {"error": "..."}.
      const o = v as Record<string, unknown>;
      const d = typeof o['details'] === 'string' ? o['details'] : typeof o['error'] === 'string' ? o['error'] : undefined;
      if (d !== undefined) return new RegistryError(status, '', d);
    }
  } catch {
    /* not JSON */
  }
  const text = body.toString('utf8').trim().slice(0, 200);
  const statusText = `${status} ${res.statusMessage ?? ''}`.trim();
  return new RegistryError(status, '', text !== '' ? `${statusText}: ${text}` : statusText);
}

// --- transport ------------------------------------------------------------

interface SendOptions {
  readonly method: string;
  readonly url: URL;
  readonly headers?: OutgoingHttpHeaders;
  /** A Buffer, or a stream (sent chunked unless content-length is set). */
  readonly body?: Buffer | Readable;
  readonly signal: AbortSignal;
  readonly insecureTls?: boolean;
}

/** The scheme a host speaks, learned once (insecure hosts: HTTPS if it answers, else HTTP). */
type Scheme = 'https:' | 'http:';

export interface RegistriesOptions extends HostOptions {
  readonly log: Logger;
  readonly userAgent?: string;
}

/** The daemon's registry access: hosts, connections, auth state. */
export class Registries {
  readonly hosts: HostResolver;
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 32 });
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 32 });
  private readonly insecureAgent = new HttpsAgent({ keepAlive: true, maxSockets: 32, rejectUnauthorized: false });
  readonly tokens = new TokenCache();
  /** Last challenge per host: lets a session authenticate before its first request. */
  private readonly challenges = new Map<string, Challenge | null>();
  private readonly schemes = new Map<string, Promise<Scheme>>();
  readonly log: Logger;
  private readonly userAgent: string;

  constructor(opts: RegistriesOptions) {
    this.hosts = new HostResolver(opts);
    this.log = opts.log;
    this.userAgent = opts.userAgent ?? 'berth/0.1.0';
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    this.insecureAgent.destroy();
  }

  /** One HTTP exchange, no redirects, no auth. Resolves when the response head arrives. */
  send(o: SendOptions): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      if (o.signal.aborted) {
        reject(new CancelledError('registry request cancelled', { cause: o.signal.reason }));
        return;
      }
      const https = o.url.protocol === 'https:';
      const headers: OutgoingHttpHeaders = { 'user-agent': this.userAgent, ...o.headers };
      if (Buffer.isBuffer(o.body)) headers['content-length'] = o.body.length;
      const opts = {
        method: o.method,
        headers,
        agent: https ? (o.insecureTls === true ? this.insecureAgent : this.httpsAgent) : this.httpAgent,
        signal: o.signal,
      };
      const req = https ? httpsRequest(o.url, opts) : httpRequest(o.url, opts);
      req.on('response', resolve);
      req.on('error', (e) => {
        if (o.signal.aborted) reject(new CancelledError('registry request cancelled', { cause: e }));
        else reject(e);
      });
      const body = o.body;
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        body.on('error', (e) => req.destroy(e));
        body.pipe(req);
      }
    });
  }

  /** The scheme of `ep`: HTTPS, or for an insecure host whichever answers (HTTPS tried first, as dockerd). */
  scheme(ep: Endpoint, signal: AbortSignal): Promise<Scheme> {
    if (!ep.insecure || ep.base.startsWith('http:')) return Promise.resolve(ep.base.startsWith('http:') ? 'http:' : 'https:');
    let p = this.schemes.get(ep.host);
    if (p === undefined) {
      p = (async (): Promise<Scheme> => {
        try {
          const res = await this.send({ method: 'GET', url: new URL(`https://${ep.host}/v2/`), signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]), insecureTls: true });
          res.resume();
          return 'https:';
        } catch {
          return 'http:';
        }
      })();
      this.schemes.set(ep.host, p);
      // A failure to connect at all is not remembered: the registry may come up later.
      void p.then((s) => {
        if (s === 'http:') setTimeout(() => this.schemes.delete(ep.host), 30_000).unref();
      });
    }
    return p;
  }

  async baseUrl(ep: Endpoint, signal: AbortSignal): Promise<string> {
    const s = await this.scheme(ep, signal);
    return ep.base.replace(/^https?:/, s);
  }

  challengeFor(host: string): Challenge | null | undefined {
    return this.challenges.get(host);
  }
  learnChallenge(host: string, res: IncomingMessage): Challenge | undefined {
    const cs = parseChallenges(res.headers['www-authenticate']);
    const c = cs.find((x) => x.scheme === 'bearer') ?? cs.find((x) => x.scheme === 'basic');
    this.challenges.set(host, c ?? null);
    return c;
  }

  /** A token for `scopes` at the challenge's realm. Throws UnauthorizedError when refused. */
  async token(c: Challenge, scopes: readonly string[], creds: Credentials, signal: AbortSignal, insecureTls: boolean): Promise<string> {
    const key = TokenCache.key(c, scopes, creds);
    const have = this.tokens.get(key);
    if (have !== undefined) return have;
    const realm = c.params['realm'];
    if (realm === undefined || realm === '') throw new UnauthorizedError('bearer challenge without a realm');
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new UnauthorizedError(`invalid token realm: ${realm}`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UnauthorizedError(`invalid token realm: ${realm}`);
    const service = c.params['service'];
    let res: IncomingMessage;
    if (creds.identitytoken !== undefined) {
      // OAuth2 refresh-token grant, as dockerd does with an identity token.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identitytoken, client_id: 'berth', access_type: 'offline' });
      if (service !== undefined) form.set('service', service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      res = await this.send({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from(form.toString()), signal, insecureTls });
    } else {
      if (service !== undefined) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      if (creds.username !== undefined) url.searchParams.set('account', creds.username);
      const headers: OutgoingHttpHeaders = {};
      if (creds.username !== undefined) headers['authorization'] = basicHeader(creds);
      res = await this.send({ method: 'GET', url, headers, signal, insecureTls });
    }
    if (res.statusCode !== 200) {
      const e = await readErrorBody(res);
      const why = e.status === 401 ? (e.detail !== '' && e.code === '' ? e.detail : 'incorrect username or password') : e.message;
      throw new UnauthorizedError(why, { cause: e });
    }
    const reply = parseTokenReply(JSON.parse((await readAllLimited(res, 1024 * 1024)).toString('utf8')) as unknown);
    if (reply === undefined) throw new UnauthorizedError(`token endpoint ${url.origin} sent no token`);
    this.tokens.set(key, reply.token, reply.expiresIn);
    return reply.token;
  }

  /** A client for one repository; `endpoint` defaults to the registry itself. */
  repository(domain: string, path: string, creds: Credentials, actions: readonly ('pull' | 'push')[], endpoint?: Endpoint): RepositoryClient {
    const ep = endpoint ?? this.hosts.endpoints(domain, true).at(-1)!;
    return new RepositoryClient(this, ep, path, creds, [repositoryScope(path, actions)]);
  }

  /**
   * `docker login`: checks credentials against the registry's /v2/ (Basic or
   * a token for no scope). Throws UnauthorizedError in dockerd's words.
   */
  async login(serverAddress: string, creds: Credentials, signal: AbortSignal): Promise<void> {
    const host = loginHost(serverAddress);
    const ep = this.hosts.endpoints(host, true).at(-1)!;
    const base = await this.baseUrl(ep, signal);
    const url = new URL(`${base}/v2/`);
    const insecureTls = ep.insecure;
    let res: IncomingMessage;
    try {
      res = await this.send({ method: 'GET', url, signal, insecureTls });
    } catch (e) {
      throw new UnavailableError(`Get "${url.href}": ${errorMessage(e)}`, { cause: e });
    }
    if (res.statusCode === 200) {
      res.resume();
      return;
    }
    if (res.statusCode !== 401) {
      const e = await readErrorBody(res);
      throw new UnavailableError(`Get "${url.href}": ${e.message}`);
    }
    res.resume();
    const c = this.learnChallenge(ep.host, res);
    if (c === undefined) throw new UnauthorizedError(`login attempt to ${url.href} failed with status: 401 Unauthorized`);
    let auth: string;
    if (c.scheme === 'basic') {
      if (!hasCredentials(creds)) throw new UnauthorizedError('no basic auth credentials');
      auth = basicHeader(creds);
    } else {
      try {
        auth = `Bearer ${await this.token(c, [], creds, signal, insecureTls)}`;
      } catch (e) {
        throw new UnauthorizedError(`Get "${url.href}": unauthorized: ${errorMessage(e)}`, { cause: e });
      }
    }
    const again = await this.send({ method: 'GET', url, headers: { authorization: auth }, signal, insecureTls });
    again.resume();
    if (again.statusCode !== 200) {
      throw new UnauthorizedError(`login attempt to ${url.href} failed with status: ${again.statusCode ?? 0} ${again.statusMessage ?? ''}`.trim());
    }
  }
}

// --- one repository -----------------------------------------------------------

export interface FetchedManifest {
  readonly bytes: Buffer;
  /** Content-Type, which parseManifestAny checks against the body. */
  readonly mediaType: string;
  readonly digest: Digest;
}

interface Call {
  readonly method: string;
  /** Path under the base (`/v2/...`) or an absolute URL (upload locations). */
  readonly target: string;
  readonly headers?: OutgoingHttpHeaders;
  /** A stream body cannot be replayed: authenticate first (see `ensureAuth`). */
  readonly body?: Buffer | (() => Readable);
  /** False when `body` returns the same one-shot stream each time. */
  readonly replayable?: boolean;
  readonly signal: AbortSignal;
  readonly followRedirects?: boolean;
}

export class RepositoryClient {
  constructor(
    private readonly reg: Registries,
    readonly endpoint: Endpoint,
    readonly path: string,
    private readonly creds: Credentials,
    private scopes: string[],
  ) {}

  /** Adds `repository:<from>:pull` for cross-repository mounts. */
  addScope(scope: string): void {
    if (!this.scopes.includes(scope)) this.scopes = [...this.scopes, scope];
  }

  private async authorization(signal: AbortSignal): Promise<string | undefined> {
    if (this.creds.registrytoken !== undefined) return `Bearer ${this.creds.registrytoken}`;
    const c = this.reg.challengeFor(this.endpoint.host);
    if (c === undefined || c === null) return undefined;
    if (c.scheme === 'basic') return hasCredentials(this.creds) ? basicHeader(this.creds) : undefined;
    return `Bearer ${await this.reg.token(c, this.scopes, this.creds, signal, this.endpoint.insecure)}`;
  }

  private async url(target: string, signal: AbortSignal): Promise<URL> {
    if (/^https?:\/\//.test(target)) return new URL(target);
    return new URL(`${await this.reg.baseUrl(this.endpoint, signal)}${target}`);
  }

  /**
   * One call with auth: a 401 teaches the challenge and the call is retried
   * once with fresh credentials. Redirects (blob storage) are followed
   * without the Authorization header when they leave the origin.
   */
  async call(c: Call): Promise<IncomingMessage> {
    let url = await this.url(c.target, c.signal);
    for (let attempt = 0; ; attempt++) {
      const auth = await this.authorization(c.signal);
      const headers: OutgoingHttpHeaders = { ...c.headers };
      if (auth !== undefined) headers['authorization'] = auth;
      const body = typeof c.body === 'function' ? c.body() : c.body;
      let res: IncomingMessage;
      try {
        res = await this.reg.send({ method: c.method, url, headers, ...(body !== undefined ? { body } : {}), signal: c.signal, insecureTls: this.endpoint.insecure });
      } catch (e) {
        if (e instanceof CancelledError) throw e;
        throw new UnavailableError(`${goMethod(c.method)} "${url.href}": ${errorMessage(e)}`, { cause: e });
      }
      if (res.statusCode === 401 && attempt === 0 && c.replayable !== false) {
        res.resume();
        if (body !== undefined && !Buffer.isBuffer(body)) body.destroy();
        const ch = this.reg.learnChallenge(this.endpoint.host, res);
        if (ch === undefined) return res;
        if (ch.scheme === 'basic' && !hasCredentials(this.creds)) throw new UnauthorizedError('no basic auth credentials');
        // A stale token: forget it so the retry asks again.
        if (ch.scheme === 'bearer') this.reg.tokens.delete(TokenCache.key(ch, this.scopes, this.creds));
        continue;
      }
      if (c.followRedirects === true && res.statusCode !== undefined && [301, 302, 303, 307, 308].includes(res.statusCode) && res.headers.location !== undefined) {
        res.resume();
        return this.followRedirect(new URL(res.headers.location, url), c, headers, 5);
      }
      return res;
    }
  }

  private async followRedirect(url: URL, c: Call, headers: OutgoingHttpHeaders, left: number): Promise<IncomingMessage> {
    let cur = url;
    let h = headers;
    for (let i = 0; i < left; i++) {
      if (cur.origin !== (await this.url('/', c.signal)).origin) {
        const { authorization: _drop, ...rest } = h;
        void _drop;
        h = rest;
      }
      const res = await this.reg.send({ method: c.method, url: cur, headers: h, signal: c.signal, insecureTls: this.endpoint.insecure });
      if (res.statusCode !== undefined && [301, 302, 303, 307, 308].includes(res.statusCode) && res.headers.location !== undefined) {
        res.resume();
        cur = new URL(res.headers.location, cur);
        continue;
      }
      return res;
    }
    throw new UnavailableError(`too many redirects fetching ${url.href}`);
  }

  /** Makes sure the auth challenge is known, so that streamed bodies go out authenticated. */
  async ensureAuth(signal: AbortSignal): Promise<void> {
    if (this.reg.challengeFor(this.endpoint.host) !== undefined) return;
    const res = await this.call({ method: 'GET', target: '/v2/', signal });
    res.resume();
    if (res.statusCode === 401) throw asBerthError(await readErrorBody(res));
  }

  private v2(kind: 'manifests' | 'blobs', ref: string): string {
    return `/v2/${this.path}/${kind}/${ref}`;
  }

  /**
   * GETs a manifest or index by tag or digest. By digest, the bytes must hash
   * to it; by tag, to the Docker-Content-Digest header when one is sent.
   */
  async getManifest(reference: string, signal: AbortSignal): Promise<FetchedManifest> {
    const res = await this.call({ method: 'GET', target: this.v2('manifests', reference), headers: { accept: MANIFEST_ACCEPT }, signal });
    if (res.statusCode !== 200) throw await readErrorBody(res);
    const len = Number(res.headers['content-length'] ?? NaN);
    if (len > MAX_JSON_BYTES) {
      res.destroy();
      throw new InvalidArgumentError(`manifest ${reference} is ${len} bytes, over the limit of ${MAX_JSON_BYTES}`);
    }
    const bytes = await readAllLimited(res, MAX_JSON_BYTES);
    const mediaType = headerString(res.headers, 'content-type') ?? '';
    const byDigest = isDigest(reference) ? reference : undefined;
    const claimed = headerString(res.headers, 'docker-content-digest');
    const expect = byDigest ?? (claimed !== undefined && isDigest(claimed) ? claimed : undefined);
    const digest = digestOf(bytes, expect !== undefined ? digestAlgorithm(expect) : 'sha256');
    if (expect !== undefined && digest !== expect) {
      throw new InvalidArgumentError(`manifest verification failed for digest ${expect}: the registry sent content with digest ${digest}`);
    }
    return { bytes, mediaType, digest: byDigest ?? (digestAlgorithm(digest) === 'sha256' ? digest : digestOf(bytes)) };
  }

  /**
   * GETs a blob from `offset` (a Range request when > 0). `start` is where
   * the body begins: 0 when the registry ignored the range.
   */
  async fetchBlob(digest: Digest, offset: number, signal: AbortSignal): Promise<{ body: IncomingMessage; start: number }> {
    const headers: OutgoingHttpHeaders = {};
    if (offset > 0) headers['range'] = `bytes=${offset}-`;
    const res = await this.call({ method: 'GET', target: this.v2('blobs', digest), headers, signal, followRedirects: true });
    if (res.statusCode === 200) return { body: res, start: 0 };
    if (res.statusCode === 206) {
      const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(headerString(res.headers, 'content-range') ?? '');
      const start = m === null ? -1 : Number(m[1]);
      if (start !== offset) {
        res.destroy();
        throw new UnavailableError(`registry answered range ${offset}- of ${digest} with ${headerString(res.headers, 'content-range') ?? 'no Content-Range'}`);
      }
      return { body: res, start };
    }
    throw await readErrorBody(res);
  }

  /** A small blob (config), verified against its digest and size. */
  async readBlob(digest: Digest, size: number, signal: AbortSignal): Promise<Buffer> {
    if (size > MAX_JSON_BYTES) throw new InvalidArgumentError(`blob ${digest} is ${size} bytes, over the limit of ${MAX_JSON_BYTES}`);
    const { body } = await this.fetchBlob(digest, 0, signal);
    const bytes = await readAllLimited(body, MAX_JSON_BYTES);
    const got = digestOf(bytes, digestAlgorithm(digest));
    if (got !== digest || bytes.length !== size) {
      throw new InvalidArgumentError(`blob verification failed for digest ${digest}: got ${bytes.length} bytes with digest ${got}`);
    }
    return bytes;
  }

  /** HEAD: whether the registry has the blob. */
  async hasBlob(digest: Digest, signal: AbortSignal): Promise<boolean> {
    const res = await this.call({ method: 'HEAD', target: this.v2('blobs', digest), signal });
    res.resume();
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    throw await readErrorBody(res);
  }

  /**
   * Starts an upload, or mounts `digest` from repository `from` of the same
   * registry. Returns `mounted` or the upload location.
   */
  async startUpload(signal: AbortSignal, mount?: { digest: Digest; from: string }): Promise<{ mounted: true } | { mounted: false; location: string }> {
    let target = `/v2/${this.path}/blobs/uploads/`;
    if (mount !== undefined) {
      this.addScope(repositoryScope(mount.from, ['pull']));
      target += `?${new URLSearchParams({ mount: mount.digest, from: mount.from }).toString()}`;
    }
    const res = await this.call({ method: 'POST', target, headers: { 'content-length': 0 }, signal });
    res.resume();
    if (res.statusCode === 201 && mount !== undefined) return { mounted: true };
    if (res.statusCode !== 202) throw await readErrorBody(res);
    return { mounted: false, location: await this.location(res, signal) };
  }

  private async location(res: IncomingMessage, signal: AbortSignal): Promise<string> {
    const loc = headerString(res.headers, 'location');
    if (loc === undefined) throw new UnavailableError('registry sent no upload location');
    return new URL(loc, await this.url('/', signal)).href;
  }

  /** Monolithic upload: one PUT with the whole blob. */
  async putBlob(location: string, digest: Digest, size: number, body: () => Readable, signal: AbortSignal): Promise<void> {
    const u = new URL(location);
    u.searchParams.set('digest', digest);
    const res = await this.call({
      method: 'PUT',
      target: u.href,
      headers: { 'content-type': 'application/octet-stream', 'content-length': size },
      body,
      signal,
    });
    res.resume();
    if (res.statusCode !== 201) throw await readErrorBody(res);
  }

  /** Streams a body of unknown length into an upload (PATCH, chunked). Returns the next location. */
  async patchStream(location: string, body: Readable, signal: AbortSignal): Promise<string> {
    const res = await this.call({ method: 'PATCH', target: location, headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }, body: () => body, replayable: false, signal });
    res.resume();
    if (res.statusCode !== 202 && res.statusCode !== 204) throw await readErrorBody(res);
    return this.location(res, signal);
  }

  /** Closes an upload whose bytes were PATCHed. */
  async finishUpload(location: string, digest: Digest, signal: AbortSignal): Promise<void> {
    const u = new URL(location);
    u.searchParams.set('digest', digest);
    const res = await this.call({ method: 'PUT', target: u.href, headers: { 'content-length': 0 }, body: Buffer.alloc(0), signal });
    res.resume();
    if (res.statusCode !== 201) throw await readErrorBody(res);
  }

  /** PUTs a manifest; returns the digest the registry names it by (checked against ours). */
  async putManifest(reference: string, bytes: Buffer, mediaType: string, signal: AbortSignal): Promise<Digest> {
    const res = await this.call({ method: 'PUT', target: this.v2('manifests', reference), headers: { 'content-type': mediaType }, body: bytes, signal });
    res.resume();
    if (res.statusCode !== 201 && res.statusCode !== 200) throw await readErrorBody(res);
    const ours = digestOf(bytes);
    const theirs = headerString(res.headers, 'docker-content-digest');
    if (theirs !== undefined && isDigest(theirs) && digestAlgorithm(theirs) === 'sha256' && theirs !== ours) {
      throw new InvalidArgumentError(`registry stored the manifest as ${theirs}, expected ${ours}`);
    }
    return ours;
  }
}

function headerString(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Go's net/http error prefix: `Get "url": …`. */
function goMethod(m: string): string {
  return m.charAt(0) + m.slice(1).toLowerCase();
}

export { readErrorBody };
