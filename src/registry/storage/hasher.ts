/**
 * Digests of upload files, computed on worker threads while the upload is
 * still arriving.
 *
 * sha256 is most of a push's CPU (this machine's CPUs have no SHA
 * instructions), and on the main thread it serialises every upload behind
 * one core. Here the main thread hands each written batch of the socket's
 * buffers to a worker (moved, not copied), which hashes them. Bytes it was
 * not handed (a session resumed after a restart, or a commit that needs
 * another algorithm) it reads back from the file, so those need no special
 * case: the worker just starts from byte 0.
 *
 * The worker's source is a string so the bundled CLI needs no second file.
 */
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const jobs = new Map();
const buf = Buffer.allocUnsafe(1 << 20);
function close(j) { if (j.fd !== undefined) { try { closeSync(j.fd); } catch {} j.fd = undefined; } }
function job(m) {
  let j = jobs.get(m.id);
  if (j === undefined || j.alg !== m.alg || j.path !== m.path) {
    if (j !== undefined) close(j);
    j = { alg: m.alg, path: m.path, hash: createHash(m.alg), done: 0, fd: undefined, error: undefined };
    jobs.set(m.id, j);
  }
  return j;
}
function readUpTo(j, upTo) {
  if (j.fd === undefined) j.fd = openSync(j.path, 'r');
  while (j.done < upTo) {
    const n = readSync(j.fd, buf, 0, Math.min(buf.length, upTo - j.done), j.done);
    if (n === 0) throw new Error('upload file is shorter than reported');
    j.hash.update(buf.subarray(0, n));
    j.done += n;
  }
}
parentPort.on('message', (m) => {
  let j = jobs.get(m.id);
  if (m.op === 'update' || m.op === 'data') {
    j = job(m);
    if (j.error !== undefined) return;
    try {
      if (m.op === 'update') readUpTo(j, m.upTo);
      else {
        readUpTo(j, m.at); // bytes from before this process's reports (a resumed session)
        let at = m.at;
        for (const b of m.bufs) {
          const skip = Math.max(0, j.done - at);
          if (skip < b.length) {
            j.hash.update(skip === 0 ? b : b.subarray(skip));
            j.done += b.length - skip;
          }
          at += b.length;
        }
      }
    } catch (e) {
      j.error = String(e && e.message ? e.message : e);
    }
  } else if (m.op === 'digest') {
    jobs.delete(m.id);
    if (j !== undefined) close(j);
    if (j === undefined) parentPort.postMessage({ seq: m.seq, error: 'no hash for this upload' });
    else if (j.error !== undefined) parentPort.postMessage({ seq: m.seq, error: j.error });
    else parentPort.postMessage({ seq: m.seq, size: j.done, hex: j.hash.digest('hex') });
  } else if (m.op === 'drop') {
    jobs.delete(m.id);
    if (j !== undefined) close(j);
  }
});
`;

interface Reply {
  seq: number;
  error?: string;
  size?: number;
  hex?: string;
}

interface Slot {
  worker: Worker;
  /** Uploads assigned to this worker. */
  jobs: number;
  waiting: Map<number, { resolve: (r: { size: number; hex: string }) => void; reject: (e: Error) => void }>;
  dead?: Error;
}

export class FileHasher {
  private readonly slots: Slot[] = [];
  private readonly assigned = new Map<string, Slot>();
  private seq = 0;
  private closed = false;

  /** `threads` workers, started on first use. */
  constructor(private readonly threads: number) {}

  private slotFor(id: string): Slot {
    const have = this.assigned.get(id);
    if (have !== undefined) return have;
    if (this.closed) throw new Error('hasher is closed');
    let slot: Slot | undefined;
    if (this.slots.length < this.threads) {
      slot = this.start();
    } else {
      for (const s of this.slots) if (s.dead === undefined && (slot === undefined || s.jobs < slot.jobs)) slot = s;
      slot ??= this.start();
    }
    slot.jobs++;
    this.assigned.set(id, slot);
    return slot;
  }

  private start(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    // Idle workers must not keep a process alive that is otherwise done.
    worker.unref();
    const slot: Slot = { worker, jobs: 0, waiting: new Map() };
    const fail = (e: Error): void => {
      slot.dead = e;
      for (const w of slot.waiting.values()) w.reject(e);
      slot.waiting.clear();
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      for (const [id, s] of this.assigned) if (s === slot) this.assigned.delete(id);
    };
    worker.on('message', (r: Reply) => {
      const w = slot.waiting.get(r.seq);
      if (w === undefined) return;
      slot.waiting.delete(r.seq);
      if (slot.waiting.size === 0) worker.unref();
      if (r.error !== undefined || r.size === undefined || r.hex === undefined) w.reject(new Error(r.error ?? 'bad reply from hash worker'));
      else w.resolve({ size: r.size, hex: r.hex });
    });
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`hash worker exited with ${code}`)));
    this.slots.push(slot);
    return slot;
  }

  /** The upload's file at `path` now holds `upTo` bytes: hash them (in order, in the background). */
  update(id: string, alg: string, path: string, upTo: number): void {
    this.slotFor(id).worker.postMessage({ op: 'update', id, alg, path, upTo });
  }

  /**
   * Bytes [at, at + their length) of the upload's file, just written: hashed
   * from these buffers instead of read back. With `transfer`, buffers that
   * own their memory move to the worker without a copy and are unusable
   * here afterwards, so only a caller that owns them may ask for it.
   */
  feed(id: string, alg: string, path: string, at: number, bufs: Buffer[], transfer: boolean): void {
    const moved = new Set<ArrayBuffer>();
    if (transfer) {
      for (const b of bufs) {
        const ab = b.buffer;
        if (ab instanceof ArrayBuffer && b.byteOffset === 0 && b.byteLength === ab.byteLength) moved.add(ab);
      }
    }
    this.slotFor(id).worker.postMessage({ op: 'data', id, alg, path, at, bufs }, [...moved]);
  }

  /** The digest of everything reported so far, and how many bytes it covers; forgets the upload. */
  digest(id: string): Promise<{ size: number; hex: string }> {
    const slot = this.assigned.get(id);
    if (slot === undefined) return Promise.reject(new Error('no hash for this upload'));
    this.release(id, slot);
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      slot.waiting.set(seq, { resolve, reject });
      // Waiting on a reply keeps the process alive until it comes.
      slot.worker.ref();
      slot.worker.postMessage({ op: 'digest', id, seq });
    });
  }

  /** Forgets an upload (cancelled, or committed another way). */
  drop(id: string): void {
    const slot = this.assigned.get(id);
    if (slot === undefined) return;
    this.release(id, slot);
    slot.worker.postMessage({ op: 'drop', id });
  }

  has(id: string): boolean {
    return this.assigned.has(id);
  }

  private release(id: string, slot: Slot): void {
    this.assigned.delete(id);
    slot.jobs--;
  }

  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    this.assigned.clear();
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}
