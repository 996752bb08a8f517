/**
 * Layer compression: sniffing, decompression and compression as streams.
 *
 * gzip goes through node's zlib; zstd through the `zstd` program (Debian
 * package `zstd`) because node 20 has no zstd binding. Both are wrapped in a
 * Duplex that turns their failures into InvalidArgumentError (corrupt input
 * is the caller's fault, a 400), and autoDecompress() picks one from the
 * first bytes so callers never need to know a blob's media type.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Duplex, PassThrough, type Readable, type Writable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { InvalidArgumentError, InternalError, errnoCode } from './errors.js';

export type Compression = 'gzip' | 'zstd' | 'none';

/** Bytes autoDecompress() needs to tell the formats apart. */
export const SNIFF_BYTES = 4;

/** Big chunks: zlib's default 16 KiB makes a 500 MB layer cost 30k callbacks. */
const ZLIB_CHUNK = 256 * 1024;

export function detectCompression(first: Uint8Array): Compression {
  if (first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b) return 'gzip';
  if (first.length >= 4 && first[0] === 0x28 && first[1] === 0xb5 && first[2] === 0x2f && first[3] === 0xfd) return 'zstd';
  return 'none';
}

/**
 * A Duplex over a separate writable side and readable side (a zlib stream,
 * or a child's stdin/stdout). Errors of either side become `mapError(e)`;
 * `done` (the child's exit) must resolve before the readable side may end,
 * so a failing program never looks like a short but valid stream.
 */
class Bridge extends Duplex {
  private ended = false;
  private exited = false;
  constructor(
    private readonly input: Writable,
    private readonly output: Readable,
    done: Promise<void>,
    private readonly mapError: (e: unknown) => Error,
    private readonly onDestroy: () => void = () => {},
  ) {
    super({ readableHighWaterMark: ZLIB_CHUNK, writableHighWaterMark: ZLIB_CHUNK });
    output.on('data', (b: Buffer) => {
      if (!this.push(b)) output.pause();
    });
    output.on('end', () => {
      this.ended = true;
      this.maybeEnd();
    });
    output.on('error', (e) => this.destroy(this.mapError(e)));
    input.on('error', (e) => {
      // A child that exits early closes its stdin: report the exit instead.
      if (errnoCode(e) === 'EPIPE') return;
      this.destroy(this.mapError(e));
    });
    done.then(
      () => {
        this.exited = true;
        this.maybeEnd();
      },
      (e: unknown) => this.destroy(this.mapError(e)),
    );
  }
  private maybeEnd(): void {
    if (this.ended && this.exited && !this.destroyed) this.push(null);
  }
  override _read(): void {
    this.output.resume();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.input.write(chunk)) cb();
    else this.input.once('drain', () => cb());
  }
  override _final(cb: (e?: Error | null) => void): void {
    this.input.end();
    cb();
  }
  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.onDestroy();
    this.output.destroy();
    cb(err);
  }
}

function zstdChild(args: string[], what: string): Duplex {
  let child: ChildProcess;
  try {
    child = spawn('zstd', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    throw new InternalError(`cannot run zstd: ${String(e)}`, { cause: e });
  }
  const stderr: Buffer[] = [];
  child.stderr!.on('data', (b: Buffer) => {
    if (stderr.length < 64) stderr.push(b);
  });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (e) => reject(new InternalError(`cannot run zstd: ${e.message}`, { cause: e })));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else {
        const msg = Buffer.concat(stderr).toString('utf8').trim().replace(/^zstd: /, '');
        reject(new InvalidArgumentError(`${what}: ${msg || `zstd exited with ${code ?? signal}`}`));
      }
    });
  });
  const map = (e: unknown): Error => (e instanceof Error && 'kind' in e ? e : new InvalidArgumentError(`${what}: ${String(e)}`));
  return new Bridge(child.stdin!, child.stdout!, done, map, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
}

/** A stream that decompresses `kind`; `none` passes bytes through. */
export function decompressStream(kind: Compression): Duplex {
  switch (kind) {
    case 'none':
      return new PassThrough({ highWaterMark: ZLIB_CHUNK });
    case 'gzip': {
      const z = createGunzip({ chunkSize: ZLIB_CHUNK });
      return new Bridge(z, z, Promise.resolve(), (e) => new InvalidArgumentError(`gzip: invalid data: ${e instanceof Error ? e.message : String(e)}`));
    }
    case 'zstd':
      return zstdChild(['-d', '-c', '-q', '--no-progress'], 'zstd: invalid data');
  }
}

/** A compressing stream (image push, `docker save` with compression, export). */
export function compressStream(kind: 'gzip' | 'zstd', level?: number): Duplex {
  if (kind === 'gzip') {
    const z = createGzip({ chunkSize: ZLIB_CHUNK, level: level ?? 6 });
    return new Bridge(z, z, Promise.resolve(), (e) => new InternalError(`gzip: ${e instanceof Error ? e.message : String(e)}`));
  }
  return zstdChild(['-c', '-q', '--no-progress', `-${level ?? 3}`], 'zstd');
}

/**
 * Sniffs the first bytes and decompresses accordingly: Docker accepts
 * layers in any of the three forms whatever the manifest claims.
 */
export function autoDecompress(): Duplex {
  let inner: Duplex | undefined;
  let head: Buffer[] = [];
  let headLen = 0;
  const out = new Duplex({
    readableHighWaterMark: ZLIB_CHUNK,
    writableHighWaterMark: ZLIB_CHUNK,
    read() {
      inner?.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      let d = inner;
      if (d === undefined) {
        head.push(chunk);
        headLen += chunk.length;
        if (headLen < SNIFF_BYTES) {
          cb();
          return;
        }
        [d, chunk] = start();
      }
      if (d.write(chunk)) cb();
      else d.once('drain', () => cb());
    },
    final(cb) {
      let d = inner;
      if (d === undefined) {
        let rest: Buffer;
        [d, rest] = start();
        if (rest.length > 0) d.write(rest);
      }
      d.end();
      cb();
    },
    destroy(err, cb) {
      inner?.destroy();
      cb(err);
    },
  });
  function start(): [Duplex, Buffer] {
    const buf = Buffer.concat(head);
    head = [];
    const d = decompressStream(detectCompression(buf));
    inner = d;
    d.on('data', (b: Buffer) => {
      if (!out.push(b)) d.pause();
    });
    d.on('end', () => out.push(null));
    d.on('error', (e) => out.destroy(e));
    return [d, buf];
  }
  return out;
}
