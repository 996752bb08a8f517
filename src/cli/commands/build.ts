/**
 * `berth build`: sends the context (a folder, a tarball, or `-` for a tar
 * or a lone Dockerfile on stdin) to POST /build, shows the message stream
 * (a live view redrawing the current step on a terminal, plain lines
 * otherwise), and optionally exports the result (--output
 * type=local|tar|oci). `--secret id=x,src=path` travels in the
 * X-Berth-Build-Secrets header, never in the context.
 *
 * The .dockerignore is applied here, as the docker CLI does, so ignored
 * files are never read nor sent (the daemon applies it again, for clients
 * that send everything); the folder goes in sorted order so the tar is
 * stable.
 */
import { createReadStream, createWriteStream, lstatSync, readdirSync, type BigIntStats } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, realpath, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve, relative, sep } from 'node:path';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { IncomingMessage } from 'node:http';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CommandSpec } from '../argv.js';
import type { CommandContext, Output } from '../context.js';
import { StatusError } from '../errors.js';
import { ApiError } from '../../client/errors.js';
import type { EngineClient } from '../../client/engine.js';
import { displayJsonMessages } from '../jsonmessage.js';

export const spec: CommandSpec = {
  use: 'build [OPTIONS] PATH | URL | -',
  short: 'Build an image from a Dockerfile',
  aliases: 'docker image build, docker build',
  args: { min: 1, max: 1 },
  flags: [
    { name: 'tag', short: 't', type: 'stringArray', varname: 'list', usage: 'Name and optionally a tag in the "name:tag" format' },
    { name: 'file', short: 'f', type: 'string', usage: 'Name of the Dockerfile (Default is "PATH/Dockerfile")' },
    { name: 'build-arg', type: 'stringArray', varname: 'list', usage: 'Set build-time variables' },
    { name: 'target', type: 'string', usage: 'Set the target build stage to build.' },
    { name: 'label', type: 'stringArray', varname: 'list', usage: 'Set metadata for an image' },
    { name: 'no-cache', type: 'bool', usage: 'Do not use cache when building the image' },
    { name: 'pull', type: 'bool', usage: 'Always attempt to pull a newer version of the image' },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress the build output and print image ID on success' },
    { name: 'iidfile', type: 'string', usage: 'Write the image ID to the file' },
    { name: 'platform', type: 'string', usage: 'Set platform if server is multi-platform capable' },
    { name: 'secret', type: 'stringArray', varname: 'stringArray', usage: 'Secret to expose to the build (format: "id=mysecret[,src=/local/secret]")' },
    { name: 'output', short: 'o', type: 'string', varname: 'stringArray', usage: 'Output destination (format: "type=local,dest=path")' },
    { name: 'network', type: 'string', usage: 'Set the networking mode for the RUN instructions during build', default: 'default' },
    { name: 'add-host', type: 'stringArray', varname: 'list', usage: 'Add a custom host-to-IP mapping ("host:ip")' },
    { name: 'force-rm', type: 'bool', usage: 'Always remove intermediate containers', default: true },
    { name: 'cache-from', type: 'stringArray', varname: 'strings', usage: 'Images to consider as cache sources' },
    { name: 'check', type: 'bool', usage: 'Shorthand for "--call=check": evaluate the build checks, do not build' },
  ],
};

function kv(list: readonly string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of list) {
    const eq = a.indexOf('=');
    if (eq < 0) {
      const v = env[a];
      if (v !== undefined) out[a] = v;
    } else out[a.slice(0, eq)] = a.slice(eq + 1);
  }
  return out;
}

function csv(s: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const p of s.split(',')) {
    const eq = p.indexOf('=');
    if (eq < 0) m.set(p.trim(), '');
    else m.set(p.slice(0, eq).trim(), p.slice(eq + 1).trim());
  }
  return m;
}

/**
 * The folder as a tar: names sorted, owners zeroed, what the .dockerignore
 * excludes left out (the Dockerfile and the ignore files always travel, as
 * the docker CLI does), `extra` (an outside Dockerfile) added.
 *
 * Written by hand rather than with tar-stream: its per-entry streams made
 * a 1000-file context take over a second longer to upload than the docker
 * CLI. Files are read a few ahead of the writer (in order), and output is
 * gathered into ~1 MiB chunks so the chunked request carries few, large
 * writes.
 */
