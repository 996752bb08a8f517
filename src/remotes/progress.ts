/**
 * Docker's progress messages (jsonmessage): the pre-rendered `progress`
 * bar and go-units' HumanSize, so clients that print the `progress` field
 * as-is (docker-py, compose) show what dockerd would.
 */

/** A message of a pull/push stream (REFERENCE §5.2). */
export interface ProgressMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  aux?: Record<string, unknown>;
}

export type ProgressSink = (msg: ProgressMessage) => void;

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** Go's `%.4g`: four significant digits, trailing zeros dropped. */
function g4(n: number): string {
  let s = n.toPrecision(4);
  if (s.includes('e')) return s;
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s;
}

/** go-units HumanSize: decimal units, 4 significant digits ("36.35kB", "1.982MB"). */
export function humanSize(bytes: number): string {
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < UNITS.length - 1) {
    size /= 1000;
    i++;
  }
  return `${g4(size)}${UNITS[i]!}`;
}

/** JSONProgress.String() for a non-terminal (width 200): bar and byte counts, no time left. */
export function progressBar(current: number, total: number): string {
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return humanSize(current).padStart(8);
  const pct = Math.min(50, Math.floor(Math.floor((current / total) * 100) / 2));
  const bar = `[${'='.repeat(pct)}>${' '.repeat(Math.max(0, 50 - pct))}] `;
  const cur = humanSize(current);
  const nums = current > total ? cur.padStart(8) : `${cur.padStart(8)}/${humanSize(total)}`;
  return bar + nums;
}

/** A progress update with both the structured and the rendered form. */
export function progressMessage(status: string, id: string, current: number, total: number): ProgressMessage {
  return { status, progressDetail: { current, total }, progress: progressBar(current, total), id };
}

/** A plain per-item status ("Pull complete"): dockerd sends an empty progressDetail. */
export function statusMessage(status: string, id: string): ProgressMessage {
  return { status, progressDetail: {}, id };
}

/**
 * Rate-limits one item's progress messages: at most one per `intervalMs`,
 * but always the first; `flush` sends the last value if it was held back.
 */
export class Throttle {
  private last = 0;
  private pending: (() => void) | undefined;
  constructor(private readonly intervalMs = 100, private readonly now: () => number = Date.now) {}
  emit(send: () => void): void {
    const t = this.now();
    if (t - this.last >= this.intervalMs) {
      this.last = t;
      this.pending = undefined;
      send();
    } else this.pending = send;
  }
  flush(): void {
    const p = this.pending;
    this.pending = undefined;
    p?.();
  }
}
