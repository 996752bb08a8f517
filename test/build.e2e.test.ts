/**
 * The builder end to end: a real berthd, the docker CLI 28 on the classic
 * path (DOCKER_BUILDKIT=0), `berth build`, and (when it runs) dockerd as
 * the place a berth-built image must also run.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { startDaemon, docker, berth, dockerdAvailable, type TestDaemon } from './helpers/daemon.js';
import { busyboxLayer, layerTar, writeDockerArchive } from './helpers/images.js';

let d: TestDaemon;
let tmp: string;
let ctxDir: string;
const tag = `built-${randomBytes(3).toString('hex')}`;

const DOCKERFILE = `# syntax=docker/dockerfile:1
ARG BASE=bb:1
FROM \${BASE} AS build
ARG GREETING=hello
ENV APP_HOME=/app \\
    MODE=prod
WORKDIR \${APP_HOME}
COPY src/ ./src/
ADD data.tar.gz /data/
RUN echo "\${GREETING} from \${MODE}" > /app/greeting.txt && rm /data/junk.txt && cat src/a.txt >> /app/greeting.txt
RUN ls /data > /app/data-list.txt

FROM bb:1
LABEL org.example.stage=final
COPY --from=build /app/greeting.txt /app/data-list.txt /opt/app/
COPY --from=build /data/keep.txt /opt/app/keep.txt
USER app
EXPOSE 8080/tcp 9090
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /opt/app/greeting.txt /opt/app/keep.txt"]
`;

async function writeContext(dir: string): Promise<void> {
  await mkdir(join(dir, 'src'), { recursive: true });
  await writeFile(join(dir, 'Dockerfile'), DOCKERFILE);
  await writeFile(join(dir, 'src', 'a.txt'), 'file a\n');
  await writeFile(join(dir, 'src', 'b.txt'), 'file b\n');
  await writeFile(join(dir, 'ignored.log'), 'nope\n');
  await writeFile(join(dir, '.dockerignore'), '*.log\n');
  const tar = layerTar([
    { name: 'keep.txt', data: Buffer.from('kept\n') },
    { name: 'junk.txt', data: Buffer.from('junk\n') },
  ]);
  await writeFile(join(dir, 'data.tar.gz'), gzipSync(tar));
}

function dockerEnv<T>(fn: () => Promise<T>): Promise<T> {
  process.env['DOCKER_BUILDKIT'] = '0';
  return fn();
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'berth-build-'));
  const archive = join(tmp, 'bb.tar');
  await writeDockerArchive(archive, [{ tags: ['bb:1'], layers: [await busyboxLayer()] }]);
  d = await startDaemon();
  const l = await docker(d.host, ['load', '-i', archive]);
  assert.equal(l.code, 0, l.stderr);
  ctxDir = join(tmp, 'ctx');
  await writeContext(ctxDir);
});

after(async () => {
  await d?.stop();
  await rm(tmp, { recursive: true, force: true });
});

let firstId = '';

test('DOCKER_BUILDKIT=0 docker build: multi-stage Dockerfile', async () => {
  const r = await dockerEnv(() => docker(d.host, ['build', '-t', tag, ctxDir]));
  assert.equal(r.code, 0, r.stdout + r.stderr + d.log());
  assert.match(r.stdout, /Step 1\/\d+ : FROM \$\{BASE\} AS build/);
  assert.match(r.stdout, / ---> Running in [0-9a-f]{12}/);
  assert.match(r.stdout, /Removing intermediate container [0-9a-f]{12}/);
  const m = /Successfully built ([0-9a-f]{12})/.exec(r.stdout);
  assert.ok(m, r.stdout);
  firstId = m[1]!;
  assert.match(r.stdout, new RegExp(`Successfully tagged ${tag}:latest`));
  const run = await docker(d.host, ['run', '--rm', tag]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'hello from prod\nfile a\nkept\n');
  const insp = await docker(d.host, ['image', 'inspect', '-f', '{{.Config.User}}|{{json .Config.ExposedPorts}}|{{json .Config.Entrypoint}}|{{json .Config.Cmd}}|{{index .Config.Labels "org.example.stage"}}', tag]);
  assert.equal(insp.stdout.trim(), 'app|{"8080/tcp":{},"9090/tcp":{}}|["/bin/sh","-c"]|["cat /opt/app/greeting.txt /opt/app/keep.txt"]|final');
  // The deleted file is a whiteout in the RUN layer; the ignored file never reached the context.
  const ls = await docker(d.host, ['run', '--rm', '--entrypoint', '', tag, 'sh', '-c', 'cat /opt/app/data-list.txt; id -u']);
  assert.equal(ls.stdout, 'keep.txt\n1000\n');
});

test('a second build is fully cached and gives the same image ID', async () => {
  const r = await dockerEnv(() => docker(d.host, ['build', '-t', tag, ctxDir]));
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /Running in/);
  const steps = r.stdout.match(/^Step \d+\/\d+ : /gm)?.length ?? 0;
  const cached = r.stdout.match(/ ---> Using cache/g)?.length ?? 0;
  // Every step but the FROMs and ARGs (which have nothing to cache) says so.
  const fromsArgs = r.stdout.match(/^Step \d+\/\d+ : (FROM|ARG) /gm)?.length ?? 0;
  assert.equal(cached, steps - fromsArgs, r.stdout);
  assert.match(r.stdout, new RegExp(`Successfully built ${firstId}`));
});

test('--no-cache rebuilds to the same digest (reproducible)', async () => {
  const r = await dockerEnv(() => docker(d.host, ['build', '--no-cache', '-q', ctxDir]));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().slice(7, 19), firstId);
});

test('changing one copied file re-runs only the steps from there', async () => {
  const dir = join(tmp, 'ctx2');
  await writeContext(dir);
  await writeFile(join(dir, 'src', 'a.txt'), 'file a, edited\n');
  const r = await dockerEnv(() => docker(d.host, ['build', '-t', `${tag}:2`, dir]));
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const stepOf = (re: RegExp): number => lines.findIndex((l) => re.test(l));
  const copy = stepOf(/Step \d+\/\d+ : COPY src\//);
  const envStep = stepOf(/Step \d+\/\d+ : ENV/);
  assert.match(lines.slice(envStep, copy).join('\n'), /Using cache/);
  assert.doesNotMatch(lines[copy + 1]!, /Using cache/);
  assert.match(r.stdout, /Running in/);
  const run = await docker(d.host, ['run', '--rm', `${tag}:2`]);
  assert.equal(run.stdout, 'hello from prod\nfile a, edited\nkept\n');
});

test('classic builds with the same tag reuse the kept context: an edit that keeps size and mtime, a removed and an added file all show; same image as a fresh build', async () => {
  const { utimes, stat, unlink } = await import('node:fs/promises');
  const dir = join(tmp, 'classicslot');
  await mkdir(join(dir, 'd'), { recursive: true });
  await writeFile(join(dir, 'd', 'a.txt'), 'aaaa\n');
  await writeFile(join(dir, 'd', 'b.txt'), 'bbbb\n');
  await writeFile(join(dir, 'Dockerfile'), 'FROM bb:1\nCOPY d/ /d/\nCMD ["sh", "-c", "ls /d; cat /d/*"]\n');
  const t = `${tag}-slot`;
  const b1 = await dockerEnv(() => docker(d.host, ['build', '-q', '-t', t, dir]));
  assert.equal(b1.code, 0, b1.stderr);
  assert.equal((await docker(d.host, ['run', '--rm', t])).stdout, 'a.txt\nb.txt\naaaa\nbbbb\n');
  // Same size, same mtime (the tar header is the same): only the bytes say it changed.
  const before = await stat(join(dir, 'd', 'a.txt'));
  await writeFile(join(dir, 'd', 'a.txt'), 'AAAA\n');
  await utimes(join(dir, 'd', 'a.txt'), before.atime, before.mtime);
  await unlink(join(dir, 'd', 'b.txt'));
  await writeFile(join(dir, 'd', 'c.txt'), 'cccc\n');
  const b2 = await dockerEnv(() => docker(d.host, ['build', '-q', '-t', t, dir]));
  assert.equal(b2.code, 0, b2.stderr);
  assert.equal((await docker(d.host, ['run', '--rm', t])).stdout, 'a.txt\nc.txt\nAAAA\ncccc\n');
  const fresh = await dockerEnv(() => docker(d.host, ['build', '-q', '--no-cache', '-t', `${t}-fresh`, dir]));
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.equal(fresh.stdout.trim(), b2.stdout.trim());
});

test('a COPY layer committed in place is what its tar says: the same tree after save and load into another daemon', async () => {
  const dir = join(tmp, 'inplace');
  await mkdir(join(dir, 'tree', 'sub', 'deeper'), { recursive: true });
  await writeFile(join(dir, 'tree', 'x.sh'), '#!/bin/sh\n', { mode: 0o4755 });
  await writeFile(join(dir, 'tree', 'sub', 'y'), 'y\n', { mode: 0o600 });
  await writeFile(join(dir, 'tree', 'sub', 'deeper', 'z'), randomBytes(3000));
  const { symlink } = await import('node:fs/promises');
  await symlink('sub/y', join(dir, 'tree', 'link'));
  await writeFile(join(dir, 'Dockerfile'), 'FROM bb:1\nCOPY tree/ /usr/local/tree/\nCOPY --chown=1:2 --chmod=640 tree/sub/y /etc/y\n');
  const t = `${tag}-inplace`;
  const b = await berth(d.host, ['build', '-q', '-t', t, dir]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  // (Not all of /etc: the runtime's hosts, hostname and resolv.conf are made per container.)
  const list = ['run', '--rm', t, 'sh', '-c', 'cd / && find usr etc/y etc/passwd -xdev | sort | xargs stat -c "%n %f %u:%g %s %Y %N"; md5sum usr/local/tree/sub/deeper/z'];
  const here = await docker(d.host, list);
  assert.equal(here.code, 0, here.stderr);
  assert.match(here.stdout, /usr\/local\/tree\/x\.sh 89ed 0:0 /);
  const out = join(tmp, 'inplace.tar');
  assert.equal((await docker(d.host, ['save', '-o', out, t])).code, 0);
  const d2 = await startDaemon();
  try {
    const l = await docker(d2.host, ['load', '-i', out]);
    assert.equal(l.code, 0, l.stderr);
    const there = await docker(d2.host, list);
    assert.equal(there.code, 0, there.stderr);
    assert.equal(there.stdout, here.stdout);
  } finally {
    await d2.stop();
  }
});

test('--cache-from: after the cache is pruned, a tagged image stands in for its own steps (same image ID); without it they run', async () => {
  const dir = join(tmp, 'cachefrom');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'f'), 'eff\n');
  await writeFile(join(dir, 'Dockerfile'), 'FROM bb:1\nENV X=1\nRUN echo a > /a\nCOPY f /f\nRUN cat /f /a > /g\n');
  const t = `${tag}-cf`;
  const b1 = await dockerEnv(() => docker(d.host, ['build', '-q', '-t', t, dir]));
  assert.equal(b1.code, 0, b1.stderr);
  const prune = async (): Promise<void> => assert.equal((await dockerEnv(() => docker(d.host, ['builder', 'prune', '-af']))).code, 0);
  await prune();
  const b2 = await dockerEnv(() => docker(d.host, ['build', '--cache-from', t, dir]));
  assert.equal(b2.code, 0, b2.stderr);
  assert.doesNotMatch(b2.stdout, /Running in/, b2.stdout);
  assert.equal(b2.stdout.match(/ ---> Using cache/g)?.length, 4, b2.stdout);
  assert.match(b2.stdout, new RegExp(`Successfully built ${b1.stdout.trim().slice(7, 19)}`));
  await prune();
  const b3 = await berth(d.host, ['build', '-t', `${t}-2`, dir]);
  assert.equal(b3.code, 0, b3.stderr);
  assert.match(b3.stdout, /Running in/);
});

test('COPY --link: its layer does not depend on the base, so a change below it reuses the layer (same diff ID) and the files land on the new base', async () => {
  const dir = join(tmp, 'link');
  await mkdir(join(dir, 'd'), { recursive: true });
  await writeFile(join(dir, 'd', 'x'), 'ex\n');
  const dockerfile = (base: string): string => `FROM bb:1\nRUN echo ${base} > /base\nCOPY --link --chown=7:8 d/ /opt/app/d/\nRUN cat /opt/app/d/x /base > /out && stat -c '%u:%g' /opt /opt/app /opt/app/d /opt/app/d/x >> /out\n`;
  const layers = async (t: string): Promise<string[]> => JSON.parse((await docker(d.host, ['image', 'inspect', '-f', '{{json .RootFS.Layers}}', t])).stdout) as string[];
  await writeFile(join(dir, 'Dockerfile'), dockerfile('one'));
  const b1 = await berth(d.host, ['build', '-t', `${tag}-l1`, dir]);
  assert.equal(b1.code, 0, b1.stdout + b1.stderr);
  await writeFile(join(dir, 'Dockerfile'), dockerfile('two'));
  const b2 = await berth(d.host, ['build', '-t', `${tag}-l2`, dir]);
  assert.equal(b2.code, 0, b2.stdout + b2.stderr);
  const copyStep = b2.stdout.split('\n').findIndex((l) => / : COPY --link/.test(l));
  assert.match(b2.stdout.split('\n')[copyStep + 1]!, /Using cache/, b2.stdout);
  const [l1, l2] = [await layers(`${tag}-l1`), await layers(`${tag}-l2`)];
  assert.notEqual(l1.at(-3), l2.at(-3));
  assert.equal(l1.at(-2), l2.at(-2));
  const run = await docker(d.host, ['run', '--rm', `${tag}-l2`, 'cat', '/out']);
  assert.equal(run.stdout, 'ex\ntwo\n0:0\n0:0\n7:8\n7:8\n');
});

test('a failing RUN fails the build with its exit code', async () => {
  const dir = join(tmp, 'fail');
  await mkdir(dir);
  await writeFile(join(dir, 'Dockerfile'), 'FROM bb:1\nRUN echo about to fail; echo err >&2; exit 3\n');
  const r = await dockerEnv(() => docker(d.host, ['build', '--force-rm', dir]));
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /The command '\/bin\/sh -c echo about to fail; echo err >&2; exit 3' returned a non-zero code: 3/);
  assert.match(r.stdout, /about to fail/);
});

test('an unknown instruction is reported with its line', async () => {
  const dir = join(tmp, 'bad');
  await mkdir(dir);
  await writeFile(join(dir, 'Dockerfile'), 'FROM bb:1\n\nRUN true\nFROOB x\n');
  const r = await dockerEnv(() => docker(d.host, ['build', dir]));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /line 4: unknown instruction: FROOB/);
});

test('COPY ../x and a symlink leaving the context are refused or confined', async () => {
  const dir = join(tmp, 'escape');
  await mkdir(dir);
  await writeFile(join(dir, 'Dockerfile'), 'FROM bb:1\nCOPY ../x /x\n');
  const r = await dockerEnv(() => docker(d.host, ['build', dir]));
  assert.notEqual(r.code, 0);
  assert.match(r.stdout + r.stderr, /forbidden path outside the build context: \.\.\/x/);
  const { symlink } = await import('node:fs/promises');
  await writeFile(join(dir, 'Dockerfile'), 'FROM bb:1\nCOPY link/passwd /p\nCMD ["cat", "/p"]\n');
  await symlink('/etc', join(dir, 'link'));
  const r2 = await dockerEnv(() => docker(d.host, ['build', '-q', dir]));
  // /etc inside the context does not exist: the link is confined, not followed to the host.
  assert.notEqual(r2.code, 0, r2.stdout);
  assert.match(r2.stdout + r2.stderr, /not found|does not exist/);
});

test('berth build: heredocs, RUN --mount=type=cache, COPY --exclude, --iidfile', async () => {
  const dir = join(tmp, 'berthctx');
  await mkdir(join(dir, 'files'), { recursive: true });
  await writeFile(join(dir, 'files', 'keep.txt'), 'keep\n');
  await writeFile(join(dir, 'files', 'skip.tmp'), 'skip\n');
  await writeFile(
    join(dir, 'Dockerfile'),
    `FROM bb:1
COPY --exclude=*.tmp files/ /files/
COPY <<EOF /etc/motd
hello heredoc
EOF
RUN <<EOT
set -e
echo one > /one
echo two >> /one
EOT
RUN --mount=type=cache,target=/cache echo cached >> /cache/runs && cat /cache/runs | wc -l > /runs
CMD ["sh", "-c", "cat /etc/motd /one; ls /files; cat /runs"]
`,
  );
  const iid = join(tmp, 'iid');
  const r = await berth(d.host, ['build', '-t', `${tag}-b`, '--iidfile', iid, dir]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const run = await docker(d.host, ['run', '--rm', `${tag}-b`]);
  assert.equal(run.stdout, 'hello heredoc\none\ntwo\nkeep.txt\n1\n');
  const { readFile } = await import('node:fs/promises');
  assert.match(await readFile(iid, 'utf8'), /^sha256:[0-9a-f]{64}$/);
  // The cache mount keeps its content across builds; nothing of it lands in the image.
  const r2 = await berth(d.host, ['build', '--no-cache', '-t', `${tag}-b`, dir]);
  assert.equal(r2.code, 0, r2.stderr);
  const run2 = await docker(d.host, ['run', '--rm', `${tag}-b`, 'sh', '-c', 'cat /runs; ls /cache | wc -l']);
  assert.equal(run2.stdout, '2\n0\n', r.stdout + r2.stdout + r2.stderr + (await import('node:child_process')).execSync('find ' + d.dataRoot + '/build/mounts').toString());
});

test('berth build keeps the context: changed files travel, removed ones go, ignored ones never arrive; same image as a full upload', async () => {
  const { utimes, stat, unlink } = await import('node:fs/promises');
  const dir = join(tmp, 'keptctx');
  await mkdir(join(dir, 'sub'), { recursive: true });
  await writeFile(join(dir, 'a.txt'), 'one\n');
  await writeFile(join(dir, 'sub', 'b.txt'), 'bee\n');
  await writeFile(join(dir, 'secret.txt'), 'never sent\n');
  await writeFile(join(dir, '.dockerignore'), 'secret.txt\n');
  await writeFile(
    join(dir, 'Dockerfile'),
    `FROM bb:1
COPY . /ctx/
RUN --mount=type=bind,target=/m ls -A /m > /bindls
CMD ["sh", "-c", "cat /ctx/a.txt; ls -A /ctx /ctx/sub 2>&1; cat /bindls"]
`,
  );
  const b1 = await berth(d.host, ['build', '-q', '-t', `${tag}-k`, dir]);
  assert.equal(b1.code, 0, b1.stdout + b1.stderr);
  const r1 = await docker(d.host, ['run', '--rm', `${tag}-k`]);
  assert.equal(r1.stdout, 'one\n/ctx:\n.dockerignore\nDockerfile\na.txt\nsub\n\n/ctx/sub:\nb.txt\n.dockerignore\nDockerfile\na.txt\nsub\n', r1.stderr);
  // Same size, same mtime: only the ctime says it changed, and that is enough.
  const before = await stat(join(dir, 'a.txt'));
  await writeFile(join(dir, 'a.txt'), 'two\n');
  await utimes(join(dir, 'a.txt'), before.atime, before.mtime);
  await unlink(join(dir, 'sub', 'b.txt'));
  const b2 = await berth(d.host, ['build', '-q', '-t', `${tag}-k`, dir]);
  assert.equal(b2.code, 0, b2.stdout + b2.stderr);
  const r2 = await docker(d.host, ['run', '--rm', `${tag}-k`]);
  assert.equal(r2.stdout, 'two\n/ctx:\n.dockerignore\nDockerfile\na.txt\nsub\n\n/ctx/sub:\n.dockerignore\nDockerfile\na.txt\nsub\n', r2.stderr);
  // The kept folder is what a full upload makes: the same image, built from scratch.
  process.env['BERTH_BUILD_CONTEXT_SYNC'] = '0';
  try {
    const b3 = await berth(d.host, ['build', '-q', '--no-cache', dir]);
    assert.equal(b3.code, 0, b3.stdout + b3.stderr);
    assert.equal(b3.stdout.trim(), b2.stdout.trim());
  } finally {
    delete process.env['BERTH_BUILD_CONTEXT_SYNC'];
  }
});

test('build checks: berth build prints BuildKit\'s warnings, --check reports them and exits 1, check=error=true fails, skip=all is silent; the classic path has none', async () => {
  const dir = join(tmp, 'checks');
  await mkdir(dir, { recursive: true });
  const df = (head: string): Promise<void> => writeFile(join(dir, 'Dockerfile'), `${head}FROM bb:1 AS Build\nCMD echo hi\n`);
  await df('');
  const b = await berth(d.host, ['build', '-t', `${tag}-ck`, dir]);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stderr, / 2 warnings found \(use docker --debug to expand\):\n - StageNameCasing: Stage name 'Build' should be lowercase \(line 1\)\n - JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals \(line 2\)\n/);
  const c = await berth(d.host, ['build', '--check', dir]);
  assert.equal(c.code, 1);
  assert.match(c.stdout, /^WARNING: StageNameCasing - https:\/\/docs\.docker\.com\/go\/dockerfile\/rule\/stage-name-casing\/\nStage name 'Build' should be lowercase\nDockerfile:1\n/);
  assert.match(c.stdout, /Check complete, 2 warnings have been found!\n$/);
  await df('# check=error=true\n');
  const e = await berth(d.host, ['build', '-t', `${tag}-ck2`, dir]);
  assert.notEqual(e.code, 0);
  assert.match(e.stdout + e.stderr, /lint violation found for rules: StageNameCasing, JSONArgsRecommended/);
  assert.equal((await docker(d.host, ['image', 'inspect', `${tag}-ck2`])).code, 1, 'nothing was built');
  // the build argument adds to the directive, as BuildKit's BUILDKIT_DOCKERFILE_CHECK
  const skipped = await berth(d.host, ['build', '-q', '--build-arg', 'BUILDKIT_DOCKERFILE_CHECK=skip=all', dir]);
  assert.equal(skipped.code, 0, skipped.stderr);
  await df('# check=skip=all\n');
  const s2 = await berth(d.host, ['build', '--check', dir]);
  assert.equal(s2.code, 0);
  assert.equal(s2.stdout, 'Check complete, no warnings found.\n');
  const classic = await docker(d.host, ['build', '-t', `${tag}-ck3`, dir]);
  assert.equal(classic.code, 0, classic.stderr);
  assert.doesNotMatch(classic.stdout + classic.stderr, /warning/i);
  await docker(d.host, ['rmi', `${tag}-ck`, `${tag}-ck3`]);
});

test('berth build -o type=local writes the whole filesystem (a Dockerfile on stdin)', async () => {
  const { readFile, readlink } = await import('node:fs/promises');
  const out = join(tmp, 'out-local');
  const r = await berth(d.host, ['build', '-q', '-o', `type=local,dest=${out}`, '-'], 'FROM bb:1\nRUN mkdir -p /deep/er && echo hi > /deep/er/hello && ln -s /deep/er/hello /link\n');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(await readFile(join(out, 'deep', 'er', 'hello'), 'utf8'), 'hi\n');
  assert.equal(await readlink(join(out, 'link')), '/deep/er/hello');
});

test('an image built by berth, saved and loaded into dockerd, runs there', { skip: !(await dockerdAvailable()) && 'dockerd is not running' }, async () => {
  const D = 'unix:///var/run/docker.sock';
  const out = join(tmp, 'built.tar');
  const s = await docker(d.host, ['save', '-o', out, tag]);
  assert.equal(s.code, 0, s.stderr);
  const l = await docker(D, ['load', '-i', out]);
  try {
    assert.equal(l.code, 0, l.stderr);
    const run = await docker(D, ['run', '--rm', tag]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'hello from prod\nfile a\nkept\n');
  } finally {
    await docker(D, ['rmi', '-f', tag]);
  }
});