function tarFolder(root: string, dockerfileRel: string, extra?: { name: string; data: Buffer }): Readable {
  // The walk starts now and runs while the request is being set up; the
  // body waits for it.
  const walked = walkContext(root, dockerfileRel);
  walked.catch(() => undefined); // surfaced through the body stream
  async function* gen(): AsyncGenerator<Buffer> {
    const [{ encodeHeader, tarPadding, tarTrailer }, items] = await Promise.all([import('../../base/tar.js'), walked]);
    yield* tarItems(items, extra, encodeHeader, tarPadding, tarTrailer);
  }
  return Readable.from(gen(), { objectMode: false });
}

interface Item {
  readonly name: string;
  /** In ns (bigint): the kept-context manifest compares exact times. */
  readonly st: BigIntStats;
  readonly abs: string;
}

/** The context's entries in tar order (sorted, parents first), .dockerignore applied. */
async function walkContext(root: string, dockerfileRel: string): Promise<Item[]> {
  // Lazy: only `berth build` pays for this module.
  const { IgnoreMatcher, parseDockerignore } = await import('../../base/dockerignore.js');
  // <Dockerfile>.dockerignore wins over .dockerignore (as the daemon reads it).
  const ignoreText = (await readFile(join(root, `${dockerfileRel}.dockerignore`), 'utf8').catch(() => undefined)) ?? (await readFile(join(root, '.dockerignore'), 'utf8').catch(() => ''));
  const ignore = new IgnoreMatcher(parseDockerignore(ignoreText));
  const keep = new Set([dockerfileRel, '.dockerignore', `${dockerfileRel}.dockerignore`, ...(dockerfileRel === 'Dockerfile' ? ['dockerfile'] : [])]);
  const items: Item[] = [];
  // Synchronous calls: a CLI waits for this walk anyway, and a thread-pool
  // round trip per entry costs more than the lstat itself.
  const walk = (dir: string, rel: string): void => {
    for (const n of readdirSync(dir).sort()) {
      const abs = join(dir, n);
      const name = rel === '' ? n : `${rel}/${n}`;
      const st = lstatSync(abs, { bigint: true });
      if (!ignore.empty && !keep.has(name) && ignore.ignores(name)) {
        // A re-included path below an ignored directory still needs the walk.
        if (st.isDirectory() && !ignore.skipsDir(name)) walk(abs, name);
        continue;
      }
      items.push({ name, st, abs });
      if (st.isDirectory()) walk(abs, name);
    }
  };
  walk(root, '');
  return items;
}

type Enc = typeof import('../../base/tar.js');

async function* tarItems(items: readonly Item[], extra: { name: string; data: Buffer } | undefined, encodeHeader: Enc['encodeHeader'], tarPadding: Enc['tarPadding'], tarTrailer: Enc['tarTrailer']): AsyncGenerator<Buffer> {
  const SMALL = 4 << 20;
  const AHEAD = 16;
  const reads = new Map<number, Promise<Buffer>>();
  const prefetch = (i: number): void => {
    for (let j = i; j < Math.min(items.length, i + AHEAD); j++) {
      const it = items[j]!;
      if (!reads.has(j) && it.st.isFile() && Number(it.st.size) <= SMALL) {
        const p = readFile(it.abs);
        p.catch(() => undefined); // surfaced when awaited
        reads.set(j, p);
      }
    }
  };
  let batch: Buffer[] = [];
  let size = 0;
  const push = (b: Buffer): boolean => {
    batch.push(b);
    size += b.length;
    return size >= 1 << 20;
  };
  const flush = (): Buffer => {
    const out = Buffer.concat(batch, size);
    batch = [];
    size = 0;
    return out;
  };
  for (let i = 0; i < items.length; i++) {
    prefetch(i);
    const { name, st, abs } = items[i]!;
    const stSize = Number(st.size);
    const base = { name, mode: Number(st.mode) & 0o7777, uid: 0, gid: 0, mtime: Number(st.mtimeNs / 1_000_000_000n) };
    let full = false;
    if (st.isDirectory()) for (const b of encodeHeader({ ...base, name: `${name}/`, type: 'dir', size: 0 })) full = push(b);
    else if (st.isSymbolicLink()) for (const b of encodeHeader({ ...base, type: 'symlink', size: 0, linkname: await readlink(abs) })) full = push(b);
    else if (st.isFile() && stSize <= SMALL) {
      const data = await reads.get(i)!;
      reads.delete(i);
      for (const b of encodeHeader({ ...base, type: 'file', size: data.length })) push(b);
      push(data);
      full = push(tarPadding(data.length));
    } else if (st.isFile()) {
      for (const b of encodeHeader({ ...base, type: 'file', size: stSize })) push(b);
      yield flush();
      // Large files stream; the size in the header must be what is sent.
      let sent = 0;
      for await (const c of createReadStream(abs, { highWaterMark: 1 << 20, end: stSize - 1 })) {
        sent += (c as Buffer).length;
        yield c as Buffer;
      }
      if (sent !== stSize) throw new Error(`${name} changed size while being sent`);
      full = push(tarPadding(stSize));
    }
    if (full) yield flush();
  }
  if (extra !== undefined) {
    for (const b of encodeHeader({ name: extra.name, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: extra.data.length })) push(b);
    push(extra.data);
    push(tarPadding(extra.data.length));
  }
  push(tarTrailer());
  yield flush();
}

