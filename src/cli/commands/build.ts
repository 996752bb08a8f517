/**
 * `berth build`: sends the context (a folder, a tarball, or `-` for a tar
 * or a lone Dockerfile on stdin) to POST /build, shows the message stream
 * (a live view redrawing the current step on a terminal, plain lines
 * otherwise), and optionally exports the result (--output
 * type=local|tar|oci). `--secret id=x,src=path` travels in the
 * X-Berth-Build-Secrets header, never in the context.
 *
 * The .dockerignore is applied by the daemon (src/build/dockerignore.ts);
 * the CLI sends the folder as is, in sorted order so the tar is stable.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join, resolve, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';
import type { CommandSpec } from '../argv.js';
import type { CommandContext, Output } from '../context.js';
import { StatusError } from '../errors.js';
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

/** The folder as a tar, names sorted, owners zeroed, `extra` (an outside Dockerfile) added. */
function tarFolder(root: string, extra?: { name: string; data: Buffer }): Readable {
  const pack = tarStream.pack();
  const out = pack as unknown as Readable;
  const walk = async (dir: string): Promise<void> => {
    for (const n of (await readdir(dir)).sort()) {
      const abs = join(dir, n);
      const name = relative(root, abs).split(sep).join('/');
      const st = await lstat(abs);
      const base = { name, mode: st.mode & 0o7777, mtime: st.mtime, uid: 0, gid: 0 };
      if (st.isDirectory()) {
        pack.entry({ ...base, type: 'directory' });
        await walk(abs);
      } else if (st.isSymbolicLink()) pack.entry({ ...base, type: 'symlink', linkname: await readlink(abs) });
      else if (st.isFile() && st.size <= 4 << 20) {
        // Small files in one piece: tar-stream's per-entry stream costs more than the read.
        const data = await readFile(abs);
        await new Promise<void>((res, rej) => pack.entry({ ...base, type: 'file', size: data.length }, data, (err) => (err ? rej(err) : res())));
      } else if (st.isFile()) {
        await new Promise<void>((res, rej) => {
          const e = pack.entry({ ...base, type: 'file', size: st.size }, (err) => (err ? rej(err) : res()));
          createReadStream(abs).on('error', rej).pipe(e);
        });
      }
    }
  };
  walk(root)
    .then(() => {
      if (extra !== undefined) pack.entry({ name: extra.name, mode: 0o644, uid: 0, gid: 0, mtime: new Date(0) }, extra.data);
      pack.finalize();
    })
    .catch((e: unknown) => pack.destroy(e instanceof Error ? e : new Error(String(e))));
  return out;
}

export async function run(ctx: CommandContext): Promise<number> {
  const target = ctx.args[0]!;
  const file = ctx.opts.string('file');
  let body: Readable;
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
      const pack = tarStream.pack();
      pack.entry({ name: 'Dockerfile', mode: 0o644, mtime: new Date(0) }, all);
      pack.finalize();
      body = pack as unknown as Readable;
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
      body = tarFolder(target, extra);
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
  const res = await client.stream('POST', '/build', {
    query: {
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
      rm: '1',
    },
    headers,
    body,
  });
  let id = '';
  const sink: Output = quiet ? { write: (): void => {}, isTTY: false, columns: 0, fd: -1 } : ctx.out;
  const view = ctx.out.isTTY && !quiet ? new LiveView(ctx.out) : undefined;
  const source = view !== undefined ? view.wrap(res) : res;
  try {
    await displayJsonMessages(source, view !== undefined ? view.output : sink, (aux) => {
      if (typeof aux === 'object' && aux !== null && typeof (aux as Record<string, unknown>)['ID'] === 'string') id = (aux as Record<string, string>)['ID']!;
    });
  } finally {
    view?.done();
  }
  if (quiet) ctx.out.write(`${id}\n`);
  const iid = ctx.opts.string('iidfile');
  if (iid !== '') await writeFile(iid, id);
  const output = ctx.opts.string('output');
  if (output !== '' && id !== '') await exportOutput(ctx, id, output);
  return 0;
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
    const ex = tarStream.extract();
    ex.on('entry', (h, stream, next) => {
      const p = resolve(root, h.name);
      // Entries may not leave dest; links are written as links, never followed.
      if (p !== root && !p.startsWith(root + sep)) {
        stream.resume();
        return next();
      }
      const done = (e?: unknown): void => (e ? ex.destroy(e instanceof Error ? e : new Error(String(e))) : next());
      if (h.type === 'directory') void mkdir(p, { recursive: true, mode: h.mode ?? 0o755 }).then(() => stream.resume(), done).finally(() => stream.on('end', () => next()));
      else if (h.type === 'file') {
        void mkdir(resolve(p, '..'), { recursive: true })
          .then(() => pipeline(stream, createWriteStream(p, { mode: h.mode ?? 0o644 })))
          .then(() => next(), done);
      } else if (h.type === 'symlink' && h.linkname !== undefined && h.linkname !== null) {
        void rm(p, { force: true })
          .then(() => symlink(h.linkname!, p))
          .then(() => stream.resume(), done)
          .finally(() => stream.on('end', () => next()));
      } else {
        stream.on('end', () => next());
        stream.resume();
      }
    });
    await pipeline(res, ex);
  } finally {
    await client.request('DELETE', `/containers/${created.Id}`, { query: { force: '1' } }).catch(() => undefined);
  }
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
