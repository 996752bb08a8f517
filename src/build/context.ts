/**
 * The build context: the request body (a tar, plain or compressed; the
 * docker CLI sends x-tar chunked, docker-py `application/tar` with PAX
 * headers, so nothing dispatches on Content-Type) extracted into a private
 * temp directory with the layer extractor's safety rules (no `..`, no
 * writing through symlinks), then the Dockerfile and the .dockerignore read
 * from it. The directory is removed by `dispose`.
 *
 * The files' contents are hashed while the tar streams in (by the
 * extractor, in its one pass over the bytes), so a COPY's cache key does not read
 * the context again: after extraction each hashed file's inode is recorded
 * with its size, mtime and ctime, and a COPY source whose lstat matches all
 * of them is that very file, unchanged since (any write or chmod moves
 * ctime), so its recorded digest stands for its bytes. Anything else is
 * read and hashed as before. Keys stay content-based either way.
 */
import type { Stats } from 'node:fs';
import { lstat, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { autoDecompress } from '../base/compress.js';
import { InvalidArgumentError, errnoCode } from '../base/errors.js';
import type { Sys } from '../base/sys.js';
import { ensureDir } from '../base/fsutil.js';
import { applyTar } from '../snapshots/unpack.js';
import { resolveInRoot } from '../runtime/user.js';
import { IgnoreMatcher, parseDockerignore } from '../base/dockerignore.js';

export class BuildContext {
  private constructor(
    readonly root: string,
    readonly ignore: IgnoreMatcher,
    readonly dockerfile: string,
    readonly dockerfileName: string,
  ) {}

  /** Extracts `body` under `tmpRoot` and reads `dockerfileName` (default Dockerfile). */
  static async fromTar(sys: Sys, tmpRoot: string, body: Readable, dockerfileName: string | undefined): Promise<BuildContext> {
    await ensureDir(tmpRoot, 0o700);
    const root = await mkdtemp(join(tmpRoot, 'ctx-'));
    try {
      const byName = await extractHashed(sys, root, body);
      const c = await BuildContext.open(root, dockerfileName, async () => rm(root, { recursive: true, force: true }));
      if (byName !== undefined) await c.recordDigests(byName);
      return c;
    } catch (e) {
      await rm(root, { recursive: true, force: true });
      throw e;
    }
  }

  private disposer: (() => Promise<void>) | undefined;
  /** `dev:ino` → the file's stat when recorded and the sha256 of its bytes. */
  private readonly digests = new Map<string, { size: number; mtimeMs: number; ctimeMs: number; digest: string }>();

  /** Records the inodes of the extracted regular files whose digest is known (a walk of real directories: nothing outside the root is looked at). */
  async recordDigests(byName: ReadonlyMap<string, string>): Promise<void> {
    const walk = async (dir: string, rel: string): Promise<void> => {
      for (const d of await readdir(dir, { withFileTypes: true })) {
        const r = rel === '' ? d.name : `${rel}/${d.name}`;
        if (d.isDirectory()) await walk(join(dir, d.name), r);
        else if (d.isFile()) {
          const digest = byName.get(r);
          if (digest === undefined) continue;
          const st = await lstat(join(dir, d.name));
          if (st.isFile()) this.digests.set(`${st.dev}:${st.ino}`, { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, digest });
        }
      }
    };
    await walk(this.root, '');
  }

  /** Vouches for one file (see `digestOf`): `st` is its lstat now, `digest` the sha256 of its bytes. */
  addDigest(st: Stats, digest: string): void {
    this.digests.set(`${st.dev}:${st.ino}`, { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, digest });
  }

  /** The sha256 (hex) of a context file's bytes when `st` is a recorded, unchanged file of this context. */
  digestOf(st: Stats): string | undefined {
    if (!st.isFile()) return undefined;
    const r = this.digests.get(`${st.dev}:${st.ino}`);
    return r !== undefined && r.size === st.size && r.mtimeMs === st.mtimeMs && r.ctimeMs === st.ctimeMs ? r.digest : undefined;
  }

  static async open(root: string, dockerfileName: string | undefined, dispose?: () => Promise<void>): Promise<BuildContext> {
    const name = dockerfileName === undefined || dockerfileName === '' ? 'Dockerfile' : dockerfileName;
    const rel = posix.normalize('/' + name).slice(1);
    let text: string;
    try {
      text = await readFile(await resolveInRoot(root, '/' + rel), 'utf8');
    } catch (e) {
      // The reference lowercases as a fallback: `dockerfile` works too.
      if (errnoCode(e) === 'ENOENT' && name === 'Dockerfile') {
        text = await readFile(join(root, 'dockerfile'), 'utf8').catch(() => {
          throw new InvalidArgumentError(`Cannot locate specified Dockerfile: ${name}`);
        });
      } else throw new InvalidArgumentError(`Cannot locate specified Dockerfile: ${name}`);
    }
    // <Dockerfile>.dockerignore wins over .dockerignore (BuildKit).
    const own = await readFile(await resolveInRoot(root, `/${rel}.dockerignore`), 'utf8').catch(() => undefined);
    const ign = own ?? (await readFile(join(root, '.dockerignore'), 'utf8').catch(() => ''));
    const c = new BuildContext(root, new IgnoreMatcher(parseDockerignore(ign)), text, rel);
    c.disposer = dispose;
    return c;
  }

  async dispose(): Promise<void> {
    await this.disposer?.();
  }
}

/**
 * Extracts the context tar `body` (plain or compressed) into `root` with
 * the layer extractor's rules, hashing its regular files on the way.
 * Returns clean name → sha256 hex of every regular file it wrote.
 */
export async function extractHashed(sys: Sys, root: string, body: Readable): Promise<Map<string, string> | undefined> {
  const plain = body.pipe(autoDecompress());
  body.on('error', (e) => plain.destroy(e));
  const byName = new Map<string, string>();
  try {
    // One parse: the extractor hashes each file's bytes as they pass.
    // No size: a context is not a layer (and over a kept folder it would cost a walk of every file).
    await applyTar(sys, root, plain, { overlayWhiteouts: false, fileDigests: byName, countSize: false });
  } catch (e) {
    throw new InvalidArgumentError(`invalid build context: ${e instanceof Error ? e.message : String(e)}`);
  }
  return byName;
}
