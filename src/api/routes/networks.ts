/**
 * /networks/*: the Engine API's network endpoints over the NetworkService
 * (REFERENCE §6.12, §7: compose connects and disconnects created
 * containers before starting them).
 */
import type { NetworkService } from '../../network/service.js';
import type { Route } from '../router.js';

export function networkRoutes(svc: NetworkService): Route[] {
  return [
    { method: 'GET', path: '/networks', handler: (req, res) => res.json(200, svc.list(req.query.filters())) },
    {
      method: 'POST',
      path: '/networks/create',
      handler: async (req, res) => res.json(201, svc.create(await req.json())),
    },
    {
      method: 'POST',
      path: '/networks/prune',
      handler: async (req, res) => res.json(200, await svc.prune(req.query.filters())),
    },
    { method: 'GET', path: '/networks/{id}', handler: (req, res) => res.json(200, svc.inspect(req.param('id'))) },
    {
      method: 'DELETE',
      path: '/networks/{id}',
      handler: async (req, res) => {
        await svc.remove(req.param('id'));
        res.noContent();
      },
    },
    {
      method: 'POST',
      path: '/networks/{id}/connect',
      handler: async (req, res) => {
        await svc.connect(req.ctx, req.param('id'), await req.json());
        res.empty(200);
      },
    },
    {
      method: 'POST',
      path: '/networks/{id}/disconnect',
      handler: async (req, res) => {
        await svc.disconnect(req.ctx, req.param('id'), await req.json());
        res.empty(200);
      },
    },
  ];
}
