/**
 * The kernel side of networking, done by netavark (bridge, veth, addresses,
 * iptables, port DNAT) and aardvark-dns (names on user-defined networks),
 * plus the network namespaces berth creates for containers.
 *
 * A namespace is pinned by a bind mount of nsfs on a file under
 * <exec-root>/netns (as dockerd does under /var/run/docker/netns), made in
 * berthd as `unshare --net=FILE` makes it (Sys.newNetns): the namespace lives
 * as long as that mount, not as long as a process, so it outlives a crash of berthd and is freed by
 * `remove` (umount + unlink).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { InternalError, errorMessage } from '../base/errors.js';
import { run, type RunResult } from '../base/exec.js';
import type { Logger } from '../base/log.js';
import { KeyedMutex } from '../base/mutex.js';
import { MNT_DETACH, type Sys } from '../base/sys.js';

/** One network as netavark describes it (netavark's `Network`). */
export interface NvNetwork {
  name: string;
  id: string;
  driver: 'bridge';
  network_interface: string;
  subnets: { subnet: string; gateway?: string }[];
  ipv6_enabled: boolean;
  internal: boolean;
  dns_enabled: boolean;
  ipam_options: { driver: 'host-local' };
  options?: Record<string, string>;
}

export interface NvPortMapping {
  host_ip: string;
  container_port: number;
  host_port: number;
  range: number;
  protocol: 'tcp' | 'udp' | 'sctp';
}

/** A setup/teardown request for one container on one network. */
export interface NvRequest {
  container_id: string;
  container_name: string;
  networks: Record<string, { interface_name: string; static_ips: string[]; aliases?: string[]; static_mac?: string }>;
  network_info: Record<string, NvNetwork>;
  port_mappings?: NvPortMapping[];
}

export interface NvStatus {
  interfaces?: Record<string, { mac_address: string; subnets?: { ipnet: string; gateway?: string }[] }>;
  dns_server_ips?: string[];
  dns_search_domains?: string[];
}

export interface NetavarkOptions {
  readonly binary: string;
  readonly aardvark: string;
  /** netavark's --config: its lock and aardvark-dns's state (per daemon). */
  readonly configDir: string;
  /** Where namespace files are pinned. */
  readonly netnsDir: string;
  readonly sys: Sys;
  readonly log: Logger;
  /**
   * A lock file shared by every berthd on the host (default
   * /run/berth-netavark.lock): netavark 1.4 takes no lock of its own, and two
   * daemons' netavarks race on the shared iptables chains (one deleting
   * NETAVARK_FORWARD rules while another appends: "No chain/target/match").
   */
  readonly hostLock?: string;
}

/** The link that keeps a network's bridge alive: `bk` + 12 hex of the network ID (15 chars at most, as the kernel wants). */
export function keeperName(networkId: string): string {
  return `bk${networkId.slice(0, 12)}`;
}

/** Scratch namespaces of `releaseBridge`, under netnsDir. */
const RELEASE_PREFIX = 'release-';
/** DNS keepers' namespaces (and their requests, `<name>.json`), under netnsDir. */
const DNS_KEEPER_PREFIX = 'dnskeep-';

export class Netavark {
  /**
   * One netavark at a time: 1.4 takes no lock around its iptables work, and a
   * teardown removing a network's chains races a setup appending to them
   * ("No chain/target/match by that name").
   */
  private readonly serial = new KeyedMutex();

  private flock: string | undefined;

  constructor(private readonly o: NetavarkOptions) {}

  async init(): Promise<void> {
    await mkdir(this.o.configDir, { recursive: true, mode: 0o700 });
    await mkdir(this.o.netnsDir, { recursive: true, mode: 0o700 });
    this.flock = ['/usr/bin/flock', '/bin/flock'].find((p) => existsSync(p));
    if (this.flock === undefined) this.o.log.warn('flock(1) not found: netavark runs unlocked against other berthd instances on this host');
    // Scratch namespaces of a bridge release cut short by a crash: unpin them.
    for (const f of await readdir(this.o.netnsDir).catch(() => [] as string[])) {
      if (f.startsWith(RELEASE_PREFIX)) await this.removeNetns(join(this.o.netnsDir, f));
      // DNS keepers outlive no daemon: made again at a network's first use.
      if (f.startsWith(DNS_KEEPER_PREFIX) && f.endsWith('.json')) await this.releaseDns(f.slice(DNS_KEEPER_PREFIX.length, -5));
    }
  }

