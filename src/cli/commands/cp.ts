/**
 * `berth cp`: docker's copy rules over the archive API. To a container:
 * HEAD …/archive (stat the destination), then PUT a tar into the right
 * directory with entries renamed as docker's PrepareArchiveCopy decides.
 * From a container: GET …/archive and extract (or stream the tar with `-`).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, readlink, rm, stat, symlink, utimes, chmod } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { dirname, join, resolve as resolvePath, sep, posix } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { asRecord, num, str } from '../narrow.js';
import { humanSizeWithPrecision } from '../units.js';
import type { EngineClient } from '../../client/engine.js';
import { cpath } from './container-common.js';

export const spec: CommandSpec = {
  use: 'cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
  short: 'Copy files/folders between a container and the local filesystem',
  aliases: 'docker container cp, docker cp',
  args: { min: 2, max: 2 },
  flags: [
    { name: 'archive', short: 'a', type: 'bool', usage: 'Archive mode (copy all uid/gid information)' },
    { name: 'follow-link', short: 'L', type: 'bool', usage: 'Always follow symbol link in SRC_PATH' },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached' },
  ],
};

const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;

/** tar-stream is CommonJS: its functions sit on the default export once bundled. */
async function loadTar(): Promise<typeof import('tar-stream')> {
  const m = await import('tar-stream');
  return typeof m.pack === 'function' ? m : m.default;
}

interface PathStat { name: string; size: number; mode: number; linkTarget: string }

function splitCpArg(arg: string): [string, string] {
  if (arg.startsWith('/')) return ['', arg];
  const i = arg.indexOf(':');
  if (i === -1 || arg.slice(0, i).startsWith('.')) return ['', arg];
  return [arg.slice(0, i), arg.slice(i + 1)];
}

/** archive.PreserveTrailingDotOrSeparator on an absolute path. */
function resolveLocal(p: string): string {
  let abs = resolvePath(p);
  if (p.endsWith(`${sep}.`) || p === '.') abs = abs === sep ? `${sep}.` : `${abs}${sep}.`;
  else if (p.endsWith(sep) && !abs.endsWith(sep)) abs += sep;
  return abs;
}

/** archive.SplitPathDirEntry. */
function splitPathDirEntry(p: string): [string, string] {
  let cleaned = posix.normalize(p);
  if (cleaned.length > 1 && cleaned.endsWith('/')) cleaned = cleaned.slice(0, -1);
  if (p.endsWith('/.') || p === '.') cleaned = `${cleaned === '/' ? '' : cleaned}/.`;
  return [posix.dirname(cleaned), posix.basename(cleaned)];
}

function decodeStat(h: string | string[] | undefined): PathStat | undefined {
  if (typeof h !== 'string' || h === '') return undefined;
  try {
    const o = asRecord(JSON.parse(Buffer.from(h, 'base64').toString('utf8')) as unknown);
    return { name: str(o, 'name'), size: num(o, 'size'), mode: num(o, 'mode'), linkTarget: str(o, 'linkTarget') };
  } catch {
    return undefined;
  }
}

const isDirMode = (m: number): boolean => Math.floor(m / MODE_DIR) % 2 === 1;
const isLinkMode = (m: number): boolean => Math.floor(m / MODE_SYMLINK) % 2 === 1;

async function statPath(client: EngineClient, container: string, path: string): Promise<PathStat | undefined> {
  try {
    const res = await client.request('HEAD', `/containers/${cpath(container)}/archive`, { query: { path } });
    res.resume();
    return decodeStat(res.headers['x-docker-container-path-stat']);
  } catch {
    return undefined;
  }
}

/** Renames the first path component `from` → `to` in every entry (archive.RebaseArchiveEntries). */
function rebaseName(name: string, from: string, to: string): string {
  if (from === '' || to === '') return name;
  if (name === from || name === `${from}/`) return name.replace(from, to);
  if (name.startsWith(`${from}/`)) return to + name.slice(from.length);
  return name;
}

interface Packed { stream: Readable; counter: { bytes: number } }

