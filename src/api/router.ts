/**
 * Routing for the Engine API: routes are plain data, compiled once when
 * registered, matched against the path with its `/v1.NN` prefix removed.
 *
 * Writing a route group (one module per resource: images, containers, …):
 *
 * ```ts
 * import type { Route } from '../router.js';
 * import { NotFoundError } from '../../base/errors.js';
 *
 * export function imageRoutes(store: ImageStore): Route[] {
 *   return [
 *     { method: 'GET', path: '/images/json', handler: async (req, res) => {
 *         const all = req.query.bool('all');                 // 1/true/True…, absent = false
 *         const filters = req.query.filters();               // Map<string, string[]>, both shapes
 *         res.json(200, await store.list({ all, filters }));
 *     } },
 *     // `{name:.+}` is greedy: image references arrive unescaped (`localhost:5000/t1:v1`)
 *     { method: 'GET', path: '/images/{name:.+}/json', handler: async (req, res) => {
 *         const img = await store.inspect(req.param('name'));   // throw NotFoundError → 404
 *         res.json(200, img);
 *     } },
 *     { method: 'POST', path: '/images/create', handler: async (req, res) => {
 *         const out = res.jsonStream({ terminator: '\r\n' });  // headers flushed now
 *         for await (const msg of store.pull(req.query.str('fromImage') ?? '', req.ctx)) out.write(msg);
 *         out.end();                                           // a throw after this point becomes an in-stream error
 *     } },
 *   ];
 * }
 * ```
 * The composition root does `api.register(imageRoutes(store))`. Handlers
 * throw the taxonomy of `base/errors.ts`; `api/errors.ts` turns it into the
 * status code and `{"message": …}` body. `{id}` matches one segment,
 * `{name:<regex>}` any regex; a `RegExp` path works too (named groups become
 * params). Within routes sharing a literal first segment the first
 * registered wins, so register specific routes before greedy ones; routes
 * whose first segment is a parameter or a RegExp are tried last.
 */
import type { ApiRequest, ApiResponse } from './http.js';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';
export type Handler = (req: ApiRequest, res: ApiResponse) => Promise<void> | void;

export interface Route {
  readonly method: Method;
  /** A template (`/containers/{id}/json`, `/images/{name:.+}/push`) or an anchored-or-not RegExp. */
  readonly path: string | RegExp;
  readonly handler: Handler;
}

export type Params = Readonly<Record<string, string>>;

export interface Match {
  readonly handler: Handler;
  readonly params: Params;
}

interface Compiled {
  readonly re: RegExp;
  readonly handler: Handler;
}

/** API versions we speak. Advertised is the max (REFERENCE §2: everything was captured at 1.41). */
export const API_VERSION = '1.41';
export const MIN_API_VERSION = '1.12';

