/**
 * The registry's model over a StorageDriver: blobs linked into
 * repositories, upload sessions, manifests, tags and referrers. Handlers
 * speak only to this; it speaks only to the driver.
 *
 * This process is assumed to be the only writer of manifests and tags in
 * its root (as with Distribution), which is what makes the in-memory caches
 * of tag → digest and digest → {size, mediaType} safe: every mutation goes
 * through here and updates them. The garbage collector never removes a
 * manifest that a repository links, so it cannot make these caches stale.
 */
import { createHash, randomUUID, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { digestAlgorithm, type Digest, type DigestAlgorithm } from '../../base/digest.js';
import { KeyedMutex } from '../../base/mutex.js';
import type { Logger } from '../../base/log.js';
import type { Descriptor } from '../../oci/types.js';
import { RegistryError } from '../errors.js';
import { parseManifest, referrerDescriptor, type ParsedManifest } from '../manifest.js';
import type { StorageDriver } from './driver.js';
import { FileHasher } from './hasher.js';
import * as L from './layout.js';

export interface ManifestMeta {
  readonly digest: Digest;
  readonly size: number;
  readonly mediaType: string;
  /** Precomputed header value, so the HEAD path allocates nothing per request. */
  readonly sizeHeader: string;
}

export interface UploadState {
  uuid: string;
  /** Bytes received so far. */
  size: number;
  startedAt: string;
}

/** A Map with a size bound that forgets the least recently set entries. */
class BoundedMap<K, V> {
  private readonly m = new Map<K, V>();
  constructor(private readonly max: number) {}
  get(k: K): V | undefined {
    return this.m.get(k);
  }
  set(k: K, v: V): void {
    if (this.m.has(k)) this.m.delete(k);
    else if (this.m.size >= this.max) {
      const first = this.m.keys().next();
      if (first.done !== true) this.m.delete(first.value);
    }
    this.m.set(k, v);
  }
  delete(k: K): void {
    this.m.delete(k);
  }
  deleteWhere(pred: (k: K, v: V) => boolean): void {
    for (const [k, v] of this.m) if (pred(k, v)) this.m.delete(k);
  }
}

interface HashState {
  hash: Hash;
  alg: DigestAlgorithm;
  size: number;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isUploadId(s: string): boolean {
  return UUID_RE.test(s);
}

export interface RegistryStoreOptions {
  log: Logger;
  /** Entries in each manifest cache. */
  cacheSize?: number;
  /**
   * Worker threads that hash uploads (drivers with local files only); 0,
   * the default, hashes each chunk on the main thread as it arrives.
   */
  hashThreads?: number;
}

export class RegistryStore {
  private readonly log: Logger;
  /** `name\0ref` (ref a tag or digest) → manifest metadata. */
  private readonly manifests: BoundedMap<string, ManifestMeta>;
  /** referrer digest → its descriptor in a referrers index. */
  private readonly referrerDescs: BoundedMap<string, Descriptor>;
  /** Running hashes of uploads, so a commit need not re-read what already flowed through. */
  private readonly hashes = new Map<string, HashState>();
  /** Upload digests on worker threads, when configured. */
  private readonly hasher: FileHasher | undefined;
  /** Serialises work per upload, per repository's manifests, and per blob digest (GC vs commit). */
  readonly locks = new KeyedMutex();

  constructor(
    readonly driver: StorageDriver,
    opts: RegistryStoreOptions,
  ) {
    this.log = opts.log;
    this.manifests = new BoundedMap(opts.cacheSize ?? 100_000);
    this.referrerDescs = new BoundedMap(opts.cacheSize ?? 100_000);
    const threads = opts.hashThreads ?? 0;
    this.hasher = threads > 0 && driver.localPath !== undefined ? new FileHasher(threads) : undefined;
  }

  /** Stops the hash workers. */
  async close(): Promise<void> {
    await this.hasher?.close();
  }

  // ---- repositories ----

  /** A directory on the way to a nested repository ('a' of 'a/b') is not a repository itself. */
  async repoExists(name: string): Promise<boolean> {
    const [m, l] = await Promise.all([this.driver.stat(`${L.repoDir(name)}/_manifests`), this.driver.stat(`${L.repoDir(name)}/_layers`)]);
    return m !== undefined || l !== undefined;
  }

  /** Every repository name, sorted. A repository is a directory holding `_manifests` or `_layers`. */
  async catalog(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (prefix: string, key: string): Promise<void> => {
      const names = await this.driver.list(key);
      if (names.includes('_manifests') || names.includes('_layers')) out.push(prefix);
      for (const n of names) {
        if (n.startsWith('_') || n.startsWith('.')) continue;
        const st = await this.driver.stat(`${key}/${n}`);
        if (st?.isDir === true) await walk(prefix === '' ? n : `${prefix}/${n}`, `${key}/${n}`);
      }
    };
    await walk('', L.REPOS);
    return out.filter((n) => n !== '').sort();
  }

  // ---- blobs ----

  /** The blob's size when `digest` is linked into `name` and its content exists. */
  async blobStat(name: string, digest: Digest): Promise<number | undefined> {
    const [link, data] = await Promise.all([this.driver.stat(L.layerLink(name, digest)), this.driver.stat(L.blobData(digest))]);
    if (link === undefined || data === undefined) return undefined;
    return data.size;
  }

  async globalBlobSize(digest: Digest): Promise<number | undefined> {
    return (await this.driver.stat(L.blobData(digest)))?.size;
  }

  blobReader(digest: Digest, start?: number, end?: number): Readable {
    return this.driver.reader(L.blobData(digest), start, end);
  }

  /**
   * The blob's open file when the driver has files (the sendfile path),
   * else undefined (stream `blobReader` instead). Rejects when absent.
   * A subclass that serves blobs from elsewhere by overriding blobReader
   * gets undefined here unless it overrides this too, so the two never
   * disagree about where a blob's bytes are.
   */
  async blobFile(digest: Digest): Promise<FileHandle | undefined> {
    if (this.driver.open === undefined || this.blobReader !== RegistryStore.prototype.blobReader) return undefined;
    return this.driver.open(L.blobData(digest));
  }

  async linkBlob(name: string, digest: Digest): Promise<void> {
    await this.driver.put(L.layerLink(name, digest), digest);
  }

  /** Removes the repository's link; the content stays until GC finds it unreferenced. */
  async unlinkBlob(name: string, digest: Digest): Promise<boolean> {
    if ((await this.driver.stat(L.layerLink(name, digest))) === undefined) return false;
    await this.driver.delete(L.layerLink(name, digest).replace(/\/link$/, ''));
    return true;
  }

  /** Cross-repository mount: links into `name` a blob that `from` links. */
  async mountBlob(name: string, from: string, digest: Digest): Promise<number | undefined> {
    const size = await this.blobStat(from, digest);
    if (size === undefined) return undefined;
    await this.locks.run(`blob\0${digest}`, async () => {
      await this.driver.touch(L.blobData(digest));
      await this.linkBlob(name, digest);
    });
    return size;
  }

  // ---- uploads ----

  async startUpload(name: string): Promise<UploadState> {
    const uuid = randomUUID();
    const startedAt = new Date().toISOString();
    await this.driver.put(L.uploadStarted(name, uuid), startedAt);
    await this.driver.put(L.uploadData(name, uuid), '');
    return { uuid, size: 0, startedAt };
  }

  async uploadStatus(name: string, uuid: string): Promise<UploadState | undefined> {
    if (!isUploadId(uuid)) return undefined;
    const [started, data] = await Promise.all([this.driver.get(L.uploadStarted(name, uuid)), this.driver.stat(L.uploadData(name, uuid))]);
    if (started === undefined || data === undefined) return undefined;
    return { uuid, size: data.size, startedAt: started.toString() };
  }

  private async mustUpload(name: string, uuid: string): Promise<UploadState> {
    const st = await this.uploadStatus(name, uuid);
    if (st === undefined) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', { uuid });
    return st;
  }

  /**
   * Appends a chunk. `start` (from Content-Range) must equal the bytes
   * received so far, else 416 — chunks arrive in order or not at all.
   * `length`, when given, must match the bytes that arrive.
   */
  async appendUpload(
    name: string,
    uuid: string,
    src: Readable,
    range?: { start: number; end: number },
    length?: number,
  ): Promise<UploadState> {
    return this.locks.run(`upload\0${uuid}`, async () => {
      const st = await this.mustUpload(name, uuid);
      if (range !== undefined && range.start !== st.size) {
        src.resume();
        throw new RegistryError('BLOB_UPLOAD_INVALID', `chunk starts at ${range.start} but ${st.size} bytes were received`, {
          status: 416,
          message: 'Requested Range Not Satisfiable',
        });
      }
      const key = `${name}\0${uuid}`;
      const file = L.uploadData(name, uuid);
      const w = await this.driver.writer(file);
      let n = 0;
      let after: number;
      const hasher = this.hasher;
      const path = this.driver.localPath?.(file);
      if (hasher !== undefined && path !== undefined) {
        // The HTTP parser's body buffers belong to this upload alone, so they can move to the worker uncopied.
        const owned = src instanceof IncomingMessage;
        const feed = (size: number, bufs: Buffer[]): void => {
          let len = 0;
          for (const b of bufs) len += b.length;
          hasher.feed(key, 'sha256', path, size - len, bufs, owned);
        };
        try {
          n = await w.append(src, undefined, feed);
        } finally {
          await w.close();
        }
        after = (await this.driver.stat(file))?.size ?? 0;
        // Also covers a session resumed after a restart: its worker hashes the file from byte 0.
        hasher.update(key, 'sha256', path, after);
      } else {
        let hs = this.hashes.get(key);
        if (hs !== undefined && hs.size !== st.size) hs = undefined;
        if (hs === undefined && st.size === 0) hs = { hash: createHash('sha256'), alg: 'sha256', size: 0 };
        const state = hs;
        try {
          n = await w.append(src, state === undefined ? undefined : (b) => state.hash.update(b));
        } finally {
          await w.close();
        }
        // A hash that saw bytes the file did not keep (a broken write) is useless: drop it and re-read at commit.
        after = (await this.driver.stat(file))?.size ?? 0;
        if (state !== undefined && state.size + n === after) {
          state.size = after;
          this.hashes.set(key, state);
        } else {
          this.hashes.delete(key);
        }
      }
      if (length !== undefined && n !== length) {
        throw new RegistryError('SIZE_INVALID', `Content-Length ${length} but ${n} bytes arrived`);
      }
      if (range !== undefined && range.end - range.start + 1 !== n) {
        throw new RegistryError('BLOB_UPLOAD_INVALID', `Content-Range ${range.start}-${range.end} but ${n} bytes arrived`, {
          status: 416,
          message: 'Requested Range Not Satisfiable',
        });
      }
      return { ...st, size: after };
    });
  }

  /**
   * Closes a session: verifies the digest of everything received, then
   * renames the data into the blob store and links it. On a mismatch the
   * session and its bytes are dropped and nothing is stored.
   */
  async commitUpload(name: string, uuid: string, expect: Digest): Promise<number> {
    return this.locks.run(`upload\0${uuid}`, async () => {
      const st = await this.mustUpload(name, uuid);
      const key = `${name}\0${uuid}`;
      const alg = digestAlgorithm(expect);
      let got: Digest | undefined;
      const path = this.driver.localPath?.(L.uploadData(name, uuid));
      if (this.hasher !== undefined && path !== undefined) {
        // Bytes not hashed yet (or another algorithm: a fresh pass) are read by the worker now.
        this.hasher.update(key, alg, path, st.size);
        const r = await this.hasher.digest(key).catch((e: unknown) => {
          this.log.warn('hash worker failed; hashing the upload here', { err: e });
          return undefined;
        });
        if (r !== undefined && r.size === st.size) got = `${alg}:${r.hex}` as Digest;
      } else {
        const hs = this.hashes.get(key);
        if (hs !== undefined && hs.size === st.size && hs.alg === alg) got = `${alg}:${hs.hash.digest('hex')}` as Digest;
      }
      if (got === undefined) {
        // After a restart (or a broken chunk) the running hash is gone: re-read what is on disk.
        const h = createHash(alg);
        for await (const chunk of this.driver.reader(L.uploadData(name, uuid))) h.update(chunk as Buffer);
        got = `${alg}:${h.digest('hex')}` as Digest;
      }
      this.hashes.delete(key);
      if (got !== expect) {
        await this.driver.delete(L.uploadDir(name, uuid));
        throw new RegistryError('DIGEST_INVALID', { expected: expect, actual: got });
      }
      await this.locks.run(`blob\0${expect}`, async () => {
        if ((await this.driver.stat(L.blobData(expect))) !== undefined) {
          // Already stored (another repository, or a concurrent upload): keep that copy, restart its grace period.
          await this.driver.touch(L.blobData(expect));
        } else {
          await this.driver.move(L.uploadData(name, uuid), L.blobData(expect));
        }
        await this.linkBlob(name, expect);
      });
      await this.driver.delete(L.uploadDir(name, uuid));
      return st.size;
    });
  }

  async cancelUpload(name: string, uuid: string): Promise<boolean> {
    return this.locks.run(`upload\0${uuid}`, async () => {
      if ((await this.uploadStatus(name, uuid)) === undefined) return false;
      this.hashes.delete(`${name}\0${uuid}`);
      this.hasher?.drop(`${name}\0${uuid}`);
      await this.driver.delete(L.uploadDir(name, uuid));
      return true;
    });
  }

  // ---- manifests ----

  /** Synchronous cache probe for the HEAD/GET fast path. */
  cachedManifest(name: string, ref: string): ManifestMeta | undefined {
    return this.manifests.get(`${name}\0${ref}`);
  }

  private static parseLink(buf: Buffer): { digest: Digest; mediaType?: string } | undefined {
    const lines = buf.toString().split('\n');
    const d = lines[0]?.trim() ?? '';
    if (!/^(sha256|sha512):[a-f0-9]+$/.test(d)) return undefined;
    const mt = lines[1]?.trim();
    return mt !== undefined && mt !== '' ? { digest: d as Digest, mediaType: mt } : { digest: d as Digest };
  }

  private async resolveDigest(name: string, digest: Digest): Promise<ManifestMeta | undefined> {
    const link = await this.driver.get(L.revisionLink(name, digest));
    if (link === undefined) return undefined;
    const parsed = RegistryStore.parseLink(link);
    const st = await this.driver.stat(L.blobData(digest));
    if (st === undefined) return undefined;
    let mediaType = parsed?.mediaType;
    if (mediaType === undefined) {
      const body = await this.driver.get(L.blobData(digest));
      mediaType = body === undefined ? 'application/octet-stream' : parseManifest(body, undefined).mediaType;
    }
    return { digest, size: st.size, mediaType, sizeHeader: String(st.size) };
  }

  /** Resolves a tag or digest in `name`, through the cache. */
  async getManifest(name: string, ref: string, isDigestRef: boolean): Promise<ManifestMeta | undefined> {
    const ck = `${name}\0${ref}`;
    const hit = this.manifests.get(ck);
    if (hit !== undefined) return hit;
    let meta: ManifestMeta | undefined;
    if (isDigestRef) {
      meta = await this.resolveDigest(name, ref as Digest);
    } else {
      const link = await this.driver.get(L.tagLink(name, ref));
      const parsed = link === undefined ? undefined : RegistryStore.parseLink(link);
      if (parsed !== undefined) meta = this.manifests.get(`${name}\0${parsed.digest}`) ?? (await this.resolveDigest(name, parsed.digest));
    }
    if (meta !== undefined) {
      this.manifests.set(ck, meta);
      if (!isDigestRef) this.manifests.set(`${name}\0${meta.digest}`, meta);
    }
    return meta;
  }

  async readManifest(digest: Digest): Promise<Buffer | undefined> {
    return this.driver.get(L.blobData(digest));
  }

  async manifestExists(name: string, digest: Digest): Promise<boolean> {
    return (await this.getManifest(name, digest, true)) !== undefined;
  }

  /**
   * Stores a manifest after checking everything it references is in the
   * repository. Returns its digest and parsed form.
   */
  async putManifest(
    name: string,
    ref: { tag?: string; digest?: Digest },
    body: Buffer,
    contentType: string | undefined,
  ): Promise<{ digest: Digest; parsed: ParsedManifest }> {
    const parsed = parseManifest(body, contentType);
    const alg: DigestAlgorithm = ref.digest !== undefined ? digestAlgorithm(ref.digest) : 'sha256';
    const digest = `${alg}:${createHash(alg).update(body).digest('hex')}` as Digest;
    if (ref.digest !== undefined && ref.digest !== digest) {
      throw new RegistryError('DIGEST_INVALID', { expected: ref.digest, actual: digest });
    }
    const missing = (await Promise.all(parsed.blobs.map(async (b) => ((await this.blobStat(name, b.digest)) === undefined ? b : undefined)))).find(
      (b) => b !== undefined,
    );
    if (missing !== undefined) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', { digest: missing.digest });
    for (const c of parsed.children) {
      if (!(await this.manifestExists(name, c.digest))) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', { digest: c.digest });
    }
    // Referenced blobs get a fresh mtime, so a GC sweeping concurrently sees them inside its grace period.
    await Promise.all(parsed.blobs.map((b) => this.driver.touch(L.blobData(b.digest))));

    await this.locks.run(`manifests\0${name}`, async () => {
      await this.locks.run(`blob\0${digest}`, async () => {
        if ((await this.driver.stat(L.blobData(digest))) === undefined) await this.driver.put(L.blobData(digest), body);
        else await this.driver.touch(L.blobData(digest));
      });
      await this.driver.put(L.revisionLink(name, digest), `${digest}\n${parsed.mediaType}\n`);
      if (parsed.subject !== undefined) await this.driver.put(L.referrerLink(name, parsed.subject.digest, digest), digest);
      const meta: ManifestMeta = { digest, size: body.length, mediaType: parsed.mediaType, sizeHeader: String(body.length) };
      this.manifests.set(`${name}\0${digest}`, meta);
      if (ref.tag !== undefined) {
        await this.driver.put(L.tagLink(name, ref.tag), digest);
        this.manifests.set(`${name}\0${ref.tag}`, meta);
      }
    });
    return { digest, parsed };
  }

  /** Deletes a manifest revision, every tag pointing at it, and its referrer entry. */
  async deleteManifest(name: string, digest: Digest): Promise<boolean> {
    return this.locks.run(`manifests\0${name}`, async () => {
      if ((await this.driver.stat(L.revisionLink(name, digest))) === undefined) return false;
      const body = await this.driver.get(L.blobData(digest));
      let subject: Digest | undefined;
      if (body !== undefined) {
        try {
          subject = parseManifest(body, undefined).subject?.digest;
        } catch {
          subject = undefined;
        }
      }
      for (const tag of await this.driver.list(L.tagsDir(name))) {
        const link = await this.driver.get(L.tagLink(name, tag));
        if (link !== undefined && RegistryStore.parseLink(link)?.digest === digest) await this.driver.delete(`${L.tagsDir(name)}/${tag}`);
      }
      if (subject !== undefined) await this.driver.delete(L.referrerLink(name, subject, digest).replace(/\/link$/, ''));
      await this.driver.delete(L.revisionLink(name, digest).replace(/\/link$/, ''));
      const prefix = `${name}\0`;
      this.manifests.deleteWhere((k, v) => k.startsWith(prefix) && v.digest === digest);
      return true;
    });
  }

  async deleteTag(name: string, tag: string): Promise<boolean> {
    return this.locks.run(`manifests\0${name}`, async () => {
      if ((await this.driver.stat(L.tagLink(name, tag))) === undefined) return false;
      await this.driver.delete(`${L.tagsDir(name)}/${tag}`);
      this.manifests.delete(`${name}\0${tag}`);
      return true;
    });
  }

  /** Sorted tags, or undefined when the repository does not exist. */
  async tags(name: string): Promise<string[] | undefined> {
    if (!(await this.repoExists(name))) return undefined;
    const names = await this.driver.list(L.tagsDir(name));
    const present = await Promise.all(names.map(async (t) => ((await this.driver.stat(L.tagLink(name, t))) !== undefined ? t : undefined)));
    return present.filter((t): t is string => t !== undefined).sort();
  }

  /** Descriptors of manifests in `name` whose subject is `subject`, sorted by digest for stable paging. */
  async referrers(name: string, subject: Digest): Promise<Descriptor[]> {
    const dir = L.referrersDir(name, subject);
    const out: Descriptor[] = [];
    for (const alg of await this.driver.list(dir)) {
      for (const hex of await this.driver.list(`${dir}/${alg}`)) {
        const d = `${alg}:${hex}` as Digest;
        let desc = this.referrerDescs.get(d);
        if (desc === undefined) {
          const meta = await this.getManifest(name, d, true);
          if (meta === undefined) continue;
          const body = await this.driver.get(L.blobData(d));
          if (body === undefined) continue;
          try {
            desc = referrerDescriptor(parseManifest(body, meta.mediaType), d, body.length);
          } catch (e) {
            this.log.warn('unparseable referrer manifest', { digest: d, err: e });
            continue;
          }
          this.referrerDescs.set(d, desc);
        }
        out.push(desc);
      }
    }
    return out.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  }
}
