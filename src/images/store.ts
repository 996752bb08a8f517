/**
 * The in-memory view of the image metadata: every image with its parsed
 * config and manifest, and the name → image map. Loaded once at start from
 * the database and the content store, then kept in step with every write,
 * so listing and resolving never touch disk (GET /images/json is hot).
 */
import type { Digest } from '../base/digest.js';
import { shortId } from '../base/digest.js';
import { InvalidArgumentError, NotFoundError, ConflictError } from '../base/errors.js';
import type { ImageRecord, ImageTable, RefRecord } from '../metadata/images.js';
import type { ImageConfig, ImageManifest } from '../oci/types.js';
import {
  familiarString,
  parseIdOrPrefix,
  parseReference,
  withDefaultTag,
  fullString,
  type Reference,
} from '../oci/reference.js';

export interface Image {
  readonly record: ImageRecord;
  readonly config: ImageConfig;
  readonly manifest: ImageManifest;
  /** Full names, sorted: `docker.io/library/busybox:latest`. */
  tags: string[];
  /** Full names with digest: `docker.io/library/busybox@sha256:…`. */
  digests: string[];
}

export function familiarRef(full: string): string {
  return familiarString(parseReference(full));
}

export class ImageIndex {
  private readonly images = new Map<Digest, Image>();
  private readonly refs = new Map<string, Digest>();

  constructor(private readonly table: ImageTable) {}

  /** Adds a loaded image (and its refs) to the view. Used at start and after writes. */
  add(img: Image): void {
    this.images.set(img.record.id, img);
    for (const t of img.tags) this.refs.set(t, img.record.id);
    for (const d of img.digests) this.refs.set(d, img.record.id);
  }

  all(): IterableIterator<Image> {
    return this.images.values();
  }
  get size(): number {
    return this.images.size;
  }
  byId(id: Digest): Image | undefined {
    return this.images.get(id);
  }
  byRef(full: string): Image | undefined {
    const id = this.refs.get(full);
    return id === undefined ? undefined : this.images.get(id);
  }

  /**
   * Docker's lookup order: a full ID; then a name (with `:latest` added);
   * then an ID prefix. Throws NotFoundError in Docker's words.
   */
  resolve(refOrId: string): Image {
    const found = this.find(refOrId);
    if (found !== undefined) return found;
    throw new NotFoundError(`No such image: ${this.displayName(refOrId)}`);
  }

  find(refOrId: string): Image | undefined {
    const id = parseIdOrPrefix(refOrId);
    if (id?.digest !== undefined) return this.images.get(id.digest);
    let named: Reference | undefined;
    try {
      named = withDefaultTag(parseReference(refOrId));
    } catch (e) {
      if (id === undefined) throw new InvalidArgumentError(`no such image: ${refOrId}: ${(e as Error).message}`);
    }
    if (named !== undefined) {
      const hit = this.byRef(fullString(named));
      if (hit !== undefined) return hit;
    }
    if (id !== undefined) return this.byPrefix(id.hex);
    return undefined;
  }

  private byPrefix(hex: string): Image | undefined {
    let hit: Image | undefined;
    for (const [d, img] of this.images) {
      if (d.startsWith(`sha256:${hex}`)) {
        if (hit !== undefined) throw new ConflictError(`multiple IDs found with provided prefix: ${hex}`);
        hit = img;
      }
    }
    return hit;
  }

  /** What Docker prints for a missing image: the familiar name with its default tag. */
  displayName(refOrId: string): string {
    try {
      return familiarString(withDefaultTag(parseReference(refOrId)));
    } catch {
      return refOrId;
    }
  }

  // --- writes: database first (durable), then the view.

  put(img: Image): void {
    const old = this.images.get(img.record.id);
    const refs: RefRecord[] = [
      ...img.tags.map((t): RefRecord => ({ name: t, image: img.record.id, kind: 'tag' })),
      ...img.digests.map((d): RefRecord => ({ name: d, image: img.record.id, kind: 'digest' })),
    ];
    // Names that now point here are taken away from any other image.
    for (const r of refs) this.detachRef(r.name, img.record.id);
    this.table.putImage(img.record, refs);
    if (old !== undefined) {
      img.tags = [...new Set([...old.tags, ...img.tags])].sort();
      img.digests = [...new Set([...old.digests, ...img.digests])].sort();
    }
    this.add(img);
  }

  /** Points `full` (a tag or digest name) at image `id`. Returns the image that lost it, if any. */
  setRef(full: string, id: Digest, kind: 'tag' | 'digest', at: string): Image | undefined {
    const img = this.images.get(id);
    if (img === undefined) throw new NotFoundError(`No such image: ${shortId(id)}`);
    const loser = this.detachRef(full, id);
    this.table.putRef({ name: full, image: id, kind }, at);
    const list = kind === 'tag' ? img.tags : img.digests;
    if (!list.includes(full)) {
      list.push(full);
      list.sort();
    }
    this.refs.set(full, id);
    return loser;
  }

  private detachRef(full: string, newOwner: Digest): Image | undefined {
    const prev = this.refs.get(full);
    if (prev === undefined || prev === newOwner) return undefined;
    const img = this.images.get(prev);
    if (img !== undefined) {
      img.tags = img.tags.filter((t) => t !== full);
      img.digests = img.digests.filter((t) => t !== full);
    }
    return img;
  }

  deleteRef(full: string): void {
    const id = this.refs.get(full);
    this.table.deleteRef(full);
    this.refs.delete(full);
    if (id === undefined) return;
    const img = this.images.get(id);
    if (img !== undefined) {
      img.tags = img.tags.filter((t) => t !== full);
      img.digests = img.digests.filter((t) => t !== full);
    }
  }

  deleteImage(id: Digest): void {
    const img = this.images.get(id);
    this.table.deleteImage(id);
    if (img === undefined) return;
    for (const t of [...img.tags, ...img.digests]) this.refs.delete(t);
    this.images.delete(id);
  }
}
