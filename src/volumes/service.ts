/**
 * VolumeService: Docker's volumes (local driver) and a container's mount
 * points.
 *
 * A volume is a directory <data-root>/volumes/<name>/_data. With options
 * (`--opt type=tmpfs|none,device=…,o=…`) something is mounted on that
 * directory while at least one running container uses it, as dockerd's
 * local driver does; the mount is counted per container and undone by the
 * last user (and at daemon start, for mounts a crash left behind).
 *
 * A container's mount points are resolved once, at create, from
 * --volumes-from, Binds, Mounts and the image's/config's Volumes (which
 * become anonymous volumes), and stored: they are what makes a volume "in
 * use", and what inspect reports. At start they become the runtime's mount
 * list; a new, empty volume first receives the image's content at its
 * destination (copy-up) unless `nocopy` was asked.
 */
import { getOrSet } from '../base/maps.js';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Ctx } from '../base/ctx.js';
import { ConflictError, InvalidArgumentError, NotFoundError, errorMessage } from '../base/errors.js';
import { run } from '../base/exec.js';
import { newId } from '../base/ids.js';
import type { Logger } from '../base/log.js';
import { MNT_DETACH, MS_BIND, MS_REC, type Sys } from '../base/sys.js';
import type { EventBus } from '../events/bus.js';
import type { VolumeTable } from '../metadata/volumes.js';

/** A mount for the runtime (the shape of runtime/spec.ts's ResolvedMount). */
export interface VolumeMount {
  readonly source: string;
  readonly target: string;
  readonly type: 'bind' | 'tmpfs';
  readonly options: readonly string[];
}

/** What the volume side reads of a container record (ContainerRecord fits). */
export interface VolContainer {
  readonly Id: string;
  readonly Name: string;
  readonly Config: { readonly Volumes: Record<string, object> | null };
  readonly HostConfig: {
    readonly Binds: string[] | null;
    readonly VolumesFrom: string[] | null;
    readonly Mounts?: readonly {
      Type: string;
      Source: string;
      Target: string;
      ReadOnly: boolean;
      BindOptions?: { Propagation?: string };
      TmpfsOptions?: { SizeBytes?: number; Mode?: number };
      VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string>; DriverConfig?: { Name?: string; Options?: Record<string, string> } };
    }[];
  };
}

/** The hooks the container service calls (injected by the composition root). */
export interface VolumeResolver {
  /** At create: validates and records mount points, creating named and anonymous volumes. `peer` finds --volumes-from containers by name or ID. */
  register(ctx: Ctx, c: VolContainer, peer: (ref: string) => string): Promise<void>;
  /** At start: the runtime's mounts; mounts option volumes; copies image content into new volumes. `inRoot` resolves a container path on the mounted rootfs. */
  resolve(ctx: Ctx, c: VolContainer, inRoot: (path: string) => Promise<string>): Promise<VolumeMount[]>;
  /** At exit: unmounts option volumes nobody runs with any more. */
  release(ctx: Ctx, c: VolContainer): Promise<void>;
  /** At rm: drops the mount points; with `removeAnonymous` (rm -v, --rm) deletes the anonymous volumes. */
  forget(ctx: Ctx, containerId: string, removeAnonymous: boolean): Promise<void>;
  /** Docker's `Mounts` for inspect and list. */
  mountPoints(containerId: string): Record<string, unknown>[];
}

interface VolumeDoc {
  Name: string;
  Driver: 'local';
  CreatedAt: string;
  Labels: Record<string, string> | null;
  Options: Record<string, string> | null;
  /** berth: made for a container's VOLUME / `-v /path`; removed by `rm -v`. */
  anonymous?: boolean;
}

interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  Name?: string;
  Source: string;
  Destination: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
  noCopy?: boolean;
  tmpfs?: { size?: number; mode?: number };
}

