/**
 * The daemon's event bus: every state change (image pull/tag/delete/load,
 * container create/start/die, network, volume) is published here once, in
 * the Engine API's event shape, and `/events` subscribers receive it. A
 * short history is kept so `--since` can replay recent events.
 */
export type EventType = 'container' | 'image' | 'volume' | 'network' | 'daemon' | 'plugin' | 'builder';

export interface EngineEvent {
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  // legacy fields, container/image events only (docker-compose reads them)
  status?: string;
  id?: string;
  from?: string;
}

export type Listener = (e: EngineEvent) => void;

export class EventBus {
  private readonly listeners = new Set<Listener>();
  private readonly history: EngineEvent[] = [];
  constructor(private readonly keep = 1000) {}

  publish(type: EventType, action: string, id: string, attributes: Record<string, string> = {}): EngineEvent {
    const nowNs = BigInt(Date.now()) * 1_000_000n + process.hrtime.bigint() % 1_000_000n;
    const e: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(nowNs / 1_000_000_000n),
      timeNano: Number(nowNs),
    };
    if (type === 'container' || type === 'image') {
      // Docker puts the legacy fields first; order matters to nobody but diffs.
      const legacy: EngineEvent = { status: action, id, ...(attributes['image'] !== undefined ? { from: attributes['image'] } : {}), ...e };
      return this.emit(legacy);
    }
    return this.emit(e);
  }

  private emit(e: EngineEvent): EngineEvent {
    this.history.push(e);
    if (this.history.length > this.keep) this.history.splice(0, this.history.length - this.keep);
    for (const l of this.listeners) l(e);
    return e;
  }

  /** Events since a time (unix nanoseconds), for `--since`. */
  since(timeNano: number): EngineEvent[] {
    return this.history.filter((e) => e.timeNano >= timeNano);
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}
