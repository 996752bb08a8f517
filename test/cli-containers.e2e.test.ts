/**
 * The berth container commands against a real berthd, compared with the
 * real docker CLI pointed at the same daemon: same stdout, same stderr
 * (modulo the program name), same exit status. Also: the create bodies
 * both CLIs send for the same flags (captured by a fake daemon), a `-it`
 * session in tmux, and `cp` once the archive endpoints exist.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, berth, BERTH, docker, DOCKER, startDaemon } from './helpers/daemon.js';
import type { TestDaemon } from './helpers/daemon.js';
import { busyboxLayer, writeDockerArchive } from './helpers/images.js';

const IMG = 'bb:1';
const skip = !existsSync(DOCKER) ? 'no docker CLI' : !existsSync(BERTH) ? 'berth not built' : false;

interface Out { code: number; stdout: string; stderr: string }

const rename = (s: string): string => s.replace(/\bdocker\b/g, 'berth');
/** Relative times tick between two runs; column widths follow them. */
const untime = (s: string): string =>
  s.replace(/(Less than a second|About a minute|About an hour|\d+ (seconds?|minutes?|hours?))/g, 'T').replace(/ {2,}/g, '  ');

describe('berth container commands vs docker', { skip }, () => {
  let d: TestDaemon;
  const created: string[] = [];
  const b = (...args: string[]): Promise<Out> => berth(d.host, args);
  const k = (...args: string[]): Promise<Out> => docker(d.host, args);
  async function same(args: string[], norm: (s: string) => string = (s) => s, input?: string): Promise<Out> {
    let br = await berth(d.host, args, input);
    let dr = await docker(d.host, args, input);
    // berthd sometimes fails a container's network setup (netavark/iptables race, a daemon
    // bug reported separately); that is not what this suite compares, so retry once.
    if (/netavark setup/.test(br.stderr + dr.stderr)) {
      br = await berth(d.host, args, input);
      dr = await docker(d.host, args, input);
    }
    assert.equal(norm(br.stdout), norm(dr.stdout), `stdout of ${args.join(' ')}`);
    assert.equal(norm(br.stderr), norm(rename(dr.stderr)), `stderr of ${args.join(' ')}`);
    assert.equal(br.code, dr.code, `exit code of ${args.join(' ')}`);
    return br;
  }

  before(async () => {
    d = await startDaemon();
    const tar = join(d.dir, 'bb.tar');
    await writeDockerArchive(tar, [{ tags: [IMG], layers: [await busyboxLayer()] }]);
    const l = await docker(d.host, ['load', '-i', tar]);
    assert.equal(l.code, 0, l.stderr);
  });

  after(async () => {
    if (d === undefined) return;
    try {
      const ids = (await b('ps', '-aq')).stdout.split('\n').filter((x) => x !== '');
      if (ids.length > 0) await b('rm', '-f', ...ids);
      for (const n of created) await b('rm', '-f', n);
    } finally {
      await d.stop();
    }
  });

  test('run --rm: output and exit codes (0, 3, missing command 127)', async () => {
    const r = await same(['run', '--rm', IMG, 'echo', 'hi']);
    assert.equal(r.stdout, 'hi\n');
    assert.equal((await same(['run', '--rm', IMG, 'sh', '-c', 'exit 3'])).code, 3);
    assert.equal((await same(['run', '--rm', IMG, 'nosuchcommand'])).code, 127);
    await same(['run', '--rm', '-a', 'stderr', IMG, 'sh', '-c', 'echo out; echo err >&2']);
    await same(['run', '--rm', '-e', 'A=1', '-w', '/tmp', '-u', '1000', '--entrypoint', 'sh', IMG, '-c', 'echo $A; pwd; id -u']);
  });

  test('run flag and option errors', async () => {
    await same(['run', '--rm', '--restart', 'always', IMG, 'true']);
    await same(['run', '--rm', '-m', '1x', IMG, 'true']);
    await same(['run', '--rm', '--pull', 'bogus', IMG, 'true']);
    await same(['run']);
    await same(['run', '--nope', IMG]);
    await same(['run', '-d', '-a', 'stdout', IMG, 'true']);
  });

  test('stdin piping with half-close', async () => {
    const r = await same(['run', '-i', '--rm', IMG, 'cat'], undefined, 'hi\n');
    assert.equal(r.stdout, 'hi\n');
    const r2 = await same(['run', '-i', '--rm', IMG, 'sh', '-c', 'cat; echo done >&2; exit 4'], undefined, 'a\nb\n');
    assert.equal(r2.code, 4);
    await same(['run', '-it', '--rm', IMG, 'cat'], undefined, 'x\n'); // not a TTY
  });

  test('run -d, ps, logs, exec, top, inspect, stats, port, stop, rm', async () => {
    created.push('cb-web', 'cb-dk');
    const r = await b('run', '-d', '--name', 'cb-web', '-l', 'app=demo', '-p', '127.0.0.1:18391:80', IMG, 'sh', '-c', 'echo started; echo warn >&2; exec sleep 60');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^[0-9a-f]{64}\n$/);
    const r2 = await k('run', '-d', '--name', 'cb-dk', IMG, 'sleep', '60');
    assert.equal(r2.code, 0, r2.stderr);
    await same(['ps'], untime);
    await same(['ps', '-a', '--no-trunc'], untime);
    await same(['ps', '-q']);
    await same(['container', 'ls', '-q', '-n', '1']);
    await same(['ps', '--format', '{{.Names}} {{.Ports}} {{.Label "app"}} {{.State}}']);
    await same(['ps', '--format', 'table {{.Names}}\t{{.Label "app"}}\t{{.Command}}']);
    await same(['ps', '-f', 'label=app=demo', '--format', '{{.ID}} {{.Image}} {{.Labels}}']);
    await same(['ps', '--format', 'json'], untime);
    await new Promise((res) => setTimeout(res, 300));
    await same(['logs', 'cb-web']);
    await same(['logs', '--tail', '1', 'cb-web']);
    await same(['exec', 'cb-web', 'echo', 'ok']);
    assert.equal((await same(['exec', 'cb-web', 'sh', '-c', 'exit 5'])).code, 5);
    await same(['exec', '-e', 'X=1', '-w', '/tmp', 'cb-web', 'sh', '-c', 'echo $X; pwd']);
    await same(['exec', '-i', 'cb-web', 'cat'], undefined, 'piped\n');
    await same(['top', 'cb-web'], (s) => s.replace(/\d\d:\d\d(:\d\d)?/g, 'HH:MM'));
    await same(['inspect', '-f', '{{.State.Status}} {{.Name}} {{.Config.Labels}}', 'cb-web']);
    await same(['container', 'inspect', '-f', '{{json .HostConfig.PortBindings}}', 'cb-web']);
    await same(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}} {{.Container}}', 'cb-web', 'cb-dk']);
    const st = await b('stats', '--no-stream', 'cb-web');
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /^CONTAINER ID +NAME +CPU % +MEM USAGE \/ LIMIT +MEM % +NET I\/O +BLOCK I\/O +PIDS\n[0-9a-f]{12} +cb-web +\d+\.\d\d% /);
    await same(['port', 'cb-web']);
    await same(['port', 'cb-web', '80']);
    await same(['port', 'cb-web', '81/udp']);
    await same(['stop', '-t', '1', 'cb-web', 'nosuch']);
    assert.deepEqual(await b('rm', 'cb-web'), { code: 0, stdout: 'cb-web\n', stderr: '' });
    await same(['rm', 'cb-web']);
    await same(['rm', '-f', 'nosuch']);
  });

  test('wait, rename, pause/unpause, kill -s, restart, start, create', async () => {
    created.push('cb-life', 'cb-life2', 'cb-created');
    assert.equal((await b('run', '-d', '--name', 'cb-life', IMG, 'sleep', '60')).code, 0);
    assert.deepEqual(await b('pause', 'cb-life'), { code: 0, stdout: 'cb-life\n', stderr: '' });
    await same(['ps', '--format', '{{.Names}} {{.State}}', '-f', 'name=cb-life'], untime);
    assert.deepEqual(await b('unpause', 'cb-life'), { code: 0, stdout: 'cb-life\n', stderr: '' });
    await same(['pause', 'nosuch']);
    assert.deepEqual(await b('rename', 'cb-life', 'cb-life2'), { code: 0, stdout: '', stderr: '' });
    await same(['rename', 'nosuch', 'x2']);
    assert.deepEqual(await b('restart', '-t', '1', 'cb-life2'), { code: 0, stdout: 'cb-life2\n', stderr: '' });
    await same(['start', 'cb-life2']);
    await same(['start', 'nosuch']);
    assert.deepEqual(await b('kill', '-s', 'KILL', 'cb-life2'), { code: 0, stdout: 'cb-life2\n', stderr: '' });
    await same(['wait', 'cb-life2']);
    await same(['kill', 'cb-life2']);
    await same(['wait', 'nosuch']);
    const c = await b('create', '--name', 'cb-created', IMG, 'sh', '-c', 'echo from-start; exit 7');
    assert.equal(c.code, 0, c.stderr);
    await same(['create', '--name', 'cb-created', IMG, 'true']);
    assert.deepEqual(await b('start', '-a', 'cb-created'), { code: 7, stdout: 'from-start\n', stderr: '' });
    await same(['wait', 'cb-created']);
    await same(['logs', 'cb-created']);
    await same(['diff', 'cb-created'], (s) => s.replace(/page not found/, 'page not found'));
  });

  test('events between two times', async () => {
    const t0 = Math.floor(Date.now() / 1000) - 1;
    created.push('cb-evt');
    assert.equal((await b('run', '--name', 'cb-evt', '--rm', IMG, 'true')).code, 0);
    const t1 = String(Math.floor(Date.now() / 1000) + 1);
    await new Promise((res) => setTimeout(res, 1200));
    await same(['events', '--since', String(t0), '--until', t1, '-f', 'container=cb-evt']);
    await same(['events', '--since', String(t0), '--until', t1, '-f', 'type=container', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}']);
  });

  test('run -it in tmux: raw terminal, prompt, exit status', { skip: spawnSync('tmux', ['-V']).status !== 0 ? 'no tmux' : false }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-tty-'));
    const session = `berth-it-${process.pid}`;
    try {
      const script = join(dir, 'run.sh');
      writeFileSync(script, `#!/bin/sh\nDOCKER_HOST='${d.host}' '${BERTH}' run -it --rm ${IMG} sh\necho "EXIT=$?" > '${join(dir, 'rc')}'\nsleep 30\n`, { mode: 0o755 });
      assert.equal(spawnSync('tmux', ['new-session', '-d', '-s', session, '-x', '100', '-y', '30', script]).status, 0);
      const pane = (): string => spawnSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' }).stdout;
      const waitFor = async (re: RegExp): Promise<void> => {
        for (let i = 0; i < 100 && !re.test(pane()); i++) await new Promise((res) => setTimeout(res, 100));
        assert.match(pane(), re);
      };
      await waitFor(/^\/ #/m);
      spawnSync('tmux', ['send-keys', '-t', session, 'echo hello-$((6*7)); stty size', 'Enter']);
      await waitFor(/hello-42/);
      await waitFor(/^30 100/m);
      spawnSync('tmux', ['send-keys', '-t', session, 'exit 5', 'Enter']);
      for (let i = 0; i < 100 && !existsSync(join(dir, 'rc')); i++) await new Promise((res) => setTimeout(res, 100));
      assert.equal(readFileSync(join(dir, 'rc'), 'utf8').trim(), 'EXIT=5');
    } finally {
      spawnSync('tmux', ['kill-session', '-t', session]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('cp both ways (when the daemon has the archive endpoints)', async (t) => {
    created.push('cb-cp');
    assert.equal((await b('run', '-d', '--name', 'cb-cp', IMG, 'sleep', '60')).code, 0);
    const probe = await api(d.socket, 'GET', '/v1.41/containers/cb-cp/archive?path=%2Fetc');
    if (probe.status === 404 && probe.body.includes('page not found')) {
      t.skip('daemon has no /containers/{id}/archive yet');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'berth-cp-'));
    try {
      writeFileSync(join(dir, 'in.txt'), 'copied-in\n');
      await same(['cp', join(dir, 'in.txt'), 'cb-cp:/in.txt']);
      await same(['exec', 'cb-cp', 'cat', '/in.txt']);
      // docker also logs its tar writer's broken pipe here; compare the error itself.
      const lastLine = (s: string): string => s.trim().split('\n').pop() ?? '';
      const bc = await b('cp', join(dir, 'in.txt'), 'cb-cp:/nosuchdir/x/');
      const dc = await k('cp', join(dir, 'in.txt'), 'cb-cp:/nosuchdir/x/');
      assert.equal(lastLine(bc.stderr), lastLine(dc.stderr));
      assert.equal(bc.code, dc.code);
      const r = await b('cp', 'cb-cp:/in.txt', join(dir, 'out.txt'));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(readFileSync(join(dir, 'out.txt'), 'utf8'), 'copied-in\n');
      await same(['cp', 'cb-cp:/nosuch', join(dir, 'x')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A fake daemon that records the create body: both CLIs must send the same bytes. */
describe('create body parity (fake daemon)', { skip }, () => {
  let server: Server;
  let dir: string;
  const bodies: string[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-fake-'));
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if ((req.url ?? '').startsWith('/_ping')) {
          res.writeHead(200, { 'Api-Version': '1.41', Ostype: 'linux', 'Content-Type': 'text/plain' });
          res.end('OK');
          return;
        }
        if ((req.url ?? '').includes('/containers/create')) {
          bodies.push(`${req.url ?? ''} ${body}`);
          res.writeHead(201, { 'Content-Type': 'application/json' });
          res.end('{"Id":"abc","Warnings":[]}\n');
          return;
        }
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end('{"message":"page not found"}\n');
      });
    });
    await new Promise<void>((res) => server.listen(join(dir, 'fake.sock'), res));
  });
  after(async () => {
    await new Promise((res) => server.close(res));
    rmSync(dir, { recursive: true, force: true });
  });
  const cases: string[][] = [
    ['--name', 'full', '-e', 'A=1', '-l', 'k=v', '-w', '/srv', '-u', '1000', '--entrypoint', 'sh', '--restart', 'on-failure:3', '-m', '64m', '--cpus', '0.5', '-p', '18082:80', '-p', '127.0.0.1::81/udp', '--add-host', 'h:127.0.0.1', '--hostname', 'hn', '--dns', '1.1.1.1', '--tmpfs', '/run', '--mount', 'type=volume,src=mv,dst=/mv', '--mount', 'type=bind,src=/tmp,dst=/hosttmp,readonly', '--init', '--cap-add', 'NET_ADMIN', '--stop-signal', 'SIGINT', '--stop-timeout', '5', '--health-cmd', 'true', '--health-interval', '5s', 'busybox:local', '-c', 'echo hi'],
    ['-v', 'vol1:/data:ro', '-v', '/tmp/cpt:/host', '-v', '/anon', '--read-only', '--privileged', '--security-opt', 'no-new-privileges', '--cap-drop', 'all', '--memory-swap', '-1', '--memory-reservation', '10m', '-c', '512', '--cpuset-cpus', '0', '--pids-limit', '50', '--ulimit', 'nofile=100:200', '--shm-size', '64m', '--sysctl', 'net.ipv4.ip_forward=1', '--device', '/dev/null:/dev/xnull:r', '--log-driver', 'json-file', '--log-opt', 'max-size=1m', '--network', 'net1', '--network-alias', 'svc', '--expose', '90-91', '-P', '--dns-search', 'example.com', '--dns-option', 'ndots:1', '--group-add', '10', '--oom-score-adj', '5', '--platform', 'linux/amd64', '--no-healthcheck', IMG],
    ['-t', '--rm', IMG, 'sh'],
    ['-i', '-a', 'stdin', '-a', 'stdout', IMG],
    ['--network', 'host', IMG],
    ['--ip', '10.0.0.5', '--network', 'n2', IMG],
    ['--entrypoint', '', '--volumes-from', 'abc', '--link', 'l1:al', '--cgroupns', 'host', '--ipc', 'host', '--pid', 'host', '--uts', 'host', '--domainname', 'd', '--health-timeout', '1m30s', '--health-retries', '2', '--security-opt', 'systempaths=unconfined', IMG, 'a', 'b'],
    ['-p', '8080-8081:80-81', '-p', '9000:9000/udp', '-p', '127.0.0.1:7000-7001:7000', IMG],
  ];
  for (const args of cases) {
    test(`create ${args.slice(0, 4).join(' ')}…`, async () => {
      const host = `unix://${join(dir, 'fake.sock')}`;
      bodies.length = 0;
      const dr = await docker(host, ['create', ...args]);
      const br = await berth(host, ['create', ...args]);
      assert.equal(br.code, dr.code, br.stderr);
      assert.equal(bodies.length, 2);
      assert.equal(sortedBinds(bodies[1] as string), sortedBinds(bodies[0] as string));
    });
  }
  test('--mac-address is refused below API 1.44, like docker', async () => {
    const host = `unix://${join(dir, 'fake.sock')}`;
    bodies.length = 0;
    const dr = await docker(host, ['create', '--mac-address', '92:d0:c6:0a:29:33', IMG]);
    const br = await berth(host, ['create', '--mac-address', '92:d0:c6:0a:29:33', IMG]);
    assert.equal(br.stderr, rename(dr.stderr));
    assert.equal(br.code, dr.code);
    assert.equal(bodies.length, 0);
  });
});

/**
 * The docker CLI builds HostConfig.Binds from a Go map, so their order varies
 * from run to run; the rest of the body is compared byte for byte.
 */
function sortedBinds(body: string): string {
  return body.replace(/"Binds":\[([^\]]*)\]/, (_m, list: string) => `"Binds":[${(JSON.parse(`[${list}]`) as string[]).sort().map((b) => JSON.stringify(b)).join(',')}]`);
}
