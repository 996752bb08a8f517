/**
 * stdcopy: the 8-byte framing dockerd uses for non-TTY attach/exec/logs
 * (`[stream, 0, 0, 0, size(u32 BE)]` + payload). Frames may be split across
 * or share chunks, so the demuxer buffers.
 */
export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const SYSTEMERR = 3;

export type FrameSink = (stream: number, payload: Buffer) => void;

export class StdcopyDemuxer {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly sink: FrameSink) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 8) {
      const stream = this.buf[0] ?? 0;
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      this.sink(stream, this.buf.subarray(8, 8 + size));
      this.buf = this.buf.subarray(8 + size);
    }
  }

  /** Bytes of an incomplete frame left at the end (a truncated stream). */
  get pendingBytes(): number {
    return this.buf.length;
  }
}

/** Encodes one frame (tests, and anything that needs to fake a daemon). */
export function encodeFrame(stream: number, payload: Buffer | string): Buffer {
  const p = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(p.length, 4);
  return Buffer.concat([h, p]);
}

/** Copies a framed stream to stdout/stderr writers; systemerr frames become an error. */
export async function demuxStream(
  source: AsyncIterable<Buffer | string>,
  stdout: (b: Buffer) => void,
  stderr: (b: Buffer) => void,
): Promise<void> {
  let sysErr: string | undefined;
  const d = new StdcopyDemuxer((stream, payload) => {
    if (stream === STDOUT || stream === STDIN) stdout(payload);
    else if (stream === STDERR) stderr(payload);
    else if (stream === SYSTEMERR) sysErr = (sysErr ?? '') + payload.toString('utf8');
  });
  for await (const c of source) d.push(typeof c === 'string' ? Buffer.from(c) : c);
  if (sysErr !== undefined) throw new Error(`error from daemon in stream: ${sysErr}`);
}
