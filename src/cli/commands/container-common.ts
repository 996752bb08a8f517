/**
 * Pieces shared by the container commands: docker's parallel operations
 * with per-argument results, joined errors, the wait/kill/resize calls, Go
 * value parsers (durations, byte sizes, env files) and flag-error wording.
 */
import { readFileSync } from 'node:fs';
import { WriteStream as TtyWriteStream } from 'node:tty';
import { UsageError } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { asRecord, isRecord, num } from '../narrow.js';
import { ApiError } from '../../client/errors.js';
import type { EngineClient } from '../../client/engine.js';
import { errorText } from './inspect-common.js';

export { errorText };

/** docker's parallelOperation: at most 50 at once, results in argument order. */
export async function parallel<T>(items: readonly string[], op: (item: string) => Promise<T>, limit = 50): Promise<Array<{ ok: true; value: T } | { ok: false; error: unknown }>> {
  const results: Array<{ ok: true; value: T } | { ok: false; error: unknown }> = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { ok: true, value: await op(items[i] as string) };
      } catch (error) {
        results[i] = { ok: false, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * The common shape of stop/kill/pause/…: run `op` for every argument,
 * print the argument on success, and fail with the errors joined by
 * newlines (Go's errors.Join), exit status 1.
 */
export async function forEachContainer(ctx: CommandContext, op: (name: string) => Promise<unknown>, sequential = false): Promise<number> {
  const results = await parallel(ctx.args, op, sequential ? 1 : 50);
  const errors: string[] = [];
  results.forEach((r, i) => {
    if (r.ok) ctx.out.write(`${ctx.args[i] ?? ''}\n`);
    else errors.push(errorText(r.error));
  });
  if (errors.length > 0) throw new StatusError(errors.join('\n'), 1);
  return 0;
}

/** A path segment for a container reference (names may not contain '/', but be safe). */
export function cpath(ref: string): string {
  return encodeURIComponent(ref);
}

/** pflag's error for a bad flag value, with the usage block cobra appends (exit 125). */
export function flagValueError(ctx: CommandContext, label: string, value: string, msg: string): UsageError {
  return new UsageError(`invalid argument "${value}" for "${label}" flag: ${msg}\n\nUsage:  ${ctx.useLine}\n\nRun '${ctx.path} --help' for more information`, 125);
}

// ------------------------------------------------------------ wait

export interface WaitResult {
  readonly statusCode: number;
  readonly error: string | undefined;
}

/**
 * POST /containers/{id}/wait. Resolves once the response headers are in
 * (so the daemon has registered the waiter, as the Go client's synchronous
 * post does), handing back a promise for the result.
 */
export async function startWait(client: EngineClient, id: string, condition: string | undefined, signal?: AbortSignal): Promise<{ result: Promise<WaitResult> }> {
  const res = await client.stream('POST', `/containers/${cpath(id)}/wait`, {
    ...(condition !== undefined ? { query: { condition } } : {}),
    ...(signal !== undefined ? { signal } : {}),
  });
  const result = (async (): Promise<WaitResult> => {
    const parts: Buffer[] = [];
    for await (const c of res) parts.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
    const text = Buffer.concat(parts).toString('utf8');
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw new Error(text);
    }
    const o = asRecord(v);
    const e = o['Error'];
    const msg = isRecord(e) && typeof e['Message'] === 'string' && e['Message'] !== '' ? e['Message'] : undefined;
    return { statusCode: num(o, 'StatusCode'), error: msg };
  })();
  // Handled by the caller, or deliberately dropped (run -d): never unhandled.
  result.catch(() => undefined);
  return { result };
}

// ------------------------------------------------------------ signals and tty

/** Signals the CLI proxies to the container (moby/sys/signal names, without SIG). */
const PROXIED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGCONT', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGALRM', 'SIGVTALRM', 'SIGPROF', 'SIGXCPU', 'SIGXFSZ', 'SIGIO', 'SIGPWR', 'SIGURG'];

/** ForwardAllSignals: each received signal becomes POST /containers/{id}/kill?signal=NAME. Returns the undo. */
export function forwardSignals(client: EngineClient, id: string): () => void {
  const handlers: Array<[NodeJS.Signals, () => void]> = [];
  for (const sig of PROXIED) {
    const h = (): void => {
      void client.json('POST', `/containers/${cpath(id)}/kill`, { query: { signal: sig.slice(3) } }).catch(() => undefined);
    };
    try {
      process.on(sig, h);
      handlers.push([sig, h]);
    } catch {
      // not available on this platform
    }
  }
  return () => {
    for (const [sig, h] of handlers) process.off(sig, h);
  };
}

/** The terminal size of stdout as [height, width], or [0, 0] off a terminal. */
export function ttySize(stream: NodeJS.WritableStream): [number, number] {
  if (stream instanceof TtyWriteStream && stream.isTTY) return [stream.rows, stream.columns];
  return [0, 0];
}

/**
 * MonitorTtySize: resize now (retrying briefly, as the CLI does while the
 * process is still starting) and on every SIGWINCH. Returns the undo.
 */
export function monitorTtySize(ctx: CommandContext, client: EngineClient, id: string, isExec: boolean): () => void {
  const path = isExec ? `/exec/${cpath(id)}/resize` : `/containers/${cpath(id)}/resize`;
  const resize = async (): Promise<void> => {
    const [h, w] = ttySize(ctx.stdoutStream);
    if (h === 0 && w === 0) return;
    await client.json('POST', path, { query: { h, w } });
  };
  void resize().catch(async () => {
    for (let retry = 0; retry < 10; retry++) {
      await new Promise((r) => setTimeout(r, (retry + 1) * 10));
      try {
        await resize();
        return;
      } catch {
        // try again
      }
    }
    ctx.err.write('failed to resize tty, using default size\n');
  });
  const onWinch = (): void => {
    void resize().catch(() => undefined);
  };
  process.on('SIGWINCH', onWinch);
  return () => process.off('SIGWINCH', onWinch);
}

/** streams.In.CheckTty. */
export function checkTty(ctx: CommandContext, attachStdin: boolean, tty: boolean): void {
  if (tty && attachStdin && ctx.stdin.isTTY !== true) throw new StatusError('the input device is not a TTY', 1);
}

// ------------------------------------------------------------ Go value parsers

const DURATION_UNITS: Readonly<Record<string, number>> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** time.ParseDuration, in nanoseconds; throws Go's message. */
export function parseGoDuration(s: string): number {
  const orig = s;
  const bad = (): Error => new Error(`time: invalid duration ${JSON.stringify(orig)}`);
  let neg = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw bad();
  let total = 0;
  while (s !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s);
    if (m === null || (m[1] === '' && (m[2] === undefined || m[2] === ''))) throw bad();
    s = s.slice(m[0].length);
    const u = /^[^\d.]+/.exec(s);
    if (u === null) throw new Error(`time: missing unit in duration ${JSON.stringify(orig)}`);
    const unit = DURATION_UNITS[u[0]];
    if (unit === undefined) throw new Error(`time: unknown unit ${JSON.stringify(u[0])} in duration ${JSON.stringify(orig)}`);
    s = s.slice(u[0].length);
    total += Number(`${m[1] === '' ? '0' : m[1]}.${m[2] ?? '0'}`) * unit;
  }
  return Math.round(neg ? -total : total);
}

