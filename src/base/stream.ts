import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { InternalError, InvalidArgumentError } from './errors.js';

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

/**
 * Writes buffers to a stream one at a time, waiting for 'drain' when it is
 * full and failing (instead of hanging) when the reader went away. For
 * producers that generate tar entries on the fly (diffs, archives).
 */
export class StreamWriter {
  constructor(
    private readonly out: Writable,
    private readonly what = 'output',
  ) {}
  async write(b: Buffer): Promise<void> {
    if (this.out.destroyed) throw new InternalError(`${this.what} closed`);
    if (!this.out.write(b)) {
      await Promise.race([
        once(this.out, 'drain'),
        once(this.out, 'close').then(() => {
          throw new InternalError(`${this.what} closed`);
        }),
      ]);
    }
  }
  async writeAll(bs: readonly Buffer[]): Promise<void> {
    for (const b of bs) await this.write(b);
  }
}
