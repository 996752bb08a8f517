/**
 * /images/* and /system/df: the Engine API's image endpoints over the
 * ImageService (pull, push and import through /images/create live in
 * distribution.ts). Handlers parse and validate the request, call the service,
 * and shape nothing themselves beyond what the wire needs.
 */
import { pipeline } from 'node:stream/promises';
import type { Digest } from '../../base/digest.js';
import { errorMessage, InvalidArgumentError, NotFoundError } from '../../base/errors.js';
import type { ContentStore } from '../../content/types.js';
import type { LeaseManager } from '../../content/leases.js';
import type { ImageTable } from '../../metadata/images.js';
import { loadArchive } from '../../images/archive/load.js';
import { saveArchive, type SaveItem } from '../../images/archive/save.js';
import type { ImageService } from '../../images/service.js';
import { fullString, parseReference, withDefaultTag } from '../../oci/reference.js';
import type { Route } from '../router.js';

export interface ImageRouteDeps {
  readonly images: ImageService;
  readonly content: ContentStore;
  readonly leases: LeaseManager;
  readonly table: ImageTable;
  /** Gives freed heap back to the OS after a load (Sys.mallocTrim). */
  readonly trimHeap?: () => void;
  /** Containers (and volumes, build cache) parts of /system/df; images are added here. */
  readonly dfExtra?: () => Promise<Record<string, unknown>> | Record<string, unknown>;
}

export function imageRoutes(d: ImageRouteDeps): Route[] {
  return [
    {
      method: 'GET',
      path: '/images/json',
      handler: (req, res) => {
        const filters = req.query.filters();
        // Legacy `filter=` (API < 1.41) is a reference pattern.
        const legacy = req.query.str('filter');
        if (legacy !== undefined && legacy !== '') filters.set('reference', [legacy]);
        res.json(200, d.images.list({ all: req.query.bool('all'), filters, digests: req.query.bool('digests') }));
      },
    },
    {
      method: 'POST',
      path: '/images/load',
      handler: async (req, res) => {
        const quiet = req.query.bool('quiet');
        const out = res.jsonStream({ terminator: '\r\n' });
        try {
          const lines = await loadArchive(req.ctx, { images: d.images, content: d.content, leases: d.leases, ...(d.trimHeap !== undefined ? { trimHeap: d.trimHeap } : {}) }, req.raw, (msg) => {
            if (!quiet && msg.status !== undefined) out.write({ status: msg.status, progressDetail: msg.progressDetail ?? {}, id: msg.id });
          });
          for (const l of lines) out.write({ stream: `${l}\n` });
          out.end();
        } catch (e) {
          req.ctx.log.warn('image load failed', { err: errorMessage(e) });
          out.error(errorMessage(e));
        }
      },
    },
    {
      method: 'GET',
      path: '/images/get',
      handler: async (req, res) => {
        const names = req.query.strs('names');
        const items = resolveSave(d, names);
        const body = saveArchive({ content: d.content, table: d.table }, items);
        const out = res.rawStream('application/x-tar');
        for (const it of items) d.images.events.publish('image', 'save', it.image.record.id, { name: it.names[0] ?? it.image.record.id });
        await pipeline(body, out).catch((e: unknown) => {
          req.ctx.log.warn('image save failed', { err: errorMessage(e) });
          res.destroy();
        });
      },
    },
    {
      method: 'POST',
      path: '/images/prune',
      handler: async (req, res) => {
        res.json(200, await d.images.prune(req.ctx, req.query.filters()));
      },
    },
    {
      method: 'GET',
      path: '/images/{name:.+}/json',
      handler: (req, res) => res.json(200, d.images.inspect(req.param('name'))),
    },
    {
      method: 'GET',
      path: '/images/{name:.+}/history',
      handler: (req, res) => res.json(200, d.images.history(req.param('name'))),
    },
    {
      method: 'GET',
      path: '/images/{name:.+}/get',
      handler: async (req, res) => {
        const items = resolveSave(d, [req.param('name')]);
        const out = res.rawStream('application/x-tar');
        await pipeline(saveArchive({ content: d.content, table: d.table }, items), out).catch(() => res.destroy());
      },
    },
    {
      method: 'POST',
      path: '/images/{name:.+}/tag',
      handler: (req, res) => {
        const repo = req.query.str('repo') ?? '';
        if (repo === '') throw new InvalidArgumentError('repository name must have at least one component');
        d.images.tag(req.param('name'), repo, req.query.str('tag'));
        res.empty(201);
      },
    },
    {
      method: 'DELETE',
      path: '/images/{name:.+}',
      handler: async (req, res) => {
        const items = await d.images.remove(req.ctx, req.param('name'), { force: req.query.bool('force'), noprune: req.query.bool('noprune') });
        res.json(200, items);
      },
    },
    {
      method: 'GET',
      path: '/system/df',
      handler: async (_req, res) => {
        const img = d.images.df();
        const extra = d.dfExtra !== undefined ? await d.dfExtra() : {};
        res.json(200, { LayersSize: img.LayersSize, Images: img.Images, Containers: [], Volumes: [], BuildCache: null, BuilderSize: 0, ...extra });
      },
    },
  ];
}

/** Names for save: a name saves that name; an ID saves the image with all its tags (as Docker). */
function resolveSave(d: ImageRouteDeps, names: readonly string[]): SaveItem[] {
  const byImage = new Map<Digest, SaveItem & { names: string[] }>();
  for (const n of names) {
    const img = d.images.index.find(n);
    if (img === undefined) throw new NotFoundError(`No such image: ${n}`);
    let item = byImage.get(img.record.id);
    if (item === undefined) {
      item = { image: img, names: [] };
      byImage.set(img.record.id, item);
    }
    const isName = (() => {
      try {
        const full = fullString(withDefaultTag(parseReference(n)));
        return img.tags.includes(full) ? full : undefined;
      } catch {
        return undefined;
      }
    })();
    if (isName !== undefined) {
      if (!item.names.includes(isName)) item.names.push(isName);
    } else for (const t of img.tags) if (!item.names.includes(t)) item.names.push(t);
  }
  return [...byImage.values()];
}
