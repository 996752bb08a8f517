import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { parallelGzip } from './pgzip.js';

async function gz(input: Buffer, opts: Parameters<typeof parallelGzip>[1] = {}, chunk = 100_000): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < input.length; i += chunk) parts.push(input.subarray(i, i + chunk));
  const out: Buffer[] = [];
  for await (const c of parallelGzip(Readable.from(parts), opts)) out.push(c as Buffer);
  return Buffer.concat(out);
}

test('round-trips compressible, random, empty and odd-sized inputs through gunzip', async () => {
  const text = Buffer.from('the quick brown fox jumps over the lazy dog\n'.repeat(100_000));
  const rnd = randomBytes(3 * 1024 * 1024 + 17);
  const mixed = Buffer.concat([text.subarray(0, 1_500_000), rnd.subarray(0, 1_200_000), text.subarray(0, 700_000)]);
  for (const input of [text, rnd, mixed, Buffer.alloc(0), Buffer.from('x')]) {
    const out = await gz(input, { blockSize: 256 * 1024 });
    assert.ok(gunzipSync(out).equals(input), `round trip of ${input.length} bytes`);
  }
  const small = await gz(text);
  assert.ok(small.length < text.length / 20, 'text compresses');
  const big = await gz(rnd);
  assert.ok(big.length < rnd.length * 1.01, 'random data is stored, not inflated');
});

test('is deterministic and counts its input', async () => {
  const input = Buffer.concat([randomBytes(700_000), Buffer.alloc(2_000_000, 7)]);
  let seen = 0;
  const a = await gz(input, { onInput: (n) => (seen += n) });
  const b = await gz(input, {}, 65_536);
  assert.equal(seen, input.length);
  assert.equal(createHash('sha256').update(a).digest('hex'), createHash('sha256').update(b).digest('hex'));
});
