import { spawn, type SpawnOptions } from 'node:child_process';
import { InternalError } from './errors.js';

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a program with an argv array (never a shell string) and collects its
 * output. Throws InternalError with the program's stderr when it fails,
 * unless `allowFailure` is set.
 */
export function run(
  cmd: string,
  args: readonly string[],
  opts: { input?: string | Buffer; allowFailure?: boolean; env?: NodeJS.ProcessEnv; cwd?: string; signal?: AbortSignal } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const so: SpawnOptions = { stdio: ['pipe', 'pipe', 'pipe'] };
    if (opts.env !== undefined) so.env = opts.env;
    if (opts.cwd !== undefined) so.cwd = opts.cwd;
    if (opts.signal !== undefined) so.signal = opts.signal;
    const child = spawn(cmd, [...args], so);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const r: RunResult = {
        code: code ?? (signal !== null ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (r.code !== 0 && opts.allowFailure !== true) {
        reject(new InternalError(`${cmd} ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`));
      } else resolve(r);
    });
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.input);
  });
}
