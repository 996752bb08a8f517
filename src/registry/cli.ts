/**
 * `berth registry serve` and `berth registry garbage-collect`.
 *
 * `--config` takes Distribution's config.yml (the parts berth has; see
 * distconfig.ts) or berth's own shape, in JSON or YAML, with flags
 * overriding it. berth's own shape:
 *
 *   {
 *     "addr": "0.0.0.0:5000",
 *     "root": "/var/lib/berth-registry",
 *     "logLevel": "info",                      // debug | info | warn | error
 *     "delete": true,                          // manifest/tag/blob DELETE allowed
 *     "tls": { "cert": "cert.pem", "key": "key.pem" },
 *     "auth": {
 *       "htpasswd": { "path": "htpasswd", "realm": "berth-registry" },
 *       "token": {
 *         "realm": "https://host:5000/token", "service": "berth-registry", "issuer": "berth",
 *         "key": "token-key.pem",             // private key: verify and issue; public key/cert: verify only
 *         "issue": true,                      // serve the built-in endpoint at /token (needs htpasswd)
 *         "expiration": 300,
 *         "acl": [ { "account": "alice", "name": "alice/*", "actions": ["pull", "push", "delete"] },
 *                  { "account": "anonymous", "name": "public/*", "actions": ["pull"] } ]
 *       }
 *     },
 *     "gc": { "grace": "1h", "uploadGrace": "24h" }
 *   }
 *
 * With token auth and no ACL, any htpasswd user gets any action and
 * anonymous users get none.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { createLogger, type Logger, type LogLevel } from '../base/log.js';
import { errorMessage } from '../base/errors.js';
import { createRegistry, type RegistryOptions } from './server.js';
import { Htpasswd } from './auth/htpasswd.js';
import { loadTokenKeysFile, type AclEntry } from './auth/token.js';
import type { Action } from './auth/types.js';
import { FsDriver } from './storage/fs.js';
import { RegistryStore } from './storage/store.js';
import { garbageCollect } from './gc.js';
import { isDistributionConfig, parseDistributionConfig } from './distconfig.js';

export const DEFAULT_ADDR = '0.0.0.0:5000';
export const DEFAULT_ROOT = '/var/lib/berth-registry';

interface FileConfig {
  addr?: string;
  root?: string;
  logLevel?: LogLevel;
  delete?: boolean;
  tls?: { cert?: string; key?: string };
  auth?: {
    htpasswd?: { path?: string; realm?: string };
    token?: { realm?: string; service?: string; issuer?: string; key?: string; issue?: boolean; expiration?: number; acl?: AclEntry[] };
  };
  gc?: { grace?: string; uploadGrace?: string };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function str(v: unknown, what: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new Error(`config: ${what} must be a string`);
  return v;
}
function obj(v: unknown, what: string): Record<string, unknown> | undefined {
  if (v === undefined) return undefined;
  if (!isRecord(v)) throw new Error(`config: ${what} must be an object`);
  return v;
}

const ACTIONS: ReadonlySet<string> = new Set(['pull', 'push', 'delete', '*']);
const LEVELS: ReadonlySet<string> = new Set(['debug', 'info', 'warn', 'error']);

const TOP_KEYS: ReadonlySet<string> = new Set(['addr', 'root', 'logLevel', 'delete', 'tls', 'auth', 'gc']);

/** Validates berth's own config shape; an unknown top-level key is an error, not a setting silently dropped. */
export function parseConfig(raw: unknown): FileConfig {
  const r = obj(raw, 'top level') ?? {};
  for (const k of Object.keys(r)) {
    if (!TOP_KEYS.has(k)) throw new Error(`config: unknown setting ${k} (berth's keys: ${[...TOP_KEYS].join(', ')}; a Distribution config.yml starts with version: 0.1)`);
  }
  const out: FileConfig = {};
  const addr = str(r.addr, 'addr');
  if (addr !== undefined) out.addr = addr;
  const root = str(r.root, 'root');
  if (root !== undefined) out.root = root;
  const lv = str(r.logLevel, 'logLevel');
  if (lv !== undefined) {
    if (!LEVELS.has(lv)) throw new Error(`config: logLevel must be one of ${[...LEVELS].join(', ')}`);
    out.logLevel = lv as LogLevel;
  }
  if (r.delete !== undefined) {
    if (typeof r.delete !== 'boolean') throw new Error('config: delete must be a boolean');
    out.delete = r.delete;
  }
  const tls = obj(r.tls, 'tls');
  if (tls !== undefined) {
    const t: NonNullable<FileConfig['tls']> = {};
    const c = str(tls.cert, 'tls.cert');
    const k = str(tls.key, 'tls.key');
    if (c !== undefined) t.cert = c;
    if (k !== undefined) t.key = k;
    out.tls = t;
  }
  const auth = obj(r.auth, 'auth');
  if (auth !== undefined) {
    out.auth = {};
    const h = obj(auth.htpasswd, 'auth.htpasswd');
    if (h !== undefined) {
      const hp: NonNullable<NonNullable<FileConfig['auth']>['htpasswd']> = {};
      const p = str(h.path, 'auth.htpasswd.path');
      const rl = str(h.realm, 'auth.htpasswd.realm');
      if (p !== undefined) hp.path = p;
      if (rl !== undefined) hp.realm = rl;
      out.auth.htpasswd = hp;
    }
    const t = obj(auth.token, 'auth.token');
    if (t !== undefined) {
      const tk: NonNullable<NonNullable<FileConfig['auth']>['token']> = {};
      for (const k of ['realm', 'service', 'issuer', 'key'] as const) {
        const v = str(t[k], `auth.token.${k}`);
        if (v !== undefined) tk[k] = v;
      }
      if (t.issue !== undefined) {
        if (typeof t.issue !== 'boolean') throw new Error('config: auth.token.issue must be a boolean');
        tk.issue = t.issue;
      }
      if (t.expiration !== undefined) {
        if (typeof t.expiration !== 'number' || t.expiration <= 0) throw new Error('config: auth.token.expiration must be positive seconds');
        tk.expiration = t.expiration;
      }
      if (t.acl !== undefined) {
        if (!Array.isArray(t.acl)) throw new Error('config: auth.token.acl must be an array');
        tk.acl = t.acl.map((e, i) => {
          if (!isRecord(e) || typeof e.account !== 'string' || typeof e.name !== 'string' || !Array.isArray(e.actions)) {
            throw new Error(`config: auth.token.acl[${i}] needs account, name and actions`);
          }
          const actions = e.actions.map((a) => {
            if (typeof a !== 'string' || !ACTIONS.has(a)) throw new Error(`config: auth.token.acl[${i}]: unknown action ${String(a)}`);
            return a as Action;
          });
          return { account: e.account, name: e.name, actions };
        });
      }
      out.auth.token = tk;
    }
  }
  const gc = obj(r.gc, 'gc');
  if (gc !== undefined) {
    out.gc = {};
    const g = str(gc.grace, 'gc.grace');
    const u = str(gc.uploadGrace, 'gc.uploadGrace');
    if (g !== undefined) out.gc.grace = g;
    if (u !== undefined) out.gc.uploadGrace = u;
  }
  return out;
}

