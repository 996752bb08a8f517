import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Digest } from '../base/digest.js';
import { InvalidArgumentError } from '../base/errors.js';
import { chainId, chainIds } from './chain.js';

const d = (c: string): Digest => `sha256:${c.repeat(64)}` as Digest;
const sha = (s: string): string => `sha256:${createHash('sha256').update(s).digest('hex')}`;

test('ChainID per the OCI spec', () => {
  assert.deepEqual(chainIds([]), []);
  assert.equal(chainId([]), undefined);
  assert.deepEqual(chainIds([d('a')]), [d('a')]);
  const c1 = sha(`${d('a')} ${d('b')}`);
  const c2 = sha(`${c1} ${d('c')}`);
  assert.deepEqual(chainIds([d('a'), d('b'), d('c')]), [d('a'), c1, c2]);
  assert.equal(chainId([d('a'), d('b'), d('c')]), c2);
});

test('a known vector', () => {
  // Two layers; the value is sha256 of the exact string "<L0> <L1>".
  const l0 = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef' as Digest;
  const l1 = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' as Digest;
  // Computed independently: printf '%s' '<L0> <L1>' | sha256sum
  assert.equal(chainId([l0, l1]), 'sha256:33b3e894f3d840843a86495314bf58ac707860d3553f5535922e180a451dc751');
});

test('rejects strings that are not digests', () => {
  assert.throws(() => chainIds(['nope' as Digest]), InvalidArgumentError);
});
