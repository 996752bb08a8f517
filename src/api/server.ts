/**
 * The Engine API server: node:http on a unix socket (and optionally TCP).
 *
 * Why node:http and not a framework (Fastify, …): Docker clients depend on
 * transport details a framework hides or fights — exact header casing and
 * order, `101 UPGRADED` for `Upgrade: tcp`, taking over an already-used
 * keep-alive connection for dockerode's attach (no Upgrade header), keeping
 * the write side open after the client's FIN (half-close), and no request
 * timeout for hours-long uploads and streams. It is also the fastest path:
 * no schema layer, no hooks, one small object pair per request.
 */
import { lstat, readFile, unlink, chmod, chown } from 'node:fs/promises';
import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { errnoCode, InternalError } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { sendError } from './errors.js';
import { ApiEnv, ApiRequest, ApiResponse } from './http.js';
import { API_VERSION, Router, splitVersion, type Route } from './router.js';

export interface ApiServerOptions {
  readonly log: Logger;
  /** berth's version, for `Server: Berth/<version> (linux)`. */
  readonly version: string;
  readonly routes?: readonly Route[];
  /** One debug line per request (off by default: it costs an allocation or two per request). */
  readonly logRequests?: boolean;
  /** Idle keep-alive timeout; 0 = never, like dockerd (pooled clients reuse old sockets). */
  readonly keepAliveTimeoutMs?: number;
  readonly headersTimeoutMs?: number;
  /** How long close() lets requests and hijacked streams finish before cutting them. */
  readonly shutdownGraceMs?: number;
}

export interface ListenOptions {
  readonly socketPath: string;
  /** Permission bits of the socket; dockerd uses 0660 (root + the docker group). */
  readonly mode?: number;
  /** Group (name or gid) owning the socket. A missing group is logged, not fatal, as dockerd. */
  readonly group?: string | number;
}

const NOT_FOUND_BODY = '{"message":"page not found"}\n';

export class ApiServer {
  readonly router = new Router();
  private readonly env: ApiEnv;
  private readonly log: Logger;
  private readonly servers: Server[] = [];
  private readonly active = new Set<ApiResponse>();
  private closing = false;

  constructor(private readonly opts: ApiServerOptions) {
    this.log = opts.log;
    this.env = new ApiEnv(`Berth/${opts.version} (linux)`, opts.log);
    if (opts.routes !== undefined) this.router.register(opts.routes);
  }

  /** Adds a route group; call before or after listen. */
  register(routes: readonly Route[]): this {
    this.router.register(routes);
    return this;
  }

  /** Listens on a unix socket, replacing a stale socket file; refuses if a live server owns it. */
  async listen(o: ListenOptions): Promise<void> {
    await removeStaleSocket(o.socketPath);
    const server = this.createHttpServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await chmod(o.socketPath, o.mode ?? 0o660);
    if (o.group !== undefined) {
      const gid = typeof o.group === 'number' ? o.group : await lookupGroup(o.group);
      if (gid === undefined) this.log.warn('socket group not found, keeping root group', { group: o.group });
      else await chown(o.socketPath, -1, gid);
    }
    this.log.info('API listen on ' + o.socketPath);
  }

  /** Optional TCP listener (no TLS: bind it to localhost). Returns the bound port. */
  async listenTcp(host: string, port: number): Promise<number> {
    const server = this.createHttpServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = (server.address() as AddressInfo).port;
    this.log.info(`API listen on ${host}:${bound}`);
    return bound;
  }

