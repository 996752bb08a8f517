/**
 * Build checks: BuildKit's Dockerfile lint rules (docs.docker.com/go/dockerfile/rule/…),
 * configured by the `# check=` parser directive or the BUILDKIT_DOCKERFILE_CHECK
 * build argument: `skip=Rule1,Rule2` or `skip=all`, `error=true` to fail the
 * build on any violation.
 *
 * Pure: a parsed Dockerfile in, violations out (rule, message in BuildKit's
 * words, line). The rules that need the build's evaluated state (UndefinedVar,
 * InvalidBaseImagePlatform) or .dockerignore (CopyIgnoredFile, experimental)
 * are not here.
 */
import type { ParsedDockerfile, RawInstruction } from './parser.js';
import { splitWordsRaw } from './shell.js';

export interface Violation {
  readonly rule: string;
  readonly message: string;
  readonly line: number;
  readonly url: string;
}

export interface CheckConfig {
  readonly skipAll: boolean;
  readonly skip: ReadonlySet<string>;
  readonly error: boolean;
}

const url = (rule: string): string => `https://docs.docker.com/go/dockerfile/rule/${rule.replace(/([a-z0-9])([A-Z])/g, '$1-$2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2').toLowerCase()}/`;

/** `skip=…;error=…` (the directive, then the build argument on top, as BuildKit). */
export function checkConfig(directive: string | undefined, buildArg: string | undefined): CheckConfig {
  let skipAll = false;
  const skip = new Set<string>();
  let error = false;
  for (const src of [directive, buildArg]) {
    if (src === undefined) continue;
    for (const part of src.split(';')) {
      const [k, v = ''] = part.split('=').map((x) => x.trim()) as [string, string?];
      if (k === 'skip') {
        for (const r of v.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
          if (r === 'all') skipAll = true;
          else skip.add(r);
        }
      } else if (k === 'error') error = v === 'true';
    }
  }
  return { skipAll, skip, error };
}

const PLATFORM_ARGS = new Set(['BUILDPLATFORM', 'BUILDOS', 'BUILDARCH', 'BUILDVARIANT', 'TARGETPLATFORM', 'TARGETOS', 'TARGETARCH', 'TARGETVARIANT']);
const RESERVED_STAGES = new Set(['scratch', 'context']);
// BuildKit's SecretsUsedInArgOrEnv: a name part that says secret, unless it also says public
const SECRET_PARTS = new Set(['apikey', 'auth', 'credential', 'credentials', 'key', 'password', 'pword', 'passwd', 'secret', 'token']);

function varsIn(s: string): string[] {
  return [...s.matchAll(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))/g)].map((m) => (m[1] ?? m[2]) as string);
}

