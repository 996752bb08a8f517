/**
 * ChainIDs (OCI image-spec config.md): the identity of a layer stack, so a
 * snapshot of layers L0..Ln can be shared by every image with that prefix.
 *   ChainID(L0) = DiffID(L0)
 *   ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))
 */
import { createHash } from 'node:crypto';
import { parseDigest, type Digest } from '../base/digest.js';

function step(parent: Digest, diffId: Digest): Digest {
  return `sha256:${createHash('sha256').update(`${parent} ${diffId}`).digest('hex')}` as Digest;
}

/** The ChainID of every prefix of `diffIds`: result[i] identifies layers 0..i. */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  let prev: Digest | undefined;
  for (const d of diffIds) {
    // Re-validate: callers may hold strings cast to Digest from old metadata.
    const diff = parseDigest(d);
    prev = prev === undefined ? diff : step(prev, diff);
    out.push(prev);
  }
  return out;
}

/** The ChainID of the whole stack, or undefined for an image with no layers. */
export function chainId(diffIds: readonly Digest[]): Digest | undefined {
  return chainIds(diffIds).at(-1);
}