/** `90s`, `15m`, `1h`, `2d`, Go's `1h30m`, or plain milliseconds. */
export function parseDuration(s: string): number {
  const t = s.trim();
  if (/^\d+(?:\.\d+)?$/.test(t)) return Math.round(Number(t));
  const mult: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 };
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/y;
  let ms = 0;
  let at = 0;
  while (at < t.length) {
    part.lastIndex = at;
    const m = part.exec(t);
    if (m === null) throw new Error(`invalid duration ${s}`);
    ms += Number(m[1]) * (mult[m[2]!] ?? 1);
    at = part.lastIndex;
  }
  if (t === '') throw new Error(`invalid duration ${s}`);
  return Math.round(ms);
}

/**
 * Reads `--config`: YAML or JSON (YAML parses both), Distribution's shape
 * when it has `version`, else berth's. Returns berth's shape and the
 * Distribution settings that were accepted without effect.
 */
export function readConfigFile(path: string): { cfg: FileConfig; ignored: string[] } {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8')) as unknown;
  } catch (e) {
    throw new Error(`config ${path}: ${errorMessage(e)}`);
  }
  if (!isDistributionConfig(raw)) return { cfg: parseConfig(raw ?? {}), ignored: [] };
  const d = parseDistributionConfig(raw);
  const cfg: FileConfig = {};
  if (d.addr !== undefined) cfg.addr = d.addr;
  if (d.root !== undefined) cfg.root = d.root;
  if (d.logLevel !== undefined) cfg.logLevel = d.logLevel;
  if (d.delete !== undefined) cfg.delete = d.delete;
  if (d.tls !== undefined) cfg.tls = d.tls;
  if (d.htpasswd !== undefined) cfg.auth = { htpasswd: d.htpasswd };
  if (d.token !== undefined) cfg.auth = { token: { realm: d.token.realm, service: d.token.service, issuer: d.token.issuer, key: d.token.rootcertbundle, issue: false } };
  if (d.uploadGrace !== undefined) cfg.gc = { uploadGrace: d.uploadGrace };
  return { cfg, ignored: d.ignored };
}

