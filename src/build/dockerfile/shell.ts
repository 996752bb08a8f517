/**
 * Variable substitution as the Dockerfile reference defines it (BuildKit's
 * shell lexer): `$var`, `${var}`, `${var:-word}`, `${var-word}`,
 * `${var:+word}`, `${var+word}`, `${var:?msg}`, `${var?msg}`, plus
 * `${var#pat}`, `${var%pat}` and `${var/a/b}` with literal patterns. Single
 * quotes are literal, double quotes expand, the escape character (`\` or
 * `` ` ``) quotes the next character; quotes are removed from the result.
 */

export type Env = ReadonlyMap<string, string>;

export class SubstitutionError extends Error {}

class Lexer {
  private pos = 0;
  /** Names looked up (for ARG consumption and cache keys). */
  readonly used = new Set<string>();
  constructor(
    private readonly s: string,
    private readonly env: Env,
    private readonly escape: string,
  ) {}

  private peek(): string | undefined {
    return this.s[this.pos];
  }

  /** Processes the whole string into words; `split` separates on unquoted whitespace. */
  words(split: boolean): string[] {
    const out: string[] = [];
    let cur = '';
    let started = false;
    while (this.pos < this.s.length) {
      const c = this.s[this.pos]!;
      if (split && /\s/.test(c)) {
        if (started) out.push(cur);
        cur = '';
        started = false;
        this.pos++;
        continue;
      }
      started = true;
      if (c === "'") {
        this.pos++;
        const end = this.s.indexOf("'", this.pos);
        if (end < 0) throw new SubstitutionError('unexpected end of statement while looking for matching single-quote');
        cur += this.s.slice(this.pos, end);
        this.pos = end + 1;
      } else if (c === '"') {
        this.pos++;
        cur += this.doubleQuoted();
      } else if (c === this.escape) {
        this.pos++;
        const n = this.peek();
        if (n === undefined) cur += c;
        else {
          cur += n;
          this.pos++;
        }
      } else if (c === '$') {
        cur += this.dollar();
      } else {
        cur += c;
        this.pos++;
      }
    }
    if (started || !split) out.push(cur);
    return out;
  }

  private doubleQuoted(): string {
    let out = '';
    for (;;) {
      const c = this.peek();
      if (c === undefined) throw new SubstitutionError('unexpected end of statement while looking for matching double-quote');
      if (c === '"') {
        this.pos++;
        return out;
      }
      if (c === '$') {
        out += this.dollar();
        continue;
      }
      if (c === this.escape) {
        const n = this.s[this.pos + 1];
        if (n === '"' || n === '$' || n === this.escape) {
          out += n;
          this.pos += 2;
          continue;
        }
      }
      out += c;
      this.pos++;
    }
  }

  private lookup(name: string): string | undefined {
    this.used.add(name);
    return this.env.get(name);
  }

