/**
 * Parallel gzip for push (pigz's scheme, in-process): the input is cut into
 * blocks, each deflated independently on libuv's thread pool (all cores)
 * with the previous block's last 32 KiB as dictionary, ended by a sync
 * flush so the raw deflate outputs concatenate into one valid stream; the
 * CRC32 runs in order on the main thread (it is ~1 GB/s). Blocks whose
 * sample does not compress are stored (level 0): deflate at any level
 * would emit stored blocks for them anyway, only after a costly search.
 * The output is deterministic for a given input and level, so pushing the
 * same layer twice yields the same digest.
 */
import { Readable } from 'node:stream';
import { constants, crc32, deflateRaw, type ZlibOptions } from 'node:zlib';

export interface ParallelGzipOptions {
  /** deflate level for compressible blocks (default 6, gzip's default). */
  readonly level?: number;
  /** Block size (default 1 MiB). */
  readonly blockSize?: number;
  /** Blocks compressed at once (default 4: libuv's pool size). */
  readonly concurrency?: number;
  /** Called with each input chunk's length as it is consumed (progress). */
  readonly onInput?: (bytes: number) => void;
}

const DICT = 32 * 1024;
const SAMPLE = 16 * 1024;
/** gzip header: magic, deflate, no flags, mtime 0, no extra flags, OS unknown (as Go writes it). */
const HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);
/** An empty final fixed-Huffman block: ends the deflate stream after the sync-flushed blocks. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);

function deflate(buf: Buffer, opts: ZlibOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => deflateRaw(buf, opts, (e, out) => (e !== null ? reject(e) : resolve(out))));
}

async function compressBlock(block: Buffer, dict: Buffer | undefined, level: number): Promise<Buffer> {
  let lv = level;
  if (lv > 0 && block.length >= SAMPLE * 2) {
    // Incompressible data (already-compressed files, random bytes) is stored, not searched.
    const probe = await deflate(block.subarray(0, SAMPLE), { level: 1 });
    if (probe.length > SAMPLE * 0.97) lv = 0;
  }
  const opts: ZlibOptions = { level: lv, finishFlush: constants.Z_SYNC_FLUSH, chunkSize: Math.max(64 * 1024, block.length + 1024) };
  if (dict !== undefined && lv > 0) opts.dictionary = dict;
  return deflate(block, opts);
}

/** Gzips `src` using all cores; the result is a standard single-member gzip stream. */
export function parallelGzip(src: AsyncIterable<Buffer>, opts: ParallelGzipOptions = {}): Readable {
  const level = opts.level ?? 6;
  const blockSize = opts.blockSize ?? 1024 * 1024;
  const concurrency = opts.concurrency ?? 4;
  async function* run(): AsyncGenerator<Buffer> {
    yield HEADER;
    let crc = 0;
    let total = 0;
    let prevTail: Buffer | undefined;
    const inflight: Promise<Buffer>[] = [];
    let parts: Buffer[] = [];
    let have = 0;
    const dispatch = (block: Buffer): void => {
      crc = crc32(block, crc);
      total += block.length;
      inflight.push(compressBlock(block, prevTail, level));
      // Copy: the dictionary must outlive the block's buffer reuse.
      prevTail = Buffer.from(block.subarray(Math.max(0, block.length - DICT)));
    };
    try {
      for await (const chunk of src) {
        opts.onInput?.(chunk.length);
        let c = chunk;
        while (c.length > 0) {
          const take = Math.min(blockSize - have, c.length);
          parts.push(c.subarray(0, take));
          have += take;
          c = c.subarray(take);
          if (have === blockSize) {
            dispatch(parts.length === 1 ? parts[0]! : Buffer.concat(parts, have));
            parts = [];
            have = 0;
            while (inflight.length >= concurrency) yield await inflight.shift()!;
          }
        }
      }
      if (have > 0) dispatch(Buffer.concat(parts, have));
      while (inflight.length > 0) yield await inflight.shift()!;
    } finally {
      // On early exit, let in-flight jobs settle quietly.
      for (const p of inflight) p.catch(() => {});
    }
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(crc >>> 0, 0);
    trailer.writeUInt32LE(total % 0x100000000, 4);
    yield Buffer.concat([FINAL_BLOCK, trailer]);
  }
  return Readable.from(run(), { objectMode: false, highWaterMark: 1024 * 1024 });
}
