/**
 * The build cache index: step key (hex sha256) → image ID, one small file
 * per key so a crash loses at most the key being written. The images and
 * layers themselves live in the image store; a key whose image is gone is
 * simply a miss.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDir, writeFileAtomic } from '../base/fsutil.js';

export class CacheStore {
  constructor(private readonly dir: string) {}

  private path(key: string): string {
    if (!/^[a-f0-9]{64}$/.test(key)) throw new Error(`bad cache key ${key}`);
    return join(this.dir, key.slice(0, 2), key);
  }

  async get(key: string): Promise<string | undefined> {
    try {
      const v = (await readFile(this.path(key), 'utf8')).trim();
      return v.startsWith('sha256:') ? v : undefined;
    } catch {
      return undefined;
    }
  }

  async put(key: string, imageId: string): Promise<void> {
    const p = this.path(key);
    await ensureDir(join(this.dir, key.slice(0, 2)), 0o700);
    await writeFileAtomic(p, imageId + '\n', 0o600);
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
