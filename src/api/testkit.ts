/**
 * Helpers for tests of the API layer (and of route groups written by
 * others): a server on a temporary unix socket, plus raw and node:http
 * clients that see the exact bytes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, type Logger } from '../base/log.js';
import type { Route } from './router.js';
import { ApiServer } from './server.js';

export interface TestServer {
  readonly server: ApiServer;
  readonly socketPath: string;
  readonly dir: string;
  close(): Promise<void>;
}

export async function startTestServer(routes: readonly Route[], opts: { log?: Logger; version?: string } = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-api-'));
  const socketPath = join(dir, 'api.sock');
  const server = new ApiServer({ log: opts.log ?? silentLogger, version: opts.version ?? '0.1.0-test', routes, shutdownGraceMs: 200 });
  await server.listen({ socketPath });
  return {
    server,
    socketPath,
    dir,
    close: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface SimpleResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Header names as sent, in order, with values. */
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
  text(): string;
}

/** One request through node:http (a fresh connection each time). */
export function httpCall(
  socketPath: string,
  method: string,
  path: string,
  opts: { body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath, method, path, headers: opts.headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () => {
        const body = Buffer.concat(parts);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body, text: () => body.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/**
 * A raw connection that accumulates everything received, for byte-exact
 * assertions and hijack tests.
 */
export class RawConn {
  readonly socket: Socket;
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  ended = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (b: Buffer) => {
      this.buf = Buffer.concat([this.buf, b]);
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  static open(socketPath: string): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const s = connect({ path: socketPath, allowHalfOpen: true });
      s.once('connect', () => resolve(new RawConn(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Everything received so far, and consumes it. */
  take(n = this.buf.length): Buffer {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  get received(): Buffer {
    return this.buf;
  }

  /** Waits until the received bytes satisfy `pred` (or the peer closes), with a timeout. */
  async until(pred: (b: Buffer) => boolean, timeoutMs = 3000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.buf)) {
      if (this.ended) throw new Error(`connection ended; received: ${JSON.stringify(this.buf.toString('latin1'))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout; received: ${JSON.stringify(this.buf.toString('latin1'))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.buf;
  }

  /** Waits for a complete head (`\r\n\r\n`) and returns it, consuming it. */
  async head(): Promise<string> {
    await this.until((b) => b.includes('\r\n\r\n'));
    const i = this.buf.indexOf('\r\n\r\n');
    return this.take(i + 4).toString('latin1');
  }

  /** Waits until the peer has closed; returns what is left. */
  async untilEnd(timeoutMs = 3000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('timeout waiting for end');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 20);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.buf;
  }

  close(): void {
    this.socket.destroy();
  }
}
