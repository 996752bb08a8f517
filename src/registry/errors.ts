/**
 * The distribution spec's error codes as data: one table of code → status
 * and message, and one function (`toRegistryError`) that maps anything
 * thrown below the handlers onto it. Handlers throw `RegistryError`s (or
 * berth's own errors); only `writeError` turns them into HTTP.
 */
import { isBerthError, errorMessage } from '../base/errors.js';

export const ERROR_CODES = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 404, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  // Not in the spec's table (which binds 4xx answers only to its codes) but Distribution's, and clients know it.
  PAGINATION_NUMBER_INVALID: { status: 400, message: 'invalid number of results requested' },
  // 5xx bodies are free-form; Distribution uses this code.
  UNKNOWN: { status: 500, message: 'unknown error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class RegistryError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    readonly detail?: unknown,
    opts?: { status?: number; message?: string; headers?: Record<string, string> },
  ) {
    super(opts?.message ?? ERROR_CODES[code].message);
    this.status = opts?.status ?? ERROR_CODES[code].status;
    this.headers = opts?.headers;
  }
  readonly headers: Record<string, string> | undefined;
}

/** Maps berth's taxonomy (and stray errors) to the spec's codes, in one place. */
export function toRegistryError(e: unknown): RegistryError {
  if (e instanceof RegistryError) return e;
  if (isBerthError(e)) {
    switch (e.kind) {
      case 'invalid-argument':
        return new RegistryError('BLOB_UPLOAD_INVALID', e.message);
      case 'not-found':
        return new RegistryError('BLOB_UNKNOWN', e.message);
      case 'unauthorized':
        return new RegistryError('UNAUTHORIZED', e.message);
      case 'forbidden':
        return new RegistryError('DENIED', e.message);
      case 'not-implemented':
        return new RegistryError('UNSUPPORTED', e.message);
      default:
        break;
    }
  }
  return new RegistryError('UNKNOWN', errorMessage(e), { status: 500 });
}

/** The spec's error body. */
export function errorBody(e: RegistryError): string {
  const item: { code: string; message: string; detail?: unknown } = { code: e.code, message: e.message };
  if (e.detail !== undefined) item.detail = e.detail;
  return JSON.stringify({ errors: [item] });
}
