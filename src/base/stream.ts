import type { Readable } from 'node:stream';
import { InvalidArgumentError } from './errors.js';

/** JSON documents (manifests, configs, API bodies) are buffered, but never more than this. */
export const MAX_JSON_BYTES = 4 * 1024 * 1024;

/** Reads a whole stream into memory, refusing more than `max` bytes. Only for small documents. */
export async function readAllLimited(stream: Readable | AsyncIterable<Buffer | string>, max = MAX_JSON_BYTES): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    n += b.length;
    if (n > max) throw new InvalidArgumentError(`document exceeds the limit of ${max} bytes`);
    parts.push(b);
  }
  return Buffer.concat(parts);
}

/** Parses JSON, turning a syntax error into Docker's 400-class error. */
export function parseJson(buf: Buffer | string, what = 'JSON'): unknown {
  try {
    return JSON.parse(buf.toString()) as unknown;
  } catch (e) {
    throw new InvalidArgumentError(`invalid ${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
