/**
 * Runc.start given the init pid: runc's start protocol done in-process (the
 * exec fifo), against real runc + conmon containers. Needs root; every
 * container is removed in `after`.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readLogs } from './logs.js';
import { RuntimeTestEnv } from './testing.js';

const canRun = process.getuid?.() === 0;

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<never>((_, rej) => {
      t = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

describe('Runc.start through the exec fifo', { skip: !canRun && 'needs root' }, () => {
  let env: RuntimeTestEnv;
  before(async () => {
    env = await RuntimeTestEnv.create();
  });
  after(async () => {
    await env?.cleanup();
  });

  it('runs the process, leaves runc seeing it running, and a second start fails', async () => {
    const c = await env.create({ Cmd: ['sh', '-c', 'echo started; sleep 100'] });
    const fifo = join(env.runc.root, c.id, 'exec.fifo');
    assert.ok(existsSync(fifo), 'runc keeps the fifo while the container is created');
    assert.equal((await env.runc.state(c.id)).status, 'created');
    await within(env.runc.start(c.id, c.pid), 5000, 'start');
    assert.ok(!existsSync(fifo));
    assert.equal((await env.runc.state(c.id)).status, 'running');
    // Already started: no fifo, so runc answers (and refuses).
    await assert.rejects(env.runc.start(c.id, c.pid), /cannot start|not created|already/i);
    await env.runc.kill(c.id, 'KILL');
    assert.equal((await within(env.conmon.waitExit(c.id, c.bundle), 10000, 'exit')).exitCode, 137);
    let out = '';
    for await (const m of readLogs(env.logPath(c.id))) out += m.data.toString();
    assert.equal(out, 'started\n');
  });

  it('reports an init that died before start instead of waiting forever', async () => {
    const c = await env.create({ Cmd: ['true'] });
    process.kill(c.pid, 'SIGKILL');
    await assert.rejects(within(env.runc.start(c.id, c.pid), 5000, 'start of a dead container'), /already dead|not running|cannot start/i);
  });
});
