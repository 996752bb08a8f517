/**
 * Docker's stdcopy multiplexing (REFERENCE §4.4), used by attach, exec start
 * and logs when the container has no TTY: each write is an 8-byte header
 * `[stream, 0, 0, 0, size uint32 BE]` followed by `size` payload bytes.
 */
export type StdStream = 0 | 1 | 2;
export const STDIN: StdStream = 0;
export const STDOUT: StdStream = 1;
export const STDERR: StdStream = 2;

/** Largest payload one frame can carry (the size field is a uint32). */
const MAX_FRAME = 0xffffffff;

/** One frame, header and payload in a single buffer so it goes out as one write/chunk. */
export function frame(stream: StdStream, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  if (body.length > MAX_FRAME) throw new RangeError(`stdcopy frame too large: ${body.length} bytes`);
  const out = Buffer.allocUnsafe(8 + body.length);
  out[0] = stream;
  out[1] = 0;
  out[2] = 0;
  out[3] = 0;
  out.writeUInt32BE(body.length, 4);
  body.copy(out, 8);
  return out;
}

/** Just the header, for callers that write a large payload separately without copying it. */
export function frameHeader(stream: StdStream, size: number): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(size, 4);
  return h;
}

/**
 * Splits a byte stream back into frames; partial frames are kept until the
 * rest arrives (frames can be split across packets). For tests and the
 * berth CLI.
 */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Array<{ stream: StdStream; payload: Buffer }> {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Array<{ stream: StdStream; payload: Buffer }> = [];
    while (this.buf.length >= 8) {
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      const s = this.buf[0]!;
      if (s > 2) throw new Error(`stdcopy: bad stream id ${s}`);
      out.push({ stream: s as StdStream, payload: this.buf.subarray(8, 8 + size) });
      this.buf = this.buf.subarray(8 + size);
    }
    return out;
  }

  /** Bytes of an incomplete trailing frame. */
  get pending(): number {
    return this.buf.length;
  }
}
