/**
 * The Dockerfile parser: text → directives + raw instructions (command,
 * flags, argument text, JSON form, heredocs, line numbers).
 *
 * Written here rather than taken from npm (`dockerfile-ast`): the grammar is
 * small (parser directives, line continuation with the escape character,
 * comments, `--flag`s, JSON vs shell form, heredocs), the package is not a
 * dependency of berth, and we need exact control over line numbers and
 * BuildKit's heredoc rules. Variable substitution lives in `shell.ts`, the
 * meaning of each instruction in `instructions.ts`.
 */

export class DockerfileSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(line > 0 ? `dockerfile parse error on line ${line}: ${message}` : `dockerfile parse error: ${message}`);
  }
}

export interface Heredoc {
  readonly name: string;
  readonly content: string;
  /** `<<-`: leading tabs were stripped. */
  readonly chomp: boolean;
  /** Quoted delimiter (`<<'EOF'`): no variable expansion inside. */
  readonly expand: boolean;
}

export interface RawInstruction {
  /** Lower case (`run`, `copy`). */
  readonly cmd: string;
  /** As written, for messages (`RUN`). */
  readonly original: string;
  /** `--name[=value]` flags that preceded the arguments, in order. */
  readonly flags: readonly string[];
  /** The argument text after the flags (continuations joined, heredoc bodies excluded). */
  readonly args: string;
  /** Set when the arguments are a JSON array of strings (exec form). */
  readonly json?: readonly string[];
  readonly heredocs: readonly Heredoc[];
  readonly startLine: number;
  readonly endLine: number;
  /** The instruction line as written (continuations joined), for `Step N/M : …`. */
  readonly source: string;
}

export interface ParsedDockerfile {
  readonly directives: ReadonlyMap<string, string>;
  readonly escape: string;
  readonly instructions: readonly RawInstruction[];
  readonly warnings: readonly string[];
  /** Lines of empty continuation lines (BuildKit's NoEmptyContinuation check). */
  readonly emptyContinuations: readonly number[];
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$/;
const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);
/** Instructions whose arguments may contain heredocs (BuildKit). */
const HEREDOC_CMDS = new Set(['run', 'copy', 'add']);
/** Instructions whose `--flags` are parsed off the front. */
const FLAG_CMDS = new Set(['from', 'run', 'copy', 'add', 'healthcheck', 'onbuild']);
const HEREDOC_RE = /<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_.-]*)\2/g;

export function parseDockerfile(text: string): ParsedDockerfile {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const directives = new Map<string, string>();
  const warnings: string[] = [];
  const emptyContinuations: number[] = [];
  let i = 0;
  // Parser directives: only at the very top, before any blank line, comment or instruction.
  for (; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i]!);
    if (m === null) break;
    const key = m[1]!.toLowerCase();
    if (!KNOWN_DIRECTIVES.has(key)) break;
    if (directives.has(key)) throw new DockerfileSyntaxError(`only one ${key} parser directive can be used`, i + 1);
    directives.set(key, m[2]!);
  }
  const escape = directives.get('escape') ?? '\\';
  if (escape !== '\\' && escape !== '`') throw new DockerfileSyntaxError(`invalid escape token '${escape}' does not match ^[\\\\\`]$`, 1);

  const out: RawInstruction[] = [];
  const isComment = (l: string): boolean => /^\s*#/.test(l);
  // A line continues when its last non-space character is the escape character.
  const continues = (l: string): { body: string; more: boolean } => {
    const t = l.replace(/\s+$/, '');
    if (t.endsWith(escape)) return { body: t.slice(0, -1), more: true };
    return { body: l, more: false };
  };

  while (i < lines.length) {
    const first = lines[i]!;
    if (first.trim() === '' || isComment(first)) {
      i++;
      continue;
    }
    const startLine = i + 1;
    let { body, more } = continues(first);
    let text = body;
    i++;
    while (more && i < lines.length) {
      const l = lines[i]!;
      i++;
      if (isComment(l)) continue;
      if (l.trim() === '') {
        warnings.push(`empty continuation line found in instruction starting at line ${startLine}`);
        emptyContinuations.push(i);
        continue;
      }
      ({ body, more } = continues(l));
      text += body;
    }
    const endLineBeforeHeredoc = i;
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(text);
    if (m === null) continue;
    const original = m[1]!;
    const cmd = original.toLowerCase();
    let rest = m[2]!.replace(/\s+$/, '');
    const flags: string[] = [];
    if (FLAG_CMDS.has(cmd)) {
      for (;;) {
        const f = /^--([A-Za-z][A-Za-z0-9-]*)(=((?:"[^"]*"|'[^']*'|\S)*))?(\s+|$)/.exec(rest);
        if (f === null) break;
        flags.push(f[0].trim().slice(2));
        rest = rest.slice(f[0].length);
      }
    }
    const heredocs: Heredoc[] = [];
    if (HEREDOC_CMDS.has(cmd) && !rest.startsWith('[')) {
      for (const h of rest.matchAll(HEREDOC_RE)) {
        const chomp = h[1] === '-';
        const name = h[3]!;
        const content: string[] = [];
        let closed = false;
        while (i < lines.length) {
          const raw = lines[i]!;
          i++;
          const l = chomp ? raw.replace(/^\t+/, '') : raw;
          if (l === name) {
            closed = true;
            break;
          }
          content.push(l);
        }
        if (!closed) throw new DockerfileSyntaxError(`unterminated heredoc ${name}`, startLine);
        heredocs.push({ name, content: content.length > 0 ? content.join('\n') + '\n' : '', chomp, expand: h[2] === '' });
      }
    }
    let json: string[] | undefined;
    if (rest.startsWith('[')) {
      try {
        const v: unknown = JSON.parse(rest);
        if (Array.isArray(v) && v.every((x): x is string => typeof x === 'string')) json = v;
      } catch {
        /* not JSON: shell form, as Docker */
      }
    }
    out.push({
      cmd,
      original,
      flags,
      args: rest,
      ...(json !== undefined ? { json } : {}),
      heredocs,
      startLine,
      source: text.trim(),
      endLine: heredocs.length > 0 ? i : endLineBeforeHeredoc,
    });
  }
  return { directives, escape, instructions: out, warnings, emptyContinuations };
}

/** Splits `--name=value` / `--name` into its parts. */
export function splitFlag(f: string): { name: string; value: string | undefined } {
  const eq = f.indexOf('=');
  if (eq < 0) return { name: f, value: undefined };
  let v = f.slice(eq + 1);
  if (v.length >= 2 && ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'")))) v = v.slice(1, -1);
  return { name: f.slice(0, eq), value: v };
}
