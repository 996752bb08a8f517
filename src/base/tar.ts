/**
 * A minimal tar reader and header writer (ustar + PAX + GNU long names).
 *
 * Why not tar-stream here: it decodes PAX values as UTF-8, which corrupts
 * binary xattr values (security.capability), and it cannot write them
 * either. Layers need both. The reader follows Go's archive/tar, because
 * that is what produced (and what dockerd accepts for) almost every layer:
 * header-only types carry no data whatever their size field says, a stream
 * that ends at a header boundary is a valid end, and errors use Go's words.
 */
import { InvalidArgumentError } from './errors.js';

export type TarType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarHeader {
  /** As stored: not normalised. */
  name: string;
  type: TarType;
  /** Permission bits including setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (PAX may give fractions). */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** From PAX `SCHILY.xattr.<name>` records; values are raw bytes. */
  xattrs: Map<string, Buffer>;
}

const BLOCK = 512;
/** PAX and GNU long-name bodies are metadata: never more than this (as Go's maxSpecialFileSize). */
const MAX_SPECIAL = 1024 * 1024;
const XATTR_PREFIX = 'SCHILY.xattr.';

export const ERR_HEADER = 'archive/tar: invalid tar header';
export const ERR_EOF = 'unexpected EOF';

function invalid(msg: string): InvalidArgumentError {
  return new InvalidArgumentError(msg);
}

/** Pulls chunks from an async iterator and hands out exact byte ranges. */
class ByteSource {
  private cur: Buffer = Buffer.alloc(0);
  private off = 0;
  private eof = false;
  constructor(private readonly it: AsyncIterator<Buffer | string>) {}

  private async fill(): Promise<boolean> {
    while (this.off >= this.cur.length) {
      if (this.eof) return false;
      const r = await this.it.next();
      if (r.done === true) {
        this.eof = true;
        return false;
      }
      this.cur = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      this.off = 0;
    }
    return true;
  }

  /** Up to `max` bytes (at least one) without copying; undefined at EOF. */
  async some(max: number): Promise<Buffer | undefined> {
    if (!(await this.fill())) return undefined;
    const n = Math.min(max, this.cur.length - this.off);
    const b = this.cur.subarray(this.off, this.off + n);
    this.off += n;
    return b;
  }

  /** Exactly n bytes (copied only when they straddle chunks); short: what was there. */
  async exact(n: number): Promise<Buffer> {
    const first = await this.some(n);
    if (first === undefined) return Buffer.alloc(0);
    if (first.length === n) return first;
    const parts = [first];
    let got = first.length;
    while (got < n) {
      const b = await this.some(n - got);
      if (b === undefined) break;
      parts.push(b);
      got += b.length;
    }
    return Buffer.concat(parts, got);
  }

  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const b = await this.some(left);
      if (b === undefined) break;
      left -= b.length;
    }
    return n - left;
  }

  async drain(): Promise<void> {
    this.off = this.cur.length;
    for (;;) {
      const r = await this.it.next();
      if (r.done === true) break;
    }
    this.eof = true;
  }
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function cstr(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return (z === -1 ? s : s.subarray(0, z)).toString('utf8');
}

