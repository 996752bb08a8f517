/**
 * Blob uploads: POST (session, monolithic with ?digest=, or cross-repo
 * mount), PATCH (in-order chunks), PUT (close, optionally with the last
 * chunk), GET (status), DELETE (cancel). Bytes flow from the socket into
 * the session's file, hashed on the way; nothing is buffered.
 */
import { RegistryError } from '../errors.js';
import { isValidName } from '../names.js';
import { isUploadId } from '../storage/store.js';
import type { Digest } from '../../base/digest.js';
import { contentLength, digestParam, hasBody, query, rangeHeader, send, uploadLocation, type Call, type RegistryContext } from './http.js';

function uploadHeaders(name: string, uuid: string, size: number): Record<string, string> {
  return { Location: uploadLocation(name, uuid), Range: rangeHeader(size), 'Docker-Upload-UUID': uuid };
}

function created(c: Call, digest: Digest): void {
  send(c.res, 201, { Location: `/v2/${c.name}/blobs/${digest}`, 'Docker-Content-Digest': digest });
}

/** `start-end` per the spec; also tolerates `bytes start-end/total`, which some clients send. */
export function parseContentRange(h: string | undefined): { start: number; end: number } | undefined {
  if (h === undefined) return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(h.trim());
  if (m === null) throw new RegistryError('BLOB_UPLOAD_INVALID', { contentRange: h }, { status: 416, message: 'invalid Content-Range' });
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) throw new RegistryError('BLOB_UPLOAD_INVALID', { contentRange: h }, { status: 416, message: 'invalid Content-Range' });
  return { start, end };
}

/** Mount access on `from` is checked here, not by the router: without it the POST is a plain upload (the spec's fallback). */
export async function mountAllowed(ctx: RegistryContext, c: Call, from: string): Promise<boolean> {
  if (ctx.auth === undefined) return true;
  const r = await ctx.auth.authenticate(c.req, [{ type: 'repository', name: from, actions: ['pull'] }]);
  return r.ok;
}

export async function postUpload(ctx: RegistryContext, c: Call): Promise<void> {
  const q = query(c);
  const mount = q.get('mount');
  const from = q.get('from');
  if (mount !== null) {
    const digest = digestParam(mount);
    if (from !== null && isValidName(from) && (await mountAllowed(ctx, c, from))) {
      const size = await ctx.store.mountBlob(c.name, from, digest);
      if (size !== undefined) {
        created(c, digest);
        return;
      }
    }
    // Not mountable: fall through to a fresh session (202), as the spec asks.
  }
  const digestQ = q.get('digest');
  const st = await ctx.store.startUpload(c.name);
  if (digestQ !== null && mount === null) {
    const digest = digestParam(digestQ);
    try {
      await ctx.store.appendUpload(c.name, st.uuid, c.req, undefined, contentLength(c.req));
      await ctx.store.commitUpload(c.name, st.uuid, digest);
    } catch (e) {
      await ctx.store.cancelUpload(c.name, st.uuid);
      throw e;
    }
    created(c, digest);
    return;
  }
  send(c.res, 202, uploadHeaders(c.name, st.uuid, 0));
}

function uploadId(c: Call): string {
  if (!isUploadId(c.ref)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', { uuid: c.ref });
  return c.ref;
}

export async function patchUpload(ctx: RegistryContext, c: Call): Promise<void> {
  const uuid = uploadId(c);
  const range = parseContentRange(c.req.headers['content-range']);
  const st = await ctx.store.appendUpload(c.name, uuid, c.req, range, contentLength(c.req));
  send(c.res, 202, uploadHeaders(c.name, uuid, st.size));
}

export async function putUpload(ctx: RegistryContext, c: Call): Promise<void> {
  const uuid = uploadId(c);
  const digest = digestParam(query(c).get('digest'));
  if (hasBody(c.req)) {
    const range = parseContentRange(c.req.headers['content-range']);
    await ctx.store.appendUpload(c.name, uuid, c.req, range, contentLength(c.req));
  }
  await ctx.store.commitUpload(c.name, uuid, digest);
  ctx.log.debug('blob uploaded', { name: c.name, digest });
  created(c, digest);
}

export async function getUpload(ctx: RegistryContext, c: Call): Promise<void> {
  const uuid = uploadId(c);
  const st = await ctx.store.uploadStatus(c.name, uuid);
  if (st === undefined) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', { uuid });
  send(c.res, 204, uploadHeaders(c.name, uuid, st.size));
}

export async function deleteUpload(ctx: RegistryContext, c: Call): Promise<void> {
  const uuid = uploadId(c);
  if (!(await ctx.store.cancelUpload(c.name, uuid))) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', { uuid });
  send(c.res, 204, {});
}
