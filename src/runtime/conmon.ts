/**
 * Process supervision through conmon. conmon runs `runc create` (or `runc
 * exec`), then double-forks away from us: it holds the container's stdio,
 * writes the k8s-file log, serves the attach socket, reaps the container and
 * writes its exit code to `<exitDir>/<id>`. Because it is not our child, a
 * container outlives berthd; a restarted daemon finds it again through runc
 * state, the exit file and the attach socket path.
 *
 * The protocol (as podman's libpod/oci_conmon_*.go and conmon 2.1 source):
 *  - `_OCI_SYNCPIPE=<fd>`: conmon writes `{"data": <pid>}` once `runc create`
 *    succeeded, or `{"data": -1, "message": "<runc stderr>"}` when it failed.
 *    For exec it later writes `{"data": <exit code>}` as well.
 *  - `_OCI_STARTPIPE=<fd>`: conmon blocks on a first byte before it forks
 *    (and, with `--exec-attach`, its runc child waits for a second one so
 *    the caller can attach before the process runs).
 *  - `_OCI_ATTACHPIPE=<fd>` (exec with attach): conmon writes once the
 *    attach socket is listening.
 *  - attach socket `<socketDir>/<uuid>/attach` (a symlink to the bundle keeps
 *    the path under 108 bytes), SOCK_SEQPACKET; packets from conmon start
 *    with a stream byte (2 = stdout, 3 = stderr); packets to it are stdin;
 *    shutting down our write side closes the container's stdin unless
 *    conmon was given `--leave-stdin-open`.
 *  - `<bundle>/ctl` FIFO: `1 <height> <width>\n` resizes the terminal,
 *    `2 0 0\n` reopens the log file. (`<bundle>/winsz` takes `<h> <w>\n`.)
 *  - OOM: conmon touches `oom` in its working directory (we run it in the
 *    bundle) and in `--persist-dir`.
 *  - Exit codes: conmon writes 128+n for a process killed by signal n, as
 *    Docker reports them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { constants as fsConstants, watch, type FSWatcher } from 'node:fs';
import { mkdir, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import type { Socket } from 'node:net';
import { SeqpacketSocket } from 'node-unix-socket';
import { BerthError, InternalError, InvalidArgumentError, NotFoundError, errnoCode, type ErrorKind } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { OciProcess, OciSpec } from './oci-spec.js';
import type { Runc } from './runc.js';

/** Exit codes Docker gives when a process cannot be started. */
export const EXIT_CMD_NOT_FOUND = 127;
export const EXIT_CANNOT_INVOKE = 126;
export const EXIT_START_FAILED = 128;

/**
 * runc could not create or exec the process. `exitCode` is what Docker
 * records (127 not found, 126 permission denied, 128 otherwise); the message
 * is Docker's ("OCI runtime create failed: ...: unknown").
 */
export class RuntimeStartError extends BerthError {
  readonly kind: ErrorKind;
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    // Docker answers 400 for a command that cannot run, 500 otherwise
    this.kind = exitCode === EXIT_START_FAILED ? 'internal' : 'invalid-argument';
  }
}

/** Pulls runc's own message out of its stderr (logfmt `msg="..."` or JSON lines). */
export function runcErrorText(raw: string): string {
  const msgs: string[] = [];
  for (const line of raw.split('\n')) {
    const t = line.trim();
    if (t === '') continue;
    if (t.startsWith('{')) {
      try {
        const j = JSON.parse(t) as { msg?: unknown; level?: unknown };
        if (typeof j.msg === 'string' && (j.level === undefined || j.level === 'error' || j.level === 'fatal')) msgs.push(j.msg);
        continue;
      } catch {
        // not JSON after all
      }
    }
    const m = /msg="((?:[^"\\]|\\.)*)"/.exec(t);
    if (m?.[1] !== undefined) {
      if (/level=(error|fatal)/.test(t) || !/level=/.test(t)) msgs.push(m[1].replace(/\\(.)/g, '$1'));
      continue;
    }
    msgs.push(t);
  }
  return msgs.length > 0 ? (msgs[msgs.length - 1] as string) : raw.trim();
}

