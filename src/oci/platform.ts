/**
 * Platforms (os/arch/variant) and choosing a manifest from an index, with
 * containerd's normalisation and preference order, which moby's pull uses.
 */
import { endianness } from 'node:os';
import { InvalidArgumentError, NotFoundError } from '../base/errors.js';
import { isIndexType, isManifestType } from './mediatypes.js';
import type { Descriptor, ImageIndex, Platform } from './types.js';

const ARCH_FROM_NODE: Readonly<Record<string, string>> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64',
  s390x: 's390x',
  s390: 's390',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips: 'mips',
  mipsel: 'mipsle',
  mips64el: 'mips64le',
  ppc: 'ppc',
};

/** The platform for node's `process.arch`; pure, for tests. */
export function platformFromNode(arch: string, armVersion?: string, littleEndian = true): Platform {
  let a = ARCH_FROM_NODE[arch] ?? arch;
  if (a === 'ppc64' && littleEndian) a = 'ppc64le';
  // Containers are Linux whatever node runs on: berth runs Linux images only.
  const p: Platform = { os: 'linux', architecture: a };
  if (a === 'arm64') p.variant = 'v8';
  if (a === 'arm') p.variant = armVersion !== undefined && /^[5-8]$/.test(armVersion) ? `v${armVersion}` : 'v7';
  return p;
}

function nodeArmVersion(): string | undefined {
  // process.config is typed loosely; read `variables.arm_version` defensively.
  const vars: unknown = (process.config as { variables?: unknown }).variables;
  if (typeof vars === 'object' && vars !== null && 'arm_version' in vars) {
    const v = (vars as { arm_version: unknown }).arm_version;
    if (typeof v === 'string' || typeof v === 'number') return String(v);
  }
  return undefined;
}

/** The platform images should be pulled for on this host (Docker's default platform). */
export function hostPlatform(): Platform {
  return platformFromNode(process.arch, process.arch === 'arm' ? nodeArmVersion() : undefined, endianness() === 'LE');
}

const KNOWN_OS = new Set([
  'aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux',
  'nacl', 'netbsd', 'openbsd', 'plan9', 'solaris', 'windows', 'zos', 'wasip1',
]);
const KNOWN_ARCH = new Set([
  '386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'ppc64', 'ppc64le', 'loong64',
  'mips', 'mipsle', 'mips64', 'mips64le', 'mips64p32', 'mips64p32le', 'ppc', 'riscv', 'riscv64',
  's390', 's390x', 'sparc', 'sparc64', 'wasm',
]);

function normalizeOs(os: string): string {
  const o = os.toLowerCase();
  return o === 'macos' ? 'darwin' : o;
}

/** containerd's normalizeArch, except that default variants are spelled out (arm64 v8, arm v7). */
function normalizeArch(arch: string, variant: string): { architecture: string; variant: string } {
  const a = arch.toLowerCase();
  const v = variant.toLowerCase();
  switch (a) {
    case 'i386':
    case 'i686':
    case 'x86':
      return { architecture: '386', variant: '' };
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return { architecture: 'amd64', variant: v === 'v1' ? '' : v };
    case 'aarch64':
    case 'arm64':
      if (v === '' || v === '8' || v === 'v8' || v === 'v8.0') return { architecture: 'arm64', variant: 'v8' };
      if (v === '9' || v === '9.0' || v === 'v9.0') return { architecture: 'arm64', variant: 'v9' };
      return { architecture: 'arm64', variant: v };
    case 'armhf':
      return { architecture: 'arm', variant: 'v7' };
    case 'armel':
      return { architecture: 'arm', variant: 'v6' };
    case 'arm':
      if (v === '' || v === '7') return { architecture: 'arm', variant: 'v7' };
      if (v === '5' || v === '6' || v === '8') return { architecture: 'arm', variant: `v${v}` };
      return { architecture: 'arm', variant: v };
    default:
      return { architecture: a, variant: v };
  }
}

function make(os: string, architecture: string, variant: string): Platform {
  const p: Platform = { os, architecture };
  if (variant !== '') p.variant = variant;
  return p;
}

/**
 * Normalises spellings (`x86_64`, `aarch64`, `armhf`, `macos`) and spells
 * out default variants (arm64 → v8, arm → v7; amd64 v1 is implied).
 */
export function normalizePlatform(p: Platform): Platform {
  const { architecture, variant } = normalizeArch(p.architecture, p.variant ?? '');
  const out = make(normalizeOs(p.os), architecture, variant);
  if (p['os.version'] !== undefined) out['os.version'] = p['os.version'];
  if (p['os.features'] !== undefined) out['os.features'] = [...p['os.features']];
  return out;
}

const COMPONENT_RE = /^[A-Za-z0-9_-]+$/;

/**
 * `linux`, `amd64`, `linux/arm64`, `linux/arm/v7`, as `docker --platform`
 * takes them (containerd's platforms.Parse). A lone OS gets the host's
 * architecture; a lone architecture gets linux.
 */
