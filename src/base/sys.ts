/**
 * The few system calls Node's fs lacks, through koffi (FFI): mknod for
 * overlay whiteouts and device nodes, xattrs for opaque directories and file
 * capabilities, mount/umount for overlay and bind mounts, sendfile for
 * serving files to sockets without copying them through user memory.
 *
 * Why FFI and not spawning mknod/setfattr/mount: a layer can hold thousands
 * of whiteouts, and a container start mounts several times; a process per
 * call would cost milliseconds each. The library is loaded on first use so
 * the CLI, which never needs it, does not pay for it.
 */
import { closeSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { InternalError } from './errors.js';

type Fn = ((...args: unknown[]) => unknown) & { async(...args: unknown[]): void };
interface Libc {
  mknod: Fn;
  lsetxattr: Fn;
  lgetxattr: Fn;
  llistxattr: Fn;
  lremovexattr: Fn;
  mount: Fn;
  umount2: Fn;
  malloc_trim: Fn;
  sendfile: Fn;
  pipe2: Fn;
  unshare: Fn;
  setns: Fn;
  errno: () => number;
}

export class SysError extends InternalError {
  constructor(
    readonly call: string,
    readonly errno: number,
    readonly code: string,
    path: string,
  ) {
    super(`${call} ${path}: ${code} (errno ${errno})`);
  }
}

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 9: 'EBADF', 11: 'EAGAIN', 13: 'EACCES', 16: 'EBUSY', 17: 'EEXIST', 20: 'ENOTDIR', 21: 'EISDIR',
  22: 'EINVAL', 28: 'ENOSPC', 32: 'EPIPE', 34: 'ERANGE', 61: 'ENODATA', 95: 'EOPNOTSUPP', 104: 'ECONNRESET',
};

export const MNT_DETACH = 2;
const CLONE_NEWNET = 0x40000000;
export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_REMOUNT = 32;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MS_PRIVATE = 1 << 18;

/**
 * Owns the loaded libc bindings. Created by the composition root (or a test)
 * and passed to whoever needs it.
 */
export class Sys {
  private libc: Libc | undefined;
  /** sendfile's in/out offset, reused: calls are synchronous, so one per instance is enough and saves an allocation per call. */
  private readonly sendfileOffset = new BigInt64Array(1);

  private lib(): Libc {
    if (this.libc !== undefined) return this.libc;
    const require = createRequire(import.meta.url);
    const koffi = require('koffi') as {
      load(name: string): { func(sig: string): Fn };
      errno(): number;
    };
    const l = koffi.load('libc.so.6');
    this.libc = {
      mknod: l.func('int mknod(const char *path, uint32_t mode, uint64_t dev)'),
      lsetxattr: l.func('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)'),
      lgetxattr: l.func('intptr_t lgetxattr(const char *path, const char *name, _Out_ void *value, size_t size)'),
      llistxattr: l.func('intptr_t llistxattr(const char *path, _Out_ void *list, size_t size)'),
      lremovexattr: l.func('int lremovexattr(const char *path, const char *name)'),
      mount: l.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
      umount2: l.func('int umount2(const char *target, int flags)'),
      malloc_trim: l.func('int malloc_trim(size_t pad)'),
      sendfile: l.func('intptr_t sendfile(int out_fd, int in_fd, int64_t *offset, size_t count)'),
      pipe2: l.func('int pipe2(_Out_ int *pipefd, int flags)'),
      unshare: l.func('int unshare(int flags)'),
      setns: l.func('int setns(int fd, int nstype)'),
      errno: () => koffi.errno(),
    };
    return this.libc;
  }

  private check(call: string, path: string, rc: unknown): number {
    const n = typeof rc === 'bigint' ? Number(rc) : (rc as number);
    if (n < 0) {
      const e = this.lib().errno();
      throw new SysError(call, e, ERRNO_NAMES[e] ?? `errno${e}`, path);
    }
    return n;
  }

  /**
   * A kernel pipe, both ends close-on-exec: [read, write]. Node's spawn gives
   * children socketpairs, but a container process's stdio must be pipes, as
   * under Docker (`echo > /dev/stdout` cannot open a socket).
   */
  pipe(): [number, number] {
    const fds = new Int32Array(2);
    this.check('pipe2', '', this.lib().pipe2(fds, 0o2000000 /* O_CLOEXEC */));
    return [fds[0] as number, fds[1] as number];
  }

  /** mode includes the file type bits (S_IFCHR = 0o020000, S_IFBLK = 0o060000, S_IFIFO = 0o010000). */
  mknod(path: string, mode: number, major = 0, minor = 0): void {
    // glibc's makedev layout
    const dev =
      (BigInt(minor & 0xff) | (BigInt(major & 0xfff) << 8n) | (BigInt(minor & ~0xff) << 12n) | (BigInt(major & ~0xfff) << 32n));
    this.check('mknod', path, this.lib().mknod(path, mode, dev));
  }

