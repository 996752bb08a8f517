/**
 * Starts a real berthd for a test: its own data root, exec root and socket
 * in a temp dir, and a `stop()` that kills it and removes everything it
 * made (mounts under the data root included), also when the test failed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { run } from '../../src/base/exec.js';

export const ROOT = new URL('../../../', import.meta.url).pathname;
export const BERTHD = join(ROOT, 'bin/berthd');
export const BERTH = join(ROOT, 'bin/berth');
export const DOCKER = '/usr/local/bin/docker';

export interface TestDaemon {
  readonly dir: string;
  readonly socket: string;
  readonly host: string;
  readonly dataRoot: string;
  proc: ChildProcess;
  /** Output so far, for failure messages. */
  log(): string;
  /** Starts it again on the same roots (after a crash). */
  restart(): Promise<void>;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

export function api(socket: string, method: string, path: string, body?: Buffer | string): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method, path, headers: body !== undefined ? { 'content-type': 'application/json' } : {} }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString(), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function waitReady(socket: string, proc: ChildProcess, out: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`berthd exited with ${proc.exitCode}:\n${out()}`);
    if (existsSync(socket)) {
      try {
        const r = await api(socket, 'GET', '/_ping');
        if (r.status === 200) return;
      } catch {
        /* not yet */
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`berthd did not become ready:\n${out()}`);
}

export async function startDaemon(extraArgs: readonly string[] = []): Promise<TestDaemon> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-test-'));
  const socket = join(dir, 'berth.sock');
  const dataRoot = join(dir, 'data');
  let output = '';
  const spawnIt = (): ChildProcess => {
    const p = spawn(process.execPath, [BERTHD, '--data-root', dataRoot, '--exec-root', join(dir, 'run'), '-H', `unix://${socket}`, ...extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    p.stdout?.on('data', (b: Buffer) => (output += b.toString()));
    p.stderr?.on('data', (b: Buffer) => (output += b.toString()));
    return p;
  };
  const d: TestDaemon = {
    dir,
    socket,
    host: `unix://${socket}`,
    dataRoot,
    proc: spawnIt(),
    log: () => output,
    async restart() {
      d.proc = spawnIt();
      await waitReady(socket, d.proc, () => output);
    },
    async kill9() {
      if (d.proc.exitCode === null) {
        const exited = new Promise((r) => d.proc.once('exit', r));
        d.proc.kill('SIGKILL');
        await exited;
      }
    },
    async stop() {
      // Whatever a (possibly failed) test left: containers, then user networks,
      // removed through the daemon so netns, veths and firewall rules go too.
      if (d.proc.exitCode === null && d.proc.signalCode === null) await removeEverything(socket).catch(() => {});
      // And anything still under this daemon's runc root (a daemon that died).
      const runcRoot = join(dir, 'run', 'runc');
      const listed = await run('runc', ['--root', runcRoot, 'list', '-q'], { allowFailure: true });
      for (const id of listed.stdout.split('\n').filter((x) => x !== '')) await run('runc', ['--root', runcRoot, 'delete', '-f', id], { allowFailure: true });
      if (d.proc.exitCode === null && d.proc.signalCode === null) {
        const exited = new Promise((r) => d.proc.once('exit', r));
        d.proc.kill('SIGTERM');
        const t = setTimeout(() => d.proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      await unmountUnder(dir);
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitReady(socket, d.proc, () => output);
  } catch (e) {
    await d.stop();
    throw e;
  }
  return d;
}

async function removeEverything(socket: string): Promise<void> {
  const ps = await api(socket, 'GET', '/containers/json?all=1');
  if (ps.status === 200) {
    for (const c of JSON.parse(ps.body) as { Id: string }[]) await api(socket, 'DELETE', `/containers/${c.Id}?force=1&v=1`);
  }
  const nets = await api(socket, 'GET', '/networks');
  if (nets.status === 200) {
    for (const n of JSON.parse(nets.body) as { Id: string; Name: string }[]) {
      if (!['bridge', 'host', 'none'].includes(n.Name)) await api(socket, 'DELETE', `/networks/${n.Id}`);
    }
  }
}

/** Unmounts anything still mounted below `dir`, deepest first. */
export async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/mounts', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await run('umount', ['-l', m], { allowFailure: true });
}

/** Runs the real docker CLI against a daemon. */
export async function docker(host: string, args: readonly string[], input?: string | Buffer): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(DOCKER, args, { allowFailure: true, env: { ...process.env, DOCKER_HOST: host }, ...(input !== undefined ? { input } : {}) });
}

export async function berth(host: string, args: readonly string[], input?: string | Buffer): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(BERTH, args, { allowFailure: true, env: { ...process.env, DOCKER_HOST: host, BERTH_HOST: host }, ...(input !== undefined ? { input } : {}) });
}

export const dockerdSocket = '/var/run/docker.sock';
export async function dockerdAvailable(): Promise<boolean> {
  if (!existsSync(dockerdSocket)) return false;
  try {
    return (await api(dockerdSocket, 'GET', '/_ping')).status === 200;
  } catch {
    return false;
  }
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return p;
}
