/**
 * Leases: short-lived, in-memory pins that keep resources (blob digests,
 * snapshot keys, any string) out of the garbage collector's reach while an
 * operation that has not yet written its durable roots (a pull, a load, a
 * build) is in flight.
 *
 * In memory on purpose: a lease only matters while its operation runs in
 * this process; after a restart no operation is in flight, and the GC grace
 * period covers blobs committed just before a crash. Expiry is checked
 * lazily (no timers keep the process alive): an expired lease protects
 * nothing, so a leaked lease cannot pin content forever.
 *
 *   await using lease = leases.create({ expiresInMs: 60 * 60_000 });
 *   const ctx2 = withLease(ctx, lease.id);   // content commits join the lease
 *   ... pull ...; write the image record ...
 *   // released on scope exit, even on throw
 */
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, NotFoundError } from '../base/errors.js';

export interface LeaseOptions {
  /** How long the lease protects its resources unless renewed or released. */
  readonly expiresInMs: number;
  /** A caller-chosen id; random by default. */
  readonly id?: string;
}

export interface Lease extends AsyncDisposable, Disposable {
  readonly id: string;
  readonly expiresAt: Date;
  readonly released: boolean;
  /** Protects `resource` for the life of the lease. */
  add(resource: string): void;
  /** Pushes the expiry to now + `ms`. */
  renew(ms: number): void;
  /** Stops protecting everything. Idempotent. */
  release(): void;
  resources(): ReadonlySet<string>;
}

function checkMs(ms: unknown, what: string): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) {
    throw new InvalidArgumentError(`${what} must be a positive number of milliseconds`);
  }
  return ms;
}

class LeaseImpl implements Lease {
  private readonly set = new Set<string>();
  private expiry: number;
  private done = false;

  constructor(
    readonly id: string,
    expiresInMs: number,
    private readonly now: () => number,
    private readonly onRelease: (l: LeaseImpl) => void,
  ) {
    this.expiry = now() + expiresInMs;
  }

  get expiresAt(): Date {
    return new Date(this.expiry);
  }
  get released(): boolean {
    return this.done;
  }
  /** Live: not released and not expired. */
  active(): boolean {
    return !this.done && this.now() < this.expiry;
  }
  has(resource: string): boolean {
    return this.set.has(resource);
  }

  add(resource: string): void {
    if (typeof resource !== 'string' || resource === '') throw new InvalidArgumentError('lease resource must be a non-empty string');
    if (this.done) throw new InvalidArgumentError(`lease ${this.id} is released`);
    this.set.add(resource);
  }
  renew(ms: number): void {
    if (this.done) throw new InvalidArgumentError(`lease ${this.id} is released`);
    this.expiry = this.now() + checkMs(ms, 'lease renewal');
  }
  release(): void {
    if (this.done) return;
    this.done = true;
    this.set.clear();
    this.onRelease(this);
  }
  resources(): ReadonlySet<string> {
    return this.set;
  }
  [Symbol.dispose](): void {
    this.release();
  }
  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }
}

export class LeaseManager {
  private readonly leases = new Map<string, LeaseImpl>();
  private readonly now: () => number;

  /** `now` is injectable so tests can move time. */
  constructor(opts: { now?: () => number } = {}) {
    this.now = opts.now ?? Date.now;
  }

  create(opts: LeaseOptions): Lease {
    if (typeof opts !== 'object' || opts === null) throw new InvalidArgumentError('lease options required');
    const ms = checkMs(opts.expiresInMs, 'lease expiresInMs');
    const id = opts.id ?? `lease-${randomBytes(8).toString('hex')}`;
    if (typeof id !== 'string' || id === '') throw new InvalidArgumentError('lease id must be a non-empty string');
    this.prune();
    if (this.leases.has(id)) throw new InvalidArgumentError(`lease ${id} already exists`);
    const lease = new LeaseImpl(id, ms, this.now, (l) => {
      if (this.leases.get(l.id) === l) this.leases.delete(l.id);
    });
    this.leases.set(id, lease);
    return lease;
  }

  /** The active lease `id` (as carried in `Ctx.lease`); NotFoundError if released or expired. */
  get(id: string): Lease {
    const l = this.leases.get(id);
    if (l === undefined || !l.active()) throw new NotFoundError(`lease ${id}: not found`);
    return l;
  }

  /** Adds `resource` to lease `id`: the hook a store uses on commit under `ctx.lease`. */
  addResource(id: string, resource: string): void {
    this.get(id).add(resource);
  }

  isLeased(resource: string): boolean {
    for (const l of this.leases.values()) if (l.active() && l.has(resource)) return true;
    return false;
  }

  /** A snapshot of everything currently protected. */
  leasedResources(): Set<string> {
    const out = new Set<string>();
    for (const l of this.leases.values()) if (l.active()) for (const r of l.resources()) out.add(r);
    return out;
  }

  list(): Lease[] {
    this.prune();
    return [...this.leases.values()];
  }

  /** Forgets expired leases (they already protect nothing). */
  prune(): void {
    for (const l of this.leases.values()) if (!l.active()) l.release();
  }
}
