/**
 * /volumes/*: the Engine API's volume endpoints over the VolumeService
 * (REFERENCE §6.12).
 */
import type { VolumeService } from '../../volumes/service.js';
import type { Route } from '../router.js';

export function volumeRoutes(svc: VolumeService): Route[] {
  return [
    { method: 'GET', path: '/volumes', handler: (req, res) => res.json(200, svc.list(req.query.filters())) },
    {
      method: 'POST',
      path: '/volumes/create',
      handler: async (req, res) => res.json(201, await svc.create(req.ctx, await req.json({ optional: true }))),
    },
    {
      method: 'POST',
      path: '/volumes/prune',
      handler: async (req, res) => res.json(200, await svc.prune(req.ctx, req.query.filters())),
    },
    { method: 'GET', path: '/volumes/{name}', handler: (req, res) => res.json(200, svc.inspect(req.param('name'))) },
    {
      method: 'DELETE',
      path: '/volumes/{name}',
      handler: async (req, res) => {
        await svc.remove(req.ctx, req.param('name'), req.query.bool('force'));
        res.noContent();
      },
    },
  ];
}
