/**
 * NetworkService: Docker's network model over netavark.
 *
 * berthd owns the model (networks, their IPAM, which containers belong to
 * which network with which aliases) and the lifecycle; netavark does the
 * kernel work in the container's namespace. Three kinds of state:
 *
 *   network     settings as created (`bridge`, `host`, `none` built in)
 *   membership  container × network: aliases, static IP/MAC; exists from
 *               create (or connect) until rm (or disconnect)
 *   sandbox     the running container's netns and the exact netavark
 *               requests applied to it; exists from start until exit
 *
 * Every row is written before the resource it names is made (netns, veth,
 * rules), so after `kill -9` the sandbox rows say exactly what to tear down
 * (`reconcile`). IP addresses are leased only while a sandbox exists, as in
 * Docker: a stopped container has no address.
 */
import { getOrSet } from '../base/maps.js';
import { randomBytes } from 'node:crypto';
import type { Ctx } from '../base/ctx.js';
import { ConflictError, ForbiddenError, InvalidArgumentError, NotFoundError, errorMessage } from '../base/errors.js';
import { newId } from '../base/ids.js';
import type { Logger } from '../base/log.js';
import { KeyedMutex } from '../base/mutex.js';
import type { EventBus } from '../events/bus.js';
import type { NetworkTable } from '../metadata/networks.js';
import { cidrString, contains, hostRoutes, ipString, macFor, mask, overlaps, parseCidr, parseIp, size, type Cidr } from './ipv4.js';
import { cidr6String, contains6, ip6String, isV6, overlaps6, parseCidr6, parseIp6, type Cidr6 } from './ipv6.js';
import { keeperName, type Netavark, type NvNetwork, type NvRequest } from './netavark.js';
import { parsePortKey, portRequests, PortAllocator, type PortMapping } from './ports.js';

/** What the network side reads of a container record (ContainerRecord fits). */
export interface NetContainer {
  readonly Id: string;
  readonly Name: string;
  readonly Config: {
    readonly Hostname: string;
    readonly ExposedPorts?: Record<string, object> | undefined;
    readonly MacAddress?: string | undefined;
    readonly NetworkDisabled?: boolean | undefined;
  };
  readonly HostConfig: {
    readonly NetworkMode: string;
    readonly PortBindings: Record<string, { HostIp: string; HostPort: string }[]>;
    readonly PublishAllPorts: boolean;
  };
  readonly Endpoints: Record<string, unknown>;
  readonly State: { readonly Status: string };
}

/** How the network side finds containers (for connect/disconnect); bound late by the composition root. */
export interface ContainerLookup {
  get(ref: string): NetContainer;
}

export interface PreparedNetwork {
  /** Namespace for the runtime to join; undefined: host, none or container: (the runtime's own handling). */
  readonly netnsPath?: string;
  /** The container's addresses, for its /etc/hosts. */
  readonly ips: string[];
  /** Nameservers replacing the host's: aardvark-dns on user-defined networks. */
  readonly dnsServers: string[];
  /** The default bridge's gateway: what `host-gateway` in --add-host stands for. */
  readonly hostGateway: string;
  /** Settles when the interfaces exist: await it before the container's process starts. Rejects (after cleaning up) if setup failed. */
  readonly ready: Promise<void>;
}

/** The hooks the container service calls (injected by the composition root). */
export interface NetworkAttacher {
  /** At create: checks the network mode and endpoint settings, records memberships. */
  register(c: NetContainer): void;
  /** At start: namespace, interfaces, addresses, port forwarding. */
  prepare(ctx: Ctx, c: NetContainer): Promise<PreparedNetwork>;
  /** At exit (and before rm): frees everything prepare made. Idempotent. */
  teardown(ctx: Ctx, c: NetContainer): Promise<void>;
  /** At rm: drops memberships. */
  forget(containerId: string): void;
  /** Docker's NetworkSettings for inspect. */
  settings(c: NetContainer): Record<string, unknown>;
  /** `Ports` of GET /containers/json. */
  summaryPorts(c: NetContainer): Record<string, unknown>[];
  /** `NetworkSettings.Networks` of GET /containers/json. */
  summaryNetworks(c: NetContainer): Record<string, unknown>;
  /** Names and IDs of the networks a container belongs to (ps --filter network=). */
  networksOf(containerId: string): { id: string; name: string }[];
  /** A running container's IPv4 address on a network (name or ID), if it has one there. */
  addressOn(containerId: string, network: string): string | undefined;
  /** Registers who rewrites a running container's /etc/hosts on connect and disconnect. */
  onHostsChange?(hook: HostsHook): void;
}

/** A running container gained (`add`) or lost (`remove`) an address: its /etc/hosts line follows. */
export type HostsHook = (containerId: string, change: { add?: string; remove?: string }) => Promise<void>;

interface IpamConfig {
  Subnet: string;
  Gateway?: string;
  IPRange?: string;
}

interface NetDoc {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: 'bridge' | 'host' | 'null';
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: IpamConfig[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Options: Record<string, string>;
  Labels: Record<string, string>;
  /** berth: the bridge interface (bridge driver). */
  bridge?: string;
  /** berth: the built-in network this is ('bridge' | 'host' | 'none'). */
  builtin?: string;
}

interface Active {
  ip: string;
  /** On an IPv6-enabled network: the endpoint's IPv6 address too. */
  ip6?: string;
  mac: string;
  endpointId: string;
  iface: string;
}

interface Member {
  networkId: string;
  networkName: string;
  aliases: string[] | null;
  ipv4: string;
  /** --ip6 (IPAMConfig.IPv6Address); absent in records older than IPv6 networks. */
  ipv6?: string;
  mac: string;
  order: number;
  active?: Active;
}

interface Sandbox {
  id: string;
  netns: string;
  /** network ID → the request netavark set up (replayed for teardown). */
  nets: Record<string, NvRequest>;
  ports: PortMapping[];
}

export interface NetworkServiceOptions {
  readonly netavark: Netavark;
  readonly table: NetworkTable;
  readonly events: EventBus;
  readonly log: Logger;
  /** --bip: the default bridge's gateway and prefix (10.88.0.1/16). */
  readonly bip: string;
  /** --bridge: the default bridge's interface name. */
  readonly bridgeName: string;
  /** --default-address-pool values: `base=10.89.0.0/16,size=24`. */
  readonly pools: readonly string[];
}

type Obj = Record<string, unknown>;
function obj(v: unknown): Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {};
}
function strOf(o: Obj, k: string): string {
  const v = o[k];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new InvalidArgumentError(`json: cannot unmarshal ${typeof v} into Go struct field ${k} of type string`);
  return v;
}
function boolOf(o: Obj, k: string): boolean {
  const v = o[k];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new InvalidArgumentError(`json: cannot unmarshal ${typeof v} into Go struct field ${k} of type bool`);
  return v;
}
function strsOf(o: Obj, k: string): string[] | null {
  const v = o[k];
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) throw new InvalidArgumentError(`json: cannot unmarshal into Go struct field ${k} of type []string`);
  return v;
}
function strMapOf(o: Obj, k: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [a, b] of Object.entries(obj(o[k]))) {
    if (typeof b !== 'string') throw new InvalidArgumentError(`json: cannot unmarshal ${typeof b} into Go value of type string`);
    out[a] = b;
  }
  return out;
}

const BUILTIN = new Set(['bridge', 'host', 'none']);

