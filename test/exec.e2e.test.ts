/**
 * `docker exec` end to end through berth-exec, the native helper that runs
 * attached non-TTY execs without runc (src/runtime/fastexec.ts): the same
 * commands against berthd and against the reference dockerd (runc exec)
 * must give the same output and exit codes: user, groups, HOME, working
 * directory, capabilities, no_new_privs, seccomp, rlimits, stdio pipes, stdin,
 * signals and the start errors in runc's words.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { startDaemon, docker, dockerdAvailable, dockerdSocket, ROOT, type TestDaemon } from './helpers/daemon.js';
import { busyboxLayer, writeDockerArchive } from './helpers/images.js';

let d: TestDaemon;
let tmp: string;
let ref: string | undefined;
const IMG = 'bb-exec:1';
const suffix = `${process.pid}`;
const names = [`ex-a-${suffix}`, `ex-b-${suffix}`, `ex-c-${suffix}`];

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'berth-exec-'));
  const archive = join(tmp, 'bb.tar');
  await writeDockerArchive(archive, [{ tags: [IMG], layers: [await busyboxLayer()] }]);
  d = await startDaemon();
  const hosts = [d.host];
  if (await dockerdAvailable()) {
    ref = `unix://${dockerdSocket}`;
    hosts.push(ref);
  }
  for (const h of hosts) {
    const l = await docker(h, ['load', '-i', archive]);
    assert.equal(l.code, 0, l.stderr);
    const a = await docker(h, ['run', '-d', '--name', names[0] as string, '--ulimit', 'nofile=1000:2000', '-w', '/tmp', IMG, 'sleep', '300']);
    assert.equal(a.code, 0, a.stderr);
    const b = await docker(h, ['run', '-d', '--name', names[1] as string, '--security-opt', 'no-new-privileges', '--cap-drop', 'NET_RAW', '-u', '1234:55', IMG, 'sleep', '300']);
    assert.equal(b.code, 0, b.stderr);
    const c = await docker(h, ['run', '-d', '--name', names[2] as string, '--security-opt', 'seccomp=unconfined', IMG, 'sleep', '300']);
    assert.equal(c.code, 0, c.stderr);
  }
});

after(async () => {
  for (const h of [d?.host, ref]) {
    if (h === undefined) continue;
    await docker(h, ['rm', '-f', ...names]);
  }
  if (ref !== undefined) await docker(ref, ['rmi', IMG]);
  await d?.stop();
  await rm(tmp, { recursive: true, force: true });
});

/** Runs one exec on both daemons; returns berth's result and asserts dockerd's is the same. */
async function same(args: string[], input?: string, opts: { code?: boolean } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const b = await docker(d.host, ['exec', ...args], input);
  if (ref !== undefined) {
    const r = await docker(ref, ['exec', ...args], input);
    assert.equal(b.stdout, r.stdout, `stdout of exec ${args.join(' ')}`);
    assert.equal(b.stderr, r.stderr, `stderr of exec ${args.join(' ')}`);
    if (opts.code !== false) assert.equal(b.code, r.code, `exit code of exec ${args.join(' ')}`);
  }
  return b;
}