export async function run(ctx: CommandContext): Promise<number> {
  const target = ctx.args[0]!;
  const file = ctx.opts.string('file');
  // A function when the body can be made again (a folder: the fallback of a kept context).
  let body: Readable | (() => Readable);
  let kept: { root: string; dockerfileRel: string; walked: Promise<Item[]> } | undefined;
  let dockerfile = file;
  if (target === '-') {
    // A tar, or a Dockerfile alone (then the context is empty).
    const chunks: Buffer[] = [];
    for await (const c of ctx.stdin) chunks.push(c as Buffer);
    const all = Buffer.concat(chunks);
    const isTar = all.length >= 512 && all.subarray(257, 262).toString() === 'ustar';
    const isCompressed = all[0] === 0x1f && all[1] === 0x8b;
    if (isTar || isCompressed) body = Readable.from([all]);
    else {
      const { encodeHeader, tarPadding, tarTrailer } = await import('../../base/tar.js');
      body = Readable.from([Buffer.concat([...encodeHeader({ name: 'Dockerfile', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: all.length }), all, tarPadding(all.length), tarTrailer()])]);
      dockerfile = 'Dockerfile';
    }
  } else {
    const st = await lstat(target).catch(() => undefined);
    if (st === undefined) throw new StatusError(`unable to prepare context: path "${target}" not found`, 1);
    if (st.isDirectory()) {
      let extra: { name: string; data: Buffer } | undefined;
      if (file !== '' && file !== '-') {
        const abs = resolve(file);
        const rel = relative(resolve(target), abs);
        if (rel.startsWith('..')) {
          // A Dockerfile outside the context travels inside it under a private name (as the docker CLI).
          extra = { name: `.dockerfile.${Math.random().toString(16).slice(2, 14)}`, data: await readFile(abs) };
          dockerfile = extra.name;
        } else dockerfile = rel.split(sep).join('/');
      } else if (file === '-') {
        const chunks: Buffer[] = [];
        for await (const c of ctx.stdin) chunks.push(c as Buffer);
        extra = { name: `.dockerfile.${Math.random().toString(16).slice(2, 14)}`, data: Buffer.concat(chunks) };
        dockerfile = extra.name;
      }
      const dfRel = dockerfile !== '' ? dockerfile : 'Dockerfile';
      body = (): Readable => tarFolder(target, dfRel, extra);
      // The daemon keeps the folder between builds; only changed files travel (see src/build/synced.ts).
      if (extra === undefined && ctx.env['BERTH_BUILD_CONTEXT_SYNC'] !== '0') kept = { root: target, dockerfileRel: dfRel, walked: walkContext(target, dfRel) };
      kept?.walked.catch(() => undefined); // surfaced when awaited
    } else body = createReadStream(target); // a tarball (plain or compressed)
  }

  const secrets: Record<string, string> = {};
  for (const s of ctx.opts.strings('secret')) {
    const m = csv(s);
    const id = m.get('id') ?? '';
    if (id === '') throw new StatusError(`invalid secret ${s}: id is required`, 1);
    const src = m.get('src') ?? m.get('source');
    const envName = m.get('env');
    if (src !== undefined) secrets[id] = (await readFile(src)).toString('base64');
    else if (envName !== undefined && ctx.env[envName] !== undefined) secrets[id] = Buffer.from(ctx.env[envName]!).toString('base64');
    else if (ctx.env[id] !== undefined) secrets[id] = Buffer.from(ctx.env[id]!).toString('base64');
    else throw new StatusError(`secret ${id}: no src= and no environment variable`, 1);
  }
  const env = { ...ctx.env };
  const buildArgs = kv(ctx.opts.strings('build-arg'), env);
  // BuildKit honours SOURCE_DATE_EPOCH from the environment as a build arg.
  if (buildArgs['SOURCE_DATE_EPOCH'] === undefined && env['SOURCE_DATE_EPOCH'] !== undefined) buildArgs['SOURCE_DATE_EPOCH'] = env['SOURCE_DATE_EPOCH'];
  const quiet = ctx.opts.bool('quiet');
  const client = await ctx.client();
  const headers: Record<string, string> = { 'Content-Type': 'application/x-tar' };
  if (Object.keys(secrets).length > 0) headers['X-Berth-Build-Secrets'] = Buffer.from(JSON.stringify(secrets)).toString('base64');
  const query = {
      t: ctx.opts.strings('tag'),
      dockerfile: dockerfile !== '' ? dockerfile : undefined,
      buildargs: JSON.stringify(buildArgs),
      labels: JSON.stringify(kv(ctx.opts.strings('label'), {})),
      target: ctx.opts.string('target') || undefined,
      nocache: ctx.opts.bool('no-cache') ? '1' : undefined,
      pull: ctx.opts.bool('pull') ? '1' : undefined,
      q: quiet ? '1' : undefined,
      platform: ctx.opts.string('platform') || undefined,
      networkmode: ctx.opts.string('network') || undefined,
      extrahosts: ctx.opts.strings('add-host').length > 0 ? ctx.opts.strings('add-host').join(',') : undefined,
      forcerm: ctx.opts.bool('force-rm') ? '1' : undefined,
      cachefrom: ctx.opts.strings('cache-from').length > 0 ? JSON.stringify(ctx.opts.strings('cache-from')) : undefined,
      // build checks, as BuildKit runs them (the warnings are printed at the end)
      checks: ctx.opts.bool('check') ? 'only' : '1',
      rm: '1',
  };
  const full = (): Promise<IncomingMessage> => client.stream('POST', '/build', { query, headers, body: typeof body === 'function' ? body() : body });
  let res: IncomingMessage | undefined;
  if (kept !== undefined) res = await sendKept(client, kept, query, headers);
  res ??= await full();
  let id = '';
  let checks: Violation[] = [];
  const dfName = basename(ctx.opts.string('file') || 'Dockerfile');
  const sink: Output = quiet ? { write: (): void => {}, isTTY: false, columns: 0, fd: -1 } : ctx.out;
  const view = ctx.out.isTTY && !quiet ? new LiveView(ctx.out) : undefined;
  const source = view !== undefined ? view.wrap(res) : res;
  try {
    await displayJsonMessages(source, view !== undefined ? view.output : sink, (aux) => {
      if (typeof aux !== 'object' || aux === null) return;
      const a = aux as Record<string, unknown>;
      if (typeof a['ID'] === 'string') id = a['ID'];
      if (Array.isArray(a['BerthChecks'])) checks = a['BerthChecks'].filter(isViolation);
    });
  } catch (e) {
    view?.done();
    if (checks.length > 0 && !quiet) ctx.err.write(checkSummary(checks));
    throw e;
  } finally {
    view?.done();
  }
  if (ctx.opts.bool('check')) {
    // buildx's --check report; warnings make it exit 1
    for (const v of checks) ctx.out.write(`WARNING: ${v.rule} - ${v.url}\n${v.message}\n${dfName}:${v.line}\n\n`);
    if (checks.length === 0) {
      ctx.out.write('Check complete, no warnings found.\n');
      return 0;
    }
    ctx.out.write(`Check complete, ${checks.length} ${checks.length === 1 ? 'warning has' : 'warnings have'} been found!\n`);
    return 1;
  }
  if (checks.length > 0 && !quiet) ctx.err.write(checkSummary(checks));
  if (quiet) ctx.out.write(`${id}\n`);
  const iid = ctx.opts.string('iidfile');
  if (iid !== '') await writeFile(iid, id);
  const output = ctx.opts.string('output');
  if (output !== '' && id !== '') await exportOutput(ctx, id, output);
  return 0;
}

