/**
 * Build benchmark: a Dockerfile with a 50 MB, 1000-file COPY and 5 RUNs,
 * built cold, fully cached, and after editing one copied file, through
 *
 *   1. `berth build` → berthd
 *   2. docker CLI 28, DOCKER_BUILDKIT=0 → berthd (the classic API path)
 *   3. docker CLI 28, DOCKER_BUILDKIT=0 → dockerd's classic builder
 *   4. Debian's /usr/bin/docker 20.10, DOCKER_BUILDKIT=1 → dockerd's BuildKit
 *
 * (3 and 4 only when /var/run/docker.sock answers; what they create there is
 * removed.) Base image: the busybox test image, loaded into each daemon.
 * `berth build` sends a folder's changed files only (the daemon keeps the
 * context between builds; src/build/synced.ts), so its cached and edited
 * figures include that; BERTH_BUILD_CONTEXT_SYNC=0 sends everything.
 *
 *   node build/bench/build.js
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, dockerdAvailable, BERTH } from '../test/helpers/daemon.js';
import { busyboxLayer, writeDockerArchive } from '../test/helpers/images.js';

const DOCKERFILE = `FROM benchbb:1
RUN echo one > /one
COPY data/ /data/
RUN ls /data | wc -l > /count
RUN du -s /data > /du
RUN cat /data/f0000.bin | wc -c > /size0
RUN echo done > /done
`;

function timed(cmd: string, args: readonly string[], env: Record<string, string>): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 << 20 });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return ms;
}

async function main(): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'berth-bench-build-'));
  const ctx = join(tmp, 'ctx');
  await mkdir(join(ctx, 'data'), { recursive: true });
  const per = Math.floor((50 * 1024 * 1024) / 1000);
  for (let i = 0; i < 1000; i++) await writeFile(join(ctx, 'data', `f${String(i).padStart(4, '0')}.bin`), randomBytes(per));
  await writeFile(join(ctx, 'Dockerfile'), DOCKERFILE);
  const archive = join(tmp, 'bb.tar');
  await writeDockerArchive(archive, [{ tags: ['benchbb:1'], layers: [await busyboxLayer()] }]);
  const d = await startDaemon();
  const results: { name: string; cold: number; cached: number; edit: number }[] = [];
  const tagBase = `benchbuild-${randomBytes(3).toString('hex')}`;
  const dockerdTags: string[] = [];
  try {
    const DOCKER = '/usr/local/bin/docker';
    timed(DOCKER, ['load', '-i', archive], { DOCKER_HOST: d.host });
    const edit = async (n: number): Promise<void> => writeFile(join(ctx, 'data', 'f0500.bin'), randomBytes(per + n));
    const runs: { name: string; cmd: string; args: (t: string, nocache: boolean) => string[]; env: Record<string, string>; dockerd: boolean }[] = [
      { name: 'berth build → berthd', cmd: BERTH, args: (t, nc) => ['build', ...(nc ? ['--no-cache'] : []), '-q', '-t', t, ctx], env: { DOCKER_HOST: d.host }, dockerd: false },
      { name: 'docker 28 classic → berthd', cmd: DOCKER, args: (t, nc) => ['build', ...(nc ? ['--no-cache'] : []), '-q', '-t', t, ctx], env: { DOCKER_HOST: d.host, DOCKER_BUILDKIT: '0' }, dockerd: false },
    ];
    if (await dockerdAvailable()) {
      timed(DOCKER, ['load', '-i', archive], { DOCKER_HOST: 'unix:///var/run/docker.sock' });
      runs.push(
        { name: 'docker 28 classic → dockerd', cmd: DOCKER, args: (t, nc) => ['build', ...(nc ? ['--no-cache'] : []), '-q', '-t', t, ctx], env: { DOCKER_HOST: 'unix:///var/run/docker.sock', DOCKER_BUILDKIT: '0' }, dockerd: true },
        { name: 'docker 20.10 BuildKit → dockerd', cmd: '/usr/bin/docker', args: (t, nc) => ['build', ...(nc ? ['--no-cache'] : []), '-q', '-t', t, ctx], env: { DOCKER_HOST: 'unix:///var/run/docker.sock', DOCKER_BUILDKIT: '1' }, dockerd: true },
      );
    }
    // One untimed build of the same context per daemon first: whichever path
    // is timed first would otherwise also pay the daemon's first container
    // start, first 50 MB layer and cold caches (~1-2 s on berthd).
    for (const r of runs) if (r.name.startsWith('docker 28')) timed(DOCKER, ['build', '--no-cache', '-q', '-t', `${tagBase}-warm`, ctx], r.env);
    if (await dockerdAvailable()) dockerdTags.push(`${tagBase}-warm`);
    let n = 0;
    for (const r of runs) {
      const t = `${tagBase}-${n++}`;
      if (r.dockerd) dockerdTags.push(t);
      await edit(n);
      const cold = timed(r.cmd, r.args(t, true), r.env);
      const cached = timed(r.cmd, r.args(t, false), r.env);
      await edit(n + 100);
      const ed = timed(r.cmd, r.args(t, false), r.env);
      results.push({ name: r.name, cold, cached, edit: ed });
    }
  } finally {
    for (const t of dockerdTags) spawnSync('/usr/local/bin/docker', ['-H', 'unix:///var/run/docker.sock', 'rmi', '-f', t], { stdio: 'ignore' });
    if (dockerdTags.length > 0) {
      spawnSync('/usr/local/bin/docker', ['-H', 'unix:///var/run/docker.sock', 'rmi', '-f', 'benchbb:1'], { stdio: 'ignore' });
      spawnSync('/usr/local/bin/docker', ['-H', 'unix:///var/run/docker.sock', 'image', 'prune', '-f'], { stdio: 'ignore' });
      spawnSync('/usr/bin/docker', ['-H', 'unix:///var/run/docker.sock', 'builder', 'prune', '-af'], { stdio: 'ignore', env: { ...process.env, DOCKER_BUILDKIT: '1' } });
    }
    await d.stop();
    await rm(tmp, { recursive: true, force: true });
  }
  const pad = (s: string, n: number): string => s.padEnd(n);
  const f = (ms: number): string => `${(ms / 1000).toFixed(2)} s`.padStart(9);
  console.log(`${pad('path (5 RUN, 50 MB / 1000-file COPY)', 36)}${'cold'.padStart(9)}${'cached'.padStart(9)}${'1 edit'.padStart(9)}`);
  for (const r of results) console.log(`${pad(r.name, 36)}${f(r.cold)}${f(r.cached)}${f(r.edit)}`);
  const base = results[0]!;
  for (const r of results.slice(1)) {
    console.log(`ratio ${r.name} / berth build: cold ${(r.cold / base.cold).toFixed(2)}x, cached ${(r.cached / base.cached).toFixed(2)}x, edit ${(r.edit / base.edit).toFixed(2)}x`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
