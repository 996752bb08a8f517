/**
 * hijackedIOStreamer: moves bytes between the terminal and a hijacked
 * attach/exec connection. Output is raw with a TTY and stdcopy frames
 * without; stdin is copied in (raw terminal mode and the detach-key escape
 * proxy when it is a TTY) and the write side is half-closed at stdin EOF,
 * or at once when there is no stdin, while output keeps flowing.
 */
import type { Duplex } from 'node:stream';
import { ReadStream as TtyReadStream } from 'node:tty';
import { StdcopyDemuxer, STDERR, STDOUT, SYSTEMERR } from '../../client/stdcopy.js';
import type { EngineClient } from '../../client/engine.js';
import type { CommandContext } from '../context.js';
import { cpath } from './container-common.js';

const DEFAULT_ESCAPE = [16, 17]; // ctrl-p ctrl-q

/** term.ToBytes: "ctrl-p,ctrl-q" → bytes; throws on a bad spec. */
export function detachKeyBytes(keys: string): number[] {
  const out: number[] = [];
  for (const part of keys.split(',')) {
    const k = part.trim();
    if (k.length > 1 && k.startsWith('ctrl-')) {
      const c = k.slice(5);
      if (c.length !== 1) throw new Error(`Unknown character: '${k}'`);
      const ch = c.toLowerCase();
      if (ch >= 'a' && ch <= 'z') out.push(ch.charCodeAt(0) - 96);
      else if (ch === '@') out.push(0);
      else if (ch === '[') out.push(27);
      else if (ch === '\\') out.push(28);
      else if (ch === ']') out.push(29);
      else if (ch === '^') out.push(30);
      else if (ch === '_') out.push(31);
      else throw new Error(`Unknown character: '${k}'`);
    } else if (k.length === 1) {
      out.push(k.charCodeAt(0));
    } else {
      throw new Error(`Unknown character: '${k}'`);
    }
  }
  return out;
}

/** The ways a stream can end. */
export type StreamEnd = { kind: 'eof' } | { kind: 'detached' } | { kind: 'error'; error: Error };

export interface HijackOptions {
  readonly socket: Duplex;
  readonly head: Buffer;
  readonly tty: boolean;
  readonly stdin: NodeJS.ReadStream | undefined;
  readonly stdout: ((b: Buffer) => void) | undefined;
  readonly stderr: ((b: Buffer) => void) | undefined;
  readonly detachKeys: string;
  /** Warnings (logrus in docker) go here. */
  readonly warn: (msg: string) => void;
}

export interface HijackSession {
  /** Settles when the stream is over (output EOF, or input done when there is no output, or detach). */
  readonly done: Promise<StreamEnd>;
  /** Tears the connection down (context cancel). */
  cancel(): void;
}

