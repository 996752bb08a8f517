/**
 * A tiny read-only registry for tests: serves manifests and blobs from
 * memory, with optional Bearer/Basic auth, Range support, throttling, and
 * the ability to serve bytes that differ from what a digest promises.
 * Records every request. Not used by the daemon.
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { digestOf, type Digest } from '../base/digest.js';

export interface FakeRegistryOptions {
  /** Require a Bearer token from /token (issued for user:password, or anonymously when `anonymous`). */
  readonly bearer?: { user: string; password: string; anonymous?: boolean; expiresIn?: number };
  readonly basic?: { user: string; password: string };
  /** Bytes per second for blob bodies. */
  readonly throttle?: number;
}

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
}

export interface FakeRegistry {
  readonly host: string;
  readonly requests: SeenRequest[];
  /** Stores a blob; `served` replaces the bytes sent (a lying registry). */
  blob(data: Buffer, served?: Buffer): Digest;
  manifest(repo: string, ref: string, body: Buffer, mediaType: string): Digest;
  /** Counts of token requests. */
  tokensIssued(): number;
  close(): Promise<void>;
}

export async function startFakeRegistry(opts: FakeRegistryOptions = {}): Promise<FakeRegistry> {
  const blobs = new Map<string, Buffer>();
  const manifests = new Map<string, { body: Buffer; mediaType: string; digest: Digest }>();
  const requests: SeenRequest[] = [];
  let tokens = 0;
  let host = '';
  const validTokens = new Set<string>();

  const authorized = (req: IncomingMessage, res: ServerResponse): boolean => {
    const h = req.headers.authorization ?? '';
    if (opts.bearer !== undefined) {
      if (h.startsWith('Bearer ') && validTokens.has(h.slice(7))) return true;
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="http://${host}/token",service="fake",scope="repository:x:pull"`,
        'content-type': 'application/json',
      });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return false;
    }
    if (opts.basic !== undefined) {
      const want = `Basic ${Buffer.from(`${opts.basic.user}:${opts.basic.password}`).toString('base64')}`;
      if (h === want) return true;
      res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"', 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return false;
    }
    return true;
  };

  const sendBody = (req: IncomingMessage, res: ServerResponse, data: Buffer, status: number, headers: Record<string, string | number>): void => {
    res.writeHead(status, { ...headers, 'content-length': data.length });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const rate = opts.throttle;
    if (rate === undefined) {
      res.end(data);
      return;
    }
    const step = Math.max(1024, Math.floor(rate / 20));
    let off = 0;
    const tick = (): void => {
      if (res.destroyed) return;
      if (off >= data.length) {
        res.end();
        return;
      }
      res.write(data.subarray(off, off + step));
      off += step;
      setTimeout(tick, 50);
    };
    tick();
  };

  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const url = new URL(req.url ?? '/', `http://${host}`);
    if (url.pathname === '/token') {
      const b = opts.bearer;
      const h = req.headers.authorization ?? '';
      const ok = b !== undefined && (h === `Basic ${Buffer.from(`${b.user}:${b.password}`).toString('base64')}` || (h === '' && b.anonymous === true));
      if (!ok) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ details: 'incorrect username or password' }));
        return;
      }
      tokens++;
      const t = `tok-${tokens}-${Math.random().toString(36).slice(2)}`;
      validTokens.add(t);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token: t, expires_in: b.expiresIn ?? 300 }));
      return;
    }
    if (!authorized(req, res)) return;
    if (url.pathname === '/v2/') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
      return;
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (m === null || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNSUPPORTED', message: 'not here' }] }));
      return;
    }
    const [, repo, kind, ref] = m as unknown as [string, string, string, string];
    if (kind === 'manifests') {
      const man = manifests.get(`${repo}:${ref}`) ?? manifests.get(`${repo}@${ref}`);
      if (man === undefined) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: ref } }] }));
        return;
      }
      sendBody(req, res, man.body, 200, { 'content-type': man.mediaType, 'docker-content-digest': man.digest });
      return;
    }
    const data = blobs.get(ref);
    if (data === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }] }));
      return;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range !== null) {
      const start = Number(range[1]);
      sendBody(req, res, data.subarray(start), 206, { 'content-type': 'application/octet-stream', 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` });
      return;
    }
    sendBody(req, res, data, 200, { 'content-type': 'application/octet-stream', 'docker-content-digest': ref });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host,
    requests,
    blob(data, served) {
      const d = digestOf(data);
      blobs.set(d, served ?? data);
      return d;
    },
    manifest(repo, ref, body, mediaType) {
      const d = digestOf(body);
      const v = { body, mediaType, digest: d };
      manifests.set(`${repo}:${ref}`, v);
      manifests.set(`${repo}@${d}`, v);
      return d;
    },
    tokensIssued: () => tokens,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
