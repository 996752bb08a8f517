import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Sys } from '../base/sys.js';
import { ContextStore } from './synced.js';

const key = 'a'.repeat(64);
const f = (n: string): Record<string, unknown> => ({ n, t: 'f', m: 0o644, s: 1, mt: '1', ct: '1', i: '1' });

test('kept contexts: manifest names must be clean and unique; every file is needed at first', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-synced-'));
  try {
    const store = new ContextStore(new Sys(), dir);
    await assert.rejects(store.plan({ key, entries: [f('../x')] }));
    await assert.rejects(store.plan({ key, entries: [f('a/../b')] }));
    await assert.rejects(store.plan({ key, entries: [f('x'), f('x')] }));
    await assert.rejects(store.plan({ key: 'nothex', entries: [] }));
    const p = await store.plan({ key, entries: [{ n: 'd', t: 'd', m: 0o755, s: 0, mt: '1', ct: '1', i: '2' }, f('d/x')] });
    assert.deepEqual(p.need, ['d/x']);
    await assert.rejects(store.open('nosuchtoken', Readable.from([]), undefined));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
