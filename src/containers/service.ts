/**
 * ContainerService: the container lifecycle as Docker defines it, over the
 * runtime layer (runc under conmon) and the snapshotter.
 *
 *   create → (attach…) → start → running ⇄ paused → exited → (restart | remove)
 *
 * State lives in the metadata database (written on every change); the
 * running process lives under conmon, which survives the daemon. At start
 * the service re-reads every record and reconciles it with runc (live
 * restore): containers still running are watched again, exits that
 * happened while the daemon was down are recorded from conmon's exit files,
 * restart policies are applied, and leftover mounts are cleaned.
 *
 * Streams (attach, logs, exec) are handed out as plain Node streams; the
 * API layer turns them into hijacked sockets and stdcopy frames.
 */
import { mkdir, readFile, rm, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { hostname } from 'node:os';
import type { Readable } from 'node:stream';
import type { Ctx } from '../base/ctx.js';
import { BerthError, ConflictError, InternalError, InvalidArgumentError, NotFoundError, NotImplementedError, NotModifiedError, errorMessage } from '../base/errors.js';
import { newId } from '../base/ids.js';
import type { Logger } from '../base/log.js';
import type { Sys } from '../base/sys.js';
import type { EventBus } from '../events/bus.js';
import type { ImageService } from '../images/service.js';
import type { ContainerTable } from '../metadata/containers.js';
import { chainIds } from '../oci/chain.js';
import type { Conmon, AttachSession } from '../runtime/conmon.js';
import { RuntimeStartError } from '../runtime/conmon.js';
import type { Runc } from '../runtime/runc.js';
import { commandLine, defaultHostname, generateSpec, generateExecProcess, hostsFile, resolveDevices, type HostFacts, type ResolvedMount } from '../runtime/spec.js';
import type { OciProcess, OciSpec } from '../runtime/oci-spec.js';
import type { ExecHelper } from '../runtime/fastexec.js';
import { resolveUser, resolveInRoot, type ViewMount } from '../runtime/user.js';
import { readLogs, type LogMessage } from '../runtime/logs.js';
import { readStats, type DockerStats } from '../runtime/stats.js';
import { mountAll } from '../snapshots/mount.js';
import type { Snapshotter } from '../snapshots/types.js';
import { parseCreateBody, type CreateBody } from './body.js';
import { checkName, randomName } from './names.js';
import { linkEnv, linkHostEntry, linkPath, parseLink, splitLinkPath } from './links.js';
import { humanStatus, isRunning, newState, ZERO_TIME, type ContainerRecord } from './model.js';
import { signalNumber } from './signals.js';
import type { NetworkAttacher } from '../network/service.js';
import type { VolumeResolver } from '../volumes/service.js';

export interface ContainerServiceDeps {
  readonly images: ImageService;
  readonly snapshots: Snapshotter;
  readonly sys: Sys;
  readonly conmon: Conmon;
  readonly runc: Runc;
  readonly table: ContainerTable;
  readonly events: EventBus;
  readonly log: Logger;
  /** <data-root>/containers: per-container files that persist (hosts, resolv.conf, logs). */
  readonly stateRoot: string;
  /** <exec-root>/containers: bundles and rootfs mount points (tmpfs; gone after reboot). */
  readonly runRoot: string;
  readonly host: HostFacts;
  /** Host path of an init binary for --init (catatonit or tini). */
  readonly initBinary?: string;
  /** Networks (netavark) and volumes: set up at start, freed at exit and rm. */
  readonly network: NetworkAttacher;
  readonly volumes: VolumeResolver;
  /** Runs attached non-TTY execs without runc, when the helper was built (runtime/fastexec.ts). */
  readonly execHelper?: ExecHelper | undefined;
  /** The configured OCI runtime is runc: only then does berth-exec reproduce its exec. */
  readonly runtimeIsRunc?: boolean;
}

/** Someone attached to a container's stdio. */
export interface Attacher {
  /** 1 stdout, 2 stderr. */
  write(stream: 1 | 2, data: Buffer): void;
  end(): void;
  /** Client's stdin, when it attached with stdin=1. */
  stdin?: Readable;
}

interface Live {
  rec: ContainerRecord;
  attachers: Set<Attacher>;
  session?: AttachSession;
  /** Resolves when the current run ends (exit recorded). */
  exited?: Promise<void>;
  exitWaiters: Set<() => void>;
  removeWaiters: Set<() => void>;
  restartTimer?: NodeJS.Timeout;
  /** runc's record of the last run, being deleted off the exit path: a new run and the removal wait for it. */
  cleanup?: Promise<void>;
  stdinClaimed?: boolean;
  execIds: Set<string>;
  statsPrev?: DockerStats;
  healthTimer?: NodeJS.Timeout;
}

export interface ExecRecord {
  ID: string;
  ContainerID: string;
  Cmd: string[];
  Env: string[] | null;
  User: string;
  WorkingDir: string;
  Tty: boolean;
  Privileged: boolean;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  DetachKeys: string;
  Running: boolean;
  ExitCode: number | null;
  Pid: number;
  ConsoleSize: [number, number] | null;
  started: boolean;
  dir: string;
  resize?: (h: number, w: number) => Promise<void>;
  /** A resize that arrived before the session existed (the CLI sends it right after the 101). */
  sizeArrived?: () => void;
}

export class ContainerService {
  private readonly live = new Map<string, Live>();
  private readonly names = new Map<string, string>();
  private readonly execs = new Map<string, ExecRecord>();
  private stopping = false;
  /** Removed containers whose files are still being freed: their layers stay in use until then. */
  private readonly removing = new Map<string, ContainerRecord>();
  // --- container-fs: log rotation hooks (set by containerFsRoutes; see containers/logrotate.ts) ---
  logRotator: { start(id: string): void; stop(id: string): void } | undefined;
  // --- end container-fs ---

  constructor(private readonly d: ContainerServiceDeps) {}

  // --- persistence --------------------------------------------------------

  save(rec: ContainerRecord): void {
    this.d.table.put(rec.Id, rec.Name, JSON.stringify(rec));
  }

  bundle(id: string): string {
    return join(this.d.runRoot, id);
  }
  rootfs(id: string): string {
    return join(this.d.runRoot, id, 'rootfs');
  }
  stateDir(id: string): string {
    return join(this.d.stateRoot, id);
  }
  logPath(id: string): string {
    return join(this.d.stateRoot, id, `${id}-json.log`);
  }

  /** Loads records and reconciles them with what actually runs (live restore). */
  async init(ctx: Ctx): Promise<void> {
    this.d.network.onHostsChange?.((id, change) => this.updateHosts(id, change));
    await mkdir(this.d.stateRoot, { recursive: true, mode: 0o710 });
    await mkdir(this.d.runRoot, { recursive: true, mode: 0o700 });
    for (const row of this.d.table.all()) {
      let rec: ContainerRecord;
      try {
        rec = JSON.parse(row.doc) as ContainerRecord;
      } catch (e) {
        ctx.log.error('container record unreadable; skipping', { id: row.id, err: errorMessage(e) });
        continue;
      }
      if (rec.State.Status === 'removing') {
        // Its name was released when the removal began (another container may hold it now).
        const l: Live = { rec, attachers: new Set(), exitWaiters: new Set(), removeWaiters: new Set(), execIds: new Set() };
        await this.finishRemove(ctx, l, true).catch((e: unknown) => ctx.log.warn('cleanup of half-removed container failed', { id: rec.Id, err: errorMessage(e) }));
        continue;
      }
      const l = this.track(rec);
      if (isRunning(rec.State)) await this.reattach(ctx, l);
    }
    // runc's records are deleted after an exit is recorded: a crash in between leaves one behind.
    for (const st of await this.d.runc.list().catch(() => [])) {
      const l = this.live.get(st.id);
      if (l !== undefined && isRunning(l.rec.State)) continue;
      ctx.log.info('deleting the runtime state of a container that is not running', { id: st.id });
      await this.d.conmon.remove(st.id).catch((e: unknown) => ctx.log.warn('runtime state removal failed', { id: st.id, err: errorMessage(e) }));
    }
  }

  private track(rec: ContainerRecord): Live {
    const l: Live = { rec, attachers: new Set(), exitWaiters: new Set(), removeWaiters: new Set(), execIds: new Set() };
    this.live.set(rec.Id, l);
    this.names.set(rec.Name, rec.Id);
    return l;
  }

  /** After a daemon restart: is the container still running under its conmon? */
  private async reattach(ctx: Ctx, l: Live): Promise<void> {
    const id = l.rec.Id;
    const st = await this.d.runc.stateIfExists(id).catch(() => undefined);
    const code = await this.d.conmon.exitCode(id);
    if (st !== undefined && (st.status === 'running' || st.status === 'paused') && code === undefined) {
      l.rec.State.Status = st.status === 'paused' ? 'paused' : 'running';
      l.rec.State.Pid = st.pid;
      this.save(l.rec);
      l.exited = this.watchExit(ctx, l);
      ctx.log.info('re-attached to running container', { id, pid: st.pid });
      return;
    }
    // It ended while we were away: record the real exit code.
    ctx.log.info('container exited while the daemon was down', { id, exitCode: code ?? 255 });
    await this.recordExit(ctx, l, code ?? 255, await this.d.conmon.oomKilled(id, this.bundle(id)), new Date());
  }

  // --- lookup ---------------------------------------------------------------

  /** Full ID, name (with or without `/`), or unique ID prefix; Docker's 404 otherwise. */
  get(ref: string): Live {
    const l = this.find(ref);
    if (l === undefined) throw new NotFoundError(`No such container: ${ref}`);
    return l;
  }

  find(ref: string): Live | undefined {
    const byId = this.live.get(ref);
    if (byId !== undefined) return byId;
    const byName = this.names.get(ref.replace(/^\//, ''));
    if (byName !== undefined) return this.live.get(byName);
    if (!/^[0-9a-f]+$/.test(ref)) return undefined;
    let hit: Live | undefined;
    for (const [id, l] of this.live) {
      if (id.startsWith(ref)) {
        if (hit !== undefined) throw new InvalidArgumentError(`multiple IDs found with provided prefix: ${ref}`);
        hit = l;
      }
    }
    return hit;
  }

  all(): Iterable<ContainerRecord> {
    return [...this.live.values()].map((l) => l.rec);
  }

  /** For the image side: who uses an image. */
  containersUsing(imageId: string): { id: string; running: boolean }[] {
    const out: { id: string; running: boolean }[] = [];
    for (const l of this.live.values()) if (l.rec.Image === imageId) out.push({ id: l.rec.Id, running: isRunning(l.rec.State) });
    return out;
  }
  layersInUse(): string[] {
    return [...this.live.values()].map((l) => l.rec).concat([...this.removing.values()]).map((r) => r.SnapshotParent).filter((x): x is string => x !== null);
  }

  // --- create ---------------------------------------------------------------

  async create(ctx: Ctx, raw: unknown, name: string | undefined): Promise<{ Id: string; Warnings: string[] }> {
    const body: CreateBody = parseCreateBody(raw);
    if (body.config.Image === '') throw new InvalidArgumentError('No image specified');
    const img = this.d.images.index.find(body.config.Image);
    if (img === undefined) throw new NotFoundError(`No such image: ${this.d.images.index.displayName(body.config.Image)}`);
    const ic = img.config.config;
    const cmd = commandLine({ Cmd: body.config.Cmd, Entrypoint: body.config.Entrypoint }, ic);
    if (cmd.length === 0) throw new InvalidArgumentError('No command specified');
    let cname: string;
    if (name !== undefined && name !== '') {
      cname = checkName(name);
      const owner = this.names.get(cname);
      if (owner !== undefined) {
        throw new ConflictError(`Conflict. The container name "/${cname}" is already in use by container "${owner}". You have to remove (or rename) that container to be able to reuse that name.`);
      }
    } else cname = randomName((n) => this.names.has(n));
    this.checkNetworkMode(body.host.NetworkMode);
    if (body.host.Links !== undefined) body.host.Links = this.resolveLinks(body.host.Links, body.host.NetworkMode, cname);

    const id = newId();
    const parent = chainIds(img.config.rootfs.diff_ids).at(-1) ?? null;
    // The container's config as Docker reports it: the image's values fill what the request left empty.
    const config = { ...body.config };
    // --network host: the host's name, as dockerd does.
    if (config.Hostname === '') config.Hostname = body.host.NetworkMode === 'host' ? hostname() : defaultHostname(id);
    if (config.Env === null || config.Env.length === 0) config.Env = ic?.Env ?? null;
    else config.Env = mergeEnvList(ic?.Env ?? [], config.Env);
    if (config.Cmd === null && config.Entrypoint === null) config.Cmd = ic?.Cmd ?? null;
    if (config.Entrypoint === null) config.Entrypoint = ic?.Entrypoint ?? null;
    if (config.WorkingDir === '') config.WorkingDir = ic?.WorkingDir ?? '';
    if (config.User === '') config.User = ic?.User ?? '';
    config.Labels = { ...(ic?.Labels ?? {}), ...config.Labels };
    if (config.StopSignal === undefined && ic?.StopSignal !== undefined) config.StopSignal = ic.StopSignal;
    if (config.Healthcheck === undefined && ic?.Healthcheck !== undefined) config.Healthcheck = ic.Healthcheck;
    if (ic?.ExposedPorts !== undefined) config.ExposedPorts = { ...ic.ExposedPorts, ...(config.ExposedPorts ?? {}) };
    if (ic?.Volumes !== undefined && ic.Volumes !== null) config.Volumes = { ...ic.Volumes, ...(config.Volumes ?? {}) };

    const rec: ContainerRecord = {
      Id: id,
      Name: cname,
      Created: new Date().toISOString(),
      Image: img.record.id,
      Path: cmd[0]!,
      Args: cmd.slice(1),
      Config: config,
      HostConfig: body.host,
      Endpoints: body.endpoints,
      SnapshotParent: parent,
      RestartCount: 0,
      State: newState(),
    };
    await this.d.snapshots.prepare(ctx, id, (parent ?? undefined) as Parameters<Snapshotter['prepare']>[2]);
    try {
      await mkdir(this.stateDir(id), { recursive: true, mode: 0o710 });
      // Memberships and mount points are recorded now; Docker creates named and anonymous volumes at create.
      this.d.network.register(rec);
      await this.d.volumes.register(ctx, rec, (ref) => this.get(ref).rec.Id);
      this.track(rec);
      this.save(rec);
    } catch (e) {
      this.live.delete(id);
      this.names.delete(cname);
      this.d.network.forget(id);
      await this.d.volumes.forget(ctx, id, true).catch(() => {});
      await this.d.snapshots.remove(id).catch(() => {});
      throw e;
    }
    this.d.events.publish('container', 'create', id, { image: body.config.Image, name: cname, ...rec.Config.Labels });
    return { Id: id, Warnings: [] };
  }

  /** --link at create: every target must exist; stored as inspect shows them (`/target:/linker/alias`). */
  private resolveLinks(links: readonly string[], mode: string, linker: string): string[] {
    for (const kind of ['host', 'container']) {
      if (mode === kind || (kind === 'container' && mode.startsWith('container:'))) {
        throw new InvalidArgumentError(`conflicting options: ${kind} type networking can't be used with links. This would result in undefined behavior`);
      }
    }
    return links.map((spec) => {
      const { name, alias } = parseLink(spec);
      const t = this.find(name);
      // 400, not 404: the CLI would take a 404 on create for a missing image and try to pull it.
      if (t === undefined) throw new InvalidArgumentError(`could not get container for ${name}: No such container: ${name}`);
      return linkPath(t.rec.Name, linker, alias);
    });
  }

  /**
   * At start: every linked container must run. On the default bridge a link
   * gives an /etc/hosts line (alias, short ID, name) and Docker's ALIAS_*
   * variables. On a user-defined network dockerd only resolves the alias, by
   * DNS and for this container alone; aardvark-dns cannot answer one client
   * differently, so the alias goes into this container's /etc/hosts instead.
   */
  private linkTargets(rec: ContainerRecord): { hosts: string[]; env: string[] } {
    const out = { hosts: [] as string[], env: [] as string[] };
    const mode = rec.HostConfig.NetworkMode;
    const legacy = mode === 'default' || mode === 'bridge';
    for (const stored of rec.HostConfig.Links ?? []) {
      const { target, alias } = splitLinkPath(stored);
      const t = this.find(target)?.rec;
      if (t === undefined || !isRunning(t.State)) throw new InternalError(`Cannot link to a non running container: /${target} AS /${rec.Name}/${alias}`);
      const ip = this.d.network.addressOn(t.Id, legacy ? 'bridge' : mode);
      if (ip === undefined) {
        if (legacy) throw new InvalidArgumentError(`Cannot link to /${t.Name}, as it does not belong to the default network`);
        continue;
      }
      if (!legacy) {
        out.hosts.push(`${alias}:${ip}`);
        continue;
      }
      out.hosts.push(linkHostEntry({ alias, target: t.Name, targetId: t.Id, ip }));
      out.env.push(...linkEnv({ alias, linker: rec.Name, ip, exposed: Object.keys(t.Config.ExposedPorts ?? {}), env: t.Config.Env ?? [] }));
    }
    return out;
  }

  private checkNetworkMode(mode: string): void {
    if (mode === 'default' || mode === 'bridge' || mode === 'none' || mode === 'host') return;
    if (mode.startsWith('container:')) {
      this.get(mode.slice(10));
      return;
    }
    // Named networks are checked by the network side (register).
  }

  // --- start ----------------------------------------------------------------

  async start(ctx: Ctx, ref: string): Promise<void> {
    const l = this.get(ref);
    const s = l.rec.State.Status;
    if (s === 'running' || s === 'paused') throw new NotModifiedError('container already started');
    if (s === 'removing' || s === 'dead') throw new ConflictError(`cannot start a container that is being removed`);
    l.rec.State.ManualStop = false;
    try {
      await this.run(ctx, l);
    } catch (e) {
      // Clients attached before start wait for the stream (and, with --rm, the removal) to end.
      for (const a of l.attachers) a.end();
      l.attachers.clear();
      for (const w of l.exitWaiters) w();
      l.exitWaiters.clear();
      if (l.rec.HostConfig.AutoRemove) await this.remove(ctx, l.rec.Id, { force: true, volumes: true }).catch(() => {});
      throw e;
    }
  }

  /** One run of the container: mount, spec, conmon create, wire attachers, runc start. */
  private async run(ctx: Ctx, l: Live): Promise<void> {
    const rec = l.rec;
    const id = rec.Id;
    if (l.cleanup !== undefined) await l.cleanup;
    const img = this.d.images.index.byId(rec.Image as Parameters<ImageService['index']['byId']>[0]);
    const bundle = this.bundle(id);
    const rootfs = this.rootfs(id);
    // The network first: its namespace is made while the rootfs is mounted, and
    // netavark's setup runs on while the runtime creates the container.
    const netPlan = this.d.network.prepare(ctx, rec);
    netPlan.catch(() => {}); // awaited below, or settled before the teardown on failure
    try {
      await mkdir(rootfs, { recursive: true, mode: 0o700 });
      const mounts = await this.d.snapshots.mounts(id);
      await unmountQuiet(this.d.sys, rootfs);
      mountAll(this.d.sys, mounts, rootfs);
      const user = await resolveUser(rootfs, rec.Config.User, rec.HostConfig.GroupAdd ?? []);
      await this.ensureWorkdir(rootfs, rec.Config.WorkingDir, user.uid, user.gid);
      const net = await netPlan;
      const links = this.linkTargets(rec);
      const files = await this.writeEtcFiles(rec, net, links.hosts);
      const hc = rec.HostConfig;
      const mountsOut: ResolvedMount[] = await this.d.volumes.resolve(ctx, rec, (p) => resolveInRoot(rootfs, p));
      const netMode = hc.NetworkMode === 'host' ? 'host' : hc.NetworkMode.startsWith('container:') ? `container:${this.get(hc.NetworkMode.slice(10)).rec.State.Pid}` : 'none';
      const spec: OciSpec = generateSpec({
        id,
        rootfs,
        image: img?.config.config,
        spec: {
          Cmd: rec.Config.Cmd,
          Entrypoint: rec.Config.Entrypoint,
          // runc refuses entries without '='; dockerd drops them (`-e NAME` with NAME unset).
          // Link variables first: the container's own settings win over them, as in dockerd.
          Env: links.env.length > 0 ? [...links.env, ...(rec.Config.Env ?? []).filter((x) => x.includes('='))] : (rec.Config.Env?.filter((x) => x.includes('=')) ?? null),
          WorkingDir: rec.Config.WorkingDir,
          User: rec.Config.User,
          Hostname: rec.Config.Hostname,
          Domainname: rec.Config.Domainname,
          Tty: rec.Config.Tty,
          OpenStdin: rec.Config.OpenStdin,
          StdinOnce: rec.Config.StdinOnce,
          Labels: rec.Config.Labels,
          ...(rec.Config.StopSignal !== undefined ? { StopSignal: rec.Config.StopSignal } : {}),
          HostConfig: {
            Mounts: mountsOut,
            Tmpfs: hc.Tmpfs ?? null,
            ReadonlyRootfs: hc.ReadonlyRootfs,
            CapAdd: hc.CapAdd,
            CapDrop: hc.CapDrop,
            Privileged: hc.Privileged,
            SecurityOpt: hc.SecurityOpt,
            Memory: hc.Memory,
            MemorySwap: hc.MemorySwap,
            MemoryReservation: hc.MemoryReservation,
            NanoCpus: hc.NanoCpus,
            CpuShares: hc.CpuShares,
            CpuQuota: hc.CpuQuota,
            CpuPeriod: hc.CpuPeriod,
            CpusetCpus: hc.CpusetCpus,
            CpusetMems: hc.CpusetMems,
            PidsLimit: hc.PidsLimit,
            Ulimits: hc.Ulimits,
            ShmSize: hc.ShmSize,
            Sysctls: hc.Sysctls ?? null,
            Devices: hc.Devices,
            Init: hc.Init ?? null,
            NetworkMode: netMode,
            IpcMode: hc.IpcMode === 'host' ? 'host' : '',
            PidMode: hc.PidMode,
            UTSMode: hc.UTSMode,
            OomScoreAdj: hc.OomScoreAdj,
            GroupAdd: hc.GroupAdd,
            ExtraHosts: hc.ExtraHosts,
            ConsoleSize: hc.ConsoleSize,
          },
        },
        user,
        host: this.d.host,
        files,
        devices: await resolveDevices(hc.Devices),
        ...(this.d.initBinary !== undefined ? { initBinary: this.d.initBinary } : {}),
        cgroupns: 'host',
        ...(net.netnsPath !== undefined ? { netnsPath: net.netnsPath } : {}),
      });
      // container-fs: with max-file > 1 berth rotates (logRotator); conmon's limit would truncate instead.
      const logSizeMax = Number(hc.LogConfig.Config['max-file'] ?? '1') > 1 ? undefined : parseSize(hc.LogConfig.Config['max-size']);
      let created;
      try {
        created = await this.d.conmon.create({
          id,
          bundle,
          spec,
          logPath: this.logPath(id),
          ...(hc.LogConfig.Type === 'none' ? { noLog: true } : {}),
          ...(logSizeMax !== undefined ? { logSizeMax } : {}),
          stdin: rec.Config.OpenStdin,
          // moby closes stdin after the first attach only without a TTY (container/stream/attach.go)
          stdinOnce: rec.Config.StdinOnce && !rec.Config.Tty,
          name: rec.Name,
        });
      } catch (e) {
        if (e instanceof RuntimeStartError) {
          rec.State.ExitCode = e.exitCode;
          rec.State.Error = e.message;
          rec.State.Status = rec.State.Status === 'created' ? 'created' : 'exited';
          this.save(rec);
          this.d.events.publish('container', 'die', id, { exitCode: String(e.exitCode), image: rec.Config.Image, name: rec.Name });
        }
        throw e;
      }
      if (l.attachers.size > 0) await this.connectSession(ctx, l);
      // Interfaces were being set up while runc created the container; the process may run once they exist.
      await net.ready.catch(async (e: unknown) => {
        await this.d.conmon.remove(id).catch(() => {});
        throw e;
      });
      // runc start's work, done in-process (see Runc.start).
      await this.d.runc.start(id, created.pid);
      rec.State = {
        ...rec.State,
        Status: 'running',
        Pid: created.pid,
        ConmonPid: created.conmonPid,
        ExitCode: 0,
        Error: '',
        OOMKilled: false,
        StartedAt: new Date().toISOString(),
        FinishedAt: rec.State.FinishedAt,
      };
      if (rec.Config.Healthcheck?.Test !== undefined && rec.Config.Healthcheck.Test[0] !== 'NONE') {
        rec.State.Health = { Status: 'starting', FailingStreak: 0, Log: [] };
      }
      this.save(rec);
      l.exited = this.watchExit(ctx, l);
      this.d.events.publish('container', 'start', id, { image: rec.Config.Image, name: rec.Name, ...rec.Config.Labels });
      this.startHealth(ctx, l);
      this.logRotator?.start(id); // container-fs
    } catch (e) {
      await unmountQuiet(this.d.sys, rootfs);
      // The sandbox exists once the plan settled (or prepare tore it down itself).
      await netPlan.catch(() => {});
      await this.d.network.teardown(ctx, rec).catch((err: unknown) => ctx.log.warn('network teardown failed', { id, err: errorMessage(err) }));
      await this.d.volumes.release(ctx, rec).catch(() => {});
      if (!(e instanceof RuntimeStartError)) throw e;
      // Docker: the API says 500 (or 400/404 by cause); the CLI then exits 125/126/127.
      throw e;
    }
  }

  private async ensureWorkdir(rootfs: string, dir: string, uid: number, gid: number): Promise<void> {
    if (dir === '' || dir === '/') return;
    const target = await resolveInRoot(rootfs, dir);
    const existed = await stat(target).then(() => true, () => false);
    if (!existed) {
      await mkdir(target, { recursive: true, mode: 0o755 });
      // Docker creates a missing WORKDIR owned by the container user.
      const { chown } = await import('node:fs/promises');
      await chown(target, uid, gid).catch(() => {});
    }
  }

  private async writeEtcFiles(rec: ContainerRecord, net: { ips: readonly string[]; dnsServers: readonly string[]; hostGateway: string }, linkHosts: readonly string[] = []): Promise<{ hosts: string; hostname: string; resolvConf: string }> {
    const dir = this.stateDir(rec.Id);
    const hostname = join(dir, 'hostname');
    const hosts = join(dir, 'hosts');
    const resolvConf = join(dir, 'resolv.conf');
    const hostNet = rec.HostConfig.NetworkMode === 'host';
    const hostsText = async (): Promise<string | Buffer> => {
      if (hostNet) return readFile('/etc/hosts').catch(() => Buffer.from('127.0.0.1\tlocalhost\n'));
      // `--add-host name:host-gateway` means the default bridge's gateway, as in dockerd.
      const extra = [...(rec.HostConfig.ExtraHosts ?? []).map((h) => h.replace(/:host-gateway$/, `:${net.hostGateway}`)), ...linkHosts];
      return hostsFile(rec.Config.Hostname, rec.Config.Domainname, net.ips, extra);
    };
    // Three independent files on the start path: written at once.
    await Promise.all([
      writeFile(hostname, `${rec.Config.Hostname}\n`),
      hostsText().then((t) => writeFile(hosts, t)),
      resolvConfFor(rec, hostNet, net.dnsServers).then((t) => writeFile(resolvConf, t)),
    ]);
    return { hosts, hostname, resolvConf };
  }

  /**
   * `network connect`/`disconnect` of a running container: its /etc/hosts
   * gains or loses that address's line, as in Docker. Rewritten in place: the
   * container sees the file through a bind mount of this inode.
   */
  private async updateHosts(id: string, change: { add?: string; remove?: string }): Promise<void> {
    const rec = this.live.get(id)?.rec;
    if (rec === undefined || rec.HostConfig.NetworkMode === 'host') return;
    const path = join(this.stateDir(id), 'hosts');
    const text = await readFile(path, 'utf8').catch(() => undefined);
    if (text === undefined) return; // never started: the next start writes it whole
    let lines = text.split('\n').filter((x) => x !== '');
    if (change.remove !== undefined) lines = lines.filter((x) => x.split(/\s+/)[0] !== change.remove);
    if (change.add !== undefined) {
      // The line hostsFile writes for an address (hostname, with the domain if any).
      const line = hostsFile(rec.Config.Hostname, rec.Config.Domainname, [change.add]).trimEnd().split('\n').pop();
      if (line !== undefined) lines.push(line);
    }
    await writeFile(path, lines.join('\n') + '\n');
  }

  // --- exit, restart, wait ---------------------------------------------------

  private async watchExit(ctx: Ctx, l: Live): Promise<void> {
    const id = l.rec.Id;
    const info = await this.d.conmon.waitExit(id, this.bundle(id));
    if (this.stopping) return; // the daemon is going away; the next start reconciles
    await this.recordExit(ctx, l, info.exitCode, info.oomKilled, info.finishedAt);
  }

  private async recordExit(ctx: Ctx, l: Live, code: number, oom: boolean, at: Date): Promise<void> {
    const rec = l.rec;
    const id = rec.Id;
    if (l.healthTimer !== undefined) clearInterval(l.healthTimer);
    this.logRotator?.stop(id); // container-fs
    l.session?.close();
    delete l.session;
    for (const a of l.attachers) a.end();
    l.attachers.clear();
    // runc delete (~15-30 ms) and the rootfs unmount (an RCU grace period) are off the exit path:
    // `wait` and `run --rm` do not wait for them; a new run, the removal and (after a crash) init do.
    // The container keeps its image layers in use meanwhile.
    l.cleanup = nextTurn().then(() => this.d.conmon.remove(id)).catch(() => {}).then(() => unmountQuiet(this.d.sys, this.rootfs(id)));
    if (rec.State.Pid > 0) this.d.execHelper?.forget(rec.State.Pid); // its cgroup paths, cached for execs
    rec.State = { ...rec.State, Status: 'exited', Pid: 0, ConmonPid: 0, ExitCode: code, OOMKilled: oom, FinishedAt: at.toISOString() };
    if (rec.State.Health !== undefined) rec.State.Health.Status = 'unhealthy';
    this.save(rec);
    if (oom) this.d.events.publish('container', 'oom', id, { image: rec.Config.Image, name: rec.Name });
    this.d.events.publish('container', 'die', id, { exitCode: String(code), image: rec.Config.Image, name: rec.Name, ...rec.Config.Labels });
    // Docker's order: die, network disconnect. Off the exit path (netavark takes ~100-300 ms);
    // rm, a restart and `network rm` wait for it.
    void nextTurn().then(() => this.d.network.teardown(ctx, rec)).catch((e: unknown) => ctx.log.warn('network teardown failed', { id, err: errorMessage(e) }));
    await this.d.volumes.release(ctx, rec).catch((e: unknown) => ctx.log.warn('volume release failed', { id, err: errorMessage(e) }));
    for (const w of l.exitWaiters) w();
    l.exitWaiters.clear();
    if (this.shouldRestart(rec)) {
      const delay = Math.min(100 * 2 ** Math.min(rec.RestartCount, 10), 60_000);
      rec.State.Status = 'restarting';
      this.save(rec);
      l.restartTimer = setTimeout(() => {
        delete l.restartTimer;
        if (l.rec.State.Status !== 'restarting') return;
        l.rec.RestartCount++;
        this.run(ctx, l).catch((e: unknown) => {
          ctx.log.warn('restart failed', { id, err: errorMessage(e) });
          l.rec.State.Status = 'exited';
          this.save(l.rec);
        });
      }, delay);
      return;
    }
    if (rec.HostConfig.AutoRemove) {
      await this.remove(ctx, id, { force: true, volumes: true }).catch((e: unknown) => ctx.log.warn('auto-remove failed', { id, err: errorMessage(e) }));
    }
  }

  private shouldRestart(rec: ContainerRecord): boolean {
    const p = rec.HostConfig.RestartPolicy;
    // Docker: a container the user stopped stays stopped, whatever the policy.
    if (rec.State.ManualStop) return false;
    switch (p.Name) {
      case 'always':
      case 'unless-stopped':
        return true;
      case 'on-failure':
        return rec.State.ExitCode !== 0 && (p.MaximumRetryCount === 0 || rec.RestartCount < p.MaximumRetryCount);
      default:
        return false;
    }
  }

  /**
   * POST /wait: resolves with the exit code when `condition` holds.
   * not-running (default): now if not running, else at exit; next-exit: at
   * the next exit; removed: when the container is gone.
   */
  async wait(ref: string, condition: string, signal: AbortSignal): Promise<{ code: number; error: string | null }> {
    const l = this.get(ref);
    if (condition !== '' && condition !== 'not-running' && condition !== 'next-exit' && condition !== 'removed') {
      throw new InvalidArgumentError(`invalid condition: "${condition}"`);
    }
    const st = l.rec.State;
    if ((condition === '' || condition === 'not-running') && !isRunning(st) ) {
      return { code: st.ExitCode, error: null };
    }
    await new Promise<void>((resolve, reject) => {
      const set = condition === 'removed' ? l.removeWaiters : l.exitWaiters;
      const done = (): void => {
        signal.removeEventListener('abort', abort);
        resolve();
      };
      const abort = (): void => {
        set.delete(done);
        reject(new InternalError('context canceled'));
      };
      signal.addEventListener('abort', abort, { once: true });
      set.add(done);
    });
    // Start failures are reported by /start itself; wait only reports the exit.
    return { code: l.rec.State.ExitCode, error: null };
  }

  // --- stop, kill, restart, pause --------------------------------------------

  stopSignal(rec: ContainerRecord): string {
    return rec.Config.StopSignal ?? 'SIGTERM';
  }

  async stop(ctx: Ctx, ref: string, timeoutSec: number | undefined, signalName?: string): Promise<void> {
    const l = this.get(ref);
    const rec = l.rec;
    if (l.restartTimer !== undefined) {
      clearTimeout(l.restartTimer);
      delete l.restartTimer;
      rec.State.Status = 'exited';
      rec.State.ManualStop = true;
      this.save(rec);
      return;
    }
    if (!isRunning(rec.State)) throw new NotModifiedError('container already stopped');
    rec.State.ManualStop = true;
    this.save(rec);
    const t = timeoutSec ?? rec.Config.StopTimeout ?? 10;
    const sig = signalName !== undefined && signalName !== '' ? signalName : this.stopSignal(rec);
    const exited = l.exited ?? Promise.resolve();
    if (rec.State.Status === 'paused') await this.d.runc.resume(rec.Id).catch(() => {});
    await this.signal(rec, sig);
    const inTime = t < 0 ? (await exited, true) : await Promise.race([exited.then(() => true), sleep(t * 1000).then(() => false)]);
    if (!inTime) {
      await this.signal(rec, 'SIGKILL');
      await exited;
    }
    this.d.events.publish('container', 'stop', rec.Id, { image: rec.Config.Image, name: rec.Name, ...rec.Config.Labels });
  }

  private async signal(rec: ContainerRecord, sig: string): Promise<void> {
    const n = signalNumber(sig);
    this.d.events.publish('container', 'kill', rec.Id, { image: rec.Config.Image, name: rec.Name, signal: String(n), ...rec.Config.Labels });
    await this.d.runc.kill(rec.Id, String(n), n === 9).catch((e: unknown) => {
      if (!/not running|does not exist|No such/i.test(errorMessage(e))) throw e;
    });
  }

  async kill(ctx: Ctx, ref: string, sig: string | undefined): Promise<void> {
    const l = this.get(ref);
    if (!isRunning(l.rec.State)) throw new ConflictError(`Cannot kill container: ${ref}: Container ${l.rec.Id} is not running`);
    const s = sig === undefined || sig === '' ? 'SIGKILL' : sig;
    const n = signalNumber(s); // validates before anything is sent
    // Killed by the user: restart policies other than `always` stand down, as in Docker.
    if (n === 9 || n === 15) {
      l.rec.State.ManualStop = true;
      this.save(l.rec);
    }
    await this.signal(l.rec, s);
  }

  async restart(ctx: Ctx, ref: string, timeoutSec: number | undefined): Promise<void> {
    const l = this.get(ref);
    if (isRunning(l.rec.State)) await this.stop(ctx, ref, timeoutSec).catch((e: unknown) => {
      if (!(e instanceof NotModifiedError)) throw e;
    });
    l.rec.State.ManualStop = false;
    await this.run(ctx, l);
    this.d.events.publish('container', 'restart', l.rec.Id, { image: l.rec.Config.Image, name: l.rec.Name });
  }

  async pause(ref: string): Promise<void> {
    const l = this.get(ref);
    if (l.rec.State.Status === 'paused') throw new ConflictError(`Container ${l.rec.Id} is already paused`);
    if (l.rec.State.Status !== 'running') throw new ConflictError(`Container ${l.rec.Id} is not running`);
    await this.d.runc.pause(l.rec.Id);
    l.rec.State.Status = 'paused';
    this.save(l.rec);
    this.d.events.publish('container', 'pause', l.rec.Id, { image: l.rec.Config.Image, name: l.rec.Name });
  }

  async unpause(ref: string): Promise<void> {
    const l = this.get(ref);
    if (l.rec.State.Status !== 'paused') throw new ConflictError(`Container ${l.rec.Id} is not paused`);
    await this.d.runc.resume(l.rec.Id);
    l.rec.State.Status = 'running';
    this.save(l.rec);
    this.d.events.publish('container', 'unpause', l.rec.Id, { image: l.rec.Config.Image, name: l.rec.Name });
  }

  // --- remove, rename ---------------------------------------------------------

  async remove(ctx: Ctx, ref: string, opts: { force: boolean; volumes: boolean }): Promise<void> {
    const l = this.get(ref);
    const rec = l.rec;
    if (rec.State.Status === 'removing') throw new ConflictError(`removal of container ${rec.Id} is already in progress`);
    if (isRunning(rec.State)) {
      if (!opts.force) {
        throw new ConflictError(`You cannot remove a running container ${rec.Id}. Stop the container before attempting removal or force remove`);
      }
      if (l.restartTimer !== undefined) clearTimeout(l.restartTimer);
      rec.State.ManualStop = true;
      rec.HostConfig = { ...rec.HostConfig, AutoRemove: false };
      if (rec.State.Status === 'restarting') rec.State.Status = 'exited';
      else {
        const exited = l.exited ?? Promise.resolve();
        await this.signal(rec, 'SIGKILL');
        await exited;
      }
    }
    await this.finishRemove(ctx, l, false, opts.volumes);
  }

  /**
   * The container disappears first (record renamed to a name no container can
   * take, so its own name is free; volumes released; waiters told: `run --rm`
   * returns now), then its files are freed: runc's record, bundle, snapshot,
   * state directory, network. The row goes last; a crash before that leaves
   * it `removing`, and init finishes the job.
   */
  private async finishRemove(ctx: Ctx, l: Live, quiet: boolean, removeVolumes = false): Promise<void> {
    const rec = l.rec;
    rec.State.Status = 'removing';
    this.d.table.put(rec.Id, `/removing/${rec.Id}`, JSON.stringify(rec));
    for (const e of l.execIds) this.execs.delete(e);
    await this.d.volumes.forget(ctx, rec.Id, removeVolumes).catch((e: unknown) => ctx.log.warn('volume release failed', { id: rec.Id, err: errorMessage(e) }));
    if (this.live.get(rec.Id) === l) this.live.delete(rec.Id);
    if (this.names.get(rec.Name) === rec.Id) this.names.delete(rec.Name);
    this.removing.set(rec.Id, rec);
    if (!quiet) this.d.events.publish('container', 'destroy', rec.Id, { image: rec.Config.Image, name: rec.Name, ...rec.Config.Labels });
    for (const w of l.removeWaiters) w();
    l.removeWaiters.clear();
    for (const w of l.exitWaiters) w();
    l.exitWaiters.clear();
    try {
      await nextTurn();
      await (l.cleanup ?? this.d.conmon.remove(rec.Id).catch(() => {}));
      await unmountQuiet(this.d.sys, this.rootfs(rec.Id));
      await this.d.snapshots.remove(rec.Id).catch((e: unknown) => {
        if (!(e instanceof NotFoundError)) ctx.log.warn('snapshot removal failed', { id: rec.Id, err: errorMessage(e) });
      });
      await rm(this.bundle(rec.Id), { recursive: true, force: true });
      await rm(this.stateDir(rec.Id), { recursive: true, force: true });
      await this.d.network.teardown(ctx, rec).catch((e: unknown) => ctx.log.warn('network teardown failed', { id: rec.Id, err: errorMessage(e) }));
      this.d.network.forget(rec.Id);
      this.d.table.delete(rec.Id);
    } finally {
      this.removing.delete(rec.Id);
    }
  }

  rename(ref: string, newName: string): void {
    const l = this.get(ref);
    const n = checkName(newName);
    if (n === l.rec.Name) throw new ConflictError(`Renaming a container with the same name as its current name`);
    const owner = this.names.get(n);
    if (owner !== undefined) {
      throw new ConflictError(`Conflict. The container name "/${n}" is already in use by container "${owner}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    const old = l.rec.Name;
    this.names.delete(old);
    l.rec.Name = n;
    this.names.set(n, l.rec.Id);
    this.save(l.rec);
    this.d.events.publish('container', 'rename', l.rec.Id, { image: l.rec.Config.Image, name: n, oldName: `/${old}` });
  }

  // --- attach -----------------------------------------------------------------

  /**
   * Registers an attacher. Before start, output is connected at start (no
   * output lost); on a running container the conmon socket is joined now.
   * Returns a detach function.
   */
  async attach(ctx: Ctx, ref: string, a: Attacher): Promise<() => void> {
    const l = this.get(ref);
    l.attachers.add(a);
    if (a.stdin !== undefined && l.rec.Config.OpenStdin) this.pipeStdin(l, a.stdin);
    if (isRunning(l.rec.State) && l.session === undefined) await this.connectSession(ctx, l);
    this.d.events.publish('container', 'attach', l.rec.Id, { image: l.rec.Config.Image, name: l.rec.Name });
    return () => {
      l.attachers.delete(a);
    };
  }

  private pendingStdin = new WeakMap<Live, Readable[]>();

  private pipeStdin(l: Live, input: Readable): void {
    if (l.session === undefined) {
      const q = this.pendingStdin.get(l) ?? [];
      q.push(input);
      this.pendingStdin.set(l, q);
      input.pause();
      return;
    }
    const s = l.session;
    input.on('data', (b: Buffer) => {
      s.stdin.write(b);
    });
    input.on('end', () => {
      // StdinOnce: the first client's EOF closes the container's stdin (not a TTY's: detach keys leave it open).
      if (l.rec.Config.StdinOnce && !l.rec.Config.Tty) s.stdin.end();
    });
    input.resume();
  }

  private async connectSession(ctx: Ctx, l: Live): Promise<void> {
    let session: AttachSession;
    try {
      session = await this.d.conmon.attach(l.rec.Id);
    } catch (e) {
      ctx.log.warn('attach socket unavailable', { id: l.rec.Id, err: errorMessage(e) });
      return;
    }
    l.session = session;
    session.output.on('data', (c: { stream: 1 | 2; data: Buffer }) => {
      for (const a of l.attachers) a.write(c.stream, c.data);
    });
    session.output.on('end', () => {
      if (l.session === session) delete l.session;
    });
    for (const input of this.pendingStdin.get(l) ?? []) this.pipeStdin(l, input);
    this.pendingStdin.delete(l);
  }

  async resize(ref: string, h: number, w: number): Promise<void> {
    const l = this.get(ref);
    if (!isRunning(l.rec.State)) throw new ConflictError(`Container ${l.rec.Id} is not running`);
    await this.d.conmon.resize(this.bundle(l.rec.Id), h, w).catch(() => {});
  }

  // --- logs -------------------------------------------------------------------

  logs(
    ref: string,
    opts: { follow: boolean; stdout: boolean; stderr: boolean; tail?: number; since?: bigint; until?: bigint; signal: AbortSignal },
  ): { tty: boolean; messages: AsyncGenerator<LogMessage> } {
    const l = this.get(ref);
    if (l.rec.HostConfig.LogConfig.Type === 'none') throw new NotImplementedError('configured logging driver does not support reading');
    const running = isRunning(l.rec.State);
    const stopWhen = running ? new Promise<void>((r) => l.exitWaiters.add(r)) : Promise.resolve();
    const messages = readLogs(this.logPath(l.rec.Id), {
      follow: opts.follow && running,
      stopWhen,
      stdout: opts.stdout,
      stderr: opts.stderr,
      signal: opts.signal,
      ...(opts.tail !== undefined ? { tail: opts.tail } : {}),
      ...(opts.since !== undefined ? { since: opts.since } : {}),
      ...(opts.until !== undefined ? { until: opts.until } : {}),
    });
    return { tty: l.rec.Config.Tty, messages };
  }

  // --- exec -------------------------------------------------------------------

  execCreate(ref: string, raw: unknown): string {
    const l = this.get(ref);
    if (l.rec.State.Status === 'paused') throw new ConflictError(`Container ${ref} is paused, unpause the container before exec`);
    if (l.rec.State.Status !== 'running') throw new ConflictError(`Container ${l.rec.Id} is not running`);
    const o = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const cmd = o['Cmd'];
    if (!Array.isArray(cmd) || cmd.length === 0 || !cmd.every((x): x is string => typeof x === 'string')) throw new InvalidArgumentError('No exec command specified');
    const env = o['Env'];
    const cs = o['ConsoleSize'];
    const e: ExecRecord = {
      ID: newId(),
      ContainerID: l.rec.Id,
      Cmd: cmd,
      Env: Array.isArray(env) && env.every((x): x is string => typeof x === 'string') ? env : null,
      User: typeof o['User'] === 'string' ? o['User'] : '',
      WorkingDir: typeof o['WorkingDir'] === 'string' ? o['WorkingDir'] : '',
      Tty: o['Tty'] === true,
      Privileged: o['Privileged'] === true,
      AttachStdin: o['AttachStdin'] === true,
      AttachStdout: o['AttachStdout'] === true,
      AttachStderr: o['AttachStderr'] === true,
      DetachKeys: typeof o['DetachKeys'] === 'string' ? o['DetachKeys'] : '',
      Running: false,
      ExitCode: null,
      Pid: 0,
      ConsoleSize: Array.isArray(cs) && cs.length === 2 && typeof cs[0] === 'number' && typeof cs[1] === 'number' ? [cs[0], cs[1]] : null,
      started: false,
      // Short: conmon's attach socket path must stay under 108 bytes.
      dir: '',
    };
    e.dir = join(this.d.runRoot, `x${e.ID.slice(0, 12)}`);
    this.execs.set(e.ID, e);
    l.execIds.add(e.ID);
    this.d.events.publish('container', `exec_create: ${cmd.join(' ')}`, l.rec.Id, { image: l.rec.Config.Image, name: l.rec.Name, execID: e.ID });
    return e.ID;
  }

  getExec(id: string): ExecRecord {
    const e = this.execs.get(id);
    if (e === undefined) throw new NotFoundError(`No such exec instance: ${id}`);
    return e;
  }

  /**
   * Starts an exec. With `io`, output is delivered there and stdin read from
   * it; resolves with the exit code once the process has ended (recorded
   * before the caller closes the stream, as clients inspect right after EOF).
   */
  async execStart(ctx: Ctx, id: string, io: { write(stream: 1 | 2, data: Buffer): void; stdin?: Readable } | undefined, tty?: boolean): Promise<number> {
    const e = this.getExec(id);
    if (e.started) throw new ConflictError(`Error: Exec command ${id} has already run`);
    const l = this.get(e.ContainerID);
    if (l.rec.State.Status !== 'running') throw new ConflictError(`Container ${l.rec.Id} is not running`);
    e.started = true;
    if (tty !== undefined) e.Tty = tty;
    if (e.Tty && e.ConsoleSize === null && io !== undefined) {
      // The docker CLI sends the terminal size as a resize right after the
      // upgrade (within a few ms); waiting that long lets runc create the pty
      // at that size instead of resizing a process that already asked for it.
      // A client without a terminal size sends none: not worth more than 20 ms.
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 20);
        e.sizeArrived = () => {
          clearTimeout(t);
          resolve();
        };
      });
      delete e.sizeArrived;
    }
    const spec = JSON.parse(await readFile(join(this.bundle(l.rec.Id), 'config.json'), 'utf8')) as OciSpec;
    let user: Awaited<ReturnType<typeof resolveUser>> | undefined;
    try {
      user = e.User !== '' ? await resolveUser(this.rootfs(l.rec.Id), e.User) : undefined;
    } catch (err) {
      // Docker: the exec fails to start (126) with the lookup's message, not the request
      if (!(err instanceof BerthError) || io === undefined) throw err;
      return this.failExec(e, l, io, err.message, 126);
    }
    const proc = generateExecProcess(spec, {
      Cmd: e.Cmd,
      Env: e.Env,
      ...(user !== undefined ? { user } : {}),
      WorkingDir: e.WorkingDir,
      Tty: e.Tty,
      Privileged: e.Privileged,
      ConsoleSize: e.ConsoleSize,
    }, this.d.host.lastCap);
    this.d.events.publish('container', `exec_start: ${e.Cmd.join(' ')}`, l.rec.Id, { image: l.rec.Config.Image, name: l.rec.Name, execID: e.ID });
    const helper = this.d.execHelper;
    if (helper !== undefined && io !== undefined && l.rec.State.Pid > 0 && this.d.runtimeIsRunc && (await helper.canRun(spec.linux?.seccomp))) {
      if (!proc.env.some((v) => v.startsWith('HOME='))) {
        // runc's rule: without HOME in the environment, the user's passwd home (or /)
        const home = user?.home ?? (await resolveUser(this.rootfs(l.rec.Id), String(proc.user.uid)).then((u) => u.home, () => '/'));
        proc.env.push(`HOME=${home}`);
      }
      return this.execFast(helper, e, l, spec, proc, io);
    }
    await mkdir(e.dir, { recursive: true, mode: 0o700 });
    try {
      const session = await this.d.conmon.exec({ id: l.rec.Id, execId: e.ID, dir: e.dir, process: proc, attach: io !== undefined, stdin: e.AttachStdin });
      e.Running = true;
      e.Pid = session.pid;
      e.resize = (h, w) => this.d.conmon.resize(e.dir, h, w);
      if (session.attach !== undefined && io !== undefined) {
        const a = session.attach;
        a.output.on('data', (c: { stream: 1 | 2; data: Buffer }) => io.write(c.stream, c.data));
        if (io.stdin !== undefined && e.AttachStdin) {
          io.stdin.on('data', (b: Buffer) => a.stdin.write(b));
          io.stdin.on('end', () => a.stdin.end());
        } else a.stdin.end();
        const outputDone = ended(a.output);
        const code = await session.exit;
        await Promise.race([outputDone, sleep(2000)]);
        a.close();
        this.finishExec(e, l, code);
        return code;
      }
      void session.exit.then((code) => this.finishExec(e, l, code));
      return 0;
    } catch (err) {
      if (err instanceof RuntimeStartError) return this.failExec(e, l, io, err.message, err.exitCode);
      e.Running = false;
      throw err;
    }
  }

  /** An attached exec through berth-exec (runtime/fastexec.ts): no runc, no conmon. */
  private async execFast(helper: ExecHelper, e: ExecRecord, l: Live, spec: OciSpec, proc: OciProcess, io: { write(stream: 1 | 2, data: Buffer): void; stdin?: Readable }): Promise<number> {
    const size = e.ConsoleSize;
    const s = await helper.start({
      pid: l.rec.State.Pid,
      cgroupPath: spec.linux?.cgroupsPath,
      process: proc,
      seccomp: spec.linux?.seccomp,
      rlimits: spec.process.rlimits,
      stdin: e.AttachStdin && io.stdin !== undefined,
      ...(e.Tty ? { tty: { rows: size?.[0] ?? 0, cols: size?.[1] ?? 0 } } : {}),
    });
    if (s.resize !== undefined) {
      const resize = s.resize;
      e.resize = async (h, w) => resize(h, w);
      // a size that arrived while the helper started
      if (e.ConsoleSize !== null && e.ConsoleSize !== size) resize(e.ConsoleSize[0], e.ConsoleSize[1]);
    }
    s.stdout.on('data', (b: Buffer) => io.write(1, b));
    s.stderr.on('data', (b: Buffer) => io.write(2, b));
    if (s.stdin !== null && io.stdin !== undefined) {
      const stdin = s.stdin;
      stdin.on('error', () => {}); // the process may exit without reading its input
      io.stdin.on('data', (b: Buffer) => stdin.write(b));
      io.stdin.on('end', () => stdin.end());
    }
    const outputDone = Promise.all([ended(s.stdout), ended(s.stderr)]);
    e.Running = true;
    let code: number;
    try {
      e.Pid = await s.pid;
      code = await s.exit;
    } catch (err) {
      if (!(err instanceof RuntimeStartError)) {
        e.Running = false;
        throw err;
      }
      return this.failExec(e, l, io, err.message, err.exitCode);
    }
    // a background child may keep the pipes open: do not wait for it forever
    await Promise.race([outputDone, sleep(2000)]);
    s.stdout.destroy();
    s.stderr.destroy();
    this.finishExec(e, l, code);
    return code;
  }

  /** Docker: an exec that cannot start still answers 200; the error text arrives on stdout and ExitCode is 126/127. */
  private failExec(e: ExecRecord, l: Live, io: { write(stream: 1 | 2, data: Buffer): void } | undefined, message: string, code: number): number {
    io?.write(1, Buffer.from(`${message}\r\n`));
    this.finishExec(e, l, code);
    return code;
  }

  private finishExec(e: ExecRecord, l: Live, code: number): void {
    e.Running = false;
    e.ExitCode = code;
    void rm(e.dir, { recursive: true, force: true });
    this.d.events.publish('container', 'exec_die', l.rec.Id, { image: l.rec.Config.Image, name: l.rec.Name, execID: e.ID, exitCode: String(code) });
  }

  /** POST /exec/{id}/resize: applied now, or remembered for the pty about to be made. */
  async execResize(id: string, h: number, w: number): Promise<void> {
    const e = this.getExec(id);
    if (e.resize !== undefined) {
      await e.resize(h, w).catch(() => {});
      return;
    }
    if (h > 0 && w > 0) e.ConsoleSize = [h, w];
    e.sizeArrived?.();
  }

  execInspect(id: string): Record<string, unknown> {
    const e = this.getExec(id);
    return {
      CanRemove: false,
      ContainerID: e.ContainerID,
      DetachKeys: e.DetachKeys,
      ExitCode: e.ExitCode,
      ID: e.ID,
      OpenStderr: e.AttachStderr,
      OpenStdin: e.AttachStdin,
      OpenStdout: e.AttachStdout,
      ProcessConfig: { arguments: e.Cmd.slice(1), entrypoint: e.Cmd[0], privileged: e.Privileged, tty: e.Tty, ...(e.User !== '' ? { user: e.User } : {}) },
      Running: e.Running,
      Pid: e.Pid,
    };
  }

  // --- health -------------------------------------------------------------------

  private startHealth(ctx: Ctx, l: Live): void {
    const hc = l.rec.Config.Healthcheck;
    if (hc?.Test === undefined || hc.Test.length === 0 || hc.Test[0] === 'NONE') return;
    const interval = (hc.Interval ?? 30e9) / 1e6;
    const timeout = (hc.Timeout ?? 30e9) / 1e6;
    const retries = hc.Retries ?? 3;
    const startPeriod = (hc.StartPeriod ?? 0) / 1e6;
    const started = Date.now();
    const cmd = hc.Test[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', hc.Test.slice(1).join(' ')] : hc.Test.slice(1);
    const probe = async (): Promise<void> => {
      if (l.rec.State.Status !== 'running') return;
      const h = l.rec.State.Health;
      if (h === undefined) return;
      const start = new Date();
      let out = '';
      let code: number;
      try {
        const id = this.execCreate(l.rec.Id, { Cmd: cmd, AttachStdout: true, AttachStderr: true });
        code = await Promise.race([
          this.execStart(ctx, id, { write: (_s, d) => (out = (out + d.toString()).slice(-4096)) }),
          sleep(timeout).then(() => -1),
        ]);
        this.execs.delete(id);
        l.execIds.delete(id);
      } catch (e) {
        code = -1;
        out = errorMessage(e);
      }
      h.Log = [...h.Log.slice(-4), { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: code, Output: out }];
      if (code === 0) {
        h.FailingStreak = 0;
        if (h.Status !== 'healthy') this.d.events.publish('container', 'health_status: healthy', l.rec.Id, { image: l.rec.Config.Image, name: l.rec.Name });
        h.Status = 'healthy';
      } else if (Date.now() - started >= startPeriod || h.Status !== 'starting') {
        h.FailingStreak++;
        if (h.FailingStreak >= retries && h.Status !== 'unhealthy') {
          h.Status = 'unhealthy';
          this.d.events.publish('container', 'health_status: unhealthy', l.rec.Id, { image: l.rec.Config.Image, name: l.rec.Name });
        }
      }
      this.save(l.rec);
    };
    l.healthTimer = setInterval(() => void probe(), Math.max(interval, 100));
    l.healthTimer.unref();
  }

  // --- inspection ----------------------------------------------------------------

  inspect(ref: string): Record<string, unknown> {
    const l = this.get(ref);
    const r = l.rec;
    const s = r.State;
    const state: Record<string, unknown> = {
      Status: s.Status,
      Running: s.Status === 'running' || s.Status === 'paused',
      Paused: s.Status === 'paused',
      Restarting: s.Status === 'restarting',
      OOMKilled: s.OOMKilled,
      Dead: s.Status === 'dead',
      Pid: s.Pid,
      ExitCode: s.ExitCode,
      Error: s.Error,
      StartedAt: s.StartedAt,
      FinishedAt: s.FinishedAt,
    };
    if (s.Health !== undefined) state['Health'] = s.Health;
    const dir = this.stateDir(r.Id);
    const hc = r.HostConfig;
    return {
      Id: r.Id,
      Created: r.Created,
      Path: r.Path,
      Args: r.Args,
      State: state,
      Image: r.Image,
      ResolvConfPath: join(dir, 'resolv.conf'),
      HostnamePath: join(dir, 'hostname'),
      HostsPath: join(dir, 'hosts'),
      LogPath: r.HostConfig.LogConfig.Type === 'none' ? '' : this.logPath(r.Id),
      Name: `/${r.Name}`,
      RestartCount: r.RestartCount,
      Driver: 'overlay2',
      Platform: 'linux',
      MountLabel: '',
      ProcessLabel: '',
      AppArmorProfile: '',
      ExecIDs: l.execIds.size > 0 ? [...l.execIds] : null,
      HostConfig: {
        ...hc,
        ContainerIDFile: '',
        VolumeDriver: '',
        CgroupnsMode: 'host',
        Cgroup: '',
        Links: hc.Links ?? null,
        UsernsMode: '',
        Isolation: '',
        CgroupParent: '',
        BlkioWeight: 0,
        MemorySwappiness: null,
        OomKillDisable: false,
        MaskedPaths: hc.Privileged ? null : ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware'],
        ReadonlyPaths: hc.Privileged ? null : ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
      },
      GraphDriver: { Data: { MergedDir: this.rootfs(r.Id), UpperDir: this.d.snapshots.upperDir(r.Id) }, Name: 'overlay2' },
      Mounts: this.mountPoints(r),
      Config: r.Config,
      NetworkSettings: this.networkSettings(r),
    };
  }

  private mountPoints(r: ContainerRecord): Record<string, unknown>[] {
    return this.d.volumes.mountPoints(r.Id);
  }

  /**
   * What the container sees that is not its rootfs and that the host can
   * reach: the /etc files berth bind-mounts (once written) and its bind and
   * volume mounts, in the order runc mounts them (a later one covers an
   * earlier one at the same place). `docker cp` reads and writes through these.
   */
  async viewMounts(ref: string): Promise<ViewMount[]> {
    const r = this.get(ref).rec;
    const dir = this.stateDir(r.Id);
    const out: ViewMount[] = [];
    for (const [dest, file] of [['/etc/resolv.conf', 'resolv.conf'], ['/etc/hostname', 'hostname'], ['/etc/hosts', 'hosts']] as const) {
      const src = join(dir, file);
      if ((await stat(src).catch(() => undefined)) !== undefined) out.push({ dest, src, rw: !r.HostConfig.ReadonlyRootfs });
    }
    for (const m of this.d.volumes.mountPoints(r.Id)) {
      const { Type: type, Source: src, Destination: dest, RW: rw } = m;
      if ((type === 'bind' || type === 'volume') && typeof src === 'string' && src !== '' && typeof dest === 'string') out.push({ dest, src, rw: rw !== false });
    }
    return out;
  }

  private networkSettings(r: ContainerRecord): Record<string, unknown> {
    return this.d.network.settings(r);
  }

  /** GET /containers/json entries. */
  summary(r: ContainerRecord): Record<string, unknown> {
    const img = this.d.images.index.byId(r.Image as Parameters<ImageService['index']['byId']>[0]);
    const command = [r.Path, ...r.Args].map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ');
    return {
      Id: r.Id,
      Names: [`/${r.Name}`],
      Image: img !== undefined ? r.Config.Image : r.Image,
      ImageID: r.Image,
      Command: command,
      Created: Math.floor(Date.parse(r.Created) / 1000),
      Ports: this.d.network.summaryPorts(r),
      Labels: r.Config.Labels,
      State: r.State.Status,
      Status: humanStatus(r),
      HostConfig: { NetworkMode: r.HostConfig.NetworkMode },
      NetworkSettings: { Networks: this.d.network.summaryNetworks(r) },
      Mounts: this.mountPoints(r),
    };
  }

  list(opts: { all: boolean; limit: number; filters: ReadonlyMap<string, readonly string[]>; size: boolean; latestOnly: boolean }): Record<string, unknown>[] {
    const f = opts.filters;
    for (const k of f.keys()) {
      if (!['id', 'name', 'label', 'status', 'exited', 'ancestor', 'before', 'since', 'health', 'network', 'volume', 'publish', 'expose', 'is-task', 'isolation'].includes(k)) {
        throw new InvalidArgumentError(`Invalid filter '${k}'`);
      }
    }
    const statuses = f.get('status');
    for (const s of statuses ?? []) {
      if (!['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'].includes(s)) throw new InvalidArgumentError(`Invalid filter 'status=${s}'`);
    }
    const all = opts.all || statuses !== undefined || f.has('exited');
    let recs = [...this.live.values()].map((l) => l.rec).sort((a, b) => (a.Created < b.Created ? 1 : a.Created > b.Created ? -1 : 0));
    const before = f.get('before')?.[0];
    const since = f.get('since')?.[0];
    if (before !== undefined) {
      const b = this.get(before).rec.Created;
      recs = recs.filter((r) => r.Created < b);
    }
    if (since !== undefined) {
      const s = this.get(since).rec.Created;
      recs = recs.filter((r) => r.Created > s);
    }
    const out: Record<string, unknown>[] = [];
    for (const r of recs) {
      if (!all && !isRunning(r.State)) continue;
      if (statuses !== undefined && !statuses.includes(r.State.Status)) continue;
      const ids = f.get('id');
      if (ids !== undefined && !ids.some((i) => r.Id.startsWith(i))) continue;
      const names = f.get('name');
      if (names !== undefined && !names.some((n) => new RegExp(n.replace(/^\//, '')).test(r.Name))) continue;
      const labels = f.get('label');
      if (labels !== undefined && !labels.every((w) => { const i = w.indexOf('='); return i === -1 ? w in r.Config.Labels : r.Config.Labels[w.slice(0, i)] === w.slice(i + 1); })) continue;
      const exited = f.get('exited');
      if (exited !== undefined && !(r.State.Status === 'exited' && exited.includes(String(r.State.ExitCode)))) continue;
      const anc = f.get('ancestor');
      if (anc !== undefined && !anc.some((a) => { const img = this.d.images.index.find(a); return img !== undefined && img.record.id === r.Image; })) continue;
      const health = f.get('health');
      if (health !== undefined && !health.includes(r.State.Health?.Status ?? 'none')) continue;
      const netF = f.get('network');
      if (netF !== undefined && !this.d.network.networksOf(r.Id).some((n) => netF.includes(n.name) || netF.some((x) => n.id.startsWith(x)))) continue;
      const volF = f.get('volume');
      if (volF !== undefined && !this.mountPoints(r).some((m) => volF.includes(String(m['Name'])) || volF.includes(String(m['Destination'])))) continue;
      out.push(this.summary(r));
      if (opts.latestOnly) break;
      if (opts.limit > 0 && out.length >= opts.limit) break;
    }
    return out;
  }

  async top(ref: string, psArgs: string): Promise<{ Titles: string[]; Processes: string[][] }> {
    const l = this.get(ref);
    if (l.rec.State.Status !== 'running' && l.rec.State.Status !== 'paused') throw new ConflictError(`Container ${l.rec.Id} is not running`);
    const pids = await this.d.runc.ps(l.rec.Id);
    const { run } = await import('../base/exec.js');
    const args = psArgs === '' ? ['-ef'] : psArgs.split(/\s+/);
    const r = await run('ps', args, { allowFailure: true });
    const lines = r.stdout.split('\n').filter((x) => x.trim() !== '');
    const titles = (lines[0] ?? '').trim().split(/\s+/);
    const pidCol = titles.indexOf('PID');
    if (pidCol === -1) throw new InternalError(`Couldn't find PID field in ps output`);
    const procs: string[][] = [];
    for (const line of lines.slice(1)) {
      const cols = line.trim().split(/\s+/);
      const fixed = cols.slice(0, titles.length - 1);
      fixed.push(cols.slice(titles.length - 1).join(' '));
      if (pids.includes(Number(fixed[pidCol]))) procs.push(fixed);
    }
    return { Titles: titles, Processes: procs };
  }

  async stats(ref: string): Promise<DockerStats> {
    const l = this.get(ref);
    const st = await readStats({ cgroupPath: `/berth/${l.rec.Id}`, id: l.rec.Id, name: `/${l.rec.Name}`, ...(l.statsPrev !== undefined ? { previous: l.statsPrev } : {}) });
    l.statsPrev = st;
    return st;
  }

  isRunning(ref: string): boolean {
    return isRunning(this.get(ref).rec.State);
  }

  async prune(ctx: Ctx, filters: ReadonlyMap<string, readonly string[]>): Promise<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    let space = 0;
    for (const l of [...this.live.values()]) {
      if (isRunning(l.rec.State)) continue;
      const labels = filters.get('label');
      if (labels !== undefined && !labels.every((w) => { const i = w.indexOf('='); return i === -1 ? w in l.rec.Config.Labels : l.rec.Config.Labels[w.slice(0, i)] === w.slice(i + 1); })) continue;
      space += await this.d.snapshots.usage(l.rec.Id).catch(() => 0);
      await this.remove(ctx, l.rec.Id, { force: false, volumes: false }).then(() => deleted.push(l.rec.Id), () => {});
    }
    return { ContainersDeleted: deleted.length > 0 ? deleted : null, SpaceReclaimed: space };
  }

  counts(): { containers: number; running: number; paused: number; stopped: number } {
    let running = 0;
    let paused = 0;
    for (const l of this.live.values()) {
      if (l.rec.State.Status === 'running' || l.rec.State.Status === 'restarting') running++;
      else if (l.rec.State.Status === 'paused') paused++;
    }
    return { containers: this.live.size, running, paused, stopped: this.live.size - running - paused };
  }

  /** The daemon is shutting down: containers keep running (live restore); stop watching. */
  close(): void {
    this.stopping = true;
    for (const l of this.live.values()) {
      if (l.restartTimer !== undefined) clearTimeout(l.restartTimer);
      if (l.healthTimer !== undefined) clearInterval(l.healthTimer);
      l.session?.close();
    }
    this.d.conmon.close();
  }
}

function mergeEnvList(base: readonly string[], over: readonly string[]): string[] {
  const out = [...base];
  for (const e of over) {
    const k = e.split('=')[0];
    const i = out.findIndex((x) => x.split('=')[0] === k);
    if (i >= 0) out[i] = e;
    else out.push(e);
  }
  return out;
}

async function resolvConfFor(rec: ContainerRecord, hostNet: boolean, dnsServers: readonly string[]): Promise<string> {
  const host = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  const hc = rec.HostConfig;
  let lines = host.split('\n');
  if (!hostNet) {
    // Loopback resolvers of the host are unreachable from the container's namespace.
    lines = lines.filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l));
  }
  if (hc.Dns.length > 0) lines = lines.filter((l) => !/^\s*nameserver\s/.test(l)).concat(hc.Dns.map((d) => `nameserver ${d}`));
  if (hc.DnsSearch.length > 0) lines = lines.filter((l) => !/^\s*(search|domain)\s/.test(l)).concat([`search ${hc.DnsSearch.join(' ')}`]);
  if (hc.DnsOptions.length > 0) lines = lines.filter((l) => !/^\s*options\s/.test(l)).concat([`options ${hc.DnsOptions.join(' ')}`]);
  if (!lines.some((l) => /^\s*nameserver\s/.test(l)) && !hostNet) lines.push('nameserver 8.8.8.8', 'nameserver 8.8.4.4');
  if (dnsServers.length > 0) {
    // User-defined networks: aardvark-dns (on the gateway) answers container names and forwards the rest.
    const rest = hc.Dns.length > 0 ? lines.filter((l) => /^\s*nameserver\s/.test(l)) : [];
    lines = lines.filter((l) => !/^\s*nameserver\s/.test(l)).concat(dnsServers.map((d) => `nameserver ${d}`), rest);
    if (hc.DnsOptions.length === 0) lines = lines.filter((l) => !/^\s*options\s/.test(l)).concat(['options ndots:0']);
  }
  return lines.filter((l, i, a) => !(l === '' && i === a.length - 1)).join('\n') + '\n';
}

/** Everything stacked on `target`, off the main thread; not being mounted (any more) ends it quietly. */
async function unmountQuiet(sys: Sys, target: string): Promise<void> {
  for (let i = 0; i < 64; i++) {
    try {
      await sys.umountAsync(target);
    } catch {
      return;
    }
  }
}

function parseSize(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)b?$/i.exec(v.trim());
  if (m === null) throw new InvalidArgumentError(`invalid max-size: ${v}`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.floor(Number(m[1]) * mult);
}

/**
 * The next turn of the event loop: spawning a child forks berthd (3-7 ms on
 * the main thread), so cleanups begun at an exit or removal wait until the
 * answers to `wait` and `run --rm` are written.
 */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}


/** Settles when a stream has ended or closed, whichever comes first. */
function ended(r: Readable): Promise<void> {
  return new Promise<void>((resolve) => {
    r.once('end', resolve);
    r.once('close', resolve);
  });
}
