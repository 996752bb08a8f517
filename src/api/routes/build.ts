/**
 * POST /build (the classic builder's API, which `DOCKER_BUILDKIT=0 docker
 * build`, docker-compose and docker-py use) and POST /build/prune.
 *
 * The body is the context tar whatever the Content-Type says (the CLI
 * sends application/x-tar chunked, docker-py application/tar with a
 * Content-Length). Problems found before building (a bad parameter, a
 * Dockerfile syntax error, a missing Dockerfile) are HTTP errors, as
 * dockerd; once the stream has started they are in-stream errors with the
 * failed RUN's exit code (§5.3).
 *
 * POST /build/context is berth's own (`berth build`): a manifest of a
 * folder's entries in, the files the daemon lacks and a token out; the
 * build request then carries `contextsync=<token>` and a tar of just those
 * files (src/build/synced.ts). A full context tar (every other client)
 * is applied over the folder kept from the last build with the same tags
 * and Dockerfile name, so unchanged files are not written again.
 */
import { errorMessage, InvalidArgumentError } from '../../base/errors.js';
import type { Sys } from '../../base/sys.js';
import { BuildError, type Builder, type BuildOutput, type BuildRequest } from '../../build/builder.js';
import { slotOf } from '../../build/synced.js';
import { DockerfileSyntaxError, parseDockerfile } from '../../build/dockerfile/parser.js';
import { applyCheckConfig, checkConfig, lintDockerfile } from '../../build/dockerfile/checks.js';
import type { ApiRequest } from '../http.js';
import type { JsonStream } from '../http.js';
import type { Route } from '../router.js';

export interface BuildRouteDeps {
  readonly builder: Builder;
  readonly sys: Sys;
  /** Where contexts are extracted (removed after each build). */
  readonly tmpRoot: string;
}

function stringMap(v: unknown, what: string): Map<string, string> {
  const m = new Map<string, string>();
  if (v === undefined || v === null) return m;
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidArgumentError(`${what} must be a JSON object`);
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    // `--build-arg NAME` without a value and not in the environment arrives as null: unset.
    if (x === null) continue;
    if (typeof x !== 'string') throw new InvalidArgumentError(`${what}: value of ${k} must be a string`);
    m.set(k, x);
  }
  return m;
}

function stringList(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) throw new InvalidArgumentError(`${what} must be a JSON list of strings`);
  return v.filter((x) => x !== '');
}

function parseSecrets(header: string | string[] | undefined): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  if (typeof header !== 'string' || header === '') return m;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
  } catch {
    throw new InvalidArgumentError('X-Berth-Build-Secrets: not base64 JSON');
  }
  for (const [k, x] of stringMap(v, 'X-Berth-Build-Secrets')) m.set(k, Buffer.from(x, 'base64'));
  return m;
}

export function parseBuildRequest(req: ApiRequest): BuildRequest {
  const q = req.query;
  const intOpt = (n: string): number | undefined => {
    const v = q.int(n);
    return v === undefined || v === 0 ? undefined : v;
  };
  const shm = intOpt('shmsize');
  const mem = intOpt('memory');
  const target = q.str('target');
  const platform = q.str('platform');
  const dockerfile = q.str('dockerfile');
  const extra = q.str('extrahosts');
  if (q.str('remote') !== undefined && q.str('remote') !== '') throw new InvalidArgumentError('remote build contexts are not supported; send the context as the request body');
  return {
    ...(dockerfile !== undefined && dockerfile !== '' ? { dockerfile } : {}),
    tags: q.strs('t').filter((t) => t !== ''),
    buildArgs: stringMap(q.json('buildargs'), 'buildargs'),
    ...(target !== undefined && target !== '' ? { target } : {}),
    labels: Object.fromEntries(stringMap(q.json('labels'), 'labels')),
    noCache: q.bool('nocache'),
    pull: q.bool('pull'),
    rm: q.bool('rm', true),
    forceRm: q.bool('forcerm'),
    quiet: q.bool('q'),
    ...(platform !== undefined && platform !== '' ? { platform } : {}),
    // The CLI sends `extrahosts=a:1.2.3.4,b:…` (one value, comma separated) or repeats it.
    extraHosts: extra === undefined ? [] : q.strs('extrahosts').flatMap((x) => x.split(',')).filter((x) => x !== ''),
    networkMode: q.str('networkmode') ?? 'default',
    ...(shm !== undefined ? { shmSize: shm } : {}),
    ...(mem !== undefined ? { memory: mem } : {}),
    secrets: parseSecrets(req.headers['x-berth-build-secrets']),
    cacheFrom: stringList(q.json('cachefrom'), 'cachefrom'),
  };
}

