/**
 * Zero-copy blob bodies: sendfile(2) from the blob's file straight into the
 * client's TCP socket, as Distribution does (Go's net/http uses sendfile for
 * files). Streaming through userland costs a read into a buffer and a write
 * out of it per byte; with 20 concurrent 50 MB pulls those two copies, not
 * the disk, are what limits throughput.
 *
 * Node does not expose sendfile, and the socket is non-blocking, so the loop
 * is: sendfile until the socket is full (EAGAIN), then write one small chunk
 * of the file the ordinary way through the response. That write's callback
 * fires once libuv has pushed the chunk into the kernel — i.e. once the
 * socket had room again — and sendfile resumes after it. Byte order is kept
 * because only one of the two paths is ever in flight, and the headers go
 * out with the first ordinary chunk, before any sendfile.
 */
import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { SysError, type Sys } from '../../base/sys.js';

/**
 * The kernel fd of a plain TCP socket, or undefined when there is none to
 * use (TLS, a socket not yet attached, a platform without one).
 *
 * This reads `socket._handle.fd`, an internal of Node's net module (libuv's
 * descriptor, present on Unix TCP handles since Node 0.x but not public API).
 * It is confined to this function and checked defensively: if a Node
 * release renames or drops it, this returns undefined and blobs stream
 * through userland as before — slower, never wrong.
 */
export function socketFd(socket: Socket | null): number | undefined {
  if (socket === null || socket instanceof TLSSocket || socket.destroyed) return undefined;
  const handle: unknown = Reflect.get(socket, '_handle');
  if (typeof handle !== 'object' || handle === null) return undefined;
  const fd: unknown = Reflect.get(handle, 'fd');
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : undefined;
}

/**
 * Bytes written the ordinary way when the socket is full. It only has to
 * be big enough to be worth a write: its real job is to tell us when the
 * socket drains.
 */
const NUDGE = 64 * 1024;
/**
 * Per sendfile call. The call is synchronous (see sendFileBody), so on a
 * cold page cache it holds the event loop while the disk reads this much;
 * the socket's send buffer (4 MiB max here) bounds a call anyway.
 */
const MAX_CALL = 2 * 1024 * 1024;

function writeAsync(res: ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    res.write(chunk, (err) => (err === null || err === undefined ? resolve() : reject(err)));
  });
}

/**
 * Sends bytes [start, end] of `file` as the body of `res`, whose head has
 * been set (writeHead) but not sent. Ends the response. Throws if the
 * client goes away; the caller destroys the socket.
 *
 * sendfile is called synchronously, on purpose. The socket's liveness is
 * checked in the same tick as the call, so its fd cannot have been closed
 * and reused by another connection in between. A koffi async call (worker
 * thread) was tried: same throughput, but it needs the fd dup'ed and an
 * offset pointer that outlives the call, and it corrupted the heap under
 * load (glibc abort "malloc_consolidate(): unaligned fastbin chunk").
 */
export async function sendFileBody(sys: Sys, res: ServerResponse, file: FileHandle, start: number, end: number): Promise<void> {
  const buf = Buffer.allocUnsafe(Math.min(NUDGE, end - start + 1));
  let off = start;
  // The first chunk goes through the response so the headers are in the kernel before any sendfile.
  let ordinary = true;
  // Set when the binding itself is unusable (no koffi, no glibc): the rest goes the ordinary way.
  let noSendfile = false;
  while (off <= end) {
    const socket = res.socket;
    const fd = socketFd(socket);
    if (ordinary || noSendfile || fd === undefined || socket === null || socket.writableLength > 0) {
      const { bytesRead } = await file.read(buf, 0, Math.min(buf.length, end - off + 1), off);
      if (bytesRead === 0) throw new Error(`blob file ended at ${off}, before ${end + 1}`);
      // `buf` is reused: safe, because the callback comes after libuv has handed the bytes to the kernel.
      await writeAsync(res, bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
      off += bytesRead;
      ordinary = false;
      continue;
    }
    let n: number;
    try {
      n = sys.sendfile(fd, file.fd, off, Math.min(MAX_CALL, end - off + 1));
    } catch (e) {
      if (e instanceof SysError) throw e; // the call ran and failed: the client went away (EPIPE, ECONNRESET)
      noSendfile = true;
      continue;
    }
    if (n < 0) ordinary = true; // socket full: the next ordinary write waits for room
    else if (n === 0) throw new Error(`blob file ended at ${off}, before ${end + 1}`);
    else off += n;
  }
  res.end();
}
