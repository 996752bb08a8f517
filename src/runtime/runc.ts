/**
 * A thin wrapper over the runc CLI: one method per subcommand, argv arrays,
 * `--root <execRoot>/runc` so berth's containers live apart from anyone
 * else's. No state of its own; process supervision is conmon's (conmon.ts),
 * and container creation/exec go through conmon, not through here.
 */
import { closeSync, constants as fsConstants, existsSync, openSync } from 'node:fs';
import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../base/exec.js';
import { ConflictError, InternalError, NotFoundError } from '../base/errors.js';
import type { OciResources } from './oci-spec.js';

export interface RuncState {
  ociVersion: string;
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  bundle: string;
  rootfs: string;
  created: string;
  annotations?: Record<string, string>;
}

export interface RuncOptions {
  /** runc's state directory (its --root). */
  root: string;
  /** Path of the runc binary. */
  binary?: string;
}

/** Maps runc's "does not exist" / "not running" words to berth's error kinds. */
function translate(id: string, e: unknown): never {
  const msg = e instanceof Error ? e.message : String(e);
  if (/does not exist|container not found/i.test(msg)) throw new NotFoundError(`No such container: ${id}`, { cause: e });
  if (/not running|is paused|is not paused|container is stopped|cannot (pause|resume)/i.test(msg)) throw new ConflictError(msg, { cause: e });
  throw e instanceof Error ? e : new InternalError(msg);
}

/** A process that exited (a zombie counts) or never was. */
async function processGone(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

export class Runc {
  readonly root: string;
  readonly binary: string;

  constructor(opts: RuncOptions) {
    this.root = opts.root;
    this.binary = opts.binary ?? '/usr/sbin/runc';
  }

  /** Global flags first: runc parses them before the subcommand. */
  args(...rest: string[]): string[] {
    return ['--root', this.root, ...rest];
  }

  private async exec(id: string, args: string[], input?: string): Promise<string> {
    try {
      const opts: { input?: string } = {};
      if (input !== undefined) opts.input = input;
      return (await run(this.binary, this.args(...args), opts)).stdout;
    } catch (e) {
      translate(id, e);
    }
  }

  async state(id: string): Promise<RuncState> {
    return JSON.parse(await this.exec(id, ['state', id])) as RuncState;
  }

  /** State, or undefined when runc does not know the container. */
  async stateIfExists(id: string): Promise<RuncState | undefined> {
    try {
      return await this.state(id);
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  }

  /**
   * Starts a created container. Given its init's pid, berth does what `runc
   * start` does instead of running runc (a process costing 15-30 ms of every
   * start here): runc init waits to open `<root>/<id>/exec.fifo` for writing;
   * once a reader opens it, init writes one byte and execs the container's
   * process (closing the fifo: end of file); removing the fifo is what makes
   * runc see the container as running. Without the fifo (not created, already
   * started) runc itself answers, with its own error.
   */
  async start(id: string, initPid?: number): Promise<void> {
    const fifo = join(this.root, id, 'exec.fifo');
    if (initPid === undefined || !existsSync(fifo)) {
      await this.exec(id, ['start', id]);
      return;
    }
    let dead = false;
    // As runc: if init died before opening its end, the blocking open below would wait forever;
    // opening the write end here releases it, and the empty read reports the death.
    const watchdog = setInterval(() => {
      void processGone(initPid).then((gone) => {
        if (!gone || dead) return;
        dead = true;
        try {
          closeSync(openSync(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK));
        } catch {
          // no reader waiting (the open below has not begun or is done)
        }
      });
    }, 100);
    try {
      const fh = await open(fifo, fsConstants.O_RDONLY);
      let data: Buffer;
      try {
        data = await fh.readFile();
      } finally {
        await fh.close();
      }
      if (data.length === 0) throw new ConflictError('container process is already dead');
      await unlink(fifo);
    } finally {
      clearInterval(watchdog);
    }
  }

  /** Sends a signal (name like "TERM"/"SIGKILL" or number); `all` signals every process in the cgroup. */
  async kill(id: string, signal: string | number = 'TERM', all = false): Promise<void> {
    const sig = String(signal);
    await this.exec(id, all ? ['kill', '--all', id, sig] : ['kill', id, sig]);
  }

  /** Deletes the container; `force` kills it first if it runs. Missing containers are fine. */
  async delete(id: string, force = false): Promise<void> {
    try {
      await this.exec(id, force ? ['delete', '--force', id] : ['delete', id]);
    } catch (e) {
      if (e instanceof NotFoundError) return;
      throw e;
    }
  }

  async pause(id: string): Promise<void> {
    await this.exec(id, ['pause', id]);
  }

  async resume(id: string): Promise<void> {
    await this.exec(id, ['resume', id]);
  }

  /** PIDs (host namespace) of every process in the container. */
  async ps(id: string): Promise<number[]> {
    const out = await this.exec(id, ['ps', '--format', 'json', id]);
    const v = JSON.parse(out.trim() === '' ? '[]' : out) as number[] | null;
    return v ?? [];
  }

  /** Updates cgroup limits; the resources JSON goes through stdin (`-r -`). */
  async update(id: string, resources: OciResources): Promise<void> {
    await this.exec(id, ['update', '--resources', '-', id], JSON.stringify(resources));
  }

  async list(): Promise<RuncState[]> {
    const out = (await run(this.binary, this.args('list', '--format', 'json'))).stdout.trim();
    if (out === '' || out === 'null') return [];
    return JSON.parse(out) as RuncState[];
  }
}
