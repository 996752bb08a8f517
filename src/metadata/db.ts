/**
 * The daemon's metadata database: which images exist and their names, which
 * layers are unpacked, (later) containers, volumes and networks.
 *
 * SQLite (better-sqlite3) in WAL mode: every change is a transaction, so a
 * `kill -9` at any moment leaves either the old or the new state, never a
 * torn one. Blobs and layer directories live on the filesystem; a row is
 * written only after what it points to is committed there, and the garbage
 * collector removes what no row points to. That ordering is what makes the
 * store consistent after a crash.
 */
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

export type SqliteDb = BetterSqlite3.Database;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS layers (
  chain_id   TEXT PRIMARY KEY,
  diff_id    TEXT NOT NULL,
  parent     TEXT,              -- chain ID of the layer below, NULL for a base layer
  size       INTEGER NOT NULL,  -- bytes of file content unpacked (Docker's layer size)
  tar_size   INTEGER NOT NULL   -- bytes of the uncompressed tar (for save)
);
CREATE TABLE IF NOT EXISTS images (
  id            TEXT PRIMARY KEY, -- config digest: Docker's image ID
  manifest      TEXT NOT NULL,    -- manifest digest in the content store
  size          INTEGER NOT NULL, -- sum of the layers' sizes
  parent        TEXT NOT NULL DEFAULT '',
  added_at      INTEGER NOT NULL, -- unix ms; orders images for before/since
  last_tag_time TEXT
);
CREATE TABLE IF NOT EXISTS refs (
  name  TEXT PRIMARY KEY,         -- normalised: docker.io/library/busybox:latest or repo@sha256:…
  image TEXT NOT NULL,
  kind  TEXT NOT NULL CHECK (kind IN ('tag', 'digest'))
);
CREATE INDEX IF NOT EXISTS refs_image ON refs(image);
CREATE TABLE IF NOT EXISTS kv (
  k TEXT PRIMARY KEY,
  v TEXT NOT NULL
);
`;

export function openDatabase(path: string): SqliteDb {
  // Loaded through require: better-sqlite3 is a native CommonJS module.
  const require = createRequire(import.meta.url);
  const Database = require('better-sqlite3') as typeof BetterSqlite3;
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode survives any process crash; only power loss can drop
  // the last transactions, and those point at content the GC then reclaims.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.exec(SCHEMA);
  return db;
}
