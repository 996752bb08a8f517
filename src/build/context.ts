/**
 * The build context: the request body (a tar, plain or compressed; the
 * docker CLI sends x-tar chunked, docker-py `application/tar` with PAX
 * headers, so nothing dispatches on Content-Type) extracted into a private
 * temp directory with the layer extractor's safety rules (no `..`, no
 * writing through symlinks), then the Dockerfile and the .dockerignore read
 * from it. The directory is removed by `dispose`.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { autoDecompress } from '../base/compress.js';
import { InvalidArgumentError, errnoCode } from '../base/errors.js';
import type { Sys } from '../base/sys.js';
import { ensureDir } from '../base/fsutil.js';
import { applyTar } from '../snapshots/unpack.js';
import { resolveInRoot } from '../runtime/user.js';
import { IgnoreMatcher, parseDockerignore } from './dockerignore.js';

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
      const plain = body.pipe(autoDecompress());
      body.on('error', (e) => plain.destroy(e));
      try {
        await applyTar(sys, root, plain, { overlayWhiteouts: false });
      } catch (e) {
        throw new InvalidArgumentError(`invalid build context: ${e instanceof Error ? e.message : String(e)}`);
      }
      return await BuildContext.open(root, dockerfileName, async () => rm(root, { recursive: true, force: true }));
    } catch (e) {
      await rm(root, { recursive: true, force: true });
      throw e;
    }
  }

  private disposer: (() => Promise<void>) | undefined;

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
