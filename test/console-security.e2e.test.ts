/**
 * Two issue-3 behaviours only a real client in a real terminal, or a real
 * kernel filter, can show: the docker CLI's detach keys (ctrl-p ctrl-q, and
 * --detach-keys on attach) against berthd, and `--security-opt seccomp=FILE`
 * (a profile of the user's own, applied to the container and to its execs)
 * and `seccomp=unconfined`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/base/exec.js';
import { startDaemon, docker, type TestDaemon } from './helpers/daemon.js';
import { loadBusybox } from './helpers/images.js';

let d: TestDaemon;
let tmp: string;
const IMG = 'bb-console:1';
const SESSION = `berth-e2e-detach-${process.pid}`;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'berth-console-'));
  d = await startDaemon();
  await loadBusybox(d.host, IMG);
});

after(async () => {
  await run('tmux', ['kill-session', '-t', SESSION], { allowFailure: true });
  await d?.stop();
  await rm(tmp, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function screenUntil(re: RegExp, ms = 10000): Promise<string> {
  let screen = '';
  for (let t = 0; t < ms && !re.test(screen); t += 200) {
    await sleep(200);
    screen = (await run('tmux', ['capture-pane', '-t', SESSION, '-p'])).stdout;
  }
  return screen;
}

test('detach keys through the docker CLI: ctrl-p ctrl-q on run -it, --detach-keys on attach', async () => {
  const name = `detach-${process.pid}`;
  try {
    await run('tmux', ['new-session', '-d', '-s', SESSION, '-x', '100', '-y', '30', `DOCKER_HOST=${d.host} /usr/local/bin/docker run -it --name ${name} ${IMG} sh; echo "exit=$?"; sleep 60`]);
    assert.match(await screenUntil(/^\/ #/m), /^\/ #/m);
    await run('tmux', ['send-keys', '-t', SESSION, 'echo $((6*7))', 'Enter']);
    assert.match(await screenUntil(/^42$/m), /^42$/m);
    await run('tmux', ['send-keys', '-t', SESSION, 'C-p', 'C-q']);
    assert.match(await screenUntil(/exit=\d+/), /exit=0/);
    assert.equal((await docker(d.host, ['inspect', '-f', '{{.State.Status}}', name])).stdout.trim(), 'running');
    await run('tmux', ['kill-session', '-t', SESSION]);

    await run('tmux', ['new-session', '-d', '-s', SESSION, '-x', '100', '-y', '30', `DOCKER_HOST=${d.host} /usr/local/bin/docker attach --detach-keys ctrl-x,x ${name}; echo "exit=$?"; sleep 60`]);
    // typed until the attach is live: the shell answers once it is
    let screen = '';
    for (let i = 0; i < 20 && !/^again$/m.test(screen); i++) {
      await run('tmux', ['send-keys', '-t', SESSION, 'echo again', 'Enter']);
      screen = await screenUntil(/^again$/m, 1000);
    }
    assert.match(screen, /^again$/m);
    await run('tmux', ['send-keys', '-t', SESSION, 'C-x', 'x']);
    screen = await screenUntil(/exit=\d+/);
    assert.match(screen, /read escape sequence/);
    assert.match(screen, /exit=1/);
    assert.equal((await docker(d.host, ['inspect', '-f', '{{.State.Status}}', name])).stdout.trim(), 'running');
  } finally {
    await run('tmux', ['kill-session', '-t', SESSION], { allowFailure: true });
    await docker(d.host, ['rm', '-f', name]);
  }
});

test('docker exec -it in a real terminal: a shell, its tty, the terminal\'s size as it changes, the exit code', async () => {
  const name = `exec-it-${process.pid}`;
  try {
    assert.equal((await docker(d.host, ['run', '-d', '--name', name, IMG, 'sleep', '300'])).code, 0);
    await run('tmux', ['new-session', '-d', '-s', SESSION, '-x', '120', '-y', '40', `DOCKER_HOST=${d.host} /usr/local/bin/docker exec -it ${name} sh; echo "exit=$?"; sleep 60`]);
    assert.match(await screenUntil(/^\/ #/m), /^\/ #/m);
    await run('tmux', ['send-keys', '-t', SESSION, 'stty size; tty', 'Enter']);
    assert.match(await screenUntil(/^40 120$/m), /^40 120\n\/dev\/pts\/\d+$/m);
    await run('tmux', ['resize-window', '-t', SESSION, '-x', '90', '-y', '25']);
    await sleep(300);
    await run('tmux', ['send-keys', '-t', SESSION, 'stty size', 'Enter']);
    assert.match(await screenUntil(/^25 90$/m), /^25 90$/m);
    await run('tmux', ['send-keys', '-t', SESSION, 'exit 7', 'Enter']);
    assert.match(await screenUntil(/exit=\d+/), /exit=7/);
  } finally {
    await run('tmux', ['kill-session', '-t', SESSION], { allowFailure: true });
    await docker(d.host, ['rm', '-f', name]);
  }
});

test('--security-opt seccomp=FILE applies the user\'s profile to the container and its execs; unconfined has none', async () => {
  const profile = join(tmp, 'no-mkdir.json');
  // Docker's profile format: allow everything but mkdir/mkdirat, which fail with EPERM
  await writeFile(profile, JSON.stringify({
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
  }));
  const name = `seccomp-${process.pid}`;
  try {
    const r = await docker(d.host, ['run', '--rm', '--security-opt', `seccomp=${profile}`, IMG, 'sh', '-c', 'mkdir /tmp/x; echo rc=$?; touch /tmp/y && echo touched']);
    assert.match(r.stderr + r.stdout, /mkdir: can't create directory '\/tmp\/x': Operation not permitted/);
    assert.match(r.stdout, /rc=1\ntouched\n/);
    assert.equal((await docker(d.host, ['run', '-d', '--name', name, '--security-opt', `seccomp=${profile}`, IMG, 'sleep', '300'])).code, 0);
    const e = await docker(d.host, ['exec', name, 'sh', '-c', 'mkdir /tmp/x; echo rc=$?']);
    assert.match(e.stdout, /rc=1/);
    assert.match(e.stderr, /Operation not permitted/);
    const u = await docker(d.host, ['run', '--rm', '--security-opt', 'seccomp=unconfined', IMG, 'grep', '^Seccomp:', '/proc/self/status']);
    assert.equal(u.stdout, 'Seccomp:\t0\n');
    // a profile that parses but says nothing runc accepts: refused at create, in runc's words
    const bogus = join(tmp, 'bogus.json');
    await writeFile(bogus, JSON.stringify({ defaultAction: 'SCMP_ACT_BOGUS' }));
    const bad = await docker(d.host, ['run', '--rm', '--security-opt', `seccomp=${bogus}`, IMG, 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /string SCMP_ACT_BOGUS is not a valid action for seccomp/);
  } finally {
    await docker(d.host, ['rm', '-f', name]);
  }
});