/** Splits `--flag value` / `--flag=value` / `--bool`. */
function parseFlags(argv: string[], valued: ReadonlySet<string>, bools: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') {
      out.set('help', 'true');
      continue;
    }
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const eq = a.indexOf('=');
    const key = eq < 0 ? a.slice(2) : a.slice(2, eq);
    if (bools.has(key)) {
      out.set(key, eq < 0 ? 'true' : a.slice(eq + 1));
      continue;
    }
    if (!valued.has(key)) throw new Error(`unknown flag --${key}`);
    const v = eq < 0 ? argv[++i] : a.slice(eq + 1);
    if (v === undefined) throw new Error(`flag --${key} needs a value`);
    out.set(key, v);
  }
  return out;
}

function splitAddr(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  if (i < 0) throw new Error(`--addr must be HOST:PORT, got ${addr}`);
  let host = addr.slice(0, i);
  const port = Number(addr.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port in ${addr}`);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host: host === '' ? '0.0.0.0' : host, port };
}

const SERVE_USAGE = `Usage: berth registry serve [OPTIONS]

Serve an OCI distribution-spec v1.1 registry in the foreground.

Options:
  --addr HOST:PORT            listen address (default ${DEFAULT_ADDR})
  --root DIR                  storage root (default ${DEFAULT_ROOT})
  --config FILE               Distribution's config.yml, or berth's JSON/YAML configuration
  --htpasswd FILE             bcrypt htpasswd users (basic auth, or the token issuer's users)
  --tls-cert FILE, --tls-key FILE
  --auth-token-realm URL      enable token auth: the realm clients fetch tokens from
  --auth-token-service NAME
  --auth-token-issuer NAME
  --auth-token-key FILE       PEM private key (verify and issue at /token) or public key/certificate
  --log-level LEVEL           debug, info, warn, error
  --no-delete                 refuse DELETE
`;

interface Loaded {
  opts: RegistryOptions;
  addr: string;
  log: Logger;
  cfg: FileConfig;
}

function load(flags: Map<string, string>, write: (s: string) => void): Loaded {
  const cfgPath = flags.get('config');
  const { cfg, ignored } = cfgPath !== undefined ? readConfigFile(cfgPath) : { cfg: {}, ignored: [] };
  const level = (flags.get('log-level') ?? cfg.logLevel ?? 'info') as LogLevel;
  if (!LEVELS.has(level)) throw new Error(`invalid log level ${level}`);
  const log = createLogger(level, write).with({ component: 'registry' });
  for (const what of ignored) log.warn('config setting has no effect in berth', { setting: what });
  const root = flags.get('root') ?? cfg.root ?? DEFAULT_ROOT;
  const opts: RegistryOptions = { root, log, deleteEnabled: flags.get('no-delete') === 'true' ? false : (cfg.delete ?? true) };

  const htPath = flags.get('htpasswd') ?? cfg.auth?.htpasswd?.path;
  if (htPath !== undefined) {
    opts.htpasswd = Htpasswd.fromFile(htPath, log);
    opts.htpasswdRealm = cfg.auth?.htpasswd?.realm ?? 'berth-registry';
  }
  const tc = cfg.auth?.token;
  const realm = flags.get('auth-token-realm') ?? tc?.realm;
  if (realm !== undefined) {
    const keyPath = flags.get('auth-token-key') ?? tc?.key;
    if (keyPath === undefined) throw new Error('token auth needs --auth-token-key');
    const keys = loadTokenKeysFile(keyPath);
    opts.token = {
      realm,
      service: flags.get('auth-token-service') ?? tc?.service ?? 'berth-registry',
      issuer: flags.get('auth-token-issuer') ?? tc?.issuer ?? 'berth-registry',
      keys,
      issue: tc?.issue ?? (keys.privateKey !== undefined && opts.htpasswd !== undefined),
    };
    if (tc?.acl !== undefined) opts.token.acl = tc.acl;
    if (tc?.expiration !== undefined) opts.token.expiration = tc.expiration;
  }
  const cert = flags.get('tls-cert') ?? cfg.tls?.cert;
  const key = flags.get('tls-key') ?? cfg.tls?.key;
  if ((cert === undefined) !== (key === undefined)) throw new Error('--tls-cert and --tls-key go together');
  if (cert !== undefined && key !== undefined) opts.tls = { cert: readFileSync(cert), key: readFileSync(key) };
  return { opts, addr: flags.get('addr') ?? cfg.addr ?? DEFAULT_ADDR, log, cfg };
}

export interface CliIo {
  out?: (s: string) => void;
  err?: (s: string) => void;
  /** Resolves when the process should stop (default: SIGINT or SIGTERM). */
  stop?: Promise<unknown>;
}

function signalled(): { promise: Promise<string>; dispose: () => void } {
  let dispose = (): void => {};
  const promise = new Promise<string>((resolve) => {
    const on = (sig: string) => (): void => resolve(sig);
    const int = on('SIGINT');
    const term = on('SIGTERM');
    process.once('SIGINT', int);
    process.once('SIGTERM', term);
    dispose = () => {
      process.off('SIGINT', int);
      process.off('SIGTERM', term);
    };
  });
  return { promise, dispose };
}

/** Runs the registry in the foreground until SIGINT/SIGTERM; returns the exit code. */
export async function registryServe(argv: string[], io: CliIo = {}): Promise<number> {
  const err = io.err ?? ((s: string) => process.stderr.write(s));
  let loaded: Loaded;
  try {
    const flags = parseFlags(
      argv,
      new Set(['addr', 'root', 'config', 'htpasswd', 'tls-cert', 'tls-key', 'auth-token-realm', 'auth-token-service', 'auth-token-issuer', 'auth-token-key', 'log-level']),
      new Set(['no-delete']),
    );
    if (flags.has('help')) {
      (io.out ?? ((s: string) => process.stdout.write(s)))(SERVE_USAGE);
      return 0;
    }
    loaded = load(flags, err);
  } catch (e) {
    err(`berth registry serve: ${errorMessage(e)}\n`);
    return 2;
  }
  const { opts, addr, log } = loaded;
  const reg = createRegistry(opts);
  const sig = io.stop === undefined ? signalled() : undefined;
  try {
    const { host, port } = splitAddr(addr);
    const a = await reg.listen(port, host);
    log.info('registry listening', { addr: `${a.address}:${a.port}`, root: opts.root, tls: opts.tls !== undefined, auth: opts.token !== undefined ? 'token' : opts.htpasswd !== undefined ? 'htpasswd' : 'none' });
    const why = await (io.stop ?? sig!.promise);
    log.info('registry shutting down', { reason: String(why) });
    await reg.close();
    return 0;
  } catch (e) {
    log.error('registry failed', { err: errorMessage(e) });
    await reg.close();
    return 1;
  } finally {
    sig?.dispose();
  }
}

/** `berth registry garbage-collect [--root DIR] [--config FILE] [--grace 1h] [--upload-grace 24h] [--dry-run]` */
export async function registryGarbageCollect(argv: string[], io: CliIo = {}): Promise<number> {
  const err = io.err ?? ((s: string) => process.stderr.write(s));
  const out = io.out ?? ((s: string) => process.stdout.write(s));
  try {
    const flags = parseFlags(argv, new Set(['root', 'config', 'grace', 'upload-grace', 'log-level']), new Set(['dry-run']));
    if (flags.has('help')) {
      out('Usage: berth registry garbage-collect [--root DIR] [--config FILE] [--grace DURATION] [--upload-grace DURATION] [--dry-run]\n');
      return 0;
    }
    const { opts, log, cfg } = load(flags, err);
    const store = new RegistryStore(new FsDriver(opts.root ?? DEFAULT_ROOT), { log });
    const grace = flags.get('grace') ?? cfg.gc?.grace;
    const ug = flags.get('upload-grace') ?? cfg.gc?.uploadGrace;
    const r = await garbageCollect(store, {
      log,
      dryRun: flags.get('dry-run') === 'true',
      ...(grace !== undefined ? { graceMs: parseDuration(grace) } : {}),
      ...(ug !== undefined ? { uploadGraceMs: parseDuration(ug) } : {}),
    });
    for (const d of r.sweptBlobs) out(`${flags.get('dry-run') === 'true' ? 'would delete' : 'deleted'} ${d}\n`);
    out(`${r.sweptBlobs.length} blobs (${r.freedBytes} bytes), ${r.sweptUploads} uploads; ${r.marked} blobs in use\n`);
    return 0;
  } catch (e) {
    err(`berth registry garbage-collect: ${errorMessage(e)}\n`);
    return 1;
  }
}
