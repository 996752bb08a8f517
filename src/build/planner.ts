/**
 * Stages and what the target needs. ARGs before the first FROM are global:
 * they may be used in FROM lines only, and inside a stage after an `ARG
 * NAME` that re-declares them. Platform ARGs (TARGETPLATFORM, BUILDARCH…)
 * are predefined in the global scope. Only the target stage (named with
 * `target`, else the last) and the stages it reaches through `FROM <stage>`,
 * `COPY --from=<stage>` and `RUN --mount=from=<stage>` are built.
 */
import { DockerfileSyntaxError, type ParsedDockerfile, type RawInstruction } from './dockerfile/parser.js';
import { flagsOf, validateInstruction } from './dockerfile/instructions.js';
import { expandWord, splitWordsRaw } from './dockerfile/shell.js';
import type { Platform } from '../oci/types.js';

export interface Stage {
  readonly index: number;
  /** Lower case, as Docker compares stage names. */
  readonly name?: string;
  readonly from: RawInstruction;
  /** The base after global-ARG expansion: an image reference, `scratch`, or a stage. */
  readonly base: { kind: 'image'; ref: string } | { kind: 'scratch' } | { kind: 'stage'; stage: number };
  readonly platform?: string;
  readonly body: readonly RawInstruction[];
}

export interface Plan {
  readonly stages: readonly Stage[];
  /** Stage indexes to build, in order; the last is the target. */
  readonly order: readonly number[];
  readonly globalArgs: ReadonlyMap<string, string>;
  /** Names of global ARGs declared with or without a default. */
  readonly globalDeclared: ReadonlySet<string>;
  readonly escape: string;
}

export function platformArgs(target: Platform, build: Platform): Map<string, string> {
  const fmt = (p: Platform): string => `${p.os}/${p.architecture}${p.variant !== undefined ? `/${p.variant}` : ''}`;
  return new Map([
    ['TARGETPLATFORM', fmt(target)],
    ['TARGETOS', target.os],
    ['TARGETARCH', target.architecture],
    ['TARGETVARIANT', target.variant ?? ''],
    ['BUILDPLATFORM', fmt(build)],
    ['BUILDOS', build.os],
    ['BUILDARCH', build.architecture],
    ['BUILDVARIANT', build.variant ?? ''],
  ]);
}

/** `ARG a=1 b` → [{name:'a', def:'1'}, {name:'b'}] (values unexpanded). */
export function parseArgDecls(ins: RawInstruction, escape: string): { name: string; def?: string }[] {
  return splitWordsRaw(ins.args, escape).map((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) return { name: w };
    return { name: w.slice(0, eq), def: w.slice(eq + 1) };
  });
}

export function plan(parsed: ParsedDockerfile, o: { buildArgs: ReadonlyMap<string, string>; target?: string; platformArgs: ReadonlyMap<string, string> }): Plan {
  const esc = parsed.escape;
  for (const ins of parsed.instructions) validateInstruction(ins, esc);
  const ins = parsed.instructions;
  let i = 0;
  const globalArgs = new Map<string, string>(o.platformArgs);
  const globalDeclared = new Set<string>();
  for (; i < ins.length && ins[i]!.cmd !== 'from'; i++) {
    const x = ins[i]!;
    if (x.cmd !== 'arg') throw new DockerfileSyntaxError(`${x.original.toUpperCase()} instruction before FROM: only ARG may precede the first FROM`, x.startLine);
    for (const d of parseArgDecls(x, esc)) {
      globalDeclared.add(d.name);
      const v = o.buildArgs.get(d.name) ?? (d.def !== undefined ? expandWord(d.def, globalArgs, esc) : undefined);
      if (v !== undefined) globalArgs.set(d.name, v);
    }
  }
  if (i >= ins.length) throw new DockerfileSyntaxError('file with no instructions', 0);
  const stages: Stage[] = [];
  const byName = new Map<string, number>();
  while (i < ins.length) {
    const from = ins[i]!;
    i++;
    const body: RawInstruction[] = [];
    while (i < ins.length && ins[i]!.cmd !== 'from') body.push(ins[i++]!);
    const words = splitWordsRaw(from.args, esc);
    const ref = expandWord(words[0]!, globalArgs, esc);
    if (ref === '') throw new DockerfileSyntaxError(`base name (${words[0]}) should not be blank`, from.startLine);
    const name = words.length === 3 ? words[2]!.toLowerCase() : undefined;
    const prev = byName.get(ref.toLowerCase());
    const base: Stage['base'] = prev !== undefined ? { kind: 'stage', stage: prev } : ref.toLowerCase() === 'scratch' ? { kind: 'scratch' } : { kind: 'image', ref };
    const platformFlag = flagsOf(from).get('platform');
    const st: Stage = {
      index: stages.length,
      ...(name !== undefined ? { name } : {}),
      from,
      base,
      ...(platformFlag !== undefined ? { platform: expandWord(platformFlag, globalArgs, esc) } : {}),
      body,
    };
    if (name !== undefined) {
      if (byName.has(name)) throw new DockerfileSyntaxError(`duplicate name ${name}`, from.startLine);
      byName.set(name, st.index);
    }
    stages.push(st);
  }
  let target = stages.length - 1;
  if (o.target !== undefined && o.target !== '') {
    const t = byName.get(o.target.toLowerCase());
    if (t === undefined) throw new DockerfileSyntaxError(`failed to reach build target ${o.target} in Dockerfile`, 0);
    target = t;
  }
  // Dependencies: a reference to a stage by name or index.
  const deps = (s: Stage): number[] => {
    const out: number[] = [];
    if (s.base.kind === 'stage') out.push(s.base.stage);
    const ref = (v: string | undefined): void => {
      if (v === undefined) return;
      const byN = byName.get(v.toLowerCase());
      if (byN !== undefined && byN < s.index) out.push(byN);
      else if (/^\d+$/.test(v) && Number(v) < s.index) out.push(Number(v));
    };
    for (const x of s.body) {
      if (x.cmd === 'copy') ref(flagsOf(x).get('from'));
      if (x.cmd === 'run') {
        for (const m of flagsOf(x).all('mount')) {
          const f = /(?:^|,)from=([^,]+)/.exec(m);
          if (f !== null) ref(f[1]);
        }
      }
    }
    return out;
  };
  const need = new Set<number>();
  const visit = (n: number): void => {
    if (need.has(n)) return;
    need.add(n);
    for (const d of deps(stages[n]!)) visit(d);
  };
  visit(target);
  const order = [...need].sort((a, b) => a - b);
  return { stages, order, globalArgs, globalDeclared, escape: esc };
}
