/**
 * Image and layer records (the rows), with no knowledge of blobs or
 * snapshots. The ImageService owns the semantics; this module owns SQL.
 */
import type { Digest } from '../base/digest.js';
import type { SqliteDb } from './db.js';

export interface LayerRecord {
  readonly chainId: Digest;
  readonly diffId: Digest;
  readonly parent: Digest | null;
  readonly size: number;
  readonly tarSize: number;
}

export interface ImageRecord {
  readonly id: Digest;
  readonly manifest: Digest;
  readonly size: number;
  readonly parent: string;
  readonly addedAt: number;
  readonly lastTagTime: string | null;
}

export interface RefRecord {
  readonly name: string;
  readonly image: Digest;
  readonly kind: 'tag' | 'digest';
}

interface ImageRow { id: string; manifest: string; size: number; parent: string; added_at: number; last_tag_time: string | null }
interface LayerRow { chain_id: string; diff_id: string; parent: string | null; size: number; tar_size: number }
interface RefRow { name: string; image: string; kind: string }

const toImage = (r: ImageRow): ImageRecord => ({
  id: r.id as Digest,
  manifest: r.manifest as Digest,
  size: r.size,
  parent: r.parent,
  addedAt: r.added_at,
  lastTagTime: r.last_tag_time,
});
const toLayer = (r: LayerRow): LayerRecord => ({
  chainId: r.chain_id as Digest,
  diffId: r.diff_id as Digest,
  parent: r.parent as Digest | null,
  size: r.size,
  tarSize: r.tar_size,
});
const toRef = (r: RefRow): RefRecord => ({ name: r.name, image: r.image as Digest, kind: r.kind === 'digest' ? 'digest' : 'tag' });

export class ImageTable {
  constructor(private readonly db: SqliteDb) {}

  allImages(): ImageRecord[] {
    return (this.db.prepare('SELECT * FROM images ORDER BY added_at').all() as ImageRow[]).map(toImage);
  }
  allRefs(): RefRecord[] {
    return (this.db.prepare('SELECT * FROM refs').all() as RefRow[]).map(toRef);
  }
  allLayers(): LayerRecord[] {
    return (this.db.prepare('SELECT * FROM layers').all() as LayerRow[]).map(toLayer);
  }
  layer(chainId: Digest): LayerRecord | undefined {
    const r = this.db.prepare('SELECT * FROM layers WHERE chain_id = ?').get(chainId) as LayerRow | undefined;
    return r === undefined ? undefined : toLayer(r);
  }

  putLayer(l: LayerRecord): void {
    this.db
      .prepare('INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, size, tar_size) VALUES (?, ?, ?, ?, ?)')
      .run(l.chainId, l.diffId, l.parent, l.size, l.tarSize);
  }
  deleteLayer(chainId: Digest): void {
    this.db.prepare('DELETE FROM layers WHERE chain_id = ?').run(chainId);
  }

  /** Inserts or replaces an image and moves the given refs to it, atomically. */
  putImage(img: ImageRecord, refs: readonly RefRecord[]): void {
    const tx = this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO images (id, manifest, size, parent, added_at, last_tag_time) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT(id) DO UPDATE SET manifest = excluded.manifest, last_tag_time = COALESCE(excluded.last_tag_time, images.last_tag_time)`,
        )
        .run(img.id, img.manifest, img.size, img.parent, img.addedAt, img.lastTagTime);
      const put = this.db.prepare('INSERT OR REPLACE INTO refs (name, image, kind) VALUES (?, ?, ?)');
      for (const r of refs) put.run(r.name, r.image, r.kind);
    });
    tx();
  }

  putRef(r: RefRecord, lastTagTime: string): void {
    const tx = this.db.transaction(() => {
      this.db.prepare('INSERT OR REPLACE INTO refs (name, image, kind) VALUES (?, ?, ?)').run(r.name, r.image, r.kind);
      this.db.prepare('UPDATE images SET last_tag_time = ? WHERE id = ?').run(lastTagTime, r.image);
    });
    tx();
  }
  deleteRef(name: string): void {
    this.db.prepare('DELETE FROM refs WHERE name = ?').run(name);
  }
  /** Deletes an image and any refs still pointing at it. */
  deleteImage(id: Digest): void {
    const tx = this.db.transaction(() => {
      this.db.prepare('DELETE FROM refs WHERE image = ?').run(id);
      this.db.prepare('DELETE FROM images WHERE id = ?').run(id);
    });
    tx();
  }
}
