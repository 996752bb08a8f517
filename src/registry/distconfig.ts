/**
 * Distribution's config.yml, for the parts berth has: a registry moved
 * from Debian's docker-registry (Distribution 2.8) keeps its file. The
 * document is `unknown` until the schema below accepts it; keys berth does
 * not know (or does not do, such as other storage drivers or notifications)
 * are refused by name instead of being silently dropped. A few settings that
 * change nothing about what is stored or who may read it (log fields, the
 * blob descriptor cache, extra response headers, health checks) are
 * accepted with a warning, so Debian's default file works as it is.
 */
import { z } from 'zod';

/** Distribution's settings, turned into berth's own (the same shape as the JSON config). */
export interface DistributionSettings {
  addr?: string;
  root?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  delete?: boolean;
  tls?: { cert: string; key: string };
  htpasswd?: { path: string; realm?: string };
  token?: { realm: string; service: string; issuer: string; rootcertbundle: string };
  uploadGrace?: string;
  /** Settings accepted without effect, for the log. */
  ignored: string[];
}

const str = z.string().min(1);
/** Go durations as Distribution writes them (`168h`, `10s`, `1h30m`). */
const duration = z.string().regex(/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/, 'expected a duration such as 168h or 10s');

const schema = z.strictObject({
  version: z.union([z.literal(0.1), z.literal('0.1')], { error: 'version must be 0.1' }),
  log: z
    .strictObject({
      level: z.enum(['debug', 'info', 'warn', 'error', 'fatal', 'panic']).optional(),
      formatter: z.enum(['text', 'json', 'logstash']).optional(),
      fields: z.record(z.string(), z.unknown()).optional(),
      accesslog: z.strictObject({ disabled: z.boolean().optional() }).optional(),
    })
    .optional(),
  storage: z.strictObject({
    filesystem: z.strictObject({ rootdirectory: str, maxthreads: z.number().int().positive().optional() }, { error: 'storage.filesystem is the only storage driver berth has' }),
    delete: z.strictObject({ enabled: z.boolean() }).optional(),
    cache: z.strictObject({ blobdescriptor: z.enum(['inmemory', 'redis']).optional(), blobdescriptorsize: z.number().int().optional() }).optional(),
    maintenance: z
      .strictObject({
        uploadpurging: z.strictObject({ enabled: z.boolean(), age: duration.optional(), interval: duration.optional(), dryrun: z.boolean().optional() }).optional(),
      })
      .optional(),
  }),
  http: z
    .strictObject({
      addr: str.optional(),
      net: z.literal('tcp', { error: 'http.net: berth listens on tcp only' }).optional(),
      prefix: z.literal('/', { error: 'http.prefix: berth serves the API at /v2/ only' }).optional(),
      host: z.string().optional(),
      secret: z.string().optional(),
      relativeurls: z.boolean().optional(),
      draintimeout: duration.optional(),
      headers: z.record(z.string(), z.array(z.string())).optional(),
      http2: z.strictObject({ disabled: z.boolean().optional() }).optional(),
      tls: z.strictObject({ certificate: str, key: str }).optional(),
    })
    .optional(),
  auth: z
    .strictObject({
      htpasswd: z.strictObject({ realm: z.string().optional(), path: str }).optional(),
      token: z.strictObject({ realm: str, service: str, issuer: str, rootcertbundle: str, autoredirect: z.boolean().optional() }).optional(),
    })
    .refine((a) => a.htpasswd === undefined || a.token === undefined, { message: 'configure one of auth.htpasswd and auth.token, not both' })
    .optional(),
  health: z.record(z.string(), z.unknown()).optional(),
});

type Parsed = z.infer<typeof schema>;

function formatIssue(issue: z.core.$ZodIssue): string {
  const at = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${at === '' ? k : `${at}.${k}`}: unknown setting, or one berth does not support`).join('; ');
  }
  return `${at === '' ? '(top level)' : at}: ${issue.message}`;
}

/** Validates a parsed config.yml and maps it onto berth's settings; throws with every problem listed. */
export function parseDistributionConfig(raw: unknown): DistributionSettings {
  const r = schema.safeParse(raw);
  if (!r.success) throw new Error(`config: ${r.error.issues.map(formatIssue).join('; ')}`);
  const c: Parsed = r.data;
  const out: DistributionSettings = { root: c.storage.filesystem.rootdirectory, ignored: [] };
  const ignore = (what: string, present: unknown): void => {
    if (present !== undefined) out.ignored.push(what);
  };
  const level = c.log?.level;
  if (level !== undefined) out.logLevel = level === 'fatal' || level === 'panic' ? 'error' : level;
  ignore('log.formatter', c.log?.formatter);
  ignore('log.fields', c.log?.fields);
  ignore('log.accesslog', c.log?.accesslog);
  ignore('storage.filesystem.maxthreads', c.storage.filesystem.maxthreads);
  ignore('storage.cache (berth always caches manifest metadata in memory)', c.storage.cache);
  if (c.storage.delete !== undefined) out.delete = c.storage.delete.enabled;
  const purge = c.storage.maintenance?.uploadpurging;
  if (purge?.enabled === true && purge.age !== undefined) out.uploadGrace = purge.age;
  ignore('storage.maintenance.uploadpurging.interval (run berth registry garbage-collect)', purge?.interval);
  const h = c.http;
  if (h?.addr !== undefined) out.addr = h.addr;
  if (h?.tls !== undefined) out.tls = { cert: h.tls.certificate, key: h.tls.key };
  for (const k of ['host', 'secret', 'relativeurls', 'draintimeout', 'headers', 'http2'] as const) ignore(`http.${k}`, h?.[k]);
  const ht = c.auth?.htpasswd;
  if (ht !== undefined) out.htpasswd = ht.realm !== undefined ? { path: ht.path, realm: ht.realm } : { path: ht.path };
  const tk = c.auth?.token;
  if (tk !== undefined) out.token = { realm: tk.realm, service: tk.service, issuer: tk.issuer, rootcertbundle: tk.rootcertbundle };
  ignore('auth.token.autoredirect', tk?.autoredirect);
  ignore('health', c.health);
  return out;
}

/** Distribution's files start with `version:`; berth's JSON files have no such key. */
export function isDistributionConfig(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) && 'version' in raw;
}
