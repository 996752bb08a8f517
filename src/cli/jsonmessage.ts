/**
 * jsonmessage.DisplayJSONMessagesStream: renders pull/push/load/import
 * progress. On a terminal each `id` keeps its own line, rewritten in place
 * with cursor movements; otherwise progress updates are dropped and
 * statuses print as plain lines. An `errorDetail` ends the stream with its
 * message and code.
 */
import { StreamError } from '../client/errors.js';
import { readJsonLines } from '../client/jsonstream.js';
import type { Output } from './context.js';
import { humanSize } from './units.js';

interface Progress { current: number; total: number; start: number; hidecounts: boolean; units: string }

export interface JsonMessage {
  stream?: string;
  status?: string;
  progressDetail?: Progress;
  progress?: string;
  id?: string;
  from?: string;
  time?: number;
  timeNano?: number;
  errorDetail?: { code: number; message: string };
  error?: string;
  aux?: unknown;
}

function str(o: Record<string, unknown>, k: string): string | undefined {
  const v = o[k];
  return typeof v === 'string' && v !== '' ? v : undefined;
}
function num(o: Record<string, unknown>, k: string): number {
  const v = o[k];
  return typeof v === 'number' ? v : 0;
}

/** Narrows one decoded stream object (Go ignores fields of the wrong type the same way, more or less). */
export function toJsonMessage(v: unknown): JsonMessage {
  const m: JsonMessage = {};
  if (typeof v !== 'object' || v === null) return m;
  const o = v as Record<string, unknown>;
  const s = str(o, 'stream'); if (s !== undefined) m.stream = s;
  const st = str(o, 'status'); if (st !== undefined) m.status = st;
  const p = str(o, 'progress'); if (p !== undefined) m.progress = p;
  const id = str(o, 'id'); if (id !== undefined) m.id = id;
  const from = str(o, 'from'); if (from !== undefined) m.from = from;
  if (typeof o['time'] === 'number') m.time = o['time'];
  if (typeof o['timeNano'] === 'number') m.timeNano = o['timeNano'];
  const pd = o['progressDetail'];
  if (typeof pd === 'object' && pd !== null) {
    const q = pd as Record<string, unknown>;
    m.progressDetail = { current: num(q, 'current'), total: num(q, 'total'), start: num(q, 'start'), hidecounts: q['hidecounts'] === true, units: str(q, 'units') ?? '' };
  }
  const ed = o['errorDetail'];
  if (typeof ed === 'object' && ed !== null) {
    const q = ed as Record<string, unknown>;
    m.errorDetail = { code: num(q, 'code'), message: str(q, 'message') ?? '' };
  }
  const e = str(o, 'error'); if (e !== undefined) m.error = e;
  if (o['aux'] !== undefined && o['aux'] !== null) m.aux = o['aux'];
  return m;
}

/** JSONProgress.String(). */
export function progressString(p: Progress, width: number, nowMs: number = Date.now()): string {
  if (p.current <= 0 && p.total <= 0) return '';
  if (p.total <= 0) return p.units === '' ? humanSize(p.current).padStart(8) : `${p.current} ${p.units}`;
  let percentage = Math.trunc((p.current / p.total) * 100) / 2;
  percentage = Math.trunc(percentage);
  if (percentage > 50) percentage = 50;
  let pbBox = '';
  if (width > 110) pbBox = `[${'='.repeat(percentage)}>${' '.repeat(Math.max(0, 50 - percentage))}] `;
  let numbersBox = '';
  if (p.hidecounts) numbersBox = '';
  else if (p.units === '') {
    const cur = humanSize(p.current);
    numbersBox = p.current > p.total ? cur.padStart(8) : `${cur.padStart(8)}/${humanSize(p.total)}`;
  } else {
    numbersBox = p.current > p.total ? `${p.current} ${p.units}` : `${p.current}/${p.total} ${p.units}`;
  }
  let timeLeft = '';
  if (width > 50 && p.current > 0 && p.start > 0 && percentage < 50) {
    const fromStart = nowMs - p.start * 1000;
    const leftMs = ((p.total - p.current) * fromStart) / p.current;
    timeLeft = ` ${goDuration(Math.round(leftMs / 1000))}`;
  }
  return pbBox + numbersBox + timeLeft;
}

function goDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  const h = Math.trunc(seconds / 3600);
  const m = Math.trunc((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${s}s`;
}

function rfc3339NanoFixed(ms: number, nanosRem: number): string {
  const d = new Date(ms);
  const base = d.toISOString().slice(0, 19);
  const frac = String(d.getUTCMilliseconds() * 1_000_000 + nanosRem).padStart(9, '0');
  return `${base}.${frac}Z`;
}

const ESC = '\x1b[';

function display(jm: JsonMessage, out: Output, isTerminal: boolean): void {
  if (jm.errorDetail !== undefined) throw new StreamError(jm.errorDetail.message, jm.errorDetail.code || 1);
  let endl = '';
  const width = out.columns > 0 ? out.columns : 200;
  if (isTerminal && jm.stream === undefined && jm.progressDetail !== undefined) {
    out.write(`${ESC}2K\r`);
    endl = '\r';
  } else if (jm.progressDetail !== undefined && progressString(jm.progressDetail, width) !== '') {
    return; // no progress bars off a terminal
  }
  let s = '';
  if (jm.timeNano !== undefined && jm.timeNano !== 0) {
    const ms = Math.floor(jm.timeNano / 1e6);
    s += `${rfc3339NanoFixed(ms, 0)} `;
  } else if (jm.time !== undefined && jm.time !== 0) s += `${rfc3339NanoFixed(jm.time * 1000, 0)} `;
  if (jm.id !== undefined) s += `${jm.id}: `;
  if (jm.from !== undefined) s += `(from ${jm.from}) `;
  if (jm.progressDetail !== undefined && isTerminal) s += `${jm.status ?? ''} ${progressString(jm.progressDetail, width)}${endl}`;
  else if (jm.progress !== undefined) s += `${jm.status ?? ''} ${jm.progress}${endl}`;
  else if (jm.stream !== undefined) s += `${jm.stream}${endl}`;
  else s += `${jm.status ?? ''}${endl}\n`;
  out.write(s);
}

/**
 * Reads a JSON message stream to the end, displaying it. Returns the aux
 * payloads (push digests, build IDs) for callers that want them.
 */
export async function displayJsonMessages(
  source: AsyncIterable<Buffer | string>,
  out: Output,
  onAux?: (aux: unknown) => void,
): Promise<void> {
  const isTerminal = out.isTTY;
  let ids = new Map<string, number>();
  for await (const raw of readJsonLines(source)) {
    const jm = toJsonMessage(raw);
    if (jm.aux !== undefined) {
      onAux?.(jm.aux);
      continue;
    }
    let diff = 0;
    if (jm.id !== undefined && (jm.progressDetail !== undefined || jm.progress !== undefined)) {
      let line = ids.get(jm.id);
      if (line === undefined) {
        line = ids.size;
        ids.set(jm.id, line);
        if (isTerminal) out.write('\n');
      }
      diff = ids.size - line;
      if (isTerminal && diff > 0) out.write(`${ESC}${diff}A`);
    } else {
      ids = new Map();
    }
    try {
      display(jm, out, isTerminal);
    } finally {
      if (jm.id !== undefined && isTerminal && diff > 0) out.write(`${ESC}${diff}B`);
    }
  }
}
