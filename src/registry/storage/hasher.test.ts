import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileHasher } from './hasher.js';

test('hashes a growing file on worker threads, from byte 0 for a resumed upload, in any algorithm', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-hasher-'));
  const h = new FileHasher(2);
  try {
    const parts = [randomBytes(3 << 20), randomBytes(1), randomBytes(5 << 20)];
    const all = Buffer.concat(parts);
    const f = join(dir, 'a');
    await writeFile(f, '');
    let size = 0;
    for (const p of parts) {
      await appendFile(f, p);
      size += p.length;
      h.update('a', 'sha256', f, size);
    }
    assert.deepEqual(await h.digest('a'), { size: all.length, hex: createHash('sha256').update(all).digest('hex') });
    // A session found on disk (after a restart): one report of its size hashes all of it.
    h.update('b', 'sha256', f, all.length);
    assert.equal((await h.digest('b')).hex, createHash('sha256').update(all).digest('hex'));
    // Switching algorithm starts over.
    h.update('c', 'sha256', f, 10);
    h.update('c', 'sha512', f, all.length);
    assert.equal((await h.digest('c')).hex, createHash('sha512').update(all).digest('hex'));
    // A file shorter than reported is an error, not a digest of less.
    h.update('d', 'sha256', f, all.length + 1);
    await assert.rejects(h.digest('d'), /shorter than reported/);
    // Batches handed over as written: moved when owned (and then detached here), copied otherwise; a
    // first batch that starts past byte 0 makes the worker read the earlier bytes from the file.
    const owned = [Buffer.from(all.subarray(4 << 20, 6 << 20)), Buffer.from(all.subarray(6 << 20))];
    h.feed('f', 'sha256', f, 4 << 20, owned, true);
    assert.equal(owned[0]!.length, 0, 'an owned buffer moves to the worker');
    assert.equal((await h.digest('f')).hex, createHash('sha256').update(all).digest('hex'));
    const shared = all.subarray(0, 1 << 20);
    h.feed('g', 'sha256', f, 0, [shared], true);
    h.feed('g', 'sha256', f, 1 << 20, [all.subarray(1 << 20)], false);
    assert.equal(shared.length, 1 << 20, 'a view into a larger buffer is copied, not moved');
    assert.equal((await h.digest('g')).hex, createHash('sha256').update(all).digest('hex'));
    // Dropped and unknown uploads have no digest.
    h.update('e', 'sha256', f, 5);
    h.drop('e');
    assert.equal(h.has('e'), false);
    await assert.rejects(h.digest('e'), /no hash/);
    // Many uploads at once spread over the workers and stay apart.
    const files = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const data = randomBytes(100_000 + i);
        await writeFile(join(dir, `m${i}`), data);
        h.update(`m${i}`, 'sha256', join(dir, `m${i}`), data.length);
        return data;
      }),
    );
    const got = await Promise.all(files.map((_, i) => h.digest(`m${i}`)));
    assert.deepEqual(got.map((g) => g.hex), files.map((d) => createHash('sha256').update(d).digest('hex')));
  } finally {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  }
});
