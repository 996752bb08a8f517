/**
 * Mark and sweep for the registry's blob store, safe to run while serving.
 *
 * Mark: every manifest revision linked in any repository is a root; its
 * config and layers (and an index's children, which are themselves
 * revisions) are marked. Sweep: an unmarked blob is removed only when its
 * data is older than the grace period — a blob just uploaded (or touched
 * by a manifest PUT that references it) is young, so a push racing the GC
 * keeps its blobs. The age is re-checked under the blob's lock right
 * before removal. Repository layer links to swept blobs go too.
 *
 * Uploads whose data has not grown for longer than `uploadGraceMs` are
 * abandoned and removed; a session receiving bytes is always young.
 */
import type { Digest } from '../base/digest.js';
import { isDigest } from '../base/digest.js';
import type { Logger } from '../base/log.js';
import { parseManifest } from './manifest.js';
import type { RegistryStore } from './storage/store.js';
import * as L from './storage/layout.js';

export interface GcOptions {
  /** Unreferenced blobs younger than this survive (default 1 hour). */
  graceMs?: number;
  /** Uploads idle longer than this are removed (default 24 hours, Distribution's purge age is a week). */
  uploadGraceMs?: number;
  dryRun?: boolean;
  log: Logger;
  now?: () => number;
}

export interface GcResult {
  marked: number;
  sweptBlobs: Digest[];
  freedBytes: number;
  sweptUploads: number;
}

export async function garbageCollect(store: RegistryStore, opts: GcOptions): Promise<GcResult> {
  const d = store.driver;
  const now = opts.now ?? Date.now;
  const grace = opts.graceMs ?? 3_600_000;
  const uploadGrace = opts.uploadGraceMs ?? 86_400_000;
  const repos = await store.catalog();
  const marked = new Set<string>();

  for (const name of repos) {
    const revDir = L.revisionsDir(name);
    for (const alg of await d.list(revDir)) {
      for (const hex of await d.list(`${revDir}/${alg}`)) {
        const digest = `${alg}:${hex}`;
        if (!isDigest(digest)) continue;
        if ((await d.stat(`${revDir}/${alg}/${hex}/link`)) === undefined) continue;
        marked.add(digest);
        const body = await d.get(L.blobData(digest));
        if (body === undefined) continue;
        try {
          const link = (await d.get(`${revDir}/${alg}/${hex}/link`))?.toString().split('\n')[1];
          const p = parseManifest(body, link !== undefined && link !== '' ? link : undefined);
          for (const b of p.blobs) marked.add(b.digest);
          for (const c of p.children) marked.add(c.digest);
        } catch (e) {
          opts.log.warn('gc: unparseable manifest kept, its references unknown', { name, digest, err: e });
        }
      }
    }
  }

  const result: GcResult = { marked: marked.size, sweptBlobs: [], freedBytes: 0, sweptUploads: 0 };
  for (const alg of await d.list(L.BLOBS)) {
    for (const pre of await d.list(`${L.BLOBS}/${alg}`)) {
      for (const hex of await d.list(`${L.BLOBS}/${alg}/${pre}`)) {
        const digest = `${alg}:${hex}`;
        if (!isDigest(digest) || marked.has(digest)) continue;
        await store.locks.run(`blob\0${digest}`, async () => {
          const st = await d.stat(L.blobData(digest));
          if (st === undefined || now() - st.mtimeMs < grace) return;
          result.sweptBlobs.push(digest);
          result.freedBytes += st.size;
          if (opts.dryRun === true) return;
          await d.delete(L.blobDir(digest));
        });
      }
    }
  }
  if (opts.dryRun !== true && result.sweptBlobs.length > 0) {
    const swept = new Set<string>(result.sweptBlobs);
    for (const name of repos) {
      const dir = L.layersDir(name);
      for (const alg of await d.list(dir)) {
        for (const hex of await d.list(`${dir}/${alg}`)) {
          if (swept.has(`${alg}:${hex}`)) await d.delete(`${dir}/${alg}/${hex}`);
        }
      }
    }
  }

  for (const name of repos) {
    for (const uuid of await d.list(L.uploadsDir(name))) {
      const data = await d.stat(L.uploadData(name, uuid));
      const dir = await d.stat(L.uploadDir(name, uuid));
      const newest = Math.max(data?.mtimeMs ?? 0, dir?.mtimeMs ?? 0);
      if (now() - newest < uploadGrace) continue;
      result.sweptUploads++;
      if (opts.dryRun !== true) await d.delete(L.uploadDir(name, uuid));
    }
  }
  opts.log.info('registry garbage collection done', {
    marked: result.marked,
    blobs: result.sweptBlobs.length,
    bytes: result.freedBytes,
    uploads: result.sweptUploads,
    dryRun: opts.dryRun === true,
  });
  return result;
}
