/**
 * Integration tests: real runc + conmon containers on a busybox rootfs.
 * Needs root. Every container, conmon and temp dir is removed in `after`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { newId } from '../base/ids.js';
import { RuntimeStartError, type AttachChunk, type AttachSession } from './conmon.js';
import { readLogs, type LogMessage } from './logs.js';
import { generateExecProcess } from './spec.js';
import { readStats } from './stats.js';
import { RuntimeTestEnv } from './testing.js';
import { resolveUser } from './user.js';

const canRun = process.getuid?.() === 0;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<never>((_, rej) => {
      t = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

/** Collects attach output until the socket ends. */
function collectOutput(s: AttachSession): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    s.output.on('data', (c: AttachChunk) => {
      if (c.stream === 1) stdout += c.data.toString();
      else stderr += c.data.toString();
    });
    s.output.on('end', () => resolve({ stdout, stderr }));
  });
}

/** Resolves once the attach output contains `needle`. */
function waitFor(s: AttachSession, needle: string | RegExp, ms = 5000): Promise<string> {
  return withTimeout(
    new Promise((resolve) => {
      let acc = '';
      const on = (c: AttachChunk): void => {
        acc += c.data.toString();
        if (typeof needle === 'string' ? acc.includes(needle) : needle.test(acc)) {
          s.output.off('data', on);
          resolve(acc);
        }
      };
      s.output.on('data', on);
    }),
    ms,
    `output ${String(needle)}`,
  );
}

async function logText(path: string): Promise<string> {
  let s = '';
  for await (const m of readLogs(path)) s += m.data.toString();
  return s;
}

