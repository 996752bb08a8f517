/**
 * The composition root: the only place that constructs the daemon's
 * objects and connects them. Every other module receives its dependencies
 * through its constructor; nothing registers itself and there are no
 * module-level singletons, so tests build the same graph with temp dirs.
 */
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ensureDir, readFileIfExists, writeFileAtomic } from '../base/fsutil.js';
import type { Logger } from '../base/log.js';
import { Sys } from '../base/sys.js';
import { LocalContentStore } from '../content/local.js';
import { LeaseManager } from '../content/leases.js';
import { EventBus } from '../events/bus.js';
import { openDatabase, type SqliteDb } from '../metadata/db.js';
import { ImageTable } from '../metadata/images.js';
import { ImageService, type ImageUsage } from '../images/service.js';
import { OverlaySnapshotter } from '../snapshots/overlay.js';
import { ApiServer } from '../api/server.js';
import { imageRoutes } from '../api/routes/images.js';
// --- registry client (pull/push/login) ---
import { distributionRoutes } from '../api/routes/distribution.js';
import { Registries } from '../remotes/client.js';
import { systemRoutes, collectSystemFacts } from '../api/routes/system.js';
import { eventRoutes } from '../api/routes/events.js';
import { containerRoutes } from '../api/routes/containers.js';
import { containerFsRoutes } from '../api/routes/container-fs.js';
import { ContainerService } from '../containers/service.js';
import { ContainerTable } from '../metadata/containers.js';
// --- networks & volumes ---
import { NetworkTable } from '../metadata/networks.js';
import { VolumeTable } from '../metadata/volumes.js';
import { Netavark } from '../network/netavark.js';
import { NetworkService } from '../network/service.js';
import { VolumeService } from '../volumes/service.js';
import { networkRoutes } from '../api/routes/networks.js';
import { volumeRoutes } from '../api/routes/volumes.js';
// --- end networks & volumes ---
import { Runc } from '../runtime/runc.js';
import { Conmon } from '../runtime/conmon.js';
import { fileURLToPath } from 'node:url';
import { ExecHelper } from '../runtime/fastexec.js';
import { hostFacts } from '../runtime/spec.js';
import { existsSync } from 'node:fs';
import type { DaemonConfig } from './config.js';
// --- builder ---
import { Builder } from '../build/builder.js';
import { buildRoutes } from '../api/routes/build.js';
import { preparePull } from '../images/pull.js';
import { credentialsFrom } from '../remotes/auth.js';
import { parseReference as parseRefForBuild, withDefaultTag as withDefaultTagForBuild } from '../oci/reference.js';
// --- end builder ---
// --- registry view: --registry-addr serves the image store as an OCI registry ---
import { createImageRegistry, type ImageRegistry } from './registry-view.js';
// --- end registry view ---

export const BERTH_VERSION = '0.1.0';

export interface Daemon {
  readonly api: ApiServer;
  readonly images: ImageService;
  readonly containers: ContainerService;
  readonly events: EventBus;
  readonly db: SqliteDb;
  close(): Promise<void>;
}

/** dockerd's engine ID shape: 12 groups of 4 base32 characters. */
async function engineId(dataRoot: string): Promise<string> {
  const p = join(dataRoot, 'engine-id');
  const have = (await readFileIfExists(p))?.toString().trim();
  if (have !== undefined && have !== '') return have;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const b = randomBytes(48);
  const groups: string[] = [];
  for (let g = 0; g < 12; g++) {
    let s = '';
    for (let i = 0; i < 4; i++) s += alphabet[b[g * 4 + i]! & 31];
    groups.push(s);
  }
  const id = groups.join(':');
  await writeFileAtomic(p, id + '\n');
  return id;
}

