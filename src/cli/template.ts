/**
 * A subset of Go's text/template, enough for docker's `--format`: fields and
 * method-like getters, variables, pipes, if/else if/else, range (with else
 * and `$i, $v :=`), with, trim markers, comments, and docker's template
 * functions plus Go's builtins (index, len, printf, print, println, eq, ne,
 * lt, le, gt, ge, and, or, not, slice).
 *
 * Data model: plain objects are Go maps (missing key → `<no value>`), class
 * instances are Go structs (missing field → an execution error), arrays are
 * slices, `null` is nil.
 */

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

// ---------------------------------------------------------------- lexer

type Tok =
  | { t: 'field'; names: string[] } // .A.B ('.' alone → names [])
  | { t: 'var'; name: string; names: string[] } // $x.A
  | { t: 'ident'; v: string }
  | { t: 'string'; v: string }
  | { t: 'number'; v: number }
  | { t: 'bool'; v: boolean }
  | { t: 'nil' }
  | { t: 'pipe' }
  | { t: 'lparen' }
  | { t: 'rparen'; names: string[] } // ")" possibly followed by .Field chain
  | { t: 'declare' } // :=
  | { t: 'assign' } // =
  | { t: 'comma' };

function unquoteGo(s: string, at: string): string {
  // Go interpreted string literal → JS string.
  let out = '';
  for (let i = 1; i < s.length - 1; i++) {
    const c = s[i] as string;
    if (c !== '\\') {
      out += c;
      continue;
    }
    i++;
    const e = s[i] as string;
    switch (e) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case '\\': out += '\\'; break;
      case '"': out += '"'; break;
      case "'": out += "'"; break;
      case 'a': out += '\x07'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'v': out += '\v'; break;
      case 'x': out += String.fromCharCode(parseInt(s.slice(i + 1, i + 3), 16)); i += 2; break;
      case 'u': out += String.fromCodePoint(parseInt(s.slice(i + 1, i + 5), 16)); i += 4; break;
      case 'U': out += String.fromCodePoint(parseInt(s.slice(i + 1, i + 9), 16)); i += 8; break;
      default: throw new TemplateError(`${at}: invalid syntax`);
    }
  }
  return out;
}

function lexAction(src: string, at: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const identRe = /[A-Za-z_][A-Za-z0-9_]*/y;
  const readChain = (): string[] => {
    const names: string[] = [];
    while (src[i] === '.' && /[A-Za-z_]/.test(src[i + 1] ?? '')) {
      i++;
      identRe.lastIndex = i;
      const m = identRe.exec(src);
      if (m === null) break;
      names.push(m[0]);
      i += m[0].length;
    }
    return names;
  };
  while (i < src.length) {
    const c = src[i] as string;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') { i++; continue; }
    if (c === '|') { toks.push({ t: 'pipe' }); i++; continue; }
    if (c === '(') { toks.push({ t: 'lparen' }); i++; continue; }
    if (c === ')') { i++; toks.push({ t: 'rparen', names: readChain() }); continue; }
    if (c === ',') { toks.push({ t: 'comma' }); i++; continue; }
    if (c === ':' && src[i + 1] === '=') { toks.push({ t: 'declare' }); i += 2; continue; }
    if (c === '=') { toks.push({ t: 'assign' }); i++; continue; }
    if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') { if (src[j] === '\\') j++; j++; }
      if (j >= src.length) throw new TemplateError(`${at}: unterminated quoted string`);
      toks.push({ t: 'string', v: unquoteGo(src.slice(i, j + 1), at) });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j === -1) throw new TemplateError(`${at}: unterminated raw quoted string`);
      toks.push({ t: 'string', v: src.slice(i + 1, j) });
      i = j + 1;
      continue;
    }
    if (c === "'") {
      const j = src.indexOf("'", i + 1);
      const inner = unquoteGo(`"${src.slice(i + 1, j)}"`, at);
      toks.push({ t: 'number', v: inner.codePointAt(0) ?? 0 });
      i = j + 1;
      continue;
    }
    if (c === '.') {
      if (/[A-Za-z_]/.test(src[i + 1] ?? '')) toks.push({ t: 'field', names: readChain() });
      else { i++; toks.push({ t: 'field', names: [] }); }
      continue;
    }
    if (c === '$') {
      i++;
      identRe.lastIndex = i;
      const m = identRe.exec(src);
      const name = m === null ? '' : m[0];
      i += name.length;
      toks.push({ t: 'var', name: `$${name}`, names: readChain() });
      continue;
    }
    const num = /[+-]?(0x[0-9a-fA-F]+|\d+(\.\d*)?([eE][+-]?\d+)?|\.\d+)/y;
    num.lastIndex = i;
    if (/[0-9+-]/.test(c)) {
      const m = num.exec(src);
      if (m !== null) { toks.push({ t: 'number', v: Number(m[0]) }); i += m[0].length; continue; }
    }
    identRe.lastIndex = i;
    const m = identRe.exec(src);
    if (m !== null) {
      const w = m[0];
      i += w.length;
      if (w === 'true' || w === 'false') toks.push({ t: 'bool', v: w === 'true' });
      else if (w === 'nil') toks.push({ t: 'nil' });
      else toks.push({ t: 'ident', v: w });
      continue;
    }
    throw new TemplateError(`${at}: unexpected "${c}" in command`);
  }
  return toks;
}