function nowNano(): string {
  const d = new Date();
  const ns = String(process.hrtime.bigint() % 1_000_000n).padStart(6, '0');
  return d.toISOString().replace(/\.(\d{3})Z$/, `.$1${ns}Z`);
}

export class NetworkService implements NetworkAttacher {
  private readonly nets = new Map<string, NetDoc>();
  private readonly members = new Map<string, Map<string, Member>>();
  private readonly sandboxes = new Map<string, Sandbox>();
  /** network ID → leased addresses. */
  private readonly leases = new Map<string, Set<number>>();
  /** network ID → leased IPv6 addresses. */
  private readonly leases6 = new Map<string, Set<bigint>>();
  private readonly ports = new PortAllocator();
  private readonly lock = new KeyedMutex();
  private readonly pending = new Set<Promise<void>>();
  /** Networks whose bridge has its keeper (see Netavark.keep): made at first use, freed with the network. */
  private readonly kept = new Set<string>();
  /** User-defined networks' DNS keepers (see Netavark.keepDns) and the addresses they hold. */
  private readonly dnsKept = new Map<string, { ip: number; ip6?: bigint; made: Promise<void> }>();
  /** Networks being removed: no new endpoint may join while their bridge is released. */
  private readonly closing = new Set<string>();
  /** Told when a running container joins or leaves a network (its /etc/hosts follows, as in Docker). */
  private hostsHook: HostsHook | undefined;
  private lookup: ContainerLookup | undefined;
  private order = 0;

  constructor(private readonly o: NetworkServiceOptions) {}

  setContainers(l: ContainerLookup): void {
    this.lookup = l;
  }

  onHostsChange(hook: HostsHook): void {
    this.hostsHook = hook;
  }

  private async hostsChanged(ctx: Ctx, id: string, change: { add?: string; remove?: string }): Promise<void> {
    // /etc/hosts is a courtesy (Docker's too): the endpoint stands without it.
    await this.hostsHook?.(id, change).catch((e: unknown) => ctx.log.warn('updating /etc/hosts failed', { id, err: errorMessage(e) }));
  }

  // --- load, reconcile --------------------------------------------------------

  async init(): Promise<void> {
    await this.o.netavark.init();
    for (const row of this.o.table.networks()) {
      try {
        this.nets.set(row.id, JSON.parse(row.doc) as NetDoc);
      } catch (e) {
        this.o.log.error('network record unreadable; skipping', { id: row.id, err: errorMessage(e) });
      }
    }
    this.ensureBuiltins();
    for (const row of this.o.table.members()) {
      try {
        const m = JSON.parse(row.doc) as Member;
        this.memberMap(row.container_id).set(row.network_id, m);
        this.order = Math.max(this.order, m.order + 1);
        if (m.active !== undefined) this.leaseSet(m.networkId).add(parseIp(m.active.ip) ?? 0);
        if (m.active?.ip6 !== undefined) this.leaseSet6(m.networkId).add(parseIp6(m.active.ip6) ?? 0n);
      } catch (e) {
        this.o.log.error('network membership unreadable; skipping', { id: row.container_id, err: errorMessage(e) });
      }
    }
    // Keepers outlive berthd (kill -9, or a stop with containers running): the bridge is still held.
    for (const n of this.nets.values()) {
      if (n.Driver !== 'bridge' || n.bridge === undefined) continue;
      const k = keeperName(n.Id);
      const master = await this.o.netavark.keeperMaster(k);
      if (master === undefined) continue;
      if (master === n.bridge) this.kept.add(n.Id);
      else {
        // --bridge changed since: this keeper holds a bridge the network no longer uses.
        this.o.log.warn('removing a bridge keeper attached to another bridge', { network: n.Name, keeper: k, bridge: master });
        await this.o.netavark.removeKeeper(k);
      }
    }
    for (const row of this.o.table.sandboxes()) {
      try {
        const s = JSON.parse(row.doc) as Sandbox;
        this.sandboxes.set(row.id, s);
        this.ports.hold(row.id, s.ports);
      } catch (e) {
        this.o.log.error('network sandbox unreadable; skipping', { id: row.id, err: errorMessage(e) });
      }
    }
  }

  /**
   * After the containers were reconciled: tears down every sandbox whose
   * container no longer runs (berthd was killed while it ran or while it was
   * being set up) and drops memberships of containers that are gone.
   */
  async reconcile(ctx: Ctx, running: (id: string) => boolean | undefined): Promise<void> {
    for (const id of [...this.sandboxes.keys()]) {
      if (running(id) === true) continue;
      ctx.log.info('tearing down the network of a container that is not running', { id });
      await this.teardownById(ctx, id, undefined);
    }
    for (const id of [...this.members.keys()]) {
      if (running(id) === undefined) this.forget(id);
    }
    await this.o.netavark.stopIdleAardvark().catch(() => {});
  }

  private ensureBuiltins(): void {
    const bip = parseCidr(this.o.bip);
    const have = (b: string): NetDoc | undefined => [...this.nets.values()].find((n) => n.builtin === b);
    const mk = (name: string, driver: NetDoc['Driver']): NetDoc => ({
      Name: name, Id: newId(), Created: nowNano(), Scope: 'local', Driver: driver, EnableIPv6: false,
      IPAM: { Driver: 'default', Options: null, Config: [] }, Internal: false, Attachable: false, Ingress: false,
      ConfigFrom: { Network: '' }, ConfigOnly: false, Options: {}, Labels: {}, builtin: name,
    });
    for (const [name, driver] of [['none', 'null'], ['host', 'host'], ['bridge', 'bridge']] as const) {
      const n = have(name) ?? mk(name, driver);
      if (name === 'bridge') {
        // --bip and --bridge may change between runs: the built-in bridge follows the flags.
        n.IPAM.Config = [{ Subnet: cidrString(bip.net), Gateway: ipString(bip.ip) }];
        n.bridge = this.o.bridgeName;
        n.Options = {
          'com.docker.network.bridge.default_bridge': 'true',
          'com.docker.network.bridge.enable_icc': 'true',
          'com.docker.network.bridge.enable_ip_masquerade': 'true',
          'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
          'com.docker.network.bridge.name': this.o.bridgeName,
          'com.docker.network.driver.mtu': '1500',
        };
      }
      this.nets.set(n.Id, n);
      this.o.table.putNetwork(n.Id, n.Name, JSON.stringify(n));
    }
  }

  // --- lookup ---------------------------------------------------------------------

  /** Name, full ID, or unique ID prefix; Docker's 404 otherwise. */
  get(ref: string): NetDoc {
    const n = this.find(ref);
    if (n === undefined) throw new NotFoundError(`network ${ref} not found`);
    return n;
  }

  find(ref: string): NetDoc | undefined {
    for (const n of this.nets.values()) if (n.Name === ref) return n;
    const byId = this.nets.get(ref);
    if (byId !== undefined) return byId;
    if (ref === '' || !/^[0-9a-f]+$/.test(ref)) return undefined;
    const hits = [...this.nets.values()].filter((n) => n.Id.startsWith(ref));
    if (hits.length > 1) throw new InvalidArgumentError(`network ${ref} is ambiguous (${hits.length} matches found based on ID prefix)`);
    return hits[0];
  }

  private builtin(name: string): NetDoc {
    const n = [...this.nets.values()].find((x) => x.builtin === name);
    if (n === undefined) throw new NotFoundError(`network ${name} not found`);
    return n;
  }