export interface VolumeServiceOptions {
  readonly root: string;
  readonly table: VolumeTable;
  readonly events: EventBus;
  readonly sys: Sys;
  readonly log: Logger;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const PROPAGATIONS = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);

function goTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class VolumeService implements VolumeResolver {
  private readonly vols = new Map<string, VolumeDoc>();
  private readonly points = new Map<string, MountPoint[]>();
  /** Option volumes mounted now → the running containers using them. */
  private readonly mountedBy = new Map<string, Set<string>>();

  constructor(private readonly o: VolumeServiceOptions) {}

  private dir(name: string): string {
    return join(this.o.root, name);
  }
  mountpoint(name: string): string {
    return join(this.o.root, name, '_data');
  }

  async init(): Promise<void> {
    await mkdir(this.o.root, { recursive: true, mode: 0o701 });
    for (const row of this.o.table.volumes()) {
      try {
        this.vols.set(row.name, JSON.parse(row.doc) as VolumeDoc);
      } catch (e) {
        this.o.log.error('volume record unreadable; skipping', { name: row.name, err: errorMessage(e) });
      }
    }
    for (const row of this.o.table.mounts()) {
      try {
        this.points.set(row.container_id, JSON.parse(row.doc) as MountPoint[]);
      } catch (e) {
        this.o.log.error('mount points unreadable; skipping', { id: row.container_id, err: errorMessage(e) });
      }
    }
  }

  /**
   * After the containers were reconciled: option volumes stay mounted for
   * running users; others (left by a crash) are unmounted; mount points of
   * containers that are gone are dropped.
   */
  async reconcile(ctx: Ctx, running: (id: string) => boolean | undefined): Promise<void> {
    for (const id of [...this.points.keys()]) {
      if (running(id) === undefined) await this.forget(ctx, id, false);
    }
    for (const [id, pts] of this.points) {
      if (running(id) !== true) continue;
      for (const p of pts) if (p.Type === 'volume' && p.Name !== undefined && this.hasOptions(p.Name)) this.users(p.Name).add(id);
    }
    const mounted = new Set(readMounts());
    for (const [name] of this.vols) {
      if (!this.hasOptions(name) || (this.mountedBy.get(name)?.size ?? 0) > 0) continue;
      if (mounted.has(this.mountpoint(name))) this.unmountQuiet(this.mountpoint(name));
    }
  }

  private users(name: string): Set<string> {
    return getOrSet(this.mountedBy, name, () => new Set<string>());
  }

  private hasOptions(name: string): boolean {
    const o = this.vols.get(name)?.Options;
    return o !== null && o !== undefined && (o['type'] !== undefined || o['device'] !== undefined);
  }

  // --- volumes API -------------------------------------------------------------

  get(name: string): VolumeDoc {
    const v = this.vols.get(name);
    if (v === undefined) throw new NotFoundError(`get ${name}: no such volume`);
    return v;
  }

  view(v: VolumeDoc): Record<string, unknown> {
    return { CreatedAt: v.CreatedAt, Driver: v.Driver, Labels: v.Labels, Mountpoint: this.mountpoint(v.Name), Name: v.Name, Options: v.Options, Scope: 'local' };
  }

  inspect(name: string): Record<string, unknown> {
    return this.view(this.get(name));
  }

  /** POST /volumes/create: creating an existing volume returns it (as dockerd). */
  async create(ctx: Ctx, raw: unknown): Promise<Record<string, unknown>> {
    const b = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
    const str = (k: string): string => {
      const v = b[k];
      if (v === undefined || v === null) return '';
      if (typeof v !== 'string') throw new InvalidArgumentError(`json: cannot unmarshal ${typeof v} into Go struct field ${k} of type string`);
      return v;
    };
    const map = (k: string): Record<string, string> | null => {
      const v = b[k];
      if (v === undefined || v === null) return null;
      if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidArgumentError(`json: cannot unmarshal into Go struct field ${k} of type map[string]string`);
      const out: Record<string, string> = {};
      for (const [x, y] of Object.entries(v as Record<string, unknown>)) {
        if (typeof y !== 'string') throw new InvalidArgumentError(`json: cannot unmarshal ${typeof y} into Go value of type string`);
        out[x] = y;
      }
      return out;
    };
    const driver = str('Driver') || 'local';
    if (driver !== 'local') throw new NotFoundError(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    const name = str('Name') || newId();
    const opts = map('DriverOpts');
    const labels = map('Labels');
    const v = await this.ensure(ctx, name, { labels, options: opts !== null && Object.keys(opts).length > 0 ? opts : null, anonymous: str('Name') === '' });
    return this.view(v);
  }

  private async ensure(ctx: Ctx, name: string, o: { labels: Record<string, string> | null; options: Record<string, string> | null; anonymous: boolean }): Promise<VolumeDoc> {
    const have = this.vols.get(name);
    if (have !== undefined) return have;
    if (name.length < 2) throw new InvalidArgumentError(`create ${name}: volume name is too short, names should be at least two alphanumeric characters`);
    if (!NAME_RE.test(name)) {
      throw new InvalidArgumentError(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
    }
    if (o.options !== null) {
      for (const k of Object.keys(o.options)) {
        if (!['type', 'device', 'o', 'size'].includes(k)) throw new InvalidArgumentError(`create ${name}: invalid option key: "${k}"`);
      }
      if (o.options['type'] !== undefined && o.options['device'] === undefined && o.options['type'] !== 'tmpfs') {
        throw new InvalidArgumentError(`create ${name}: missing required option: "device"`);
      }
    }
    const v: VolumeDoc = { Name: name, Driver: 'local', CreatedAt: goTime(new Date()), Labels: o.labels, Options: o.options, ...(o.anonymous ? { anonymous: true } : {}) };
    await mkdir(this.mountpoint(name), { recursive: true, mode: 0o755 });
    this.vols.set(name, v);
    this.o.table.putVolume(name, JSON.stringify(v));
    this.o.events.publish('volume', 'create', name, { driver: 'local' });
    void ctx;
    return v;
  }

  /** Containers referring to a volume (any state): what blocks its removal. */
  usedBy(name: string): string[] {
    const out: string[] = [];
    for (const [id, pts] of this.points) if (pts.some((p) => p.Type === 'volume' && p.Name === name)) out.push(id);
    return out;
  }

  list(filters: ReadonlyMap<string, readonly string[]>): { Volumes: Record<string, unknown>[]; Warnings: null } {
    for (const k of filters.keys()) if (!['dangling', 'driver', 'label', 'name'].includes(k)) throw new InvalidArgumentError(`Invalid filter '${k}'`);
    const out: Record<string, unknown>[] = [];
    for (const v of [...this.vols.values()].sort((a, b) => (a.Name < b.Name ? -1 : 1))) {
      const d = filters.get('dangling');
      if (d !== undefined && !d.some((x) => (x === 'true' || x === '1') === (this.usedBy(v.Name).length === 0))) continue;
      const dr = filters.get('driver');
      if (dr !== undefined && !dr.some((x) => x === v.Driver)) continue;
      const nm = filters.get('name');
      if (nm !== undefined && !nm.some((x) => v.Name.includes(x))) continue;
      const lb = filters.get('label');
      if (lb !== undefined && !lb.every((w) => labelMatch(v.Labels, w))) continue;
      out.push(this.view(v));
    }
    return { Volumes: out, Warnings: null };
  }

  async remove(ctx: Ctx, name: string, force: boolean): Promise<void> {
    const v = this.vols.get(name);
    if (v === undefined) {
      if (force) return;
      throw new NotFoundError(`get ${name}: no such volume`);
    }
    const users = this.usedBy(name);
    if (users.length > 0) throw new ConflictError(`remove ${name}: volume is in use - [${users.join(', ')}]`);
    await this.destroy(ctx, v);
  }

  private async destroy(ctx: Ctx, v: VolumeDoc): Promise<void> {
    this.unmountQuiet(this.mountpoint(v.Name));
    this.mountedBy.delete(v.Name);
    this.vols.delete(v.Name);
    this.o.table.deleteVolume(v.Name);
    await rm(this.dir(v.Name), { recursive: true, force: true }).catch((e: unknown) => ctx.log.warn('volume directory removal failed', { name: v.Name, err: errorMessage(e) }));
    this.o.events.publish('volume', 'destroy', v.Name, { driver: 'local' });
  }

  async prune(ctx: Ctx, filters: ReadonlyMap<string, readonly string[]>): Promise<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }> {
    for (const k of filters.keys()) if (k !== 'label' && k !== 'label!' && k !== 'all') throw new InvalidArgumentError(`Invalid filter '${k}'`);
    const out: string[] = [];
    let space = 0;
    for (const v of [...this.vols.values()]) {
      if (this.usedBy(v.Name).length > 0) continue;
      const lb = filters.get('label');
      if (lb !== undefined && !lb.every((w) => labelMatch(v.Labels, w))) continue;
      const nl = filters.get('label!');
      if (nl !== undefined && nl.some((w) => labelMatch(v.Labels, w))) continue;
      space += await duBytes(this.mountpoint(v.Name));
      await this.destroy(ctx, v);
      out.push(v.Name);
    }
    return { VolumesDeleted: out.length > 0 ? out : null, SpaceReclaimed: space };
  }

  counts(): number {
    return this.vols.size;
  }

  // --- container mount points ---------------------------------------------------

  async register(ctx: Ctx, c: VolContainer, peer: (ref: string) => string): Promise<void> {
    const byDest = new Map<string, MountPoint>();
    const made: string[] = [];
    const want: { name: string; anonymous: boolean; options: Record<string, string> | null; labels: Record<string, string> | null }[] = [];

    // --volumes-from first: everything the other container mounts, optionally read-only.
    for (const vf of c.HostConfig.VolumesFrom ?? []) {
      const [ref = '', mode = ''] = vf.split(':');
      if (mode !== '' && mode !== 'ro' && mode !== 'rw') throw new InvalidArgumentError(`invalid mode for volumes-from: ${mode}`);
      const id = peer(ref);
      for (const p of this.points.get(id) ?? []) {
        if (p.Type === 'tmpfs') continue;
        byDest.set(p.Destination, { ...p, RW: mode === '' ? p.RW : mode === 'rw', Mode: mode === '' ? p.Mode : mode });
      }
    }
    const seen = new Set<string>();
    const dup = (d: string): void => {
      if (seen.has(d)) throw new InvalidArgumentError(`Duplicate mount point: ${d}`);
      seen.add(d);
    };
    for (const b of c.HostConfig.Binds ?? []) {
      const p = parseBind(b);
      dup(p.Destination);
      if (p.Type === 'volume') want.push({ name: p.Name!, anonymous: false, options: null, labels: null });
      else {
        // dockerd creates a missing bind source directory for -v (not for --mount).
        await mkdir(p.Source, { recursive: true, mode: 0o755 }).catch(() => {});
      }
      byDest.set(p.Destination, p);
    }
    for (const m of c.HostConfig.Mounts ?? []) {
      const target = m.Target;
      if (!target.startsWith('/')) throw new InvalidArgumentError(`invalid mount config for type "${m.Type}": invalid mount path: '${target}' mount path must be absolute`);
      const dest = posix.normalize(target);
      dup(dest);
      if (m.Type === 'bind') {
        if (m.Source === '') throw new InvalidArgumentError('invalid mount config for type "bind": field Source must not be empty');
        const ok = await stat(m.Source).then(() => true, () => false);
        if (!ok) throw new InvalidArgumentError(`invalid mount config for type "bind": bind source path does not exist: ${m.Source}`);
        const prop = m.BindOptions?.Propagation || 'rprivate';
        byDest.set(dest, { Type: 'bind', Source: m.Source, Destination: dest, Mode: '', RW: !m.ReadOnly, Propagation: prop });
      } else if (m.Type === 'volume') {
        const anonymous = m.Source === '';
        const name = anonymous ? newId() : m.Source;
        const drv = m.VolumeOptions?.DriverConfig;
        if (drv?.Name !== undefined && drv.Name !== '' && drv.Name !== 'local') throw new NotFoundError(`error looking up volume plugin ${drv.Name}: plugin "${drv.Name}" not found`);
        const opts = drv?.Options !== undefined && Object.keys(drv.Options).length > 0 ? drv.Options : null;
        want.push({ name, anonymous, options: opts, labels: m.VolumeOptions?.Labels ?? null });
        byDest.set(dest, { Type: 'volume', Name: name, Source: '', Destination: dest, Mode: '', RW: !m.ReadOnly, Propagation: '', ...(m.VolumeOptions?.NoCopy === true ? { noCopy: true } : {}) });
      } else if (m.Type === 'tmpfs') {
        if (m.Source !== '') throw new InvalidArgumentError('invalid mount config for type "tmpfs": field Source must not be specified');
        const t: { size?: number; mode?: number } = {};
        if (m.TmpfsOptions?.SizeBytes !== undefined) t.size = m.TmpfsOptions.SizeBytes;
        if (m.TmpfsOptions?.Mode !== undefined) t.mode = m.TmpfsOptions.Mode;
        byDest.set(dest, { Type: 'tmpfs', Source: '', Destination: dest, Mode: '', RW: !m.ReadOnly, Propagation: '', tmpfs: t });
      } else throw new InvalidArgumentError(`mount type unknown: "${m.Type}"`);
    }
    // The image's VOLUMEs and `-v /path`: anonymous volumes where nothing else is mounted.
    for (const d of Object.keys(c.Config.Volumes ?? {})) {
      const dest = posix.normalize(d);
      if (byDest.has(dest)) continue;
      const name = newId();
      want.push({ name, anonymous: true, options: null, labels: null });
      byDest.set(dest, { Type: 'volume', Name: name, Source: '', Destination: dest, Mode: '', RW: true, Propagation: '' });
    }
    try {
      for (const w of want) {
        if (this.vols.has(w.name)) continue;
        await this.ensure(ctx, w.name, { labels: w.labels, options: w.options, anonymous: w.anonymous });
        made.push(w.name);
      }
    } catch (e) {
      for (const n of made) await this.destroy(ctx, this.get(n)).catch(() => {});
      throw e;
    }
    const pts = [...byDest.values()];
    this.points.set(c.Id, pts);
    this.o.table.putMounts(c.Id, JSON.stringify(pts));
  }

  async resolve(ctx: Ctx, c: VolContainer, inRoot: (path: string) => Promise<string>): Promise<VolumeMount[]> {
    const pts = [...(this.points.get(c.Id) ?? [])].sort((a, b) => depth(a.Destination) - depth(b.Destination));
    const out: VolumeMount[] = [];
    const mountedNow: string[] = [];
    try {
      for (const p of pts) {
        if (p.Type === 'tmpfs') {
          const o = ['nosuid', 'nodev', 'noexec'];
          if (p.tmpfs?.size !== undefined) o.push(`size=${p.tmpfs.size}`);
          if (p.tmpfs?.mode !== undefined) o.push(`mode=${p.tmpfs.mode.toString(8)}`);
          if (!p.RW) o.push('ro');
          out.push({ source: 'tmpfs', target: p.Destination, type: 'tmpfs', options: o });
          continue;
        }
        const modeOpts = p.Mode.split(',').filter((x) => PROPAGATIONS.has(x));
        const prop = modeOpts[0] ?? (p.Propagation !== '' ? p.Propagation : 'rprivate');
        if (p.Type === 'bind') {
          out.push({ source: p.Source, target: p.Destination, type: 'bind', options: ['rbind', p.RW ? 'rw' : 'ro', prop] });
          continue;
        }
        const name = p.Name!;
        const v = this.vols.get(name);
        if (v === undefined) throw new NotFoundError(`get ${name}: no such volume`);
        const mp = this.mountpoint(name);
        if (this.hasOptions(name)) {
          const users = this.users(name);
          if (users.size === 0) {
            await mkdir(mp, { recursive: true, mode: 0o755 });
            this.mountOptions(v, mp);
          }
          users.add(c.Id);
          mountedNow.push(name);
        }
        if (p.noCopy !== true && p.Mode.split(',').every((x) => x !== 'nocopy')) await this.copyUp(ctx, mp, await inRoot(p.Destination).catch(() => ''));
        out.push({ source: mp, target: p.Destination, type: 'bind', options: ['rbind', p.RW ? 'rw' : 'ro', prop] });
        this.o.events.publish('volume', 'mount', name, { container: c.Id, destination: p.Destination, driver: 'local', propagation: '', 'read/write': String(p.RW) });
      }
    } catch (e) {
      await this.releaseNames(c.Id, mountedNow);
      throw e;
    }
    return out;
  }

  /** dockerd's local driver: `mount -t <type> -o <o> <device> <_data>`; `o=bind` is a bind mount. */
  private mountOptions(v: VolumeDoc, mp: string): void {
    const o = v.Options ?? {};
    const type = o['type'] ?? '';
    const device = o['device'] ?? type;
    const opts = (o['o'] ?? '').split(',').filter((x) => x !== '');
    if (o['size'] !== undefined) opts.push(`size=${o['size']}`);
    const bind = opts.includes('bind') || opts.includes('rbind');
    if (bind) {
      const rec = opts.includes('rbind') ? MS_REC : 0;
      this.o.sys.mount(device, mp, null, MS_BIND | rec, null);
      return;
    }
    this.o.sys.mount(device, mp, type === '' ? null : type, 0, opts.length > 0 ? opts.join(',') : null);
  }

  private async copyUp(ctx: Ctx, volumeDir: string, src: string): Promise<void> {
    if (src === '') return;
    const isDir = await stat(src).then((s) => s.isDirectory(), () => false);
    if (!isDir) return;
    if ((await readdir(volumeDir)).length > 0) return;
    if ((await readdir(src)).length === 0) return;
    // cp -a keeps owners, modes, links and xattrs, and gives the volume root the directory's own attributes.
    await run('cp', ['-a', '--', `${src}/.`, `${volumeDir}/`]).catch((e: unknown) => ctx.log.warn('volume copy-up failed', { src, err: errorMessage(e) }));
  }

  async release(ctx: Ctx, c: VolContainer): Promise<void> {
    const names = (this.points.get(c.Id) ?? []).filter((p) => p.Type === 'volume' && p.Name !== undefined).map((p) => p.Name!);
    for (const n of names) {
      if (this.vols.has(n)) this.o.events.publish('volume', 'unmount', n, { container: c.Id, driver: 'local' });
    }
    await this.releaseNames(c.Id, names);
    void ctx;
  }

  private async releaseNames(containerId: string, names: readonly string[]): Promise<void> {
    for (const n of names) {
      const users = this.mountedBy.get(n);
      if (users === undefined || !users.delete(containerId)) continue;
      if (users.size === 0) {
        this.unmountQuiet(this.mountpoint(n));
        this.mountedBy.delete(n);
      }
    }
  }

  async forget(ctx: Ctx, containerId: string, removeAnonymous: boolean): Promise<void> {
    const pts = this.points.get(containerId) ?? [];
    await this.releaseNames(containerId, pts.filter((p) => p.Name !== undefined).map((p) => p.Name!));
    this.points.delete(containerId);
    this.o.table.deleteMounts(containerId);
    if (!removeAnonymous) return;
    for (const p of pts) {
      if (p.Type !== 'volume' || p.Name === undefined) continue;
      const v = this.vols.get(p.Name);
      if (v?.anonymous !== true || this.usedBy(v.Name).length > 0) continue;
      await this.destroy(ctx, v);
    }
  }

  mountPoints(containerId: string): Record<string, unknown>[] {
    return (this.points.get(containerId) ?? []).map((p) => {
      if (p.Type === 'volume') {
        return { Type: 'volume', Name: p.Name, Source: this.mountpoint(p.Name!), Destination: p.Destination, Driver: 'local', Mode: p.Mode, RW: p.RW, Propagation: p.Propagation };
      }
      return { Type: p.Type, Source: p.Source, Destination: p.Destination, Mode: p.Mode, RW: p.RW, Propagation: p.Propagation };
    });
  }

  private unmountQuiet(path: string): void {
    try {
      this.o.sys.umount(path, MNT_DETACH);
    } catch {
      // not mounted
    }
  }
}

/** `src:dst[:mode]` of HostConfig.Binds, with dockerd's checks and defaults. */
export function parseBind(b: string): MountPoint {
  const parts = b.split(':');
  if (parts.length < 2 || parts.length > 3) throw new InvalidArgumentError(`invalid volume specification: '${b}'`);
  const [src = '', dst = '', mode = ''] = parts;
  if (src === '') throw new InvalidArgumentError(`invalid volume specification: '${b}'`);
  if (!dst.startsWith('/')) throw new InvalidArgumentError(`invalid volume specification: '${b}': invalid mount config for type "${src.startsWith('/') ? 'bind' : 'volume'}": invalid mount path: '${dst}' mount path must be absolute`);
  const modes = mode.split(',').filter((x) => x !== '');
  for (const m of modes) {
    if (!['ro', 'rw', 'z', 'Z', 'nocopy', 'consistent', 'cached', 'delegated'].includes(m) && !PROPAGATIONS.has(m)) {
      throw new InvalidArgumentError(`invalid mode: ${mode}`);
    }
  }
  const rw = !modes.includes('ro');
  const dest = posix.normalize(dst);
  if (src.startsWith('/')) {
    if (dest === '/') throw new InvalidArgumentError(`invalid specification: destination can't be '/' in '${b}'`);
    const prop = modes.find((m) => PROPAGATIONS.has(m)) ?? 'rprivate';
    return { Type: 'bind', Source: posix.normalize(src), Destination: dest, Mode: mode, RW: rw, Propagation: prop };
  }
  if (src.length < 2) throw new InvalidArgumentError(`create ${src}: volume name is too short, names should be at least two alphanumeric characters`);
  if (!NAME_RE.test(src)) {
    throw new InvalidArgumentError(`create ${src}: "${src}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
  // dockerd reports mode "z" for a named volume given without one.
  return { Type: 'volume', Name: src, Source: '', Destination: dest, Mode: mode === '' ? 'z' : mode, RW: rw, Propagation: '', ...(modes.includes('nocopy') ? { noCopy: true } : {}) };
}

function depth(p: string): number {
  return p.split('/').filter((x) => x !== '').length;
}

function labelMatch(labels: Record<string, string> | null, w: string): boolean {
  const l = labels ?? {};
  const i = w.indexOf('=');
  return i === -1 ? w in l : l[w.slice(0, i)] === w.slice(i + 1);
}

function readMounts(): string[] {
  try {
    return readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => (l.split(' ')[1] ?? '').replace(/\\040/g, ' '));
  } catch {
    return [];
  }
}

async function duBytes(dir: string): Promise<number> {
  const r = await run('du', ['-sb', dir], { allowFailure: true });
  const n = Number(r.stdout.split(/\s/)[0]);
  return Number.isFinite(n) ? n : 0;
}
