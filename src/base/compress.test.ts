import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { autoDecompress, compressStream, decompressStream, detectCompression } from './compress.js';
import { InvalidArgumentError } from './errors.js';

async function through(input: Buffer, ...streams: NodeJS.ReadWriteStream[]): Promise<Buffer> {
  const out: Buffer[] = [];
  const parts: Buffer[] = [];
  for (let i = 0; i < input.length; i += 7000) parts.push(input.subarray(i, i + 7000));
  await pipeline(
    Readable.from(parts),
    ...(streams as [NodeJS.ReadWriteStream]),
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

// Compressible but not trivial.
const data = Buffer.concat(Array.from({ length: 200 }, (_, i) => Buffer.concat([Buffer.from(`line ${i} `.repeat(50)), randomBytes(64)])));

describe('compress', () => {
  it('detects formats from the first bytes', () => {
    assert.equal(detectCompression(Buffer.from([0x1f, 0x8b, 8, 0])), 'gzip');
    assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
    assert.equal(detectCompression(Buffer.from('ustar')), 'none');
    assert.equal(detectCompression(Buffer.alloc(0)), 'none');
  });

  for (const kind of ['gzip', 'zstd'] as const) {
    it(`${kind}: roundtrips, and autoDecompress recognises it`, async () => {
      const z = await through(data, compressStream(kind, 3));
      assert.equal(detectCompression(z), kind);
      assert.ok((await through(z, decompressStream(kind))).equals(data));
      assert.ok((await through(z, autoDecompress())).equals(data));
    });
    it(`${kind}: corrupt or truncated input fails with InvalidArgumentError`, async () => {
      const z = await through(data, compressStream(kind));
      const bad = Buffer.from(z);
      bad.fill(0x55, 20, 200);
      await assert.rejects(through(bad, decompressStream(kind)), InvalidArgumentError);
      await assert.rejects(through(z.subarray(0, z.length >> 1), autoDecompress()), InvalidArgumentError);
    });
  }

  it('autoDecompress passes plain data (and tiny inputs) through', async () => {
    assert.ok((await through(data, autoDecompress())).equals(data));
    assert.ok((await through(Buffer.from('ab'), autoDecompress())).equals(Buffer.from('ab')));
    assert.ok((await through(Buffer.alloc(0), autoDecompress())).equals(Buffer.alloc(0)));
    assert.ok((await through(gzipSync(Buffer.from('hi')), autoDecompress())).equals(Buffer.from('hi')));
  });
});