describe('runtime (runc + conmon)', { skip: !canRun && 'needs root' }, () => {
  let env: RuntimeTestEnv;
  before(async () => {
    env = await RuntimeTestEnv.create();
  });
  after(async () => {
    await env?.cleanup();
  });

  const wait = (c: { id: string; bundle: string }, ms = 10000) => withTimeout(env.conmon.waitExit(c.id, c.bundle), ms, `exit of ${c.id}`);

  it('runs echo: output in the log, exit code 0', async () => {
    const c = await env.run({ Cmd: ['echo', 'hi'] });
    const ex = await wait(c);
    assert.equal(ex.exitCode, 0);
    assert.equal(ex.oomKilled, false);
    const raw = await readFile(env.logPath(c.id), 'utf8');
    assert.match(raw, /^\d{4}-\d\d-\d\dT[\d:.]+[+-]\d\d:\d\d stdout F hi$/m);
    assert.equal(await logText(env.logPath(c.id)), 'hi\n');
  });

  it('reports the exit code of sh -c "exit 3"', async () => {
    const c = await env.run({ Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'] });
    assert.equal((await wait(c)).exitCode, 3);
    const msgs: LogMessage[] = [];
    for await (const m of readLogs(env.logPath(c.id))) msgs.push(m);
    assert.deepEqual(
      msgs.map((m) => [m.stream, m.data.toString()]),
      [
        ['stdout', 'out\n'],
        ['stderr', 'err\n'],
      ],
    );
  });

  it('fails a missing binary with Docker\'s message and 127', async () => {
    await assert.rejects(env.run({ Cmd: ['nosuch'] }), (e: unknown) => {
      assert.ok(e instanceof RuntimeStartError);
      assert.equal(e.exitCode, 127);
      assert.equal(e.kind, 'invalid-argument');
      assert.match(e.message, /^OCI runtime create failed: .*exec: "nosuch": executable file not found in \$PATH: unknown$/);
      return true;
    });
  });

  it('fails a non-executable file with 126', async () => {
    await assert.rejects(env.run({ Cmd: ['/etc/passwd'] }), (e: unknown) => {
      assert.ok(e instanceof RuntimeStartError);
      assert.equal(e.exitCode, 126, e.message);
      assert.match(e.message, /permission denied/);
      return true;
    });
  });

  it('gives 143 for a process killed by SIGTERM (with --init) and 137 for SIGKILL', async () => {
    const c = await env.run({ Cmd: ['sleep', '100'], HostConfig: { Init: true } }, { extra: { initBinary: '/usr/bin/tini-static' } });
    assert.deepEqual(c.oci.process.args.slice(0, 2), ['/dev/init', '--']);
    await env.runc.kill(c.id, 'TERM');
    assert.equal((await wait(c)).exitCode, 143);

    // pid 1 without a handler ignores TERM (as under Docker); KILL always works
    const d = await env.run({ Cmd: ['sleep', '100'] });
    await env.runc.kill(d.id, 'KILL');
    assert.equal((await wait(d)).exitCode, 137);
  });

  it('passes stdin through the attach socket (cat)', async () => {
    const c = await env.create({ Cmd: ['cat'], OpenStdin: true, StdinOnce: true });
    const s = await env.conmon.attach(c.id);
    try {
      const out = collectOutput(s);
      await env.conmon.start(c.id);
      s.stdin.write('hello\n');
      s.stdin.write(Buffer.alloc(20000, 'x'));
      s.stdin.end('\n');
      const { stdout } = await withTimeout(out, 10000, 'cat output');
      assert.equal(stdout, 'hello\n' + 'x'.repeat(20000) + '\n');
      assert.equal((await wait(c)).exitCode, 0);
    } finally {
      s.close();
    }
  });

  it('runs an interactive tty shell over attach, with resize', async () => {
    const c = await env.create({ Cmd: ['sh'], Tty: true, OpenStdin: true, StdinOnce: true });
    const s = await env.conmon.attach(c.id);
    try {
      await env.conmon.start(c.id);
      await env.conmon.resize(c.bundle, 30, 100);
      s.stdin.write('echo $((6*7)); tty; stty size\n');
      const seen = await waitFor(s, /30 100/);
      assert.match(seen, /42\r?\n/);
      assert.match(seen, /\/dev\/pts\/0/);
      s.stdin.write('exit 4\n');
      assert.equal((await wait(c)).exitCode, 4);
      assert.ok(c.oci.process.env.includes('TERM=xterm'));
    } finally {
      s.close();
    }
  });

  it('execs in a running container: output, exit codes, user, missing binary', async () => {
    const c = await env.run({ Cmd: ['sleep', '100'] });
    const dir = (n: string): string => join(c.bundle, 'exec', n);

    const e1 = newId();
    const s1 = await env.conmon.exec({ id: c.id, execId: e1, dir: dir(e1.slice(0, 8)), attach: true, process: generateExecProcess(c.oci, { Cmd: ['id', '-u'] }) });
    const out1 = collectOutput(s1.attach as AttachSession);
    assert.ok(s1.pid > 0);
    assert.equal(await withTimeout(s1.exit, 10000, 'exec exit'), 0);
    assert.equal((await withTimeout(out1, 5000, 'exec output')).stdout, '0\n');

    const e2 = newId();
    const user = await resolveUser(env.rootfs, 'app');
    const s2 = await env.conmon.exec({
      id: c.id, execId: e2, dir: dir(e2.slice(0, 8)), attach: true,
      process: generateExecProcess(c.oci, { Cmd: ['sh', '-c', 'id -u; echo oops >&2; exit 5'], user }),
    });
    const out2 = collectOutput(s2.attach as AttachSession);
    assert.equal(await withTimeout(s2.exit, 10000, 'exec exit'), 5);
    assert.deepEqual(await withTimeout(out2, 5000, 'exec output'), { stdout: '1000\n', stderr: 'oops\n' });

    // detached exec: output only in its log
    const e3 = newId();
    const s3 = await env.conmon.exec({ id: c.id, execId: e3, dir: dir(e3.slice(0, 8)), process: generateExecProcess(c.oci, { Cmd: ['echo', 'detached'] }) });
    assert.equal(await withTimeout(s3.exit, 10000, 'exec exit'), 0);
    assert.equal(await logText(join(dir(e3.slice(0, 8)), 'exec.log')), 'detached\n');

    // exec -i: stdin through the session's socket, closed by end()
    const e5 = newId();
    const s5 = await env.conmon.exec({ id: c.id, execId: e5, dir: dir(e5.slice(0, 8)), attach: true, stdin: true, process: generateExecProcess(c.oci, { Cmd: ['cat'] }) });
    const out5 = collectOutput(s5.attach as AttachSession);
    s5.attach?.stdin.end('piped\n');
    assert.equal(await withTimeout(s5.exit, 10000, 'exec cat exit'), 0);
    assert.equal((await withTimeout(out5, 5000, 'exec cat output')).stdout, 'piped\n');

    // exec -t: a terminal of its own
    const e6 = newId();
    const s6 = await env.conmon.exec({ id: c.id, execId: e6, dir: dir(e6.slice(0, 8)), attach: true, stdin: true, process: generateExecProcess(c.oci, { Cmd: ['sh'], Tty: true }) });
    const a6 = s6.attach as AttachSession;
    a6.stdin.write('tty; exit 3\n');
    assert.match(await waitFor(a6, /\/dev\/pts\/\d/), /\/dev\/pts\/\d/);
    assert.equal(await withTimeout(s6.exit, 10000, 'exec tty exit'), 3);
    a6.close();

    const e4 = newId();
    await assert.rejects(
      env.conmon.exec({ id: c.id, execId: e4, dir: dir(e4.slice(0, 8)), attach: true, process: generateExecProcess(c.oci, { Cmd: ['nosuch'] }) }),
      (e: unknown) => {
        assert.ok(e instanceof RuntimeStartError);
        assert.equal(e.exitCode, 127);
        assert.match(e.message, /^OCI runtime exec failed: .*"nosuch".*: unknown$/);
        return true;
      },
    );
    const e7 = newId();
    await assert.rejects(
      env.conmon.exec({ id: c.id, execId: e7, dir: dir(e7.slice(0, 8)), process: generateExecProcess(c.oci, { Cmd: ['/etc/passwd'] }) }),
      (e: unknown) => e instanceof RuntimeStartError && e.exitCode === 126 && /permission denied/.test(e.message),
    );
    await env.runc.kill(c.id, 'KILL');
    await wait(c);
  });

  it('detects an OOM kill under --memory 32m', { timeout: 60000 }, async () => {
    const c = await env.run({
      Cmd: ['sh', '-c', 'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo ${#x}'],
      HostConfig: { Memory: 32 * 1024 * 1024, MemorySwap: 32 * 1024 * 1024 },
    });
    const ex = await wait(c, 45000);
    assert.equal(ex.oomKilled, true, `exit ${ex.exitCode}`);
    assert.notEqual(ex.exitCode, 0);
  });

  it('stops a fork loop at the pids limit', { timeout: 30000 }, async () => {
    const c = await env.run({
      Cmd: ['sh', '-c', 'n=0; for i in $(seq 1 40); do sleep 3 & n=$((n+1)); done; wait; echo started $n'],
      HostConfig: { PidsLimit: 10 },
    });
    assert.equal(c.oci.linux.resources?.pids?.limit, 10);
    await wait(c, 20000);
    assert.match(await logText(env.logPath(c.id)), /can't fork|Resource temporarily unavailable/);
  });

  it('refuses writes to a read-only root', async () => {
    const c = await env.run({ Cmd: ['sh', '-c', 'touch /x || exit 7; exit 0'], HostConfig: { ReadonlyRootfs: true } });
    assert.equal((await wait(c)).exitCode, 7);
    assert.match(await logText(env.logPath(c.id)), /Read-only file system/);
  });

  it('applies CapDrop (chown fails without CHOWN)', async () => {
    const ok = await env.run({ Cmd: ['chown', '1000', '/tmp'] });
    assert.equal((await wait(ok)).exitCode, 0);
    const c = await env.run({ Cmd: ['chown', '1000', '/tmp'], HostConfig: { CapDrop: ['chown'] } });
    assert.equal((await wait(c)).exitCode, 1);
    assert.match(await logText(env.logPath(c.id)), /Operation not permitted/);
  });

  it('runs as the requested user', async () => {
    const c = await env.run({ Cmd: ['id'], User: '1000:1000' });
    assert.equal((await wait(c)).exitCode, 0);
    assert.match(await logText(env.logPath(c.id)), /^uid=1000\(app\) gid=1000\(app\)/);
    const d = await env.run({ Cmd: ['id'], User: 'app' });
    await wait(d);
    assert.match(await logText(env.logPath(d.id)), /^uid=1000\(app\) gid=1000\(app\) groups=.*50\(staff\)/);
  });

  it('reads logs: tail, partial lines, follow until exit', async () => {
    const c = await env.run({ Cmd: ['sh', '-c', 'for i in 1 2 3 4 5; do echo line$i; done; printf partial'] });
    await wait(c);
    const all: string[] = [];
    for await (const m of readLogs(env.logPath(c.id))) all.push(m.data.toString());
    assert.deepEqual(all, ['line1\n', 'line2\n', 'line3\n', 'line4\n', 'line5\n', 'partial']);
    const tail: string[] = [];
    for await (const m of readLogs(env.logPath(c.id), { tail: 2 })) tail.push(m.data.toString());
    assert.deepEqual(tail, ['line5\n', 'partial']);

    const f = await env.create({ Cmd: ['sh', '-c', 'echo a; sleep 1; echo b'] });
    const exit = env.conmon.waitExit(f.id, f.bundle);
    await env.conmon.start(f.id);
    const got: string[] = [];
    await withTimeout(
      (async () => {
        for await (const m of readLogs(env.logPath(f.id), { follow: true, stopWhen: exit })) got.push(m.data.toString());
      })(),
      10000,
      'follow',
    );
    assert.deepEqual(got, ['a\n', 'b\n']);
  });

  it('keeps the log under --log-size-max (conmon replaces the file)', async () => {
    const c = await env.create({ Cmd: ['sh', '-c', 'for i in $(seq 1 400); do echo line-$i; done'] }, { logSizeMax: 4096 });
    await env.conmon.start(c.id);
    await wait(c);
    const { size } = await (await import('node:fs/promises')).stat(env.logPath(c.id));
    assert.ok(size <= 4096, `log is ${size} bytes`);
    const text = await logText(env.logPath(c.id));
    assert.match(text, /line-400\n$/);
    assert.doesNotMatch(text, /^line-1\n/);
  });

  it('reads cgroup stats of a running container', async () => {
    const c = await env.run({ Cmd: ['sleep', '100'], HostConfig: { Memory: 64 * 1024 * 1024 } });
    const s = await readStats({ cgroupPath: c.oci.linux.cgroupsPath as string, id: c.id, name: '/t' });
    assert.equal(s.pids_stats.current, 1);
    assert.ok((s.memory_stats.usage ?? 0) > 0);
    assert.equal(s.memory_stats.limit, 64 * 1024 * 1024);
    assert.ok(s.cpu_stats.cpu_usage.total_usage > 0);
    assert.ok(s.cpu_stats.system_cpu_usage > 0);
    assert.deepEqual(await env.runc.ps(c.id), [c.pid]);
    await env.runc.pause(c.id);
    assert.equal((await env.runc.state(c.id)).status, 'paused');
    await env.runc.resume(c.id);
    await env.runc.update(c.id, { memory: { limit: 128 * 1024 * 1024, swap: 256 * 1024 * 1024 } });
    const s2 = await readStats({ cgroupPath: c.oci.linux.cgroupsPath as string, id: c.id, name: '/t', previous: s });
    assert.equal(s2.memory_stats.limit, 128 * 1024 * 1024);
    assert.equal(s2.preread, s.read);
    await env.runc.kill(c.id, 'KILL');
    await wait(c);
  });

  it('keeps a container running after its creator process is gone', { timeout: 30000 }, async () => {
    // a separate node process plays berthd: creates and starts, then exits
    const here = fileURLToPath(new URL('.', import.meta.url));
    const script = join(env.dir, 'creator.mjs');
    const id = newId();
    await writeFile(
      script,
      `import { Conmon } from ${JSON.stringify(join(here, 'conmon.js'))};
import { Runc } from ${JSON.stringify(join(here, 'runc.js'))};
import { silentLogger } from ${JSON.stringify(join(here, '../base/log.js'))};
const spec = JSON.parse(process.argv[2]);
const runc = new Runc({ root: ${JSON.stringify(env.runc.root)} });
const c = new Conmon({ runc, stateDir: ${JSON.stringify(env.conmon.stateDir)}, log: silentLogger });
const r = await c.create({ id: ${JSON.stringify(id)}, bundle: ${JSON.stringify(env.bundle(id))}, spec, logPath: ${JSON.stringify(env.logPath(id))} });
await c.start(${JSON.stringify(id)});
console.log(JSON.stringify(r));
`,
    );
    const oci = await env.spec(id, { Cmd: ['sleep', '60'] });
    env.track(id);
    const child = spawn(process.execPath, [script, JSON.stringify(oci)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    assert.equal(code, 0);
    const created = JSON.parse(out) as { pid: number; conmonPid: number };
    // the creator is dead; the container and its conmon are not
    assert.equal((await env.runc.state(id)).status, 'running');
    process.kill(created.conmonPid, 0);
    const stat = await readFile(`/proc/${created.conmonPid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    assert.notEqual(ppid, child.pid);
    assert.notEqual(ppid, process.pid);
    // and it still reports the exit through the exit file
    await env.runc.kill(id, 'KILL');
    assert.equal((await withTimeout(env.conmon.waitExit(id, env.bundle(id)), 10000, 'exit')).exitCode, 137);
  });

  it('times run echo against bare runc run', async (t) => {
    const rounds = 5;
    let ours = 0;
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      const c = await env.run({ Cmd: ['echo', 'hi'] });
      await wait(c);
      ours += performance.now() - t0;
    }
    // bare: runc run with the same config, no conmon
    const id = newId();
    const oci = await env.spec(id, { Cmd: ['echo', 'hi'] });
    const bundle = env.bundle(id);
    const { mkdir } = await import('node:fs/promises');
    await mkdir(bundle, { recursive: true });
    await writeFile(join(bundle, 'config.json'), JSON.stringify(oci));
    let bare = 0;
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      await new Promise<void>((resolve, reject) => {
        const p = spawn(env.runc.binary, env.runc.args('run', '--bundle', bundle, `${id}-${i}`), { stdio: 'ignore' });
        p.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`runc run exit ${c}`))));
      });
      bare += performance.now() - t0;
    }
    t.diagnostic(`run echo via conmon: ${(ours / rounds).toFixed(1)} ms; bare runc run: ${(bare / rounds).toFixed(1)} ms`);
  });
});
