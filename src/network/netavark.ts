/**
 * The kernel side of networking, done by netavark (bridge, veth, addresses,
 * iptables, port DNAT) and aardvark-dns (names on user-defined networks),
 * plus the network namespaces berth creates for containers.
 *
 * A namespace is pinned by a bind mount of nsfs on a file under
 * <exec-root>/netns (as dockerd does under /var/run/docker/netns), made by
 * `unshare --net=FILE true`: the namespace lives as long as that mount, not
 * as long as a process, so it outlives a crash of berthd and is freed by
 * `remove` (umount + unlink).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InternalError, errorMessage } from '../base/errors.js';
import { run } from '../base/exec.js';
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
  ipv6_enabled: false;
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
}

export class Netavark {
  /**
   * One netavark at a time: 1.4 takes no lock around its iptables work, and a
   * teardown removing a network's chains races a setup appending to them
   * ("No chain/target/match by that name").
   */
  private readonly serial = new KeyedMutex();

  constructor(private readonly o: NetavarkOptions) {}

  async init(): Promise<void> {
    await mkdir(this.o.configDir, { recursive: true, mode: 0o700 });
    await mkdir(this.o.netnsDir, { recursive: true, mode: 0o700 });
  }

  netnsPath(containerId: string): string {
    return join(this.o.netnsDir, containerId);
  }

  async createNetns(path: string): Promise<void> {
    await writeFile(path, '', { mode: 0o600 });
    await run('unshare', [`--net=${path}`, 'true']);
  }

  /** Unpins and deletes a namespace file; absent or unmounted is fine. */
  async removeNetns(path: string): Promise<void> {
    try {
      this.o.sys.umount(path, MNT_DETACH);
    } catch {
      // not mounted (crash before the bind mount, or already done)
    }
    await rm(path, { force: true });
  }

  private args(cmd: 'setup' | 'teardown', netns: string): string[] {
    return ['--config', this.o.configDir, '--aardvark-binary', this.o.aardvark, cmd, netns];
  }

  async setup(netns: string, req: NvRequest): Promise<Record<string, NvStatus>> {
    const r = await this.serial.run('nv', () => run(this.o.binary, this.args('setup', netns), { input: JSON.stringify(req), allowFailure: true }));
    if (r.code !== 0) throw new InternalError(`netavark setup: ${nvError(r.stdout, r.stderr)}`);
    try {
      return JSON.parse(r.stdout) as Record<string, NvStatus>;
    } catch {
      return {};
    }
  }

  /** Best effort: teardown of something half set up fails on the missing half. */
  async teardown(netns: string, req: NvRequest): Promise<void> {
    const r = await this.serial.run('nv', () => run(this.o.binary, this.args('teardown', netns), { input: JSON.stringify(req), allowFailure: true }));
    if (r.code !== 0) this.o.log.debug('netavark teardown', { err: nvError(r.stdout, r.stderr) });
  }

  /** aardvark-dns left running with no network to serve (after a crash): stop it. */
  async stopIdleAardvark(): Promise<void> {
    const dir = join(this.o.configDir, 'aardvark-dns');
    const { readdir, readFile } = await import('node:fs/promises');
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