// ---------------------------------------------------------------- AST

type Arg =
  | { k: 'field'; names: string[] }
  | { k: 'var'; name: string; names: string[] }
  | { k: 'lit'; v: unknown }
  | { k: 'fn'; name: string }
  | { k: 'sub'; pipe: Pipeline; names: string[] };

interface Command { args: Arg[] }
interface Pipeline { decl: string[]; assign: boolean; cmds: Command[] }

type Node =
  | { n: 'text'; v: string }
  | { n: 'action'; pipe: Pipeline }
  | { n: 'if' | 'with'; pipe: Pipeline; list: Node[]; elseList: Node[] | undefined }
  | { n: 'range'; pipe: Pipeline; list: Node[]; elseList: Node[] | undefined };

interface RawPiece { text: string; action: string | undefined; line: number }

function splitTemplate(src: string): RawPiece[] {
  const pieces: RawPiece[] = [];
  let i = 0;
  let line = 1;
  let trimNext = false;
  while (i <= src.length) {
    const open = src.indexOf('{{', i);
    let text = open === -1 ? src.slice(i) : src.slice(i, open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    trimNext = false;
    if (open === -1) {
      pieces.push({ text, action: undefined, line });
      break;
    }
    let start = open + 2;
    if (src.startsWith('- ', start) || src.startsWith('-\t', start) || src.startsWith('-\n', start) || src.startsWith('-\r', start)) {
      text = text.replace(/[ \t\r\n]+$/, '');
      start += 1;
    }
    line += (src.slice(i, open).match(/\n/g) ?? []).length;
    // find the closing delimiter outside quotes
    let j = start;
    let q: string | undefined;
    for (; j < src.length; j++) {
      const c = src[j];
      if (q !== undefined) {
        if (c === '\\' && q === '"') { j++; continue; }
        if (c === q) q = undefined;
        continue;
      }
      if (c === '"' || c === '`' || c === "'") { q = c; continue; }
      if (c === '}' && src[j + 1] === '}') break;
    }
    if (j >= src.length) throw new TemplateError(`template: :${line}: unclosed action`);
    let end = j;
    if ((src[j - 1] === '-') && /[ \t\r\n]/.test(src[j - 2] ?? '')) {
      end = j - 1;
      trimNext = true;
    }
    const action = src.slice(start, end);
    pieces.push({ text, action, line });
    line += (action.match(/\n/g) ?? []).length;
    i = j + 2;
  }
  return pieces;
}

class Parser {
  private pos = 0;
  constructor(private readonly pieces: RawPiece[], private readonly funcs: ReadonlySet<string>) {}

  parse(): Node[] {
    const { list, end } = this.parseList();
    if (end !== undefined) throw new TemplateError(`template: :${end.line}: unexpected {{${end.word}}}`);
    return list;
  }

  private parseList(): { list: Node[]; end: { word: string; rest: Tok[]; line: number } | undefined } {
    const list: Node[] = [];
    while (this.pos < this.pieces.length) {
      const p = this.pieces[this.pos] as RawPiece;
      this.pos++;
      if (p.text !== '') list.push({ n: 'text', v: p.text });
      if (p.action === undefined) continue;
      const trimmed = p.action.trim();
      if (trimmed.startsWith('/*')) continue; // comment
      const at = `template: :${p.line}`;
      const toks = lexAction(p.action, at);
      const first = toks[0];
      if (first === undefined) throw new TemplateError(`${at}: missing value for command`);
      if (first.t === 'ident' && (first.v === 'end' || first.v === 'else')) {
        return { list, end: { word: first.v, rest: toks.slice(1), line: p.line } };
      }
      if (first.t === 'ident' && (first.v === 'if' || first.v === 'with' || first.v === 'range')) {
        list.push(this.parseControl(first.v, toks.slice(1), at));
        continue;
      }
      if (first.t === 'ident' && (first.v === 'define' || first.v === 'template' || first.v === 'block' || first.v === 'break' || first.v === 'continue')) {
        throw new TemplateError(`${at}: {{${first.v}}} is not supported`);
      }
      list.push({ n: 'action', pipe: this.parsePipeline(toks, at) });
    }
    return { list, end: undefined };
  }

  private parseControl(kind: 'if' | 'with' | 'range', toks: Tok[], at: string): Node {
    const pipe = this.parsePipeline(toks, at);
    const body = this.parseList();
    if (body.end === undefined) throw new TemplateError(`${at}: unexpected EOF`);
    let elseList: Node[] | undefined;
    if (body.end.word === 'else') {
      const rest = body.end.rest;
      const r0 = rest[0];
      if (r0 !== undefined && r0.t === 'ident' && (r0.v === 'if' || r0.v === 'with')) {
        // `else if`: a nested control that consumes the shared {{end}}.
        elseList = [this.parseControl(r0.v, rest.slice(1), at)];
      } else {
        const e = this.parseList();
        if (e.end === undefined || e.end.word !== 'end') throw new TemplateError(`${at}: expected end; found ${e.end?.word ?? 'EOF'}`);
        elseList = e.list;
      }
    }
    if (kind === 'range') return { n: 'range', pipe, list: body.list, elseList };
    return { n: kind, pipe, list: body.list, elseList };
  }

  private parsePipeline(toks: Tok[], at: string): Pipeline {
    let i = 0;
    const decl: string[] = [];
    let assign = false;
    // variable declarations: $x := ... or $i, $v := ...
    const t0 = toks[0];
    if (t0 !== undefined && t0.t === 'var' && t0.names.length === 0) {
      const t1 = toks[1];
      const t2 = toks[2];
      const t3 = toks[3];
      if (t1 !== undefined && (t1.t === 'declare' || t1.t === 'assign')) {
        decl.push(t0.name);
        assign = t1.t === 'assign';
        i = 2;
      } else if (t1 !== undefined && t1.t === 'comma' && t2 !== undefined && t2.t === 'var' && t3 !== undefined && t3.t === 'declare') {
        decl.push(t0.name, t2.name);
        i = 4;
      }
    }
    const { pipe, next } = this.parseCmds(toks, i, at, false);
    if (next !== toks.length) throw new TemplateError(`${at}: unexpected ")" in operand`);
    return { decl, assign, cmds: pipe };
  }

  private parseCmds(toks: Tok[], start: number, at: string, inParen: boolean): { pipe: Command[]; next: number } {
    const cmds: Command[] = [];
    let cur: Arg[] = [];
    let i = start;
    while (i < toks.length) {
      const t = toks[i] as Tok;
      if (t.t === 'rparen') {
        if (!inParen) throw new TemplateError(`${at}: unexpected ")" in operand`);
        break;
      }
      i++;
      switch (t.t) {
        case 'pipe':
          if (cur.length === 0) throw new TemplateError(`${at}: missing command`);
          cmds.push({ args: cur });
          cur = [];
          break;
        case 'field': cur.push({ k: 'field', names: t.names }); break;
        case 'var': cur.push({ k: 'var', name: t.name, names: t.names }); break;
        case 'string': case 'number': case 'bool': cur.push({ k: 'lit', v: t.v }); break;
        case 'nil': cur.push({ k: 'lit', v: null }); break;
        case 'ident':
          if (!this.funcs.has(t.v)) throw new TemplateError(`${at}: function "${t.v}" not defined`);
          cur.push({ k: 'fn', name: t.v });
          break;
        case 'lparen': {
          const sub = this.parseCmds(toks, i, at, true);
          const close = toks[sub.next];
          if (close === undefined || close.t !== 'rparen') throw new TemplateError(`${at}: unclosed left paren`);
          cur.push({ k: 'sub', pipe: { decl: [], assign: false, cmds: sub.pipe }, names: close.names });
          i = sub.next + 1;
          break;
        }
        default:
          throw new TemplateError(`${at}: unexpected token in command`);
      }
    }
    if (cur.length === 0) throw new TemplateError(`${at}: missing value for command`);
    cmds.push({ args: cur });
    return { pipe: cmds, next: i };
  }
}

// ---------------------------------------------------------------- values

/** A Go-ish "missing" value: a map lookup of an absent key. Prints `<no value>`. */
const NO_VALUE: unique symbol = Symbol('no value');
type Value = unknown;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function isStruct(v: unknown): v is object {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !isPlainObject(v) && !Buffer.isBuffer(v);
}

export function truthy(v: Value): boolean {
  if (v === NO_VALUE || v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return v !== '';
  if (Array.isArray(v)) return v.length > 0;
  if (isPlainObject(v)) return Object.keys(v).length > 0;
  return true;
}

function formatNumber(n: number): string {
  if (Number.isInteger(n)) return Math.abs(n) >= 1e21 ? n.toExponential().replace(/e\+?(-?)(\d)$/, 'e+$10$2') : n.toFixed(0);
  const s = String(n);
  // Go %v uses e-05 / e+21 style exponents
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

/** fmt.Sprint for one operand (%v). */
export function printValue(v: Value): string {
  if (v === NO_VALUE || v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `[${v.map(printInner).join(' ')}]`;
  if (isPlainObject(v)) {
    // The docker CLI formats typed Go values: a struct prints as {v1 v2 ...} in
    // field order, a map as map[k:v ...] sorted. From JSON the two look alike;
    // an object whose keys are all exported Go field names (capitalised) came
    // from a struct (the API emits fields in declaration order), any other
    // (labels, options, ports) from a map.
    const keys = Object.keys(v);
    if (keys.length > 0 && keys.every((k) => /^[A-Z][A-Za-z0-9]*$/.test(k))) return `{${keys.map((k) => printInner(v[k])).join(' ')}}`;
    return `map[${keys.sort().map((k) => `${k}:${printInner(v[k])}`).join(' ')}]`;
  }
  if (typeof v === 'object' && typeof (v as { toString?: unknown }).toString === 'function' && (v as { toString: () => string }).toString !== Object.prototype.toString) {
    return (v as { toString: () => string }).toString();
  }
  return `{${Object.values(v as object).map(printInner).join(' ')}}`;
}

function printInner(v: Value): string {
  if (v === null || v === undefined) return '<nil>';
  return printValue(v);
}

function quoteJson(s: string, escapeHtml: boolean): string {
  // Go escapes U+2028/U+2029 always, and <, >, & when HTML escaping is on.
  let q = JSON.stringify(s).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  if (escapeHtml) q = q.replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
  return q;
}

function encodeJson(v: unknown, escapeHtml: boolean): string {
  if (v === undefined || v === null || v === NO_VALUE) return 'null';
  if (typeof v === 'string') return quoteJson(v, escapeHtml);
  if (typeof v === 'number') return Number.isFinite(v) ? JSON.stringify(v) : 'null';
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map((x) => encodeJson(x, escapeHtml)).join(',')}]`;
  if (typeof v === 'object') {
    const tj = (v as { toJSON?: unknown }).toJSON;
    // A value with toJSON stands for a Go json.Marshaler built on json.Marshal, which escapes HTML.
    if (typeof tj === 'function') return encodeJson((tj as () => unknown).call(v), true);
    const parts: string[] = [];
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined) continue;
      parts.push(`${quoteJson(k, escapeHtml)}:${encodeJson(x, escapeHtml)}`);
    }
    return `{${parts.join(',')}}`;
  }
  return 'null';
}

/** Go's json.Encoder with SetEscapeHTML(false), trailing newline trimmed. */
export function goJson(v: Value): string {
  return encodeJson(v, false);
}

// ---------------------------------------------------------------- printf

/** Go's strconv.Quote: printf's %q, and the docker CLI's Command column. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

export function sprintf(format: string, args: readonly Value[]): string {
  let out = '';
  let ai = 0;
  for (let i = 0; i < format.length; i++) {
    const c = format[i] as string;
    if (c !== '%') { out += c; continue; }
    const m = /^([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/.exec(format.slice(i + 1));
    if (m === null) { out += '%!(NOVERB)'; continue; }
    i += m[0].length;
    const flags = m[1] ?? '';
    const width = m[2] === undefined ? undefined : Number(m[2]);
    const prec = m[3] === undefined ? undefined : Number(m[3]);
    const verb = m[4] as string;
    if (verb === '%') { out += '%'; continue; }
    if (ai >= args.length) { out += `%!${verb}(MISSING)`; continue; }
    const a = args[ai++];
    let s: string;
    switch (verb) {
      case 'v': case 's':
        s = printValue(a);
        if (prec !== undefined) s = [...s].slice(0, prec).join('');
        break;
      case 'q': s = goQuote(printValue(a)); break;
      case 'd': s = typeof a === 'number' ? Math.trunc(a).toString() : `%!d(${typeof a}=${printValue(a)})`; break;
      case 't': s = typeof a === 'boolean' ? String(a) : `%!t(${printValue(a)})`; break;
      case 'x': case 'X':
        s = typeof a === 'number' ? Math.trunc(a).toString(16) : Buffer.from(printValue(a)).toString('hex');
        if (verb === 'X') s = s.toUpperCase();
        break;
      case 'f': s = typeof a === 'number' ? a.toFixed(prec ?? 6) : `%!f(${printValue(a)})`; break;
      case 'g': s = typeof a === 'number' ? formatNumber(a) : `%!g(${printValue(a)})`; break;
      default: s = `%!${verb}(${printValue(a)})`;
    }
    if (width !== undefined && s.length < width) {
      if (flags.includes('-')) s = s.padEnd(width);
      else if (flags.includes('0') && /[dfgxX]/.test(verb)) s = s.startsWith('-') ? `-${s.slice(1).padStart(width - 1, '0')}` : s.padStart(width, '0');
      else s = s.padStart(width);
    }
    out += s;
  }
  if (ai < args.length) out += `%!(EXTRA ${args.slice(ai).map((a) => `${typeof a === 'string' ? 'string' : typeof a}=${printValue(a)}`).join(', ')})`;
  return out;
}

// ---------------------------------------------------------------- functions

export type TemplateFunc = (...args: Value[]) => Value;

function asString(v: Value, fn: string): string {
  if (typeof v === 'string') return v;
  throw new TemplateError(`error calling ${fn}: wrong type for value; expected string; got ${v === null ? 'nil' : typeof v}`);
}

function goTitle(s: string): string {
  // strings.Title: upper-case the first letter of each word.
  let prevLetter = false;
  let out = '';
  for (const ch of s) {
    const isLetter = /[\p{L}\p{N}_']/u.test(ch);
    out += !prevLetter && isLetter ? ch.toUpperCase() : ch;
    prevLetter = isLetter;
  }
  return out;
}

function basicEq(a: Value, b: Value): boolean {
  if (a === NO_VALUE) a = undefined;
  if (b === NO_VALUE) b = undefined;
  if ((a === null || a === undefined) && (b === null || b === undefined)) return true;
  return a === b;
}

function compare(a: Value, b: Value, name: string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new TemplateError(`error calling ${name}: incompatible types for comparison`);
}

function indexValue(v: Value, keys: readonly Value[]): Value {
  let cur = v;
  for (const k of keys) {
    if (Array.isArray(cur) || typeof cur === 'string') {
      if (typeof k !== 'number') throw new TemplateError('error calling index: cannot index slice/array with type string');
      if (k < 0 || k >= cur.length) throw new TemplateError(`error calling index: index out of range: ${k}`);
      cur = Array.isArray(cur) ? (cur[k] as Value) : cur.charCodeAt(k);
    } else if (cur === null || cur === undefined || cur === NO_VALUE) {
      throw new TemplateError('error calling index: index of untyped nil');
    } else if (typeof cur === 'object') {
      const key = String(k);
      cur = Object.prototype.hasOwnProperty.call(cur, key) ? (cur as Record<string, Value>)[key] : '';
    } else {
      throw new TemplateError(`error calling index: can't index item of type ${typeof cur}`);
    }
  }
  return cur;
}

