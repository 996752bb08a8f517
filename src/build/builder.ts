/**
 * The executor: runs the planned stages step by step, as Docker's classic
 * builder does (every step is an image whose parent is the previous step's;
 * RUN is a real container, "Running in <id>", committed then removed), with
 * BuildKit's Dockerfile features on top (heredocs, RUN --mount, COPY
 * --exclude/--parents, stage pruning).
 *
 * Cache: a step's key is the parent image ID + the instruction after
 * substitution (+ the build-arg environment for RUN) + for COPY/ADD the
 * content hash of the sources (bytes, names, modes; never mtimes). Keys map
 * to image IDs in `CacheStore`. Metadata-only steps need no key: their
 * result is content-addressed, so the same config is the same image.
 *
 * Reproducibility: configs hold no container IDs or wall-clock times;
 * `created` and every file mtime in new layers are clamped to
 * SOURCE_DATE_EPOCH, or by default to the base image's creation time.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile, chown as fchown, stat as fstat, open } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import type { Ctx } from '../base/ctx.js';
import { detectCompression } from '../base/compress.js';
import { autoDecompress } from '../base/compress.js';
import { shortId, type Digest } from '../base/digest.js';
import { errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { ContainerService } from '../containers/service.js';
import type { Image } from '../images/store.js';
import { familiarString, parseReference, withDefaultTag } from '../oci/reference.js';
import { chainIds } from '../oci/chain.js';
import { hostPlatform, parsePlatform } from '../oci/platform.js';
import type { ContainerConfig, HealthConfig, ImageConfig } from '../oci/types.js';
import { resolveInRoot, resolveUser } from '../runtime/user.js';
import { mountAll, unmountAll } from '../snapshots/mount.js';
import type { Mount, Snapshotter } from '../snapshots/types.js';
import { applyTar } from '../snapshots/unpack.js';
import { looksLikeTarHeader } from '../base/tar.js';
import { CacheStore } from './cache.js';
import { ContextStore } from './synced.js';
import { commitActive, commitUpper, registerStep, stateOf, type BuildState, type CommitDeps, type LayerResult } from './commit.js';
import type { BuildContext } from './context.js';
import { copyInto, hashEntries, resolveSource, walkSource, writeHeredoc, ensureDirIn, type Entry, type Source } from './copy.js';
import { IgnoreMatcher } from '../base/dockerignore.js';
import { flagsOf, parseDuration } from './dockerfile/instructions.js';
import { DockerfileSyntaxError, parseDockerfile, type RawInstruction } from './dockerfile/parser.js';
import { expandWord, expandWords, splitWordsRaw } from './dockerfile/shell.js';
import { parseArgDecls, plan, platformArgs, type Plan, type Stage } from './planner.js';

export interface BuilderDeps extends CommitDeps {
  readonly snapshots: Snapshotter;
  readonly containers: ContainerService;
  readonly log: Logger;
  /** <data-root>/build: cache keys, cache mounts, temp dirs. */
  readonly root: string;
  /** Fetches a missing base image (FROM / COPY --from); absent: not found is an error. */
  readonly pull?: (ctx: Ctx, ref: string, out: BuildOutput) => Promise<Image>;
}

export interface BuildRequest {
  readonly dockerfile?: string;
  readonly tags: readonly string[];
  readonly buildArgs: ReadonlyMap<string, string>;
  readonly target?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly noCache: boolean;
  readonly pull: boolean;
  readonly rm: boolean;
  readonly forceRm: boolean;
  readonly quiet: boolean;
  readonly platform?: string;
  readonly extraHosts: readonly string[];
  readonly networkMode: string;
  readonly shmSize?: number;
  readonly memory?: number;
  /** RUN --mount=type=secret sources: id → bytes. Never part of a cache key or a layer. */
  readonly secrets: ReadonlyMap<string, Buffer>;
  /** --cache-from: local images whose history may stand in for steps (missing ones are skipped, as dockerd). */
  readonly cacheFrom?: readonly string[];
}

export interface BuildOutput {
  stream(text: string): void;
  aux(v: Record<string, unknown>): void;
  /** Pull progress messages (status/id/progressDetail) for a base image being fetched. */
  progress?(m: Record<string, unknown>): void;
}

/** A failed build; `code` is a failed RUN's exit code (the CLI exits with it). */
export class BuildError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

const DEFAULT_SHELL = ['/bin/sh', '-c'];
/** Usable in RUN without declaring them; kept out of history and cache keys (Docker). */
const PROXY_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);

interface StageRun {
  readonly stage: Stage;
  st: BuildState;
  /** Declared ARGs with values, in declaration order. */
  readonly args: Map<string, string>;
  epoch: number;
  /** CMD set in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
}

interface Session {
  readonly ctx: Ctx;
  readonly req: BuildRequest;
  readonly context: BuildContext;
  readonly out: BuildOutput;
  readonly plan: Plan;
  readonly results: Map<number, BuildState>;
  readonly lease: { add(d: string): void; release(): void };
  readonly tmp: string;
  /** Read-only mounts of stage/image roots (COPY --from, RUN --mount from=), unmounted at the end. */
  readonly roots: Map<string, string>;
  readonly consumed: Set<string>;
  step: number;
  readonly total: number;
  readonly sourceDateEpoch?: number;
  /** Removals of step containers and scratch snapshots still running; awaited before the build returns. */
  readonly cleanups: Promise<void>[];
  /** The --cache-from images found, resolved on first use. */
  cacheSources?: Image[];
}

function envMap(env: readonly string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env ?? []) {
    const eq = e.indexOf('=');
    if (eq < 0) m.set(e, '');
    else m.set(e.slice(0, eq), e.slice(eq + 1));
  }
  return m;
}

function setEnv(env: readonly string[] | undefined, k: string, v: string): string[] {
  const out = [...(env ?? [])].filter((e) => e.split('=')[0] !== k);
  out.push(`${k}=${v}`);
  return out;
}

function isoOf(epoch: number): string {
  return new Date(epoch * 1000).toISOString().replace('.000Z', 'Z');
}

function sha(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
}

