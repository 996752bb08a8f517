/**
 * Logging drivers as clients see them: the default is reported as
 * "json-file" (docker-py's containers.run returns a container's output only
 * for json-file or journald), "none" keeps nothing and `docker logs` says so
 * in dockerd's words, an unknown driver is refused at create.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../src/base/exec.js';
import { startDaemon, docker, type TestDaemon } from './helpers/daemon.js';
import { loadBusybox } from './helpers/images.js';

let d: TestDaemon;
const IMG = 'bb-logging:1';
const names: string[] = [];

before(async () => {
  d = await startDaemon();
  await loadBusybox(d.host, IMG);
});

after(async () => {
  if (names.length > 0) await docker(d.host, ['rm', '-f', ...names]);
  await d?.stop();
});

test('default driver is json-file; none keeps nothing; unknown drivers are refused', async () => {
  names.push('log-default', 'log-none');
  assert.equal((await docker(d.host, ['run', '--name', 'log-default', IMG, 'echo', 'kept'])).stdout, 'kept\n');
  assert.equal((await docker(d.host, ['inspect', '-f', '{{.HostConfig.LogConfig.Type}}', 'log-default'])).stdout, 'json-file\n');
  assert.equal((await docker(d.host, ['logs', 'log-default'])).stdout, 'kept\n');

  // the output still reaches an attached client; nothing is stored
  assert.equal((await docker(d.host, ['run', '--name', 'log-none', '--log-driver', 'none', IMG, 'echo', 'gone'])).stdout, 'gone\n');
  assert.equal((await docker(d.host, ['inspect', '-f', '{{.HostConfig.LogConfig.Type}}|{{.LogPath}}|', 'log-none'])).stdout, 'none||\n');
  const logs = await docker(d.host, ['logs', 'log-none']);
  assert.notEqual(logs.code, 0);
  assert.match(logs.stderr, /configured logging driver does not support reading/);

  const bad = await docker(d.host, ['run', '--rm', '--log-driver', 'nosuch', IMG, 'true']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /error looking up logging plugin nosuch: plugin "nosuch" not found/);
});

// docker-py comes with Debian's docker-compose (python3-docker)
const py = await run('/usr/bin/python3', ['-c', 'import docker'], { allowFailure: true }).catch(() => ({ code: 1 }));
test('docker-py: containers.run returns the output', { skip: py.code !== 0 && 'python3-docker is not installed' }, async () => {
  const script = `import docker, sys\nc = docker.DockerClient(base_url=sys.argv[1])\nsys.stdout.write(repr(c.containers.run(sys.argv[2], ['echo', 'from-docker-py'], remove=True)))\n`;
  const r = await run('/usr/bin/python3', ['-c', script, d.host, IMG], { allowFailure: true });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "b'from-docker-py\\n'");
});