/** Docker's message and exit code for a failed create/exec (daemon/start.go translateContainerdStartErr). */
export function startError(op: 'create' | 'exec', runcText: string, cmd: string | undefined): RuntimeStartError {
  const text = runcErrorText(runcText);
  const lower = text.toLowerCase();
  // an exec that cannot start is 126 unless its command is missing (moby daemon/exec.go)
  let code = op === 'exec' ? EXIT_CANNOT_INVOKE : EXIT_START_FAILED;
  if (
    (cmd === undefined || lower.includes(cmd.toLowerCase())) &&
    (lower.includes('executable file not found') || lower.includes('no such file or directory'))
  ) {
    code = EXIT_CMD_NOT_FOUND;
  } else if (lower.includes('permission denied')) {
    code = EXIT_CANNOT_INVOKE;
  } else if (lower.includes('not a directory')) {
    code = EXIT_CMD_NOT_FOUND;
  }
  let msg = `OCI runtime ${op} failed: ${text}: unknown`;
  if (lower.includes('not a directory')) {
    msg += ': Are you trying to mount a directory onto a file (or vice-versa)? Check if the specified host path exists and is the expected type';
  }
  return new RuntimeStartError(msg, code);
}

export interface ConmonOptions {
  runc: Runc;
  /** Directory for exit files and attach-socket symlinks; keep it short (socket paths < 108 bytes). */
  stateDir: string;
  log: Logger;
  conmonBinary?: string;
}

export interface CreateOptions {
  id: string;
  /** Bundle directory (owned by the caller); config.json, pidfiles, ctl/winsz/attach go here. */
  bundle: string;
  spec: OciSpec;
  /** Container log (k8s-file format). */
  logPath: string;
  /** Keep no log at all (Docker's "none" logging driver). */
  noLog?: boolean;
  /** Bytes; conmon truncates the log when it grows past this (see logs.ts). */
  logSizeMax?: number;
  /** Keep stdin open (OpenStdin). */
  stdin?: boolean;
  /** Close the container's stdin when the first attached client detaches (StdinOnce). */
  stdinOnce?: boolean;
  name?: string;
  /** Program (and args) conmon runs after the container exits. */
  exitCommand?: readonly string[];
}

export interface Created {
  /** Container init pid (host namespace). */
  pid: number;
  /** The daemonized conmon's pid. */
  conmonPid: number;
}

export interface ExitInfo {
  exitCode: number;
  oomKilled: boolean;
  finishedAt: Date;
}

export interface AttachChunk {
  /** 1 = stdout, 2 = stderr (Docker's stream numbers). */
  stream: 1 | 2;
  data: Buffer;
}

export interface AttachSession {
  /** Container stdin; end() half-closes (closes the container's stdin when StdinOnce). */
  readonly stdin: Writable;
  /** Object-mode stream of AttachChunk; ends when conmon closes the socket (container exit). */
  readonly output: Readable;
  close(): void;
}

export interface ExecOptions {
  /** Container ID. */
  id: string;
  /** Unique exec session ID. */
  execId: string;
  /** Directory owned by the caller for this session (process.json, pidfile, exit dir, attach socket). */
  dir: string;
  process: OciProcess;
  /** Attach to stdio before the process starts (Docker exec without Detach). */
  attach?: boolean;
  stdin?: boolean;
  /** Log file for the session's output; default `<dir>/exec.log`. */
  logPath?: string;
}

export interface ExecSession {
  pid: number;
  /** Present when `attach` was requested. */
  attach?: AttachSession;
  /** Resolves with the exit code when the process ends. */
  exit: Promise<number>;
}

/** Conmon's packet stream bytes. */
const PIPE_STDOUT = 2;
const PIPE_STDERR = 3;
/** conmon reads up to 32 KiB per stdin packet; stay under it. */
const STDIN_PACKET = 8192;
/** Unix socket paths are limited to 108 bytes including the NUL. */
const MAX_SOCKET_PATH = 107;