export async function buildDaemon(cfg: DaemonConfig, log: Logger): Promise<Daemon> {
  await ensureDir(cfg.dataRoot, 0o711);
  await ensureDir(cfg.execRoot, 0o700);
  const sys = new Sys();
  const leases = new LeaseManager();
  const content = new LocalContentStore(join(cfg.dataRoot, 'content'), { log, leases: { addResource: (id, r) => leases.get(id).add(r) } });
  await content.init();
  const snapshots = new OverlaySnapshotter(sys, join(cfg.dataRoot, 'overlay'));
  await snapshots.crashCleanup();
  const db = openDatabase(join(cfg.dataRoot, 'metadata.db'));
  const table = new ImageTable(db);
  const events = new EventBus();
  // Images and containers refer to each other only through this late-bound view.
  let containers: ContainerService | undefined;
  const usage: ImageUsage = {
    containersUsing: (id) => containers?.containersUsing(id) ?? [],
    layersInUse: () => containers?.layersInUse() ?? [],
  };
  const images = new ImageService({ content, snapshots, table, events, leases, log, usage, dataRoot: join(cfg.dataRoot, 'overlay') });
  await images.init();
  const ctx = { signal: new AbortController().signal, log };

  const runc = new Runc({ root: join(cfg.execRoot, 'runc'), binary: cfg.runtime.startsWith('/') ? cfg.runtime : `/usr/sbin/${cfg.runtime}` });
  const conmon = new Conmon({ runc, stateDir: join(cfg.execRoot, 'conmon'), log });
  await conmon.init();
  // --- networks & volumes: netavark in namespaces berth pins under <exec-root>/netns ---
  const netavark = new Netavark({
    binary: '/usr/lib/podman/netavark',
    aardvark: '/usr/lib/podman/aardvark-dns',
    configDir: join(cfg.execRoot, 'netavark'),
    netnsDir: join(cfg.execRoot, 'netns'),
    sys,
    log,
  });
  const networks = new NetworkService({
    netavark,
    table: new NetworkTable(db),
    events,
    log,
    bip: cfg.bip ?? '10.88.0.1/16',
    bridgeName: cfg.bridge ?? 'berth0',
    pools: cfg.defaultAddressPools,
  });
  await networks.init();
  const volumes = new VolumeService({ root: join(cfg.dataRoot, 'volumes'), table: new VolumeTable(db), events, sys, log });
  await volumes.init();
  // --- end networks & volumes ---
  // berth-exec sits beside the bundle (scripts/build.mjs compiles it); without it, execs go through runc
  const execHelper = await ExecHelper.find(fileURLToPath(new URL('./berth-exec', import.meta.url)), join(cfg.execRoot, 'seccomp'), () => sys.pipe());
  const initBinary = ['/usr/bin/catatonit', '/usr/libexec/podman/catatonit', '/usr/bin/tini-static', '/usr/bin/tini'].find((p) => existsSync(p));
  containers = new ContainerService({
    images,
    snapshots,
    sys,
    conmon,
    runc,
    table: new ContainerTable(db),
    events,
    log,
    stateRoot: join(cfg.dataRoot, 'containers'),
    runRoot: join(cfg.execRoot, 'c'),
    host: await hostFacts(),
    ...(initBinary !== undefined ? { initBinary } : {}),
    execHelper,
    runtimeIsRunc: /(^|\/)runc$/.test(cfg.runtime),
    network: networks,
    volumes,
  });
  await containers.init(ctx);
  // --- networks & volumes: free what containers that no longer run left behind (kill -9) ---
  {
    const c = containers;
    networks.setContainers({ get: (ref) => c.get(ref).rec });
    const running = (id: string): boolean | undefined => {
      const l = c.find(id);
      return l === undefined ? undefined : ['running', 'paused', 'restarting'].includes(l.rec.State.Status);
    };
    await networks.reconcile(ctx, running);
    await volumes.reconcile(ctx, running);
  }
  // --- end networks & volumes ---
  images.scheduleGc(ctx);
  const cs = containers;

  const facts = await collectSystemFacts({
    version: BERTH_VERSION,
    id: await engineId(cfg.dataRoot),
    rootDir: cfg.dataRoot,
    probe: [
      { name: 'runc', bin: cfg.runtime },
      { name: 'conmon', bin: 'conmon' },
    ],
    insecureRegistryCIDRs: ['127.0.0.0/8', ...cfg.insecureRegistries],
    ...(initBinary !== undefined ? { initBinary } : {}),
  });
  const api = new ApiServer({ log, version: BERTH_VERSION, logRequests: cfg.logLevel === 'debug' });
  api.register(
    systemRoutes({
      facts,
      source: { counts: () => ({ ...cs.counts(), images: images.index.size }) },
    }),
  );
  api.register(eventRoutes(events));
  // --- registry client: registered before imageRoutes so /images/create (pull) lands here ---
  const registries = new Registries({ log, insecureRegistries: cfg.insecureRegistries, mirrors: cfg.registryMirrors, userAgent: `berth/${BERTH_VERSION}` });
  api.register(distributionRoutes({ images, content, leases, registries }));
  // --- end registry client ---
  api.register(imageRoutes({ images, content, leases, table, trimHeap: () => sys.mallocTrim() }));
  api.register(containerRoutes(cs));
  api.register(networkRoutes(networks)); // networks & volumes
  api.register(volumeRoutes(volumes)); // networks & volumes
  api.register(containerFsRoutes({ containers: cs, snapshots, sys, images, events, content, leases, runc, conmon, log }));
  // --- builder: POST /build (classic API) and /build/prune; FROM pulls missing bases through the registry client ---
  const builder = new Builder({
    images,
    content,
    leases,
    sys,
    snapshots,
    containers: cs,
    log,
    root: join(cfg.dataRoot, 'build'),
    pull: async (pctx, ref, out) => {
      const p = await preparePull(pctx, { images, content, leases, registries }, { ref: withDefaultTagForBuild(parseRefForBuild(ref)), creds: credentialsFrom({}) });
      return p.run(pctx, (m) => out.progress?.(m as unknown as Record<string, unknown>));
    },
  });
  api.register(buildRoutes({ builder, sys, tmpRoot: join(cfg.dataRoot, 'build', 'tmp') }));
  // --- end builder ---
  // --- registry view: blobs are read in place from the content store, pushes become local images ---
  let registryView: ImageRegistry | undefined;
  if (cfg.registryAddr !== undefined) {
    registryView = createImageRegistry({ images, content, leases, log, uploadRoot: join(cfg.dataRoot, 'registry-uploads') });
    const at = await registryView.listen(cfg.registryAddr);
    log.info('registry view listening', { addr: `${at.address}:${at.port}` });
  }
  // --- end registry view ---

  return {
    api,
    images,
    containers: cs,
    events,
    db,
    async close() {
      await api.close();
      await registryView?.close(); // registry view
      cs.close();
      await networks.close(); // networks & volumes: teardowns started by exits, then the bridges this daemon holds
      registries.close(); // registry client
      db.close();
    },
  };
}
