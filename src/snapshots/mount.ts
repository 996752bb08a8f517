/**
 * Turns Mount data into mount(2) calls. Snapshotters describe mounts; only
 * this module (called by the runtime, the builder, or tests) performs them.
 */
import { MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC, MS_REMOUNT, SysError, type Sys } from '../base/sys.js';
import type { Mount } from './types.js';

const FLAG_OPTIONS: Record<string, number> = {
  ro: MS_RDONLY,
  nosuid: MS_NOSUID,
  nodev: MS_NODEV,
  noexec: MS_NOEXEC,
  bind: MS_BIND,
  rbind: MS_BIND | MS_REC,
};
/** Options that only restate defaults. */
const NOOP_OPTIONS = new Set(['rw', 'suid', 'dev', 'exec', 'defaults']);

/** Splits mount(8) options into flags and the data string the file system parses. */
export function parseMountOptions(options: readonly string[]): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const o of options) {
    const f = FLAG_OPTIONS[o];
    if (f !== undefined) flags |= f;
    else if (!NOOP_OPTIONS.has(o)) data.push(o);
  }
  return { flags, data: data.join(',') };
}

/** Overlay's lowerdir (and every mount option string) must fit in one page. */
const PAGE_SIZE = 4096;

function mountOne(sys: Sys, m: Mount, target: string): void {
  const { flags, data } = parseMountOptions(m.options);
  if (data.length >= PAGE_SIZE) {
    throw new SysError('mount', 7, 'E2BIG', `${target} (options are ${data.length} bytes, more than a page)`);
  }
  if (m.type === 'bind' || (flags & MS_BIND) !== 0) {
    // A bind ignores other flags: bind first, then remount to apply them.
    const bindFlags = (flags & MS_REC) !== 0 || m.type === 'bind' ? MS_BIND | MS_REC : MS_BIND;
    sys.mount(m.source, target, null, bindFlags, null);
    const extra = flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
    if (extra !== 0) {
      try {
        sys.mount('', target, null, MS_REMOUNT | MS_BIND | extra, null);
      } catch (e) {
        sys.umount(target);
        throw e;
      }
    }
    return;
  }
  sys.mount(m.source, target, m.type, flags, data === '' ? null : data);
}

/**
 * Mounts `mounts` onto `target` in order (later ones stack on earlier
 * ones); on failure, unmounts what it had mounted.
 */
export function mountAll(sys: Sys, mounts: readonly Mount[], target: string): void {
  let done = 0;
  try {
    for (const m of mounts) {
      mountOne(sys, m, target);
      done++;
    }
  } catch (e) {
    for (; done > 0; done--) {
      try {
        sys.umount(target);
      } catch {
        break;
      }
    }
    throw e;
  }
}

/**
 * Unmounts everything stacked on `target` (lazily, so a busy mount never
 * blocks cleanup). Not being a mount point is not an error.
 */
export function unmountAll(sys: Sys, target: string): void {
  for (let i = 0; i < 64; i++) {
    try {
      sys.umount(target);
    } catch (e) {
      if (e instanceof SysError && (e.code === 'EINVAL' || e.code === 'ENOENT')) return;
      throw e;
    }
  }
}