interface SyncMessage {
  data: number;
  message?: string;
}

/** Reads newline-terminated JSON messages conmon writes to a sync pipe. */
class SyncReader {
  private buf = '';
  private readonly queue: SyncMessage[] = [];
  private waiters: { resolve: (m: SyncMessage | undefined) => void }[] = [];
  private ended = false;

  constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (s: string) => {
      this.buf += s;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        if (line === '') continue;
        try {
          this.push(JSON.parse(line) as SyncMessage);
        } catch {
          this.push({ data: -1, message: `conmon sent ${JSON.stringify(line)}` });
        }
      }
    });
    const end = (): void => {
      this.ended = true;
      for (const w of this.waiters) w.resolve(undefined);
      this.waiters = [];
    };
    sock.on('end', end);
    sock.on('close', end);
    sock.on('error', end);
  }

  private push(m: SyncMessage): void {
    const w = this.waiters.shift();
    if (w !== undefined) w.resolve(m);
    else this.queue.push(m);
  }

  /** Next message, or undefined when conmon closed the pipe. */
  next(): Promise<SyncMessage | undefined> {
    const m = this.queue.shift();
    if (m !== undefined) return Promise.resolve(m);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push({ resolve }));
  }

  close(): void {
    this.sock.destroy();
  }
}

function collect(stream: Readable | null): () => string {
  const parts: Buffer[] = [];
  stream?.on('data', (b: Buffer) => parts.push(b));
  stream?.on('error', () => {});
  return () => Buffer.concat(parts).toString('utf8');
}

/** The extra stdio pipes Node made for a child (fd ≥ 3) are sockets. */
function fd(child: ChildProcess, n: number): Socket {
  const s = (child.stdio as readonly unknown[])[n];
  if (s === undefined || s === null) throw new InternalError(`conmon pipe ${n} missing`);
  return s as Socket;
}

function waitChild(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal !== null ? 128 : 1)));
  });
}

