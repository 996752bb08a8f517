/**
 * Reading container logs written by conmon in the k8s-file format:
 *
 *   2026-11-28T05:56:00.143760482+00:00 stdout F hello
 *
 * one record per write, `F` for a record that ends a line, `P` for a
 * partial one (a write without a newline, or a line longer than conmon's
 * buffer). Records are reassembled into messages as Docker's json-file
 * driver returns them: a message is a complete line with its "\n"; a partial
 * line still pending at the end (the process exited mid-line) is returned
 * without one.
 *
 * Size limits and rotation: conmon's `--log-size-max N` does not rotate, it
 * *replaces* the file (writes `<log>.tmp`, renames it over the log) once the
 * next write would pass N, so older output is dropped and the file never
 * exceeds N bytes; a follower sees a new inode and restarts at offset 0.
 * That is Docker's `max-size` with `max-file=1`. For `max-file > 1` berth
 * rotates itself: leave `--log-size-max` off, watch the size, call
 * `rotateLogFiles(path, maxFile)` (log → log.1 → log.2 ...) and then
 * `Conmon.reopenLog(bundle)` so conmon starts a fresh file. `readLogs` reads
 * `log.N ... log.1, log` in order, so rotated history stays visible.
 */
import { watch, type FSWatcher } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';

export type LogStream = 'stdout' | 'stderr';

/** One k8s-file record. */
export interface LogRecord {
  time: Date;
  /** Nanoseconds since the epoch (Date keeps only milliseconds). */
  timeNano: bigint;
  stream: LogStream;
  partial: boolean;
  data: Buffer;
}

/** A reassembled message, as `docker logs` prints it. */
export interface LogMessage {
  time: Date;
  timeNano: bigint;
  stream: LogStream;
  /** The line including its "\n" (absent only for a final partial line). */
  data: Buffer;
}

const SP = 0x20;
const NL = 0x0a;

