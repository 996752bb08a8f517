/** What every handler gets, and the few ways a handler answers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../base/log.js';
import { isDigest, type Digest } from '../../base/digest.js';
import { RegistryError, errorBody, toRegistryError } from '../errors.js';
import type { RegistryStore } from '../storage/store.js';
import type { Authenticator } from '../auth/types.js';
import type { TokenIssuer } from '../auth/token.js';
import type { Sys } from '../../base/sys.js';

export const API_VERSION_HEADER = 'Docker-Distribution-API-Version';
export const API_VERSION = 'registry/2.0';

/** Shared, per-server state handed to every handler (no module-level singletons). */
export interface RegistryContext {
  store: RegistryStore;
  log: Logger;
  auth: Authenticator | undefined;
  tokenIssuer: TokenIssuer | undefined;
  tokenPath: string;
  deleteEnabled: boolean;
  /** libc bindings for sendfile; without them blob bodies stream through userland. */
  sys?: Sys;
}

export interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  /** Repository name ('' for routes without one). */
  name: string;
  /** The route's second capture: a reference, digest or upload id. */
  ref: string;
  /** Raw query string without '?', parsed on demand to keep the hot path lean. */
  rawQuery: string;
}

export function query(c: Call): URLSearchParams {
  return new URLSearchParams(c.rawQuery);
}

export function send(res: ServerResponse, status: number, headers: Record<string, string>, body?: string | Buffer): void {
  headers[API_VERSION_HEADER] = API_VERSION;
  if (body === undefined) {
    headers['Content-Length'] = '0';
    res.writeHead(status, headers);
    res.end();
    return;
  }
  headers['Content-Length'] = String(Buffer.byteLength(body));
  res.writeHead(status, headers);
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}, head = false): void {
  const body = JSON.stringify(value);
  headers['Content-Type'] ??= 'application/json';
  headers[API_VERSION_HEADER] = API_VERSION;
  headers['Content-Length'] = String(Buffer.byteLength(body));
  res.writeHead(status, headers);
  res.end(head ? undefined : body);
}

export function writeError(ctx: RegistryContext, c: { req: IncomingMessage; res: ServerResponse }, err: unknown): void {
  const e = toRegistryError(err);
  if (e.status >= 500) ctx.log.error('registry request failed', { method: c.req.method, url: c.req.url, err: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  else ctx.log.debug('registry request refused', { method: c.req.method, url: c.req.url, code: e.code, detail: e.detail });
  const { res } = c;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = errorBody(e);
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    [API_VERSION_HEADER]: API_VERSION,
    'Content-Length': String(Buffer.byteLength(body)),
    ...e.headers,
  };
  res.writeHead(e.status, headers);
  res.end(c.req.method === 'HEAD' ? undefined : body);
}

export function digestParam(s: string | null | undefined): Digest {
  if (s === null || s === undefined || !isDigest(s)) throw new RegistryError('DIGEST_INVALID', { digest: s ?? null }, { message: 'invalid digest' });
  return s;
}

export function uploadLocation(name: string, uuid: string): string {
  return `/v2/${name}/blobs/uploads/${uuid}`;
}

/** `0-<last byte>`, Distribution's way (it says 0-0 for an empty upload). */
export function rangeHeader(size: number): string {
  return `0-${size > 0 ? size - 1 : 0}`;
}

export function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  if (cl !== undefined) return Number(cl) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

export function contentLength(req: IncomingMessage): number | undefined {
  const cl = req.headers['content-length'];
  if (cl === undefined) return undefined;
  const n = Number(cl);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Paging per the spec: first `n` after `last`, and a Link to the next page when more remain. */
export function paginate(all: string[], q: URLSearchParams, linkBase: string): { items: string[]; link?: string } {
  const nRaw = q.get('n');
  const last = q.get('last');
  let items = last === null ? all : all.filter((x) => x > last);
  if (nRaw === null || nRaw === '') return { items };
  if (!/^\d+$/.test(nRaw)) throw new RegistryError('PAGINATION_NUMBER_INVALID', { n: nRaw });
  const n = Number(nRaw);
  if (n === 0) return { items: [] };
  const more = items.length > n;
  items = items.slice(0, n);
  if (!more) return { items };
  const lastItem = items[items.length - 1]!;
  return { items, link: `<${linkBase}?n=${n}&last=${encodeURIComponent(lastItem)}>; rel="next"` };
}
