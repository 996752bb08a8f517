/** Narrowing helpers for API replies, which arrive as `unknown`. */

export type Rec = Record<string, unknown>;

export function isRecord(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function asRecord(v: unknown): Rec {
  return isRecord(v) ? v : {};
}

export function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function str(o: Rec, k: string): string {
  const v = o[k];
  return typeof v === 'string' ? v : '';
}

export function num(o: Rec, k: string, dflt = 0): number {
  const v = o[k];
  return typeof v === 'number' ? v : dflt;
}

export function bool(o: Rec, k: string): boolean {
  return o[k] === true;
}

export function strings(o: Rec, k: string): string[] {
  return asArray(o[k]).filter((x): x is string => typeof x === 'string');
}
