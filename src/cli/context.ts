/**
 * What a command module receives: parsed flags, the output streams, and a
 * lazily created EngineClient (commands like `--help` never connect).
 */
import type { ParsedArgs } from './argv.js';
import type { EngineClient } from '../client/engine.js';

export interface Output {
  write(data: string | Uint8Array): void;
  readonly isTTY: boolean;
  /** Terminal width, or 0 when not a terminal. */
  readonly columns: number;
  readonly fd: number;
}

export interface GlobalOptions {
  readonly hosts: readonly string[];
  readonly debug: boolean;
  readonly logLevel: string;
}

export interface CommandContext {
  /** Program name as printed in messages ("berth"). */
  readonly bin: string;
  /** The command path as typed, e.g. "berth image ls". */
  readonly path: string;
  /** The usage line, e.g. "berth image ls [OPTIONS] [REPOSITORY[:TAG]]". */
  readonly useLine: string;
  readonly opts: ParsedArgs;
  readonly args: readonly string[];
  readonly global: GlobalOptions;
  readonly out: Output;
  readonly err: Output;
  readonly stdin: NodeJS.ReadStream;
  /** The real stdout stream, for binary copies with backpressure (save). */
  readonly stdoutStream: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
  /** Creates (once) the API client for the resolved host. */
  client(): Promise<EngineClient>;
}

export function processOutput(stream: NodeJS.WriteStream): Output {
  return {
    write: (d) => {
      stream.write(d);
    },
    get isTTY() {
      return stream.isTTY === true;
    },
    get columns() {
      return stream.isTTY === true ? stream.columns : 0;
    },
    fd: stream === process.stdout ? 1 : stream === process.stderr ? 2 : -1,
  };
}

/** Collects output in memory (tests). */
export class BufferOutput implements Output {
  private parts: string[] = [];
  constructor(readonly isTTY = false, readonly columns = 0, readonly fd = -1) {}
  write(d: string | Uint8Array): void {
    this.parts.push(typeof d === 'string' ? d : Buffer.from(d).toString('utf8'));
  }
  text(): string {
    return this.parts.join('');
  }
}