function flagValue(ins: RawInstruction, name: string): string | undefined {
  for (const f of ins.flags) if (f.startsWith(`${name}=`)) return f.slice(name.length + 1).replace(/^(["'])(.*)\1$/, '$2');
  return undefined;
}

/** Names declared by an ARG or ENV (`a=1 b`, or the legacy `key value`). */
function declared(ins: RawInstruction, escape: string): { names: string[]; legacy: boolean } {
  const words = splitWordsRaw(ins.args, escape);
  if (ins.cmd === 'env' && words.length > 0 && !(words[0] as string).includes('=')) return { names: [words[0] as string], legacy: true };
  return { names: words.map((w) => w.split('=')[0] as string).filter((n) => n !== ''), legacy: false };
}

/** Every violation in the file, in line order. */
export function lintDockerfile(p: ParsedDockerfile): Violation[] {
  const out: Violation[] = [];
  const add = (rule: string, message: string, line: number): void => void out.push({ rule, message, line, url: url(rule) });
  const ins = p.instructions;

  for (const line of p.emptyContinuations) add('NoEmptyContinuation', 'Empty continuation line', line);

  // casing: the majority decides, ties go to upper case
  const upper = ins.filter((x) => x.original === x.original.toUpperCase()).length;
  const lower = ins.filter((x) => x.original === x.original.toLowerCase()).length;
  const majority = upper >= lower ? 'uppercase' : 'lowercase';
  for (const x of ins) {
    const ok = majority === 'uppercase' ? x.original === x.original.toUpperCase() : x.original === x.original.toLowerCase();
    if (!ok) add('ConsistentInstructionCasing', `Command '${x.original}' should match the case of the command majority (${majority})`, x.startLine);
  }

  const globalArgs = new Set<string>();
  const stages = new Set<string>();
  let stage: { workdirAbs: boolean; shell: boolean; seen: Map<string, RawInstruction[]> } | undefined;
  const closeStage = (): void => {
    if (stage === undefined) return;
    for (const [name, list] of stage.seen) {
      for (const x of list.slice(0, -1)) add('MultipleInstructionsDisallowed', `Multiple ${name} instructions should not be used in the same stage because only the last one will be used`, x.startLine);
    }
  };
  for (const x of ins) {
    if (x.cmd === 'from') {
      closeStage();
      stage = { workdirAbs: false, shell: false, seen: new Map() };
      const words = splitWordsRaw(x.args, p.escape);
      const image = words[0] ?? '';
      for (const v of varsIn(image)) {
        if (!globalArgs.has(v) && !PLATFORM_ARGS.has(v)) add('UndefinedArgInFrom', `FROM argument '${v}' is not declared`, x.startLine);
      }
      const platform = flagValue(x, 'platform');
      if (platform !== undefined) {
        if (/^\$\{?TARGETPLATFORM\}?$/.test(platform)) add('RedundantTargetPlatform', `Setting platform to predefined ${platform} in FROM is redundant as this is the default behavior`, x.startLine);
        else if (!platform.includes('$')) add('FromPlatformFlagConstDisallowed', `FROM --platform flag should not use constant value "${platform}"`, x.startLine);
      }
      if (words.length >= 3) {
        const as = words[1] as string;
        const name = words[2] as string;
        const fromUpper = x.original === x.original.toUpperCase();
        const asUpper = as === as.toUpperCase();
        if (as.toLowerCase() === 'as' && fromUpper !== asUpper) add('FromAsCasing', `'${as}' and '${x.original}' keywords' casing do not match`, x.startLine);
        if (name !== name.toLowerCase()) add('StageNameCasing', `Stage name '${name}' should be lowercase`, x.startLine);
        const lc = name.toLowerCase();
        if (RESERVED_STAGES.has(lc)) add('ReservedStageName', `Stage name should not use the same name as reserved stage "${lc}"`, x.startLine);
        if (stages.has(lc)) add('DuplicateStageName', `Duplicate stage name "${lc}", stage names should be unique`, x.startLine);
        stages.add(lc);
      }
      continue;
    }
    if (stage === undefined) {
      // before the first FROM only ARG may stand (the planner refuses the rest)
      if (x.cmd === 'arg') for (const n of declared(x, p.escape).names) globalArgs.add(n);
      continue;
    }
    switch (x.cmd) {
      case 'cmd':
      case 'entrypoint':
      case 'healthcheck': {
        if (x.cmd !== 'healthcheck' && x.json === undefined && !stage.shell) {
          add('JSONArgsRecommended', `JSON arguments recommended for ${x.original.toUpperCase()} to prevent unintended behavior related to OS signals`, x.startLine);
        }
        const name = x.original.toUpperCase();
        stage.seen.set(name, [...(stage.seen.get(name) ?? []), x]);
        break;
      }
      case 'shell':
        stage.shell = true;
        break;
      case 'maintainer':
        add('MaintainerDeprecated', 'Maintainer instruction is deprecated in favor of using label', x.startLine);
        break;
      case 'workdir': {
        const dir = x.args.trim();
        if (dir.startsWith('/') || dir.startsWith('$')) stage.workdirAbs = true;
        else if (!stage.workdirAbs) add('WorkdirRelativePath', `Relative workdir "${dir}" can have unexpected results if the base image changes`, x.startLine);
        break;
      }
      case 'env':
      case 'label': {
        const d = declared(x, p.escape);
        const legacy = x.cmd === 'env' ? d.legacy : !(splitWordsRaw(x.args, p.escape)[0] ?? '=').includes('=');
        if (legacy) add('LegacyKeyValueFormat', `"${x.original.toUpperCase()} key=value" should be used instead of legacy "${x.original.toUpperCase()} key value" format`, x.startLine);
        if (x.cmd === 'env') secrets(x, d.names);
        break;
      }
      case 'arg':
        secrets(x, declared(x, p.escape).names);
        break;
      case 'expose':
        for (const port of splitWordsRaw(x.args, p.escape)) {
          if (port.includes(':')) add('ExposeInvalidFormat', `EXPOSE instruction should not define an IP address or host-port mapping, found '${port}'`, x.startLine);
          const proto = port.split('/')[1];
          if (proto !== undefined && proto !== proto.toLowerCase()) add('ExposeProtoCasing', `Defined protocol '${port}' in EXPOSE instruction should be lowercase`, x.startLine);
        }
        break;
      default:
        break;
    }
  }
  closeStage();
  return out.sort((a, b) => a.line - b.line);

  function secrets(x: RawInstruction, names: readonly string[]): void {
    for (const n of names) {
      const parts = n.toLowerCase().split(/[^a-z0-9]+/);
      if (parts.some((t) => SECRET_PARTS.has(t)) && !parts.includes('public')) {
        add('SecretsUsedInArgOrEnv', `Do not use ARG or ENV instructions for sensitive data (${x.original.toUpperCase()} "${n}")`, x.startLine);
      }
    }
  }
}

/** The violations a configuration keeps. */
export function applyCheckConfig(v: readonly Violation[], c: CheckConfig): Violation[] {
  if (c.skipAll) return [];
  return v.filter((x) => !c.skip.has(x.rule));
}
