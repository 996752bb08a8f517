import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { InvalidArgumentError } from './errors.js';

declare const digestBrand: unique symbol;
/** `algorithm:hex`, validated. sha256 everywhere; sha512 accepted. */
export type Digest = string & { readonly [digestBrand]: 'Digest' };

export type DigestAlgorithm = 'sha256' | 'sha512';
const HEX_LEN: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const DIGEST_RE = /^(sha256|sha512):([a-f0-9]+)$/;

export function isDigest(s: string): s is Digest {
  const m = DIGEST_RE.exec(s);
  return m !== null && m[2]!.length === HEX_LEN[m[1] as DigestAlgorithm];
}

/** Validates a digest string; Docker's wording for a bad one. */
export function parseDigest(s: string): Digest {
  if (!isDigest(s)) {
    if (/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:/.test(s) && !/^(sha256|sha512):/.test(s)) {
      throw new InvalidArgumentError(`unsupported digest algorithm: ${s}`);
    }
    throw new InvalidArgumentError(`invalid checksum digest format`);
  }
  return s;
}

export function digestAlgorithm(d: Digest): DigestAlgorithm {
  return d.slice(0, d.indexOf(':')) as DigestAlgorithm;
}
export function digestHex(d: Digest): string {
  return d.slice(d.indexOf(':') + 1);
}
/** First 12 hex characters: Docker's short ID. */
export function shortId(d: Digest | string): string {
  const i = d.indexOf(':');
  return d.slice(i + 1, i + 13);
}

export function digestOf(data: Buffer | string, alg: DigestAlgorithm = 'sha256'): Digest {
  return `${alg}:${createHash(alg).update(data).digest('hex')}` as Digest;
}

/**
 * A pass-through stream that hashes and counts what flows through it. Pass
 * `expect` to fail the stream at its end when the digest or size differ, so
 * a pipeline never commits unverified bytes.
 */
export class DigestStream extends Transform {
  private readonly hash: Hash;
  private n = 0;
  private result: Digest | undefined;
  constructor(
    readonly algorithm: DigestAlgorithm = 'sha256',
    private readonly expect?: { digest?: Digest; size?: number },
  ) {
    super();
    this.hash = createHash(algorithm);
  }
  get size(): number {
    return this.n;
  }
  /** Available after the stream has ended. */
  get digest(): Digest {
    if (this.result === undefined) throw new Error('digest read before the stream ended');
    return this.result;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.n += chunk.length;
    const max = this.expect?.size;
    if (max !== undefined && this.n > max) {
      cb(new InvalidArgumentError(`content is larger than its declared size ${max}`));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    this.result = `${this.algorithm}:${this.hash.digest('hex')}` as Digest;
    const e = this.expect;
    if (e?.size !== undefined && this.n !== e.size) {
      cb(new InvalidArgumentError(`size mismatch: expected ${e.size} bytes, got ${this.n}`));
      return;
    }
    if (e?.digest !== undefined && this.result !== e.digest) {
      cb(new InvalidArgumentError(`digest mismatch: expected ${e.digest}, got ${this.result}`));
      return;
    }
    cb();
  }
}