export function buildRoutes(d: BuildRouteDeps): Route[] {
  return [
    {
      method: 'POST',
      path: '/build',
      handler: async (req, res) => {
        const r = parseBuildRequest(req);
        const t0 = performance.now();
        // `contextsync`: the body holds only what POST /build/context said was missing (berth build).
        const token = req.query.str('contextsync');
        const context =
          token !== undefined && token !== ''
            ? await d.builder.contexts.open(token, req.raw, r.dockerfile)
            : await d.builder.contexts.openTar(slotOf(r.tags, r.dockerfile), req.raw, r.dockerfile, d.tmpRoot);
        req.ctx.log.debug('build context received', { ms: Math.round(performance.now() - t0) });
        try {
          let plan;
          try {
            plan = d.builder.prepare(context.dockerfile, r);
          } catch (e) {
            if (e instanceof DockerfileSyntaxError) throw new InvalidArgumentError(e.message);
            throw e;
          }
          const stream: JsonStream = res.jsonStream({ terminator: '\r\n' });
          // Build checks (berth build asks; the docker CLI's classic path never does, as dockerd's
          // classic builder has none): reported in an aux message, fatal with check=error=true.
          const checkMode = req.query.str('checks');
          if (checkMode === '1' || checkMode === 'only') {
            const parsed = parseDockerfile(context.dockerfile);
            const cfg = checkConfig(parsed.directives.get('check'), r.buildArgs.get('BUILDKIT_DOCKERFILE_CHECK'));
            const found = applyCheckConfig(lintDockerfile(parsed), cfg);
            stream.write({ aux: { BerthChecks: found } });
            if (checkMode === 'only') {
              stream.end();
              return;
            }
            if (cfg.error && found.length > 0) {
              stream.error(`lint violation found for rules: ${[...new Set(found.map((v) => v.rule))].join(', ')}`);
              return;
            }
          }
          let id = '';
          const out: BuildOutput = {
            stream: (text) => {
              if (!r.quiet) stream.write({ stream: text });
            },
            aux: (v) => {
              if (typeof v['ID'] === 'string') id = v['ID'];
              stream.write({ aux: v });
            },
            progress: (m) => {
              if (!r.quiet) stream.write(m);
            },
          };
          try {
            await d.builder.build(req.ctx, context, r, out, plan);
            if (r.quiet) stream.write({ stream: `${id}\n` });
            stream.end();
          } catch (e) {
            req.ctx.log.info('build failed', { err: errorMessage(e) });
            stream.error(errorMessage(e), e instanceof BuildError ? e.code : undefined);
          }
        } finally {
          await context.dispose();
        }
      },
    },
    {
      // berth's own: a context manifest in, the files to send and a token for POST /build?contextsync= out.
      method: 'POST',
      path: '/build/context',
      handler: async (req, res) => {
        res.json(200, await d.builder.contexts.plan(await req.json()));
      },
    },
    {
      method: 'POST',
      path: '/build/prune',
      handler: async (_req, res) => {
        res.json(200, await d.builder.prune());
      },
    },
    {
      method: 'POST',
      path: '/build/cancel',
      handler: (_req, res) => res.empty(200),
    },
  ];
}