  lsetxattr(path: string, name: string, value: Buffer): void {
    this.check('lsetxattr', path, this.lib().lsetxattr(path, name, value, value.length, 0));
  }

  /** Returns undefined when the attribute is not set. */
  lgetxattr(path: string, name: string): Buffer | undefined {
    const buf = Buffer.alloc(65536);
    const rc = this.lib().lgetxattr(path, name, buf, buf.length);
    const n = typeof rc === 'bigint' ? Number(rc) : (rc as number);
    if (n < 0) {
      const e = this.lib().errno();
      if (e === 61 || e === 95) return undefined; // ENODATA, EOPNOTSUPP
      throw new SysError('lgetxattr', e, ERRNO_NAMES[e] ?? `errno${e}`, path);
    }
    return buf.subarray(0, n);
  }

  llistxattr(path: string): string[] {
    const buf = Buffer.alloc(65536);
    const rc = this.lib().llistxattr(path, buf, buf.length);
    const n = typeof rc === 'bigint' ? Number(rc) : (rc as number);
    if (n < 0) {
      const e = this.lib().errno();
      if (e === 95) return [];
      throw new SysError('llistxattr', e, ERRNO_NAMES[e] ?? `errno${e}`, path);
    }
    return buf.subarray(0, n).toString('latin1').split('\0').filter((s) => s !== '');
  }

  lremovexattr(path: string, name: string): void {
    this.check('lremovexattr', path, this.lib().lremovexattr(path, name));
  }

  mount(source: string, target: string, fstype: string | null, flags: number, data: string | null): void {
    this.check('mount', target, this.lib().mount(source, target, fstype, flags, data));
  }

  /**
   * A new network namespace, pinned by a bind mount on `path` (an existing
   * file), as `unshare --net=PATH true` makes it but without a process (a
   * fork of berthd costs 5-15 ms of its main thread). This thread enters the
   * new namespace and returns to its own within the call: no JavaScript runs
   * in between, and libuv's worker threads never leave the host's.
   */
  newNetns(path: string): void {
    const l = this.lib();
    const own = openSync('/proc/thread-self/ns/net', 'r');
    try {
      this.check('unshare', path, l.unshare(CLONE_NEWNET));
      let pinned: unknown;
      try {
        this.check('mount', path, l.mount('/proc/thread-self/ns/net', path, null, MS_BIND, null));
      } catch (e) {
        pinned = e;
      }
      // Back home whatever happened: a main thread left in an empty namespace would strand the daemon.
      if ((l.setns(own, CLONE_NEWNET) as number) < 0) {
        const e = l.errno();
        process.stderr.write(`berthd: cannot return to the host network namespace (errno ${e}); exiting\n`);
        process.exit(70);
      }
      if (pinned !== undefined) throw pinned;
    } finally {
      closeSync(own);
    }
  }

  /**
   * Hands free heap pages back to the OS (glibc's malloc_trim). Streaming
   * hundreds of MB through short-lived buffers leaves the C heap fragmented
   * and large; an idle daemon would otherwise keep that memory for good.
   */
  mallocTrim(): void {
    this.lib().malloc_trim(0);
  }

  /**
   * Copies up to `count` bytes of file `inFd` from `offset` to `outFd`
   * inside the kernel (sendfile(2)): no read into and write out of user
   * memory. Returns the bytes sent (0 at end of file), or -1 when `outFd`
   * is a non-blocking socket with no room (EAGAIN); throws on other errors.
   * Reads by offset, so `inFd`'s file position is neither used nor moved.
   */
  sendfile(outFd: number, inFd: number, offset: number, count: number): number {
    const off = this.sendfileOffset;
    off[0] = BigInt(offset);
    const rc = this.lib().sendfile(outFd, inFd, off, count);
    const n = typeof rc === 'bigint' ? Number(rc) : (rc as number);
    if (n >= 0) return n;
    const e = this.lib().errno();
    if (e === 11) return -1; // EAGAIN (== EWOULDBLOCK on Linux)
    throw new SysError('sendfile', e, ERRNO_NAMES[e] ?? `errno${e}`, `fd ${inFd} -> fd ${outFd}`);
  }

  /** Lazy-detaches by default so a busy mount never blocks cleanup. */
  umount(target: string, flags = MNT_DETACH): void {
    this.check('umount2', target, this.lib().umount2(target, flags));
  }

  /**
   * umount on a libuv worker thread (koffi's async call; errno is carried
   * over): unmounting waits out an RCU grace period, 5-50 ms on a loaded
   * machine, which would otherwise stall the event loop.
   */
  umountAsync(target: string, flags = MNT_DETACH): Promise<void> {
    return new Promise((resolve, reject) => {
      this.lib().umount2.async(target, flags, (err: unknown, rc: unknown) => {
        if (err !== null && err !== undefined) reject(err instanceof Error ? err : new InternalError(String(err)));
        else {
          try {
            this.check('umount2', target, rc);
            resolve();
          } catch (e) {
            reject(e instanceof Error ? e : new InternalError(String(e)));
          }
        }
      });
    });
  }
}