/** Starts streaming; the caller awaits `done`. Everything is restored when it settles. */
export function streamHijacked(o: HijackOptions): HijackSession {
  const { socket } = o;
  const hasOutput = o.stdout !== undefined || o.stderr !== undefined;
  let settle!: (e: StreamEnd) => void;
  const done = new Promise<StreamEnd>((resolve) => {
    settle = resolve;
  });
  let finished = false;
  let restoreInput = (): void => undefined;
  const cleanups: Array<() => void> = [];
  const finish = (e: StreamEnd): void => {
    if (finished) return;
    finished = true;
    restoreInput();
    for (const c of cleanups) c();
    socket.destroy();
    settle(e);
  };

  // ---- output
  let outputDone = !hasOutput;
  let sysErr: string | undefined;
  const demux = o.tty
    ? undefined
    : new StdcopyDemuxer((stream, payload) => {
        if (stream === STDOUT) o.stdout?.(payload);
        else if (stream === STDERR) o.stderr?.(payload);
        else if (stream === SYSTEMERR) sysErr = (sysErr ?? '') + payload.toString('utf8');
        else o.stdout?.(payload);
      });
  const onData = (c: Buffer): void => {
    if (o.tty) (o.stdout ?? o.stderr)?.(c);
    else demux?.push(c);
  };
  const onOutputEnd = (): void => {
    if (outputDone) return;
    outputDone = true;
    if (o.tty) restoreInput();
    if (sysErr !== undefined) finish({ kind: 'error', error: new Error(`error from daemon in stream: ${sysErr}`) });
    else finish({ kind: 'eof' });
  };
  if (hasOutput) {
    if (o.head.length > 0) onData(o.head);
    socket.on('data', onData);
    socket.on('end', onOutputEnd);
    socket.on('close', onOutputEnd);
  } else {
    // Nothing to print, but the socket must be drained to see its end.
    socket.resume();
  }
  socket.on('error', (e: Error) => {
    if (hasOutput && !outputDone) {
      // A reset after the daemon finished writing reads like EOF to the Go client.
      if ((e as NodeJS.ErrnoException).code === 'ECONNRESET' || (e as NodeJS.ErrnoException).code === 'EPIPE') onOutputEnd();
      else finish({ kind: 'error', error: e });
    }
  });

  // ---- input
  const inputDone = (): void => {
    // CloseWrite: the daemon sees stdin EOF, output keeps coming.
    if (!socket.destroyed) socket.end();
    if (!hasOutput) finish({ kind: 'eof' });
  };
  const stdin = o.stdin;
  if (stdin === undefined) {
    inputDone();
  } else {
    let escape: number[] | undefined;
    if (o.tty) {
      escape = DEFAULT_ESCAPE;
      if (o.detachKeys !== '') {
        try {
          escape = detachKeyBytes(o.detachKeys);
        } catch (e) {
          o.warn(`invalid detach escape keys, using default: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      if (stdin instanceof TtyReadStream && stdin.isTTY) {
        stdin.setRawMode(true);
        let restored = false;
        restoreInput = () => {
          if (restored) return;
          restored = true;
          stdin.setRawMode(false);
        };
      }
    }
    // term.EscapeProxy: hold back bytes that could start the escape sequence.
    let pending: number[] = [];
    const onIn = (chunk: Buffer | string): void => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (escape === undefined) {
        socket.write(buf);
        return;
      }
      const out: number[] = [];
      for (const b of buf) {
        if (b === escape[pending.length]) {
          pending.push(b);
          if (pending.length === escape.length) {
            if (out.length > 0) socket.write(Buffer.from(out));
            finish({ kind: 'detached' });
            return;
          }
          continue;
        }
        out.push(...pending);
        pending = [];
        if (b === escape[0]) pending.push(b);
        else out.push(b);
      }
      if (out.length > 0) socket.write(Buffer.from(out));
    };
    const onEnd = (): void => {
      if (pending.length > 0) socket.write(Buffer.from(pending));
      pending = [];
      if (!o.tty || !hasOutput) restoreInput();
      inputDone();
    };
    stdin.on('data', onIn);
    stdin.once('end', onEnd);
    stdin.resume();
    cleanups.push(() => {
      stdin.off('data', onIn);
      stdin.off('end', onEnd);
      // Let the process exit: an open stdin keeps the event loop alive.
      stdin.pause();
      if (stdin.isTTY !== true) stdin.destroy();
    });
  }

  return { done, cancel: () => finish({ kind: 'eof' }) };
}

/**
 * POST /containers/{id}/attach streamed to the console, with the command's
 * --detach-keys: what run, start -a and attach share. With a TTY there is
 * one raw stream; without, stderr goes to stderr.
 */
export async function attachToConsole(
  ctx: CommandContext,
  client: EngineClient,
  id: string,
  o: { tty: boolean; stdin: boolean; stdout?: boolean; stderr?: boolean },
): Promise<HijackSession> {
  const detachKeys = ctx.opts.string('detach-keys');
  const out = o.stdout ?? true;
  const err = o.stderr ?? true;
  const { socket, head } = await client.hijack('POST', `/containers/${cpath(id)}/attach`, {
    query: { stream: '1', stdin: o.stdin ? '1' : undefined, stdout: out ? '1' : undefined, stderr: err ? '1' : undefined, detachKeys: detachKeys !== '' ? detachKeys : undefined },
  });
  return streamHijacked({
    socket,
    head,
    tty: o.tty,
    stdin: o.stdin ? ctx.stdin : undefined,
    stdout: out ? (b) => ctx.out.write(b) : undefined,
    stderr: err ? (b) => (o.tty ? ctx.out.write(b) : ctx.err.write(b)) : undefined,
    detachKeys,
    warn: (m) => ctx.err.write(`WARN[0000] ${m}\n`),
  });
}
