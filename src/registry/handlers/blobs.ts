/** Blobs: GET/HEAD (with single byte ranges) and DELETE (unlink from the repository). */
import { pipeline } from 'node:stream/promises';
import { RegistryError } from '../errors.js';
import { API_VERSION, API_VERSION_HEADER, digestParam, send, type Call, type RegistryContext } from './http.js';
import { sendFileBody, socketFd } from './sendfile.js';

function blobGone(digest: string, e: unknown): RegistryError {
  return new RegistryError('BLOB_UNKNOWN', { digest, cause: e instanceof Error ? e.message : String(e) });
}

/** One `bytes=` range against `size`: [start, end] inclusive, 'unsatisfiable', or undefined to send it all. */
export function parseRange(h: string | undefined, size: number): [number, number] | 'unsatisfiable' | undefined {
  if (h === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim());
  if (m === null) return undefined; // multi-range or junk: RFC 9110 lets us ignore it
  const [, a, b] = m as unknown as [string, string, string];
  if (a === '' && b === '') return undefined;
  let start: number;
  let end: number;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
    if (b !== '' && Number(b) < start) return undefined;
  }
  if (start >= size) return 'unsatisfiable';
  return [start, end];
}

export async function getBlob(ctx: RegistryContext, c: Call): Promise<void> {
  const digest = digestParam(c.ref);
  const size = await ctx.store.blobStat(c.name, digest);
  if (size === undefined) throw new RegistryError('BLOB_UNKNOWN', { digest });
  const headers: Record<string, string> = {
    'Content-Type': 'application/octet-stream',
    'Docker-Content-Digest': digest,
    'Accept-Ranges': 'bytes',
    Etag: `"${digest}"`,
    'Cache-Control': 'max-age=31536000',
    [API_VERSION_HEADER]: API_VERSION,
  };
  const range = parseRange(c.req.headers.range, size);
  if (range === 'unsatisfiable') {
    throw new RegistryError('BLOB_UNKNOWN', { digest, size }, { status: 416, message: 'requested range not satisfiable', headers: { 'Content-Range': `bytes */${size}` } });
  }
  let status = 200;
  let start = 0;
  let end = size - 1;
  if (range !== undefined) {
    status = 206;
    [start, end] = range;
    headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  }
  headers['Content-Length'] = String(size === 0 ? 0 : end - start + 1);
  if (c.req.method === 'HEAD' || size === 0) {
    c.res.writeHead(status, headers);
    c.res.end();
    return;
  }
  // Zero copy when we can: a plain TCP socket and a driver with files.
  if (ctx.sys !== undefined && socketFd(c.res.socket) !== undefined) {
    // Opened before answering, so a blob swept in between is a 404 rather than a torn 200.
    const file = await ctx.store.blobFile(digest).catch((e: unknown) => {
      throw blobGone(digest, e);
    });
    if (file !== undefined) {
      c.res.writeHead(status, headers);
      try {
        await sendFileBody(ctx.sys, c.res, file, start, end);
      } catch (e) {
        ctx.log.debug('blob download interrupted', { digest, err: e });
        c.res.destroy();
      } finally {
        await file.close();
      }
      return;
    }
  }
  const src = ctx.store.blobReader(digest, start, end);
  // Open before answering, so a blob swept in between is a 404 rather than a torn 200.
  await new Promise<void>((resolve, reject) => {
    src.once('open', () => resolve());
    src.once('error', reject);
  }).catch((e: unknown) => {
    throw blobGone(digest, e);
  });
  c.res.writeHead(status, headers);
  try {
    await pipeline(src, c.res);
  } catch (e) {
    ctx.log.debug('blob download interrupted', { digest, err: e });
    c.res.destroy();
  }
}

export async function deleteBlob(ctx: RegistryContext, c: Call): Promise<void> {
  if (!ctx.deleteEnabled) throw new RegistryError('UNSUPPORTED', undefined, { message: 'deletes are disabled' });
  const digest = digestParam(c.ref);
  if (!(await ctx.store.unlinkBlob(c.name, digest))) throw new RegistryError('BLOB_UNKNOWN', { digest });
  send(c.res, 202, { 'Docker-Content-Digest': digest });
}
