/**
 * Images cross between the reference dockerd and berthd both ways through
 * `docker save` / `docker load`: an image built by dockerd's classic builder
 * (a multi-stage Dockerfile with a deleted file, a user, an entrypoint)
 * keeps its ID on berthd, runs there with the same output and config, and
 * shows the same history; and berthd's save of it loads back into dockerd
 * under the same ID. Skipped when dockerd is not running.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startDaemon, docker, dockerdAvailable, dockerdSocket, type TestDaemon } from './helpers/daemon.js';
import { busyboxLayer, writeDockerArchive } from './helpers/images.js';

const REF = `unix://${dockerdSocket}`;
const skip = !(await dockerdAvailable()) && 'dockerd is not running';
const base = `interop-base-${randomBytes(3).toString('hex')}:1`;
const tag = `interop-${randomBytes(3).toString('hex')}:1`;
let d: TestDaemon | undefined;
let tmp: string;

const DOCKERFILE = `FROM ${base} AS build
RUN mkdir -p /out && echo built-by-dockerd > /out/msg && echo gone > /out/junk
RUN rm /out/junk

FROM ${base}
COPY --from=build /out /opt/out
RUN echo 'app:x:1000:1000:app:/home/app:/bin/sh' >> /etc/passwd && mkdir -p /home/app && chown 1000 /home/app
USER app
WORKDIR /home/app
ENV GREETING=hi
LABEL org.example.origin=dockerd
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo $GREETING $(id -u) $(pwd); cat /opt/out/msg; ls /opt/out"]
`;

before(async () => {
  if (skip !== false) return;
  tmp = await mkdtemp(join(tmpdir(), 'berth-interop-'));
  const archive = join(tmp, 'base.tar');
  await writeDockerArchive(archive, [{ tags: [base], layers: [await busyboxLayer()] }]);
  const l = await docker(REF, ['load', '-i', archive]);
  assert.equal(l.code, 0, l.stderr);
  const ctx = join(tmp, 'ctx');
  await mkdir(ctx);
  await writeFile(join(ctx, 'Dockerfile'), DOCKERFILE);
  const b = await docker(REF, ['build', '-q', '-t', tag, ctx]);
  assert.equal(b.code, 0, b.stderr);
  d = await startDaemon();
});

after(async () => {
  if (skip !== false) return;
  await docker(REF, ['rmi', '-f', tag, base]);
  await d?.stop();
  await rm(tmp, { recursive: true, force: true });
});

test('an image built by dockerd runs on berthd with the same ID, output, config and history', { skip }, async () => {
  const host = (d as TestDaemon).host;
  process.env['DOCKER_BUILDKIT'] = '0';
  const out = join(tmp, 'from-dockerd.tar');
  assert.equal((await docker(REF, ['save', '-o', out, tag])).code, 0);
  const l = await docker(host, ['load', '-i', out]);
  assert.equal(l.code, 0, l.stderr);
  const idFmt = ['image', 'inspect', '-f', '{{.Id}}', tag];
  const refId = (await docker(REF, idFmt)).stdout.trim();
  assert.match(refId, /^sha256:[0-9a-f]{64}$/);
  assert.equal((await docker(host, idFmt)).stdout.trim(), refId);

  const expected = 'hi 1000 /home/app\nbuilt-by-dockerd\nmsg\n';
  const ran = await docker(host, ['run', '--rm', tag]);
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(ran.stdout, expected);
  assert.equal((await docker(REF, ['run', '--rm', tag])).stdout, expected);

  const cfg = ['image', 'inspect', '-f', '{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.Config.User}} {{.Config.WorkingDir}} {{json .Config.Labels}} {{json .RootFS.Layers}}', tag];
  assert.equal((await docker(host, cfg)).stdout, (await docker(REF, cfg)).stdout);
  // (IDs aside: dockerd still has the intermediate images of its build, berthd shows <missing> as any other daemon would)
  const hist = ['history', '--no-trunc', '--format', '{{.CreatedBy}} {{.Size}}', tag];
  const h = (await docker(host, hist)).stdout;
  assert.equal(h.split('\n').length, 10);
  assert.equal(h, (await docker(REF, hist)).stdout);

  // and back: berthd's save of it loads into dockerd as the same image
  const back = join(tmp, 'from-berthd.tar');
  assert.equal((await docker(host, ['save', '-o', back, tag])).code, 0);
  await docker(REF, ['rmi', '-f', tag]);
  const l2 = await docker(REF, ['load', '-i', back]);
  assert.equal(l2.code, 0, l2.stderr);
  assert.equal((await docker(REF, idFmt)).stdout.trim(), refId);
  assert.equal((await docker(REF, ['run', '--rm', tag])).stdout, expected);
});