  /** At `$`: returns the expansion and advances. */
  private dollar(): string {
    this.pos++; // $
    const c = this.peek();
    if (c === '{') {
      this.pos++;
      const name = this.name();
      if (name === '') throw new SubstitutionError(`missing ':' in substitution`);
      const op = this.peek();
      if (op === '}') {
        this.pos++;
        return this.lookup(name) ?? '';
      }
      let modifier = '';
      if (op === ':') {
        this.pos++;
        modifier = ':' + (this.peek() ?? '');
        this.pos++;
      } else if (op === '-' || op === '+' || op === '?' || op === '#' || op === '%' || op === '/') {
        modifier = op;
        this.pos++;
        if ((op === '#' || op === '%') && this.peek() === op) {
          modifier += op;
          this.pos++;
        }
      } else throw new SubstitutionError(`unsupported modifier (${op ?? 'EOF'}) in substitution`);
      const word = this.until('}');
      const val = this.lookup(name);
      switch (modifier) {
        case ':-':
          return val === undefined || val === '' ? word : val;
        case '-':
          return val === undefined ? word : val;
        case ':+':
          return val === undefined || val === '' ? '' : word;
        case '+':
          return val === undefined ? '' : word;
        case ':?':
          if (val === undefined || val === '') throw new SubstitutionError(`${name}: ${word === '' ? 'parameter null or not set' : word}`);
          return val;
        case '?':
          if (val === undefined) throw new SubstitutionError(`${name}: ${word === '' ? 'parameter not set' : word}`);
          return val;
        case '#':
        case '##':
          return val !== undefined && word !== '' && val.startsWith(word) ? val.slice(word.length) : (val ?? '');
        case '%':
        case '%%':
          return val !== undefined && word !== '' && val.endsWith(word) ? val.slice(0, val.length - word.length) : (val ?? '');
        case '/': {
          const slash = word.indexOf('/');
          const pat = slash < 0 ? word : word.slice(0, slash);
          const rep = slash < 0 ? '' : word.slice(slash + 1);
          return val === undefined || pat === '' ? (val ?? '') : val.replace(pat, rep);
        }
        default:
          throw new SubstitutionError(`unsupported modifier (${modifier}) in substitution`);
      }
    }
    const name = this.name();
    if (name === '') return '$';
    return this.lookup(name) ?? '';
  }

  private name(): string {
    const m = /^[A-Za-z0-9_]+/.exec(this.s.slice(this.pos));
    if (m === null) return '';
    // $1 style positional parameters: one digit only, as a shell.
    const n = /^[0-9]/.test(m[0]) ? m[0][0]! : m[0];
    this.pos += n.length;
    return n;
  }

  /** The word of a `${x:-word}` up to the closing brace, itself expanded (nested `${}` allowed). */
  private until(close: string): string {
    let out = '';
    for (;;) {
      const c = this.peek();
      if (c === undefined) throw new SubstitutionError(`missing '${close}' in substitution`);
      if (c === close) {
        this.pos++;
        return out;
      }
      if (c === '$') out += this.dollar();
      else if (c === this.escape && this.s[this.pos + 1] !== undefined) {
        out += this.s[this.pos + 1];
        this.pos += 2;
      } else if (c === "'" || c === '"') {
        // Quotes inside the word are kept literally here and removed by the caller's quoting rules.
        const q = c;
        this.pos++;
        const end = this.s.indexOf(q, this.pos);
        if (end < 0) throw new SubstitutionError(`unexpected end of statement while looking for matching ${q === '"' ? 'double' : 'single'}-quote`);
        out += this.s.slice(this.pos, end);
        this.pos = end + 1;
      } else {
        out += c;
        this.pos++;
      }
    }
  }
}

/** One word: quotes removed, variables expanded, whitespace kept. */
export function expandWord(s: string, env: Env, escape = '\\', used?: Set<string>): string {
  const l = new Lexer(s, env, escape);
  const w = l.words(false).join('');
  if (used !== undefined) for (const n of l.used) used.add(n);
  return w;
}

/** Words split on unquoted whitespace, each expanded. */
export function expandWords(s: string, env: Env, escape = '\\', used?: Set<string>): string[] {
  const l = new Lexer(s, env, escape);
  const w = l.words(true);
  if (used !== undefined) for (const n of l.used) used.add(n);
  return w;
}

/**
 * Splits on unquoted whitespace keeping quotes and escapes (Docker's
 * parseWords): `a="b c" d` → [`a="b c"`, `d`]. Used for `key=value` lists
 * (ENV, LABEL, ARG) before each value is expanded.
 */
export function splitWordsRaw(s: string, escape = '\\'): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote === undefined && /\s/.test(c)) {
      if (cur !== '') out.push(cur);
      cur = '';
      continue;
    }
    if (c === escape && i + 1 < s.length) {
      cur += c + s[i + 1];
      i++;
      continue;
    }
    if (quote === undefined && (c === '"' || c === "'")) quote = c;
    else if (quote === c) quote = undefined;
    cur += c;
  }
  if (cur !== '') out.push(cur);
  return out;
}
