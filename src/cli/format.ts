/**
 * docker's formatter.Context: `table`/`json`/custom `--format` handling,
 * the header row rendered from the same template with header functions,
 * and tabwriter alignment (minwidth 10, padding 3, like the docker CLI).
 */
import { StatusError } from './errors.js';
import { tabwrite } from './tabwriter.js';
import { HEADER_FUNCS, Template, TemplateError } from './template.js';

export { StatusError };
export const TABLE_KEY = 'table';
export const JSON_KEY = 'json';
export const RAW_KEY = 'raw';
export const DEFAULT_QUIET_FORMAT = '{{.ID}}';
export const JSON_FORMAT = '{{json .}}';

export function isTableFormat(f: string): boolean {
  return f.startsWith(TABLE_KEY);
}


/** formatter.Context.preFormat: strip `table`, expand `json`, unescape `\t` `\n`. */
export function preFormat(format: string): string {
  let f = format;
  if (isTableFormat(f)) f = f.slice(TABLE_KEY.length);
  else if (f === JSON_KEY) f = JSON_FORMAT;
  f = f.replace(/^ +| +$/g, '');
  return f.replace(/\\t|\\n/g, (m) => (m === '\\t' ? '\t' : '\n'));
}

export function parseFormat(src: string, extra?: Parameters<typeof Template.parse>[1]): Template {
  try {
    return Template.parse(src, extra);
  } catch (e) {
    if (e instanceof TemplateError) throw new StatusError(`template parsing error: ${e.message}`, 1);
    throw e;
  }
}

export function execOrThrow(t: Template, data: unknown, opts?: Parameters<Template['execute']>[1]): string {
  try {
    return t.execute(data, opts);
  } catch (e) {
    if (e instanceof TemplateError) throw new StatusError(`template parsing error: template: :1: ${e.message}`, 1);
    throw e;
  }
}

/**
 * Renders rows with a docker format string. `header` maps field names to
 * column titles (docker's SubHeaderContext).
 */
export function renderRows(format: string, rows: readonly unknown[], header: Readonly<Record<string, string>>): string {
  const tmpl = parseFormat(preFormat(format));
  let body = '';
  for (const r of rows) body += `${execOrThrow(tmpl, r)}\n`;
  if (!isTableFormat(format)) return body;
  let head: string;
  try {
    head = tmpl.execute({ ...header, Label: headerLabel }, { funcs: HEADER_FUNCS });
  } catch {
    head = '';
  }
  return tabwrite(`${head}\n${body}`, 10, 3);
}

/** SubHeaderContext.Label: the header of `{{.Label "com.x.my-key"}}` is "my key". */
function headerLabel(name: unknown): string {
  const parts = String(name).split('.');
  return (parts[parts.length - 1] ?? '').replace(/[-_]/g, ' ');
}

/** stringid.TruncateID: drop the algorithm prefix, keep 12 characters. */
export function truncateId(id: string): string {
  const i = id.indexOf(':');
  const s = i === -1 ? id : id.slice(i + 1);
  return s.length > 12 ? s.slice(0, 12) : s;
}

/** formatter.Ellipsis: cut to a display width, ending in "…". */
export function ellipsis(s: string, max: number): string {
  if (max <= 0) return '';
  const rs = [...s];
  if (max === 1) return rs[0] ?? '';
  if (rs.length <= max) return s;
  return `${rs.slice(0, max - 1).join('')}…`;
}

/**
 * Go's json.Indent: re-indents raw JSON text without re-encoding it, so key
 * order, number spelling and escapes stay exactly as the daemon sent them.
 */
export function indentJson(raw: string, indent = '    ', prefix = ''): string {
  let out = '';
  let depth = 0;
  let inStr = false;
  let needIndent = false;
  const nl = (): string => `\n${prefix}${indent.repeat(depth)}`;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string;
    if (inStr) {
      out += c;
      if (c === '\\') { out += raw[i + 1] ?? ''; i++; }
      else if (c === '"') inStr = false;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue;
    if (needIndent && c !== ']' && c !== '}') {
      needIndent = false;
      depth++;
      out += nl();
    }
    switch (c) {
      case '"': inStr = true; out += c; break;
      case '{': case '[': out += c; needIndent = true; break;
      case '}': case ']':
        if (needIndent) { needIndent = false; out += c; } // empty: {} / []
        else { depth--; out += nl() + c; }
        break;
      case ',': out += c + nl(); break;
      case ':': out += ': '; break;
      default: out += c;
    }
  }
  return out;
}

/** Go json.Marshal of a formatter context: all fields, keys sorted. */
export function sortedJson(fields: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const k of Object.keys(fields).sort()) o[k] = fields[k];
  return o;
}