/** units.RAMInBytes (binary multiples), Go's error messages. */
export function ramInBytes(s: string): number {
  const sep = Math.max(...[...'01234567890. '].map((c) => s.lastIndexOf(c)));
  if (sep === -1) throw new Error(`invalid size: '${s}'`);
  const numPart = s[sep] === ' ' ? s.slice(0, sep) : s.slice(0, sep + 1);
  let sfx = s.slice(sep + 1);
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(numPart)) throw new Error(`strconv.ParseFloat: parsing ${JSON.stringify(numPart)}: invalid syntax`);
  let size = Number(numPart);
  if (size < 0) throw new Error(`invalid size: '${s}'`);
  if (sfx === '') return Math.trunc(size);
  const badSuffix = new Error(`invalid suffix: '${sfx.toLowerCase()}'`);
  if (sfx.length > 3) throw new Error(`invalid suffix: '${sfx}'`);
  sfx = sfx.toLowerCase();
  if (sfx[0] === 'b') {
    if (sfx.length > 1) throw badSuffix;
    return Math.trunc(size);
  }
  const mul: Readonly<Record<string, number>> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
  const f = mul[sfx[0] as string];
  if (f === undefined) throw badSuffix;
  size *= f;
  if ((sfx.length === 2 && sfx[1] !== 'b') || (sfx.length === 3 && sfx.slice(1) !== 'ib')) throw badSuffix;
  return Math.trunc(size);
}