  private memberMap(containerId: string): Map<string, Member> {
    return getOrSet(this.members, containerId, () => new Map<string, Member>());
  }

  private leaseSet6(networkId: string): Set<bigint> {
    return getOrSet(this.leases6, networkId, () => new Set<bigint>());
  }

  private leaseSet(networkId: string): Set<number> {
    return getOrSet(this.leases, networkId, () => new Set<number>());
  }

  private saveMember(containerId: string, m: Member): void {
    this.o.table.putMember(containerId, m.networkId, JSON.stringify(m));
  }

  private saveSandbox(containerId: string, s: Sandbox): void {
    this.o.table.putSandbox(containerId, JSON.stringify(s));
  }

  /** The network mode's network: `default` is the bridge. */
  private primaryName(c: NetContainer): string {
    if (c.Config.NetworkDisabled === true) return 'none';
    const m = c.HostConfig.NetworkMode;
    return m === 'default' || m === '' ? 'bridge' : m;
  }

  private isUserDefined(n: NetDoc): boolean {
    return n.builtin === undefined;
  }

  /** The IPv6 subnet of an IPv6-enabled bridge network; the gateway is the subnet's first address unless one was given. */
  private subnet6Of(n: NetDoc): { net: Cidr6; gateway: bigint } | undefined {
    const cfg = n.IPAM.Config.find((c) => isV6(c.Subnet));
    if (cfg === undefined || n.Driver !== 'bridge' || !n.EnableIPv6) return undefined;
    const net = parseCidr6(cfg.Subnet).net;
    const gateway = cfg.Gateway !== undefined && cfg.Gateway !== '' ? (parseIp6(cfg.Gateway) ?? net.base + 1n) : net.base + 1n;
    return { net, gateway };
  }

  private subnetOf(n: NetDoc): { net: Cidr; gateway: number; range: Cidr } | undefined {
    const cfg = n.IPAM.Config.find((c) => !isV6(c.Subnet));
    if (cfg === undefined || n.Driver !== 'bridge') return undefined;
    const net = parseCidr(cfg.Subnet).net;
    const gateway = cfg.Gateway !== undefined && cfg.Gateway !== '' ? (parseIp(cfg.Gateway) ?? net.base + 1) : net.base + 1;
    const range = cfg.IPRange !== undefined && cfg.IPRange !== '' ? parseCidr(cfg.IPRange).net : net;
    return { net, gateway, range };
  }

  // --- membership (create, connect, disconnect) -----------------------------------

  private endpointSettings(raw: unknown): { aliases: string[] | null; ipv4: string; ipv6: string; mac: string } {
    const e = obj(raw);
    const ipam = obj(e['IPAMConfig']);
    return { aliases: strsOf(e, 'Aliases'), ipv4: strOf(ipam, 'IPv4Address'), ipv6: strOf(ipam, 'IPv6Address'), mac: strOf(e, 'MacAddress') };
  }

  /** Docker's rules for per-network settings. */
  private checkEndpoint(n: NetDoc, s: { aliases: string[] | null; ipv4: string; ipv6: string }): void {
    if (n.Driver !== 'bridge') return;
    if (!this.isUserDefined(n)) {
      if (s.aliases !== null && s.aliases.length > 0) throw new InvalidArgumentError('network-scoped alias is supported only for containers in user defined networks');
      if (s.ipv4 !== '' || s.ipv6 !== '') throw new InvalidArgumentError('user specified IP address is supported on user defined networks only');
      return;
    }
    if (s.ipv6 !== '') {
      const ip = parseIp6(s.ipv6);
      if (ip === undefined) throw new InvalidArgumentError(`invalid IPv6 address: ${s.ipv6}`);
      const sn = this.subnet6Of(n);
      if (sn === undefined || !contains6(sn.net, ip)) throw new InvalidArgumentError(`no configured subnet or ip-range contain the IP address ${s.ipv6}`);
    }
    if (s.ipv4 !== '') {
      const ip = parseIp(s.ipv4);
      if (ip === undefined) throw new InvalidArgumentError(`invalid IPv4 address: ${s.ipv4}`);
      const sn = this.subnetOf(n);
      if (sn === undefined || !contains(sn.net, ip)) throw new InvalidArgumentError(`no configured subnet or ip-range contain the IP address ${s.ipv4}`);
    }
  }

  register(c: NetContainer): void {
    const mode = this.primaryName(c);
    if (mode.startsWith('container:')) return;
    const primary = this.get(mode);
    const raw = c.HostConfig.NetworkMode;
    const list: [NetDoc, unknown][] = [[primary, c.Endpoints[raw] ?? c.Endpoints[mode] ?? c.Endpoints[primary.Name] ?? c.Endpoints[primary.Id]]];
    for (const [k, v] of Object.entries(c.Endpoints)) {
      // The CLI names the endpoint after the mode as given ("default" included).
      if (k === raw || k === 'default') continue;
      const n = this.get(k);
      if (n.Id === primary.Id) continue;
      if (primary.Driver !== 'bridge' || n.Driver !== 'bridge') throw new InvalidArgumentError('Container cannot be connected to network endpoints');
      list.push([n, v]);
    }
    const members: Member[] = [];
    for (const [n, raw] of list) {
      const s = this.endpointSettings(raw);
      this.checkEndpoint(n, s);
      members.push({ networkId: n.Id, networkName: n.Name, aliases: s.aliases, ipv4: s.ipv4, ...(s.ipv6 !== '' ? { ipv6: s.ipv6 } : {}), mac: s.mac || (n.Id === primary.Id ? (c.Config.MacAddress ?? '') : ''), order: this.order++ });
    }
    const mm = this.memberMap(c.Id);
    for (const m of members) {
      mm.set(m.networkId, m);
      this.saveMember(c.Id, m);
    }
  }

  forget(containerId: string): void {
    this.members.delete(containerId);
    this.o.table.deleteMembers(containerId);
  }

  async connect(ctx: Ctx, netRef: string, raw: unknown): Promise<void> {
    const body = obj(raw);
    const n = this.get(netRef);
    const c = this.containers().get(strOf(body, 'Container'));
    await this.lock.run(c.Id, async () => {
      const mode = this.primaryName(c);
      if (mode === 'host' || mode === 'none' || mode.startsWith('container:') || n.Driver !== 'bridge') {
        if (n.Driver === 'host' || mode === 'host') throw new ForbiddenError('container cannot be disconnected from host network or connected to host network');
        throw new ForbiddenError('container sharing network namespace with another container or host cannot be connected to any other network');
      }
      const mm = this.memberMap(c.Id);
      if (mm.has(n.Id)) throw new ForbiddenError(`endpoint with name ${c.Name} already exists in network ${n.Name}`);
      const s = this.endpointSettings(body['EndpointConfig']);
      this.checkEndpoint(n, s);
      const m: Member = { networkId: n.Id, networkName: n.Name, aliases: s.aliases, ipv4: s.ipv4, ...(s.ipv6 !== '' ? { ipv6: s.ipv6 } : {}), mac: s.mac, order: this.order++ };
      const sb = this.sandboxes.get(c.Id);
      if (sb !== undefined) {
        mm.set(n.Id, m);
        this.saveMember(c.Id, m);
        try {
          await this.attach(ctx, c, sb, m, false);
        } catch (e) {
          await this.detach(ctx, c.Id, sb, m);
          mm.delete(n.Id);
          this.o.table.deleteMember(c.Id, n.Id);
          throw e;
        }
        if (m.active !== undefined) await this.hostsChanged(ctx, c.Id, { add: m.active.ip });
      } else {
        mm.set(n.Id, m);
        this.saveMember(c.Id, m);
      }
    });
  }

