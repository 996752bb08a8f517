/**
 * Logging in dockerd's logfmt shape on stderr:
 * time="2026-11-28T07:00:00.000Z" level=info msg="..." key=value
 * A Logger is passed down explicitly (through Ctx or constructors); there is
 * no global logger.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  with(fields: Record<string, unknown>): Logger;
}

function fmt(v: unknown): string {
  const s = v instanceof Error ? v.message : typeof v === 'string' ? v : JSON.stringify(v) ?? 'undefined';
  return /[\s"=]/.test(s) || s === '' ? JSON.stringify(s) : s;
}

export function createLogger(
  level: LogLevel = 'info',
  write: (line: string) => void = (l) => process.stderr.write(l),
  base: Record<string, unknown> = {},
): Logger {
  const min = ORDER[level];
  const emit = (lv: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (ORDER[lv] < min) return;
    let line = `time="${new Date().toISOString()}" level=${lv} msg=${JSON.stringify(msg)}`;
    for (const [k, v] of Object.entries({ ...base, ...fields })) line += ` ${k}=${fmt(v)}`;
    write(line + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    with: (f) => createLogger(level, write, { ...base, ...f }),
  };
}

/** A logger that drops everything: for tests and quiet tools. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  with: () => silentLogger,
};