/** archive.TarResourceRebase: the source entry and everything below it, names relative to its parent. */
function tarLocal(srcPath: string, rename: (n: string) => string, follow: boolean): Packed {
  const counter = { bytes: 0 };
  const out = new PassThrough();
  void (async () => {
    const tar = await loadTar();
    const pack = tar.pack();
    pack.pipe(out);
    pack.on('data', (c: unknown) => {
      if (Buffer.isBuffer(c)) counter.bytes += c.length;
    });
    const [dir, base] = splitPathDirEntry(srcPath);
    const add = async (rel: string, abs: string, top: boolean): Promise<void> => {
      const st: Stats = top && follow ? await stat(abs) : await lstat(abs);
      const name = rename(rel);
      const common = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
      if (st.isDirectory()) {
        await new Promise<void>((res, rej) => pack.entry({ ...common, name: name.endsWith('/') ? name : `${name}/`, type: 'directory' }, (e) => (e ? rej(e) : res())));
        for (const child of (await readdir(abs)).sort()) await add(`${rel}/${child}`, join(abs, child), false);
      } else if (st.isSymbolicLink()) {
        const linkname = await readlink(abs);
        await new Promise<void>((res, rej) => pack.entry({ ...common, name, type: 'symlink', linkname }, (e) => (e ? rej(e) : res())));
      } else if (st.isFile()) {
        const entry = pack.entry({ ...common, name, type: 'file', size: st.size });
        await pipeline(createReadStream(abs), entry);
      }
    };
    const addTop = async (rel: string, abs: string): Promise<void> => {
      const st = follow ? await stat(abs) : await lstat(abs);
      if (st.isSymbolicLink()) {
        const target = await readlink(abs);
        await new Promise<void>((res, rej) => pack.entry({ name: rename(rel), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime, type: 'symlink', linkname: target }, (e) => (e ? rej(e) : res())));
        return;
      }
      await add(rel, abs, true);
    };
    await addTop(base, join(dir, base));
    pack.finalize();
  })().catch((e: unknown) => out.destroy(e instanceof Error ? e : new Error(String(e))));
  return { stream: out, counter };
}

async function copyToContainer(ctx: CommandContext, client: EngineClient, container: string, srcArg: string, dstPath: string, quiet: boolean): Promise<void> {
  const follow = ctx.opts.bool('follow-link');
  let dstInfoPath = dstPath;
  let dstStat = await statPath(client, container, dstPath);
  if (dstStat !== undefined && isLinkMode(dstStat.mode)) {
    let target = dstStat.linkTarget;
    if (!target.startsWith('/')) target = posix.join(splitPathDirEntry(dstPath)[0], target);
    dstInfoPath = target;
    dstStat = await statPath(client, container, target);
  }
  if (dstStat !== undefined && !isDirMode(dstStat.mode) && dstStat.mode >= 2 ** 26 && !isLinkMode(dstStat.mode)) {
    throw new StatusError(`destination "${container}:${dstPath}" must be a directory or a regular file`, 1);
  }
  const exists = dstStat !== undefined;
  const dstIsDir = dstStat !== undefined && isDirMode(dstStat.mode);
  let content: Readable;
  let counter = { bytes: 0 };
  let resolvedDst: string;
  if (srcArg === '-') {
    if (!dstIsDir) throw new StatusError(`destination "${container}:${dstPath}" must be a directory`, 1);
    content = ctx.stdin;
    resolvedDst = dstInfoPath;
  } else {
    const srcPath = resolveLocal(srcArg);
    let st: Stats;
    try {
      st = follow ? await stat(srcPath) : await lstat(srcPath);
    } catch {
      throw new StatusError(`lstat ${srcPath.replace(/\/\.?$/, '')}: no such file or directory`, 1);
    }
    const srcIsDir = st.isDirectory();
    const [, srcBase] = splitPathDirEntry(srcPath);
    const [dstDir, dstBase] = splitPathDirEntry(dstInfoPath);
    let rename = (n: string): string => n;
    if (exists && dstIsDir) {
      resolvedDst = dstInfoPath;
    } else if (exists && srcIsDir) {
      throw new StatusError('cannot copy directory', 1);
    } else if (!exists && !srcIsDir && dstInfoPath.endsWith('/')) {
      throw new StatusError('no such directory', 1);
    } else {
      resolvedDst = dstDir;
      rename = (n) => rebaseName(n, srcBase, dstBase);
    }
    const packed = tarLocal(srcPath, rename, follow);
    content = packed.stream;
    counter = packed.counter;
  }
  const query = { path: resolvedDst, noOverwriteDirNonDir: 'true', copyUIDGID: ctx.opts.bool('archive') ? 'true' : undefined };
  const res = await client.request('PUT', `/containers/${cpath(container)}/archive`, { query, body: content, headers: { 'Content-Type': 'text/plain' } });
  res.resume();
  if (!quiet) ctx.err.write(`Successfully copied ${humanSizeWithPrecision(counter.bytes, 3)} to ${container}:${dstInfoPath}\n`);
}

