/**
 * Request and response helpers for Engine API handlers. They wrap node's
 * IncomingMessage/ServerResponse with dockerd's conventions: query parsing
 * like Go (ParseBool, Atoi, both filter shapes), bodies decoded with Go's
 * error wording, dockerd's header set and order, JSON with Go escaping,
 * flushed JSON streams, and socket hijacking for attach/exec (§4).
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Readable, type Writable } from 'node:stream';
import type { Ctx } from '../base/ctx.js';
import { InvalidArgumentError } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { MAX_JSON_BYTES, readAllLimited } from '../base/stream.js';
import { decodeJsonLikeGo, goJson, JsonSyntaxError } from './gojson.js';
import { API_VERSION, type Params } from './router.js';

/**
 * State one ApiServer shares with its requests: the Server header, the
 * per-second Date cache and the set of hijacked sockets (for shutdown).
 */
export class ApiEnv {
  private sec = -1;
  private dateStr = '';
  readonly hijacked = new Set<Socket>();
  /** The headers dockerd puts after Content-Type on every response (Go sorts them). */
  readonly tail: readonly string[];

  constructor(
    readonly serverHeader: string,
    readonly log: Logger,
  ) {
    this.tail = ['Docker-Experimental', 'false', 'Ostype', 'linux', 'Server', serverHeader];
  }

  /** An RFC 7231 date, formatted at most once a second. */
  date(): string {
    const now = Date.now();
    const s = Math.floor(now / 1000);
    if (s !== this.sec) {
      this.sec = s;
      this.dateStr = new Date(now).toUTCString();
    }
    return this.dateStr;
  }
}

// ---------------------------------------------------------------------------
// Query

const TRUE_WORDS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Go's strconv.ParseBool; `undefined` when the text is not a boolean. */
export function parseGoBool(s: string): boolean | undefined {
  if (TRUE_WORDS.has(s)) return true;
  if (FALSE_WORDS.has(s)) return false;
  return undefined;
}

/**
 * Parses a `filters` value in either shape clients send (REFERENCE §1.5):
 * map of bools `{"label":{"a=b":true}}` (CLI) or lists `{"label":["a=b"]}`
 * (docker-py). Like Go's filters.FromJSON, keys of the map shape count
 * whatever their bool.
 */
export function parseFilters(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (text === '') return out;
  let v: unknown;
  try {
    v = decodeJsonLikeGo(Buffer.from(text));
  } catch (e) {
    throw new InvalidArgumentError(e instanceof Error ? e.message : String(e));
  }
  if (v === null) return out;
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidArgumentError('invalid filter: expected a JSON object');
  for (const [key, val] of Object.entries(v as Record<string, unknown>)) {
    if (Array.isArray(val)) {
      out.set(key, val.map((x) => (typeof x === 'string' ? x : String(x))));
    } else if (typeof val === 'object' && val !== null) {
      const vals = Object.keys(val);
      for (const k of vals) {
        if (typeof (val as Record<string, unknown>)[k] !== 'boolean') throw new InvalidArgumentError(`invalid filter '${key}'`);
      }
      out.set(key, vals);
    } else if (val !== null) {
      throw new InvalidArgumentError(`invalid filter '${key}'`);
    }
  }
  return out;
}

/** The query string, parsed on first use (most requests never read it). */
export class Query {
  private params: URLSearchParams | undefined;
  constructor(readonly search: string) {}

