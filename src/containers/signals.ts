/** Signal names and numbers as Docker accepts them (`KILL`, `SIGKILL`, `9`). */
import { constants } from 'node:os';
import { InvalidArgumentError } from '../base/errors.js';

const SIGNALS = constants.signals as Readonly<Record<string, number>>;

export function signalNumber(s: string): number {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n < 1 || n > 64) throw new InvalidArgumentError(`Invalid signal: ${s}`);
    return n;
  }
  const name = s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`;
  const n = SIGNALS[name];
  if (n === undefined) throw new InvalidArgumentError(`Invalid signal: ${s}`);
  return n;
}
