/**
 * Seccomp: Docker's profile format and its translation into the OCI
 * runtime-spec form. Docker profiles are written for every architecture and
 * every capability set at once (rules carry `includes`/`excludes` by arch,
 * capability and minimum kernel); the OCI form is the one rule list that
 * applies to this container on this machine, so the translation evaluates
 * those conditions here, as moby's `setupSeccomp` does.
 */
import { InvalidArgumentError } from '../base/errors.js';

export interface DockerSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface DockerSeccompFilter {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

export interface DockerSeccompRule {
  names?: string[];
  name?: string;
  action: string;
  errnoRet?: number;
  args?: DockerSeccompArg[] | null;
  comment?: string;
  includes?: DockerSeccompFilter;
  excludes?: DockerSeccompFilter;
}

export interface DockerSeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures: string[] | null }[];
  syscalls?: DockerSeccompRule[];
}

export interface OciSeccompRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: { index: number; value: number; valueTwo?: number; op: string }[];
}

export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  syscalls?: OciSeccompRule[];
}

/** Node's `process.arch` → Go's GOARCH, the names Docker profiles use in `arches`. */
const GOARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  s390x: 's390x',
  ppc64: 'ppc64le',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips: 'mips',
  mipsel: 'mipsle',
};

/** GOARCH → the native libseccomp architecture, the key of a profile's archMap. */
const NATIVE_SCMP: Record<string, string> = {
  amd64: 'SCMP_ARCH_X86_64',
  arm64: 'SCMP_ARCH_AARCH64',
  arm: 'SCMP_ARCH_ARM',
  '386': 'SCMP_ARCH_X86',
  s390x: 'SCMP_ARCH_S390X',
  ppc64le: 'SCMP_ARCH_PPC64LE',
  riscv64: 'SCMP_ARCH_RISCV64',
  loong64: 'SCMP_ARCH_LOONGARCH64',
  mips: 'SCMP_ARCH_MIPS',
  mipsle: 'SCMP_ARCH_MIPSEL',
};

export function goArch(nodeArch: string): string {
  return GOARCH[nodeArch] ?? nodeArch;
}

/** Compares dotted kernel versions ("6.1.0-13-amd64" ≥ "4.8"). */
export function kernelAtLeast(kernel: string, min: string): boolean {
  const parse = (v: string): number[] => (v.match(/^\d+(\.\d+)*/)?.[0] ?? '0').split('.').map(Number);
  const a = parse(kernel);
  const b = parse(min);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

export interface SeccompContext {
  /** Node architecture name (process.arch). */
  arch: string;
  /** The container's final bounding capability set, CAP_-prefixed. */
  caps: readonly string[];
  /** Kernel release (os.release()). */
  kernel: string;
}

/** Translates a Docker-format profile into the OCI form for one container. */
export function toOciSeccomp(profile: DockerSeccompProfile, ctx: SeccompContext): OciSeccomp {
  const arch = goArch(ctx.arch);
  const out: OciSeccomp = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;

  if (profile.architectures !== undefined && profile.archMap !== undefined && profile.architectures.length > 0 && profile.archMap.length > 0) {
    throw new InvalidArgumentError("'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'");
  }
  if (profile.archMap !== undefined) {
    const native = NATIVE_SCMP[arch];
    const archs: string[] = [];
    for (const m of profile.archMap) {
      if (m.architecture === native) archs.push(m.architecture, ...(m.subArchitectures ?? []));
    }
    if (archs.length > 0) out.architectures = archs;
  } else if (profile.architectures !== undefined && profile.architectures.length > 0) {
    out.architectures = [...profile.architectures];
  }

  const caps = new Set(ctx.caps);
  const rules: OciSeccompRule[] = [];
  for (const r of profile.syscalls ?? []) {
    const inc = r.includes;
    if (inc !== undefined) {
      if (inc.arches !== undefined && inc.arches.length > 0 && !inc.arches.includes(arch)) continue;
      // every listed capability must be held
      if (inc.caps !== undefined && !inc.caps.every((c) => caps.has(c))) continue;
      if (inc.minKernel !== undefined && inc.minKernel !== '' && !kernelAtLeast(ctx.kernel, inc.minKernel)) continue;
    }
    const exc = r.excludes;
    if (exc !== undefined) {
      if (exc.arches !== undefined && exc.arches.includes(arch)) continue;
      // any listed capability held excludes the rule
      if (exc.caps !== undefined && exc.caps.some((c) => caps.has(c))) continue;
      if (exc.minKernel !== undefined && exc.minKernel !== '' && kernelAtLeast(ctx.kernel, exc.minKernel)) continue;
    }
    const names = r.names !== undefined && r.names.length > 0 ? [...r.names] : r.name !== undefined ? [r.name] : [];
    if (names.length === 0) throw new InvalidArgumentError('seccomp profile: a syscall rule has no names');
    const rule: OciSeccompRule = { names, action: r.action };
    if (r.errnoRet !== undefined) rule.errnoRet = r.errnoRet;
    if (r.args !== undefined && r.args !== null && r.args.length > 0) {
      rule.args = r.args.map((a) => {
        const o: { index: number; value: number; valueTwo?: number; op: string } = { index: a.index, value: a.value, op: a.op };
        if (a.valueTwo !== undefined && a.valueTwo !== 0) o.valueTwo = a.valueTwo;
        return o;
      });
    }
    rules.push(rule);
  }
  out.syscalls = rules;
  return out;
}

/** Parses a profile given as JSON text (Docker's CLI sends the file's content in SecurityOpt). */
export function parseSeccompProfile(text: string): DockerSeccompProfile {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new InvalidArgumentError(`Decoding seccomp profile failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof v !== 'object' || v === null || typeof (v as { defaultAction?: unknown }).defaultAction !== 'string') {
    throw new InvalidArgumentError('Decoding seccomp profile failed: defaultAction is missing');
  }
  return v as DockerSeccompProfile;
}
