/**
 * The container endpoints that work on the filesystem and settings:
 * HEAD/GET/PUT /containers/{id}/archive (docker cp, REFERENCE.md §6.13),
 * GET /containers/{id}/export, GET /containers/{id}/changes, POST /commit
 * and POST /containers/{id}/update.
 *
 * `containerFsRoutes` is also where log rotation is connected to the
 * container service (the composition root registers this one group), so
 * containers that were re-attached at start-up are watched too.
 */
import { ContainerFs, encodePathStat, type ContainerFsDeps } from '../../containers/fs.js';
import { LogRotator } from '../../containers/logrotate.js';
import { NotFoundError } from '../../base/errors.js';
import type { Conmon } from '../../runtime/conmon.js';
import type { Route } from '../router.js';

export interface ContainerFsRouteDeps extends ContainerFsDeps {
  readonly conmon: Conmon;
}

export function containerFsRoutes(deps: ContainerFsRouteDeps): Route[] {
  const fs = new ContainerFs(deps);
  const rotator = new LogRotator({ containers: deps.containers, conmon: deps.conmon, log: deps.log });
  deps.containers.logRotator = rotator;
  for (const rec of deps.containers.all()) if (rec.State.Status === 'running' || rec.State.Status === 'paused') rotator.start(rec.Id);

  const pathOf = (q: { str(name: string): string | undefined }): string => q.str('path') ?? '';
  return [
    {
      method: 'HEAD',
      path: '/containers/{id}/archive',
      handler: async (req, res) => {
        const st = await fs.stat(req.param('id'), pathOf(req.query));
        res.header('X-Docker-Container-Path-Stat', encodePathStat(st));
        res.empty(200);
      },
    },
    {
      method: 'GET',
      path: '/containers/{id}/archive',
      handler: async (req, res) => {
        await fs.getArchive(req.param('id'), pathOf(req.query), (st) => {
          res.header('X-Docker-Container-Path-Stat', encodePathStat(st));
          return res.rawStream('application/x-tar');
        });
      },
    },
    {
      method: 'PUT',
      path: '/containers/{id}/archive',
      handler: async (req, res) => {
        await fs.putArchive(req.param('id'), pathOf(req.query), req.raw, req.query.bool('noOverwriteDirNonDir'));
        res.empty(200);
      },
    },
    {
      method: 'GET',
      path: '/containers/{id}/export',
      handler: async (req, res) => {
        await fs.export(req.param('id'), () => res.rawStream('application/x-tar'));
      },
    },
    {
      method: 'GET',
      path: '/containers/{id}/changes',
      handler: async (req, res) => res.json(200, await fs.changes(req.param('id'))),
    },
    {
      method: 'POST',
      path: '/containers/{id}/update',
      handler: async (req, res) => res.json(200, await fs.update(req.param('id'), await req.json({ optional: true }))),
    },
    {
      method: 'POST',
      path: '/commit',
      handler: async (req, res) => {
        const ref = req.query.str('container') ?? '';
        if (ref === '') throw new NotFoundError('No such container: ');
        const config = await req.json({ optional: true });
        const opts = {
          pause: req.query.bool('pause', true),
          changes: req.query.strs('changes'),
          config,
          ...optional('repo', req.query.str('repo')),
          ...optional('tag', req.query.str('tag')),
          ...optional('comment', req.query.str('comment')),
          ...optional('author', req.query.str('author')),
        };
        res.json(201, { Id: await fs.commit(req.ctx, ref, opts) });
      },
    },
  ];
}

function optional<K extends string>(k: K, v: string | undefined): Partial<Record<K, string>> {
  return v === undefined ? {} : ({ [k]: v } as Partial<Record<K, string>>);
}
