/**
 * The API as data: each route is a path pattern and, per method, the
 * access it needs and its handler. `dispatch` is the only code that
 * matches, authorises and maps errors. Repository names may contain '/',
 * so the name capture is greedy and the fixed suffix decides the route.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryError } from '../errors.js';
import { isValidName } from '../names.js';
import type { Access, Action } from '../auth/types.js';
import { writeError, type Call, type RegistryContext } from './http.js';
import { deleteManifest, getManifest, putManifest } from './manifests.js';
import { deleteBlob, getBlob } from './blobs.js';
import { deleteUpload, getUpload, patchUpload, postUpload, putUpload } from './uploads.js';
import { base, catalog, referrers, tagsList, token } from './discovery.js';

type Handler = (ctx: RegistryContext, c: Call) => void | Promise<void>;

interface MethodSpec {
  /** Actions on the route's repository; 'catalog' for the registry scope; [] for any valid credential. */
  actions: Action[] | 'catalog' | 'none';
  handler: Handler;
}

export interface Route {
  id: string;
  pattern: RegExp;
  /** Whether capture 1 is a repository name. */
  named: boolean;
  /** Whether the route is outside the auth check (the token endpoint itself). */
  open?: boolean;
  methods: Partial<Record<string, MethodSpec>>;
}

const pull: Action[] = ['pull'];
const push: Action[] = ['pull', 'push'];
const del: Action[] = ['delete'];

/** Ordered: manifests first because manifest HEAD is the hottest path. */
export function routes(tokenPath: string): Route[] {
  return [
    {
      id: 'manifest',
      pattern: /^\/v2\/(.+)\/manifests\/([^/]+)$/,
      named: true,
      methods: {
        HEAD: { actions: pull, handler: getManifest },
        GET: { actions: pull, handler: getManifest },
        PUT: { actions: push, handler: putManifest },
        DELETE: { actions: del, handler: deleteManifest },
      },
    },
    {
      id: 'upload-start',
      pattern: /^\/v2\/(.+)\/blobs\/uploads\/?$/,
      named: true,
      methods: { POST: { actions: push, handler: postUpload } },
    },
    {
      id: 'upload',
      pattern: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/,
      named: true,
      methods: {
        GET: { actions: push, handler: getUpload },
        PATCH: { actions: push, handler: patchUpload },
        PUT: { actions: push, handler: putUpload },
        DELETE: { actions: push, handler: deleteUpload },
      },
    },
    {
      id: 'blob',
      pattern: /^\/v2\/(.+)\/blobs\/([^/]+)$/,
      named: true,
      methods: {
        HEAD: { actions: pull, handler: getBlob },
        GET: { actions: pull, handler: getBlob },
        DELETE: { actions: del, handler: deleteBlob },
      },
    },
    { id: 'tags', pattern: /^\/v2\/(.+)\/tags\/list$/, named: true, methods: { GET: { actions: pull, handler: tagsList } } },
    { id: 'referrers', pattern: /^\/v2\/(.+)\/referrers\/([^/]+)$/, named: true, methods: { GET: { actions: pull, handler: referrers } } },
    { id: 'catalog', pattern: /^\/v2\/_catalog$/, named: false, methods: { GET: { actions: 'catalog', handler: catalog } } },
    { id: 'base', pattern: /^\/v2\/?$/, named: false, methods: { GET: { actions: 'none', handler: base }, HEAD: { actions: 'none', handler: base } } },
    { id: 'token', pattern: new RegExp(`^${tokenPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`), named: false, open: true, methods: { GET: { actions: 'none', handler: token } } },
  ];
}

function accessFor(spec: MethodSpec, name: string): Access[] {
  if (spec.actions === 'none') return [];
  if (spec.actions === 'catalog') return [{ type: 'registry', name: 'catalog', actions: ['*'] }];
  return [{ type: 'repository', name, actions: spec.actions }];
}

/** Builds the request listener for a route table. */
export function dispatcher(ctx: RegistryContext, table: Route[]): (req: IncomingMessage, res: ServerResponse) => void {
  const fail = (req: IncomingMessage, res: ServerResponse, e: unknown): void => writeError(ctx, { req, res }, e);
  return (req, res) => {
    const url = req.url ?? '/';
    const qi = url.indexOf('?');
    let path = qi < 0 ? url : url.slice(0, qi);
    const rawQuery = qi < 0 ? '' : url.slice(qi + 1);
    if (path.includes('%')) {
      try {
        path = decodeURIComponent(path);
      } catch {
        fail(req, res, new RegistryError('NAME_INVALID', { path }));
        return;
      }
    }
    let route: Route | undefined;
    let m: RegExpExecArray | null = null;
    for (const r of table) {
      m = r.pattern.exec(path);
      if (m !== null) {
        route = r;
        break;
      }
    }
    if (route === undefined || m === null) {
      fail(req, res, new RegistryError('UNSUPPORTED', { path }, { status: 404, message: 'not found' }));
      return;
    }
    const spec = route.methods[req.method ?? 'GET'];
    if (spec === undefined) {
      fail(req, res, new RegistryError('UNSUPPORTED', { method: req.method }, { status: 405, message: 'method not allowed' }));
      return;
    }
    const name = route.named ? (m[1] ?? '') : '';
    if (route.named && !isValidName(name)) {
      fail(req, res, new RegistryError('NAME_INVALID', { name }));
      return;
    }
    const call: Call = { req, res, name, ref: (route.named ? m[2] : undefined) ?? '', rawQuery };
    const run = (): void => {
      try {
        const p = spec.handler(ctx, call);
        if (p !== undefined) p.catch((e: unknown) => fail(req, res, e));
      } catch (e) {
        fail(req, res, e);
      }
    };
    if (ctx.auth === undefined || route.open === true) {
      run();
      return;
    }
    const access = accessFor(spec, name);
    Promise.resolve(ctx.auth.authenticate(req, access)).then(
      (r) => {
        if (r.ok) {
          run();
          return;
        }
        const headers: Record<string, string> = {};
        if (r.challenge !== undefined) headers['WWW-Authenticate'] = r.challenge;
        const e =
          r.status === 401
            ? new RegistryError('UNAUTHORIZED', r.detail ?? access, { headers })
            : new RegistryError('DENIED', r.detail ?? access, { headers });
        fail(req, res, e);
      },
      (e: unknown) => fail(req, res, e),
    );
  };
}
