/**
 * Command-line parsing with cobra/pflag conventions, because users (and
 * scripts) type docker's flags at berth: `-aq`, `-f x`, `-fx`, `-f=x`,
 * `--filter=x`, `--all=false`, repeated flags, `--` to end flags.
 */

export type FlagType = 'bool' | 'string' | 'stringArray' | 'int';

export interface FlagSpec {
  readonly name: string;
  readonly short?: string;
  readonly type: FlagType;
  readonly usage: string;
  /** Shown in help as the value placeholder (pflag's type name: string, filter, list, int). */
  readonly varname?: string;
  readonly default?: string | boolean | number;
  readonly hidden?: boolean;
}

export interface ArgsRule {
  readonly min?: number;
  readonly max?: number;
}

export interface CommandSpec {
  /** cobra's `Use`, e.g. `images [OPTIONS] [REPOSITORY[:TAG]]`. */
  readonly use: string;
  readonly short: string;
  /** The "Aliases:" help line, e.g. `docker image ls, docker image list, docker images`. */
  readonly aliases?: string;
  readonly flags: readonly FlagSpec[];
  readonly args?: ArgsRule;
  /** false: the first positional argument ends flag parsing (docker tag, run, exec). */
  readonly interspersed?: boolean;
}

/** A usage error; `exitCode` 125 for flag errors, 1 for argument-count errors (as docker). */
export class UsageError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Raw flag error (pflag's wording); wrapped with usage text by the caller. */
export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

type FlagValue = boolean | string | number | string[];

export class ParsedArgs {
  constructor(
    private readonly values: ReadonlyMap<string, FlagValue>,
    readonly args: readonly string[],
    readonly help: boolean,
    private readonly specs: readonly FlagSpec[],
  ) {}

  private spec(name: string): FlagSpec | undefined {
    return this.specs.find((f) => f.name === name);
  }

  /** True when the flag was given on the command line (cobra's `Changed`). */
  changed(name: string): boolean {
    return this.values.has(name);
  }

  bool(name: string): boolean {
    const v = this.values.get(name);
    if (typeof v === 'boolean') return v;
    const d = this.spec(name)?.default;
    return typeof d === 'boolean' ? d : false;
  }

  string(name: string): string {
    const v = this.values.get(name);
    if (typeof v === 'string') return v;
    const d = this.spec(name)?.default;
    return typeof d === 'string' ? d : '';
  }

  int(name: string): number {
    const v = this.values.get(name);
    if (typeof v === 'number') return v;
    const d = this.spec(name)?.default;
    return typeof d === 'number' ? d : 0;
  }

  strings(name: string): string[] {
    const v = this.values.get(name);
    return Array.isArray(v) ? v : [];
  }
}

/** Go's strconv.ParseBool. */
export function parseBool(s: string): boolean | undefined {
  switch (s) {
    case '1': case 't': case 'T': case 'TRUE': case 'true': case 'True':
      return true;
    case '0': case 'f': case 'F': case 'FALSE': case 'false': case 'False':
      return false;
    default:
      return undefined;
  }
}

const HELP_FLAG: FlagSpec = { name: 'help', short: 'h', type: 'bool', usage: 'Print usage' };

function flagLabel(f: FlagSpec): string {
  return f.short !== undefined ? `-${f.short}, --${f.name}` : `--${f.name}`;
}

/**
 * Parses argv against a flag list. `stopAtFirstArg` mirrors
 * `SetInterspersed(false)` (and the root command, which stops at the
 * subcommand name).
 */
export function parseArgs(flags: readonly FlagSpec[], argv: readonly string[], stopAtFirstArg = false): ParsedArgs {
  const all = flags.some((f) => f.name === 'help') ? flags : [...flags, HELP_FLAG];
  const byName = new Map(all.map((f) => [f.name, f] as const));
  const byShort = new Map(all.filter((f) => f.short !== undefined).map((f) => [f.short as string, f] as const));
  const values = new Map<string, FlagValue>();
  const args: string[] = [];

  const set = (f: FlagSpec, raw: string | undefined, shown: string): void => {
    switch (f.type) {
      case 'bool': {
        const b = raw === undefined ? true : parseBool(raw);
        if (b === undefined) throw new FlagError(`invalid argument "${raw ?? ''}" for "${shown}" flag: strconv.ParseBool: parsing "${raw ?? ''}": invalid syntax`);
        values.set(f.name, b);
        return;
      }
      case 'string':
        values.set(f.name, raw ?? '');
        return;
      case 'int': {
        const s = raw ?? '';
        if (!/^[+-]?\d+$/.test(s)) throw new FlagError(`invalid argument "${s}" for "${shown}" flag: strconv.ParseInt: parsing "${s}": invalid syntax`);
        values.set(f.name, Number(s));
        return;
      }
      case 'stringArray': {
        const prev = values.get(f.name);
        const arr = Array.isArray(prev) ? prev : [];
        arr.push(raw ?? '');
        values.set(f.name, arr);
        return;
      }
    }
  };

  let i = 0;
  while (i < argv.length) {
    const a = argv[i] as string;
    i++;
    if (a === '--') {
      args.push(...argv.slice(i));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq === -1 ? a.slice(2) : a.slice(2, eq);
      const f = byName.get(name);
      if (f === undefined) throw new FlagError(`unknown flag: --${name}`);
      const shown = flagLabel(f);
      if (eq !== -1) set(f, a.slice(eq + 1), shown);
      else if (f.type === 'bool') set(f, undefined, shown);
      else {
        if (i >= argv.length) throw new FlagError(`flag needs an argument: --${name}`);
        set(f, argv[i] as string, shown);
        i++;
      }
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      // A cluster of shorthands: -aq, -fvalue, -f=value, -f value.
      let j = 1;
      while (j < a.length) {
        const c = a[j] as string;
        const f = byShort.get(c);
        if (f === undefined) throw new FlagError(`unknown shorthand flag: '${c}' in ${a}`);
        const shown = flagLabel(f);
        const rest = a.slice(j + 1);
        if (rest.startsWith('=')) {
          set(f, rest.slice(1), shown);
          break;
        }
        if (f.type === 'bool') {
          set(f, undefined, shown);
          j++;
          continue;
        }
        if (rest !== '') set(f, rest, shown);
        else {
          if (i >= argv.length) throw new FlagError(`flag needs an argument: '${c}' in -${c}`);
          set(f, argv[i] as string, shown);
          i++;
        }
        break;
      }
      continue;
    }
    args.push(a);
    if (stopAtFirstArg) {
      args.push(...argv.slice(i));
      break;
    }
  }
  const help = values.get('help') === true;
  return new ParsedArgs(values, args, help, all);
}

/** Checks the positional-argument count with docker's messages (exit 1). */
export function checkArgs(rule: ArgsRule | undefined, nargs: number, bin: string, path: string, useLine: string): void {
  if (rule === undefined) return;
  const { min, max } = rule;
  const plural = (n: number): string => (n === 1 ? 'argument' : 'arguments');
  const tail = `\n\nUsage:  ${useLine}\n\n`;
  if (max === 0 && nargs > 0) {
    throw new UsageError(`${bin}: '${path}' accepts no arguments${tail}Run '${path} --help' for more information`, 1);
  }
  if (min !== undefined && max !== undefined && min === max && nargs !== min) {
    throw new UsageError(`${bin}: '${path}' requires ${min} ${plural(min)}${tail}Run '${path} --help' for more information`, 1);
  }
  if (min !== undefined && max !== undefined && min !== max && (nargs < min || nargs > max)) {
    throw new UsageError(`${bin}: '${path}' requires at least ${min} and at most ${max} ${plural(max)}${tail}Run '${path} --help' for more information`, 1);
  }
  if (min !== undefined && max === undefined && nargs < min) {
    throw new UsageError(`${bin}: '${path}' requires at least ${min} ${plural(min)}${tail}See '${path} --help' for more information`, 1);
  }
  if (max !== undefined && min === undefined && nargs > max) {
    // "SRun" is docker 28's own typo, kept for byte-for-byte parity.
    throw new UsageError(`${bin}: '${path}' requires at most ${max} ${plural(max)}${tail}SRun '${path} --help' for more information`, 1);
  }
}

/** pflag's wrapN: split at the last blank before i (with slop). */
function wrapN(i: number, slop: number, s: string): [string, string] {
  if (i + slop > s.length) return [s, ''];
  const head = s.slice(0, i);
  const w = Math.max(head.lastIndexOf(' '), head.lastIndexOf('\t'), head.lastIndexOf('\n'));
  if (w <= 0) return [s, ''];
  const nl = head.lastIndexOf('\n');
  if (nl > 0 && nl < w) return [s.slice(0, nl), s.slice(nl + 1)];
  return [s.slice(0, w), s.slice(w + 1)];
}

/** pflag's wrap: usage text wrapped to width w, continuation lines indented by i. */
export function wrapUsage(i: number, w: number, s: string): string {
  if (w === 0) return s.split('\n').join(`\n${' '.repeat(i)}`);
  let width = w - i;
  let r = '';
  if (width < 24) {
    i = 16;
    width = w - i;
    r += `\n${' '.repeat(i)}`;
  }
  if (width < 24) return s.split('\n').join(r);
  const slop = 5;
  width -= slop;
  let [l, rest] = wrapN(width, slop, s);
  r += l.split('\n').join(`\n${' '.repeat(i)}`);
  while (rest !== '') {
    [l, rest] = wrapN(width, slop, rest);
    r += `\n${' '.repeat(i)}${l.split('\n').join(`\n${' '.repeat(i)}`)}`;
  }
  return r;
}

/** pflag's FlagUsagesWrapped layout: flags column, then usage aligned after the longest. */
export function formatFlagUsages(flags: readonly FlagSpec[], cols = 0): string {
  const rows: Array<[string, string]> = [];
  let maxlen = 0;
  const sorted = [...flags].filter((f) => f.hidden !== true).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const f of sorted) {
    let line = f.short !== undefined ? `  -${f.short}, --${f.name}` : `      --${f.name}`;
    const varname = f.varname ?? (f.type === 'bool' ? '' : f.type === 'stringArray' ? 'stringArray' : f.type);
    if (varname !== '') line += ` ${varname}`;
    let usage = f.usage;
    const d = f.default;
    // pflag quotes the default of plain string flags only (not of list/map/bytes… values).
    const quoted = typeof d === 'string' && f.type === 'string' && (f.varname === undefined || f.varname === 'string');
    if (d !== undefined && d !== false && d !== '' && d !== 0) usage += quoted ? ` (default ${JSON.stringify(d)})` : ` (default ${String(d)})`;
    maxlen = Math.max(maxlen, line.length + 1);
    rows.push([line, usage]);
  }
  let out = '';
  for (const [line, usage] of rows) {
    const pad = ' '.repeat(maxlen - line.length);
    // pflag prints line, spacing and usage with Fprintln: one space between each.
    const indented = wrapUsage(maxlen + 2, cols, usage);
    out += `${line} ${pad} ${indented}\n`;
  }
  return out;
}

/** The `--help` text of a command, laid out like cobra's docker template. */
export function formatHelp(bin: string, path: string, spec: CommandSpec, cols = 80): string {
  const words = spec.use.split(' ');
  const useLine = [path, ...words.slice(1)].join(' ');
  let s = `Usage:  ${useLine}\n\n${spec.short}\n`;
  if (spec.aliases !== undefined) s += `\nAliases:\n  ${spec.aliases.replace(/\bdocker\b/g, bin)}\n`;
  // A command that declares --help itself (run, create: -h is --hostname) lists it, as cobra does.
  const visible = spec.flags.filter((f) => f.hidden !== true);
  // docker wraps flag help to the terminal width minus one (80 columns off a terminal).
  if (visible.length > 0) s += `\nOptions:\n${formatFlagUsages(visible, cols - 1)}`;
  return s;
}
