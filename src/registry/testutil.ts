/** Test helpers: a real registry on 127.0.0.1:0, a raw HTTP client, curl, temp dirs. */
import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRegistry, type Registry, type RegistryOptions } from './server.js';

export interface Running {
  reg: Registry;
  root: string;
  port: number;
  base: string;
  /** host:port, for docker/skopeo references */
  host: string;
  stop(): Promise<void>;
}

export async function tempDir(prefix = 'berth-reg-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** A port that was free a moment ago (for servers whose config must name their own address). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export async function startRegistry(opts: Omit<RegistryOptions, 'root'> = {}, port = 0): Promise<Running> {
  const root = await tempDir();
  const reg = createRegistry({ ...opts, root });
  const a = await reg.listen(port, '127.0.0.1');
  return {
    reg,
    root,
    port: a.port,
    base: `http://127.0.0.1:${a.port}`,
    host: `127.0.0.1:${a.port}`,
    async stop() {
      await reg.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

export interface Resp {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
  json(): unknown;
}

export function http(method: string, url: string, opts: { headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Resp> {
  return new Promise((resolve, reject) => {
    const r = request(url, { method, headers: opts.headers ?? {}, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const body = Buffer.concat(parts);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          text: body.toString(),
          json: () => JSON.parse(body.toString()) as unknown,
        });
      });
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(opts.body);
  });
}

export function sha256(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command without blocking the event loop (the registry under test lives in this process). */
export function run(cmd: string, args: string[], env?: Record<string, string>, input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    p.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const t = setTimeout(() => p.kill('SIGKILL'), 300_000);
    p.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    p.on('close', (status) => {
      clearTimeout(t);
      resolve({ status, stdout, stderr });
    });
    p.stdin.end(input);
  });
}

export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Pushes a blob monolithically; returns its digest. */
export async function pushBlob(base: string, name: string, data: Buffer | string): Promise<string> {
  const d = sha256(data);
  const r = await http('POST', `${base}/v2/${name}/blobs/uploads/?digest=${d}`, { body: data, headers: { 'Content-Type': 'application/octet-stream' } });
  if (r.status !== 201) throw new Error(`blob push failed: ${r.status} ${r.text}`);
  return d;
}

/** An OCI image manifest over a fresh config and one layer, both pushed. */
export async function pushImage(
  base: string,
  name: string,
  tag: string,
  extra: { subject?: { digest: string; size: number; mediaType: string }; artifactType?: string; annotations?: Record<string, string>; seed?: string } = {},
): Promise<{ digest: string; body: string }> {
  const seed = extra.seed ?? `${name}:${tag}`;
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', seed });
  const layer = `layer of ${seed}`;
  const cd = await pushBlob(base, name, config);
  const ld = await pushBlob(base, name, layer);
  const m: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cd, size: Buffer.byteLength(config) },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: ld, size: Buffer.byteLength(layer) }],
  };
  if (extra.artifactType !== undefined) m.artifactType = extra.artifactType;
  if (extra.subject !== undefined) m.subject = extra.subject;
  if (extra.annotations !== undefined) m.annotations = extra.annotations;
  const body = JSON.stringify(m);
  const r = await http('PUT', `${base}/v2/${name}/manifests/${tag}`, { body, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
  if (r.status !== 201) throw new Error(`manifest push failed: ${r.status} ${r.text}`);
  return { digest: sha256(body), body };
}

export function errorCode(r: Resp): string | undefined {
  const j = r.json() as { errors?: { code?: string }[] };
  return j.errors?.[0]?.code;
}
