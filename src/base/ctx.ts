import type { Logger } from './log.js';

/**
 * The explicit context every I/O call takes: cancellation and logging travel
 * here, never through globals. `lease` protects content an operation is
 * still writing from the garbage collector.
 */
export interface Ctx {
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly lease?: string;
}

export function withLease(ctx: Ctx, lease: string): Ctx {
  return { ...ctx, lease };
}
