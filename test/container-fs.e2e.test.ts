/**
 * Container filesystem and settings end to end: the real docker CLI 28
 * against berthd for cp (both ways, stdout, 404s, symlinks that point
 * outside, hostile tars), export, commit, diff, update and log rotation.
 * dockerd (when running) is the reference for the diff output.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile, mkdir, readdir, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { run } from '../src/base/exec.js';
import { encodeHeader, tarPadding, tarTrailer } from '../src/base/tar.js';
import { startDaemon, docker, dockerdAvailable, type TestDaemon } from './helpers/daemon.js';
import { busyboxLayer, writeDockerArchive } from './helpers/images.js';
import { request } from 'node:http';

let d: TestDaemon;
let tmp: string;
const img = `bbfs-${randomBytes(3).toString('hex')}:v1`;
const committed = `bbfs-commit-${randomBytes(3).toString('hex')}:v1`;
const containers: string[] = [];
const dockerdContainers: string[] = [];
const D = 'unix:///var/run/docker.sock';

async function ok(args: string[], input?: string | Buffer): Promise<string> {
  const r = await docker(d.host, args, input);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function newName(prefix: string): string {
  const n = `${prefix}-${randomBytes(3).toString('hex')}`;
  containers.push(n);
  return n;
}

/** Raw PUT of a tar body to the archive endpoint. */
function putArchive(socket: string, ctr: string, path: string, body: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method: 'PUT', path: `/containers/${ctr}/archive?path=${encodeURIComponent(path)}`, headers: { 'content-type': 'application/x-tar' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function tarOf(entries: { name: string; data: string }[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data);
    parts.push(...encodeHeader({ name: e.name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: 1_700_000_000 }), data, tarPadding(data.length));
  }
  parts.push(tarTrailer());
  return Buffer.concat(parts);
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'berth-cfs-'));
  const archive = join(tmp, 'bb.tar');
  await writeDockerArchive(archive, [{ tags: [img], layers: [await busyboxLayer()] }]);
  d = await startDaemon();
  await ok(['load', '-i', archive]);
});

after(async () => {
  if (d !== undefined) {
    for (const c of containers) await docker(d.host, ['rm', '-f', c]);
    await docker(d.host, ['rmi', '-f', committed]);
    await docker(d.host, ['rmi', '-f', img]);
    await d.stop();
  }
  if (dockerdContainers.length > 0 && (await dockerdAvailable())) for (const c of dockerdContainers) await docker(D, ['rm', '-f', c]);
  await rm(tmp, { recursive: true, force: true });
});

test('docker cp host → container: a file, a directory; missing destination is a 404', async () => {
  const web = newName('web');
  await ok(['run', '-d', '--name', web, img, 'sleep', '300']);
  await writeFile(join(tmp, 'in.txt'), 'copied-in\n');
  await ok(['cp', join(tmp, 'in.txt'), `${web}:/in.txt`]);
  assert.equal(await ok(['exec', web, 'cat', '/in.txt']), 'copied-in\n');
  await mkdir(join(tmp, 'dir'));
  await writeFile(join(tmp, 'dir', 'a.txt'), 'a\n');
  await ok(['cp', join(tmp, 'dir'), `${web}:/`]);
  assert.equal(await ok(['exec', web, 'cat', '/dir/a.txt']), 'a\n');
  const miss = await docker(d.host, ['cp', join(tmp, 'in.txt'), `${web}:/nope/in.txt`]);
  assert.notEqual(miss.code, 0);
  assert.match(miss.stderr, new RegExp(`Could not find the file /nope in container ${web}`));
});

test('docker cp container → host: a file, a directory, to stdout; missing source is a 404', async () => {
  const web = containers[0]!;
  await ok(['cp', `${web}:/in.txt`, join(tmp, 'out.txt')]);
  assert.equal(await readFile(join(tmp, 'out.txt'), 'utf8'), 'copied-in\n');
  await ok(['cp', `${web}:/dir`, join(tmp, 'outdir')]);
  assert.equal(await readFile(join(tmp, 'outdir', 'a.txt'), 'utf8'), 'a\n');
  const listing = await run('sh', ['-c', `DOCKER_HOST=${d.host} docker cp ${web}:/dir - | tar t`]);
  assert.deepEqual(listing.stdout.trim().split('\n'), ['dir/', 'dir/a.txt']);
  const miss = await docker(d.host, ['cp', `${web}:/tmp/in.txt`, join(tmp, 'x')]);
  assert.notEqual(miss.code, 0);
  assert.match(miss.stderr, new RegExp(`Error response from daemon: Could not find the file /tmp/in.txt in container ${web}`));
});