/**
 * A folder context the daemon keeps: the manifest first (POST
 * /build/context), then a tar of the files it lacks plus every directory
 * and symlink. Undefined when the daemon cannot (an older one, a manifest
 * over its size limit) or the folder changed on its side meanwhile: the
 * caller then sends everything.
 */
async function sendKept(client: EngineClient, kept: { root: string; dockerfileRel: string; walked: Promise<Item[]> }, query: Record<string, string | string[] | undefined>, headers: Record<string, string>): Promise<IncomingMessage | undefined> {
  const items = await kept.walked;
  const key = createHash('sha256').update(`${hostname()}\0${await realpath(kept.root)}`).digest('hex');
  const entries = [];
  for (const it of items) {
    const t = it.st.isDirectory() ? 'd' : it.st.isFile() ? 'f' : it.st.isSymbolicLink() ? 'l' : undefined;
    if (t === undefined) continue;
    entries.push({ n: it.name, t, m: Number(it.st.mode) & 0o7777, s: Number(it.st.size), mt: String(it.st.mtimeNs), ct: String(it.st.ctimeNs), i: String(it.st.ino) });
  }
  let plan: { token: string; need: string[] };
  try {
    plan = (await client.json('POST', '/build/context', { body: { key, entries } })) as { token: string; need: string[] };
  } catch (e) {
    if (e instanceof ApiError) return undefined;
    throw e;
  }
  const need = new Set(plan.need);
  const { encodeHeader, tarPadding, tarTrailer } = await import('../../base/tar.js');
  const body = Readable.from(tarItems(items.filter((it) => !it.st.isFile() || need.has(it.name)), undefined, encodeHeader, tarPadding, tarTrailer), { objectMode: false });
  try {
    return await client.stream('POST', '/build', { query: { ...query, contextsync: plan.token }, headers, body });
  } catch (e) {
    // 409: the kept folder changed between the manifest and now; 404: the token expired.
    if (e instanceof ApiError && (e.status === 409 || e.status === 404)) return undefined;
    throw e;
  }
}

