/**
 * `berth create`, and the create step `run` shares: POST /containers/create
 * with the body of container-opts; on a 404 for the image, "Unable to find
 * image" + pull (progress on stderr) + retry, as the docker CLI does.
 */
import { closeSync, existsSync, openSync, unlinkSync, writeSync } from 'node:fs';
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { BufferOutput } from '../context.js';
import { StatusError } from '../errors.js';
import { displayJsonMessages } from '../jsonmessage.js';
import { asArray, asRecord, str } from '../narrow.js';
import { apiTag, familiarString, parseNormalizedNamed, withDefaultTag } from '../reference.js';
import type { NamedRef } from '../reference.js';
import { ApiError } from '../../client/errors.js';
import { X_REGISTRY_AUTH } from './common.js';
import { ttySize } from './container-common.js';
import { CONTAINER_FLAGS, ParseError, parseContainerOptions } from './container-opts.js';
import type { ContainerConfig } from './container-opts.js';

export const spec: CommandSpec = {
  use: 'create [OPTIONS] IMAGE [COMMAND] [ARG...]',
  short: 'Create a new container',
  aliases: 'docker container create, docker create',
  args: { min: 1 },
  interspersed: false,
  flags: [
    ...CONTAINER_FLAGS,
    { name: 'pull', type: 'string', usage: 'Pull image before creating ("always", "|missing", "never")', default: 'missing' },
  ],
};

/** withHelp: `berth: <err>\n\nRun 'berth <cmd> --help' for more information`. */
export function withHelp(ctx: CommandContext, msg: string, cmd: string): string {
  return `${ctx.bin}: ${msg}\n\nRun '${ctx.bin} ${cmd} --help' for more information`;
}

/** How an error from the create/start path reads (daemon errors are prefixed). */
export function describe(e: unknown): string {
  if (e instanceof ApiError) return `Error response from daemon: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

/** Parses the shared flags; option errors become exit 125 with the `berth:` prefix. */
export function parseOrExit(ctx: CommandContext, cmd: string): ContainerConfig {
  const pull = ctx.opts.string('pull');
  if (!['always', 'missing', 'never'].includes(pull)) {
    throw new StatusError(withHelp(ctx, `invalid pull option: '${pull}': must be one of "always", "missing" or "never"`, cmd), 125);
  }
  try {
    return parseContainerOptions(ctx, ctx.opts, ctx.args[0] ?? '', ctx.args.slice(1), ttySize(ctx.stdoutStream));
  } catch (e) {
    if (e instanceof ParseError) throw new StatusError(withHelp(ctx, e.message, cmd), 125);
    throw e;
  }
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Normalizes --platform the way containerd's platforms.Parse + Format would for the common cases. */
function platformQuery(p: string): string | undefined {
  if (p === '') return undefined;
  const parts = p.toLowerCase().split('/');
  const arch = process.arch === 'x64' ? 'amd64' : process.arch === 'arm64' ? 'arm64' : process.arch;
  if (parts.length === 1) return parts[0] === 'linux' ? `linux/${arch}` : parts[0];
  return parts.map((x) => (x === 'x86_64' || x === 'x86-64' ? 'amd64' : x === 'aarch64' ? 'arm64' : x)).join('/');
}

async function pullImage(ctx: CommandContext, ref: NamedRef, platform: string, quiet: boolean): Promise<void> {
  const client = await ctx.client();
  const plat = platformQuery(platform);
  const res = await client.stream('POST', '/images/create', {
    query: { fromImage: ref.name, tag: apiTag(ref), ...(plat !== undefined ? { platform: plat } : {}) },
    headers: { 'X-Registry-Auth': X_REGISTRY_AUTH },
  });
  await displayJsonMessages(res, quiet ? new BufferOutput() : ctx.err);
}

/**
 * createContainer: cidfile, optional pull, create, pull-and-retry on a
 * missing image, warnings. Returns the new container's ID.
 */
export async function createContainer(ctx: CommandContext, cfg: ContainerConfig): Promise<string> {
  const o = ctx.opts;
  const cidfile = cfg.cidfile;
  let cidFd: number | undefined;
  let written = false;
  if (cidfile !== '') {
    if (existsSync(cidfile)) throw new Error(`container ID file found, make sure the other container isn't running or delete ${cidfile}`);
    try {
      cidFd = openSync(cidfile, 'w');
    } catch (e) {
      throw new Error(`failed to create the container ID file: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  try {
    let named: NamedRef | undefined;
    try {
      // Digest-only or ID references are not Named: no pull fallback for them.
      named = /^[a-f0-9]{64}$/.test(cfg.image) || /^sha256:/.test(cfg.image) ? undefined : withDefaultTag(parseNormalizedNamed(cfg.image));
    } catch (e) {
      throw new Error(e instanceof Error ? e.message : String(e));
    }
    const pull = o.string('pull');
    const quiet = o.bool('quiet');
    const platform = o.string('platform') !== '' ? o.string('platform') : (ctx.env['DOCKER_DEFAULT_PLATFORM'] ?? '');
    if (pull === 'always' && named !== undefined) await pullImage(ctx, named, platform, quiet);
    const client = await ctx.client();
    const version = await client.apiVersion();
    // The Go client refuses per-endpoint MAC addresses below API 1.44 before sending anything.
    const endpoints = asRecord(asRecord(cfg.body['NetworkingConfig'])['EndpointsConfig']);
    if (Object.values(endpoints).some((e) => str(asRecord(e), 'MacAddress') !== '') && compareVersions(version, '1.44') < 0) {
      throw new Error(`"specify mac-address per network" requires API version 1.44, but the Docker daemon API version is ${version}`);
    }
    const plat = platformQuery(platform);
    const name = o.string('name');
    const query = { ...(plat !== undefined ? { platform: plat } : {}), ...(name !== '' ? { name } : {}) };
    const create = (): Promise<unknown> => client.json('POST', '/containers/create', { query, body: cfg.body });
    let res: unknown;
    try {
      res = await create();
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404 && named !== undefined && pull === 'missing')) throw e;
      if (!quiet) ctx.err.write(`Unable to find image '${familiarString(named)}' locally\n`);
      await pullImage(ctx, named, platform, quiet);
      res = await create();
    }
    const r = asRecord(res);
    const warnings = asArray(r['Warnings']).filter((w): w is string => typeof w === 'string');
    const hc = asRecord(cfg.body['HostConfig']);
    for (const d of asArray(hc['Dns'])) {
      if (typeof d === 'string' && (/^127\./.test(d) || d === '::1')) {
        warnings.push(`Localhost DNS (${d}) may fail in containers.`);
        break;
      }
    }
    for (const w of warnings) ctx.err.write(`WARNING: ${w}\n`);
    const id = str(r, 'Id');
    if (cidFd !== undefined) {
      writeSync(cidFd, id);
      written = true;
    }
    return id;
  } finally {
    if (cidFd !== undefined) {
      closeSync(cidFd);
      if (!written) {
        try {
          unlinkSync(cidfile);
        } catch {
          // already gone
        }
      }
    }
  }
}

export async function run(ctx: CommandContext): Promise<number> {
  const cfg = parseOrExit(ctx, 'create');
  let id: string;
  try {
    id = await createContainer(ctx, cfg);
  } catch (e) {
    // create returns its errors unwrapped (exit 1), unlike run.
    throw new StatusError(describe(e), 1);
  }
  ctx.out.write(`${id}\n`);
  return 0;
}
