/**
 * The one error taxonomy of berth. Every layer throws these classes (or lets
 * node's own errors bubble); only the edges translate them: `api/errors.ts`
 * maps them to Engine API status codes, `registry/` maps them to the
 * distribution spec's error codes, the CLI maps them to exit codes.
 *
 * Messages are Docker's words, because clients print them verbatim
 * ("Error response from daemon: <message>").
 */
export type ErrorKind =
  | 'invalid-argument'
  | 'not-found'
  | 'conflict'
  | 'not-modified'
  | 'unauthorized'
  | 'forbidden'
  | 'unavailable'
  | 'not-implemented'
  | 'cancelled'
  | 'internal';

export abstract class BerthError extends Error {
  abstract readonly kind: ErrorKind;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input from a caller: a malformed reference, flag, body or archive. HTTP 400. */
export class InvalidArgumentError extends BerthError {
  readonly kind = 'invalid-argument' as const;
}
/** The named object does not exist. HTTP 404. */
export class NotFoundError extends BerthError {
  readonly kind = 'not-found' as const;
}
/** The request clashes with the current state (name in use, image in use). HTTP 409. */
export class ConflictError extends BerthError {
  readonly kind = 'conflict' as const;
}
/** Nothing to do: already started, already stopped. HTTP 304. */
export class NotModifiedError extends BerthError {
  readonly kind = 'not-modified' as const;
}
/** Credentials are missing or wrong. HTTP 401. */
export class UnauthorizedError extends BerthError {
  readonly kind = 'unauthorized' as const;
}
/** Credentials are fine but do not allow this. HTTP 403. */
export class ForbiddenError extends BerthError {
  readonly kind = 'forbidden' as const;
}
/** A dependency (registry, runtime) cannot be reached right now. HTTP 503. */
export class UnavailableError extends BerthError {
  readonly kind = 'unavailable' as const;
}
/** Berth does not do this (yet). HTTP 501. */
export class NotImplementedError extends BerthError {
  readonly kind = 'not-implemented' as const;
}
/** The operation was aborted by its caller. */
export class CancelledError extends BerthError {
  readonly kind = 'cancelled' as const;
}
/** A bug or an unexpected system failure. HTTP 500. */
export class InternalError extends BerthError {
  readonly kind = 'internal' as const;
}

export function isBerthError(e: unknown): e is BerthError {
  return e instanceof BerthError;
}

/** Node errno errors carry a `code`; this narrows them without `any`. */
export function errnoCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e) {
    const c = (e as { code: unknown }).code;
    return typeof c === 'string' ? c : undefined;
  }
  return undefined;
}

export function isNotFound(e: unknown): boolean {
  return e instanceof NotFoundError || errnoCode(e) === 'ENOENT';
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
