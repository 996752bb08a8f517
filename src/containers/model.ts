/**
 * A container's persistent record: immutable settings from create, plus
 * the mutable state. Kept as one JSON document per container in the
 * metadata database (see metadata/containers.ts).
 */
import type { ContainerConfigIn, HostConfigIn } from './body.js';

export type Status = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy' | 'none';
  FailingStreak: number;
  Log: { Start: string; End: string; ExitCode: number; Output: string }[];
}

export interface ContainerState {
  Status: Status;
  Pid: number;
  ExitCode: number;
  Error: string;
  OOMKilled: boolean;
  StartedAt: string;
  FinishedAt: string;
  Health?: HealthState;
  /** The conmon monitoring this run (0 when not running). */
  ConmonPid: number;
  /** Stopped by the user (stop/kill): restart policies other than `always` do not apply. */
  ManualStop: boolean;
}

export interface ContainerRecord {
  Id: string;
  Name: string;
  Created: string;
  /** Image ID (config digest). */
  Image: string;
  Path: string;
  Args: string[];
  Config: ContainerConfigIn;
  HostConfig: HostConfigIn;
  Endpoints: Record<string, unknown>;
  /** Chain ID of the image's top layer: the snapshot parent. */
  SnapshotParent: string | null;
  RestartCount: number;
  State: ContainerState;
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function newState(): ContainerState {
  return { Status: 'created', Pid: 0, ExitCode: 0, Error: '', OOMKilled: false, StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME, ConmonPid: 0, ManualStop: false };
}

export function isRunning(s: ContainerState): boolean {
  return s.Status === 'running' || s.Status === 'paused' || s.Status === 'restarting';
}

/** Docker's `Status` column: "Up 2 minutes", "Exited (0) 5 minutes ago", "Created". */
export function humanStatus(c: ContainerRecord, now = Date.now()): string {
  const s = c.State;
  switch (s.Status) {
    case 'running':
    case 'paused': {
      let t = `Up ${humanDuration(now - Date.parse(s.StartedAt))}`;
      if (s.Health !== undefined && s.Health.Status !== 'none') t += ` (${s.Health.Status === 'starting' ? 'health: starting' : s.Health.Status})`;
      return s.Status === 'paused' ? `${t} (Paused)` : t;
    }
    case 'restarting':
      return `Restarting (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
    case 'exited':
      return s.FinishedAt === ZERO_TIME ? `Exited (${s.ExitCode})` : `Exited (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    default:
      return 'Created';
  }
}

/** go-units HumanDuration. */
export function humanDuration(ms: number): string {
  const sec = Math.round(ms / 1000);
  if (sec < 1) return 'Less than a second';
  if (sec === 1) return '1 second';
  if (sec < 60) return `${sec} seconds`;
  const min = Math.floor(sec / 60);
  if (min === 1) return 'About a minute';
  if (min < 60) return `${min} minutes`;
  const h = Math.round(min / 60);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}
