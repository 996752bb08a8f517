/**
 * Issue 3 end to end: real runc containers under conmon, driven by the real
 * docker CLI 28, dockerode and testcontainers against a test berthd.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createRequire } from 'node:module';
import { run } from '../src/base/exec.js';
import { startDaemon, docker, type TestDaemon } from './helpers/daemon.js';
import { busyboxLayer, writeDockerArchive } from './helpers/images.js';

let d: TestDaemon;
let tmp: string;
const IMG = 'bb-ctr:1';

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'berth-ctr-'));
  const archive = join(tmp, 'bb.tar');
  await writeDockerArchive(archive, [{ tags: [IMG], layers: [await busyboxLayer()] }]);
  d = await startDaemon();
  const l = await docker(d.host, ['load', '-i', archive]);
  assert.equal(l.code, 0, l.stderr);
});

after(async () => {
  if (d !== undefined) {
    const ids = (await docker(d.host, ['ps', '-aq'])).stdout.trim().split('\n').filter((x) => x !== '');
    if (ids.length > 0) await docker(d.host, ['rm', '-f', ...ids]);
    await d.stop();
  }
  await run('tmux', ['kill-session', '-t', 'berth-e2e-it'], { allowFailure: true });
  await rm(tmp, { recursive: true, force: true });
});

test('run --rm: output, exit codes 0, 3, 127, 126 as Docker', async () => {
  const a = await docker(d.host, ['run', '--rm', IMG, 'echo', 'hello']);
  assert.equal(a.stdout, 'hello\n');
  assert.equal(a.code, 0);
  const b = await docker(d.host, ['run', '--rm', IMG, 'sh', '-c', 'echo err >&2; exit 3']);
  assert.equal(b.code, 3);
  assert.equal(b.stderr, 'err\n');
  const c = await docker(d.host, ['run', '--rm', IMG, 'nosuch']);
  assert.equal(c.code, 127);
  assert.match(c.stderr, /executable file not found in \$PATH/);
  const e = await docker(d.host, ['run', '--rm', IMG, '/etc/passwd']);
  assert.equal(e.code, 126);
  // Nothing left behind by --rm, even for the failures.
  assert.equal((await docker(d.host, ['ps', '-aq'])).stdout.trim(), '');
});

test('stdin piping and env, workdir, user', async () => {
  const a = await docker(d.host, ['run', '-i', '--rm', IMG, 'cat'], 'piped\n');
  assert.equal(a.stdout, 'piped\n');
  const b = await docker(d.host, ['run', '--rm', '-e', 'A=1', '-w', '/work/dir', '-u', 'app', IMG, 'sh', '-c', 'echo $A $(pwd) $(id -u):$(id -g)']);
  assert.equal(b.stdout, '1 /work/dir 1000:1000\n');
  const h = await docker(d.host, ['run', '--rm', '--hostname', 'hn1', IMG, 'hostname']);
  assert.equal(h.stdout, 'hn1\n');
});

test('run -d, ps, logs, exec, top, stop, restart, pause, rename, wait, rm', async () => {
  const r = await docker(d.host, ['run', '-d', '--name', 'web', IMG, 'sh', '-c', 'echo started; trap "exit 0" TERM; while true; do sleep 0.2; done']);
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  const ps = await docker(d.host, ['ps', '--format', '{{.ID}} {{.Names}} {{.Status}}']);
  assert.match(ps.stdout, new RegExp(`^${id.slice(0, 12)} web Up `, 'm'));
  for (let i = 0; i < 50 && !(await docker(d.host, ['logs', 'web'])).stdout.includes('started'); i++) await new Promise((x) => setTimeout(x, 100));
  assert.equal((await docker(d.host, ['logs', 'web'])).stdout, 'started\n');
  const ex = await docker(d.host, ['exec', 'web', 'sh', '-c', 'echo in-exec; exit 4']);
  assert.equal(ex.stdout, 'in-exec\n');
  assert.equal(ex.code, 4);
  const exMissing = await docker(d.host, ['exec', 'web', 'nosuch']);
  assert.equal(exMissing.code, 127);
  const top = await docker(d.host, ['top', 'web']);
  assert.match(top.stdout, /PID/);
  assert.match(top.stdout, /sleep|sh -c/);
  assert.equal((await docker(d.host, ['pause', 'web'])).code, 0);
  assert.equal((await docker(d.host, ['inspect', '-f', '{{.State.Status}}', 'web'])).stdout.trim(), 'paused');
  assert.equal((await docker(d.host, ['unpause', 'web'])).code, 0);
  assert.equal((await docker(d.host, ['rename', 'web', 'web2'])).code, 0);
  const st = await docker(d.host, ['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', 'web2']);
  assert.match(st.stdout, /^web2 [1-9]/);
  assert.equal((await docker(d.host, ['stop', '-t', '5', 'web2'])).code, 0);
  assert.equal((await docker(d.host, ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'web2'])).stdout.trim(), 'exited 0');
  assert.equal((await docker(d.host, ['restart', '-t', '1', 'web2'])).code, 0);
  assert.equal((await docker(d.host, ['inspect', '-f', '{{.State.Running}}', 'web2'])).stdout.trim(), 'true');
  const rmRunning = await docker(d.host, ['rm', 'web2']);
  assert.notEqual(rmRunning.code, 0);
  assert.match(rmRunning.stderr, /You cannot remove a running container/);
  const kill = await docker(d.host, ['kill', 'web2']);
  assert.equal(kill.code, 0);
  const w = await docker(d.host, ['wait', 'web2']);
  assert.equal(w.stdout.trim(), '137');
  assert.equal((await docker(d.host, ['rm', 'web2'])).code, 0);
  const missing = await docker(d.host, ['inspect', 'web2']);
  assert.match(missing.stderr, /No such object: web2/);
  const dup1 = await docker(d.host, ['create', '--name', 'dup', IMG, 'true']);
  assert.equal(dup1.code, 0);
  const dup2 = await docker(d.host, ['create', '--name', 'dup', IMG, 'true']);
  assert.match(dup2.stderr, /Conflict. The container name "\/dup" is already in use/);
  await docker(d.host, ['rm', 'dup']);
});

test('run -it in a real terminal (tmux)', async () => {
  await run('tmux', ['new-session', '-d', '-s', 'berth-e2e-it', '-x', '100', '-y', '30', `DOCKER_HOST=${d.host} /usr/local/bin/docker run -it --rm ${IMG} sh; echo "exit=$?"; sleep 30`]);
  await new Promise((r) => setTimeout(r, 1500));
  await run('tmux', ['send-keys', '-t', 'berth-e2e-it', 'echo $((6*7)); tty', 'Enter']);
  await new Promise((r) => setTimeout(r, 800));
  await run('tmux', ['send-keys', '-t', 'berth-e2e-it', 'exit 5', 'Enter']);
  let screen = '';
  for (let i = 0; i < 30 && !screen.includes('exit='); i++) {
    await new Promise((r) => setTimeout(r, 200));
    screen = (await run('tmux', ['capture-pane', '-t', 'berth-e2e-it', '-p'])).stdout;
  }
  assert.match(screen, /^42$/m);
  assert.match(screen, /\/dev\/pts\/0/);
  assert.match(screen, /exit=5/);
});

test('limits and isolation: OOM, pids, read-only, capabilities', async () => {
  const oom = await docker(d.host, ['run', '--name', 'oom', '--memory', '32m', '--memory-swap', '32m', IMG, 'sh', '-c', 'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo done']);
  assert.equal(oom.code, 137);
  assert.equal((await docker(d.host, ['inspect', '-f', '{{.State.OOMKilled}}', 'oom'])).stdout.trim(), 'true');
  await docker(d.host, ['rm', 'oom']);
  // A fork loop hits the pids limit: the shell cannot fork and says so.
  const pids = await docker(d.host, ['run', '--rm', '--pids-limit', '10', IMG, 'sh', '-c', 'i=0; while [ $i -lt 40 ]; do sleep 3 & i=$((i+1)); done; echo loop-done']);
  assert.match(pids.stderr, /can't fork: Resource temporarily unavailable/);
  assert.doesNotMatch(pids.stdout, /loop-done/);
  const unlimited = await docker(d.host, ['run', '--rm', IMG, 'sh', '-c', 'i=0; while [ $i -lt 40 ]; do sleep 1 & i=$((i+1)); done; echo loop-done']);
  assert.match(unlimited.stdout, /loop-done/);
  const ro = await docker(d.host, ['run', '--rm', '--read-only', IMG, 'touch', '/x']);
  assert.notEqual(ro.code, 0);
  assert.match(ro.stderr, /Read-only file system/);
  const cap = await docker(d.host, ['run', '--rm', '--cap-drop', 'CHOWN', IMG, 'chown', '1000', '/tmp']);
  assert.notEqual(cap.code, 0);
  const capOk = await docker(d.host, ['run', '--rm', IMG, 'chown', '1000', '/tmp']);
  assert.equal(capOk.code, 0, capOk.stderr);
  const tmpfs = await docker(d.host, ['run', '--rm', '--tmpfs', '/run', IMG, 'sh', '-c', 'grep " /run " /proc/mounts']);
  assert.match(tmpfs.stdout, /tmpfs/);
});

test('options: --ulimit, --sysctl, --device, --init, health checks, restart on-failure', async () => {
  const ul = await docker(d.host, ['run', '--rm', '--ulimit', 'nofile=1024:2048', IMG, 'sh', '-c', 'ulimit -n; ulimit -Hn']);
  assert.equal(ul.stdout, '1024\n2048\n', ul.stderr);
  const sc = await docker(d.host, ['run', '--rm', '--sysctl', 'net.ipv4.ip_forward=1', IMG, 'cat', '/proc/sys/net/ipv4/ip_forward']);
  assert.equal(sc.stdout, '1\n', sc.stderr);
  const dev = await docker(d.host, ['run', '--rm', '--device', '/dev/null:/dev/xnull', IMG, 'sh', '-c', 'echo hi > /dev/xnull && stat -c %t:%T /dev/xnull']);
  assert.equal(dev.stdout, '1:3\n', dev.stderr);
  const init = await docker(d.host, ['run', '--rm', '--init', IMG, 'sh', '-c', 'tr "\\0" " " < /proc/1/cmdline']);
  assert.match(init.stdout, /^\/dev\/init -- sh -c/, init.stderr);
  const h = await docker(d.host, ['run', '-d', '--name', 'hc', '--health-cmd', 'test -e /tmp/ok', '--health-interval', '200ms', '--health-retries', '2', IMG, 'sleep', '60']);
  assert.equal(h.code, 0, h.stderr);
  const status = async (): Promise<string> => (await docker(d.host, ['inspect', '-f', '{{.State.Health.Status}}', 'hc'])).stdout.trim();
  for (let i = 0; i < 30 && (await status()) !== 'unhealthy'; i++) await new Promise((r) => setTimeout(r, 200));
  assert.equal(await status(), 'unhealthy');
  await docker(d.host, ['exec', 'hc', 'touch', '/tmp/ok']);
  for (let i = 0; i < 30 && (await status()) !== 'healthy'; i++) await new Promise((r) => setTimeout(r, 200));
  assert.equal(await status(), 'healthy');
  await docker(d.host, ['rm', '-f', 'hc']);
  const rs = await docker(d.host, ['run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', IMG, 'sh', '-c', 'exit 1']);
  assert.equal(rs.code, 0, rs.stderr);
  const info = async (): Promise<string> => (await docker(d.host, ['inspect', '-f', '{{.RestartCount}} {{.State.Status}}', 'flaky'])).stdout.trim();
  for (let i = 0; i < 50 && (await info()) !== '2 exited'; i++) await new Promise((r) => setTimeout(r, 200));
  assert.equal(await info(), '2 exited');
  await docker(d.host, ['rm', '-f', 'flaky']);
});

test('berthd killed with -9: containers keep running, state and exits are recovered', async () => {
  const a = (await docker(d.host, ['run', '-d', '--name', 'survivor', IMG, 'sleep', '300'])).stdout.trim();
  await docker(d.host, ['run', '-d', '--name', 'quitter', IMG, 'sh', '-c', 'sleep 1; exit 7']);
  const pid = (await docker(d.host, ['inspect', '-f', '{{.State.Pid}}', a])).stdout.trim();
  await d.kill9();
  await new Promise((r) => setTimeout(r, 2500));
  await d.restart();
  assert.equal((await docker(d.host, ['inspect', '-f', '{{.State.Pid}} {{.State.Status}}', 'survivor'])).stdout.trim(), `${pid} running`);
  assert.equal((await docker(d.host, ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'quitter'])).stdout.trim(), 'exited 7');
  const ex = await docker(d.host, ['exec', 'survivor', 'echo', 'still-here']);
  assert.equal(ex.stdout, 'still-here\n');
  assert.equal((await docker(d.host, ['rm', '-f', 'survivor', 'quitter'])).code, 0);
});

test('dockerode: create, start, attach, wait, logs', async () => {
  const require = createRequire(import.meta.url);
  const Docker = require('dockerode') as new (o: { socketPath: string }) => {
    createContainer(o: object): Promise<{ id: string; start(): Promise<unknown>; wait(): Promise<{ StatusCode: number }>; logs(o: object): Promise<Buffer>; remove(): Promise<unknown> }>;
    run(img: string, cmd: string[], streams: NodeJS.WritableStream[], opts: object): Promise<[{ StatusCode: number }, { remove(): Promise<unknown> }]>;
  };
  const dd = new Docker({ socketPath: d.socket });
  const c = await dd.createContainer({ Image: IMG, Cmd: ['sh', '-c', 'echo out-line; echo err-line >&2; exit 4'] });
  await c.start();
  const w = await c.wait();
  assert.equal(w.StatusCode, 4);
  const logs = await c.logs({ stdout: true, stderr: true });
  // stdcopy frames: stdout "out-line\n" then stderr "err-line\n"
  assert.deepEqual([...logs.subarray(0, 8)], [1, 0, 0, 0, 0, 0, 0, 9]);
  assert.equal(logs.subarray(8, 17).toString(), 'out-line\n');
  await c.remove();
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (b: Buffer) => (o += b.toString()));
  err.on('data', (b: Buffer) => (e += b.toString()));
  const [res, cont] = await dd.run(IMG, ['sh', '-c', 'echo run-out; echo run-err >&2'], [out, err], { Tty: false });
  assert.equal(res.StatusCode, 0);
  assert.equal(o, 'run-out\n');
  assert.equal(e, 'run-err\n');
  await cont.remove();
});

test('testcontainers 11: a GenericContainer starts, execs and stops', async () => {
  process.env['DOCKER_HOST'] = d.host;
  process.env['TESTCONTAINERS_RYUK_DISABLED'] = 'true';
  process.env['TESTCONTAINERS_HOST_OVERRIDE'] = 'localhost';
  const { GenericContainer } = (await import('testcontainers')) as typeof import('testcontainers');
  const c = await new GenericContainer(IMG).withCommand(['sleep', '30']).start();
  const r = await c.exec(['echo', 'exec-out']);
  assert.equal(r.output, 'exec-out\n');
  assert.equal(r.exitCode, 0);
  await c.stop();
});
