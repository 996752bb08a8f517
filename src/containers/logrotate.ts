/**
 * Docker's json-file rotation (`--log-opt max-size=N --log-opt max-file=M`)
 * for conmon's k8s-file logs.
 *
 * conmon's own `--log-size-max` replaces the file instead of rotating it,
 * which is exactly max-file=1 (the service passes it in that case). For
 * max-file > 1 conmon runs without a limit and this watcher rotates:
 * when the log reaches max-size it renames log → log.1 → … (dropping the
 * oldest, see rotateLogFiles) and asks conmon to reopen, so conmon starts a
 * fresh file. Until conmon reopens it keeps appending to log.1, which is
 * still older than everything in the new file, so readLogs' order holds.
 * Sizes are checked on an interval, so a file may pass max-size by what the
 * container writes in one interval.
 */
import { stat } from 'node:fs/promises';
import { InvalidArgumentError, errnoCode, errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { Conmon } from '../runtime/conmon.js';
import { rotateLogFiles } from '../runtime/logs.js';
import type { ContainerService } from './service.js';

export interface LogRotatorDeps {
  readonly containers: Pick<ContainerService, 'get' | 'logPath' | 'bundle'>;
  readonly conmon: Pick<Conmon, 'reopenLog'>;
  readonly log: Logger;
  /** How often sizes are checked (default 250 ms). */
  readonly intervalMs?: number;
}

/** Docker's max-size: a number with an optional k/m/g unit (go-units RAMInBytes). */
export function parseLogSize(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(v.trim());
  if (m === null) throw new InvalidArgumentError(`invalid max-size: ${v}`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * mult);
}

export function parseMaxFile(v: string | undefined): number {
  if (v === undefined || v === '') return 1;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('max-file cannot be less than 1');
  return Number(v);
}

/** Whether berth (not conmon) rotates this container's log. */
export function rotatesItself(config: Record<string, string>): boolean {
  return parseLogSize(config['max-size']) !== undefined && parseMaxFile(config['max-file']) > 1;
}

interface Watch {
  timer: NodeJS.Timeout;
  busy: boolean;
}

export class LogRotator {
  private readonly watches = new Map<string, Watch>();

  constructor(private readonly d: LogRotatorDeps) {}

  /** After a (re)start: watches the log if the container asked for rotation with max-file > 1. */
  start(id: string): void {
    this.stop(id);
    let maxSize: number | undefined;
    let maxFile: number;
    try {
      const cfg = this.d.containers.get(id).rec.HostConfig.LogConfig.Config;
      maxSize = parseLogSize(cfg['max-size']);
      maxFile = parseMaxFile(cfg['max-file']);
    } catch (e) {
      this.d.log.warn('log rotation disabled: bad log options', { id, err: errorMessage(e) });
      return;
    }
    if (maxSize === undefined || maxFile <= 1) return;
    const limit = maxSize;
    const path = this.d.containers.logPath(id);
    const bundle = this.d.containers.bundle(id);
    const w: Watch = {
      busy: false,
      timer: setInterval(() => {
        if (w.busy) return;
        w.busy = true;
        void this.check(id, path, bundle, limit, maxFile).finally(() => {
          w.busy = false;
        });
      }, this.d.intervalMs ?? 250),
    };
    w.timer.unref();
    this.watches.set(id, w);
  }

  /** At exit or removal. */
  stop(id: string): void {
    const w = this.watches.get(id);
    if (w === undefined) return;
    clearInterval(w.timer);
    this.watches.delete(id);
  }

  close(): void {
    for (const id of [...this.watches.keys()]) this.stop(id);
  }

  private async check(id: string, path: string, bundle: string, maxSize: number, maxFile: number): Promise<void> {
    try {
      const st = await stat(path);
      if (st.size < maxSize) return;
      await rotateLogFiles(path, maxFile);
      await this.d.conmon.reopenLog(bundle);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return;
      this.d.log.warn('log rotation failed', { id, err: errorMessage(e) });
    }
  }
}