/** RFC3339Nano with offset → ns since epoch. */
export function parseTimestamp(ts: string): bigint | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(ts);
  if (m === null) return undefined;
  const ms = Date.parse(`${m[1]}${m[3] === 'Z' ? 'Z' : m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  const frac = (m[2] ?? '').padEnd(9, '0');
  return BigInt(ms) * 1_000_000n + BigInt(frac);
}

/** Parses one record line (without its trailing newline). Returns undefined for garbage. */
export function parseLogLine(line: Buffer): LogRecord | undefined {
  const a = line.indexOf(SP);
  if (a < 0) return undefined;
  const b = line.indexOf(SP, a + 1);
  if (b < 0) return undefined;
  const c = line.indexOf(SP, b + 1);
  // "F" with empty content may come without the trailing space
  const tagEnd = c < 0 ? line.length : c;
  const ts = line.subarray(0, a).toString('latin1');
  const stream = line.subarray(a + 1, b).toString('latin1');
  const tag = line.subarray(b + 1, tagEnd).toString('latin1');
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  if (tag !== 'F' && tag !== 'P') return undefined;
  const ns = parseTimestamp(ts);
  if (ns === undefined) return undefined;
  return {
    time: new Date(Number(ns / 1_000_000n)),
    timeNano: ns,
    stream,
    partial: tag === 'P',
    data: c < 0 ? Buffer.alloc(0) : Buffer.from(line.subarray(c + 1)),
  };
}

/** Joins P records into their F record, per stream. */
export class Reassembler {
  private readonly pending = new Map<LogStream, { time: Date; timeNano: bigint; parts: Buffer[] }>();

  push(r: LogRecord): LogMessage | undefined {
    let p = this.pending.get(r.stream);
    if (p === undefined) {
      p = { time: r.time, timeNano: r.timeNano, parts: [] };
      this.pending.set(r.stream, p);
    }
    p.parts.push(r.data);
    if (r.partial) return undefined;
    this.pending.delete(r.stream);
    return { time: p.time, timeNano: p.timeNano, stream: r.stream, data: Buffer.concat([...p.parts, Buffer.from('\n')]) };
  }

  /** Pending partial lines, in time order (at EOF of a stopped container). */
  flush(): LogMessage[] {
    const out = [...this.pending.entries()].map(([stream, p]) => ({ time: p.time, timeNano: p.timeNano, stream, data: Buffer.concat(p.parts) }));
    this.pending.clear();
    return out.sort((x, y) => (x.timeNano < y.timeNano ? -1 : x.timeNano > y.timeNano ? 1 : 0));
  }
}

export interface ReadLogsOptions {
  /** Last N messages (Docker's --tail); undefined or negative: all. */
  tail?: number;
  /** Only messages at or after this time (ns since epoch, or a Date). */
  since?: bigint | Date;
  /** Only messages before this time. */
  until?: bigint | Date;
  stdout?: boolean;
  stderr?: boolean;
  /** Keep reading appended output until `stopWhen` settles or `signal` aborts. */
  follow?: boolean;
  /** Follow ends (after a final read) once this settles, e.g. the container's exit. */
  stopWhen?: Promise<unknown>;
  signal?: AbortSignal;
  /** Poll interval for follow, besides fs.watch. */
  pollMs?: number;
}

const toNs = (t: bigint | Date): bigint => (typeof t === 'bigint' ? t : BigInt(t.getTime()) * 1_000_000n);

/** Paths of berth-rotated files (oldest first) followed by the live log. */
export async function logFiles(path: string, maxScan = 20): Promise<string[]> {
  const out: string[] = [];
  for (let i = maxScan; i >= 1; i--) {
    const p = `${path}.${i}`;
    if (await stat(p).then(() => true, () => false)) out.push(p);
  }
  out.push(path);
  return out;
}

/** Shifts log.1 → log.2 ... and log → log.1, keeping `maxFile` files in all. Then ask conmon to reopen. */
export async function rotateLogFiles(path: string, maxFile: number): Promise<void> {
  if (maxFile <= 1) return;
  await rm(`${path}.${maxFile - 1}`, { force: true });
  for (let i = maxFile - 2; i >= 1; i--) await rename(`${path}.${i}`, `${path}.${i + 1}`).catch(() => {});
  await rename(path, `${path}.1`).catch(() => {});
}

/**
 * Where to start reading so that the last `n` messages come out, reading the
 * file backwards in chunks. Streams interleave and a message may span
 * several P records, so the answer is an offset (the first record of the
 * earliest of those messages) plus how many messages completing after it
 * must be skipped. `found` < n means the file holds fewer messages.
 */
async function tailOffset(path: string, n: number): Promise<{ offset: number; skip: number; found: number }> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const CHUNK = 64 * 1024;
    let pos = size;
    let acc = Buffer.alloc(0); // file bytes [pos, size)
    for (;;) {
      const start = Math.max(0, pos - CHUNK);
      const chunk = Buffer.alloc(pos - start);
      await fh.read(chunk, 0, chunk.length, start);
      acc = Buffer.concat([chunk, acc]);
      pos = start;
      // forward over the complete records in acc; a stream's first record
      // here may continue a message that began before acc (start unknown)
      const pending = new Map<LogStream, number | undefined>();
      const seen = new Set<LogStream>();
      const msgs: { start: number | undefined; end: number }[] = [];
      let i = pos === 0 ? 0 : acc.indexOf(NL) + 1;
      if (i > 0 || pos === 0) {
        let nl: number;
        while ((nl = acc.indexOf(NL, i)) >= 0) {
          const r = parseLogLine(acc.subarray(i, nl));
          if (r !== undefined) {
            let first: number | undefined;
            if (pending.has(r.stream)) first = pending.get(r.stream);
            else first = seen.has(r.stream) || pos === 0 ? pos + i : undefined;
            seen.add(r.stream);
            if (r.partial) pending.set(r.stream, first);
            else {
              pending.delete(r.stream);
              msgs.push({ start: first, end: pos + nl + 1 });
            }
          }
          i = nl + 1;
        }
        // a final partial line is a message too (it is flushed at EOF)
        for (const st of pending.values()) msgs.push({ start: st, end: size });
      }
      if (msgs.length < n) {
        if (pos === 0) return { offset: 0, skip: 0, found: msgs.length };
        continue;
      }
      const last = msgs.slice(msgs.length - n);
      if (last.some((m) => m.start === undefined)) {
        if (pos === 0) return { offset: 0, skip: 0, found: msgs.length };
        continue;
      }
      const offset = Math.min(...last.map((m) => m.start as number));
      const skip = msgs.filter((m) => m.end > offset).length - n;
      return { offset, skip, found: n };
    }
  } finally {
    await fh.close();
  }
}

/** Reads complete record lines of a file from `offset`; returns the offset after the last complete line. */
async function* readLines(path: string, offset: number): AsyncGenerator<Buffer, number> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(256 * 1024);
    let pos = offset;
    let rest = Buffer.alloc(0);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      const data = rest.length > 0 ? Buffer.concat([rest, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
      let start = 0;
      let nl: number;
      while ((nl = data.indexOf(NL, start)) >= 0) {
        yield Buffer.from(data.subarray(start, nl));
        start = nl + 1;
      }
      rest = Buffer.from(data.subarray(start));
    }
    return pos - rest.length;
  } finally {
    await fh.close();
  }
}

async function inode(path: string): Promise<{ ino: bigint; size: bigint } | undefined> {
  try {
    const s = await stat(path, { bigint: true });
    return { ino: s.ino, size: s.size };
  } catch {
    return undefined;
  }
}

/**
 * Yields the container's log messages. With `tail`, only the last N
 * (across rotated files); with `follow`, keeps yielding appended output until
 * `stopWhen` settles (then drains what is left) or `signal` aborts.
 */
export async function* readLogs(path: string, opts: ReadLogsOptions = {}): AsyncGenerator<LogMessage> {
  const wantOut = opts.stdout ?? true;
  const wantErr = opts.stderr ?? true;
  const since = opts.since !== undefined ? toNs(opts.since) : undefined;
  const until = opts.until !== undefined ? toNs(opts.until) : undefined;
  const re = new Reassembler();
  const accept = (m: LogMessage): boolean =>
    (m.stream === 'stdout' ? wantOut : wantErr) && (since === undefined || m.timeNano >= since) && (until === undefined || m.timeNano < until);

  // which files, from which offset
  const files = await logFiles(path);
  let startFile = 0;
  let startOffset = 0;
  let skip = 0;
  if (opts.tail !== undefined && opts.tail >= 0) {
    let need = opts.tail;
    if (need > 0) {
      for (let i = files.length - 1; i >= 0; i--) {
        const t = await tailOffset(files[i] as string, need).catch(() => ({ offset: 0, skip: 0, found: 0 }));
        startFile = i;
        startOffset = t.offset;
        skip = t.skip;
        if (t.found >= need) break;
        need -= t.found;
        startOffset = 0;
        skip = 0;
      }
    } else {
      // --tail 0: nothing old, only what follow brings
      startFile = files.length;
    }
  }
  const take = (m: LogMessage): boolean => {
    if (skip > 0) {
      skip--;
      return false;
    }
    return accept(m);
  };

  let liveOffset = 0;
  for (let i = startFile; i < files.length; i++) {
    const f = files[i] as string;
    const it = readLines(f, i === startFile ? startOffset : 0);
    let r = await it.next().catch(() => ({ done: true as const, value: 0 }));
    while (r.done !== true) {
      const rec = parseLogLine(r.value);
      if (rec !== undefined) {
        const m = re.push(rec);
        if (m !== undefined && take(m)) yield m;
      }
      r = await it.next();
    }
    if (i === files.length - 1) liveOffset = r.value;
  }
  if (startFile >= files.length) liveOffset = Number((await inode(path))?.size ?? 0n);

  if (opts.follow !== true) {
    for (const m of re.flush()) if (take(m)) yield m;
    return;
  }
  yield* follow(path, liveOffset, re, accept, opts);
}

async function* follow(
  path: string,
  offset: number,
  re: Reassembler,
  accept: (m: LogMessage) => boolean,
  opts: ReadLogsOptions,
): AsyncGenerator<LogMessage> {
  let stopped = false;
  let wake: (() => void) | undefined;
  const poke = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  void opts.stopWhen?.then(
    () => {
      stopped = true;
      poke();
    },
    () => {
      stopped = true;
      poke();
    },
  );
  const onAbort = (): void => {
    stopped = true;
    poke();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let watcher: FSWatcher | undefined;
  const dir = path.slice(0, path.lastIndexOf('/')) || '/';
  try {
    // watch the directory: conmon replaces the file on --log-size-max
    watcher = watch(dir, () => poke());
    watcher.on('error', () => {});
  } catch {
    watcher = undefined;
  }
  const timer = setInterval(poke, opts.pollMs ?? 250);
  let ino = (await inode(path))?.ino;
  try {
    for (;;) {
      const last = stopped;
      if (opts.signal?.aborted === true) return;
      const cur = await inode(path);
      if (cur !== undefined && (cur.ino !== ino || Number(cur.size) < offset)) {
        // replaced or truncated: start over on the new file
        ino = cur.ino;
        offset = 0;
      }
      if (cur !== undefined && Number(cur.size) > offset) {
        const it = readLines(path, offset);
        let r = await it.next();
        while (r.done !== true) {
          const rec = parseLogLine(r.value);
          if (rec !== undefined) {
            const m = re.push(rec);
            if (m !== undefined && accept(m)) yield m;
          }
          r = await it.next();
        }
        offset = r.value;
      }
      // one full read after the stop signal, so nothing written before exit is lost
      if (last) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    for (const m of re.flush()) if (accept(m)) yield m;
  } finally {
    clearInterval(timer);
    watcher?.close();
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