/** --output: the image's filesystem (local folder, tar) or the image itself (oci: the save archive). */
async function exportOutput(ctx: CommandContext, id: string, spec: string): Promise<void> {
  const m = spec.includes('=') ? csv(spec) : new Map([['type', 'local'], ['dest', spec]]);
  const type = m.get('type') ?? 'local';
  const dest = m.get('dest') ?? '';
  if (dest === '') throw new StatusError('--output requires dest=', 1);
  const client = await ctx.client();
  if (type === 'oci' || type === 'docker') {
    const res = await client.stream('GET', '/images/get', { query: { names: [id] } });
    await pipeline(res, dest === '-' ? ctx.stdoutStream : createWriteStream(dest));
    return;
  }
  if (type !== 'local' && type !== 'tar') throw new StatusError(`unsupported output type ${type}`, 1);
  const created = (await client.json('POST', '/containers/create', { body: { Image: id, Cmd: ['true'], Entrypoint: [] } })) as { Id: string };
  try {
    const res = await client.stream('GET', `/containers/${created.Id}/export`);
    if (type === 'tar') {
      const tmp = dest === '-' ? undefined : `${dest}.tmp`;
      await pipeline(res, tmp === undefined ? ctx.stdoutStream : createWriteStream(tmp));
      if (tmp !== undefined) await rename(tmp, dest);
      return;
    }
    await mkdir(dest, { recursive: true });
    const root = resolve(dest);
    // Lazy (only --output type=local needs it); CommonJS: the functions may sit on the default export.
    const m = await import('tar-stream');
    const tarStream = typeof m.extract === 'function' ? m : m.default;
    const ex = tarStream.extract();
    ex.on('entry', (h, stream, next) => {
      const p = resolve(root, h.name);
      const fail = (e: unknown): void => {
        ex.destroy(e instanceof Error ? e : new Error(String(e)));
      };
      // Entries may not leave dest, nor pass through a symlink an earlier
      // entry made (`lib -> /usr/lib` then `lib/x`); links are written as
      // links, never followed.
      const inside = p !== root && p.startsWith(root + sep);
      if (inside && h.type === 'file') {
        void noSymlinkBetween(root, dirname(p))
          .then(async (ok) => {
            if (!ok) return void (await pipeline(stream, new Writable({ write: (_c, _e, cb) => cb() })));
            await mkdir(dirname(p), { recursive: true });
            await rm(p, { force: true }); // never write through an existing link
            await pipeline(stream, createWriteStream(p, { mode: h.mode ?? 0o644 }));
          })
          .then(() => next(), fail);
        return;
      }
      // The other entries carry no data: drain (listening first, so the end is not missed), act, move on.
      const ended = new Promise<void>((res) => stream.on('end', res));
      stream.resume();
      let op: Promise<unknown> = Promise.resolve();
      if (inside && h.type === 'directory') {
        op = noSymlinkBetween(root, dirname(p)).then((ok) => (ok ? mkdir(p, { recursive: true, mode: h.mode ?? 0o755 }) : undefined));
      } else if (inside && h.type === 'symlink' && h.linkname !== undefined && h.linkname !== null) {
        const target = h.linkname;
        op = noSymlinkBetween(root, dirname(p)).then(async (ok) => {
          if (!ok) return;
          await mkdir(dirname(p), { recursive: true });
          await rm(p, { force: true });
          await symlink(target, p);
        });
      }
      Promise.all([ended, op]).then(() => next(), fail);
    });
    await pipeline(res, ex);
  } finally {
    await client.request('DELETE', `/containers/${created.Id}`, { query: { force: '1' } }).catch(() => undefined);
  }
}