test('the exec helper is built and is what runs attached execs', async () => {
  assert.ok(existsSync(join(ROOT, 'dist', 'berth-exec')), 'dist/berth-exec (needs gcc and libseccomp-dev at build time)');
  const initPid = (await docker(d.host, ['inspect', '-f', '{{.State.Pid}}', names[0] as string])).stdout.trim();
  const child = spawn('docker', ['exec', names[0] as string, 'sleep', '2'], { env: { ...process.env, DOCKER_HOST: d.host }, stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    let found = false;
    for (let i = 0; i < 40 && !found; i++) {
      for (const p of await readdir('/proc')) {
        if (!/^\d+$/.test(p)) continue;
        const cmd = (await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')).split('\0');
        if (cmd[0]?.endsWith('berth-exec') === true && cmd[1] === 'run' && cmd[cmd.indexOf('--pid') + 1] === initPid) found = true;
      }
      if (!found) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(found, 'a berth-exec process joined the container');
    // only the process is in the container's cgroups: top lists it, not the helper
    let top = '';
    for (let i = 0; i < 20 && !top.includes('sleep 2'); i++) top = (await docker(d.host, ['top', names[0] as string])).stdout;
    assert.match(top, /sleep 2/);
    assert.doesNotMatch(top, /berth-exec/);
  } finally {
    await exited;
  }
});

test('the helper refuses a PID that is not in the container\'s cgroup (a PID reused after the container died)', async () => {
  // this test process stands for the stranger that got the PID: the helper must not enter its namespaces
  const child = spawn(join(ROOT, 'dist', 'berth-exec'), ['run', '--pid', String(process.pid), '--expect-cgroup', '/berth/no-such-container', '--', '/bin/true'], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  let status = '';
  (child.stdio[3] as NodeJS.ReadableStream).on('data', (b: Buffer) => (status += b.toString()));
  const code = await new Promise<number | null>((r) => child.once('close', r));
  assert.equal(code, 255);
  assert.equal(status, `err container process ${process.pid} is gone\n`);
});

test('identity and environment match runc exec', async () => {
  const a = names[0] as string;
  const b = names[1] as string;
  // the test image has /etc/passwd with root's home at /root
  assert.equal((await same([a, 'sh', '-c', 'id; echo "$HOME"; pwd; umask'])).stdout, 'uid=0(root) gid=0(root) groups=0(root)\n/root\n/tmp\n0022\n');
  assert.match((await same([b, 'sh', '-c', 'id; echo "$HOME"'])).stdout, /^uid=1234 gid=55(\(\w+\))? groups=55(\(\w+\))?\n\/\n$/);
  assert.match((await same(['-u', '7:8', '-w', '/', a, 'sh', '-c', 'id; pwd'])).stdout, /^uid=7(\(\w+\))? gid=8(\(\w+\))? groups=8(\(\w+\))?\n\/\n$/);
  const env = await same(['-e', 'FOO=bar', a, 'sh', '-c', 'env | grep -v ^HOSTNAME= | sort']);
  assert.match(env.stdout, /^FOO=bar\nHOME=\/root\nPATH=/);
});

test('capabilities, no_new_privs, seccomp and rlimits are the container\'s', async () => {
  const status = "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status";
  const a = await same([names[0] as string, 'sh', '-c', status]);
  assert.match(a.stdout, /CapBnd:\t00000000a80425fb\n/);
  assert.match(a.stdout, /NoNewPrivs:\t0\nSeccomp:\t2\n$/);
  // the container's --ulimit (dockerd's runc exec is not a reference here: Go raises
  // the soft NOFILE limit to the hard one in runc itself, so it answers 1000 or 2000)
  assert.equal((await docker(d.host, ['exec', names[0] as string, 'sh', '-c', 'ulimit -n; ulimit -Hn'])).stdout, '1000\n2000\n');
  const b = await same([names[1] as string, 'sh', '-c', status]);
  assert.match(b.stdout, /CapBnd:\t00000000a80405fb\n/); // NET_RAW (13) dropped
  assert.match(b.stdout, /CapEff:\t0000000000000000\n/); // uid 1234 keeps no effective caps
  assert.match(b.stdout, /NoNewPrivs:\t1\nSeccomp:\t2\n/);
  // the default profile is really loaded: unshare(CLONE_NEWUSER) needs no capability, only
  // seccomp refuses it (Docker's profile allows unshare with CAP_SYS_ADMIN alone)
  const refused = await same([names[0] as string, 'busybox', 'unshare', '-U', 'true']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /unshare\(0x10000000\): Operation not permitted/);
  assert.equal((await same([names[2] as string, 'busybox', 'unshare', '-U', 'true'])).code, 0);
  assert.match((await same([names[2] as string, 'grep', '^Seccomp:', '/proc/self/status'])).stdout, /^Seccomp:\t0\n$/);
  // same cgroups and PID namespace as the container's init
  const cg = await docker(d.host, ['exec', names[0] as string, 'sh', '-c', 'cat /proc/self/cgroup; echo ---; cat /proc/1/cgroup']);
  const [self, init] = cg.stdout.split('---\n');
  assert.equal(self, init);
  assert.equal((await same([names[0] as string, 'cat', '/proc/1/cmdline'])).stdout, 'sleep\u0000300\u0000');
});

test('stdio is pipes, stdin is passed, signals and exit codes come back', async () => {
  const a = names[0] as string;
  assert.equal((await same([a, 'sh', '-c', 'echo out > /dev/stdout; echo err > /dev/stderr; exit 4'])).code, 4);
  assert.equal((await same(['-i', a, 'sh', '-c', 'cat; echo end'], 'piped\n')).stdout, 'piped\nend\n');
  assert.equal((await same([a, 'sh', '-c', 'kill -9 $$'])).code, 137);
  assert.equal((await same([a, 'ls', '-l', '/proc/self/fd/0'])).stdout.includes('/dev/null'), true);
});

test('-t: the process gets a pty of the container\'s devpts, output as through a terminal', async () => {
  const a = names[0] as string;
  assert.equal((await same(['-t', a, 'sh', '-c', 'echo hi; echo $TERM; tty | cut -c1-9; ls -l $(tty) | cut -c1-10'])).stdout, 'hi\r\nxterm\r\n/dev/pts/\r\ncrw--w----\r\n');
  assert.equal((await same(['-t', a, 'sh', '-c', 'exit 5'])).code, 5);
  assert.equal((await same(['-t', '-u', '7', a, 'id', '-u'])).stdout, '7\r\n');
});

test('start errors in runc\'s words, 127 for a missing command and 126 otherwise', async () => {
  const a = names[0] as string;
  const missing = await same([a, 'nosuch'], undefined, { code: false }); // dockerd 20.10 says 126; Docker 23+ 127
  assert.equal(missing.code, 127);
  assert.match(missing.stdout + missing.stderr, /exec: "nosuch": executable file not found in \$PATH/);
  assert.equal((await same([a, '/etc'])).code, 126);
  const dir = await same(['-w', '/nonexist', a, 'pwd']);
  assert.equal(dir.code, 126);
  assert.match(dir.stdout + dir.stderr, /chdir to cwd \("\/nonexist"\) set in config.json failed: no such file or directory/);
  const priv = await same(['--privileged', a, 'true']);
  assert.match(priv.stdout + priv.stderr, /unable to apply caps: operation not permitted/);
  assert.equal((await same(['-u', 'ghost-user', a, 'true'])).code, 126);
  const paused = names[0] as string;
  assert.equal((await docker(d.host, ['pause', paused])).code, 0);
  try {
    const p = await docker(d.host, ['exec', paused, 'true']);
    assert.match(p.stderr, new RegExp(`Container ${paused} is paused, unpause the container before exec`));
  } finally {
    await docker(d.host, ['unpause', paused]);
  }
});