function lengthOf(v: Value): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (isPlainObject(v)) return Object.keys(v).length;
  throw new TemplateError(`error calling len: len of type ${v === null ? 'nil' : typeof v}`);
}

function sprint(args: readonly Value[]): string {
  // fmt.Sprint: a space between operands when neither is a string.
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += printValue(a);
  });
  return out;
}

/** Go's builtins plus docker's templates.basicFunctions. */
export const DEFAULT_FUNCS: Readonly<Record<string, TemplateFunc>> = {
  json: (v) => goJson(v),
  split: (s, sep) => asString(s, 'split').split(asString(sep, 'split')),
  join: (l, sep) => {
    if (!Array.isArray(l)) throw new TemplateError(`error calling join: wrong type for value; expected []string; got ${typeof l}`);
    return l.map((x) => printValue(x)).join(asString(sep, 'join'));
  },
  title: (s) => goTitle(asString(s, 'title')),
  lower: (s) => asString(s, 'lower').toLowerCase(),
  upper: (s) => asString(s, 'upper').toUpperCase(),
  pad: (s, pre, suf) => {
    const str = asString(s, 'pad');
    return str === '' ? str : ' '.repeat(Number(pre)) + str + ' '.repeat(Number(suf));
  },
  truncate: (s, n) => {
    const str = asString(s, 'truncate');
    const len = Number(n);
    return Buffer.byteLength(str) < len ? str : Buffer.from(str).subarray(0, len).toString();
  },
  index: (v, ...keys) => indexValue(v, keys),
  len: (v) => lengthOf(v),
  slice: (v, ...idx) => {
    const a = Number(idx[0] ?? 0);
    if (typeof v === 'string') return v.slice(a, idx[1] === undefined ? undefined : Number(idx[1]));
    if (Array.isArray(v)) return v.slice(a, idx[1] === undefined ? undefined : Number(idx[1]));
    throw new TemplateError('error calling slice: can\'t slice item');
  },
  printf: (f, ...args) => sprintf(asString(f, 'printf'), args),
  print: (...args) => sprint(args),
  println: (...args) => `${args.map(printValue).join(' ')}\n`,
  eq: (a, ...bs) => bs.some((b) => basicEq(a, b)),
  ne: (a, b) => !basicEq(a, b),
  lt: (a, b) => compare(a, b, 'lt') < 0,
  le: (a, b) => compare(a, b, 'le') <= 0,
  gt: (a, b) => compare(a, b, 'gt') > 0,
  ge: (a, b) => compare(a, b, 'ge') >= 0,
  not: (a) => !truthy(a),
  // and/or are evaluated lazily in the executor; these are fallbacks.
  and: (...args) => args.find((a) => !truthy(a)) ?? args[args.length - 1],
  or: (...args) => args.find((a) => truthy(a)) ?? args[args.length - 1],
  urlquery: (...args) => encodeURIComponent(sprint(args)),
};

