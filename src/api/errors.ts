/**
 * The one place where berth's error taxonomy (base/errors.ts) becomes HTTP.
 * Body `{"message":"…"}\n` as dockerd; clients print the message verbatim
 * ("Error response from daemon: <message>"), so it is never decorated here.
 */
import { isBerthError, type ErrorKind } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { JsonSyntaxError } from './gojson.js';
import type { ApiResponse } from './http.js';

const STATUS: Readonly<Record<ErrorKind, number>> = {
  'invalid-argument': 400,
  'not-found': 404,
  conflict: 409,
  'not-modified': 304,
  unauthorized: 401,
  forbidden: 403,
  unavailable: 503,
  'not-implemented': 501,
  // dockerd has no "client closed request" code; a cancelled operation is a 500 there.
  cancelled: 500,
  internal: 500,
};

/**
 * An error that already knows its HTTP form, for transport-level failures
 * with no taxonomy equivalent (e.g. dockerd's text/plain "too old" reply).
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly textPlain = false,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The status code for any thrown value: taxonomy kinds, HttpError, else 500. */
export function httpStatusOf(e: unknown): number {
  if (isBerthError(e)) return STATUS[e.kind];
  if (e instanceof HttpError) return e.status;
  return 500;
}

function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/**
 * Answers a request whose handler threw. Before headers: a normal error
 * reply. After headers: a JSON stream gets dockerd's in-stream errorDetail
 * line (HTTP stays 200, §5.3); anything else (raw stream, half-written body,
 * hijacked socket) can only be cut off, which clients see as an error.
 */
export function sendError(res: ApiResponse, e: unknown, log: Logger): void {
  const status = httpStatusOf(e);
  const message = messageOf(e);
  if (status >= 500) {
    // A malformed body is the client's fault even though dockerd says 500.
    if (e instanceof JsonSyntaxError) log.debug('bad request body', { err: message });
    else log.error('request failed', { status, err: message, method: res.request.method, path: res.request.path });
  }
  if (res.hijacked) {
    res.destroy();
    return;
  }
  if (res.headersSent) {
    const stream = res.activeStream;
    if (stream !== undefined && !stream.ended) stream.error(message);
    else res.destroy();
    return;
  }
  if (status === 304) {
    res.notModified();
    return;
  }
  if (e instanceof HttpError && e.textPlain) {
    res.text(status, message);
    return;
  }
  res.json(status, { message });
}
