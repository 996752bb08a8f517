import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { collectSystemFacts, systemRoutes, type SystemFacts } from './system.js';
import { startTestServer, httpCall, type TestServer } from '../testkit.js';

const exec = promisify(execFile);
const DOCKER = '/usr/local/bin/docker';

let srv: TestServer;
let facts: SystemFacts;
before(async () => {
  facts = await collectSystemFacts({ version: '0.1.0', id: 'BRTH:TEST:0000', rootDir: '/var/lib/berth', gitCommit: 'deadbee', buildTime: '2026-11-28T00:00:00.000000000+00:00' });
  srv = await startTestServer(systemRoutes({ facts, source: { counts: async () => ({ containers: 4, running: 1, paused: 0, stopped: 3, images: 11 }) } }), { version: '0.1.0' });
});
after(async () => {
  await srv.close();
});

function docker(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return exec(DOCKER, args, { env: { ...process.env, DOCKER_HOST: `unix://${srv.socketPath}`, DOCKER_CONFIG: srv.dir }, timeout: 20_000 });
}

test('facts are read from the host once', () => {
  assert.match(facts.kernelVersion, /^\d+\.\d+/);
  assert.ok(facts.ncpu >= 1);
  assert.ok(facts.memTotal > 0);
  assert.ok(facts.operatingSystem.length > 0);
  assert.ok(facts.cgroupVersion === '1' || facts.cgroupVersion === '2');
});

test('/version and /info shapes', async () => {
  const v = JSON.parse((await httpCall(srv.socketPath, 'GET', '/version')).text()) as Record<string, unknown>;
  assert.equal(v['ApiVersion'], '1.41');
  assert.equal(v['MinAPIVersion'], '1.12');
  assert.deepEqual(v['Platform'], { Name: 'Berth' });
  const comps = v['Components'] as Array<{ Name: string; Details: Record<string, string> }>;
  assert.equal(comps[0]?.Name, 'Engine');
  assert.equal(comps[0]?.Details['GoVersion'], `node ${process.version}`);
  const i = JSON.parse((await httpCall(srv.socketPath, 'GET', '/v1.41/info')).text()) as Record<string, unknown>;
  assert.equal(i['Containers'], 4);
  assert.equal(i['ContainersStopped'], 3);
  assert.equal(i['Images'], 11);
  assert.deepEqual(i['Runtimes'], { runc: { path: 'runc' } });
  assert.equal((i['Swarm'] as Record<string, unknown>)['LocalNodeState'], 'inactive');
  assert.equal(i['IndexServerAddress'], 'https://index.docker.io/v1/');
  assert.equal(i['OSType'], 'linux');
  assert.match(String(i['SystemTime']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
});

test('docker version (real CLI 28)', { skip: !existsSync(DOCKER) }, async () => {
  const { stdout } = await docker('version');
  assert.match(stdout, /Server:/);
  assert.match(stdout, /Engine:\n\s+Version:\s+0\.1\.0\n/);
  assert.match(stdout, /API version:\s+1\.41 \(minimum version 1\.12\)/);
  assert.match(stdout, /Go version:\s+node v\d+/);
  assert.match(stdout, /OS\/Arch:\s+linux\/\w+/);
  assert.match(stdout, /Experimental:\s+false/);
});

test('docker info (real CLI 28)', { skip: !existsSync(DOCKER) }, async () => {
  const { stdout } = await docker('info');
  assert.match(stdout, /Containers: 4\n\s+Running: 1\n\s+Paused: 0\n\s+Stopped: 3\n\s+Images: 11/);
  assert.match(stdout, /Server Version: 0\.1\.0/);
  assert.match(stdout, /Storage Driver: overlay2/);
  assert.match(stdout, /Cgroup Driver: cgroupfs/);
  assert.match(stdout, /Swarm: inactive/);
  assert.match(stdout, /Default Runtime: runc/);
  assert.match(stdout, new RegExp(`Name: ${facts.name}`));
  assert.match(stdout, /Docker Root Dir: \/var\/lib\/berth/);
  assert.doesNotMatch(stdout, /ERROR|error during connect/);
  const { stdout: fmt } = await docker('info', '--format', '{{.NCPU}} {{.OSType}} {{.ID}}');
  assert.equal(fmt.trim(), `${facts.ncpu} linux BRTH:TEST:0000`);
});