function num(b: Buffer, off: number, len: number): number {
  const f = b.subarray(off, off + len);
  if (f.length > 0 && (f[0]! & 0x80) !== 0) {
    // GNU base-256: big-endian two's complement, first byte's top bit is the marker.
    if ((f[0]! & 0x40) !== 0) throw invalid(ERR_HEADER);
    let v = f[0]! & 0x7f;
    for (let i = 1; i < f.length; i++) {
      v = v * 256 + f[i]!;
      if (v > Number.MAX_SAFE_INTEGER) throw invalid(ERR_HEADER);
    }
    return v;
  }
  const s = f.toString('latin1').replace(/[\0 ]+$/, '').replace(/^[ \0]+/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw invalid(ERR_HEADER);
  return parseInt(s, 8);
}

function checksumOk(b: Buffer): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 32 : b[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  let stored: number;
  try {
    stored = num(b, 148, 8);
  } catch {
    return false;
  }
  return stored === unsigned || stored === signed;
}

/** PAX records: "<len> <key>=<value>\n"; values kept as bytes. */
function parsePax(body: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < body.length) {
    const sp = body.indexOf(0x20, off);
    if (sp === -1 || sp - off > 20) throw invalid(ERR_HEADER);
    const len = Number(body.toString('latin1', off, sp));
    if (!Number.isInteger(len) || len <= sp - off + 1 || off + len > body.length || body[off + len - 1] !== 0x0a) {
      throw invalid(ERR_HEADER);
    }
    const rec = body.subarray(sp + 1, off + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw invalid(ERR_HEADER);
    out.set(rec.toString('utf8', 0, eq), rec.subarray(eq + 1));
    off += len;
  }
  return out;
}

/**
 * Whether `b` starts with a ustar/GNU tar header with a valid checksum: a
 * cheap sniff for "this blob is an uncompressed tar" (old v7 tars, which
 * have no magic, say no).
 */
export function looksLikeTarHeader(b: Buffer): boolean {
  if (b.length < BLOCK) return false;
  if (b.toString('latin1', 257, 262) !== 'ustar') return false;
  return checksumOk(b.subarray(0, BLOCK));
}

export interface TarReaderOptions {
  /** Entries declaring more data than this are refused. */
  maxEntrySize: number;
}

/**
 * Reads entries one at a time: `next()` gives a header, `data()` its bytes
 * (consumed or not, `next()` skips whatever is left).
 */
export class TarReader {
  private readonly src: ByteSource;
  private remaining = 0;
  private padding = 0;
  private done = false;

  constructor(source: AsyncIterable<Buffer | string>, private readonly opts: TarReaderOptions) {
    this.src = new ByteSource(source[Symbol.asyncIterator]());
  }

  private async block(): Promise<Buffer | undefined> {
    const b = await this.src.exact(BLOCK);
    if (b.length === 0) return undefined;
    if (b.length < BLOCK) throw invalid(ERR_EOF);
    return b;
  }

  private async special(size: number): Promise<Buffer> {
    if (size > MAX_SPECIAL) throw invalid(`${ERR_HEADER}: metadata entry of ${size} bytes`);
    const body = await this.src.exact(size);
    if (body.length < size) throw invalid(ERR_EOF);
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if ((await this.src.skip(pad)) < pad) throw invalid(ERR_EOF);
    return body;
  }

  async next(): Promise<TarHeader | undefined> {
    if (this.done) return undefined;
    const skip = this.remaining + this.padding;
    if (skip > 0) {
      if ((await this.src.skip(skip)) < skip) throw invalid(ERR_EOF);
      this.remaining = 0;
      this.padding = 0;
    }
    let pax: Map<string, Buffer> | undefined;
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const b = await this.block();
      if (b === undefined) {
        // Go accepts a stream that stops at a header boundary as the end.
        if (pax !== undefined || longName !== undefined || longLink !== undefined) throw invalid(ERR_EOF);
        this.done = true;
        return undefined;
      }
      if (isZero(b)) {
        const b2 = await this.block();
        if (b2 !== undefined && !isZero(b2)) throw invalid(ERR_HEADER);
        this.done = true;
        return undefined;
      }
      if (!checksumOk(b)) throw invalid(ERR_HEADER);
      const flag = String.fromCharCode(b[156]!);
      const size = num(b, 124, 12);
      if (flag === 'x') {
        const recs = parsePax(await this.special(size));
        pax = pax === undefined ? recs : new Map([...pax, ...recs]);
        continue;
      }
      if (flag === 'g') {
        // Global headers apply to nothing Docker uses; Go returns and Docker ignores them.
        await this.special(size);
        continue;
      }
      if (flag === 'L' || flag === 'K') {
        const s = cstr(await this.special(size), 0, size);
        if (flag === 'L') longName = s;
        else longLink = s;
        continue;
      }

      const magic = b.toString('latin1', 257, 263);
      let name = cstr(b, 0, 100);
      if (magic === 'ustar\0') {
        const prefix = cstr(b, 345, 155);
        if (prefix !== '') name = `${prefix}/${name}`;
      }
      let type: TarType;
      switch (flag) {
        case '0': case '\0': case '7':
          type = name.endsWith('/') ? 'dir' : 'file';
          break;
        case '1': type = 'link'; break;
        case '2': type = 'symlink'; break;
        case '3': type = 'char'; break;
        case '4': type = 'block'; break;
        case '5': type = 'dir'; break;
        case '6': type = 'fifo'; break;
        default:
          throw invalid(`unhandled tar header type ${JSON.stringify(flag)} for ${JSON.stringify(name)}`);
      }
      const h: TarHeader = {
        name,
        type,
        mode: num(b, 100, 8) & 0o7777,
        uid: num(b, 108, 8),
        gid: num(b, 116, 8),
        size,
        mtime: num(b, 136, 12),
        linkname: cstr(b, 157, 100),
        devmajor: type === 'char' || type === 'block' ? num(b, 329, 8) : 0,
        devminor: type === 'char' || type === 'block' ? num(b, 337, 8) : 0,
        xattrs: new Map(),
      };
      if (longName !== undefined) h.name = longName;
      if (longLink !== undefined) h.linkname = longLink;
      if (pax !== undefined) {
        for (const [k, v] of pax) {
          const s = (): string => v.toString('utf8');
          const int = (): number => {
            if (!/^[0-9]+$/.test(s())) throw invalid(`${ERR_HEADER}: bad PAX ${k}`);
            return Number(s());
          };
          if (k === 'path') h.name = s();
          else if (k === 'linkpath') h.linkname = s();
          else if (k === 'size') h.size = int();
          else if (k === 'uid') h.uid = int();
          else if (k === 'gid') h.gid = int();
          else if (k === 'mtime') {
            const t = Number(s());
            if (!Number.isFinite(t)) throw invalid(`${ERR_HEADER}: bad PAX mtime`);
            h.mtime = t;
          } else if (k.startsWith(XATTR_PREFIX)) h.xattrs.set(k.slice(XATTR_PREFIX.length), v);
        }
      }
      if (type === 'file' && h.name.endsWith('/')) h.type = 'dir';
      // Go: these types never carry data, whatever the size field says.
      const dataSize = h.type === 'file' ? h.size : 0;
      if (!Number.isSafeInteger(h.size) || h.size < 0) throw invalid(ERR_HEADER);
      if (dataSize > this.opts.maxEntrySize) {
        throw invalid(`tar entry ${JSON.stringify(h.name)} declares ${h.size} bytes, more than the limit of ${this.opts.maxEntrySize}`);
      }
      this.remaining = dataSize;
      this.padding = (BLOCK - (dataSize % BLOCK)) % BLOCK;
      return h;
    }
  }

  /** The current entry's bytes as zero-copy slices of the input chunks. */
  async *data(): AsyncGenerator<Buffer> {
    while (this.remaining > 0) {
      const b = await this.src.some(this.remaining);
      if (b === undefined) throw invalid(ERR_EOF);
      this.remaining -= b.length;
      yield b;
    }
  }

  /** Consumes whatever follows the end of the archive, so a caller's hash covers the whole stream. */
  async drain(): Promise<void> {
    await this.src.drain();
  }
}

