/** Manifests by tag or digest: GET, HEAD, PUT, DELETE. */
import { isDigest, type Digest } from '../../base/digest.js';
import { readAllLimited, MAX_JSON_BYTES } from '../../base/stream.js';
import { RegistryError } from '../errors.js';
import { isValidTag } from '../names.js';
import type { ManifestMeta } from '../storage/store.js';
import { API_VERSION, API_VERSION_HEADER, contentLength, send, type Call, type RegistryContext } from './http.js';

function parseRef(ref: string): { tag?: string; digest?: Digest } {
  if (ref.includes(':')) {
    if (!isDigest(ref)) throw new RegistryError('DIGEST_INVALID', { digest: ref }, { message: 'invalid digest' });
    return { digest: ref };
  }
  if (!isValidTag(ref)) throw new RegistryError('MANIFEST_INVALID', { tag: ref }, { message: 'invalid tag' });
  return { tag: ref };
}

async function notFound(ctx: RegistryContext, name: string, ref: string): Promise<RegistryError> {
  if (!(await ctx.store.repoExists(name))) return new RegistryError('NAME_UNKNOWN', { name });
  return new RegistryError('MANIFEST_UNKNOWN', { reference: ref });
}

function writeMeta(c: Call, meta: ManifestMeta): void {
  c.res.writeHead(200, {
    'Content-Type': meta.mediaType,
    'Content-Length': meta.sizeHeader,
    'Docker-Content-Digest': meta.digest,
    Etag: `"${meta.digest}"`,
    [API_VERSION_HEADER]: API_VERSION,
  });
}

/** HEAD and GET. A cache hit on HEAD stays synchronous: no promise, no file system. */
export function getManifest(ctx: RegistryContext, c: Call): void | Promise<void> {
  const head = c.req.method === 'HEAD';
  const hit = ctx.store.cachedManifest(c.name, c.ref);
  if (hit !== undefined && head) {
    writeMeta(c, hit);
    c.res.end();
    return;
  }
  return (async () => {
    const ref = parseRef(c.ref);
    const meta = hit ?? (await ctx.store.getManifest(c.name, c.ref, ref.digest !== undefined));
    if (meta === undefined) throw await notFound(ctx, c.name, c.ref);
    if (head) {
      writeMeta(c, meta);
      c.res.end();
      return;
    }
    const body = await ctx.store.readManifest(meta.digest);
    if (body === undefined) throw await notFound(ctx, c.name, c.ref);
    writeMeta(c, meta);
    c.res.end(body);
  })();
}

export async function putManifest(ctx: RegistryContext, c: Call): Promise<void> {
  const ref = parseRef(c.ref);
  const tooBig = new RegistryError('MANIFEST_INVALID', { limit: MAX_JSON_BYTES }, { status: 413, message: 'manifest exceeds the size limit' });
  const declared = contentLength(c.req);
  if (declared !== undefined && declared > MAX_JSON_BYTES) throw tooBig;
  let body: Buffer;
  try {
    body = await readAllLimited(c.req, MAX_JSON_BYTES);
  } catch {
    throw tooBig;
  }
  const { digest, parsed } = await ctx.store.putManifest(c.name, ref, body, c.req.headers['content-type']);
  const headers: Record<string, string> = {
    Location: `/v2/${c.name}/manifests/${digest}`,
    'Docker-Content-Digest': digest,
  };
  if (parsed.subject !== undefined) headers['OCI-Subject'] = parsed.subject.digest;
  ctx.log.info('manifest pushed', { name: c.name, ref: c.ref, digest });
  send(c.res, 201, headers);
}

export async function deleteManifest(ctx: RegistryContext, c: Call): Promise<void> {
  if (!ctx.deleteEnabled) throw new RegistryError('UNSUPPORTED', undefined, { message: 'deletes are disabled' });
  const ref = parseRef(c.ref);
  const ok = ref.digest !== undefined ? await ctx.store.deleteManifest(c.name, ref.digest) : await ctx.store.deleteTag(c.name, ref.tag!);
  if (!ok) throw await notFound(ctx, c.name, c.ref);
  send(c.res, 202, {});
}