test('symlinks pointing outside resolve inside the container rootfs', async () => {
  const web = containers[0]!;
  await ok(['exec', web, 'ln', '-s', '/etc', '/hostetc']);
  await ok(['exec', web, 'sh', '-c', 'echo container-only > /etc/marker']);
  const got = await run('sh', ['-c', `DOCKER_HOST=${d.host} docker cp ${web}:/hostetc/marker - | tar xO`]);
  assert.equal(got.stdout, 'container-only\n');
  const name = `berth-cfs-${randomBytes(4).toString('hex')}.txt`;
  await writeFile(join(tmp, name), 'in\n');
  await ok(['cp', join(tmp, name), `${web}:/hostetc/`]);
  assert.equal(await ok(['exec', web, 'cat', `/etc/${name}`]), 'in\n');
  await assert.rejects(access(join('/etc', name)), 'nothing may land in the host /etc');
});

test('docker cp sees what the container sees: bind mounts, volumes, /etc files; a :ro mount refuses; symlinks into a volume stay in the view', async () => {
  const hostDir = join(tmp, 'bind');
  await mkdir(hostDir);
  await writeFile(join(hostDir, 'f'), 'from-host\n');
  const vol = `cfsvol-${randomBytes(3).toString('hex')}`;
  const c = newName('mnt');
  try {
    await ok(['run', '-d', '--name', c, '--hostname', 'cp-host', '-v', `${hostDir}:/data`, '-v', `${hostDir}:/ro:ro`, '-v', `${vol}:/nv`, img, 'sh', '-c', 'echo in-volume > /nv/g; ln -s /nv/g /lnk; sleep 300']);
    for (let i = 0; i < 50 && (await docker(d.host, ['exec', c, 'test', '-L', '/lnk'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    const cat = async (path: string, follow = false): Promise<string> =>
      (await run('sh', ['-c', `DOCKER_HOST=${d.host} docker cp ${follow ? '-L ' : ''}${c}:${path} - | tar xO`])).stdout;
    assert.equal(await cat('/data/f'), 'from-host\n');
    assert.equal(await cat('/nv/g'), 'in-volume\n');
    assert.equal(await cat('/etc/hostname'), 'cp-host\n');
    assert.equal(await cat('/lnk', true), 'in-volume\n');
    // the whole tree crosses into the mounts
    const all = await run('sh', ['-c', `DOCKER_HOST=${d.host} docker cp ${c}:/ - | tar t`]);
    assert.match(all.stdout, /data\/f\n/);
    assert.match(all.stdout, /nv\/g\n/);
    // writes land in the mount's source; a read-only mount refuses, in Docker's words
    await writeFile(join(tmp, 'up.txt'), 'uploaded\n');
    await ok(['cp', join(tmp, 'up.txt'), `${c}:/data/`]);
    assert.equal(await readFile(join(hostDir, 'up.txt'), 'utf8'), 'uploaded\n');
    const ro = await docker(d.host, ['cp', join(tmp, 'up.txt'), `${c}:/ro/`]);
    assert.notEqual(ro.code, 0);
    assert.match(ro.stderr, /mounted volume is marked read-only/);
  } finally {
    await docker(d.host, ['rm', '-f', c]);
    await docker(d.host, ['volume', 'rm', vol]);
  }
});

test('a hostile tar with ../ is refused and writes nothing outside', async () => {
  const web = containers[0]!;
  const escapee = join(tmp, 'escaped.txt');
  const depth = '../'.repeat(12);
  const r = await putArchive(d.socket, web, '/tmp', tarOf([{ name: `${depth}${escapee.slice(1)}`, data: 'evil\n' }]));
  assert.equal(r.status, 400, r.body);
  assert.match(r.body, /breakout/);
  await assert.rejects(access(escapee));
  // Through a symlink in the container: refused as well, the host's /etc untouched.
  const name = `berth-evil-${randomBytes(4).toString('hex')}`;
  const r2 = await putArchive(d.socket, web, '/', tarOf([{ name: `hostetc/${name}`, data: 'evil\n' }]));
  assert.equal(r2.status, 400, r2.body);
  await assert.rejects(access(join('/etc', name)));
});

test('docker diff, export, commit of a stopped container', async () => {
  const c = newName('chg');
  await ok(['run', '--name', c, img, 'sh', '-c', 'echo committed > /x; rm /bin/ls; mkdir -p /newd/sub']);
  const diff = (await ok(['diff', c])).trim().split('\n');
  assert.deepEqual(diff, ['C /bin', 'D /bin/ls', 'A /newd', 'A /newd/sub', 'A /x']);

  const names = (await run('sh', ['-c', `DOCKER_HOST=${d.host} docker export ${c} | tar t`])).stdout.split('\n');
  assert.ok(names.includes('x'), 'the container change');
  assert.ok(names.includes('bin/busybox'), 'an image file');
  assert.ok(names.includes('newd/sub/'));
  assert.ok(!names.includes('bin/ls'), 'deleted file must not be exported');
  const x = await run('sh', ['-c', `DOCKER_HOST=${d.host} docker export ${c} | tar xO x`]);
  assert.equal(x.stdout, 'committed\n');

  const id = (await ok(['commit', '-c', 'CMD ["cat","/x"]', '-m', 'msg', c, committed])).trim();
  assert.match(id, /^sha256:[0-9a-f]{64}$/);
  assert.equal(await ok(['run', '--rm', committed]), 'committed\n');
  const insp = (await ok(['image', 'inspect', '-f', '{{.Comment}} {{json .Config.Cmd}} {{len .RootFS.Layers}}', committed])).trim();
  assert.equal(insp, 'msg ["cat","/x"] 2');
  const hist = (await ok(['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Comment}}', committed])).split('\n')[0];
  assert.equal(hist, 'sh -c echo committed > /x; rm /bin/ls; mkdir -p /newd/sub|msg');
  const gone = await docker(d.host, ['run', '--rm', committed, 'ls', '/']);
  assert.notEqual(gone.code, 0, 'ls was deleted in the committed layer');
  // No temporary mounts left behind.
  const mounts = (await readFile('/proc/mounts', 'utf8')).split('\n').filter((l) => l.includes('/.fs-'));
  assert.deepEqual(mounts, []);
});

test('docker diff prints the same lines as dockerd', { skip: !(await dockerdAvailable()) && 'dockerd is not running' }, async () => {
  const script = 'echo hi > /x; mkdir -p /newd/sub; rm -f /bin/rm; echo y > /bin/new; echo z > /newd/f';
  const name = `berth-cfs-ref-${randomBytes(3).toString('hex')}`;
  dockerdContainers.push(name);
  const ref = await docker(D, ['run', '--name', name, 'busybox:local', 'sh', '-c', script]);
  assert.equal(ref.code, 0, ref.stderr);
  const c = newName('chg2');
  await ok(['run', '--name', c, img, 'sh', '-c', script]);
  // dockerd's overlay2 (naive diff) walks Go maps, so its order varies run to run: compare the sets.
  const sorted = (s: string): string[] => s.trim().split('\n').sort();
  assert.deepEqual(sorted(await ok(['diff', c])), sorted((await docker(D, ['diff', name])).stdout));
});

test('docker update: memory and restart policy in inspect and in the cgroup', async () => {
  const web = containers[0]!;
  await ok(['update', '--memory', '64m', '--memory-swap', '128m', '--restart', 'always', web]);
  assert.equal((await ok(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.RestartPolicy.Name}}', web])).trim(), '67108864 134217728 always');
  const id = (await ok(['inspect', '-f', '{{.Id}}', web])).trim();
  assert.equal((await readFile(`/sys/fs/cgroup/memory/berth/${id}/memory.limit_in_bytes`, 'utf8')).trim(), '67108864');
  // Docker's rule: raising memory past the set swap limit needs the swap too.
  const bad = await docker(d.host, ['update', '--memory', '256m', web]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /Memory limit should be smaller than already set memoryswap limit/);
  await ok(['update', '--restart', 'no', web]);
});

test('log rotation: max-size=1k max-file=3 keeps 3 files and logs read in order', async () => {
  const c = newName('logs');
  await ok([
    'run', '-d', '--name', c, '--log-opt', 'max-size=1k', '--log-opt', 'max-file=3', img,
    'sh', '-c', 'i=0; while [ $i -lt 200 ]; do echo "line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; i=$((i+1)); sleep 0.01; done',
  ]);
  await ok(['wait', c]);
  const id = (await ok(['inspect', '-f', '{{.Id}}', c])).trim();
  const files = (await readdir(join(d.dataRoot, 'containers', id))).filter((f) => f.includes('-json.log'));
  assert.ok(files.length >= 2 && files.length <= 3, `log files: ${files.join(' ')}`);
  const lines = (await ok(['logs', c])).trim().split('\n');
  const nums = lines.map((l) => Number(l.split(' ')[1]));
  assert.equal(nums.at(-1), 199);
  assert.ok(nums[0]! > 0, 'the oldest output was rotated away');
  for (let i = 1; i < nums.length; i++) assert.equal(nums[i], nums[i - 1]! + 1, 'in order, nothing missing in between');
});