async function readInt(path: string): Promise<number | undefined> {
  try {
    const n = Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
    return Number.isFinite(n) ? n : undefined;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Watches a directory for exit files named after IDs. One fs.watch plus a
 * poll (fs.watch can miss events, e.g. on some overlay/network filesystems);
 * both are live only while someone waits.
 */
class ExitWatcher {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly waiters = new Map<string, Set<(code: number) => void>>();
  private readonly listeners = new Set<(id: string, code: number) => void>();
  private readonly reported = new Set<string>();

  constructor(
    private readonly dir: string,
    private readonly pollMs = 500,
  ) {}

  /** Resolves with the code in `<dir>/<id>` once it exists. */
  wait(id: string): Promise<number> {
    return new Promise((resolve) => {
      let set = this.waiters.get(id);
      if (set === undefined) this.waiters.set(id, (set = new Set()));
      set.add(resolve);
      this.ensure();
      void this.check(id);
    });
  }

  /** Calls `fn` for every exit file that appears; returns an unsubscribe function. */
  subscribe(fn: (id: string, code: number) => void): () => void {
    this.listeners.add(fn);
    this.ensure();
    return () => {
      this.listeners.delete(fn);
      this.maybeStop();
    };
  }

  private ensure(): void {
    if (this.watcher === undefined) {
      try {
        this.watcher = watch(this.dir, (_ev, name) => {
          if (typeof name === 'string' && !name.startsWith('.')) void this.check(name);
        });
        this.watcher.on('error', () => this.stopWatcher());
      } catch {
        // the poll still covers us
      }
    }
    if (this.timer === undefined) this.timer = setInterval(() => void this.pollAll(), this.pollMs);
  }

  private stopWatcher(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  private maybeStop(): void {
    if (this.waiters.size > 0 || this.listeners.size > 0) return;
    this.stopWatcher();
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async pollAll(): Promise<void> {
    if (this.listeners.size > 0) {
      const names = await readdir(this.dir).catch(() => [] as string[]);
      for (const n of names) if (!n.startsWith('.')) await this.check(n);
    } else {
      for (const id of [...this.waiters.keys()]) await this.check(id);
    }
  }

  private async check(id: string): Promise<void> {
    const code = await readInt(join(this.dir, id)).catch(() => undefined);
    if (code === undefined) return;
    const set = this.waiters.get(id);
    if (set !== undefined) {
      this.waiters.delete(id);
      for (const r of set) r(code);
    }
    if (!this.reported.has(id) && this.listeners.size > 0) {
      this.reported.add(id);
      for (const l of this.listeners) l(id, code);
    }
    this.maybeStop();
  }

  /** Forget an ID so a later exit of a restarted container is reported again. */
  forget(id: string): void {
    this.reported.delete(id);
  }

  close(): void {
    this.waiters.clear();
    this.listeners.clear();
    this.maybeStop();
  }
}

/** Wraps a connected attach socket as stdin (Writable) + output (object-mode Readable). */
function attachSession(sock: SeqpacketSocket): AttachSession {
  let closed = false;
  const output = new Readable({ objectMode: true, read() {} });
  sock.on('data', (buf: Buffer) => {
    if (buf.length < 1) return;
    const kind = buf[0];
    if (kind !== PIPE_STDOUT && kind !== PIPE_STDERR) return;
    output.push({ stream: kind === PIPE_STDOUT ? 1 : 2, data: Buffer.from(buf.subarray(1)) } satisfies AttachChunk);
  });
  const finish = (): void => {
    if (!output.readableEnded) output.push(null);
  };
  sock.on('end', finish);
  sock.on('close', finish);
  sock.on('error', finish);
  const stdin = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (closed) return cb(new Error('attach session closed'));
      try {
        for (let off = 0; off < chunk.length; off += STDIN_PACKET) {
          const part = chunk.subarray(off, Math.min(chunk.length, off + STDIN_PACKET));
          const last = off + STDIN_PACKET >= chunk.length;
          sock.write(part, 0, part.length, last ? () => cb() : undefined);
        }
        if (chunk.length === 0) cb();
      } catch (e) {
        cb(e instanceof Error ? e : new Error(String(e)));
      }
    },
    final(cb) {
      if (closed) return cb();
      try {
        sock.end(() => cb());
      } catch (e) {
        cb(e instanceof Error ? e : new Error(String(e)));
      }
    },
  });
  return {
    stdin,
    output,
    close() {
      if (closed) return;
      closed = true;
      sock.destroy();
      finish();
      stdin.destroy();
    },
  };
}

function connectSeqpacket(path: string): Promise<SeqpacketSocket> {
  return new Promise((resolve, reject) => {
    const s = new SeqpacketSocket();
    const onError = (e: Error): void => reject(e);
    s.once('error', onError);
    try {
      s.connect(path, () => {
        s.off('error', onError);
        resolve(s);
      });
    } catch (e) {
      s.destroy();
      reject(e instanceof Error ? e : new Error(String(e)));
    }
  });
}

export class Conmon {
  readonly runc: Runc;
  readonly stateDir: string;
  readonly exitDir: string;
  readonly socketDir: string;
  private readonly log: Logger;
  private readonly binary: string;
  private readonly exits: ExitWatcher;

  constructor(opts: ConmonOptions) {
    this.runc = opts.runc;
    this.stateDir = opts.stateDir;
    this.exitDir = join(opts.stateDir, 'exits');
    this.socketDir = join(opts.stateDir, 's');
    this.log = opts.log;
    this.binary = opts.conmonBinary ?? '/usr/bin/conmon';
    this.exits = new ExitWatcher(this.exitDir);
  }

  async init(): Promise<void> {
    await mkdir(this.exitDir, { recursive: true, mode: 0o700 });
    await mkdir(this.socketDir, { recursive: true, mode: 0o700 });
  }

  /** Where conmon binds the attach socket for a container or exec session UUID. */
  attachSocketPath(uuid: string): string {
    return join(this.socketDir, uuid, 'attach');
  }

  /** `logPath` undefined: conmon's "none" driver, nothing kept. */
  private commonArgs(id: string, uuid: string, bundle: string, pidFile: string, logPath: string | undefined, exitDir: string): string[] {
    const sock = this.attachSocketPath(uuid);
    if (Buffer.byteLength(sock) > MAX_SOCKET_PATH) {
      throw new InvalidArgumentError(`attach socket path too long (${Buffer.byteLength(sock)} bytes): ${sock}`);
    }
    return [
      '--api-version', '1',
      '-c', id,
      '-u', uuid,
      '-r', this.runc.binary,
      '-b', bundle,
      '-p', pidFile,
      '-l', logPath !== undefined ? `k8s-file:${logPath}` : 'none:',
      '--exit-dir', exitDir,
      '--socket-dir-path', this.socketDir,
      '--log-level', 'error',
      // global runc flags go before its subcommand; conmon puts runtime args there
      '--runtime-arg', '--root', '--runtime-arg', this.runc.root,
    ];
  }

  /**
   * Writes config.json and creates the container under conmon. Resolves once
   * `runc create` has finished: the container is `created`, its process
   * waits for `start()`. Throws RuntimeStartError with Docker's message when
   * runc fails (missing binary → exit code 127).
   */
  async create(opts: CreateOptions): Promise<Created> {
    const { id, bundle } = opts;
    await mkdir(bundle, { recursive: true, mode: 0o700 });
    await writeFile(join(bundle, 'config.json'), JSON.stringify(opts.spec));
    await rm(join(this.exitDir, id), { force: true });
    await rm(join(bundle, 'oom'), { force: true });
    await rm(join(bundle, 'exit'), { force: true });
    this.exits.forget(id);

    const conmonPidFile = join(bundle, 'conmon.pid');
    const args = this.commonArgs(id, id, bundle, join(bundle, 'pidfile'), opts.noLog === true ? undefined : opts.logPath, this.exitDir);
    args.push('-n', opts.name ?? id, '-P', conmonPidFile, '--persist-dir', bundle);
    if (opts.spec.process.terminal === true) args.push('-t');
    if (opts.stdin === true) {
      args.push('-i');
      if (opts.stdinOnce !== true) args.push('--leave-stdin-open');
    }
    if (opts.logSizeMax !== undefined && opts.logSizeMax > 0) args.push('--log-size-max', String(opts.logSizeMax));
    if (opts.exitCommand !== undefined && opts.exitCommand.length > 0) {
      args.push('--exit-command', opts.exitCommand[0] as string);
      for (const a of opts.exitCommand.slice(1)) args.push('--exit-command-arg', a);
    }

    const { msg, stderr } = await this.spawnConmon(args, bundle, false);
    if (msg === undefined || msg.data < 0) {
      const text = msg?.message ?? stderr;
      // runc may have left a half-made container behind
      await this.runc.delete(id, true).catch(() => {});
      if (msg === undefined) throw new InternalError(`conmon failed to create the container: ${stderr.trim() || 'no output'}`);
      throw startError('create', text, opts.spec.process.args[0]);
    }
    const conmonPid = (await readInt(conmonPidFile)) ?? 0;
    this.log.debug('container created', { id, pid: msg.data, conmonPid });
    return { pid: msg.data, conmonPid };
  }

  /**
   * Spawns conmon with a sync pipe (fd 3) and waits for its first message.
   * conmon's first process exits right after forking the monitor; the
   * monitor keeps the pipe, so we read the message and then let go of it.
   */
  private async spawnConmon(
    args: string[],
    cwd: string,
    keepSync: boolean,
    extra?: { start: true },
  ): Promise<{ msg: SyncMessage | undefined; stderr: string; sync?: SyncReader; child: ChildProcess; stderrNow: () => string }> {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', _OCI_SYNCPIPE: '3' };
    if (extra?.start === true) {
      env._OCI_STARTPIPE = '4';
      env._OCI_ATTACHPIPE = '5';
    }
    const stdio: ('ignore' | 'pipe')[] = ['ignore', 'pipe', 'pipe', 'pipe'];
    if (extra?.start === true) stdio.push('pipe', 'pipe');
    // own process group, as podman: a ^C aimed at berthd must not reach conmon
    const child = spawn(this.binary, args, { cwd, env, stdio, detached: true });
    const exited = waitChild(child);
    const stderr = collect(child.stderr);
    collect(child.stdout);
    const sync = new SyncReader(fd(child, 3));
    if (extra?.start === true) {
      // first byte: conmon may fork (podman moves it into a cgroup before this)
      fd(child, 4).write(Buffer.from([0]));
      return { msg: undefined, stderr: '', sync, child, stderrNow: stderr };
    }
    const code = await exited.catch((e: unknown) => {
      throw new InternalError(`cannot run conmon: ${e instanceof Error ? e.message : String(e)}`);
    });
    if (code !== 0) {
      sync.close();
      return { msg: undefined, stderr: stderr(), child, stderrNow: stderr };
    }
    const msg = await sync.next();
    if (!keepSync) sync.close();
    for (const s of [child.stdout, child.stderr]) s?.destroy();
    return { msg, stderr: stderr(), sync, child, stderrNow: stderr };
  }

  /** `runc start`: the created container's process runs. */
  async start(id: string): Promise<void> {
    await this.runc.start(id);
  }

  /** The recorded exit code, or undefined while the container has not exited. */
  async exitCode(id: string): Promise<number | undefined> {
    return readInt(join(this.exitDir, id));
  }

  /**
   * Whether the container was OOM-killed: conmon's `oom` file in the bundle,
   * else the cgroup's own counter (v1 memory.oom_control, v2 memory.events),
   * readable until `runc delete` removes the cgroup.
   */
  async oomKilled(id: string, bundle: string, cgroupsPath = `/berth/${id}`): Promise<boolean> {
    if (await exists(join(bundle, 'oom'))) return true;
    const files = [join('/sys/fs/cgroup/memory', cgroupsPath, 'memory.oom_control'), join('/sys/fs/cgroup', cgroupsPath, 'memory.events')];
    for (const f of files) {
      try {
        const m = /^oom_kill (\d+)$/m.exec(await readFile(f, 'utf8'));
        if (m !== null && Number(m[1]) > 0) return true;
      } catch {
        // cgroup gone or not this layout
      }
    }
    return false;
  }

  /** Resolves when the container exits (its exit file appears), with OOM and finish time. */
  async waitExit(id: string, bundle: string, cgroupsPath?: string): Promise<ExitInfo> {
    const exitCode = await this.exits.wait(id);
    const st = await stat(join(this.exitDir, id)).catch(() => undefined);
    return { exitCode, oomKilled: await this.oomKilled(id, bundle, cgroupsPath), finishedAt: st?.mtime ?? new Date() };
  }

  /** Calls `fn(id, code)` whenever any container's exit file appears. Returns the unsubscribe function. */
  onExit(fn: (id: string, code: number) => void): () => void {
    return this.exits.subscribe(fn);
  }

  /** Connects to the container's attach socket (the container must have been created with stdin or a tty, or just for output). */
  async attach(uuid: string): Promise<AttachSession> {
    const path = this.attachSocketPath(uuid);
    try {
      return attachSession(await connectSeqpacket(path));
    } catch (e) {
      throw new NotFoundError(`cannot attach to ${uuid}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }

  /** Resizes the container's (or exec session's) terminal through conmon's ctl FIFO. */
  async resize(bundle: string, height: number, width: number): Promise<void> {
    await this.ctl(bundle, `1 ${Math.trunc(height)} ${Math.trunc(width)}\n`);
  }

  /** Asks conmon to reopen the log file (after berth rotated it). */
  async reopenLog(bundle: string): Promise<void> {
    await this.ctl(bundle, '2 0 0\n');
  }

  private async ctl(bundle: string, msg: string): Promise<void> {
    // O_WRONLY|O_NONBLOCK: fails with ENXIO instead of hanging when conmon is gone
    let fh;
    try {
      fh = await open(join(bundle, 'ctl'), fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
    } catch (e) {
      throw new NotFoundError(`container control file unavailable: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    try {
      await fh.write(msg);
    } finally {
      await fh.close();
    }
  }

  /**
   * Runs a process in a running container through `conmon --exec`. With
   * `attach`, the returned session is connected before the process starts,
   * so no output is lost. Throws RuntimeStartError (127/126) when runc
   * cannot start it.
   */
  async exec(opts: ExecOptions): Promise<ExecSession> {
    const { id, execId, dir } = opts;
    const exitDir = join(dir, 'exit');
    await mkdir(exitDir, { recursive: true, mode: 0o700 });
    const specPath = join(dir, 'process.json');
    await writeFile(specPath, JSON.stringify(opts.process));
    const args = this.commonArgs(id, execId, dir, join(dir, 'pid'), opts.logPath ?? join(dir, 'exec.log'), exitDir);
    args.push('--exec', '--exec-process-spec', specPath);
    if (opts.process.terminal === true) args.push('-t');
    if (opts.stdin === true) args.push('-i');
    const attach = opts.attach === true;
    if (attach) args.push('--exec-attach');

    let session: AttachSession | undefined;
    let sync: SyncReader;
    if (attach) {
      const r = await this.spawnConmon(args, dir, true, { start: true });
      sync = r.sync as SyncReader;
      const child = r.child;
      // conmon says when the socket listens, then we connect and let the process start
      const ready = await new Promise<boolean>((resolve) => {
        const p = fd(child, 5);
        p.once('data', () => resolve(true));
        p.once('end', () => resolve(false));
        p.once('error', () => resolve(false));
      });
      if (!ready) {
        sync.close();
        throw new InternalError(`conmon exec failed before attaching: ${r.stderrNow().trim()}`);
      }
      session = await this.attach(execId);
      fd(child, 4).end(Buffer.from([0]));
      fd(child, 5).destroy();
      child.stdout?.destroy();
      child.stderr?.destroy();
    } else {
      const r = await this.spawnConmon(args, dir, true);
      if (r.sync === undefined) throw new InternalError(`conmon exec failed: ${r.stderr.trim()}`);
      sync = r.sync;
      if (r.msg !== undefined) {
        return this.finishExec(opts, sync, r.msg, undefined, exitDir);
      }
      throw new InternalError(`conmon exec failed: ${r.stderr.trim() || 'no output'}`);
    }
    const first = await sync.next();
    return this.finishExec(opts, sync, first, session, exitDir);
  }

  private async finishExec(
    opts: ExecOptions,
    sync: SyncReader,
    first: SyncMessage | undefined,
    session: AttachSession | undefined,
    exitDir: string,
  ): Promise<ExecSession> {
    if (first === undefined || first.data < 0) {
      sync.close();
      session?.close();
      if (first === undefined) throw new InternalError('conmon exec failed: no status from conmon');
      throw startError('exec', first.message ?? '', opts.process.args[0]);
    }
    const pid = first.data;
    const exit = (async (): Promise<number> => {
      const m = await sync.next();
      sync.close();
      if (m !== undefined && m.data >= 0 && m.message === undefined) return m.data;
      // fall back to the exit file conmon writes for the session
      const code = await readInt(join(exitDir, opts.id));
      if (code !== undefined) return code;
      return m !== undefined ? Math.abs(m.data) : -1;
    })();
    const out: ExecSession = { pid, exit };
    if (session !== undefined) out.attach = session;
    return out;
  }

  /** Deletes the container from runc (killing it if needed) and removes conmon's files for it. */
  async remove(id: string): Promise<void> {
    await this.runc.delete(id, true);
    await rm(join(this.exitDir, id), { force: true });
    await rm(join(this.socketDir, id), { force: true });
    this.exits.forget(id);
  }

  /** Stops watching; containers and their conmons keep running. */
  close(): void {
    this.exits.close();
  }
}
