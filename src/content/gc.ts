/**
 * Garbage collection, mark and sweep, knowing nothing of images or layers.
 *
 * Contract of `collect`:
 *  - roots: what is alive by itself. For content, the digests the metadata
 *    layer points at (every image record's target/manifest, every
 *    container's image). The caller (the daemon's GC task, run after image
 *    removal, prune, or on a timer) computes them from its durable records.
 *  - refs(node): the children of a node (a manifest's config and layers).
 *    Marking follows it from roots and from leased candidates. If `refs`
 *    throws, collect throws and removes nothing: an incomplete mark must
 *    never turn into a deletion.
 *  - candidates: everything that may be removed (e.g. `store.list()`).
 *  - isLeased(n): protection for in-flight operations; a leased candidate is
 *    kept, and so is everything it references. Re-checked right before each
 *    removal, so a lease taken during the sweep still wins.
 *  - minAgeMs + ageOf: a grace period; a candidate younger than minAgeMs (or
 *    whose age is unknown, e.g. vanished) is kept. It closes the window
 *    between "blob committed" and "record that references it written".
 *  - remove(n): deletes a node, optionally returning the bytes freed. A node
 *    already gone (NotFoundError/ENOENT) counts as nothing removed.
 *
 * Collect is idempotent; running it twice concurrently is wasteful but safe
 * as long as `remove` tolerates missing nodes.
 */
import { CancelledError, isNotFound } from '../base/errors.js';
import type { Digest } from '../base/digest.js';
import type { Logger } from '../base/log.js';
import type { ContentStore } from './types.js';

export interface CollectOptions {
  readonly roots: Iterable<string>;
  readonly refs: (node: string) => Promise<Iterable<string>>;
  readonly candidates: AsyncIterable<string> | Iterable<string>;
  readonly isLeased: (node: string) => boolean;
  readonly remove: (node: string) => Promise<number | void>;
  readonly minAgeMs?: number;
  /** Age in ms of a candidate; undefined when unknown (the node is then kept). */
  readonly ageOf?: (node: string) => Promise<number | undefined>;
  readonly signal?: AbortSignal;
}

export interface CollectResult {
  readonly removed: string[];
  readonly bytesFreed?: number;
  /** Nodes reachable from roots or leases. */
  readonly marked: number;
}

export async function collect(opts: CollectOptions): Promise<CollectResult> {
  const { refs, isLeased, remove, signal } = opts;
  const minAge = opts.minAgeMs ?? 0;
  if (minAge > 0 && opts.ageOf === undefined) throw new TypeError('collect: minAgeMs requires ageOf');

  // Candidates first, so leased ones can seed the mark before anything is removed.
  const candidates: string[] = [];
  for await (const c of opts.candidates) candidates.push(c);

  const marked = new Set<string>();
  const queue: string[] = [];
  const visit = (n: string): void => {
    if (!marked.has(n)) {
      marked.add(n);
      queue.push(n);
    }
  };
  for (const r of opts.roots) visit(r);
  for (const c of candidates) if (isLeased(c)) visit(c);
  while (queue.length > 0) {
    if (signal?.aborted) throw new CancelledError('garbage collection cancelled');
    const n = queue.pop()!;
    for (const child of await refs(n)) visit(child);
  }

  const removed: string[] = [];
  let bytes = 0;
  let sawBytes = false;
  for (const c of candidates) {
    if (signal?.aborted) break;
    if (marked.has(c) || isLeased(c)) continue;
    if (minAge > 0) {
      const age = await opts.ageOf!(c);
      if (age === undefined || age < minAge) continue;
    }
    if (isLeased(c)) continue; // ageOf awaited: a lease may have appeared
    try {
      const freed = await remove(c);
      if (typeof freed === 'number') {
        bytes += freed;
        sawBytes = true;
      }
      removed.push(c);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  return sawBytes ? { removed, bytesFreed: bytes, marked: marked.size } : { removed, marked: marked.size };
}

export interface ContentGcOptions {
  readonly isLeased: (resource: string) => boolean;
  /** Blobs younger than this are kept (default 10 minutes). */
  readonly gracePeriodMs?: number;
  /** When set, ingests untouched for this long are removed as well. */
  readonly ingestMaxAgeMs?: number;
  readonly log?: Logger;
  readonly now?: () => number;
}

export interface ContentGcResult {
  readonly removed: Digest[];
  readonly bytesFreed: number;
  readonly ingestsRemoved: number;
}

/**
 * Sweeps a ContentStore. The caller (the daemon's GC task, which owns the
 * image and container records) passes the complete live set: every digest
 * still referenced, children included, or the roots plus a `refs` function
 * that expands them. ContentGc itself parses nothing.
 */
export class ContentGc {
  private readonly grace: number;
  private readonly now: () => number;

  constructor(
    private readonly store: ContentStore,
    private readonly opts: ContentGcOptions,
  ) {
    this.grace = opts.gracePeriodMs ?? 10 * 60_000;
    this.now = opts.now ?? Date.now;
  }

  async sweep(live: Iterable<Digest>, refs?: (d: Digest) => Promise<Iterable<Digest>>, signal?: AbortSignal): Promise<ContentGcResult> {
    const sizes = new Map<string, { size: number; at: number }>();
    const store = this.store;
    async function* candidates(): AsyncIterable<string> {
      for await (const b of store.list()) {
        sizes.set(b.digest, { size: b.size, at: b.committedAt.getTime() });
        yield b.digest;
      }
    }
    const res = await collect({
      roots: live,
      refs: refs !== undefined ? (n) => refs(n as Digest) : async () => [],
      candidates: candidates(),
      isLeased: this.opts.isLeased,
      minAgeMs: this.grace,
      // Re-read: a dedup commit refreshes the mtime after listing.
      ageOf: async (n) => {
        try {
          const info = await store.info(n as Digest);
          return this.now() - info.committedAt.getTime();
        } catch (e) {
          if (isNotFound(e)) return undefined;
          throw e;
        }
      },
      remove: async (n) => {
        await store.delete(n as Digest);
        this.opts.log?.debug('gc removed blob', { digest: n });
        return sizes.get(n)?.size ?? 0;
      },
      ...(signal !== undefined ? { signal } : {}),
    });
    const ingestsRemoved = this.opts.ingestMaxAgeMs !== undefined ? await store.cleanIngests(this.opts.ingestMaxAgeMs) : 0;
    return { removed: res.removed as Digest[], bytesFreed: res.bytesFreed ?? 0, ingestsRemoved };
  }
}