// ---------------------------------------------------------------- writing

export interface TarWriteHeader {
  name: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: ReadonlyMap<string, Buffer>;
}

const TYPE_FLAG: Record<TarType, string> = { file: '0', link: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };

function putStr(b: Buffer, s: string, off: number, len: number): void {
  b.write(s, off, len, 'utf8');
}
function putOct(b: Buffer, v: number, off: number, len: number): void {
  b.write(v.toString(8).padStart(len - 1, '0') + '\0', off, len, 'latin1');
}

function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  // The length counts its own digits.
  let len = rest.length + 1;
  while (String(len).length + rest.length !== len) len = String(len).length + rest.length;
  return Buffer.concat([Buffer.from(String(len), 'latin1'), rest]);
}

function rawHeader(h: { name: string; flag: string; mode: number; uid: number; gid: number; size: number; mtime: number; linkname: string; devmajor: number; devminor: number }): Buffer {
  const b = Buffer.alloc(BLOCK);
  putStr(b, h.name, 0, 100);
  putOct(b, h.mode, 100, 8);
  putOct(b, h.uid, 108, 8);
  putOct(b, h.gid, 116, 8);
  putOct(b, h.size, 124, 12);
  putOct(b, h.mtime, 136, 12);
  b.fill(0x20, 148, 156);
  b.write(h.flag, 156, 1, 'latin1');
  putStr(b, h.linkname, 157, 100);
  b.write('ustar\x0000', 257, 8, 'latin1');
  putOct(b, h.devmajor, 329, 8);
  putOct(b, h.devminor, 337, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return b;
}

function padded(body: Buffer): Buffer[] {
  const pad = (BLOCK - (body.length % BLOCK)) % BLOCK;
  return pad === 0 ? [body] : [body, Buffer.alloc(pad)];
}

const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

/**
 * The header block(s) of one entry: a PAX header first when a value does not
 * fit ustar (long or non-ASCII names, big sizes or IDs, xattrs). Data and its
 * padding are the caller's (see `tarPadding`).
 */
export function encodeHeader(h: TarWriteHeader): Buffer[] {
  const recs: Buffer[] = [];
  const linkname = h.linkname ?? '';
  const ascii = (s: string): boolean => /^[\x01-\x7f]*$/.test(s);
  let name = h.name;
  if (Buffer.byteLength(name) > 100 || !ascii(name)) {
    recs.push(paxRecord('path', Buffer.from(name, 'utf8')));
    name = Buffer.from(name).subarray(0, 100).toString('latin1').replace(/[^\x01-\x7f]/g, '_');
  }
  let link = linkname;
  if (Buffer.byteLength(link) > 100 || !ascii(link)) {
    recs.push(paxRecord('linkpath', Buffer.from(link, 'utf8')));
    link = Buffer.from(link).subarray(0, 100).toString('latin1').replace(/[^\x01-\x7f]/g, '_');
  }
  let size = h.size;
  if (size > MAX_OCTAL_11) {
    recs.push(paxRecord('size', Buffer.from(String(size))));
    size = 0;
  }
  let uid = h.uid;
  if (uid > MAX_OCTAL_7) {
    recs.push(paxRecord('uid', Buffer.from(String(uid))));
    uid = 0;
  }
  let gid = h.gid;
  if (gid > MAX_OCTAL_7) {
    recs.push(paxRecord('gid', Buffer.from(String(gid))));
    gid = 0;
  }
  const mtime = Math.max(0, Math.min(Math.floor(h.mtime), MAX_OCTAL_11));
  if (h.xattrs !== undefined) {
    for (const k of [...h.xattrs.keys()].sort()) recs.push(paxRecord(XATTR_PREFIX + k, h.xattrs.get(k)!));
  }
  const out: Buffer[] = [];
  if (recs.length > 0) {
    const body = Buffer.concat(recs);
    const paxName = `PaxHeaders.0/${Buffer.from(name).subarray(0, 80).toString('latin1')}`.replace(/[^\x01-\x7f]/g, '_');
    out.push(rawHeader({ name: paxName, flag: 'x', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime, linkname: '', devmajor: 0, devminor: 0 }));
    out.push(...padded(body));
  }
  out.push(
    rawHeader({
      name,
      flag: TYPE_FLAG[h.type],
      mode: h.mode & 0o7777,
      uid,
      gid,
      size: h.type === 'file' ? size : 0,
      mtime,
      linkname: link,
      devmajor: h.devmajor ?? 0,
      devminor: h.devminor ?? 0,
    }),
  );
  return out;
}

/** Zero bytes that complete an entry of `size` bytes to a block. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The two zero blocks that end an archive. */
export function tarTrailer(): Buffer {
  return Buffer.alloc(2 * BLOCK);
}

/** A read header as a header to write again (filters that pass entries through). */
export function toWriteHeader(h: TarHeader): TarWriteHeader {
  const w: TarWriteHeader = { name: h.name, type: h.type, mode: h.mode, uid: h.uid, gid: h.gid, size: h.type === 'file' ? h.size : 0, mtime: Math.floor(h.mtime) };
  if (h.linkname !== '') w.linkname = h.linkname;
  if (h.type === 'char' || h.type === 'block') {
    w.devmajor = h.devmajor;
    w.devminor = h.devminor;
  }
  if (h.xattrs.size > 0) w.xattrs = h.xattrs;
  return w;
}

/** Major and minor numbers of a Linux dev_t (stat's rdev), for device entries. */
export function devMajor(rdev: number): number {
  return ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
}
export function devMinor(rdev: number): number {
  return (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
}

/** Re-emits the entry `reader` just returned: its header(s), bytes and padding. */
export async function* copyEntry(reader: TarReader, h: TarHeader): AsyncGenerator<Buffer> {
  for (const b of encodeHeader(toWriteHeader(h))) yield b;
  if (h.type === 'file' && h.size > 0) {
    for await (const b of reader.data()) yield b;
    const pad = tarPadding(h.size);
    if (pad.length > 0) yield pad;
  }
}