/** Compares dotted versions numerically, segment by segment ("1.9" < "1.12"). */
export function compareVersions(a: string, b: string): number {
  const as = a.split('.');
  const bs = b.split('.');
  const n = Math.max(as.length, bs.length);
  for (let i = 0; i < n; i++) {
    const x = Number.parseInt(as[i] ?? '0', 10) || 0;
    const y = Number.parseInt(bs[i] ?? '0', 10) || 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export type VersionCheck =
  | { readonly ok: true; readonly version: string; readonly path: string }
  | { readonly ok: false; readonly tooNew: boolean; readonly message: string };

const VERSION_PREFIX = /^\/v([0-9.]+)(\/.*)$/;

/**
 * Strips `/v1.NN` and checks it, with dockerd's messages: too new is a JSON
 * error, too old a text/plain one (dockerd's middleware differs for each).
 * Unversioned paths get the advertised version, like dockerd's default.
 */
export function splitVersion(path: string): VersionCheck {
  // Fast path: almost every unversioned path starts with something other than "/v1".
  if (path.charCodeAt(1) !== 118 /* v */) return { ok: true, version: API_VERSION, path };
  const m = VERSION_PREFIX.exec(path);
  if (m === null) return { ok: true, version: API_VERSION, path };
  const version = m[1]!;
  if (compareVersions(version, API_VERSION) > 0) {
    return { ok: false, tooNew: true, message: `client version ${version} is too new. Maximum supported API version is ${API_VERSION}` };
  }
  if (compareVersions(version, MIN_API_VERSION) < 0) {
    return {
      ok: false,
      tooNew: false,
      message: `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
    };
  }
  return { ok: true, version, path: m[2]! };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `/images/{name:.+}/json` → /^\/images\/(.+)\/json$/ with names ['name']. */
export function compileTemplate(template: string): { re: RegExp; names: string[] } {
  const names: string[] = [];
  let src = '^';
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    if (open < 0) {
      src += escapeRe(template.slice(i));
      break;
    }
    src += escapeRe(template.slice(i, open));
    // Find the matching close brace, allowing braces inside the regex (`{id:[0-9]{3}}`).
    let depth = 0;
    let close = -1;
    for (let j = open; j < template.length; j++) {
      const c = template[j];
      if (c === '{') depth++;
      else if (c === '}' && --depth === 0) {
        close = j;
        break;
      }
    }
    if (close < 0) throw new Error(`route template ${template}: unbalanced {`);
    const body = template.slice(open + 1, close);
    const colon = body.indexOf(':');
    const name = colon < 0 ? body : body.slice(0, colon);
    const pattern = colon < 0 ? '[^/]+' : body.slice(colon + 1);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`route template ${template}: bad parameter name ${name}`);
    names.push(name);
    // Named groups, so capturing groups inside a parameter's own regex do not shift the others.
    src += `(?<${name}>${pattern})`;
    i = close + 1;
  }
  return { re: new RegExp(src + '$'), names };
}

/** The literal first segment of a template (`containers`), or undefined when it is a parameter. */
function firstSegment(template: string): string | undefined {
  const end = template.indexOf('/', 1);
  const seg = end < 0 ? template.slice(1) : template.slice(1, end);
  return seg.includes('{') ? undefined : seg;
}

function segmentOf(path: string): string {
  const end = path.indexOf('/', 1);
  return end < 0 ? path.slice(1) : path.slice(1, end);
}

const NO_PARAMS: Params = Object.freeze({});

/**
 * Routes indexed by method, then by literal first path segment, so a lookup
 * tries a handful of regexes rather than all of them.
 */
export class Router {
  private readonly byMethod = new Map<string, { bySegment: Map<string, Compiled[]>; wild: Compiled[] }>();

  register(routes: readonly Route[]): this {
    for (const r of routes) this.add(r);
    return this;
  }

  add(route: Route): this {
    let table = this.byMethod.get(route.method);
    if (table === undefined) {
      table = { bySegment: new Map(), wild: [] };
      this.byMethod.set(route.method, table);
    }
    if (typeof route.path === 'string') {
      const c: Compiled = { re: compileTemplate(route.path).re, handler: route.handler };
      const seg = firstSegment(route.path);
      if (seg === undefined) table.wild.push(c);
      else {
        const list = table.bySegment.get(seg);
        if (list === undefined) table.bySegment.set(seg, [c]);
        else list.push(c);
      }
    } else {
      table.wild.push({ re: route.path, handler: route.handler });
    }
    return this;
  }

  /** `path` is already unversioned and percent-decoded. */
  match(method: string, path: string): Match | undefined {
    const table = this.byMethod.get(method);
    if (table === undefined) return undefined;
    const list = table.bySegment.get(segmentOf(path));
    if (list !== undefined) {
      for (const c of list) {
        const m = tryMatch(c, path);
        if (m !== undefined) return m;
      }
    }
    for (const c of table.wild) {
      const m = tryMatch(c, path);
      if (m !== undefined) return m;
    }
    return undefined;
  }
}

function tryMatch(c: Compiled, path: string): Match | undefined {
  const m = c.re.exec(path);
  if (m === null) return undefined;
  if (m.length === 1) return { handler: c.handler, params: NO_PARAMS };
  const params: Record<string, string> = {};
  if (m.groups !== undefined) {
    for (const k in m.groups) {
      const v = m.groups[k];
      if (v !== undefined) params[k] = v;
    }
  } else {
    // A RegExp route without named groups: params by position, "0", "1", …
    for (let i = 1; i < m.length; i++) {
      const v = m[i];
      if (v !== undefined) params[String(i - 1)] = v;
    }
  }
  return { handler: c.handler, params };
}
