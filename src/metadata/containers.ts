/**
 * Container rows: one JSON document per container (its settings and its
 * last known state), keyed by ID with a unique name. The container service
 * owns the meaning; this module owns SQL. Writes are small and frequent
 * (every state change), each its own transaction.
 */
import type { SqliteDb } from './db.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS containers (
  id   TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  doc  TEXT NOT NULL
);`;

export class ContainerTable {
  constructor(private readonly db: SqliteDb) {
    db.exec(SCHEMA);
  }
  all(): { id: string; name: string; doc: string }[] {
    return this.db.prepare('SELECT id, name, doc FROM containers').all() as { id: string; name: string; doc: string }[];
  }
  put(id: string, name: string, doc: string): void {
    this.db.prepare('INSERT INTO containers (id, name, doc) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, doc = excluded.doc').run(id, name, doc);
  }
  delete(id: string): void {
    this.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
  }
}
