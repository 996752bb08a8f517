/**
 * Test images made from scratch, with no registry and no dockerd: a layer
 * holding Debian's static busybox and its applet links, plus optional
 * layers of random data, written as a docker-archive tarball exactly as
 * `docker save` lays one out.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docker } from './daemon.js';
import { once } from 'node:events';
import { run } from '../../src/base/exec.js';
import { encodeHeader, tarPadding, tarTrailer, type TarWriteHeader } from '../../src/base/tar.js';

export interface LayerEntry {
  readonly name: string;
  readonly type?: 'file' | 'dir' | 'symlink' | 'link';
  readonly data?: Buffer;
  readonly linkname?: string;
  readonly mode?: number;
}

const APPLETS = ['sh', 'echo', 'cat', 'ls', 'sleep', 'true', 'false', 'id', 'env', 'mkdir', 'rm', 'touch', 'wc', 'head', 'tr', 'dd', 'httpd', 'wget', 'ps', 'top', 'hostname', 'grep', 'sed', 'awk', 'nc', 'pwd', 'chown', 'whoami', 'yes', 'test', 'mount', 'stat'];

/** An uncompressed layer tar in memory (test layers are small). */
export function layerTar(entries: readonly LayerEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'file';
    const h: TarWriteHeader = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'dir' ? 0o755 : 0o644),
      uid: 0,
      gid: 0,
      size: type === 'file' ? (e.data?.length ?? 0) : 0,
      mtime: 1_700_000_000,
      ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
    };
    parts.push(...encodeHeader(h));
    if (type === 'file' && e.data !== undefined) {
      parts.push(e.data, tarPadding(e.data.length));
    }
  }
  parts.push(tarTrailer());
  return Buffer.concat(parts);
}

export async function busyboxLayer(): Promise<Buffer> {
  const bin = await readFile('/bin/busybox');
  // Every applet this busybox has, as `busybox --install -s` would link them.
  const listed = (await run('/bin/busybox', ['--list'])).stdout.split('\n').filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== 'busybox');
  const applets = [...new Set([...APPLETS, ...listed])].sort();
  const entries: LayerEntry[] = [
    { name: 'bin/', type: 'dir' },
    { name: 'bin/busybox', data: bin, mode: 0o755 },
    ...applets.map((a): LayerEntry => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    { name: 'etc/', type: 'dir' },
    { name: 'etc/passwd', data: Buffer.from('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\n') },
    { name: 'etc/group', data: Buffer.from('root:x:0:\nnogroup:x:65534:\napp:x:1000:\n') },
    { name: 'tmp/', type: 'dir', mode: 0o1777 },
  ];
  return layerTar(entries);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export interface ArchiveImage {
  readonly tags: readonly string[];
  readonly layers: readonly Buffer[];
  readonly cmd?: readonly string[];
  readonly labels?: Record<string, string>;
  readonly created?: string;
}

/**
 * Writes a docker-archive (manifest.json + repositories + <id>/layer.tar),
 * streaming big layers. Returns the image IDs (config digests).
 */
export async function writeDockerArchive(path: string, images: readonly ArchiveImage[]): Promise<string[]> {
  const out = createWriteStream(path);
  const write = async (b: Buffer): Promise<void> => {
    if (!out.write(b)) await once(out, 'drain');
  };
  const file = async (name: string, data: Buffer): Promise<void> => {
    for (const h of encodeHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: 1_700_000_000 })) await write(h);
    await write(data);
    await write(tarPadding(data.length));
  };
  const manifest: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
  const repos: Record<string, Record<string, string>> = {};
  const ids: string[] = [];
  const written = new Set<string>();
  for (const img of images) {
    const diffIds = img.layers.map((l) => `sha256:${sha(l)}`);
    const config = {
      architecture: 'amd64',
      os: 'linux',
      created: img.created ?? '2026-01-01T00:00:00Z',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: img.cmd ?? ['sh'], Labels: img.labels ?? null },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: img.layers.map((_, i) => ({ created: img.created ?? '2026-01-01T00:00:00Z', created_by: `layer ${i}` })),
    };
    const cbytes = Buffer.from(JSON.stringify(config));
    const cid = sha(cbytes);
    ids.push(`sha256:${cid}`);
    const layerPaths: string[] = [];
    for (const l of img.layers) {
      const id = sha(l);
      layerPaths.push(`${id}/layer.tar`);
      if (written.has(id)) continue;
      written.add(id);
      await file(`${id}/VERSION`, Buffer.from('1.0'));
      await file(`${id}/layer.tar`, l);
    }
    if (!written.has(cid)) {
      written.add(cid);
      await file(`${cid}.json`, cbytes);
    }
    manifest.push({ Config: `${cid}.json`, RepoTags: img.tags.length > 0 ? [...img.tags] : null, Layers: layerPaths });
    for (const t of img.tags) {
      const i = t.lastIndexOf(':');
      (repos[t.slice(0, i)] ??= {})[t.slice(i + 1)] = sha(img.layers.at(-1)!);
    }
  }
  await file('manifest.json', Buffer.from(JSON.stringify(manifest)));
  await file('repositories', Buffer.from(JSON.stringify(repos)));
  await write(tarTrailer());
  out.end();
  await once(out, 'finish');
  return ids;
}

/** A layer of `size` random bytes split over a few files (incompressible, like real binaries). */
export function randomLayer(size: number, files = 4): Buffer {
  const per = Math.ceil(size / files);
  const entries: LayerEntry[] = [{ name: 'data/', type: 'dir' }];
  for (let i = 0; i < files; i++) entries.push({ name: `data/f${i}-${randomBytes(4).toString('hex')}`, data: randomBytes(per) });
  return layerTar(entries);
}

/** Loads a busybox image tagged `tag` into the daemon at `host` through `docker load`, as a user would. */
export async function loadBusybox(host: string, tag: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-img-'));
  try {
    const archive = join(dir, 'bb.tar');
    await writeDockerArchive(archive, [{ tags: [tag], layers: [await busyboxLayer()] }]);
    const l = await docker(host, ['load', '-i', archive]);
    if (l.code !== 0) throw new Error(`docker load of ${tag}: ${l.stderr}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