/** opts.ParseCPUs: a decimal number of CPUs → NanoCPUs. */
export function parseCpus(s: string): number {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(s)) throw new Error(`failed to parse ${s} as a rational number`);
  const [ip, fp = ''] = s.replace(/^\+/, '').split('.') as [string, string?];
  if (fp.replace(/0+$/, '').length > 9) throw new Error('value is too precise');
  const neg = ip.startsWith('-');
  const nano = BigInt(ip.replace('-', '') || '0') * 1_000_000_000n + BigInt((fp + '000000000').slice(0, 9));
  return Number(neg ? -nano : nano);
}

/** opts.ParseRestartPolicy. */
export function parseRestartPolicy(policy: string): { Name: string; MaximumRetryCount: number } {
  if (policy === '') return { Name: '', MaximumRetryCount: 0 };
  const i = policy.indexOf(':');
  const k = i === -1 ? policy : policy.slice(0, i);
  const v = i === -1 ? '' : policy.slice(i + 1);
  if (i !== -1 && k === '') throw new Error('invalid restart policy format: no policy provided before colon');
  let count = 0;
  if (v !== '') {
    if (!/^[+-]?\d+$/.test(v)) throw new Error('invalid restart policy format: maximum retry count must be an integer');
    count = Number(v);
  }
  return { Name: k, MaximumRetryCount: count };
}

/** kvfile.Parse: env/label files; `lookup` resolves bare names (env files only). */
export function parseKvFile(filename: string, lookup: ((k: string) => string | undefined) | undefined): string[] {
  let data: Buffer;
  try {
    data = readFileSync(filename);
  } catch (e) {
    const code = typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : '';
    throw new Error(code === 'ENOENT' ? `open ${filename}: no such file or directory` : `open ${filename}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const out: string[] = [];
  const lines = data.toString('utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (let n = 0; n < lines.length; n++) {
    let raw = (lines[n] as string).replace(/\r$/, '');
    if (n === 0) raw = raw.replace(/^\uFEFF/, '');
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const key = eq === -1 ? line : line.slice(0, eq);
    if (key === '') throw new Error(`invalid env file (${filename}): no variable name on line '${line}'`);
    if (/[ \t]/.test(key)) throw new Error(`invalid env file (${filename}): variable '${key}' contains whitespaces`);
    if (eq !== -1) {
      out.push(line);
      continue;
    }
    const v = lookup?.(line);
    if (v !== undefined) out.push(`${key}=${v}`);
  }
  return out;
}

/** opts.ValidateEnv: `-e NAME` takes NAME's value from the CLI's environment when set. */
export function validateEnv(val: string, env: NodeJS.ProcessEnv): string {
  const eq = val.indexOf('=');
  const k = eq === -1 ? val : val.slice(0, eq);
  if (k === '') throw new Error(`invalid environment variable: ${val}`);
  if (eq !== -1) return val;
  const v = env[k];
  return v !== undefined ? `${k}=${v}` : val;
}

/** Env list from --env-file files then -e values (opts.ReadKVEnvStrings); null when empty. */
export function readEnv(ctx: CommandContext, files: readonly string[], values: readonly string[]): string[] | null {
  const lookup = (k: string): string | undefined => ctx.env[k];
  const out: string[] = [];
  for (const f of files) out.push(...parseKvFile(f, lookup));
  out.push(...values);
  return out.length === 0 ? null : out;
}

/** Whether an error is the daemon's 404. */
export function isNotFound(e: unknown): boolean {
  return e instanceof ApiError && e.status === 404;
}
