/**
 * Volume rows: one JSON document per volume (driver, labels, options,
 * whether it is anonymous), and per container the mount points resolved at
 * create (which volumes it references: what makes a volume "in use").
 * The volumes module owns the meaning; this module owns SQL.
 */
import type { SqliteDb } from './db.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS volumes (
  name TEXT PRIMARY KEY,
  doc  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS volume_mounts (
  container_id TEXT PRIMARY KEY,
  doc          TEXT NOT NULL
);`;

export class VolumeTable {
  constructor(private readonly db: SqliteDb) {
    db.exec(SCHEMA);
  }
  volumes(): { name: string; doc: string }[] {
    return this.db.prepare('SELECT name, doc FROM volumes').all() as { name: string; doc: string }[];
  }
  putVolume(name: string, doc: string): void {
    this.db.prepare('INSERT INTO volumes (name, doc) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET doc = excluded.doc').run(name, doc);
  }
  deleteVolume(name: string): void {
    this.db.prepare('DELETE FROM volumes WHERE name = ?').run(name);
  }
  mounts(): { container_id: string; doc: string }[] {
    return this.db.prepare('SELECT container_id, doc FROM volume_mounts').all() as { container_id: string; doc: string }[];
  }
  putMounts(containerId: string, doc: string): void {
    this.db.prepare('INSERT INTO volume_mounts (container_id, doc) VALUES (?, ?) ON CONFLICT(container_id) DO UPDATE SET doc = excluded.doc').run(containerId, doc);
  }
  deleteMounts(containerId: string): void {
    this.db.prepare('DELETE FROM volume_mounts WHERE container_id = ?').run(containerId);
  }
}
