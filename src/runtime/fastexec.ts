/**
 * Exec without runc: drives the small native helper `berth-exec`
 * (native/berth-exec.c) that joins a running container's cgroups and
 * namespaces and applies its process settings, as `runc exec` would.
 *
 * Why: `runc exec` spends most of its ~35 ms compiling the container's
 * seccomp profile again (libseccomp, in Go's `runc init`) for every exec.
 * Here each distinct profile is compiled once (by the same libseccomp, through
 * the helper) into a cached BPF program that every later exec just loads.
 *
 * Scope: attached execs of containers run by runc (`docker exec CTR cmd`,
 * `docker exec -it CTR sh`, health checks); with a TTY the helper makes the
 * pty in the container's devpts and relays it, taking resizes on fd 4.
 * Detached execs keep the conmon + runc path: they may outlive berthd.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, access } from 'node:fs/promises';
import { closeSync, constants as fsConstants } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { InternalError } from '../base/errors.js';
import { startError } from './conmon.js';
import type { OciProcess, OciRlimit } from './oci-spec.js';
import type { OciSeccomp } from './seccomp.js';
import { ALL_CAPS } from './spec.js';

/** setrlimit(2) resource numbers for OCI's RLIMIT_* names (Linux, all arches berth runs on). */
const RLIMIT: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

/** The profile in the helper's line format, with runc's rule splitting (seccomp_linux.go). */
export function seccompProfileText(p: OciSeccomp): string {
  const lines = [`default ${p.defaultAction} ${p.defaultErrnoRet ?? 1}`];
  for (const a of p.architectures ?? []) lines.push(`arch ${a.replace(/^SCMP_ARCH_/, '').toLowerCase()}`);
  for (const r of p.syscalls ?? []) {
    const errno = r.errnoRet ?? 1;
    const conds = (r.args ?? []).map((c) => `${c.index} ${c.op} ${c.value} ${c.valueTwo ?? 0}`);
    const indexes = (r.args ?? []).map((c) => c.index);
    // libseccomp cannot AND two conditions on one argument: runc adds each as its own rule (OR)
    const split = new Set(indexes).size !== indexes.length;
    for (const name of r.names) {
      if (split) for (const c of conds) lines.push(`rule ${r.action} ${errno} ${name} ${c}`);
      else lines.push([`rule ${r.action} ${errno} ${name}`, ...conds].join(' '));
    }
  }
  return lines.join('\n') + '\n';
}

/** Bitmask of capability names (bit = the kernel's number, ALL_CAPS's order). */
export function capMask(names: readonly string[] | undefined): bigint {
  let m = 0n;
  for (const n of names ?? []) {
    const i = ALL_CAPS.indexOf(n);
    if (i >= 0) m |= 1n << BigInt(i);
  }
  return m;
}

/** The cgroup.procs files of every hierarchy a process is in (v1, hybrid or v2). */
export function cgroupProcsFiles(procCgroup: string, mountinfo: string): string[] {
  const mounts: { v2: boolean; opts: Set<string>; point: string; root: string }[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    const root = pre[3];
    const point = pre[4];
    if (root === undefined || point === undefined || (post[0] !== 'cgroup' && post[0] !== 'cgroup2')) continue;
    const unescaped = point.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    mounts.push({ v2: post[0] === 'cgroup2', opts: new Set((post[2] ?? '').split(',')), point: unescaped, root });
  }
  const out: string[] = [];
  for (const line of procCgroup.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m === null) continue;
    const ctrls = (m[1] ?? '').split(',').filter((x) => x !== '');
    // a v1 hierarchy is the mount carrying all its controllers (or its name=); "0::" is v2
    const mount = mounts.find((x) => (ctrls.length === 0 ? x.v2 : !x.v2 && ctrls.every((c) => x.opts.has(c))));
    if (mount === undefined) continue;
    let path = m[2] ?? '/';
    if (mount.root !== '/' && path.startsWith(mount.root)) path = path.slice(mount.root.length);
    out.push(join(mount.point, path, 'cgroup.procs'));
  }
  return out;
}

