import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError, NotFoundError } from '../base/errors.js';
import { LeaseManager } from './leases.js';

describe('LeaseManager', () => {
  it('protects added resources until release', () => {
    const m = new LeaseManager();
    const l = m.create({ expiresInMs: 60_000 });
    assert.match(l.id, /^lease-[0-9a-f]{16}$/);
    l.add('sha256:aa');
    l.add('snapshot/key-1');
    assert.equal(m.isLeased('sha256:aa'), true);
    assert.equal(m.isLeased('snapshot/key-1'), true);
    assert.equal(m.isLeased('sha256:bb'), false);
    assert.deepEqual([...m.leasedResources()].sort(), ['sha256:aa', 'snapshot/key-1']);
    l.release();
    l.release(); // idempotent
    assert.equal(l.released, true);
    assert.equal(m.isLeased('sha256:aa'), false);
    assert.throws(() => l.add('x'), InvalidArgumentError);
    assert.throws(() => m.get(l.id), NotFoundError);
  });

  it('expires without timers, and renew extends', () => {
    let now = 1_000;
    const m = new LeaseManager({ now: () => now });
    const a = m.create({ expiresInMs: 100 });
    const b = m.create({ expiresInMs: 100, id: 'b' });
    a.add('r');
    b.add('r2');
    now = 1_050;
    b.renew(100);
    now = 1_120;
    assert.equal(m.isLeased('r'), false);
    assert.equal(m.isLeased('r2'), true);
    assert.throws(() => m.get(a.id), NotFoundError);
    assert.deepEqual(m.list().map((l) => l.id), ['b']);
    assert.equal(b.expiresAt.getTime(), 1_150);
  });

  it('a resource stays leased while any lease holds it', () => {
    const m = new LeaseManager();
    const a = m.create({ expiresInMs: 1000 });
    const b = m.create({ expiresInMs: 1000 });
    a.add('x');
    b.add('x');
    a.release();
    assert.equal(m.isLeased('x'), true);
    m.addResource(b.id, 'y');
    assert.equal(m.isLeased('y'), true);
    b.release();
    assert.equal(m.isLeased('x'), false);
  });

  it('releases on scope exit with await using and using, even on throw', async () => {
    const m = new LeaseManager();
    {
      await using l = m.create({ expiresInMs: 1000 });
      l.add('scoped');
      assert.equal(m.isLeased('scoped'), true);
    }
    assert.equal(m.isLeased('scoped'), false);
    await assert.rejects(async () => {
      await using l = m.create({ expiresInMs: 1000 });
      l.add('thrown');
      throw new Error('boom');
    }, /boom/);
    assert.equal(m.isLeased('thrown'), false);
    {
      using l = m.create({ expiresInMs: 1000 });
      l.add('sync');
    }
    assert.equal(m.isLeased('sync'), false);
  });

  it('validates its inputs', () => {
    const m = new LeaseManager();
    assert.throws(() => m.create({ expiresInMs: 0 }), InvalidArgumentError);
    assert.throws(() => m.create({ expiresInMs: Number.NaN }), InvalidArgumentError);
    m.create({ expiresInMs: 10, id: 'dup' });
    assert.throws(() => m.create({ expiresInMs: 10, id: 'dup' }), InvalidArgumentError);
    assert.throws(() => m.create({ expiresInMs: 10 }).add(''), InvalidArgumentError);
    assert.throws(() => m.addResource('missing', 'x'), NotFoundError);
  });
});