  private p(): URLSearchParams {
    // URLSearchParams decodes '+' as space, like Go's url.ParseQuery.
    return (this.params ??= new URLSearchParams(this.search));
  }
  has(name: string): boolean {
    return this.search !== '' && this.p().has(name);
  }
  /** The first value, or undefined when absent. */
  str(name: string): string | undefined {
    if (this.search === '') return undefined;
    return this.p().get(name) ?? undefined;
  }
  /** All values of a repeated parameter (`t=a&t=b`). */
  strs(name: string): string[] {
    if (this.search === '') return [];
    return this.p().getAll(name);
  }
  /**
   * Go strconv.ParseBool; absent or empty = false; anything else is a 400,
   * so a typo never silently means false.
   */
  bool(name: string, def = false): boolean {
    const s = this.str(name);
    if (s === undefined || s === '') return def;
    const b = parseGoBool(s);
    if (b === undefined) throw new InvalidArgumentError(`strconv.ParseBool: parsing ${JSON.stringify(s)}: invalid syntax`);
    return b;
  }
  /** Go strconv.Atoi: optional sign and decimal digits only. */
  int(name: string): number | undefined;
  int(name: string, def: number): number;
  int(name: string, def?: number): number | undefined {
    const s = this.str(name);
    if (s === undefined || s === '') return def;
    if (!/^[+-]?\d+$/.test(s)) throw new InvalidArgumentError(`strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
    const n = Number(s);
    if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`strconv.Atoi: parsing ${JSON.stringify(s)}: value out of range`);
    return n;
  }
  /** `filters` (or another name) in either shape → key → values. Empty map when absent. */
  filters(name = 'filters'): Map<string, string[]> {
    return parseFilters(this.str(name) ?? '');
  }
  /** A JSON-valued parameter (`buildargs`, `labels`); undefined when absent. Bad JSON is a 400. */
  json(name: string): unknown {
    const s = this.str(name);
    if (s === undefined || s === '') return undefined;
    try {
      return decodeJsonLikeGo(Buffer.from(s));
    } catch (e) {
      throw new InvalidArgumentError(e instanceof Error ? e.message : String(e));
    }
  }
}

// ---------------------------------------------------------------------------
// Request

/** Docker's AuthConfig, as sent base64url-encoded in X-Registry-Auth. */
export interface RegistryAuth {
  username?: string;
  password?: string;
  auth?: string;
  email?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}
const AUTH_KEYS = ['username', 'password', 'auth', 'email', 'serveraddress', 'identitytoken', 'registrytoken'] as const;

/** Keeps the known string fields; keys match case-insensitively as Go's decoder does. */
function toAuth(v: unknown): RegistryAuth {
  const out: RegistryAuth = {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return out;
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    const key = AUTH_KEYS.find((a) => a === k.toLowerCase());
    if (key !== undefined && typeof val === 'string' && val !== '') out[key] = val;
  }
  return out;
}

function decodeB64Json(h: string | string[] | undefined): unknown {
  const s = Array.isArray(h) ? h[0] : h;
  if (s === undefined || s === '') return undefined;
  try {
    // node's base64 decoder takes both the standard and the URL-safe alphabet.
    return JSON.parse(Buffer.from(s, 'base64').toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

export class ApiRequest {
  /** Path parameters of the matched route. */
  params: Params = {};
  private q: Query | undefined;
  private ac: AbortController | undefined;
  private ctxValue: Ctx | undefined;

  constructor(
    /** node's request; also the body stream on the normal path. */
    readonly incoming: IncomingMessage,
    /** Its response, whose 'close' tells that the exchange is over (or the client left). */
    private readonly outgoing: ServerResponse,
    /** Path without the version prefix, percent-decoded. */
    readonly path: string,
    /** From the `/v1.NN` prefix, or the advertised version when unversioned. */
    readonly apiVersion: string,
    private readonly search: string,
    readonly log: Logger,
    /** Set when node handed the request over as an upgrade: the body was read off the socket already. */
    private readonly preread?: Buffer,
  ) {}

  get method(): string {
    return this.incoming.method ?? 'GET';
  }
  get headers(): IncomingHttpHeaders {
    return this.incoming.headers;
  }
  get query(): Query {
    return (this.q ??= new Query(this.search));
  }
  /** True when the client asked for `Upgrade` (docker CLI, docker-py): hijack answers 101. */
  get wantsUpgrade(): boolean {
    return this.incoming.headers.upgrade !== undefined;
  }

  /** A path parameter; throws if the route does not define it (a programming error). */
  param(name: string): string {
    const v = this.params[name];
    if (v === undefined) throw new Error(`route has no parameter ${name}`);
    return v;
  }

  /** The request body as a stream (uploads: chunked or Content-Length; node de-chunks). */
  get raw(): Readable {
    if (this.preread !== undefined) return Readable.from([this.preread]);
    return this.incoming;
  }

  /**
   * Reads and decodes a JSON body (at most 4 MiB). Like dockerd, an empty
   * body is `EOF` and malformed JSON a 500 with Go's decoder message;
   * `optional: true` returns undefined for an empty body instead.
   * The value is unvalidated: check it (zod) before use.
   */
  async json(opts: { optional?: boolean } = {}): Promise<unknown> {
    const len = Number(this.incoming.headers['content-length'] ?? NaN);
    if (len > MAX_JSON_BYTES) throw new InvalidArgumentError(`request body exceeds the limit of ${MAX_JSON_BYTES} bytes`);
    const buf = this.preread ?? (await readAllLimited(this.incoming, MAX_JSON_BYTES));
    try {
      return decodeJsonLikeGo(buf);
    } catch (e) {
      if (opts.optional === true && e instanceof JsonSyntaxError && e.message === 'EOF') return undefined;
      throw e;
    }
  }

  /** X-Registry-Auth (base64url JSON AuthConfig); `{}` when absent or unreadable, as dockerd. */
  registryAuth(): RegistryAuth {
    return toAuth(decodeB64Json(this.incoming.headers['x-registry-auth']));
  }

  /** X-Registry-Config (build): registry host → AuthConfig. */
  registryConfig(): Map<string, RegistryAuth> {
    const v = decodeB64Json(this.incoming.headers['x-registry-config']);
    const out = new Map<string, RegistryAuth>();
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      for (const [k, a] of Object.entries(v as Record<string, unknown>)) out.set(k, toAuth(a));
    }
    return out;
  }

  /** Aborted when the client goes away (or the server shuts the connection down). */
  get signal(): AbortSignal {
    if (this.ac === undefined) {
      const ac = new AbortController();
      this.ac = ac;
      // The response's 'close' (not the socket's: keep-alive sockets outlive many
      // requests) fires on completion or when the connection drops first.
      const out = this.outgoing;
      const onClose = (): void => {
        if (!out.writableFinished) ac.abort(new Error('client disconnected'));
      };
      if (out.destroyed || this.incoming.socket.destroyed) onClose();
      else out.once('close', onClose);
    }
    return this.ac.signal;
  }

  /** The Ctx to pass down to services: this request's signal and logger. */
  get ctx(): Ctx {
    return (this.ctxValue ??= { signal: this.signal, log: this.log });
  }

  /** @internal used by ApiServer to abort streams on shutdown. */
  abort(reason: Error): void {
    this.ac?.abort(reason);
  }
}

// ---------------------------------------------------------------------------
// Response

export type Terminator = '\r\n' | '\n';

/**
 * A JSON message stream (§5): one object per chunk, headers already on the
 * wire. `\r\n` for pull/push/build/load, `\n` for events and wait.
 */
export class JsonStream {
  private done = false;
  constructor(
    private readonly res: ServerResponse,
    private readonly terminator: Terminator,
  ) {}

  /** Writes one message; false means the client is slow (await drain()) or gone. */
  write(msg: unknown): boolean {
    if (this.done || this.res.destroyed) return false;
    return this.res.write(goJson(msg) + this.terminator);
  }

  /**
   * The in-stream error of §5.3 (HTTP already said 200), then the end. The
   * CLI exits with `code` (1 when absent).
   */
  error(message: string, code?: number): void {
    const detail = code === undefined ? { message } : { code, message };
    this.write({ errorDetail: detail, error: message });
    this.end();
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    this.res.end();
  }

  get ended(): boolean {
    return this.done;
  }
  /** The client closed the connection. */
  get closed(): boolean {
    return this.res.destroyed || this.res.socket === null || this.res.socket.destroyed;
  }

  /** Resolves when the client has caught up (or went away). */
  drain(): Promise<void> {
    if (!this.res.writableNeedDrain || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }
}

const RAW_STREAM = 'application/vnd.docker.raw-stream';

export class ApiResponse {
  private extra: string[] | undefined;
  private stream: JsonStream | undefined;
  private hijackedSocket: Socket | undefined;

  constructor(
    readonly request: ApiRequest,
    /** node's response; use the helpers below rather than writing to it directly. */
    readonly raw: ServerResponse,
    private readonly env: ApiEnv,
    /** True when node emitted 'upgrade': the socket is already off node's HTTP parser. */
    private readonly viaUpgradeEvent: boolean,
  ) {}

  get serverHeader(): string {
    return this.env.serverHeader;
  }
  /** The current Date header value (cached per second). */
  date(): string {
    return this.env.date();
  }
  get headersSent(): boolean {
    return this.raw.headersSent || this.hijackedSocket !== undefined;
  }
  get hijacked(): boolean {
    return this.hijackedSocket !== undefined;
  }
  get activeStream(): JsonStream | undefined {
    return this.stream;
  }

  /** Adds a header to the next reply (e.g. X-Docker-Container-Path-Stat). */
  header(name: string, value: string): this {
    (this.extra ??= []).push(name, value);
    return this;
  }

  /**
   * dockerd's header block: Api-Version, [Content-Type], Docker-Experimental,
   * Ostype, Server, extras, Date, then length/encoding.
   */
  private head(contentType: string | undefined, lengthName?: string, lengthValue?: string): string[] {
    const h: string[] = ['Api-Version', API_VERSION];
    if (contentType !== undefined) h.push('Content-Type', contentType);
    h.push(...this.env.tail);
    if (this.extra !== undefined) h.push(...this.extra);
    h.push('Date', this.env.date());
    if (lengthName !== undefined && lengthValue !== undefined) h.push(lengthName, lengthValue);
    return h;
  }

  /** Compact JSON + `\n` with Go's escaping; Content-Length always (clients accept it at any size). */
  json(status: number, body: unknown): void {
    const text = goJson(body) + '\n';
    this.raw.writeHead(status, this.head('application/json', 'Content-Length', String(Buffer.byteLength(text))));
    this.raw.end(text);
  }

  /** A text body (dockerd's text/plain replies, e.g. "client version … is too old"). */
  text(status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
    const h = this.head(contentType, 'Content-Length', String(Buffer.byteLength(body)));
    h.push('X-Content-Type-Options', 'nosniff');
    this.raw.writeHead(status, h);
    this.raw.end(body);
  }

  /** 204 with no Content-Length and no Content-Type (start, stop, DELETE …). */
  noContent(): void {
    this.raw.writeHead(204, this.head(undefined));
    this.raw.end();
  }

  /** 200/201 with `Content-Length: 0` (resize, network connect, image tag). */
  empty(status = 200): void {
    this.raw.writeHead(status, this.head(undefined, 'Content-Length', '0'));
    this.raw.end();
  }

  /** 304 with an empty body: start of a running / stop of a stopped container. */
  notModified(): void {
    this.raw.writeHead(304, this.head(undefined));
    this.raw.end();
  }

  /** Exact headers, for replies whose bytes are pinned (/_ping). No headers are added but node's Connection. */
  exact(status: number, headers: readonly string[], body?: string | Buffer): void {
    this.raw.writeHead(status, [...headers]);
    this.raw.end(body);
  }

  /** 200 chunked JSON stream with headers flushed now (§1.10). */
  jsonStream(opts: { terminator: Terminator; status?: number }): JsonStream {
    this.raw.writeHead(opts.status ?? 200, this.head('application/json', 'Transfer-Encoding', 'chunked'));
    this.raw.flushHeaders();
    this.stream = new JsonStream(this.raw, opts.terminator);
    return this.stream;
  }

  /**
   * A chunked byte stream with headers flushed now (logs: no Content-Type
   * at all as dockerd, pass null; save/archive: application/x-tar). Each
   * write becomes one chunk. Errors after this point cut the connection.
   */
  rawStream(contentType: string | null, status = 200): Writable {
    this.raw.writeHead(status, this.head(contentType ?? undefined, 'Transfer-Encoding', 'chunked'));
    this.raw.flushHeaders();
    return this.raw;
  }

  /**
   * Takes over the connection for attach/exec (§4.1, §4.2). With an
   * `Upgrade` header the reply is `101 UPGRADED` (CLI 28 requires 101);
   * without, `200 OK` + raw-stream content type, no length, no chunking
   * (dockerode, testcontainers), even on a reused keep-alive socket. The
   * socket is returned not yet flowing (nothing is lost): attach a
   * 'data' listener or pipe it. The client may half-close (FIN) at any time; keep
   * writing and call `socket.end()` when the stream is over.
   */
  async hijack(opts: { contentType?: string } = {}): Promise<Socket> {
    if (this.headersSent) throw new Error('hijack after the response started');
    const socket = this.raw.socket ?? this.request.incoming.socket;
    if (!this.viaUpgradeEvent) {
      const inc = this.request.incoming;
      // node's parser must finish the request before it lets go of the socket.
      if (!inc.complete) {
        await new Promise<void>((resolve, reject) => {
          inc.once('end', resolve);
          inc.once('error', reject);
          inc.once('close', () => (inc.complete ? resolve() : reject(new Error('client disconnected'))));
          inc.resume();
        });
      }
      detachFromHttpParser(socket);
    }
    this.hijackedSocket = socket;
    this.env.hijacked.add(socket);
    socket.once('close', () => this.env.hijacked.delete(socket));
    socket.setTimeout(0);
    const ct = opts.contentType ?? RAW_STREAM;
    socket.write(
      this.request.wantsUpgrade
        ? `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${ct}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`
        : `HTTP/1.1 200 OK\r\nContent-Type: ${ct}\r\nApi-Version: ${API_VERSION}\r\nDocker-Experimental: false\r\nOstype: linux\r\nServer: ${this.env.serverHeader}\r\n\r\n`,
    );
    return socket;
  }

  /** Cuts the connection: the only way to signal failure once a raw body started. */
  destroy(): void {
    if (this.hijackedSocket !== undefined) this.hijackedSocket.destroy();
    else this.raw.destroy();
  }
}

/**
 * Frees a keep-alive socket from node's HTTP machinery after a request that
 * did not ask for an upgrade, mirroring what node does itself for upgrades:
 * the parser stops reading (adding a 'data' listener makes node "unconsume"
 * the handle), and node's data/end/timeout/drain listeners go, so bytes are
 * not parsed as HTTP and a client FIN does not end our side (half-close).
 * The ServerResponse stays attached and unfinished, so node's idle-connection
 * sweep leaves the socket alone.
 */
function detachFromHttpParser(socket: Socket): void {
  const noop = (): void => {};
  socket.on('data', noop);
  socket.removeListener('data', noop);
  for (const ev of ['data', 'end', 'drain', 'timeout'] as const) {
    for (const fn of socket.listeners(ev)) {
      // node's own: `bound socketOnData`, `bound socketOnEnd`, `bound socketOnDrain`, `socketOnTimeout`
      if (/socketOn(Data|End|Drain|Timeout)$/.test(fn.name)) socket.removeListener(ev, fn as (...a: unknown[]) => void);
    }
  }
  if (socket.listenerCount('data') > 0) throw new Error('cannot detach the socket from the HTTP parser');
  // Not flowing, not paused: the next 'data' listener or pipe() starts the flow.
  (socket as { readableFlowing: boolean | null }).readableFlowing = null;
}
