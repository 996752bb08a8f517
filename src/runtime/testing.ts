/**
 * Test fixtures for the runtime: a busybox root filesystem in a temp dir and
 * an environment (runc root, conmon state dir) that tracks every container it
 * creates so `cleanup()` can delete them, even after a failed assertion.
 */
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../base/log.js';
import { Conmon } from './conmon.js';
import { Runc } from './runc.js';
import { generateSpec, hostFacts, type ContainerSpec, type GenerateInput, type HostFacts } from './spec.js';
import { resolveUser } from './user.js';
import type { OciSpec } from './oci-spec.js';
import { newId } from '../base/ids.js';

const APPLETS = [
  'sh', 'echo', 'cat', 'sleep', 'id', 'ls', 'true', 'false', 'head', 'tr', 'dd', 'chown', 'touch', 'wc', 'env',
  'hostname', 'stty', 'mkdir', 'rm', 'ps', 'kill', 'grep', 'seq', 'yes', 'tty', 'stat', 'printf', 'test', '[',
];

/** Writes a minimal busybox rootfs (static /bin/busybox, applet links, passwd/group) into `dir`. */
export async function makeBusyboxRootfs(dir: string): Promise<void> {
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'home/app']) await mkdir(join(dir, d), { recursive: true });
  await copyFile('/bin/busybox', join(dir, 'bin/busybox'));
  for (const a of APPLETS) await symlink('busybox', join(dir, 'bin', a));
  await writeFile(
    join(dir, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\n',
  );
  await writeFile(join(dir, 'etc/group'), 'root:x:0:\nwheel:x:10:root\nnogroup:x:65534:\napp:x:1000:\nstaff:x:50:app\n');
}

export class RuntimeTestEnv {
  readonly runc: Runc;
  readonly conmon: Conmon;
  private readonly ids = new Set<string>();
  private constructor(
    readonly dir: string,
    readonly rootfs: string,
    readonly facts: HostFacts,
  ) {
    this.runc = new Runc({ root: join(dir, 'runc') });
    this.conmon = new Conmon({ runc: this.runc, stateDir: join(dir, 'st'), log: silentLogger });
  }

  static async create(): Promise<RuntimeTestEnv> {
    // short base path: attach sockets live under it
    const dir = await mkdtemp(join(tmpdir(), 'brt-'));
    const rootfs = join(dir, 'rootfs');
    await makeBusyboxRootfs(rootfs);
    const env = new RuntimeTestEnv(dir, rootfs, await hostFacts());
    await env.conmon.init();
    return env;
  }

  /** Registers a container created elsewhere for cleanup. */
  track(id: string): void {
    this.ids.add(id);
  }

  bundle(id: string): string {
    return join(this.dir, 'b', id.slice(0, 12));
  }

  logPath(id: string): string {
    return join(this.bundle(id), 'ctr.log');
  }

  async spec(id: string, spec: ContainerSpec, extra: Partial<GenerateInput> = {}): Promise<OciSpec> {
    const user = await resolveUser(this.rootfs, spec.User ?? '', spec.HostConfig?.GroupAdd ?? []);
    return generateSpec({ id, rootfs: this.rootfs, spec, user, host: this.facts, ...extra });
  }

  /** Creates (not starts) a container; tracked for cleanup. */
  async create(spec: ContainerSpec, opts: { extra?: Partial<GenerateInput>; logSizeMax?: number } = {}): Promise<{ id: string; bundle: string; pid: number; oci: OciSpec }> {
    const id = newId();
    const oci = await this.spec(id, spec, opts.extra);
    this.ids.add(id);
    const bundle = this.bundle(id);
    const c: Parameters<Conmon['create']>[0] = {
      id,
      bundle,
      spec: oci,
      logPath: this.logPath(id),
      stdin: spec.OpenStdin === true,
      stdinOnce: spec.StdinOnce === true,
    };
    if (opts.logSizeMax !== undefined) c.logSizeMax = opts.logSizeMax;
    const r = await this.conmon.create(c);
    return { id, bundle, pid: r.pid, oci };
  }

  async run(spec: ContainerSpec, opts: { extra?: Partial<GenerateInput> } = {}): Promise<{ id: string; bundle: string; pid: number; oci: OciSpec }> {
    const c = await this.create(spec, opts);
    await this.conmon.start(c.id);
    return c;
  }

  async cleanup(): Promise<void> {
    this.conmon.close();
    for (const id of this.ids) await this.conmon.remove(id).catch(() => {});
    await rm(this.dir, { recursive: true, force: true }).catch(() => {});
  }
}
