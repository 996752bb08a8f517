/**
 * The build cache index: step key (hex sha256) → image ID, one small file
 * per key so a crash loses at most the key being written. The images and
 * layers themselves live in the image store; a key whose image is gone is
 * simply a miss.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDir } from '../base/fsutil.js';

export class CacheStore {
  constructor(private readonly dir: string) {}

  private path(key: string): string {
    if (!/^[a-f0-9]{64}$/.test(key)) throw new Error(`bad cache key ${key}`);
    return join(this.dir, key.slice(0, 2), key);
  }

  async get(key: string): Promise<string | undefined> {
    try {
      const v = (await readFile(this.path(key), 'utf8')).trim();
      return /^sha256:[0-9a-f]{64}$/.test(v) ? v : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Written by rename but not fsynced: a key is a hint (a lost one is a
   * miss, a torn one fails the check in `get`), and two fsyncs per
   * build step cost more than the hint is worth.
   */
  async put(key: string, imageId: string): Promise<void> {
    const p = this.path(key);
    await ensureDir(join(this.dir, key.slice(0, 2)), 0o700);
    const tmp = `${p}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, imageId + '\n', { mode: 0o600 });
      await rename(tmp, p);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /** Removes every key; returns them. */
  async clear(): Promise<string[]> {
    const keys: string[] = [];
    for (const d of await readdir(this.dir).catch(() => [] as string[])) {
      for (const k of await readdir(join(this.dir, d)).catch(() => [] as string[])) keys.push(k);
    }
    await rm(this.dir, { recursive: true, force: true });
    return keys;
  }
}
