/**
 * `.dockerignore` (moby's patternmatcher): one pattern a line, `#` comments,
 * paths cleaned and relative to the context root, `*`, `?`, `[…]` within a
 * path component, `**` across components, `!` re-includes. The last pattern
 * that matches a path decides; a pattern matching a parent directory
 * matches everything below it. Also used for `COPY --exclude`.
 */
import { posix } from 'node:path';

interface Pattern {
  readonly re: RegExp;
  readonly exclusion: boolean;
  readonly text: string;
}

export function parseDockerignore(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const l = raw.trim();
    if (l === '' || l.startsWith('#')) continue;
    out.push(l);
  }
  return out;
}

function cleanPattern(p: string): string {
  const c = posix.normalize(p).replace(/^\/+/, '').replace(/\/+$/, '');
  return c === '.' ? '' : c;
}

function compile(p: string): RegExp {
  let re = '^';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') {
      if (p[i + 1] === '*') {
        i++;
        // `**/` matches zero or more directories; a trailing `**` anything.
        if (p[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = p.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        let cls = p.slice(i + 1, end);
        if (cls.startsWith('^') || cls.startsWith('!')) cls = '^' + cls.slice(1);
        re += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < p.length) {
      i++;
      re += p[i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(re + '$');
}

export class IgnoreMatcher {
  private readonly patterns: Pattern[] = [];
  readonly hasExclusions: boolean;

  constructor(lines: readonly string[]) {
    for (const l of lines) {
      let t = l.trim();
      const exclusion = t.startsWith('!');
      if (exclusion) t = t.slice(1).trim();
      const c = cleanPattern(t);
      if (c === '') continue;
      this.patterns.push({ re: compile(c), exclusion, text: c });
    }
    this.hasExclusions = this.patterns.some((p) => p.exclusion);
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** Whether `rel` (a path relative to the context root, `/`-separated) is ignored. */
  ignores(rel: string): boolean {
    const path = cleanPattern(rel);
    if (path === '') return false;
    const parents: string[] = [];
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) parents.push(parts.slice(0, i).join('/'));
    let matched = false;
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue;
      let m = p.re.test(path);
      if (!m) for (const par of parents) if (p.re.test(par)) { m = true; break; }
      if (m) matched = !p.exclusion;
    }
    return matched;
  }

  /**
   * Whether a whole directory can be skipped: it is ignored and no
   * exclusion pattern could re-include something below it.
   */
  skipsDir(rel: string): boolean {
    if (!this.ignores(rel)) return false;
    if (!this.hasExclusions) return true;
    const path = cleanPattern(rel);
    for (const p of this.patterns) {
      if (!p.exclusion) continue;
      // Conservative: an exclusion whose literal prefix could lie below this directory keeps it.
      const lit = p.text.split(/[*?[]/)[0]!;
      if (lit.startsWith(path + '/') || path.startsWith(lit.replace(/\/[^/]*$/, '')) || lit === '') return false;
    }
    return true;
  }
}