/** Whether no path component from `root` (excluded) down to `dir` is a symlink (missing ones are fine: they will be made as directories). */
async function noSymlinkBetween(root: string, dir: string): Promise<boolean> {
  const rel = relative(root, dir);
  if (rel === '') return true;
  let cur = root;
  for (const part of rel.split(sep)) {
    cur = join(cur, part);
    const st = await lstat(cur).catch(() => undefined);
    if (st === undefined) return true;
    if (st.isSymbolicLink()) return false;
  }
  return true;
}

/**
 * The terminal view: the step lines stay, the output of the running step
 * scrolls in a window of the last few lines under it, dimmed, and is
 * cleared when the step ends.
 */
class LiveView {
  private readonly tail: string[] = [];
  private drawn = 0;
  private partial = '';
  readonly output: Output;

  constructor(private readonly out: Output) {
    this.output = { write: (s) => this.onText(typeof s === 'string' ? s : Buffer.from(s).toString()), isTTY: false, columns: 0, fd: -1 };
  }

  wrap(src: AsyncIterable<Buffer | string>): AsyncIterable<Buffer | string> {
    return src;
  }

  private clear(): void {
    for (let i = 0; i < this.drawn; i++) this.out.write('\u001b[1A\u001b[2K');
    this.drawn = 0;
  }

  private onText(s: string): void {
    const text = this.partial + s;
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const l of lines) {
      if (/^(Step \d+\/\d+ :| ---> |Successfully |Removing intermediate)/.test(l)) {
        this.clear();
        this.tail.length = 0;
        this.out.write(l + '\n');
      } else {
        this.tail.push(l);
        if (this.tail.length > 6) this.tail.shift();
        this.clear();
        for (const t of this.tail) this.out.write(`\u001b[2m  ${t.slice(0, 200)}\u001b[0m\n`);
        this.drawn = this.tail.length;
      }
    }
  }

  done(): void {
    if (this.partial !== '') this.out.write(this.partial + '\n');
    this.partial = '';
  }
}

/** One build check result, as the daemon reports it (src/build/dockerfile/checks.ts). */
interface Violation {
  rule: string;
  message: string;
  line: number;
  url: string;
}

function isViolation(v: unknown): v is Violation {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o['rule'] === 'string' && typeof o['message'] === 'string' && typeof o['line'] === 'number' && typeof o['url'] === 'string';
}

/** The summary buildx prints after a build with check warnings. */
function checkSummary(v: readonly Violation[]): string {
  const head = ` ${v.length} ${v.length === 1 ? 'warning' : 'warnings'} found (use docker --debug to expand):\n`;
  return head + v.map((x) => ` - ${x.rule}: ${x.message} (line ${x.line})\n`).join('');
}
