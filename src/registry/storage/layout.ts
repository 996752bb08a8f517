/**
 * Where things live in a StorageDriver. Content is stored once, globally,
 * by digest; repositories hold only small link files that name digests, so
 * a layer shared by a hundred repositories is on disk once and a
 * repository is cheap to create, mount into, or delete.
 *
 *   <root>/
 *   ├── blobs/
 *   │   └── sha256/ab/ab12…ef/data                 content (layers, configs, manifests)
 *   └── repositories/
 *       └── library/busybox/                       a name may have many components
 *           ├── _layers/sha256/ab12…ef/link        "sha256:ab12…ef": blob linked here
 *           ├── _manifests/
 *           │   ├── revisions/sha256/cd34…/link    "sha256:cd34…\n<media type>\n"
 *           │   ├── tags/latest/current/link       "sha256:cd34…"
 *           │   └── referrers/sha256/<subject hex>/sha256/<referrer hex>/link
 *           └── _uploads/<uuid>/
 *               ├── data                           bytes received so far (append only)
 *               └── startedat                      ISO time the session began
 *
 * Name components never begin with '_' (the spec's grammar), so the
 * underscore directories cannot collide with a nested repository name.
 *
 * Commit points, so a crash never exposes a partial object:
 *  - a blob exists once `data` is renamed in from an upload's `data`;
 *  - a manifest exists once its revision `link` is written (temp + rename),
 *    which happens only after its blob is committed;
 *  - a tag points somewhere once its `link` is written, after the revision.
 */
import type { Digest } from '../../base/digest.js';

function split(d: Digest): [string, string] {
  const i = d.indexOf(':');
  return [d.slice(0, i), d.slice(i + 1)];
}

export const BLOBS = 'blobs';
export const REPOS = 'repositories';

export function blobDir(d: Digest): string {
  const [alg, hex] = split(d);
  return `${BLOBS}/${alg}/${hex.slice(0, 2)}/${hex}`;
}
export function blobData(d: Digest): string {
  return `${blobDir(d)}/data`;
}
export function repoDir(name: string): string {
  return `${REPOS}/${name}`;
}
export function layersDir(name: string): string {
  return `${repoDir(name)}/_layers`;
}
export function layerLink(name: string, d: Digest): string {
  const [alg, hex] = split(d);
  return `${layersDir(name)}/${alg}/${hex}/link`;
}
export function revisionsDir(name: string): string {
  return `${repoDir(name)}/_manifests/revisions`;
}
export function revisionLink(name: string, d: Digest): string {
  const [alg, hex] = split(d);
  return `${revisionsDir(name)}/${alg}/${hex}/link`;
}
export function tagsDir(name: string): string {
  return `${repoDir(name)}/_manifests/tags`;
}
export function tagLink(name: string, tag: string): string {
  return `${tagsDir(name)}/${tag}/current/link`;
}
export function referrersDir(name: string, subject: Digest): string {
  const [alg, hex] = split(subject);
  return `${repoDir(name)}/_manifests/referrers/${alg}/${hex}`;
}
export function referrerLink(name: string, subject: Digest, d: Digest): string {
  const [alg, hex] = split(d);
  return `${referrersDir(name, subject)}/${alg}/${hex}/link`;
}
export function uploadsDir(name: string): string {
  return `${repoDir(name)}/_uploads`;
}
export function uploadDir(name: string, uuid: string): string {
  return `${uploadsDir(name)}/${uuid}`;
}
export function uploadData(name: string, uuid: string): string {
  return `${uploadDir(name, uuid)}/data`;
}
export function uploadStarted(name: string, uuid: string): string {
  return `${uploadDir(name, uuid)}/startedat`;
}