  /**
   * Graceful stop: no new connections; idle keep-alive sockets closed;
   * open-ended streams (events, logs -f, wait) aborted at once; other
   * requests and hijacked attach/exec sockets get the grace period, then
   * are cut.
   */
  async close(graceMs = this.opts.shutdownGraceMs ?? 5000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const closed = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const r of this.active) if (r.headersSent && !r.hijacked) r.request.abort(new Error('server shutting down'));
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && (this.active.size > 0 || this.env.hijacked.size > 0)) {
      for (const s of this.servers) s.closeIdleConnections();
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const r of this.active) r.request.abort(new Error('server shutting down'));
    for (const sock of this.env.hijacked) sock.destroy();
    for (const s of this.servers) s.closeAllConnections();
    await Promise.all(closed);
    this.servers.length = 0;
  }

  private createHttpServer(): Server {
    const server = createServer({
      // dockerd has no request deadline: uploads (load, build) and streams run for hours.
      requestTimeout: 0,
      headersTimeout: this.opts.headersTimeoutMs ?? 60_000,
      // Clients do not always send Host (and dockerd never asks for it).
      requireHostHeader: false,
      // X-Registry-Auth with identity tokens can be large.
      maxHeaderSize: 64 * 1024,
    });
    server.keepAliveTimeout = this.opts.keepAliveTimeoutMs ?? 0;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.dispatch(req, res, undefined));
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
    server.on('clientError', (err: Error, socket: Socket) => {
      // A hijacked socket's errors (ECONNRESET) are the stream's end, not an HTTP matter.
      if (this.env.hijacked.has(socket) || !socket.writable || errnoCode(err) === 'ECONNRESET') {
        socket.destroy();
        return;
      }
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request');
    });
    this.servers.push(server);
    return server;
  }

  /**
   * node hands `Upgrade` requests over with the socket already detached and
   * the body unparsed (it is in `head` and on the socket). Read the body
   * (exec start carries `{"Detach":false,"Tty":false}`), put back whatever
   * follows it (early stdin), then dispatch like any request.
   */
  private onUpgrade(incoming: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    if (incoming.headers['transfer-encoding'] !== undefined) {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nchunked bodies are not supported with Upgrade');
      return;
    }
    const len = Number(incoming.headers['content-length'] ?? '0');
    if (!Number.isSafeInteger(len) || len < 0 || len > 4 * 1024 * 1024) {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nbad Content-Length');
      return;
    }
    readExactly(socket, head, len).then(
      (body) => {
        const res = new ServerResponse(incoming);
        res.assignSocket(socket);
        // The socket is off node's parser: it cannot serve another request.
        res.shouldKeepAlive = false;
        res.once('finish', () => {
          res.detachSocket(socket);
          socket.end();
        });
        this.dispatch(incoming, res, body);
      },
      () => socket.destroy(),
    );
  }

  private dispatch(incoming: IncomingMessage, res: ServerResponse, preread: Buffer | undefined): void {
    const url = incoming.url ?? '/';
    const qi = url.indexOf('?');
    let path = qi < 0 ? url : url.slice(0, qi);
    const search = qi < 0 ? '' : url.slice(qi + 1);
    if (path.includes('%')) {
      try {
        path = decodeURIComponent(path);
      } catch {
        res.writeHead(400, ['Content-Type', 'text/plain; charset=utf-8']);
        res.end('400 Bad Request: invalid URL escape');
        return;
      }
    }
    // Go sends no `Connection: keep-alive`; removing the header makes node keep
    // the connection alive (per the request) without announcing it.
    res.removeHeader('Connection');
    const v = splitVersion(path);
    const req = new ApiRequest(incoming, res, v.ok ? v.path : path, v.ok ? v.version : API_VERSION, search, this.log, preread);
    const api = new ApiResponse(req, res, this.env, preread !== undefined);
    if (this.opts.logRequests === true) {
      const t0 = performance.now();
      res.once('close', () =>
        this.log.debug('api request', { method: req.method, path: url, status: api.hijacked ? 'hijacked' : res.statusCode, ms: Math.round((performance.now() - t0) * 10) / 10 }),
      );
    }
    if (!v.ok) {
      // dockerd: too new is JSON, too old is text/plain.
      if (v.tooNew) api.json(400, { message: v.message });
      else api.text(400, v.message);
      return;
    }
    const m = this.router.match(req.method, req.path);
    if (m === undefined) {
      // dockerd's router 404 carries none of the usual headers.
      res.writeHead(404, ['Content-Type', 'application/json', 'Date', this.env.date(), 'Content-Length', String(NOT_FOUND_BODY.length)]);
      res.end(NOT_FOUND_BODY);
      return;
    }
    req.params = m.params;
    this.active.add(api);
    res.once('close', () => this.active.delete(api));
    let p: Promise<void> | void;
    try {
      p = m.handler(req, api);
    } catch (e) {
      sendError(api, e, this.log);
      return;
    }
    if (p instanceof Promise) p.then(() => this.checkAnswered(api), (e: unknown) => sendError(api, e, this.log));
    else this.checkAnswered(api);
  }

  /** A handler must answer (or start a stream / hijack) before it resolves. */
  private checkAnswered(api: ApiResponse): void {
    if (!api.headersSent) sendError(api, new InternalError(`handler for ${api.request.method} ${api.request.path} returned without responding`), this.log);
  }
}

/**
 * Reads exactly `len` body bytes from `head` + the socket, puts any excess
 * back on the socket and leaves it not flowing, so later bytes wait for the
 * hijacker.
 */
function readExactly(socket: Socket, head: Buffer, len: number): Promise<Buffer> {
  const settle = (all: Buffer): Buffer => {
    if (all.length > len) socket.unshift(all.subarray(len));
    (socket as { readableFlowing: boolean | null }).readableFlowing = null;
    return all.subarray(0, len);
  };
  if (head.length >= len) return Promise.resolve(settle(head));
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [head];
    let have = head.length;
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
    };
    const onData = (b: Buffer): void => {
      parts.push(b);
      have += b.length;
      if (have < len) return;
      socket.pause();
      cleanup();
      resolve(settle(Buffer.concat(parts, have)));
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Error('unexpected EOF in request body'));
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
  });
}

async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return;
    throw e;
  }
  if (!st.isSocket()) throw new InternalError(`${path} exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const c = connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (live) throw new InternalError(`another daemon is listening on ${path}`);
  await unlink(path);
}

async function lookupGroup(name: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile('/etc/group', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f[2] !== undefined) return Number(f[2]);
  }
  return undefined;
}