/** docker's templates.HeaderFunctions: formatting functions are identities on header strings. */
export const HEADER_FUNCS: Readonly<Record<string, TemplateFunc>> = {
  json: (v) => v,
  split: (v) => v,
  join: (v) => v,
  title: (v) => v,
  lower: (v) => v,
  upper: (v) => v,
  truncate: (v) => v,
};

// ---------------------------------------------------------------- executor

export interface ExecOptions {
  /** Extra or overriding functions. */
  readonly funcs?: Readonly<Record<string, TemplateFunc>>;
  /** `missingkey=error` (docker inspect's raw fallback). */
  readonly missingKeyError?: boolean;
}

class Scope {
  private readonly vars = new Map<string, Value>();
  constructor(private readonly parent: Scope | undefined) {}
  get(name: string): Value {
    if (this.vars.has(name)) return this.vars.get(name);
    if (this.parent !== undefined) return this.parent.get(name);
    throw new TemplateError(`undefined variable: ${name}`);
  }
  declare(name: string, v: Value): void {
    this.vars.set(name, v);
  }
  assign(name: string, v: Value): void {
    if (this.vars.has(name)) this.vars.set(name, v);
    else if (this.parent !== undefined) this.parent.assign(name, v);
    else throw new TemplateError(`undefined variable: ${name}`);
  }
}

