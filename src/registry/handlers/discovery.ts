/** Content discovery: `/v2/`, tags list, catalog, referrers, and the built-in token endpoint. */
import { MediaType } from '../../oci/mediatypes.js';
import { RegistryError } from '../errors.js';
import { digestParam, paginate, query, sendJson, type Call, type RegistryContext } from './http.js';

export function base(_ctx: RegistryContext, c: Call): void {
  sendJson(c.res, 200, {}, {}, c.req.method === 'HEAD');
}

export async function tagsList(ctx: RegistryContext, c: Call): Promise<void> {
  const all = await ctx.store.tags(c.name);
  if (all === undefined) throw new RegistryError('NAME_UNKNOWN', { name: c.name });
  const { items, link } = paginate(all, query(c), `/v2/${c.name}/tags/list`);
  sendJson(c.res, 200, { name: c.name, tags: items }, link !== undefined ? { Link: link } : {});
}

export async function catalog(ctx: RegistryContext, c: Call): Promise<void> {
  const { items, link } = paginate(await ctx.store.catalog(), query(c), '/v2/_catalog');
  sendJson(c.res, 200, { repositories: items }, link !== undefined ? { Link: link } : {});
}

export async function referrers(ctx: RegistryContext, c: Call): Promise<void> {
  const digest = digestParam(c.ref);
  const artifactType = query(c).get('artifactType');
  let manifests = await ctx.store.referrers(c.name, digest);
  const headers: Record<string, string> = { 'Content-Type': MediaType.ociIndex };
  if (artifactType !== null && artifactType !== '') {
    manifests = manifests.filter((m) => m.artifactType === artifactType);
    headers['OCI-Filters-Applied'] = 'artifactType';
  }
  // The spec forbids 404 here for a registry with the API: an unknown repository simply has no referrers.
  sendJson(c.res, 200, { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }, headers);
}

export function token(ctx: RegistryContext, c: Call): void {
  if (ctx.tokenIssuer === undefined) throw new RegistryError('UNSUPPORTED', undefined, { status: 404, message: 'no token service here' });
  const r = ctx.tokenIssuer.issue(c.req, query(c));
  if (!r.ok) {
    sendJson(c.res, r.status, { errors: [{ code: r.status === 401 ? 'UNAUTHORIZED' : 'DENIED', message: r.message }] });
    return;
  }
  sendJson(c.res, 200, r.body, { 'Cache-Control': 'no-store' });
}
