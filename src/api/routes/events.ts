/**
 * `GET /events` (REFERENCE §5.4): the EventBus as a JSON stream, one object
 * + `\n` per chunk, headers flushed at once. `since` replays the bus's
 * history; an `until` in the past replays and ends; a future `until` ends
 * the stream then. Filters follow moby's daemon/events/filter.go.
 */
import { InvalidArgumentError } from '../../base/errors.js';
import type { EngineEvent, EventBus } from '../../events/bus.js';
import type { Route } from '../router.js';

/**
 * Unix seconds (`1795844934`, `1795844934.941548268`) or RFC 3339 (with up
 * to nanoseconds) → unix nanoseconds. Precision beyond a Number's is lost,
 * as it is in the bus's own timeNano.
 */
export function parseEventTime(s: string): number {
  const unix = /^(\d+)(?:\.(\d{1,9})\d*)?$/.exec(s);
  if (unix !== null) return Number(unix[1]) * 1e9 + Number((unix[2] ?? '').padEnd(9, '0'));
  const rfc = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9})\d*)?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (rfc !== null) {
    const ms = Date.parse(rfc[1]! + rfc[3]!);
    if (!Number.isNaN(ms)) return ms * 1e6 + Number((rfc[2] ?? '').padEnd(9, '0'));
  }
  throw new InvalidArgumentError(`failed to parse value as time or duration: "${s}"`);
}

type Filters = ReadonlyMap<string, readonly string[]>;

function exact(f: Filters, key: string, v: string): boolean {
  const vals = f.get(key);
  return vals === undefined || vals.length === 0 || vals.includes(v);
}

/** Go's Args.FuzzyMatch: a value matches exactly or as a prefix (short IDs). */
function fuzzy(f: Filters, key: string, v: string | undefined): boolean {
  const vals = f.get(key);
  if (vals === undefined || vals.length === 0) return true;
  if (v === undefined) return false;
  return vals.some((x) => v.startsWith(x));
}

function fuzzyName(f: Filters, key: string, e: EngineEvent): boolean {
  return fuzzy(f, key, e.Actor.ID) || fuzzy(f, key, e.Actor.Attributes['name']);
}

/** `busybox:latest` → `busybox`, `x@sha256:…` → `x`: the repository without tag or digest. */
function stripTag(ref: string): string {
  const at = ref.indexOf('@');
  const noDigest = at < 0 ? ref : ref.slice(0, at);
  const colon = noDigest.lastIndexOf(':');
  return colon > noDigest.lastIndexOf('/') ? noDigest.slice(0, colon) : noDigest;
}

function matchImage(f: Filters, e: EngineEvent): boolean {
  const vals = f.get('image');
  if (vals === undefined || vals.length === 0) return true;
  const name = e.Actor.Attributes[e.Type === 'image' ? 'name' : 'image'] ?? '';
  const id = e.Actor.ID;
  return [id, name, stripTag(id), stripTag(name)].some((x) => vals.includes(x));
}

/** Every `label` filter must hold: `k` present, or `k=v` equal. */
function matchLabels(f: Filters, attrs: Readonly<Record<string, string>>): boolean {
  const vals = f.get('label');
  if (vals === undefined || vals.length === 0) return true;
  for (const kv of vals) {
    const i = kv.indexOf('=');
    const k = i < 0 ? kv : kv.slice(0, i);
    const v = attrs[k];
    if (v === undefined) return false;
    if (i >= 0 && kv.slice(i + 1) !== v) return false;
  }
  return true;
}

/** Builds the predicate for a `filters` map; `action` is accepted as an alias of `event`. */
export function eventFilter(filters: Filters): (e: EngineEvent) => boolean {
  if (filters.size === 0) return () => true;
  const f = new Map(filters);
  const action = f.get('action');
  if (action !== undefined) f.set('event', [...(f.get('event') ?? []), ...action]);
  // moby #25798: `health_status`, `exec_create`, `exec_start` carry a suffix (`exec_start: sh -c …`).
  const eventFuzzy = (f.get('event') ?? []).some((x) => x === 'health_status' || x === 'exec_create' || x === 'exec_start');
  return (e) =>
    (eventFuzzy ? fuzzy(f, 'event', e.Action) : exact(f, 'event', e.Action)) &&
    exact(f, 'type', e.Type) &&
    exact(f, 'scope', e.scope) &&
    fuzzyName(f, 'daemon', e) &&
    fuzzyName(f, 'container', e) &&
    fuzzyName(f, 'plugin', e) &&
    fuzzyName(f, 'volume', e) &&
    fuzzyName(f, 'network', e) &&
    matchImage(f, e) &&
    matchLabels(f, e.Actor.Attributes);
}

export function eventRoutes(bus: EventBus): Route[] {
  return [
    {
      method: 'GET',
      path: '/events',
      handler: (req, res) => {
        const sinceStr = req.query.str('since');
        const untilStr = req.query.str('until');
        const since = sinceStr === undefined || sinceStr === '' ? undefined : parseEventTime(sinceStr);
        const until = untilStr === undefined || untilStr === '' ? undefined : parseEventTime(untilStr);
        if (since !== undefined && until !== undefined && since > until) {
          throw new InvalidArgumentError(`\`since\` time (${sinceStr}) cannot be after \`until\` time (${untilStr})`);
        }
        const match = eventFilter(req.query.filters());
        const out = res.jsonStream({ terminator: '\n' });

        // Replay and subscription happen in one synchronous step, so no event is missed or doubled.
        if (since !== undefined || until !== undefined) {
          for (const e of bus.since(since ?? 0)) {
            if (until !== undefined && e.timeNano > until) break;
            if (match(e)) out.write(e);
          }
        }
        const nowNs = Date.now() * 1e6;
        if (until !== undefined && until <= nowNs) {
          out.end();
          return;
        }
        return new Promise<void>((resolve) => {
          let timer: NodeJS.Timeout | undefined;
          const finish = (): void => {
            unsubscribe();
            if (timer !== undefined) clearTimeout(timer);
            req.signal.removeEventListener('abort', finish);
            out.end();
            resolve();
          };
          const unsubscribe = bus.subscribe((e) => {
            if (until !== undefined && e.timeNano > until) return finish();
            if (match(e)) out.write(e);
          });
          if (until !== undefined) timer = setTimeout(finish, Math.max(0, (until - nowNs) / 1e6));
          if (req.signal.aborted) finish();
          else req.signal.addEventListener('abort', finish);
        });
      },
    },
  ];
}
