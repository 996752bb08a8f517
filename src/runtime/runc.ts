/**
 * A thin wrapper over the runc CLI: one method per subcommand, argv arrays,
 * `--root <execRoot>/runc` so berth's containers live apart from anyone
 * else's. No state of its own; process supervision is conmon's (conmon.ts),
 * and container creation/exec go through conmon, not through here.
 */
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

  async start(id: string): Promise<void> {
    await this.exec(id, ['start', id]);
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