  netnsPath(containerId: string): string {
    return join(this.o.netnsDir, containerId);
  }

  async createNetns(path: string): Promise<void> {
    await writeFile(path, '', { mode: 0o600 });
    this.o.sys.newNetns(path);
  }

  /** Unpins and deletes a namespace file; absent or unmounted is fine. */
  async removeNetns(path: string): Promise<void> {
    try {
      await this.o.sys.umountAsync(path, MNT_DETACH);
    } catch {
      // not mounted (crash before the bind mount, or already done)
    }
    await rm(path, { force: true });
  }

  /** netavark under the host-wide lock; the caller holds `serial`. */
  private nv(cmd: 'setup' | 'teardown', netns: string, req: NvRequest): Promise<RunResult> {
    const argv = [this.o.binary, '--config', this.o.configDir, '--aardvark-binary', this.o.aardvark, cmd, netns];
    const input = JSON.stringify(req);
    if (this.flock === undefined) return run(argv[0]!, argv.slice(1), { input, allowFailure: true });
    // -o: netavark's child aardvark-dns outlives it and must not inherit (and so hold) the lock.
    return run(this.flock, ['-o', this.o.hostLock ?? '/run/berth-netavark.lock', ...argv], { input, allowFailure: true });
  }

  async setup(netns: string, req: NvRequest): Promise<Record<string, NvStatus>> {
    const r = await this.serial.run('nv', () => this.nv('setup', netns, req));
    if (r.code !== 0) throw new InternalError(`netavark setup: ${nvError(r.stdout, r.stderr)}`);
    try {
      return JSON.parse(r.stdout) as Record<string, NvStatus>;
    } catch {
      return {};
    }
  }

  /** Best effort: teardown of something half set up fails on the missing half. */
  async teardown(netns: string, req: NvRequest): Promise<void> {
    const r = await this.serial.run('nv', () => this.nv('teardown', netns, req));
    if (r.code !== 0) this.o.log.debug('netavark teardown', { err: nvError(r.stdout, r.stderr) });
  }

  // --- bridge keepers ---------------------------------------------------------
  //
  // netavark deletes a bridge and its network's iptables chains when the last
  // container's veth leaves it, and the next setup makes them again: ~110 ms
  // of every `run --rm` on an otherwise idle network. A keeper is one end of a
  // veth pair left on the host and enslaved to the bridge: netavark then never
  // sees the bridge empty. It has no address, no namespace and no DNS name;
  // the network owns it (made at first use, freed by `releaseBridge`).

  /** The bridge the keeper is enslaved to; undefined if there is no keeper. */
  async keeperMaster(keeper: string): Promise<string | undefined> {
    if (!existsSync(`/sys/class/net/${keeper}`)) return undefined;
    const master = await readlink(`/sys/class/net/${keeper}/master`).catch(() => '');
    return basename(master);
  }

  /** Puts a keeper on `bridge` (which a setup just made or kept). */
  async keep(bridge: string, keeper: string): Promise<void> {
    await this.serial.run('nv', async () => {
      if (!existsSync(`/sys/class/net/${keeper}`)) {
        // The bridge's MTU (a network's mtu option): a port with a smaller one would lower the bridge's.
        const mtu = (await readFile(`/sys/class/net/${bridge}/mtu`, 'utf8')).trim();
        // The peer is the keeper's name with `p` for `k`: down, on the host, unused.
        await run('ip', ['link', 'add', keeper, 'mtu', mtu, 'type', 'veth', 'peer', 'name', `bp${keeper.slice(2)}`, 'mtu', mtu]);
      }
      await run('ip', ['link', 'set', keeper, 'master', bridge, 'up']);
    });
  }

  async removeKeeper(keeper: string): Promise<void> {
    await this.serial.run('nv', async () => {
      // Deleting one end of a veth deletes its peer.
      if (existsSync(`/sys/class/net/${keeper}`)) await run('ip', ['link', 'del', keeper], { allowFailure: true });
    });
  }