function typeName(v: Value): string {
  if (typeof v === 'object' && v !== null) {
    const ctor = (v as { constructor?: { name?: string } }).constructor;
    if (ctor?.name !== undefined && ctor.name !== 'Object') return `*formatter.${ctor.name}`;
    return 'map[string]interface {}';
  }
  return typeof v;
}

export class Template {
  private constructor(private readonly nodes: Node[], private readonly funcs: Readonly<Record<string, TemplateFunc>>) {}

  /** Parses a template; unknown functions are parse errors, as in Go. */
  static parse(src: string, extraFuncs: Readonly<Record<string, TemplateFunc>> = {}): Template {
    const funcs = { ...DEFAULT_FUNCS, ...extraFuncs };
    const nodes = new Parser(splitTemplate(src), new Set(Object.keys(funcs))).parse();
    return new Template(nodes, funcs);
  }

  execute(data: Value, opts: ExecOptions = {}): string {
    const funcs = opts.funcs === undefined ? this.funcs : { ...this.funcs, ...opts.funcs };
    const ex = new Executor(funcs, opts.missingKeyError === true);
    const scope = new Scope(undefined);
    scope.declare('$', data);
    const out: string[] = [];
    ex.walk(this.nodes, data, scope, out);
    return out.join('');
  }
}

