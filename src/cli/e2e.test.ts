/**
 * End-to-end: the built CLI (dist/berth.js) against the reference dockerd,
 * compared byte for byte with the real docker CLI. Skipped when there is no
 * /var/run/docker.sock (or no docker binary, or no build).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const SOCK = '/var/run/docker.sock';
const BERTH = resolve('dist/berth.js');
const DOCKER = '/usr/local/bin/docker';
const env = { ...process.env, DOCKER_HOST: `unix://${SOCK}`, BERTH_HOST: '' };
const skip = !existsSync(SOCK) ? 'no /var/run/docker.sock' : !existsSync(BERTH) ? 'dist/berth.js not built' : !existsSync(DOCKER) ? 'no docker CLI' : false;

interface Run { stdout: string; stderr: string; status: number | null }

function berth(...args: string[]): Run {
  const r = spawnSync(process.execPath, [BERTH, ...args], { env, encoding: 'utf8' });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}
function docker(...args: string[]): Run {
  const r = spawnSync(DOCKER, args, { env, encoding: 'utf8' });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}
/** Docker prints its own name in usage errors; berth prints its own. */
const rename = (s: string): string => s.replace(/\bdocker\b/g, 'berth');

/**
 * Image lists are sorted by creation second; for images created in the same
 * second docker's own order is arbitrary (Go's unstable sort), so list rows
 * are compared as a set, the header (first line) exactly.
 */
function rows(out: string, unordered: boolean, headless: boolean): string {
  if (!unordered) return out;
  const lines = out.split('\n');
  if (headless) return lines.sort().join('\n');
  const head = lines.shift() ?? '';
  return [head, ...lines.sort()].join('\n');
}

function same(...args: string[]): void {
  const unordered = args[0] === 'images' && !args.includes('--format');
  // "N minutes ago" can tick between the two runs: retry once.
  for (let attempt = 0; ; attempt++) {
    const b = berth(...args);
    const d = docker(...args);
    try {
      assert.equal(rows(b.stdout, unordered, args.includes('-q')), rows(d.stdout, unordered, args.includes('-q')));
      assert.equal(b.stderr, rename(d.stderr));
      assert.equal(b.status, d.status);
      return;
    } catch (e) {
      if (attempt > 0) throw e;
    }
  }
}

test('images', { skip }, () => same('images'));
test('images -q', { skip }, () => same('images', '-q'));
test('images -a --digests', { skip }, () => same('images', '-a', '--digests'));
test('images --format repo:tag', { skip }, () => same('images', '--format', '{{.Repository}}:{{.Tag}}'));
test('images --format json', { skip }, () => same('images', '--format', 'json'));
test('images --format table', { skip }, () => same('images', '--format', 'table {{.ID}}\\t{{.Repository}}\\t{{.Size}}'));
test('images filter and reference', { skip }, () => {
  same('images', '-f', 'dangling=true', '-a', '-q');
  same('images', 'busybox');
});
test('image inspect busybox:local', { skip }, () => same('image', 'inspect', 'busybox:local'));
test('image inspect with a format', { skip }, () => same('image', 'inspect', '-f', '{{.Id}} {{json .Config.Cmd}} {{.Config.Cmd}} {{.Size}}', 'busybox:local'));
test('image inspect missing', { skip }, () => same('image', 'inspect', 'nosuch'));
test('inspect falls back to images', { skip }, () => same('inspect', 'busybox:local'));
test('history busybox:local', { skip }, () => {
  same('history', 'busybox:local');
  same('history', '--no-trunc', 'busybox:local');
  same('history', '-H=false', '-q', 'busybox:local');
});
test('system df', { skip }, () => {
  same('system', 'df');
  same('system', 'df', '-v');
});
test('flag and argument errors', { skip }, () => {
  same('images', '--nope');
  same('images', 'a', 'b');
  same('tag', 'a');
  same('images', '-f');
});

test('tag + rmi', { skip }, () => {
  const t = berth('tag', 'busybox:local', 'berth-e2e/tagged:v1');
  assert.equal(t.status, 0, t.stderr);
  assert.match(docker('images', '--format', '{{.Repository}}:{{.Tag}}').stdout, /berth-e2e\/tagged:v1/);
  const r = berth('rmi', 'berth-e2e/tagged:v1');
  assert.equal(r.stdout, 'Untagged: berth-e2e/tagged:v1\n');
  assert.equal(r.status, 0);
  same('rmi', 'berth-e2e/tagged:v1');
  same('tag', 'busybox:local', 'Bad:x');
});

test('save -o + load -i roundtrip', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-e2e-'));
  try {
    assert.equal(berth('tag', 'busybox:local', 'berth-e2e/saved:v1').status, 0);
    const s = berth('save', '-o', join(dir, 'b.tar'), 'berth-e2e/saved:v1');
    assert.equal(s.status, 0, s.stderr);
    assert.equal(docker('save', '-o', join(dir, 'd.tar'), 'berth-e2e/saved:v1').status, 0);
    assert.ok(readFileSync(join(dir, 'b.tar')).equals(readFileSync(join(dir, 'd.tar'))));
    assert.equal(berth('rmi', 'berth-e2e/saved:v1').status, 0);
    const l = berth('load', '-i', join(dir, 'b.tar'));
    assert.equal(l.stdout, 'Loaded image: berth-e2e/saved:v1\n');
    assert.equal(l.status, 0, l.stderr);
    assert.equal(berth('rmi', 'berth-e2e/saved:v1').status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unreachable daemon', { skip }, () => {
  const r = spawnSync(process.execPath, [BERTH, '-H', 'unix:///nonexistent.sock', 'images'], { env, encoding: 'utf8' });
  assert.equal(r.stderr, 'Cannot connect to the Docker daemon at unix:///nonexistent.sock. Is the docker daemon running?\n');
  assert.equal(r.status, 1);
});
