/**
 * Registry endpoints of the Engine API: pull (`POST /images/create` with
 * `fromImage`), push (`POST /images/{name}/push`) and login (`POST /auth`).
 * Registered before imageRoutes so that /images/create lands here; an
 * import (`fromSrc`) is handled exactly as imageRoutes does it.
 */
import { errorMessage, InvalidArgumentError } from '../../base/errors.js';
import type { ContentStore } from '../../content/types.js';
import type { LeaseManager } from '../../content/leases.js';
import { importRootfs } from '../../images/import.js';
import { preparePull } from '../../images/pull.js';
import { pushImage } from '../../images/push.js';
import type { ImageService } from '../../images/service.js';
import { parsePlatform } from '../../oci/platform.js';
import { fullString, isValidTag, parseReference, withDefaultTag, withDigest, withTag, type Reference } from '../../oci/reference.js';
import { credentialsFrom } from '../../remotes/auth.js';
import type { Registries } from '../../remotes/client.js';
import type { ApiRequest, ApiResponse } from '../http.js';
import type { Route } from '../router.js';

export interface DistributionRouteDeps {
  readonly images: ImageService;
  readonly content: ContentStore;
  readonly leases: LeaseManager;
  readonly registries: Registries;
}

/** `fromImage` + `tag` as dockerd combines them: the tag may be a digest. */
export function pullReference(fromImage: string, tag: string): Reference {
  let ref = parseReference(fromImage);
  if (tag !== '') {
    if (/^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/.test(tag)) ref = withDigest({ domain: ref.domain, path: ref.path }, tag);
    else {
      if (!isValidTag(tag)) throw new InvalidArgumentError('invalid tag format');
      ref = withTag(ref, tag);
    }
  }
  return withDefaultTag(ref);
}

async function handleImport(d: DistributionRouteDeps, req: ApiRequest, res: ApiResponse, src: string): Promise<void> {
  // docker import: fromSrc=- reads the body; a URL is refused (no outside network).
  if (src !== '-') throw new InvalidArgumentError('importing from a URL is not supported; pipe the tarball with fromSrc=-');
  const repo = req.query.str('repo') ?? '';
  const tag = req.query.str('tag') ?? '';
  let full: string | undefined;
  if (repo !== '') {
    let ref = parseReference(repo);
    if (tag !== '') {
      if (!isValidTag(tag)) throw new InvalidArgumentError('invalid tag format');
      ref = withTag(ref, tag);
    }
    full = fullString(withDefaultTag(ref));
  }
  const out = res.jsonStream({ terminator: '\r\n' });
  try {
    const id = await importRootfs(req.ctx, { images: d.images, content: d.content, leases: d.leases }, req.raw, {
      ...(full !== undefined ? { tag: full } : {}),
      changes: req.query.strs('changes'),
      message: req.query.str('message') ?? '',
    });
    out.write({ status: id });
    out.end();
  } catch (e) {
    out.error(errorMessage(e));
  }
}

export function distributionRoutes(d: DistributionRouteDeps): Route[] {
  return [
    {
      method: 'POST',
      path: '/images/create',
      handler: async (req, res) => {
        const src = req.query.str('fromSrc') ?? '';
        if (src !== '') return handleImport(d, req, res, src);
        const from = req.query.str('fromImage') ?? '';
        if (from === '') throw new InvalidArgumentError('"fromImage" or "fromSrc" must be given');
        const ref = pullReference(from, req.query.str('tag') ?? '');
        const p = req.query.str('platform') ?? '';
        const platform = p !== '' ? parsePlatform(p) : undefined;
        const creds = credentialsFrom(req.registryAuth());
        // Resolving happens before the stream: "manifest unknown" is an HTTP 404, as dockerd.
        const pull = await preparePull(req.ctx, d, { ref, creds, ...(platform !== undefined ? { platform } : {}) });
        const out = res.jsonStream({ terminator: '\r\n' });
        try {
          await pull.run(req.ctx, (m) => out.write(m));
          out.end();
        } catch (e) {
          req.ctx.log.warn('pull failed', { ref: fullString(ref), err: errorMessage(e) });
          out.error(errorMessage(e));
        }
      },
    },
    {
      method: 'POST',
      path: '/images/{name:.+}/push',
      handler: async (req, res) => {
        let ref = parseReference(req.param('name'));
        if (ref.digest !== undefined) throw new InvalidArgumentError('cannot push a digest reference');
        const tag = req.query.str('tag') ?? '';
        if (tag !== '') ref = withTag(ref, tag);
        const creds = credentialsFrom(req.registryAuth());
        const out = res.jsonStream({ terminator: '\r\n' });
        try {
          await pushImage(req.ctx, d, { ref, creds }, (m) => out.write(m));
          out.end();
        } catch (e) {
          req.ctx.log.warn('push failed', { ref: fullString(ref), err: errorMessage(e) });
          out.error(errorMessage(e));
        }
      },
    },
    {
      method: 'POST',
      path: '/auth',
      handler: async (req, res) => {
        const body = await req.json();
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidArgumentError('invalid auth configuration');
        const o = body as Record<string, unknown>;
        const str = (k: string): string | undefined => {
          const v = o[k];
          return typeof v === 'string' && v !== '' ? v : undefined;
        };
        const creds = credentialsFrom({
          ...(str('username') !== undefined ? { username: str('username')! } : {}),
          ...(str('password') !== undefined ? { password: str('password')! } : {}),
          ...(str('auth') !== undefined ? { auth: str('auth')! } : {}),
          ...(str('identitytoken') !== undefined ? { identitytoken: str('identitytoken')! } : {}),
          ...(str('registrytoken') !== undefined ? { registrytoken: str('registrytoken')! } : {}),
        });
        await d.registries.login(str('serveraddress') ?? '', creds, req.signal);
        res.json(200, { IdentityToken: '', Status: 'Login Succeeded' });
      },
    },
  ];
}