export interface FastExecOptions {
  /** Host PID of the container's init: the namespaces and cgroups to join. */
  pid: number;
  /** The container's cgroup path (config.json's cgroupsPath): the helper refuses a PID not in it (reused after an exit). */
  cgroupPath?: string | undefined;
  process: OciProcess;
  /** The container's profile (config.json's linux.seccomp); undefined = unconfined. */
  seccomp?: OciSeccomp | undefined;
  /** The container's rlimits (config.json's process.rlimits): an exec gets them too. */
  rlimits?: readonly OciRlimit[] | undefined;
  stdin: boolean;
  /** A pty (made in the container's devpts) instead of pipes; rows/cols 0 = not known yet. */
  tty?: { rows: number; cols: number } | undefined;
}

export interface FastExecSession {
  /** Host PID of the process, once forked (rejects when the helper ended without forking). */
  readonly pid: Promise<number>;
  /** Exit code (128+signal when killed). */
  readonly exit: Promise<number>;
  readonly stdin: Writable | null;
  readonly stdout: Readable;
  /** Empty with a TTY (the pty carries both streams on stdout). */
  readonly stderr: Readable;
  /** With a TTY: sets the pty's size. */
  resize?(rows: number, cols: number): void;
}

export class ExecHelper {
  private readonly programs = new Map<string, Promise<string>>();
  /** By profile object: canRun and start of one exec share one serialisation and hash of it. */
  private readonly byProfile = new WeakMap<OciSeccomp, Promise<string>>();
  private readonly cgroups = new Map<number, Promise<string[]>>();

  constructor(
    private readonly binary: string,
    /** Where compiled seccomp programs are cached (exec-root: rebuilt after reboot). */
    private readonly cacheDir: string,
    /** pipe2(2) (base/sys): Node itself only makes socketpairs. */
    private readonly pipe: () => [number, number],
  ) {}

  /** The helper, when it was built (gcc and libseccomp's headers at build time). */
  static async find(binary: string, cacheDir: string, pipe: () => [number, number]): Promise<ExecHelper | undefined> {
    try {
      await access(binary, fsConstants.X_OK);
      return new ExecHelper(binary, cacheDir, pipe);
    } catch {
      return undefined;
    }
  }

  /** Compiled BPF for a profile: one helper run per distinct profile for the daemon's life. */
  private program(profile: OciSeccomp): Promise<string> {
    const known = this.byProfile.get(profile);
    if (known !== undefined) return known;
    const p = this.programFor(seccompProfileText(profile));
    this.byProfile.set(profile, p);
    return p;
  }

  private programFor(text: string): Promise<string> {
    const key = createHash('sha256').update(text).digest('hex');
    let p = this.programs.get(key);
    if (p === undefined) {
      p = this.compile(key, text);
      this.programs.set(key, p);
      p.catch(() => this.programs.delete(key));
    }
    return p;
  }