class Executor {
  constructor(private readonly funcs: Readonly<Record<string, TemplateFunc>>, private readonly missingKeyError: boolean) {}

  walk(nodes: readonly Node[], dot: Value, scope: Scope, out: string[]): void {
    for (const node of nodes) {
      switch (node.n) {
        case 'text':
          out.push(node.v);
          break;
        case 'action': {
          const v = this.pipeline(node.pipe, dot, scope);
          if (node.pipe.decl.length === 0) out.push(printValue(v));
          break;
        }
        case 'if':
        case 'with': {
          const inner = new Scope(scope);
          const v = this.pipeline(node.pipe, dot, inner);
          if (truthy(v)) this.walk(node.list, node.n === 'with' ? v : dot, inner, out);
          else if (node.elseList !== undefined) this.walk(node.elseList, dot, inner, out);
          break;
        }
        case 'range': {
          const inner = new Scope(scope);
          const decl = node.pipe.decl;
          const v = this.pipeline({ ...node.pipe, decl: [] }, dot, inner);
          let entries: Array<[Value, Value]> = [];
          if (Array.isArray(v)) entries = v.map((x, i) => [i, x]);
          else if (isPlainObject(v)) entries = Object.keys(v).sort().map((k) => [k, v[k]]);
          else if (typeof v === 'number') entries = Array.from({ length: Math.max(0, v) }, (_x, i) => [i, i]);
          else if (v !== null && v !== undefined && v !== NO_VALUE) throw new TemplateError(`range can't iterate over ${printValue(v)}`);
          if (entries.length === 0) {
            if (node.elseList !== undefined) this.walk(node.elseList, dot, inner, out);
            break;
          }
          for (const [k, x] of entries) {
            const iter = new Scope(inner);
            if (decl.length === 1) iter.declare(decl[0] as string, x);
            if (decl.length === 2) { iter.declare(decl[0] as string, k); iter.declare(decl[1] as string, x); }
            this.walk(node.list, x, iter, out);
          }
          break;
        }
      }
    }
  }