  async disconnect(ctx: Ctx, netRef: string, raw: unknown): Promise<void> {
    const body = obj(raw);
    const n = this.get(netRef);
    const ref = strOf(body, 'Container');
    const force = boolOf(body, 'Force');
    let c: NetContainer;
    try {
      c = this.containers().get(ref);
    } catch (e) {
      if (!force) throw e;
      return;
    }
    await this.lock.run(c.Id, async () => {
      if (n.Driver === 'host' || this.primaryName(c) === 'host') throw new ForbiddenError('container cannot be disconnected from host network or connected to host network');
      const mm = this.memberMap(c.Id);
      const m = mm.get(n.Id);
      if (m === undefined) throw new ForbiddenError(`container ${c.Id} is not connected to network ${n.Name}`);
      const sb = this.sandboxes.get(c.Id);
      const ip = m.active?.ip;
      if (sb !== undefined) await this.detach(ctx, c.Id, sb, m);
      if (sb !== undefined && ip !== undefined) await this.hostsChanged(ctx, c.Id, { remove: ip });
      mm.delete(n.Id);
      this.o.table.deleteMember(c.Id, n.Id);
    });
  }

  private containers(): ContainerLookup {
    if (this.lookup === undefined) throw new NotFoundError('no container service');
    return this.lookup;
  }

  // --- sandbox (start, exit) -----------------------------------------------------

  private hostGateway(): string {
    return ipString(parseCidr(this.o.bip).ip);
  }