  private async compile(key: string, text: string): Promise<string> {
    const out = join(this.cacheDir, `${key}.bpf`);
    const ok = await access(out).then(() => true, () => false);
    if (ok) return out;
    await mkdir(this.cacheDir, { recursive: true, mode: 0o700 });
    const child = spawn(this.binary, ['compile-seccomp', out], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.stdin.end(text);
    const code = await new Promise<number>((resolve) => {
      child.once('error', () => resolve(-1));
      child.once('close', (c) => resolve(c ?? -1));
    });
    if (code !== 0) throw new InternalError(`compiling the seccomp profile failed: ${err.trim() || `exit ${code}`}`);
    return out;
  }

  /**
   * Whether this helper can run execs under `profile`: false when libseccomp
   * (through the helper) cannot compile it, e.g. an action berth-exec does not
   * know; the caller then uses runc, which reports its own error.
   */
  async canRun(profile: OciSeccomp | undefined): Promise<boolean> {
    if (profile === undefined) return true;
    return this.program(profile).then(() => true, () => false);
  }

  private cgroupFiles(pid: number): Promise<string[]> {
    let p = this.cgroups.get(pid);
    if (p === undefined) {
      p = (async () => cgroupProcsFiles(await readFile(`/proc/${pid}/cgroup`, 'utf8'), await readFile('/proc/self/mountinfo', 'utf8')))();
      this.cgroups.set(pid, p);
      p.catch(() => this.cgroups.delete(pid));
    }
    return p;
  }

  /** Forgets what was cached for a container's init process (it exited). */
  forget(pid: number): void {
    this.cgroups.delete(pid);
  }

  async start(opts: FastExecOptions): Promise<FastExecSession> {
    const proc = opts.process;
    const [bpf, cgroups] = await Promise.all([
      opts.seccomp !== undefined ? this.program(opts.seccomp) : Promise.resolve(undefined),
      this.cgroupFiles(opts.pid),
    ]);
    const args = ['run', '--pid', String(opts.pid)];
    if (opts.cgroupPath !== undefined) args.push('--expect-cgroup', opts.cgroupPath);
    for (const c of cgroups) args.push('--cgroup', c);
    args.push('--uid', String(proc.user.uid), '--gid', String(proc.user.gid));
    const groups = proc.user.additionalGids ?? [];
    if (groups.length > 0) args.push('--groups', groups.join(','));
    args.push('--cwd', proc.cwd);
    const c = proc.capabilities;
    if (c !== undefined) {
      const masks = [c.bounding, c.effective, c.permitted, c.inheritable, c.ambient].map((x) => capMask(x).toString(16));
      args.push('--caps', masks.join(','));
    }
    if (proc.noNewPrivileges === true) args.push('--nnp');
    if (bpf !== undefined) args.push('--seccomp', bpf);
    if (opts.tty !== undefined) args.push('--tty', `${opts.tty.rows},${opts.tty.cols}`);
    for (const r of opts.rlimits ?? []) {
      const n = RLIMIT[r.type];
      if (n !== undefined) args.push('--rlimit', `${n},${r.soft},${r.hard}`);
    }
    args.push('--', ...proc.args);
    const env: Record<string, string> = {};
    for (const kv of proc.env) {
      const i = kv.indexOf('=');
      if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    // real pipes for the process's stdio (see Sys.pipe); our ends wrapped as streams
    const out = this.pipe();
    const errp = this.pipe();
    const inp = opts.stdin ? this.pipe() : undefined;
    let child: ChildProcess;
    try {
      // fd 3: status lines from the helper; fd 4 (TTY): resize lines to it
      child = spawn(this.binary, args, { env, stdio: [inp !== undefined ? inp[0] : 'ignore', out[1], errp[1], 'pipe', opts.tty !== undefined ? 'pipe' : 'ignore'] });
    } finally {
      for (const fd of [out[1], errp[1], ...(inp !== undefined ? [inp[0]] : [])]) closeSync(fd);
    }
    const stdout = new Socket({ fd: out[0], readable: true, writable: false });
    const stderr = new Socket({ fd: errp[0], readable: true, writable: false });
    const stdin = inp !== undefined ? new Socket({ fd: inp[1], readable: false, writable: true }) : null;
    // Status lines on fd 3: "pid N" once forked, "err TEXT" if the process
    // could not start, "exit N" when it ended. The helper's exit closes the
    // pipe, so every line has arrived by 'close'.
    let pid: number | undefined;
    let err: string | undefined;
    let code: number | undefined;
    let onPid: (n: number) => void = () => {};
    const pidP = new Promise<number>((resolve) => (onPid = resolve));
    let buf = '';
    (child.stdio[3] as Readable).on('data', (b: Buffer) => {
      buf += b.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('pid ')) onPid((pid = Number(line.slice(4))));
        else if (line.startsWith('err ')) err = line.slice(4);
        else if (line.startsWith('exit ')) code = Number(line.slice(5));
      }
    });
    const exit = new Promise<number>((resolve, reject) => {
      child.once('error', (e) => reject(new InternalError(`exec helper: ${e.message}`)));
      child.once('close', () => {
        if (err !== undefined) reject(startError('exec', err, proc.args[0]));
        else if (pid === undefined || code === undefined) reject(new InternalError('exec helper ended without a status'));
        else resolve(code);
      });
    });
    exit.catch(() => {});
    const control = opts.tty !== undefined ? (child.stdio[4] as Writable | null) : null;
    control?.on('error', () => {}); // the helper is gone: nothing left to resize
    return {
      // a start that fails may still have forked: the PID is only as good as `exit`
      pid: Promise.race([pidP, exit.then(() => pidP)]),
      exit,
      stdin,
      stdout,
      stderr,
      ...(control !== null ? { resize: (rows: number, cols: number) => void control.write(`${rows} ${cols}\n`) } : {}),
    };
  }
}
