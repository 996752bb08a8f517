/**
 * bcrypt ($2a$/$2b$/$2y$) verification, by hand: node:crypto has no
 * bcrypt and no installed package does (bcrypt-pbkdf is a different KDF).
 * This is Provos & Mazières' EksBlowfish over Blowfish.
 *
 * Blowfish's initial P-array and S-boxes are, by definition, the
 * fractional hex digits of pi; rather than carry a 1042-word table we
 * compute those digits once with Machin's formula in BigInt (~30 ms), and
 * a `Bcrypt` instance keeps them.
 */
import { timingSafeEqual, randomBytes } from 'node:crypto';

const WORDS = 18 + 4 * 256;

/** The first `WORDS` 32-bit words of pi's fractional part. */
function piWords(): Uint32Array {
  const bits = BigInt(WORDS * 32 + 64); // 64 guard bits absorb truncation error
  const one = 1n << bits;
  const atanInv = (x: bigint): bigint => {
    const x2 = x * x;
    let power = one / x; // one / x^(2k+1)
    let sum = power;
    for (let k = 1n; ; k++) {
      power /= x2;
      const t = power / (2n * k + 1n);
      if (t === 0n) break;
      sum += k % 2n === 1n ? -t : t;
    }
    return sum;
  };
  const pi = 16n * atanInv(5n) - 4n * atanInv(239n);
  const frac = (pi - 3n * one) >> 64n;
  const hex = frac.toString(16).padStart(WORDS * 8, '0');
  const out = new Uint32Array(WORDS);
  for (let i = 0; i < WORDS; i++) out[i] = parseInt(hex.slice(i * 8, i * 8 + 8), 16);
  return out;
}

const B64 = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function b64Decode(s: string, nbytes: number): Buffer | undefined {
  const out: number[] = [];
  const val = (i: number): number => (i < s.length ? B64.indexOf(s[i]!) : -1);
  let i = 0;
  while (out.length < nbytes) {
    const c1 = val(i++);
    const c2 = val(i++);
    if (c1 < 0 || c2 < 0) return undefined;
    out.push(((c1 << 2) | ((c2 & 0x30) >> 4)) & 0xff);
    if (out.length >= nbytes) break;
    const c3 = val(i++);
    if (c3 < 0) return undefined;
    out.push((((c2 & 0x0f) << 4) | ((c3 & 0x3c) >> 2)) & 0xff);
    if (out.length >= nbytes) break;
    const c4 = val(i++);
    if (c4 < 0) return undefined;
    out.push((((c3 & 0x03) << 6) | c4) & 0xff);
  }
  return Buffer.from(out);
}

function b64Encode(b: Uint8Array, n: number): string {
  let s = '';
  let i = 0;
  while (i < n) {
    let c1 = b[i++]!;
    s += B64[(c1 >> 2) & 0x3f];
    c1 = (c1 & 0x03) << 4;
    if (i >= n) {
      s += B64[c1 & 0x3f];
      break;
    }
    let c2 = b[i++]!;
    c1 |= (c2 >> 4) & 0x0f;
    s += B64[c1 & 0x3f];
    c1 = (c2 & 0x0f) << 2;
    if (i >= n) {
      s += B64[c1 & 0x3f];
      break;
    }
    c2 = b[i++]!;
    c1 |= (c2 >> 6) & 0x03;
    s += B64[c1 & 0x3f];
    s += B64[c2 & 0x3f];
  }
  return s;
}

const HASH_RE = /^\$2([aby])\$(\d\d)\$([./A-Za-z0-9]{22})([./A-Za-z0-9]{31})$/;

export class Bcrypt {
  private init: Uint32Array | undefined;

  private initial(): Uint32Array {
    this.init ??= piWords();
    return this.init;
  }