  pipeline(p: Pipeline, dot: Value, scope: Scope): Value {
    let v: Value = NO_VALUE;
    let first = true;
    for (const cmd of p.cmds) {
      v = this.command(cmd, dot, scope, first ? undefined : { v });
      first = false;
    }
    for (const name of p.decl) {
      if (p.assign) scope.assign(name, v);
      else scope.declare(name, v);
    }
    return v;
  }

  private command(cmd: Command, dot: Value, scope: Scope, piped: { v: Value } | undefined): Value {
    const [head, ...rest] = cmd.args;
    if (head === undefined) throw new TemplateError('empty command');
    if (head.k === 'fn') {
      const name = head.name;
      // and/or short-circuit like Go 1.18+.
      if (name === 'and' || name === 'or') {
        const all = [...rest.map((a) => () => this.arg(a, dot, scope)), ...(piped ? [() => piped.v] : [])];
        let last: Value = undefined;
        for (const get of all) {
          last = get();
          if (name === 'and' ? !truthy(last) : truthy(last)) return last;
        }
        return last;
      }
      const fn = this.funcs[name];
      if (fn === undefined) throw new TemplateError(`function "${name}" not defined`);
      const args = rest.map((a) => this.arg(a, dot, scope));
      if (piped) args.push(piped.v);
      try {
        return fn(...args);
      } catch (e) {
        if (e instanceof TemplateError) throw e;
        throw new TemplateError(`error calling ${name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    // A field chain followed by args is a method call: {{.Label "x"}}.
    if ((rest.length > 0 || piped) && (head.k === 'field' || head.k === 'var') && head.names.length > 0) {
      const base = head.k === 'field' ? dot : scope.get(head.name);
      const recv = this.chain(base, head.names.slice(0, -1));
      const mname = head.names[head.names.length - 1] as string;
      const m = typeof recv === 'object' && recv !== null ? (recv as Record<string, unknown>)[mname] : undefined;
      if (typeof m === 'function') {
        const args = rest.map((a) => this.arg(a, dot, scope));
        if (piped) args.push(piped.v);
        return (m as (...a: Value[]) => Value).apply(recv, args);
      }
    }
    if (rest.length > 0 || piped) throw new TemplateError(`can't give argument to non-function ${describeArg(head)}`);
    return this.arg(head, dot, scope);
  }

  private arg(a: Arg, dot: Value, scope: Scope): Value {
    switch (a.k) {
      case 'lit': return a.v;
      case 'field': return this.chain(dot, a.names);
      case 'var': return this.chain(scope.get(a.name), a.names);
      case 'sub': return this.chain(this.pipeline(a.pipe, dot, scope), a.names);
      case 'fn': {
        const fn = this.funcs[a.name];
        if (fn === undefined) throw new TemplateError(`function "${a.name}" not defined`);
        return fn();
      }
    }
  }

  private chain(base: Value, names: readonly string[]): Value {
    let cur = base;
    for (const name of names) cur = this.field(cur, name);
    return cur;
  }

  private field(v: Value, name: string): Value {
    if (v === null || v === undefined || v === NO_VALUE) {
      if (v === NO_VALUE || v === undefined) return NO_VALUE;
      throw new TemplateError(`nil pointer evaluating interface {}.${name}`);
    }
    if (isPlainObject(v)) {
      if (Object.prototype.hasOwnProperty.call(v, name)) return v[name];
      if (this.missingKeyError) throw new TemplateError(`map has no entry for key "${name}"`);
      return NO_VALUE;
    }
    if (isStruct(v)) {
      if (!(name in v)) throw new TemplateError(`can't evaluate field ${name} in type ${typeName(v)}`);
      const f = (v as Record<string, unknown>)[name];
      if (typeof f === 'function') return (f as () => Value).call(v);
      return f;
    }
    throw new TemplateError(`can't evaluate field ${name} in type ${typeName(v)}`);
  }
}

function describeArg(a: Arg): string {
  switch (a.k) {
    case 'field': return `.${a.names.join('.')}`;
    case 'var': return a.name + a.names.map((n) => `.${n}`).join('');
    case 'lit': return printValue(a.v);
    default: return 'value';
  }
}

/** Parse + execute, turning failures into docker's "template parsing error: …". */
export function renderTemplate(src: string, data: Value, opts: ExecOptions = {}): string {
  return Template.parse(src).execute(data, opts);
}