export class Builder {
  readonly cache: CacheStore;
  /** Contexts `berth build` keeps here between builds (see synced.ts). */
  readonly contexts: ContextStore;

  constructor(private readonly d: BuilderDeps) {
    this.cache = new CacheStore(join(d.root, 'cache'));
    this.contexts = new ContextStore(d.sys, join(d.root, 'contexts'), d.log);
  }

  /** Parses and plans without building: syntax errors surface before any output. */
  prepare(text: string, req: BuildRequest): Plan {
    const parsed = parseDockerfile(text);
    const host = hostPlatform();
    const target = req.platform !== undefined && req.platform !== '' ? parsePlatform(req.platform) : host;
    return plan(parsed, { buildArgs: req.buildArgs, ...(req.target !== undefined ? { target: req.target } : {}), platformArgs: platformArgs(target, host) });
  }

  async build(ctx: Ctx, context: BuildContext, req: BuildRequest, out: BuildOutput, p: Plan = this.prepare(context.dockerfile, req)): Promise<Digest> {
    await mkdir(join(this.d.root, 'tmp'), { recursive: true, mode: 0o700 });
    const tmp = await mkdtemp(join(this.d.root, 'tmp', 'b-'));
    const lease = this.d.leases.create({ expiresInMs: 6 * 3600_000 });
    const labelStep = Object.keys(req.labels).length > 0 ? 1 : 0;
    const total = p.order.reduce((a, i) => a + 1 + p.stages[i]!.body.length, 0) + labelStep;
    const sdeRaw = req.buildArgs.get('SOURCE_DATE_EPOCH');
    const sde = sdeRaw !== undefined && /^\d+$/.test(sdeRaw) ? Number(sdeRaw) : undefined;
    const s: Session = {
      ctx,
      req,
      context,
      out,
      plan: p,
      results: new Map(),
      lease,
      tmp,
      roots: new Map(),
      consumed: new Set(['SOURCE_DATE_EPOCH']),
      step: 0,
      total,
      cleanups: [],
      ...(sde !== undefined ? { sourceDateEpoch: sde } : {}),
    };
    try {
      let last: BuildState | undefined;
      for (const idx of p.order) {
        last = await this.runStage(s, p.stages[idx]!, idx === p.order.at(-1) && labelStep === 1);
        s.results.set(idx, last);
      }
      if (last?.image === undefined) throw new BuildError('No image was generated. Is your Dockerfile empty?');
      const unused = [...req.buildArgs.keys()].filter((k) => !s.consumed.has(k) && !p.globalDeclared.has(k) && !PROXY_ARGS.has(k));
      if (unused.length > 0) out.stream(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
      const id = last.image.record.id;
      out.aux({ ID: id });
      out.stream(`Successfully built ${shortId(id)}\n`);
      for (const t of req.tags) {
        const ref = withDefaultTag(parseReference(t));
        this.d.images.tag(id, t, undefined);
        out.stream(`Successfully tagged ${familiarString(ref)}\n`);
      }
      return id;
    } finally {
      await Promise.all(s.cleanups);
      for (const dir of s.roots.values()) {
        try {
          unmountAll(this.d.sys, dir);
        } catch (e) {
          ctx.log.warn('build: unmount failed', { dir, err: errorMessage(e) });
        }
      }
      await rm(tmp, { recursive: true, force: true }).catch(() => {});
      lease.release();
    }
  }

  private header(s: Session, ins: RawInstruction | string): void {
    s.step++;
    s.out.stream(`Step ${s.step}/${s.total} : ${typeof ins === 'string' ? ins : ins.source}\n`);
  }

  private idLine(s: Session, st: BuildState): void {
    s.out.stream(` ---> ${st.image !== undefined ? shortId(st.image.record.id) : '<scratch>'}\n`);
  }

  private async findImage(s: Session, ref: string): Promise<Image> {
    const img = s.req.pull ? undefined : this.d.images.index.find(ref);
    if (img !== undefined) return img;
    if (this.d.pull !== undefined) {
      try {
        return await this.d.pull(s.ctx, ref, s.out);
      } catch (e) {
        const have = this.d.images.index.find(ref);
        if (have !== undefined) return have;
        throw new BuildError(errorMessage(e));
      }
    }
    const have = this.d.images.index.find(ref);
    if (have !== undefined) return have;
    throw new BuildError(`pull access denied for ${ref}, repository does not exist or may require 'docker login': No such image: ${ref}`);
  }

  private async runStage(s: Session, stage: Stage, withLabels: boolean): Promise<BuildState> {
    this.header(s, stage.from);
    let st: BuildState;
    if (stage.base.kind === 'stage') {
      const r = s.results.get(stage.base.stage);
      if (r === undefined) throw new BuildError(`stage ${stage.base.stage} was not built`);
      st = r;
    } else if (stage.base.kind === 'scratch') {
      const plat = stage.platform !== undefined ? parsePlatform(stage.platform) : s.req.platform !== undefined && s.req.platform !== '' ? parsePlatform(s.req.platform) : hostPlatform();
      st = { config: { architecture: plat.architecture, os: plat.os, ...(plat.variant !== undefined ? { variant: plat.variant } : {}), config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] }, layers: [] };
    } else {
      st = stateOf(await this.findImage(s, stage.base.ref));
    }
    if (stage.base.kind === 'scratch') s.out.stream(` ---> \n`);
    else this.idLine(s, st);
    const baseCreated = st.config.created !== undefined ? Math.floor(Date.parse(st.config.created) / 1000) : 0;
    const run: StageRun = { stage, st, args: new Map(), epoch: s.sourceDateEpoch ?? (Number.isFinite(baseCreated) ? baseCreated : 0), cmdSet: false };
    // ONBUILD triggers of the base run first (Docker), then are cleared.
    const triggers = st.config.config?.OnBuild ?? [];
    if (triggers.length > 0 && stage.base.kind === 'image') {
      s.out.stream(` # Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
      const cfg = { ...st.config, config: { ...(st.config.config ?? {}), OnBuild: null } };
      run.st = { ...run.st, config: cfg };
      for (const t of triggers) {
        const parsed = parseDockerfile(t);
        for (const ins of parsed.instructions) await this.runStep(s, run, ins, false);
      }
    }
    for (const ins of stage.body) {
      const t0 = performance.now();
      await this.runStep(s, run, ins, true);
      // Per-step durations at debug level: where a slow build spends its time.
      s.ctx.log.debug('build step', { step: s.step, cmd: ins.cmd, ms: Math.round(performance.now() - t0) });
    }
    if (withLabels) {
      const text = 'LABEL ' + Object.entries(s.req.labels).map(([k, v]) => `${JSON.stringify(k)}=${JSON.stringify(v)}`).join(' ');
      const ins = parseDockerfile(text).instructions[0]!;
      await this.runStep(s, run, ins, true);
    }
    return run.st;
  }

  /** The variables a step's arguments see: declared ARGs, overridden by ENV. */
  private vars(run: StageRun): Map<string, string> {
    return new Map([...run.args, ...envMap(run.st.config.config?.Env)]);
  }

  private async runStep(s: Session, run: StageRun, ins: RawInstruction, numbered: boolean): Promise<void> {
    if (numbered) this.header(s, ins);
    const esc = s.plan.escape;
    const line = ins.startLine;
    const vars = this.vars(run);
    const ex = (w: string): string => {
      try {
        return expandWord(w, vars, esc);
      } catch (e) {
        throw new DockerfileSyntaxError(errorMessage(e), line);
      }
    };
    const cfg: ContainerConfig = { ...(run.st.config.config ?? {}) };
    const shell = cfg.Shell ?? DEFAULT_SHELL;
    const nop = (text: string): string => `/bin/sh -c #(nop) ${text}`;
    switch (ins.cmd) {
      case 'arg': {
        for (const d of parseArgDecls(ins, esc)) {
          s.consumed.add(d.name);
          const v = s.req.buildArgs.get(d.name) ?? (d.def !== undefined ? ex(d.def) : s.plan.globalArgs.get(d.name));
          if (v !== undefined) run.args.set(d.name, v);
          else run.args.delete(d.name);
        }
        this.idLine(s, run.st);
        return;
      }
      case 'env':
      case 'label': {
        const pairs = this.keyValues(ins, esc, ex);
        if (ins.cmd === 'env') {
          let env = cfg.Env ?? [];
          for (const [k, v] of pairs) env = setEnv(env, k, v);
          cfg.Env = env;
        } else cfg.Labels = { ...(cfg.Labels ?? {}), ...Object.fromEntries(pairs) };
        const text = `${ins.cmd.toUpperCase()} ${pairs.map(([k, v]) => (ins.cmd === 'env' ? `${k}=${v}` : `${JSON.stringify(k)}=${JSON.stringify(v)}`)).join(' ')}`;
        return this.metaStep(s, run, cfg, nop(text));
      }
      case 'maintainer': {
        const a = ex(ins.args.trim());
        return this.metaStep(s, run, cfg, nop(`MAINTAINER ${a}`), { author: a });
      }
      case 'cmd':
      case 'entrypoint': {
        const argv = ins.json !== undefined ? [...ins.json] : [...shell, ins.args];
        if (ins.cmd === 'cmd') {
          cfg.Cmd = argv;
          run.cmdSet = true;
        } else {
          cfg.Entrypoint = argv;
          if (!run.cmdSet) cfg.Cmd = null;
        }
        if (ins.json === undefined) cfg.ArgsEscaped = true;
        else delete cfg.ArgsEscaped;
        return this.metaStep(s, run, cfg, nop(`${ins.cmd.toUpperCase()} ${JSON.stringify(argv)}`));
      }
      case 'expose': {
        const ports = { ...(cfg.ExposedPorts ?? {}) };
        for (const w of expandWords(ins.args, vars, esc)) {
          const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(w);
          if (m === null) throw new DockerfileSyntaxError(`invalid containerPort: ${w}`, line);
          const lo = Number(m[1]);
          const hi = m[2] !== undefined ? Number(m[2]) : lo;
          for (let p = lo; p <= hi; p++) ports[`${p}/${(m[3] ?? 'tcp').toLowerCase()}`] = {};
        }
        cfg.ExposedPorts = ports;
        return this.metaStep(s, run, cfg, nop(`EXPOSE ${Object.keys(ports).sort().join(' ')}`));
      }
      case 'volume': {
        const vols = { ...(cfg.Volumes ?? {}) };
        const list = ins.json !== undefined ? ins.json.map(ex) : expandWords(ins.args, vars, esc);
        for (const v of list) {
          if (v.trim() === '') throw new DockerfileSyntaxError('VOLUME specified can not be an empty string', line);
          vols[v] = {};
        }
        cfg.Volumes = vols;
        return this.metaStep(s, run, cfg, nop(`VOLUME ${JSON.stringify(list)}`));
      }
      case 'user':
        cfg.User = ex(ins.args.trim());
        return this.metaStep(s, run, cfg, nop(`USER ${cfg.User}`));
      case 'workdir': {
        const w = ex(ins.args.trim());
        cfg.WorkingDir = posix.resolve(cfg.WorkingDir !== undefined && cfg.WorkingDir !== '' ? cfg.WorkingDir : '/', w);
        return this.metaStep(s, run, cfg, nop(`WORKDIR ${cfg.WorkingDir}`));
      }
      case 'stopsignal':
        cfg.StopSignal = ex(ins.args.trim());
        return this.metaStep(s, run, cfg, nop(`STOPSIGNAL ${cfg.StopSignal}`));
      case 'shell':
        cfg.Shell = [...ins.json!];
        return this.metaStep(s, run, cfg, nop(`SHELL ${JSON.stringify(cfg.Shell)}`));
      case 'onbuild': {
        const trigger = ins.args.trim();
        cfg.OnBuild = [...(cfg.OnBuild ?? []), trigger];
        return this.metaStep(s, run, cfg, nop(`ONBUILD ${trigger}`));
      }
      case 'healthcheck': {
        const f = flagsOf(ins);
        const rest = ins.args.trim();
        let hc: HealthConfig;
        if (/^none$/i.test(rest)) hc = { Test: ['NONE'] };
        else {
          const cmdText = rest.replace(/^cmd\s*/i, '');
          let test: string[];
          try {
            const j: unknown = JSON.parse(cmdText);
            test = Array.isArray(j) && j.every((x) => typeof x === 'string') ? ['CMD', ...(j as string[])] : ['CMD-SHELL', cmdText];
          } catch {
            test = ['CMD-SHELL', cmdText];
          }
          hc = { Test: test };
          const dur = (n: string, k: 'Interval' | 'Timeout' | 'StartPeriod' | 'StartInterval'): void => {
            const v = f.get(n);
            if (v !== undefined) hc[k] = parseDuration(v, line);
          };
          dur('interval', 'Interval');
          dur('timeout', 'Timeout');
          dur('start-period', 'StartPeriod');
          dur('start-interval', 'StartInterval');
          const r = f.get('retries');
          if (r !== undefined) {
            if (!/^\d+$/.test(r)) throw new DockerfileSyntaxError(`invalid retries: ${r}`, line);
            hc.Retries = Number(r);
          }
        }
        cfg.Healthcheck = hc;
        return this.metaStep(s, run, cfg, nop(`HEALTHCHECK &{${JSON.stringify(hc.Test)}}`));
      }
      case 'run':
        return this.runRun(s, run, ins, vars);
      case 'copy':
      case 'add':
        return this.runCopy(s, run, ins, vars);
      case 'from':
        throw new DockerfileSyntaxError('unexpected FROM', line);
      default:
        throw new DockerfileSyntaxError(`unknown instruction: ${ins.original.toUpperCase()}`, line);
    }
  }

  private keyValues(ins: RawInstruction, esc: string, ex: (w: string) => string): [string, string][] {
    const words = splitWordsRaw(ins.args, esc);
    if (words.length > 0 && !words[0]!.includes('=')) {
      // Legacy `ENV key value with spaces`.
      const key = words[0]!;
      const rest = ins.args.trim().slice(key.length).trim();
      return [[key, ex(rest)]];
    }
    return words.map((w) => {
      const eq = w.indexOf('=');
      if (eq < 0) throw new DockerfileSyntaxError(`${ins.cmd.toUpperCase()} names can not be blank`, ins.startLine);
      const k = ex(w.slice(0, eq));
      if (k === '') throw new DockerfileSyntaxError(`${ins.cmd.toUpperCase()} names can not be blank`, ins.startLine);
      return [k, ex(w.slice(eq + 1))];
    });
  }

  private baseConfig(run: StageRun, cfg: ContainerConfig): ImageConfig {
    const c: ImageConfig = { ...run.st.config, config: cfg, created: isoOf(run.epoch) };
    delete c.container;
    delete c.container_config;
    return c;
  }

  /** A step that changes only the config: content-addressed, so an existing ID is the cache. */
  private async metaStep(s: Session, run: StageRun, cfg: ContainerConfig, createdBy: string, extra: { author?: string } = {}): Promise<void> {
    const config = this.baseConfig(run, cfg);
    if (extra.author !== undefined) config.author = extra.author;
    const next = await registerStep(s.ctx, this.d, run.st, config, { created: isoOf(run.epoch), created_by: createdBy }, undefined, s.lease);
    if (next.existed && !s.req.noCache) s.out.stream(' ---> Using cache\n');
    run.st = next;
    this.idLine(s, next);
  }

  // --- RUN --------------------------------------------------------------------

  private async runRun(s: Session, run: StageRun, ins: RawInstruction, vars: Map<string, string>): Promise<void> {
    const cfg = run.st.config.config ?? {};
    const shell = cfg.Shell ?? DEFAULT_SHELL;
    let argv: string[];
    if (ins.json !== undefined) argv = [...ins.json];
    else if (ins.heredocs.length === 1 && /^<<-?["']?[A-Za-z_][A-Za-z0-9_.-]*["']?$/.test(ins.args.trim())) {
      argv = [...shell, ins.heredocs[0]!.content];
    } else if (ins.heredocs.length > 0) {
      // The shell understands heredocs itself: hand it the text with the bodies.
      argv = [...shell, [ins.args, ...ins.heredocs.map((h) => `${h.content}${h.name}`)].join('\n')];
    } else argv = [...shell, ins.args];
    const f = flagsOf(ins);
    const esc = s.plan.escape;
    const network = f.get('network') !== undefined ? expandWord(f.get('network')!, vars, esc) : undefined;
    if (network !== undefined && !['default', 'none', 'host'].includes(network)) throw new DockerfileSyntaxError(`unsupported network mode ${network}`, ins.startLine);
    const mounts = f.all('mount').map((m) => parseMount(expandWord(m, vars, esc), ins.startLine));
    // Build args in scope reach RUN's environment but never override ENV.
    const env = [...(cfg.Env ?? [])];
    const envKeys = new Set(env.map((e) => e.split('=')[0]));
    const argEnv: string[] = [];
    for (const [k, v] of run.args) if (!envKeys.has(k)) argEnv.push(`${k}=${v}`);
    for (const [k, v] of s.req.buildArgs) if (PROXY_ARGS.has(k) && !envKeys.has(k) && !run.args.has(k)) env.push(`${k}=${v}`);
    const runEnv = [...env, ...argEnv];
    const cmdText = ins.json !== undefined ? JSON.stringify(argv) : argv.join(' ');
    const createdBy = argEnv.length > 0 ? `|${argEnv.length} ${argEnv.join(' ')} ${cmdText}` : cmdText;
    const mountKey = mounts.map((m) => JSON.stringify({ ...m, secretBytes: undefined })).join(';');
    const key = sha('run', run.st.image?.record.id ?? 'scratch', createdBy, JSON.stringify(runEnv), mountKey, network ?? s.req.networkMode);
    if ((await this.useCache(s, run, key)) || (await this.fromCacheSources(s, run, key, createdBy, cfg))) return;
    if (run.st.image === undefined) throw new BuildError(`failed to run ${cmdText}: the stage has no filesystem (FROM scratch)`);

    // Mount sources on the host; targets are skipped at commit.
    const binds: string[] = [];
    const tmpfs: Record<string, string> = {};
    const skip: string[] = [];
    const stepTmp = await mkdtemp(join(s.tmp, 'run-'));
    for (const m of mounts) {
      const target = posix.resolve(cfg.WorkingDir !== undefined && cfg.WorkingDir !== '' ? cfg.WorkingDir : '/', m.target);
      skip.push(...ancestors(target.slice(1)));
      if (m.type === 'cache') {
        const dir = join(this.d.root, 'mounts', sha(m.id ?? target).slice(0, 32));
        if (!(await fstat(dir).then(() => true, () => false))) {
          await mkdir(dir, { recursive: true, mode: m.mode ?? 0o755 });
          await fchown(dir, m.uid ?? 0, m.gid ?? 0);
        }
        binds.push(`${dir}:${target}:rw`);
      } else if (m.type === 'tmpfs') {
        tmpfs[target] = m.size !== undefined ? `size=${m.size}` : '';
      } else if (m.type === 'secret') {
        const id = m.id ?? posix.basename(target);
        const bytes = s.req.secrets.get(id);
        if (bytes === undefined) {
          if (m.required) throw new BuildError(`secret ${id} not found`);
          continue;
        }
        const file = join(stepTmp, `secret-${sha(id).slice(0, 16)}`);
        await writeFile(file, bytes, { mode: m.mode ?? 0o400 });
        await fchown(file, m.uid ?? 0, m.gid ?? 0);
        binds.push(`${file}:${m.target === '' ? `/run/secrets/${id}` : target}:ro`);
        if (m.target === '') skip.push(...ancestors(`run/secrets/${id}`));
      } else if (m.type === 'bind') {
        const root = m.from !== undefined ? await this.rootOf(s, m.from) : s.context.root;
        const src = await resolveInRoot(root, '/' + (m.source ?? ''));
        binds.push(`${src}:${target}:ro`);
      }
    }
    // -q shows no step output: then nobody attaches (no attach session to set up before the start, nor to drain after the exit).
    const attach = !s.req.quiet;
    const body = {
      Image: run.st.image.record.id,
      Cmd: argv,
      Entrypoint: [],
      Env: runEnv,
      WorkingDir: cfg.WorkingDir ?? '',
      User: cfg.User ?? '',
      Labels: {},
      AttachStdout: attach,
      AttachStderr: attach,
      HostConfig: {
        NetworkMode: network ?? (s.req.networkMode === '' ? 'default' : s.req.networkMode),
        ExtraHosts: [...s.req.extraHosts],
        Binds: binds,
        Tmpfs: tmpfs,
        ...(s.req.shmSize !== undefined && s.req.shmSize > 0 ? { ShmSize: s.req.shmSize } : {}),
        ...(s.req.memory !== undefined && s.req.memory > 0 ? { Memory: s.req.memory } : {}),
      },
    };
    const containers = this.d.containers;
    let id: string | undefined;
    let ok = false;
    try {
      const t0 = performance.now();
      id = (await containers.create(s.ctx, body, undefined)).Id;
      const tCreated = performance.now();
      s.out.stream(` ---> Running in ${id.slice(0, 12)}\n`);
      let detach: (() => void) | undefined;
      const ended = new Promise<void>((resolve) => {
        if (!attach) return resolve();
        void containers
          .attach(s.ctx, id!, {
            write: (stream, data) => s.out.stream(stream === 2 ? `\u001b[91m${data.toString()}\u001b[0m` : data.toString()),
            end: () => resolve(),
          })
          .then((d) => (detach = d));
      });
      await containers.start(s.ctx, id);
      const { code } = await containers.wait(id, 'not-running', s.ctx.signal);
      await Promise.race([ended, new Promise((r) => setTimeout(r, 2000))]);
      const tRan = performance.now();
      detach?.();
      if (code !== 0) throw new BuildError(`The command '${cmdText}' returned a non-zero code: ${code}`, code);
      const ms = await this.d.snapshots.mounts(id);
      const { upper, lowers } = upperAndLowers(ms, this.d.snapshots.upperDir(id));
      const layer = await commitUpper(s.ctx, this.d, upper, lowers, skip, run.epoch, s.lease);
      const tCommitted = performance.now();
      run.st = await registerStep(s.ctx, this.d, run.st, this.baseConfig(run, { ...cfg }), { created: isoOf(run.epoch), created_by: createdBy }, layer, s.lease);
      s.ctx.log.debug('build run', { createMs: Math.round(tCreated - t0), runMs: Math.round(tRan - tCreated), commitMs: Math.round(tCommitted - tRan), registerMs: Math.round(performance.now() - tCommitted) });
      ok = true;
    } finally {
      // Docker: rm removes the step's container after success; forcerm also after failure.
      if (id !== undefined && ((ok && s.req.rm) || s.req.forceRm)) {
        // In the background (~100+ ms a container): the next step need not
        // wait for it; the build waits for every removal before it returns.
        const cid = id;
        s.cleanups.push(
          containers
            .remove(s.ctx, cid, { force: true, volumes: true })
            .catch((e: unknown) => s.ctx.log.warn('build: removing step container failed', { id: cid, err: errorMessage(e) }))
            .then(() => rm(stepTmp, { recursive: true, force: true }))
            .catch(() => {}),
        );
        s.out.stream(`Removing intermediate container ${id.slice(0, 12)}\n`);
      } else await rm(stepTmp, { recursive: true, force: true }).catch(() => {});
    }
    await this.cache.put(key, run.st.image!.record.id);
    this.idLine(s, run.st);
  }

  private async useCache(s: Session, run: StageRun, key: string): Promise<boolean> {
    if (s.req.noCache) return false;
    const id = await this.cache.get(key);
    if (id === undefined) return false;
    const img = this.d.images.index.byId(id as Digest);
    if (img === undefined) return false;
    // Layers may have been collected since; the image is usable only with them.
    const top = chainIds(img.config.rootfs.diff_ids).at(-1);
    if (top !== undefined && (await this.d.snapshots.stat(top)) === undefined) return false;
    s.out.stream(' ---> Using cache\n');
    run.st = stateOf(img);
    this.idLine(s, run.st);
    return true;
  }

  /**
   * --cache-from, as dockerd's classic builder: a step is taken from a
   * cache source when the source's history begins with the current
   * image's (same created_by entries, same layers) and its next entry was
   * made by this very step (same created_by: for COPY/ADD that holds the
   * sources' content key). The step's image is then made from the current
   * config, that history entry and, unless it is an empty layer, the
   * source's next layer (already here: the source is a local image).
   */
  private async fromCacheSources(s: Session, run: StageRun, key: string, createdBy: string, cfg: ContainerConfig): Promise<boolean> {
    if (s.req.noCache || (s.req.cacheFrom ?? []).length === 0 || run.st.image === undefined) return false;
    s.cacheSources ??= (s.req.cacheFrom ?? []).map((r) => this.d.images.index.find(r)).filter((x): x is Image => x !== undefined);
    const h = run.st.config.history ?? [];
    const ids = run.st.config.rootfs.diff_ids;
    for (const img of s.cacheSources) {
      const hc = img.config.history ?? [];
      const idc = img.config.rootfs.diff_ids;
      const next = hc[h.length];
      if (next === undefined || next.created_by !== createdBy) continue;
      if (h.some((e, i) => hc[i]!.created_by !== e.created_by || (hc[i]!.empty_layer === true) !== (e.empty_layer === true))) continue;
      if (idc.length < ids.length || ids.some((d, i) => idc[i] !== d)) continue;
      let layer: LayerResult | undefined;
      if (next.empty_layer !== true) {
        const desc = img.manifest.layers[ids.length];
        const diffId = idc[ids.length];
        if (desc === undefined || diffId === undefined) continue;
        layer = { digest: diffId, size: desc.size, desc };
      }
      const { empty_layer: _e, ...entry } = next;
      void _e;
      run.st = await registerStep(s.ctx, this.d, run.st, this.baseConfig(run, { ...cfg }), entry, layer, s.lease);
      await this.cache.put(key, run.st.image!.record.id);
      s.out.stream(' ---> Using cache\n');
      this.idLine(s, run.st);
      return true;
    }
    return false;
  }

  /** A read-only view of a stage's or an image's filesystem (mounted once per build). */
  private async rootOf(s: Session, from: string): Promise<string> {
    const p = s.plan;
    let state: BuildState | undefined;
    const byName = p.stages.find((x) => x.name === from.toLowerCase());
    if (byName !== undefined) state = s.results.get(byName.index);
    else if (/^\d+$/.test(from)) state = s.results.get(Number(from));
    if (state === undefined) state = stateOf(await this.findImage(s, from));
    return this.stateRoot(s, state);
  }

  /** A read-only view of a build state's filesystem (mounted once per build). */
  private async stateRoot(s: Session, state: BuildState): Promise<string> {
    const top = chainIds(state.config.rootfs.diff_ids).at(-1);
    const key = top ?? 'empty';
    const have = s.roots.get(key);
    if (have !== undefined) return have;
    const dir = join(s.tmp, `root-${s.roots.size}`);
    await mkdir(dir, { recursive: true });
    if (top !== undefined) {
      mountAll(this.d.sys, await this.d.snapshots.mounts(top), dir);
    }
    s.roots.set(key, dir);
    return dir;
  }

  // --- COPY / ADD -------------------------------------------------------------

  private async runCopy(s: Session, run: StageRun, ins: RawInstruction, vars: Map<string, string>): Promise<void> {
    const esc = s.plan.escape;
    const line = ins.startLine;
    const f = flagsOf(ins);
    const isAdd = ins.cmd === 'add';
    const ex = (w: string): string => expandWord(w, vars, esc);
    const words = ins.json !== undefined ? ins.json.map(ex) : expandWords(ins.args, vars, esc);
    const heredocNames = new Map(ins.heredocs.map((h) => [h.name, h]));
    let destRaw = words.at(-1)!;
    let srcs = words.slice(0, -1);
    if (srcs.length === 0 && ins.heredocs.length > 0) {
      destRaw = words.at(-1)!;
      srcs = [];
    }
    const cfg = run.st.config.config ?? {};
    const wd = cfg.WorkingDir !== undefined && cfg.WorkingDir !== '' ? cfg.WorkingDir : '/';
    const destIsDir = destRaw.endsWith('/') || destRaw === '.' || destRaw.endsWith('/.');
    const dest = posix.resolve(wd, destRaw);
    const from = f.get('from') !== undefined ? ex(f.get('from')!) : undefined;
    if (from !== undefined && isAdd) throw new DockerfileSyntaxError('ADD does not support the --from flag', line);
    const chownSpec = f.get('chown') !== undefined ? ex(f.get('chown')!) : undefined;
    const chmodSpec = f.get('chmod') !== undefined ? ex(f.get('chmod')!) : undefined;
    let mode: number | undefined;
    if (chmodSpec !== undefined) {
      if (!/^[0-7]{3,4}$/.test(chmodSpec)) throw new DockerfileSyntaxError(`invalid chmod parameter: ${chmodSpec}`, line);
      mode = parseInt(chmodSpec, 8);
    }
    const excludes = f.all('exclude').map(ex);
    const parents = f.bool('parents');
    const link = f.bool('link');
    const checksum = f.get('checksum');
    const root = from !== undefined ? await this.rootOf(s, from) : s.context.root;
    const what = from !== undefined ? `stage ${from}` : 'build context';
    const ro = {
      ...(from === undefined ? { ignore: s.context.ignore } : {}),
      ...(excludes.length > 0 ? { exclude: new IgnoreMatcher(excludes) } : {}),
      what,
    };
    const items: { src: Source; entries: Entry[] }[] = [];
    const heredocs: { name: string; content: string }[] = [];
    const urls: string[] = [];
    for (const src of srcs) {
      const hd = /^<<-?["']?([A-Za-z_][A-Za-z0-9_.-]*)["']?$/.exec(src);
      if (hd !== null && heredocNames.has(hd[1]!)) {
        const h = heredocNames.get(hd[1]!)!;
        heredocs.push({ name: h.name, content: h.expand ? ex(h.content) : h.content });
        continue;
      }
      if (isAdd && /^https?:\/\//.test(src)) {
        urls.push(src);
        continue;
      }
      let list: Source[];
      try {
        list = await resolveSource(root, src, ro);
      } catch (e) {
        throw new BuildError(errorMessage(e));
      }
      for (const x of list) items.push({ src: x, entries: await walkSource(x, ro) });
    }
    const nsrc = items.length + heredocs.length + urls.length;
    if (nsrc > 1 && !destIsDir) throw new BuildError(`When using ${ins.cmd.toUpperCase()} with more than one source file, the destination must be a directory and end with a /`);
    // The key: parent + instruction after substitution + the sources' content.
    const h = createHash('sha256');
    h.update(`${ins.cmd}\0${JSON.stringify({ srcs, dest, destIsDir, from, chownSpec, chmodSpec, excludes, parents, checksum, link })}\0`);
    for (const it of items) {
      h.update(`src\0${it.src.rel}\0`);
      await hashEntries(h, it.entries, from === undefined ? (st) => s.context.digestOf(st) : undefined);
    }
    for (const hd of heredocs) h.update(`heredoc\0${hd.name}\0${hd.content}\0`);
    for (const u of urls) h.update(`url\0${u}\0`);
    const stepHash = h.digest('hex');
    const key = sha(stepHash, run.st.image?.record.id ?? 'scratch');
    // --link: the layer depends on the step alone (and the mtime clamp), not on what it lands on.
    const linkKey = sha('link', stepHash, String(run.epoch));
    const tKey = performance.now();
    const createdBy = `/bin/sh -c #(nop) ${ins.cmd.toUpperCase()} ${srcs.length > 0 ? `multi:${(link ? linkKey : key).slice(0, 16)}` : ''} in ${dest} `;
    if (urls.length === 0 && ((await this.useCache(s, run, key)) || (await this.fromCacheSources(s, run, key, createdBy, cfg)))) return;
    if (link && urls.length === 0 && !s.req.noCache && (await this.linkedLayer(s, run, key, linkKey, createdBy, cfg))) return;

    const snapKey = `build-${sha(key, String(Date.now()), String(Math.random())).slice(0, 24)}`;
    // --link copies into an empty filesystem: the layer holds the copied files and the directories above them, nothing of the base.
    const parentChain = link ? undefined : chainIds(run.st.config.rootfs.diff_ids).at(-1);
    const mnt = await mkdtemp(join(s.tmp, 'mnt-'));
    let layer: LayerResult | undefined;
    await this.d.snapshots.prepare(s.ctx, snapKey, parentChain);
    // Once staged, the snapshot's directory is the layer's: nothing to remove.
    let staged = false;
    try {
      const ms = await this.d.snapshots.mounts(snapKey);
      mountAll(this.d.sys, ms, mnt);
      const tMounted = performance.now();
      try {
        let uid: number | undefined;
        let gid: number | undefined;
        if (chownSpec !== undefined) {
          // Names are the stage's users, also for --link (whose own filesystem is empty).
          const users = link && run.st.image !== undefined ? await this.stateRoot(s, run.st) : mnt;
          const u = await resolveUser(users, chownSpec).catch((e: unknown) => {
            throw new BuildError(`unable to convert uid/gid chown string to host mapping: ${errorMessage(e)}`);
          });
          uid = u.uid;
          gid = chownSpec.includes(':') ? u.gid : u.gid;
        }
        const co = { ...(uid !== undefined ? { uid, gid: gid ?? uid } : {}), ...(mode !== undefined ? { mode } : {}), keepOwner: from !== undefined, epoch: run.epoch };
        // --link: the directories above the destination are in the layer too and cover the base's: root's, 0755, never --chown's.
        if (link && posix.dirname(dest) !== '/') await ensureDirIn(mnt, posix.dirname(dest), { keepOwner: false });
        const plain: { src: Source; entries: Entry[] }[] = [];
        for (const it of items) {
          if (isAdd && it.src.st.isFile() && (await isArchive(it.src.abs))) {
            const target = await ensureDirIn(mnt, dest, co);
            const { createReadStream } = await import('node:fs');
            try {
              await applyTar(this.d.sys, target, createReadStream(it.src.abs).pipe(autoDecompress()), { overlayWhiteouts: false });
            } catch (e) {
              throw new BuildError(`ADD failed: ${it.src.rel}: ${errorMessage(e)}`);
            }
          } else plain.push(it);
        }
        if (plain.length > 0) await copyInto(mnt, plain, dest, destIsDir || nsrc > 1, co, parents);
        for (const hd of heredocs) await writeHeredoc(mnt, destIsDir ? posix.join(dest, hd.name) : dest, hd.content, co);
        for (const u of urls) await this.download(u, checksum, mnt, destIsDir ? posix.join(dest, posix.basename(new URL(u).pathname) || 'index.html') : dest, co);
      } finally {
        unmountAll(this.d.sys, mnt);
      }
      const tCopied = performance.now();
      const { upper } = upperAndLowers(ms, this.d.snapshots.upperDir(snapKey));
      layer = await commitActive(s.ctx, this.d, this.d.snapshots, snapKey, upper, run.epoch, s.lease);
      staged = layer !== undefined;
      s.ctx.log.debug('build copy', { mountMs: Math.round(tMounted - tKey), copyMs: Math.round(tCopied - tMounted), commitMs: Math.round(performance.now() - tCopied) });
    } finally {
      // In the background, as step containers: the build waits for it before returning.
      if (staged) void rm(mnt, { recursive: true, force: true }).catch(() => {});
      else s.cleanups.push(
        this.d.snapshots
          .remove(snapKey)
          .catch((e: unknown) => s.ctx.log.warn('build: snapshot removal failed', { key: snapKey, err: errorMessage(e) }))
          .then(() => rm(mnt, { recursive: true, force: true }))
          .catch(() => {}),
      );
    }
    run.st = await registerStep(s.ctx, this.d, run.st, this.baseConfig(run, { ...cfg }), { created: isoOf(run.epoch), created_by: createdBy }, layer, s.lease);
    await this.cache.put(key, run.st.image!.record.id);
    if (link && layer !== undefined) await this.cache.put(linkKey, layer.digest);
    this.idLine(s, run.st);
  }

  /**
   * COPY --link on a new base: the layer this step made before (on any
   * base) goes on top of the current image as it is; only the new chain's
   * snapshot is unpacked from it, nothing is copied or hashed again.
   */
  private async linkedLayer(s: Session, run: StageRun, key: string, linkKey: string, createdBy: string, cfg: ContainerConfig): Promise<boolean> {
    const diffId = await this.cache.get(linkKey);
    if (diffId === undefined) return false;
    const info = await this.d.content.info(diffId as Digest).catch(() => undefined);
    if (info === undefined) return false;
    run.st = await registerStep(s.ctx, this.d, run.st, this.baseConfig(run, { ...cfg }), { created: isoOf(run.epoch), created_by: createdBy }, { digest: diffId as Digest, size: info.size }, s.lease);
    await this.cache.put(key, run.st.image!.record.id);
    s.out.stream(' ---> Using cache\n');
    this.idLine(s, run.st);
    return true;
  }

  private async download(url: string, checksum: string | undefined, rootfs: string, dest: string, co: { uid?: number; gid?: number; mode?: number; keepOwner: boolean }): Promise<void> {
    const res = await fetch(url);
    if (!res.ok) throw new BuildError(`failed to GET ${url} with status ${res.status} ${res.statusText}`);
    const body = Buffer.from(await res.arrayBuffer());
    if (checksum !== undefined) {
      const got = `sha256:${createHash('sha256').update(body).digest('hex')}`;
      if (got !== checksum) throw new BuildError(`digest mismatch ${got}: ${checksum}`);
    }
    await writeHeredoc(rootfs, dest, '', { ...co, mode: co.mode ?? 0o600 });
    const fh = await open(await resolveInRoot(rootfs, dest), 'w');
    try {
      await fh.writeFile(body);
    } finally {
      await fh.close();
    }
  }

  /** POST /build/prune: forgets every cache key and empties cache mounts. */
  async prune(): Promise<{ CachesDeleted: string[] | null; SpaceReclaimed: number }> {
    const keys = await this.cache.clear();
    await this.contexts.prune();
    const { diskUsage } = await import('../snapshots/overlay.js');
    const mounts = join(this.d.root, 'mounts');
    const space = await diskUsage(mounts).catch(() => 0);
    await rm(mounts, { recursive: true, force: true });
    return { CachesDeleted: keys.length > 0 ? keys : null, SpaceReclaimed: space };
  }
}

function ancestors(rel: string): string[] {
  const parts = rel.split('/').filter((x) => x !== '');
  const out: string[] = [];
  for (let i = 1; i <= parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}

function upperAndLowers(ms: readonly Mount[], fallback: string): { upper: string; lowers: string[] } {
  const m = ms[0];
  if (m !== undefined && m.type === 'overlay') {
    const opt = (k: string): string | undefined => m.options.find((o) => o.startsWith(`${k}=`))?.slice(k.length + 1);
    const lower = opt('lowerdir');
    return { upper: opt('upperdir') ?? fallback, lowers: lower === undefined ? [] : lower.split(':') };
  }
  return { upper: fallback, lowers: [] };
}

async function isArchive(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  let head: Buffer;
  try {
    head = Buffer.alloc(8);
    await fh.read(head, 0, 8, 0);
  } finally {
    await fh.close();
  }
  const kind = detectCompression(head);
  const { createReadStream } = await import('node:fs');
  const src: Readable = createReadStream(path, { start: 0, end: kind === 'none' ? 511 : 1 << 20 });
  const stream = kind === 'none' ? src : src.pipe(autoDecompress());
  src.on('error', () => {});
  const parts: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of stream) {
      parts.push(c as Buffer);
      n += (c as Buffer).length;
      if (n >= 512) break;
    }
  } catch {
    /* a truncated compressed prefix: enough was read or it is not an archive */
  }
  src.destroy();
  const b = Buffer.concat(parts);
  return b.length >= 512 && looksLikeTarHeader(b.subarray(0, 512));
}

export interface MountSpec {
  type: 'bind' | 'cache' | 'tmpfs' | 'secret';
  target: string;
  id?: string;
  source?: string;
  from?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  required?: boolean;
  readonly?: boolean;
}

/** `type=cache,target=/root/.cache,id=x` (RUN --mount). */
export function parseMount(spec: string, line: number): MountSpec {
  const m: MountSpec = { type: 'bind', target: '' };
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    const k = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    const v = eq < 0 ? '' : part.slice(eq + 1).trim();
    switch (k) {
      case 'type':
        if (v !== 'bind' && v !== 'cache' && v !== 'tmpfs' && v !== 'secret') throw new DockerfileSyntaxError(`unsupported mount type "${v}"`, line);
        m.type = v;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.target = v;
        break;
      case 'source':
      case 'src':
        m.source = v;
        break;
      case 'id':
        m.id = v;
        break;
      case 'from':
        m.from = v;
        break;
      case 'mode':
        m.mode = parseInt(v, 8);
        break;
      case 'uid':
        m.uid = Number(v);
        break;
      case 'gid':
        m.gid = Number(v);
        break;
      case 'size':
        m.size = Number(v);
        break;
      case 'required':
        m.required = v === '' || v === 'true';
        break;
      case 'ro':
      case 'readonly':
        m.readonly = v === '' || v === 'true';
        break;
      case 'rw':
      case 'readwrite':
        m.readonly = !(v === '' || v === 'true');
        break;
      case 'sharing':
      case 'env':
        break;
      default:
        throw new DockerfileSyntaxError(`unexpected key '${k}' in '${part}'`, line);
    }
  }
  if (m.target === '' && m.type !== 'secret') throw new DockerfileSyntaxError(`mount ${m.type} requires a target`, line);
  return m;
}