  /**
   * Frees a bridge netavark no longer sees as in use (its keeper gone, no
   * container on it): netavark removes a bridge and its chains only when a
   * teardown leaves it empty, so one scratch endpoint is set up and torn down.
   * `addresses`: a free host address in each of the network's subnets
   * (netavark 1.4 panics on a dual-stack network given fewer).
   */
  async releaseBridge(net: NvNetwork, addresses: string[]): Promise<void> {
    // Gone already, or still held by someone else (another daemon on the same --bridge): the last teardown frees it.
    const ports = await readdir(`/sys/class/net/${net.network_interface}/brif`).catch(() => undefined);
    if (ports === undefined || ports.length > 0) return;
    const netns = join(this.o.netnsDir, `${RELEASE_PREFIX}${net.id.slice(0, 12)}`);
    // No DNS: the scratch endpoint must not reach aardvark-dns (which would restart just to stop).
    const req: NvRequest = {
      container_id: randomBytes(32).toString('hex'),
      container_name: 'berth-release',
      networks: { [net.name]: { interface_name: 'eth0', static_ips: addresses } },
      network_info: { [net.name]: { ...net, dns_enabled: false } },
    };
    try {
      await this.createNetns(netns);
      await this.setup(netns, req);
      await this.teardown(netns, req);
    } finally {
      await this.removeNetns(netns);
    }
  }

  // --- DNS keepers --------------------------------------------------------------
  //
  // netavark stops aardvark-dns when the last endpoint with DNS leaves and
  // starts it again (a process and its startup, 20-40 ms of the next setup)
  // for the next container: every `run --rm` on an otherwise idle user
  // network paid for it. A DNS keeper is an endpoint netavark sets up for the
  // network itself (its own namespace; an address and a name of berth's), so
  // aardvark-dns stays up while the network is in use. Its request is written
  // beside its namespace, so whatever outlives berthd is torn down at init.

  private dnsKeeperPath(networkId: string): string {
    return join(this.o.netnsDir, `${DNS_KEEPER_PREFIX}${networkId.slice(0, 12)}`);
  }

  async keepDns(networkId: string, req: NvRequest): Promise<void> {
    const netns = this.dnsKeeperPath(networkId);
    // The request first: after a crash it names what to tear down.
    await writeFile(`${netns}.json`, JSON.stringify(req), { mode: 0o600 });
    try {
      await this.createNetns(netns);
      await this.setup(netns, req);
    } catch (e) {
      await this.releaseDns(networkId);
      throw e;
    }
  }

  /** Tears a network's DNS keeper down; none is fine. `id`: the network ID or its first 12 characters. */
  async releaseDns(id: string): Promise<void> {
    const netns = this.dnsKeeperPath(id);
    const raw = await readFile(`${netns}.json`, 'utf8').catch(() => undefined);
    if (raw !== undefined) {
      try {
        await this.teardown(netns, JSON.parse(raw) as NvRequest);
      } catch (e) {
        this.o.log.warn('DNS keeper teardown failed', { netns, err: errorMessage(e) });
      }
    }
    await this.removeNetns(netns);
    await rm(`${netns}.json`, { force: true });
  }

  /** aardvark-dns left running with no network to serve (after a crash): stop it. */
  async stopIdleAardvark(): Promise<void> {
    const dir = join(this.o.configDir, 'aardvark-dns');
    const names = await readdir(dir).catch(() => [] as string[]);
    if (names.some((n) => n !== 'aardvark.pid')) return;
    const pid = Number((await readFile(join(dir, 'aardvark.pid'), 'utf8').catch(() => '')).trim());
    const cmdline = Number.isInteger(pid) && pid > 1 ? await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '') : '';
    // The pid file may be stale and the number reused: only signal aardvark itself.
    if (cmdline.includes('aardvark-dns')) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch (e) {
        this.o.log.debug('aardvark-dns already gone', { err: errorMessage(e) });
      }
    }
    await rm(join(dir, 'aardvark.pid'), { force: true });
  }
}

function nvError(stdout: string, stderr: string): string {
  for (const t of [stdout, stderr]) {
    try {
      const j = JSON.parse(t) as { error?: unknown };
      if (typeof j.error === 'string') return j.error;
    } catch {
      // not JSON
    }
  }
  return (stderr.trim() || stdout.trim()).slice(0, 2000);
}