  /** The full hash string for `password` with the given cost and 16-byte salt. */
  hash(password: string, cost = 10, salt: Buffer = randomBytes(16), variant: 'a' | 'b' | 'y' = 'b'): string {
    if (cost < 4 || cost > 31 || salt.length !== 16) throw new RangeError('bcrypt: bad cost or salt');
    const raw = this.raw(password, cost, salt);
    return `$2${variant}$${String(cost).padStart(2, '0')}$${b64Encode(salt, 16)}${b64Encode(raw, 23)}`;
  }

  /** True when `password` matches `hash`; false for any malformed hash. Constant-time compare. */
  verify(password: string, hash: string): boolean {
    const m = HASH_RE.exec(hash);
    if (m === null) return false;
    const cost = Number(m[2]);
    if (cost < 4 || cost > 31) return false;
    const salt = b64Decode(m[3]!, 16);
    if (salt === undefined) return false;
    const want = Buffer.from(m[4]!);
    const got = Buffer.from(b64Encode(this.raw(password, cost, salt), 23));
    return got.length === want.length && timingSafeEqual(got, want);
  }

  private raw(password: string, cost: number, salt: Buffer): Uint8Array {
    // Key: the password's bytes with its NUL terminator, at most 72 bytes ($2b$ semantics; $2y$ and modern $2a$ agree).
    const key = Buffer.concat([Buffer.from(password, 'utf8'), Buffer.alloc(1)]).subarray(0, 72);
    const st = new Uint32Array(this.initial());
    const P = st.subarray(0, 18);
    const S = st.subarray(18);
    const lr = new Uint32Array(2);

    const encipher = (): void => {
      let l = lr[0]!;
      let r = lr[1]!;
      l ^= P[0]!;
      for (let i = 1; i <= 16; i += 2) {
        r ^= (((S[l >>> 24]! + S[256 | ((l >>> 16) & 0xff)]!) ^ S[512 | ((l >>> 8) & 0xff)]!) + S[768 | (l & 0xff)]!) ^ P[i]!;
        l ^= (((S[r >>> 24]! + S[256 | ((r >>> 16) & 0xff)]!) ^ S[512 | ((r >>> 8) & 0xff)]!) + S[768 | (r & 0xff)]!) ^ P[i + 1]!;
      }
      lr[0] = r ^ P[17]!;
      lr[1] = l;
    };

    // A cursor over `data` that yields big-endian words, wrapping around.
    const stream = (data: Uint8Array): (() => number) => {
      let off = 0;
      return () => {
        let w = 0;
        for (let k = 0; k < 4; k++) {
          w = (w << 8) | data[off]!;
          off = (off + 1) % data.length;
        }
        return w >>> 0;
      };
    };

    const expand = (k: Uint8Array, s: Uint8Array | undefined): void => {
      const kw = stream(k);
      for (let i = 0; i < 18; i++) P[i] = P[i]! ^ kw();
      const sw = s === undefined ? undefined : stream(s);
      lr[0] = 0;
      lr[1] = 0;
      for (let i = 0; i < WORDS; i += 2) {
        if (sw !== undefined) {
          lr[0] = lr[0]! ^ sw();
          lr[1] = lr[1]! ^ sw();
        }
        encipher();
        st[i] = lr[0]!;
        st[i + 1] = lr[1]!;
      }
    };

    expand(key, salt);
    const rounds = 2 ** cost;
    for (let i = 0; i < rounds; i++) {
      expand(key, undefined);
      expand(salt, undefined);
    }

    const text = Buffer.from('OrpheanBeholderScryDoubt', 'latin1');
    const cw = new Uint32Array(6);
    for (let i = 0; i < 6; i++) cw[i] = text.readUInt32BE(i * 4);
    for (let i = 0; i < 6; i += 2) {
      lr[0] = cw[i]!;
      lr[1] = cw[i + 1]!;
      for (let j = 0; j < 64; j++) encipher();
      cw[i] = lr[0]!;
      cw[i + 1] = lr[1]!;
    }
    const out = Buffer.alloc(24);
    for (let i = 0; i < 6; i++) out.writeUInt32BE(cw[i]!, i * 4);
    return out;
  }
}
