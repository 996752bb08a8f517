/**
 * Checks raw instructions against the Dockerfile reference: the command is
 * known, its flags are allowed, required arguments are present, forms are
 * legal. Errors name the line, as `docker build` does
 * ("dockerfile parse error on line 3: unknown instruction: FOO").
 * Meaning (what each does to the image) is the executor's business.
 */
import { DockerfileSyntaxError, splitFlag, type RawInstruction } from './parser.js';
import { splitWordsRaw } from './shell.js';

const FLAGS: Readonly<Record<string, readonly string[]>> = {
  from: ['platform'],
  run: ['mount', 'network', 'security'],
  copy: ['from', 'chown', 'chmod', 'link', 'parents', 'exclude'],
  add: ['chown', 'chmod', 'link', 'checksum', 'keep-git-dir', 'exclude', 'unpack'],
  healthcheck: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'],
  onbuild: [],
};

const KNOWN = new Set([
  'from', 'run', 'cmd', 'label', 'maintainer', 'expose', 'env', 'add', 'copy', 'entrypoint', 'volume', 'user', 'workdir', 'arg', 'onbuild', 'stopsignal',
  'healthcheck', 'shell',
]);

export interface Flags {
  get(name: string): string | undefined;
  all(name: string): string[];
  bool(name: string): boolean;
}

export function flagsOf(ins: RawInstruction): Flags {
  const parsed = ins.flags.map(splitFlag);
  return {
    get: (n) => parsed.filter((f) => f.name === n).at(-1)?.value,
    all: (n) => parsed.filter((f) => f.name === n).map((f) => f.value ?? ''),
    bool: (n) => {
      const f = parsed.filter((x) => x.name === n).at(-1);
      if (f === undefined) return false;
      return f.value === undefined || f.value === '' || f.value === 'true';
    },
  };
}

/** Throws DockerfileSyntaxError for the first problem of `ins`. */
export function validateInstruction(ins: RawInstruction, escape: string): void {
  const line = ins.startLine;
  if (!KNOWN.has(ins.cmd)) throw new DockerfileSyntaxError(`unknown instruction: ${ins.original.toUpperCase()}`, line);
  const allowed = FLAGS[ins.cmd] ?? [];
  for (const f of ins.flags) {
    const { name } = splitFlag(f);
    if (!allowed.includes(name)) throw new DockerfileSyntaxError(`unknown flag: ${name}`, line);
  }
  const up = ins.cmd.toUpperCase();
  const args = ins.args.trim();
  switch (ins.cmd) {
    case 'from': {
      const w = splitWordsRaw(args, escape);
      if (!(w.length === 1 || (w.length === 3 && w[1]!.toLowerCase() === 'as'))) throw new DockerfileSyntaxError('FROM requires either one or three arguments', line);
      if (w.length === 3 && !/^[a-z][a-z0-9-_.]*$/i.test(w[2]!)) throw new DockerfileSyntaxError(`invalid name for build stage: "${w[2]}", name can't start with a number or contain symbols`, line);
      break;
    }
    case 'run':
    case 'cmd':
    case 'entrypoint':
      if (ins.cmd === 'run' && args === '' && ins.heredocs.length === 0) throw new DockerfileSyntaxError('RUN requires at least one argument', line);
      break;
    case 'shell':
      if (ins.json === undefined || ins.json.length === 0) throw new DockerfileSyntaxError('SHELL requires the arguments to be in JSON form', line);
      break;
    case 'copy':
    case 'add': {
      const n = ins.json !== undefined ? ins.json.length : splitWordsRaw(args, escape).length;
      if (n < 2 && !(ins.heredocs.length > 0 && n >= 1)) throw new DockerfileSyntaxError(`${up} requires at least two arguments, but only one was provided. Destination could not be determined`, line);
      break;
    }
    case 'env':
    case 'label': {
      if (args === '') throw new DockerfileSyntaxError(`${up} requires at least one argument`, line);
      const w = splitWordsRaw(args, escape);
      if (!w[0]!.includes('=') && w.length < 2) throw new DockerfileSyntaxError(`${up} must have two arguments`, line);
      break;
    }
    case 'arg':
      if (args === '') throw new DockerfileSyntaxError('ARG requires at least one argument', line);
      break;
    case 'expose':
    case 'volume':
    case 'user':
    case 'workdir':
    case 'stopsignal':
    case 'maintainer':
    case 'onbuild':
      if (args === '') throw new DockerfileSyntaxError(`${up} requires at least one argument`, line);
      if (ins.cmd === 'onbuild') {
        const inner = args.split(/\s+/)[0]!.toLowerCase();
        if (inner === 'onbuild' || inner === 'from' || inner === 'maintainer') throw new DockerfileSyntaxError(`${inner.toUpperCase()} isn't allowed as an ONBUILD trigger`, line);
      }
      if ((ins.cmd === 'user' || ins.cmd === 'workdir' || ins.cmd === 'stopsignal') && splitWordsRaw(args, escape).length !== 1) {
        throw new DockerfileSyntaxError(`${up} requires exactly one argument`, line);
      }
      break;
    case 'healthcheck': {
      const first = args.split(/\s+/)[0]!.toUpperCase();
      if (first !== 'NONE' && first !== 'CMD') throw new DockerfileSyntaxError('Unknown type in HEALTHCHECK (try CMD)', line);
      break;
    }
  }
}

/** Go duration strings as HEALTHCHECK flags take them (`30s`, `1m30s`, `500ms`) → nanoseconds. */
export function parseDuration(s: string, line: number): number {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  const unit: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  let pos = 0;
  for (const m of s.matchAll(re)) {
    total += Number(m[1]) * unit[m[2]!]!;
    pos += m[0].length;
  }
  if (pos !== s.length || s === '') throw new DockerfileSyntaxError(`time: invalid duration "${s}"`, line);
  return Math.round(total);
}
