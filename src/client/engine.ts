/**
 * EngineClient: a small Engine API client over node:http. It negotiates the
 * API version with `HEAD /_ping` like the docker CLI, prefixes every path
 * with `/v<version>`, and turns error replies into ApiError carrying the
 * daemon's `message` so the CLI can print it verbatim.
 */
import * as http from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import { ApiError, DaemonUnreachableError } from './errors.js';
import type { HostAddress } from './host.js';

/** The newest API version this client speaks. */
export const MAX_API_VERSION = '1.41';
/** What the docker CLI assumes when the daemon sends no Api-Version header. */
const FALLBACK_API_VERSION = '1.24';

export type QueryValue = string | number | boolean | undefined | readonly string[];
export type Query = Readonly<Record<string, QueryValue>>;

export interface RequestOptions {
  readonly query?: Query;
  /** A JSON value (sent compact + "\n" like the CLI), raw bytes, or a stream (sent chunked). */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Unversioned paths (`/_ping`) skip negotiation. */
  readonly versioned?: boolean;
  readonly signal?: AbortSignal;
}

export interface EngineClientOptions {
  readonly host: HostAddress;
  readonly userAgent?: string;
  /** Skip negotiation and use this version (tests, or an explicit DOCKER_API_VERSION). */
  readonly apiVersion?: string;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number(x) || 0);
  const pb = b.split('.').map((x) => Number(x) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The version the CLI will use given the daemon's Api-Version header. */
export function negotiateVersion(serverHeader: string | undefined): string {
  if (serverHeader === undefined || serverHeader === '') return FALLBACK_API_VERSION;
  return compareVersions(serverHeader, MAX_API_VERSION) < 0 ? serverHeader : MAX_API_VERSION;
}

export function encodeQuery(q: Query | undefined): string {
  if (q === undefined) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    const vals = Array.isArray(v) ? (v as readonly string[]) : [v as string | number | boolean];
    for (const one of vals) {
      // The docker client sends booleans as 1/0.
      const s = typeof one === 'boolean' ? (one ? '1' : '0') : String(one);
      parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(s)}`);
    }
  }
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOENT', 'ENOTSOCK', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ECONNRESET']);

function errCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e) {
    const c = (e as { code: unknown }).code;
    return typeof c === 'string' ? c : undefined;
  }
  return undefined;
}

function isReadable(x: unknown): x is Readable {
  return typeof x === 'object' && x !== null && typeof (x as { pipe?: unknown }).pipe === 'function';
}

async function readBody(res: http.IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of res) parts.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(parts);
}

/** Extracts the daemon's error message the way the Go client does. */
export function errorMessageFromBody(status: number, body: Buffer, contentType: string | undefined, path: string): string {
  const text = body.toString('utf8');
  if (text.trim() !== '') {
    if ((contentType ?? '').includes('json') || text.trimStart().startsWith('{')) {
      try {
        const v: unknown = JSON.parse(text);
        if (typeof v === 'object' && v !== null && 'message' in v) {
          const m = (v as { message: unknown }).message;
          if (typeof m === 'string') return m;
        }
      } catch {
        // not JSON after all: fall through to the raw text
      }
    }
    return text.trim();
  }
  return `Error: request returned ${status} ${http.STATUS_CODES[status] ?? ''} for API route and version ${path}, check if the server supports the requested API version`;
}

export class EngineClient {
  readonly host: HostAddress;
  private readonly agent: http.Agent;
  private readonly userAgent: string;
  private version: Promise<string> | undefined;

  constructor(opts: EngineClientOptions) {
    this.host = opts.host;
    this.userAgent = opts.userAgent ?? 'Berth-Client/0.1.0 (linux)';
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    if (opts.apiVersion !== undefined) this.version = Promise.resolve(opts.apiVersion);
  }

  /** Resolves (once) the API version to use, pinging the daemon. */
  apiVersion(): Promise<string> {
    if (this.version === undefined) {
      this.version = this.raw('HEAD', '/_ping', {}).then(
        (res) => {
          res.resume();
          const h = res.headers['api-version'];
          return negotiateVersion(typeof h === 'string' ? h : undefined);
        },
        (e: unknown) => {
          this.version = undefined;
          throw e;
        },
      );
    }
    return this.version;
  }

  private baseOptions(method: string, fullPath: string, headers: Record<string, string>): http.RequestOptions {
    const h = this.host;
    const common: http.RequestOptions = {
      method,
      path: fullPath,
      agent: this.agent,
      headers: { 'User-Agent': this.userAgent, ...headers },
    };
    if (h.kind === 'unix') return { ...common, socketPath: h.socketPath, headers: { Host: 'api.moby.localhost', ...common.headers } };
    return { ...common, host: h.host, port: h.port };
  }

  private async fullPath(path: string, opts: RequestOptions): Promise<string> {
    const q = encodeQuery(opts.query);
    if (opts.versioned === false) return path + q;
    const v = await this.apiVersion();
    return `/v${v}${path}${q}`;
  }

  /** Sends a request and returns the response, whatever its status. */
  private async raw(method: string, path: string, opts: RequestOptions): Promise<http.IncomingMessage> {
    const fullPath = path.startsWith('/_ping') ? path : await this.fullPath(path, opts);
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    let payload: Buffer | undefined;
    let stream: Readable | undefined;
    const body = opts.body;
    if (body === undefined) {
      if (method === 'POST' || method === 'PUT') headers['Content-Length'] = '0';
    } else if (Buffer.isBuffer(body)) {
      payload = body;
    } else if (isReadable(body)) {
      stream = body;
      headers['Transfer-Encoding'] = 'chunked';
    } else {
      payload = Buffer.from(`${JSON.stringify(body)}\n`);
      headers['Content-Type'] ??= 'application/json';
    }
    if (payload !== undefined) headers['Content-Length'] = String(payload.length);
    const reqOpts = this.baseOptions(method, fullPath, headers);
    const signal = opts.signal;
    if (signal?.aborted === true) throw new Error('The operation was aborted');
    return await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(reqOpts, (res) => {
        if (signal !== undefined) {
          // Abort only while the exchange is live: Node's own `signal` option
          // would later destroy a socket already back in the keep-alive pool.
          const onAbort = (): void => {
            res.destroy();
            req.destroy();
          };
          signal.addEventListener('abort', onAbort, { once: true });
          res.once('close', () => signal.removeEventListener('abort', onAbort));
          res.on('error', () => undefined);
        }
        resolve(res);
      });
      if (signal !== undefined) {
        const onAbort = (): void => {
          req.destroy(new Error('The operation was aborted'));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        req.once('response', () => signal.removeEventListener('abort', onAbort));
      }
      req.on('error', (e: unknown) => {
        const code = errCode(e);
        if (code !== undefined && UNREACHABLE_CODES.has(code)) reject(new DaemonUnreachableError(this.host.url, { cause: e }));
        else reject(e);
      });
      if (stream !== undefined) {
        stream.on('error', (e) => req.destroy(e));
        stream.pipe(req);
      } else {
        req.end(payload);
      }
    });
  }

  /** Sends a request; error statuses become ApiError. The body is left unread. */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<http.IncomingMessage> {
    const res = await this.raw(method, path, opts);
    const status = res.statusCode ?? 0;
    if (status >= 400) {
      const body = await readBody(res);
      const ct = res.headers['content-type'];
      throw new ApiError(status, errorMessageFromBody(status, body, ct, path));
    }
    return res;
  }

  /** Buffers and parses a JSON reply (`undefined` for an empty body). */
  async json(method: string, path: string, opts: RequestOptions = {}): Promise<unknown> {
    const text = await this.text(method, path, opts);
    if (text.trim() === '') return undefined;
    return JSON.parse(text) as unknown;
  }

  /** Buffers a reply as text (raw JSON for `inspect`, which re-indents it untouched). */
  async text(method: string, path: string, opts: RequestOptions = {}): Promise<string> {
    const res = await this.request(method, path, opts);
    return (await readBody(res)).toString('utf8');
  }

  /** The response as a stream (save, JSON message streams, logs). */
  stream(method: string, path: string, opts: RequestOptions = {}): Promise<http.IncomingMessage> {
    return this.request(method, path, opts);
  }

  get(path: string, query?: Query): Promise<unknown> {
    return this.json('GET', path, query === undefined ? {} : { query });
  }

  /**
   * Hijacks a connection the way the docker CLI does for attach/exec:
   * `Connection: Upgrade` + `Upgrade: tcp`, requiring 101, and hands back
   * the raw socket (plus any bytes already read past the headers).
   */
  async hijack(method: string, path: string, opts: RequestOptions = {}): Promise<{ socket: Duplex; head: Buffer }> {
    const fullPath = await this.fullPath(path, opts);
    const headers: Record<string, string> = { Connection: 'Upgrade', Upgrade: 'tcp', ...(opts.headers ?? {}) };
    let payload: Buffer;
    if (opts.body === undefined) {
      payload = Buffer.alloc(0);
      headers['Content-Type'] ??= 'text/plain';
    } else {
      payload = Buffer.from(`${JSON.stringify(opts.body)}\n`);
      headers['Content-Type'] ??= 'application/json';
    }
    headers['Content-Length'] = String(payload.length);
    // A hijacked socket never goes back to the pool, so skip the agent.
    const reqOpts = { ...this.baseOptions(method, fullPath, headers), agent: false as const };
    return await new Promise((resolve, reject) => {
      const req = http.request(reqOpts);
      req.on('upgrade', (res, socket, head) => {
        if (res.statusCode !== 101) {
          socket.destroy();
          reject(new Error(`unable to upgrade to tcp, received ${res.statusCode ?? 0}`));
          return;
        }
        resolve({ socket, head });
      });
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        void readBody(res).then((body) => {
          if (status >= 400) reject(new ApiError(status, errorMessageFromBody(status, body, res.headers['content-type'], path)));
          else reject(new Error(`unable to upgrade to tcp, received ${status}`));
        }, reject);
      });
      req.on('error', (e: unknown) => {
        const code = errCode(e);
        if (code !== undefined && UNREACHABLE_CODES.has(code)) reject(new DaemonUnreachableError(this.host.url, { cause: e }));
        else reject(e);
      });
      req.end(payload);
    });
  }

  /** Lets the process exit: drops pooled keep-alive sockets. */
  close(): void {
    this.agent.destroy();
  }
}