async function copyFromContainer(ctx: CommandContext, client: EngineClient, container: string, srcPathIn: string, dstArg: string, quiet: boolean): Promise<void> {
  let srcPath = srcPathIn;
  const dstPath = dstArg === '-' ? '-' : resolveLocal(dstArg);
  if (dstPath !== '-') {
    const parent = dirname(dstPath.replace(/\/\.?$/, '') || '/');
    try {
      if (!(await stat(parent)).isDirectory()) throw new Error('not a dir');
    } catch {
      throw new StatusError(`invalid output path: directory ${JSON.stringify(parent)} does not exist`, 1);
    }
  }
  let rebase = '';
  if (ctx.opts.bool('follow-link')) {
    const st = await statPath(client, container, srcPath);
    if (st !== undefined && isLinkMode(st.mode)) {
      let target = st.linkTarget;
      if (!target.startsWith('/')) target = posix.join(splitPathDirEntry(srcPath)[0], target);
      rebase = posix.basename(srcPath);
      srcPath = target;
    }
  }
  const res = await client.request('GET', `/containers/${cpath(container)}/archive`, { query: { path: srcPath } });
  if (dstPath === '-') {
    await pipeline(res, ctx.stdoutStream, { end: false });
    return;
  }
  const st = decodeStat(res.headers['x-docker-container-path-stat']);
  const srcIsDir = st !== undefined && isDirMode(st.mode);
  let [, srcBase] = splitPathDirEntry(srcPath);
  const origBase = srcBase;
  if (rebase !== '') srcBase = rebase;
  // CopyInfoDestinationPath + PrepareArchiveCopy.
  let dst = dstPath;
  let dstSt: Stats | undefined;
  try {
    dstSt = await lstat(dst);
    if (dstSt.isSymbolicLink()) {
      dst = resolvePath(dirname(dst), await readlink(dst));
      dstSt = await stat(dst).catch(() => undefined);
    }
  } catch {
    dstSt = undefined;
  }
  const [dstDir, dstBase] = splitPathDirEntry(dst);
  let outDir: string;
  let rename = (n: string): string => rebaseName(n, origBase, srcBase);
  if (dstSt !== undefined && dstSt.isDirectory()) {
    outDir = dst.replace(/\/\.$/, '');
  } else if (dstSt !== undefined && srcIsDir) {
    res.resume();
    throw new StatusError('cannot copy directory', 1);
  } else if (dstSt === undefined && !srcIsDir && /\/\.?$/.test(dstArg)) {
    res.resume();
    throw new StatusError('no such directory', 1);
  } else {
    outDir = dstDir;
    rename = (n) => rebaseName(n, origBase, dstBase);
  }
  const counted = { bytes: 0 };
  await untar(res, outDir, rename, counted);
  const bytes = counted.bytes;
  if (!quiet) ctx.err.write(`Successfully copied ${humanSizeWithPrecision(bytes, 3)} to ${dstPath}\n`);
}

/** archive.Untar with NoLchown and NoOverwriteDirNonDir. */
async function untar(src: Readable, dir: string, rename: (n: string) => string, counted: { bytes: number }): Promise<void> {
  const tar = await loadTar();
  const extract = tar.extract();
  // Count only once piped: a 'data' listener alone would start the flow and drop bytes.
  src.pipe(extract);
  src.on('data', (c: unknown) => {
    if (Buffer.isBuffer(c)) counted.bytes += c.length;
  });
  const times: Array<[string, Date]> = [];
  for await (const entry of extract) {
    const h = entry.header;
    const rel = rename(h.name).replace(/^\/+/, '');
    const target = join(dir, rel);
    if (!target.startsWith(dir === '/' ? '/' : `${dir}`)) {
      entry.resume();
      continue;
    }
    const existing = await lstat(target).catch(() => undefined);
    if (h.type === 'directory') {
      if (existing !== undefined && !existing.isDirectory()) throw new StatusError(`cannot overwrite non-directory "${target}" with directory "${rel}"`, 1);
      await mkdir(target, { recursive: true });
      if (h.mode !== undefined) await chmod(target, h.mode & 0o7777);
      if (h.mtime !== undefined) times.push([target, h.mtime]);
      entry.resume();
      continue;
    }
    if (existing !== undefined && existing.isDirectory()) throw new StatusError(`cannot overwrite directory "${target}" with non-directory "${rel}"`, 1);
    await mkdir(dirname(target), { recursive: true });
    if (h.type === 'symlink') {
      if (existing !== undefined) await rm(target, { force: true });
      await symlink(h.linkname ?? '', target);
      entry.resume();
    } else if (h.type === 'file' || h.type === 'contiguous-file' || h.type === undefined || h.type === null) {
      await pipeline(entry, createWriteStream(target, { mode: (h.mode ?? 0o644) & 0o7777 }));
      await chmod(target, (h.mode ?? 0o644) & 0o7777);
      if (h.mtime !== undefined) await utimes(target, h.mtime, h.mtime);
    } else {
      entry.resume();
    }
  }
  for (const [p, t] of times.reverse()) await utimes(p, t, t).catch(() => undefined);
}

export async function run(ctx: CommandContext): Promise<number> {
  const [srcArg = '', dstArg = ''] = ctx.args;
  if (srcArg === '') throw new StatusError('source can not be empty', 1);
  if (dstArg === '') throw new StatusError('destination can not be empty', 1);
  const quiet = ctx.opts.changed('quiet') ? ctx.opts.bool('quiet') : !ctx.out.isTTY;
  const [srcContainer, srcPath] = splitCpArg(srcArg);
  const [dstContainer, dstPath] = splitCpArg(dstArg);
  if (srcContainer !== '' && dstContainer !== '') throw new StatusError('copying between containers is not supported', 1);
  if (srcContainer === '' && dstContainer === '') throw new StatusError('must specify at least one container source', 1);
  const client = await ctx.client();
  if (srcContainer !== '') await copyFromContainer(ctx, client, srcContainer, srcPath, dstPath, quiet);
  else await copyToContainer(ctx, client, dstContainer, srcPath, dstPath, quiet);
  return 0;
}

