/**
 * Network rows: one JSON document per network (its settings), and one per
 * container sandbox (the network namespace berth made and the exact netavark
 * requests applied to it, so teardown can replay them after a crash), and
 * the container's network memberships (which networks, aliases, static IP).
 * The network module owns the meaning; this module owns SQL.
 */
import type { SqliteDb } from './db.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS networks (
  id   TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  doc  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS net_members (
  container_id TEXT NOT NULL,
  network_id   TEXT NOT NULL,
  doc          TEXT NOT NULL,
  PRIMARY KEY (container_id, network_id)
);
CREATE TABLE IF NOT EXISTS net_sandboxes (
  container_id TEXT PRIMARY KEY,
  doc          TEXT NOT NULL
);`;

export interface Row {
  id: string;
  doc: string;
}

export class NetworkTable {
  constructor(private readonly db: SqliteDb) {
    db.exec(SCHEMA);
  }
  networks(): { id: string; name: string; doc: string }[] {
    return this.db.prepare('SELECT id, name, doc FROM networks').all() as { id: string; name: string; doc: string }[];
  }
  putNetwork(id: string, name: string, doc: string): void {
    this.db.prepare('INSERT INTO networks (id, name, doc) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, doc = excluded.doc').run(id, name, doc);
  }
  deleteNetwork(id: string): void {
    this.db.prepare('DELETE FROM networks WHERE id = ?').run(id);
  }
  members(): { container_id: string; network_id: string; doc: string }[] {
    return this.db.prepare('SELECT container_id, network_id, doc FROM net_members').all() as { container_id: string; network_id: string; doc: string }[];
  }
  putMember(containerId: string, networkId: string, doc: string): void {
    this.db.prepare('INSERT INTO net_members (container_id, network_id, doc) VALUES (?, ?, ?) ON CONFLICT(container_id, network_id) DO UPDATE SET doc = excluded.doc').run(containerId, networkId, doc);
  }
  deleteMember(containerId: string, networkId: string): void {
    this.db.prepare('DELETE FROM net_members WHERE container_id = ? AND network_id = ?').run(containerId, networkId);
  }
  deleteMembers(containerId: string): void {
    this.db.prepare('DELETE FROM net_members WHERE container_id = ?').run(containerId);
  }
  sandboxes(): Row[] {
    return this.db.prepare('SELECT container_id AS id, doc FROM net_sandboxes').all() as Row[];
  }
  putSandbox(containerId: string, doc: string): void {
    this.db.prepare('INSERT INTO net_sandboxes (container_id, doc) VALUES (?, ?) ON CONFLICT(container_id) DO UPDATE SET doc = excluded.doc').run(containerId, doc);
  }
  deleteSandbox(containerId: string): void {
    this.db.prepare('DELETE FROM net_sandboxes WHERE container_id = ?').run(containerId);
  }
}