  async prepare(ctx: Ctx, c: NetContainer): Promise<PreparedNetwork> {
    const mode = this.primaryName(c);
    const none: PreparedNetwork = { ips: [], dnsServers: [], hostGateway: this.hostGateway(), ready: Promise.resolve() };
    if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) return none;
    const primary = this.get(mode);
    if (primary.Driver !== 'bridge') return none;
    // Two phases under one lock: the namespace, addresses and ports are decided
    // at once (the caller needs them for the spec and /etc/hosts); netavark's
    // setup (~100 ms of bridge, veth and iptables work) runs while the caller
    // creates the container, and `ready` says when it is done.
    let planned!: (p: PreparedNetwork) => void;
    let failed!: (e: unknown) => void;
    const first = new Promise<PreparedNetwork>((res, rej) => {
      planned = res;
      failed = rej;
    });
    let readyOk!: () => void;
    let readyErr!: (e: unknown) => void;
    const ready = new Promise<void>((res, rej) => {
      readyOk = res;
      readyErr = rej;
    });
    ready.catch(() => {}); // observed by the caller; never an unhandled rejection
    void this.lock.run(c.Id, async () => {
      let plan: { n: NetDoc; req: NvRequest }[];
      let sb: Sandbox;
      try {
        // A sandbox left from an earlier run (restart after a crash): start clean.
        if (this.sandboxes.has(c.Id)) await this.teardownById(ctx, c.Id, c);
        const mm = this.memberMap(c.Id);
        for (const m of mm.values()) {
          if (!this.nets.has(m.networkId) || this.closing.has(m.networkId)) throw new NotFoundError(`network ${m.networkName} not found`);
        }
        sb = { id: randomBytes(32).toString('hex'), netns: this.o.netavark.netnsPath(c.Id), nets: {}, ports: [] };
        // The row first: whatever exists after a crash is named by it.
        this.sandboxes.set(c.Id, sb);
        this.saveSandbox(c.Id, sb);
        await this.o.netavark.createNetns(sb.netns);
        const ordered = [...mm.values()].sort((a, b) => (a.networkId === primary.Id ? -1 : b.networkId === primary.Id ? 1 : a.order - b.order));
        plan = [];
        for (const m of ordered) plan.push(await this.plan(c, sb, m, plan.length === 0));
        planned({
          netnsPath: sb.netns,
          ips: ordered.flatMap((m) => [m.active?.ip, m.active?.ip6]).filter((x): x is string => x !== undefined),
          dnsServers: plan.filter((x) => this.isUserDefined(x.n)).map((x) => ipString(this.subnetOf(x.n)!.gateway)).slice(0, 1),
          hostGateway: this.hostGateway(),
          ready,
        });
      } catch (e) {
        await this.teardownById(ctx, c.Id, c);
        failed(e);
        readyErr(e);
        return;
      }
      try {
        for (const x of plan) await this.apply(c, sb, x.n, x.req);
        readyOk();
      } catch (e) {
        await this.teardownById(ctx, c.Id, c);
        readyErr(e);
      }
    });
    return first;
  }

  /** One network into a live sandbox: plan, then netavark. */
  private async attach(ctx: Ctx, c: NetContainer, sb: Sandbox, m: Member, withPorts: boolean): Promise<void> {
    const x = await this.plan(c, sb, m, withPorts);
    await this.apply(c, sb, x.n, x.req);
    void ctx;
  }

  /** Lease an address (and host ports), write the request row: everything but the kernel work. */
  private async plan(c: NetContainer, sb: Sandbox, m: Member, withPorts: boolean): Promise<{ n: NetDoc; req: NvRequest }> {
    const n = this.nets.get(m.networkId);
    if (n === undefined || this.closing.has(n.Id)) throw new NotFoundError(`network ${m.networkName} not found`);
    const sn = this.subnetOf(n);
    if (sn === undefined) throw new InvalidArgumentError(`network ${n.Name} cannot be attached`);
    const ip = this.lease(n, sn, m.ipv4);
    const used = new Set(Object.values(sb.nets).flatMap((r) => Object.values(r.networks).map((x) => x.interface_name)));
    let i = 0;
    while (used.has(`eth${i}`)) i++;
    const mac = m.mac !== '' ? m.mac : macFor(ip);
    m.active = { ip: ipString(ip), mac, endpointId: newId(), iface: `eth${i}` };
    const sn6 = this.subnet6Of(n);
    if (sn6 !== undefined) m.active.ip6 = ip6String(this.lease6(n, sn6, m.ipv6 ?? ''));
    this.saveMember(c.Id, m);
    let portMaps: PortMapping[] = [];
    if (withPorts && !n.Internal) {
      portMaps = await this.ports.allocate(c.Id, portRequests({ ExposedPorts: c.Config.ExposedPorts, PortBindings: c.HostConfig.PortBindings, PublishAllPorts: c.HostConfig.PublishAllPorts }));
      sb.ports = portMaps;
    }
    const user = this.isUserDefined(n);
    const aliases = user ? [...new Set([...(m.aliases ?? []), c.Id.slice(0, 12)])] : [];
    const req: NvRequest = {
      container_id: c.Id,
      container_name: c.Name,
      networks: { [n.Name]: { interface_name: m.active.iface, static_ips: m.active.ip6 !== undefined ? [m.active.ip, m.active.ip6] : [m.active.ip], static_mac: mac, ...(aliases.length > 0 ? { aliases } : {}) } },
      network_info: { [n.Name]: this.nvNetwork(n, sn) },
      ...(portMaps.length > 0
        ? { port_mappings: portMaps.filter((p) => !p.hostIp.includes(':')).map((p) => ({ host_ip: p.hostIp === '0.0.0.0' ? '' : p.hostIp, container_port: p.containerPort, host_port: p.hostPort, range: 1, protocol: p.proto })) }
        : {}),
    };
    sb.nets[n.Id] = req;
    this.saveSandbox(c.Id, sb);
    return { n, req };
  }

  private async apply(c: NetContainer, sb: Sandbox, n: NetDoc, req: NvRequest): Promise<void> {
    await this.o.netavark.setup(sb.netns, req);
    this.o.events.publish('network', 'connect', n.Id, { container: c.Id, name: n.Name, type: n.Driver });
    // First use of the network by this daemon: from now on its bridge stays up (see Netavark.keep).
    if (!this.kept.has(n.Id) && !this.closing.has(n.Id)) await this.keep(n);
    // (Also after a restart, which finds the bridge keeper but has torn the DNS keeper down.)
    if (this.isUserDefined(n) && !this.dnsKept.has(n.Id) && !this.closing.has(n.Id)) this.keepDns(n);
  }

  private async keep(n: NetDoc): Promise<void> {
    try {
      await this.o.netavark.keep(this.bridgeOf(n), keeperName(n.Id));
      this.kept.add(n.Id);
    } catch (e) {
      // Only speed is lost: netavark then remakes the bridge for the next container.
      this.o.log.warn('bridge keeper not made', { network: n.Name, err: errorMessage(e) });
    }
  }

  /**
   * Starts the network's DNS keeper in the background (the first container
   * does not wait for it); `network rm` and shutdown wait through `pending`.
   * It takes the subnet's last free addresses, so containers get the same
   * addresses as under dockerd.
   */
  private keepDns(n: NetDoc): void {
    const sn = this.subnetOf(n);
    // A tiny range keeps its few addresses for containers.
    if (sn === undefined || size(sn.range) < 16) return;
    const set = this.leaseSet(n.Id);
    const broadcast = (sn.net.base | ~mask(sn.net.prefix)) >>> 0;
    let ip = Math.min(broadcast - 1, sn.range.base + size(sn.range) - 1);
    while (ip > sn.net.base && (ip === sn.gateway || set.has(ip))) ip--;
    if (ip <= sn.net.base) return;
    set.add(ip);
    const sn6 = this.subnet6Of(n);
    let ip6: bigint | undefined;
    if (sn6 !== undefined) {
      const set6 = this.leaseSet6(n.Id);
      ip6 = sn6.net.base | (((1n << 128n) - 1n) >> BigInt(sn6.net.prefix));
      while (ip6 > sn6.net.base && (ip6 === sn6.gateway || set6.has(ip6))) ip6--;
      set6.add(ip6);
    }
    const req: NvRequest = {
      container_id: n.Id,
      container_name: keeperName(n.Id),
      networks: { [n.Name]: { interface_name: 'eth0', static_ips: ip6 !== undefined ? [ipString(ip), ip6String(ip6)] : [ipString(ip)] } },
      network_info: { [n.Name]: this.nvNetwork(n, sn) },
    };
    const made = this.o.netavark.keepDns(n.Id, req).catch((e: unknown) => {
      // Only speed is lost: aardvark-dns stops and starts with the containers, as before.
      this.o.log.warn('DNS keeper not made', { network: n.Name, err: errorMessage(e) });
      this.dropDnsKeeper(n.Id);
    });
    this.dnsKept.set(n.Id, { ip, ...(ip6 !== undefined ? { ip6 } : {}), made });
    this.pending.add(made);
    void made.finally(() => this.pending.delete(made));
  }

  private dropDnsKeeper(networkId: string): void {
    const k = this.dnsKept.get(networkId);
    if (k === undefined) return;
    this.dnsKept.delete(networkId);
    this.leases.get(networkId)?.delete(k.ip);
    if (k.ip6 !== undefined) this.leases6.get(networkId)?.delete(k.ip6);
  }

  private async releaseDns(n: NetDoc): Promise<void> {
    const k = this.dnsKept.get(n.Id);
    if (k === undefined) return;
    await k.made;
    await this.o.netavark.releaseDns(n.Id);
    this.dropDnsKeeper(n.Id);
  }

  /**
   * Frees what the network holds on the host beyond its containers: the
   * keeper, and then (no container left on it) the bridge and its chains.
   * Best effort, as every teardown: logs and goes on.
   */
  private async release(n: NetDoc): Promise<void> {
    if (n.Driver !== 'bridge') return;
    const k = keeperName(n.Id);
    this.kept.delete(n.Id);
    try {
      await this.releaseDns(n);
      if ((await this.o.netavark.keeperMaster(k)) !== undefined) await this.o.netavark.removeKeeper(k);
      const sn = this.subnetOf(n);
      // With containers left (shutdown while they run), the last one's teardown frees the bridge.
      if (sn === undefined || this.activeEndpoints(n.Id).length > 0) return;
      const broadcast = (sn.net.base | ~mask(sn.net.prefix)) >>> 0;
      let ip = sn.net.base + 1;
      while (ip === sn.gateway && ip + 1 < broadcast) ip++;
      const sn6 = this.subnet6Of(n);
      const ip6 = sn6 !== undefined ? [ip6String(sn6.gateway === sn6.net.base + 1n ? sn6.net.base + 2n : sn6.net.base + 1n)] : [];
      // Also when no keeper was found: a crash between its removal and this leaves an empty bridge behind.
      await this.o.netavark.releaseBridge(this.nvNetwork(n, sn), [ipString(ip), ...ip6]);
    } catch (e) {
      this.o.log.warn('releasing the bridge failed', { network: n.Name, err: errorMessage(e) });
    }
  }

  /**
   * At daemon shutdown, after the teardowns under way: every bridge this
   * daemon holds is released (a stopped berthd holds nothing on the host;
   * containers still running keep theirs until their teardown).
   */
  async close(): Promise<void> {
    await this.drain();
    for (const n of [...this.nets.values()]) await this.release(n);
  }

  private bridgeOf(n: NetDoc): string {
    return n.bridge ?? `br-${n.Id.slice(0, 12)}`;
  }

  private async detach(ctx: Ctx, containerId: string, sb: Sandbox, m: Member): Promise<void> {
    const req = sb.nets[m.networkId];
    if (req !== undefined) {
      await this.o.netavark.teardown(sb.netns, req);
      delete sb.nets[m.networkId];
      this.saveSandbox(containerId, sb);
      const n = this.nets.get(m.networkId);
      this.o.events.publish('network', 'disconnect', m.networkId, { container: containerId, name: n?.Name ?? m.networkName, type: n?.Driver ?? 'bridge' });
    }
    this.unlease(m);
    this.saveMember(containerId, m);
    void ctx;
  }

  private nvNetwork(n: NetDoc, sn: { net: Cidr; gateway: number }): NvNetwork {
    const sn6 = this.subnet6Of(n);
    const options: Record<string, string> = {};
    const mtu = n.Options['com.docker.network.driver.mtu'];
    if (mtu !== undefined && mtu !== '' && mtu !== '1500') options['mtu'] = mtu;
    return {
      name: n.Name,
      id: n.Id,
      driver: 'bridge',
      network_interface: this.bridgeOf(n),
      subnets: [{ subnet: cidrString(sn.net), gateway: ipString(sn.gateway) }, ...(sn6 !== undefined ? [{ subnet: cidr6String(sn6.net), gateway: ip6String(sn6.gateway) }] : [])],
      ipv6_enabled: sn6 !== undefined,
      internal: n.Internal,
      dns_enabled: this.isUserDefined(n),
      ipam_options: { driver: 'host-local' },
      ...(Object.keys(options).length > 0 ? { options } : {}),
    };
  }

  private lease(n: NetDoc, sn: { net: Cidr; gateway: number; range: Cidr }, want: string): number {
    const set = this.leaseSet(n.Id);
    if (want !== '') {
      const ip = parseIp(want)!;
      if (set.has(ip) || ip === sn.gateway) throw new ConflictError(`Address already in use`);
      set.add(ip);
      return ip;
    }
    const broadcast = (sn.net.base | ~mask(sn.net.prefix)) >>> 0;
    const count = size(sn.range);
    for (let i = 0; i < count; i++) {
      const ip = sn.range.base + i;
      if (ip === sn.net.base || ip === broadcast || ip === sn.gateway || set.has(ip)) continue;
      set.add(ip);
      return ip;
    }
    throw new UnavailableAddresses(n.Name);
  }

  /** The requested IPv6 address, or the lowest free one after the gateway. */
  private lease6(n: NetDoc, sn: { net: Cidr6; gateway: bigint }, want: string): bigint {
    const set = this.leaseSet6(n.Id);
    if (want !== '') {
      const ip = parseIp6(want)!;
      if (set.has(ip) || ip === sn.gateway) throw new ConflictError(`Address already in use`);
      set.add(ip);
      return ip;
    }
    const last = sn.net.base | (((1n << 128n) - 1n) >> BigInt(sn.net.prefix));
    for (let ip = sn.net.base + 1n; ip < last; ip++) {
      if (ip === sn.gateway || set.has(ip)) continue;
      set.add(ip);
      return ip;
    }
    throw new ForbiddenError(`no available IPv6 addresses on this network's address pools: ${n.Name}`);
  }

  private unlease(m: Member): void {
    if (m.active === undefined) return;
    const ip = parseIp(m.active.ip);
    if (ip !== undefined) this.leases.get(m.networkId)?.delete(ip);
    const ip6 = m.active.ip6 !== undefined ? parseIp6(m.active.ip6) : undefined;
    if (ip6 !== undefined) this.leases6.get(m.networkId)?.delete(ip6);
    delete m.active;
  }

  async teardown(ctx: Ctx, c: NetContainer): Promise<void> {
    if (!this.sandboxes.has(c.Id)) return;
    const p = this.lock.run(c.Id, () => this.teardownById(ctx, c.Id, c));
    // Callers may leave it running (exit path); network rm and shutdown wait for it.
    this.pending.add(p);
    try {
      await p;
    } finally {
      this.pending.delete(p);
    }
  }

  /** Waits for teardowns still running (before removing a network, at shutdown). */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private async teardownById(ctx: Ctx, id: string, c: NetContainer | undefined): Promise<void> {
    const sb = this.sandboxes.get(id);
    if (sb === undefined) return;
    const mm = this.members.get(id);
    for (const netId of Object.keys(sb.nets).reverse()) {
      const m = mm?.get(netId) ?? { networkId: netId, networkName: '', aliases: null, ipv4: '', mac: '', order: 0 };
      await this.detach(ctx, id, sb, m).catch((e: unknown) => ctx.log.warn('network teardown failed', { id, err: errorMessage(e) }));
    }
    for (const m of mm?.values() ?? []) {
      if (m.active !== undefined) {
        this.unlease(m);
        this.saveMember(id, m);
      }
    }
    await this.o.netavark.removeNetns(sb.netns).catch((e: unknown) => ctx.log.warn('netns removal failed', { id, err: errorMessage(e) }));
    this.ports.release(id);
    this.sandboxes.delete(id);
    this.o.table.deleteSandbox(id);
    void c;
  }

  // --- container views ------------------------------------------------------------

  private portMap(c: NetContainer): Record<string, { HostIp: string; HostPort: string }[] | null> {
    const sb = this.sandboxes.get(c.Id);
    if (sb === undefined) return {};
    const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
    for (const k of [...Object.keys(c.Config.ExposedPorts ?? {}), ...Object.keys(c.HostConfig.PortBindings)]) {
      const { port, proto } = parsePortKey(k);
      out[`${port}/${proto}`] = null;
    }
    for (const p of sb.ports) {
      const k = `${p.containerPort}/${p.proto}`;
      const list = out[k] ?? [];
      if (p.hostIp === '' || p.hostIp === '0.0.0.0') {
        // dockerd lists a wildcard binding once per address family.
        list.push({ HostIp: '0.0.0.0', HostPort: String(p.hostPort) }, { HostIp: '::', HostPort: String(p.hostPort) });
      } else list.push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
      out[k] = list;
    }
    return out;
  }

  private endpointView(c: NetContainer, m: Member, n: NetDoc | undefined): Record<string, unknown> {
    const a = m.active;
    const sn = n !== undefined ? this.subnetOf(n) : undefined;
    const user = n !== undefined && this.isUserDefined(n) && n.Driver === 'bridge';
    let aliases: string[] | null = m.aliases;
    if (user && a !== undefined) aliases = [...new Set([...(m.aliases ?? []), c.Id.slice(0, 12)])];
    const sn6 = n !== undefined ? this.subnet6Of(n) : undefined;
    const ipam = { ...(m.ipv4 !== '' ? { IPv4Address: m.ipv4 } : {}), ...(m.ipv6 !== undefined && m.ipv6 !== '' ? { IPv6Address: m.ipv6 } : {}) };
    return {
      IPAMConfig: Object.keys(ipam).length > 0 ? ipam : null,
      Links: null,
      Aliases: aliases,
      NetworkID: m.networkId,
      EndpointID: a?.endpointId ?? '',
      Gateway: a !== undefined && sn !== undefined && !(n?.Internal ?? false) ? ipString(sn.gateway) : '',
      IPAddress: a?.ip ?? '',
      IPPrefixLen: a !== undefined && sn !== undefined ? sn.net.prefix : 0,
      IPv6Gateway: a?.ip6 !== undefined && sn6 !== undefined && !(n?.Internal ?? false) ? ip6String(sn6.gateway) : '',
      GlobalIPv6Address: a?.ip6 ?? '',
      GlobalIPv6PrefixLen: a?.ip6 !== undefined && sn6 !== undefined ? sn6.net.prefix : 0,
      MacAddress: a?.mac ?? '',
      DriverOpts: null,
    };
  }

  private networkViews(c: NetContainer): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    const list = [...(this.members.get(c.Id)?.values() ?? [])].sort((a, b) => a.order - b.order);
    for (const m of list) {
      const n = this.nets.get(m.networkId);
      out[n?.Name ?? m.networkName] = this.endpointView(c, m, n);
    }
    return out;
  }

  settings(c: NetContainer): Record<string, unknown> {
    const sb = this.sandboxes.get(c.Id);
    const networks = this.networkViews(c);
    const br = networks['bridge'];
    const bridgeNet = br !== undefined ? this.nets.get(String(br['NetworkID'])) : undefined;
    // dockerd fills the top-level fields from the default bridge only (legacy).
    const legacy = br !== undefined && bridgeNet?.builtin === 'bridge';
    return {
      Bridge: '',
      SandboxID: sb?.id ?? '',
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      Ports: this.portMap(c),
      SandboxKey: sb?.netns ?? '',
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      EndpointID: legacy ? br['EndpointID'] : '',
      Gateway: legacy ? br['Gateway'] : '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      IPAddress: legacy ? br['IPAddress'] : '',
      IPPrefixLen: legacy ? br['IPPrefixLen'] : 0,
      IPv6Gateway: '',
      MacAddress: legacy ? br['MacAddress'] : '',
      Networks: networks,
    };
  }

  summaryNetworks(c: NetContainer): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this.networkViews(c))) out[k] = { ...v, Aliases: null };
    return out;
  }

  summaryPorts(c: NetContainer): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const [k, list] of Object.entries(this.portMap(c))) {
      const { port, proto } = parsePortKey(k);
      if (list === null) out.push({ PrivatePort: port, Type: proto });
      else for (const b of list) out.push({ IP: b.HostIp, PrivatePort: port, PublicPort: Number(b.HostPort), Type: proto });
    }
    return out;
  }

  addressOn(containerId: string, network: string): string | undefined {
    const n = this.find(network);
    return n !== undefined ? this.members.get(containerId)?.get(n.Id)?.active?.ip : undefined;
  }

  networksOf(containerId: string): { id: string; name: string }[] {
    return [...(this.members.get(containerId)?.values() ?? [])].map((m) => ({ id: m.networkId, name: this.nets.get(m.networkId)?.Name ?? m.networkName }));
  }

  // --- API: networks --------------------------------------------------------------

  private activeEndpoints(netId: string): [string, Member][] {
    const out: [string, Member][] = [];
    for (const [cid, mm] of this.members) {
      const m = mm.get(netId);
      if (m?.active !== undefined) out.push([cid, m]);
    }
    return out;
  }

  view(n: NetDoc, withContainers: boolean): Record<string, unknown> {
    const containers: Record<string, unknown> = {};
    if (withContainers) {
      const sn = this.subnetOf(n);
      for (const [cid, m] of this.activeEndpoints(n.Id)) {
        let name = '';
        try {
          name = this.lookup?.get(cid).Name ?? '';
        } catch {
          // removed meanwhile
        }
        const sn6 = this.subnet6Of(n);
        const ip6 = m.active!.ip6 !== undefined && sn6 !== undefined ? `${m.active!.ip6}/${sn6.net.prefix}` : '';
        containers[cid] = { Name: name, EndpointID: m.active!.endpointId, MacAddress: m.active!.mac, IPv4Address: `${m.active!.ip}/${sn?.net.prefix ?? 32}`, IPv6Address: ip6 };
      }
    }
    return {
      Name: n.Name,
      Id: n.Id,
      Created: n.Created,
      Scope: n.Scope,
      Driver: n.Driver,
      EnableIPv6: n.EnableIPv6,
      IPAM: n.IPAM,
      Internal: n.Internal,
      Attachable: n.Attachable,
      Ingress: n.Ingress,
      ConfigFrom: n.ConfigFrom,
      ConfigOnly: n.ConfigOnly,
      Containers: containers,
      Options: n.Options,
      Labels: n.Labels,
    };
  }

  inspect(ref: string): Record<string, unknown> {
    return this.view(this.get(ref), true);
  }

  list(filters: ReadonlyMap<string, readonly string[]>): Record<string, unknown>[] {
    for (const k of filters.keys()) {
      if (!['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type'].includes(k)) throw new InvalidArgumentError(`Invalid filter '${k}'`);
    }
    const order = (n: NetDoc): number => (n.builtin === 'none' ? 0 : n.builtin === 'host' ? 1 : n.builtin === 'bridge' ? 2 : 3);
    const all = [...this.nets.values()].sort((a, b) => order(a) - order(b) || (a.Created < b.Created ? -1 : 1));
    return all.filter((n) => this.matches(n, filters)).map((n) => this.view(n, false));
  }

  private matches(n: NetDoc, f: ReadonlyMap<string, readonly string[]>): boolean {
    const any = (k: string, p: (v: string) => boolean): boolean => {
      const vs = f.get(k);
      return vs === undefined || vs.some(p);
    };
    if (!any('driver', (v) => v === n.Driver)) return false;
    if (!any('id', (v) => n.Id.includes(v))) return false;
    if (!any('name', (v) => n.Name.includes(v))) return false;
    if (!any('scope', (v) => v === 'local')) return false;
    if (!any('type', (v) => {
      if (v !== 'custom' && v !== 'builtin') throw new InvalidArgumentError(`invalid filter: 'type'='${v}'`);
      return (v === 'builtin') === (n.builtin !== undefined);
    })) return false;
    const labels = f.get('label');
    if (labels !== undefined && !labels.every((w) => labelMatch(n.Labels, w))) return false;
    if (!any('dangling', (v) => {
      const d = v === 'true' || v === '1';
      return n.builtin === undefined && (this.activeEndpoints(n.Id).length === 0) === d;
    })) return false;
    return true;
  }

  private pools(): { base: Cidr; size: number }[] {
    const out: { base: Cidr; size: number }[] = [];
    for (const p of this.o.pools) {
      const kv = Object.fromEntries(p.split(',').map((x) => x.split('=') as [string, string]));
      if (kv['base'] === undefined) throw new InvalidArgumentError(`invalid default address pool: ${p}`);
      out.push({ base: parseCidr(kv['base']).net, size: Number(kv['size'] ?? '24') });
    }
    return out.length > 0 ? out : [{ base: parseCidr('10.89.0.0/16').net, size: 24 }];
  }

  private used(): Cidr[] {
    return [...this.nets.values()].map((n) => this.subnetOf(n)?.net).filter((x): x is Cidr => x !== undefined);
  }

  private allocateSubnet(): Cidr {
    const taken = [...this.used(), ...hostRoutes()];
    for (const p of this.pools()) {
      const step = 2 ** (32 - p.size);
      for (let b = p.base.base; b < p.base.base + size(p.base); b += step) {
        const c: Cidr = { base: b >>> 0, prefix: p.size };
        if (!taken.some((t) => overlaps(t, c))) return c;
      }
    }
    throw new ForbiddenError('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
  }

  create(raw: unknown): { Id: string; Warning: string } {
    const b = obj(raw);
    const name = strOf(b, 'Name');
    if (name === '') throw new InvalidArgumentError('network name is required');
    if ([...this.nets.values()].some((n) => n.Name === name)) throw new ConflictError(`network with name ${name} already exists`);
    const driver = strOf(b, 'Driver') || 'bridge';
    if (driver === 'host' || driver === 'null') throw new ForbiddenError(`only one instance of "${driver}" network is allowed`);
    if (driver !== 'bridge') throw new NotFoundError(`plugin "${driver}" not found`);
    const ipv6 = boolOf(b, 'EnableIPv6');
    const ipam = obj(b['IPAM']);
    const all = Array.isArray(ipam['Config']) ? (ipam['Config'] as unknown[]).map(obj) : [];
    // IPv4 and IPv6 pools may come in any order: each family is configured on its own.
    const cfgs = all.filter((c) => !isV6(strOf(c, 'Subnet')));
    const cfg6 = this.ipv6Config(all.filter((c) => isV6(strOf(c, 'Subnet'))), ipv6);
    const options = strMapOf(b, 'Options');
    const labels = strMapOf(b, 'Labels');
    let cfg: IpamConfig;
    const given = cfgs[0];
    if (given !== undefined && strOf(given, 'Subnet') !== '') {
      const sub = strOf(given, 'Subnet');
      const p = parseCidr(sub);
      if (p.ip !== p.net.base) throw new InvalidArgumentError(`invalid subnet ${sub} : it should be ${cidrString(p.net)}`);
      if (p.net.prefix > 30) throw new InvalidArgumentError(`invalid subnet ${sub}: too small`);
      if (this.used().some((u) => overlaps(u, p.net))) throw new ForbiddenError('Pool overlaps with other one on this address space');
      cfg = { Subnet: cidrString(p.net) };
      const gw = strOf(given, 'Gateway');
      if (gw !== '') {
        const g = parseIp(gw);
        if (g === undefined || !contains(p.net, g)) throw new InvalidArgumentError(`Invalid gateway ${gw}: not in subnet ${cfg.Subnet}`);
        cfg.Gateway = gw;
      } else cfg.Gateway = ipString(p.net.base + 1);
      const range = strOf(given, 'IPRange');
      if (range !== '') {
        const r = parseCidr(range);
        if (!contains(p.net, r.net.base) || r.net.prefix < p.net.prefix) throw new InvalidArgumentError(`Invalid range ${range}: does not belong to subnet ${cfg.Subnet}`);
        cfg.IPRange = cidrString(r.net);
      }
    } else {
      if (given !== undefined && (strOf(given, 'Gateway') !== '' || strOf(given, 'IPRange') !== '')) {
        throw new InvalidArgumentError('gateway and ip-range require a subnet (--subnet)');
      }
      const c = this.allocateSubnet();
      cfg = { Subnet: cidrString(c), Gateway: ipString(c.base + 1) };
    }
    const id = newId();
    const bridge = options['com.docker.network.bridge.name'] ?? `br-${id.slice(0, 12)}`;
    if (bridge.length > 15) throw new InvalidArgumentError(`bridge name ${bridge} is longer than 15 characters`);
    const n: NetDoc = {
      Name: name, Id: id, Created: nowNano(), Scope: 'local', Driver: 'bridge', EnableIPv6: ipv6,
      IPAM: { Driver: strOf(ipam, 'Driver') || 'default', Options: strMapOf(ipam, 'Options'), Config: cfg6 !== undefined ? [cfg, cfg6] : [cfg] },
      Internal: boolOf(b, 'Internal'), Attachable: boolOf(b, 'Attachable'), Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false,
      Options: options, Labels: labels, bridge,
    };
    this.nets.set(id, n);
    this.o.table.putNetwork(id, name, JSON.stringify(n));
    this.o.events.publish('network', 'create', id, { name, type: 'bridge' });
    return { Id: id, Warning: '' };
  }

  /**
   * The IPv6 pool of a new network. dockerd 20.10 has no default IPv6 pools:
   * `--ipv6` needs a `--subnet` of that family; the gateway is shown only when
   * given (the subnet's first address serves otherwise).
   */
  private ipv6Config(given: Obj[], enabled: boolean): IpamConfig | undefined {
    const g = given[0];
    if (g === undefined) {
      if (!enabled) return undefined;
      throw new ForbiddenError('could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network');
    }
    // As dockerd: host bits are allowed (the network is kept), and without --ipv6 the pool is recorded but unused.
    const sub = strOf(g, 'Subnet');
    const p = parseCidr6(sub);
    if (p.net.prefix > 126) throw new InvalidArgumentError(`invalid subnet ${sub}: too small`);
    for (const n of this.nets.values()) {
      const c = n.IPAM.Config.find((x) => isV6(x.Subnet));
      const o = c !== undefined ? { net: parseCidr6(c.Subnet).net } : undefined;
      if (o !== undefined && overlaps6(o.net, p.net)) throw new ForbiddenError('Pool overlaps with other one on this address space');
    }
    // kept as written (fdbf:0290::/64 stays so), as dockerd keeps it; every reader parses it
    const out: IpamConfig = { Subnet: sub };
    const gw = strOf(g, 'Gateway');
    if (gw !== '') {
      const ip = parseIp6(gw);
      if (ip === undefined || !contains6(p.net, ip)) throw new InvalidArgumentError(`Invalid gateway ${gw}: not in subnet ${out.Subnet}`);
      out.Gateway = gw;
    }
    if (strOf(g, 'IPRange') !== '') throw new InvalidArgumentError('IPv6 ip-range is not supported by berth');
    return out;
  }

  async remove(ref: string): Promise<void> {
    await this.drain();
    const n = this.get(ref);
    if (this.closing.has(n.Id)) throw new NotFoundError(`network ${ref} not found`);
    this.checkRemovable(n);
    await this.removeNow(n);
  }

  private checkRemovable(n: NetDoc): void {
    if (n.builtin !== undefined) throw new ForbiddenError(`${n.Name} is a pre-defined network and cannot be removed`);
    if (this.activeEndpoints(n.Id).length > 0) throw new ForbiddenError(`error while removing network: network ${n.Name} id ${n.Id} has active endpoints`);
  }

  /**
   * The bridge first, then the record: a crash in between leaves the network
   * (and its keeper) to be removed again, never a bridge nobody owns.
   */
  private async removeNow(n: NetDoc): Promise<void> {
    this.closing.add(n.Id);
    try {
      await this.release(n);
    } finally {
      this.closing.delete(n.Id);
    }
    this.nets.delete(n.Id);
    this.leases.delete(n.Id);
    this.leases6.delete(n.Id);
    this.o.table.deleteNetwork(n.Id);
    this.o.events.publish('network', 'destroy', n.Id, { name: n.Name, type: n.Driver });
  }

  async prune(filters: ReadonlyMap<string, readonly string[]>): Promise<{ NetworksDeleted: string[] | null }> {
    await this.drain();
    for (const k of filters.keys()) if (k !== 'label' && k !== 'label!' && k !== 'until') throw new InvalidArgumentError(`Invalid filter '${k}'`);
    const out: string[] = [];
    const until = filters.get('until')?.[0];
    for (const n of [...this.nets.values()]) {
      if (n.builtin !== undefined || this.closing.has(n.Id) || this.activeEndpoints(n.Id).length > 0) continue;
      const labels = filters.get('label');
      if (labels !== undefined && !labels.every((w) => labelMatch(n.Labels, w))) continue;
      const notLabels = filters.get('label!');
      if (notLabels !== undefined && notLabels.some((w) => labelMatch(n.Labels, w))) continue;
      if (until !== undefined && Date.parse(n.Created) >= untilMs(until)) continue;
      await this.removeNow(n);
      out.push(n.Name);
    }
    return { NetworksDeleted: out.length > 0 ? out : null };
  }

  counts(): number {
    return this.nets.size;
  }
}

class UnavailableAddresses extends ForbiddenError {
  constructor(net: string) {
    super(`no available IPv4 addresses on this network's address pools: ${net}`);
  }
}

export function labelMatch(labels: Record<string, string> | null, w: string): boolean {
  const l = labels ?? {};
  const i = w.indexOf('=');
  return i === -1 ? w in l : l[w.slice(0, i)] === w.slice(i + 1);
}

function untilMs(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const m = /^(\d+)(h|m|s)$/.exec(v);
  if (m !== null) return Date.now() - Number(m[1]) * { h: 3600_000, m: 60_000, s: 1000 }[m[2] as 'h' | 'm' | 's'];
  return Date.parse(v);
}

export { BUILTIN };
