/**
 * `berth events`: GET /events[?since&until&filters], one line per message
 * (docker's pretty format, attributes sorted) or a --format template.
 */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { execOrThrow, parseFormat } from '../format.js';
import { asRecord, num, str } from '../narrow.js';
import type { Rec } from '../narrow.js';
import { FILTER_FLAG, filtersJson, INSPECT_FORMAT_HELP } from './common.js';
import { parseGoDuration } from './container-common.js';

export const spec: CommandSpec = {
  use: 'events [OPTIONS]',
  short: 'Get real time events from the server',
  aliases: 'docker system events, docker events',
  args: { max: 0 },
  flags: [
    FILTER_FLAG,
    { name: 'format', type: 'string', usage: INSPECT_FORMAT_HELP },
    { name: 'since', type: 'string', usage: 'Show all events created since timestamp' },
    { name: 'until', type: 'string', usage: 'Stream events until this timestamp' },
  ],
};

const TIME_RE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?)?(Z|z|[+-]\d{2}:\d{2})?$/;

/** api/types/time.GetTimestamp: a duration ago, an RFC 3339-ish time, or a unix timestamp as is. */
export function getTimestamp(value: string, nowMs: number): string {
  if (value !== '0') {
    try {
      const d = parseGoDuration(value);
      return String(Math.floor((nowMs - d / 1e6) / 1000));
    } catch {
      // not a duration
    }
  }
  const m = TIME_RE.exec(value);
  if (m !== null) {
    const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
    const nanos = Number(frac.padEnd(9, '0') || '0');
    let ms: number;
    if (zone === undefined) {
      ms = new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)).getTime();
    } else {
      ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
      if (zone !== 'Z' && zone !== 'z') {
        const sign = zone.startsWith('-') ? -1 : 1;
        ms -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60000;
      }
    }
    return `${Math.floor(ms / 1000)}.${String(nanos).padStart(9, '0')}`;
  }
  if (value.includes('-')) throw new Error(`parsing time ${JSON.stringify(value)}: cannot parse ${JSON.stringify(value)} as a time`);
  if (!/^\d+(\.\d*)?$/.test(value)) throw new Error(`failed to parse value as time or duration: ${JSON.stringify(value)}`);
  return value;
}

/** time.Format("2006-01-02T15:04:05.000000000Z07:00") in the local zone. */
export function rfc3339NanoFixed(timeNano: bigint): string {
  const ms = Number(timeNano / 1_000_000n);
  const nanos = String(timeNano % 1_000_000_000n).padStart(9, '0');
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const local = new Date(ms + off * 60000);
  const base = local.toISOString().slice(0, 19);
  if (off === 0) return `${base}.${nanos}Z`;
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${base}.${nanos}${off < 0 ? '-' : '+'}${p(Math.trunc(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
}

/** events.Message for templates: Go field names, JSON tag names for {{json .}}. */
class EventMessage {
  constructor(private readonly m: Rec) {}
  get Status(): string { return str(this.m, 'status'); }
  get ID(): string { return str(this.m, 'id'); }
  get From(): string { return str(this.m, 'from'); }
  get Type(): string { return str(this.m, 'Type'); }
  get Action(): string { return str(this.m, 'Action'); }
  get Actor(): { ID: string; Attributes: Record<string, string> } {
    const a = asRecord(this.m['Actor']);
    const attrs: Record<string, string> = {};
    for (const [k, v] of Object.entries(asRecord(a['Attributes']))) if (typeof v === 'string') attrs[k] = v;
    return { ID: str(a, 'ID'), Attributes: attrs };
  }
  get Scope(): string { return str(this.m, 'scope'); }
  get Time(): number { return num(this.m, 'time'); }
  get TimeNano(): number { return num(this.m, 'timeNano'); }
  toJSON(): Record<string, unknown> {
    const o: Record<string, unknown> = {};
    if (this.Status !== '') o['status'] = this.Status;
    if (this.ID !== '') o['id'] = this.ID;
    if (this.From !== '') o['from'] = this.From;
    o['Type'] = this.Type;
    o['Action'] = this.Action;
    o['Actor'] = this.Actor;
    o['scope'] = this.Scope;
    o['time'] = this.Time;
    o['timeNano'] = this.TimeNano;
    return o;
  }
}

function timeNanoOf(m: Rec, raw: string): bigint {
  // timeNano exceeds 2^53: take it from the raw text to keep every digit.
  const mt = /"timeNano"\s*:\s*(\d+)/.exec(raw);
  if (mt !== null) return BigInt(mt[1] as string);
  return BigInt(Math.trunc(num(m, 'time'))) * 1_000_000_000n;
}

export function prettyEvent(m: Rec, raw: string): string {
  let s = '';
  const tn = timeNanoOf(m, raw);
  if (tn !== 0n) s += `${rfc3339NanoFixed(tn)} `;
  const actor = asRecord(m['Actor']);
  s += `${str(m, 'Type')} ${str(m, 'Action')} ${str(actor, 'ID')}`;
  const attrs = asRecord(actor['Attributes']);
  const keys = Object.keys(attrs).sort();
  if (keys.length > 0) s += ` (${keys.map((k) => `${k}=${String(attrs[k])}`).join(', ')})`;
  return `${s}\n`;
}

export async function run(ctx: CommandContext): Promise<number> {
  const o = ctx.opts;
  let format = o.string('format');
  if (format === 'json') format = '{{json .}}';
  let tmpl: ReturnType<typeof parseFormat> | undefined;
  if (format !== '') {
    try {
      tmpl = parseFormat(format);
    } catch (e) {
      throw new StatusError(`Error parsing format: ${e instanceof Error ? e.message.replace(/^template parsing error: /, '') : String(e)}`, 64);
    }
  }
  const now = Date.now();
  const ts = (name: string): string | undefined => {
    const v = o.string(name);
    if (v === '') return undefined;
    try {
      return getTimestamp(v, now);
    } catch (e) {
      throw new StatusError(e instanceof Error ? e.message : String(e), 1);
    }
  };
  const query = { since: ts('since'), until: ts('until'), filters: filtersJson(o.strings('filter')) };
  const client = await ctx.client();
  const res = await client.stream('GET', '/events', { query });
  // Split lines ourselves so the raw text (for exact timeNano) is at hand.
  let pending = '';
  const handle = (line: string): void => {
    if (line.trim() === '') return;
    const m = asRecord(JSON.parse(line) as unknown);
    if (tmpl === undefined) ctx.out.write(prettyEvent(m, line));
    else ctx.out.write(`${execOrThrow(tmpl, new EventMessage(m))}\n`);
  };
  for await (const chunk of res) {
    pending += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    let nl = pending.indexOf('\n');
    while (nl !== -1) {
      handle(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
      nl = pending.indexOf('\n');
    }
  }
  handle(pending);
  return 0;
}