export function parsePlatform(specifier: string): Platform {
  if (specifier.includes('*')) {
    throw new InvalidArgumentError(`"${specifier}": wildcards not yet supported: invalid argument`);
  }
  const parts = specifier.split('/');
  for (const part of parts) {
    if (!COMPONENT_RE.test(part)) {
      throw new InvalidArgumentError(
        `"${part}" is an invalid component of "${specifier}": platform specifier component must match "${COMPONENT_RE.source}": invalid argument`,
      );
    }
  }
  const [a, b, c] = parts;
  if (parts.length === 1 && a !== undefined) {
    const os = normalizeOs(a);
    if (KNOWN_OS.has(os)) {
      const host = hostPlatform();
      return make(os, host.architecture, host.variant ?? '');
    }
    const n = normalizeArch(a, '');
    if (KNOWN_ARCH.has(n.architecture)) return make('linux', n.architecture, n.variant);
    throw new InvalidArgumentError(`"${specifier}": unknown operating system or architecture: invalid argument`);
  }
  if (parts.length === 2 && a !== undefined && b !== undefined) {
    const n = normalizeArch(b, '');
    return make(normalizeOs(a), n.architecture, n.variant);
  }
  if (parts.length === 3 && a !== undefined && b !== undefined && c !== undefined) {
    const n = normalizeArch(b, c);
    return make(normalizeOs(a), n.architecture, n.variant);
  }
  throw new InvalidArgumentError(`"${specifier}": cannot parse platform specifier: invalid argument`);
}

/** `os/arch[/variant]`, as Docker prints platforms in messages. */
export function formatPlatform(p: Platform): string {
  const v = p.variant ?? '';
  return `${p.os}/${p.architecture}${v !== '' ? `/${v}` : ''}`;
}

/**
 * containerd's platformVector: what a host of `want` runs, best first.
 * amd64/v3 runs v3, v2, v1 then 386; arm/v7 runs v7, v6, v5; arm64 also
 * runs 32-bit arm (v8 down to v5).
 */
export function platformPreferences(want: Platform): Platform[] {
  const w = normalizePlatform(want);
  const out: Platform[] = [w];
  const num = (v: string | undefined): number => {
    const m = /^v(\d+)$/.exec(v ?? '');
    return m === null ? NaN : Number(m[1]);
  };
  const same = (arch: string, variant: string): Platform => {
    const p = make(w.os, arch, variant);
    if (w['os.version'] !== undefined) p['os.version'] = w['os.version'];
    return p;
  };
  switch (w.architecture) {
    case 'amd64': {
      const n = num(w.variant);
      for (let i = n - 1; i >= 1; i--) out.push(same('amd64', i === 1 ? '' : `v${i}`));
      out.push(same('386', ''));
      break;
    }
    case 'arm': {
      const n = num(w.variant);
      for (let i = n - 1; i >= 5; i--) out.push(same('arm', `v${i}`));
      break;
    }
    case 'arm64': {
      const v = w.variant ?? 'v8';
      // An arm64 v9 host still runs arm v8 userlands and below; containerd
      // passes the arm64 variant through, so do the same.
      out.push(...platformPreferences(same('arm', v)));
      break;
    }
  }
  return out;
}

function equalPlatform(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture && (a.variant ?? '') === (b.variant ?? '');
}

/** The rank of `have` among what `want` runs (0 = best), or -1. */
function rank(prefs: readonly Platform[], have: Platform): number {
  const h = normalizePlatform(have);
  return prefs.findIndex((p) => equalPlatform(p, h));
}

/** Whether an image built for `have` runs on a host of `want`. */
export function platformMatches(want: Platform, have: Platform): boolean {
  return rank(platformPreferences(want), have) !== -1;
}

/**
 * The index entry to pull for `want`, as moby does: only manifests (or
 * nested indexes), best platform first; an entry without a platform is a
 * last resort. Throws NotFoundError with Docker's message.
 */
export function selectManifest(index: ImageIndex, want: Platform): Descriptor {
  const prefs = platformPreferences(want);
  let best: Descriptor | undefined;
  let bestRank = Infinity;
  for (const d of index.manifests) {
    if (!isManifestType(d.mediaType) && !isIndexType(d.mediaType)) continue;
    const p = d.platform;
    let r: number;
    if (p === undefined || (p.os === '' && p.architecture === '')) r = prefs.length;
    else {
      r = rank(prefs, p);
      if (r === -1) continue;
    }
    // Strictly better only: among equals the first listed wins, as in moby's stable sort.
    if (r < bestRank) {
      best = d;
      bestRank = r;
    }
  }
  if (best === undefined) {
    throw new NotFoundError(`no matching manifest for ${formatPlatform(want)} in the manifest list entries`);
  }
  return best;
}
