/**
 * Registry benchmark: berth's registry against Debian's docker-registry
 * (Distribution 2.8) on loopback.
 *
 *  1. manifest HEAD by tag, concurrency 32, keep-alive (ApacheBench `ab -k -i`
 *     when installed — wrk hangs on HEAD responses that carry a Content-Length —
 *     else a node load generator);
 *  2. 20 concurrent pulls of one 50 MB blob (curl processes), whole and ranged
 *     (`Range: bytes=1048576-`, the resume a client does after a cut);
 *  3. push of a ~500 MB, 5-layer image with skopeo (OCI layout → docker://),
 *     into a fresh registry process and root per round, so no blob is already
 *     there and skopeo's blob-info cache cannot turn uploads into mounts.
 *
 * Both servers run as separate processes on fresh temp roots; Distribution
 * gets its in-memory blob descriptor cache and no access log (its best case).
 * Rounds alternate servers; the best of each is reported.
 *
 *   node build/bench/registry.js [--seconds 10] [--requests 200000] [--rounds 3]
 *                                [--only head,pull,range,push]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { Agent, request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../src/registry/main.js', import.meta.url));
const args = process.argv.slice(2);
const arg = (k: string, d: number): number => {
  const i = args.indexOf(`--${k}`);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const SECONDS = arg('seconds', 10);
const REQUESTS = arg('requests', 200_000);
const ROUNDS = arg('rounds', 3);
const CONC = 32;
const onlyAt = args.indexOf('--only');
const ONLY = new Set(onlyAt >= 0 ? String(args[onlyAt + 1]).split(',') : ['head', 'pull', 'range', 'push']);

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const have = (c: string): boolean => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

function call(method: string, url: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const q = request(url, { method, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    q.on('error', reject);
    q.end(body);
  });
}

async function waitUp(base: string): Promise<void> {
  const end = Date.now() + 15_000;
  for (;;) {
    try {
      if ((await call('GET', `${base}/v2/`)).status === 200) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > end) throw new Error(`${base} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function pushBlob(base: string, name: string, data: Buffer | string): Promise<string> {
  const d = sha(data);
  // POST then PUT: Distribution 2.8 has no single-POST monolithic upload.
  const start = await call('POST', `${base}/v2/${name}/blobs/uploads/`);
  const loc = String(start.headers.location);
  const url = new URL(loc, base);
  url.searchParams.set('digest', d);
  const put = await call('PUT', url.toString(), data, { 'Content-Type': 'application/octet-stream' });
  if (put.status !== 201) throw new Error(`blob push to ${base} failed: ${put.status}`);
  return d;
}

async function seed(base: string): Promise<{ big: string }> {
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
  const layer = randomBytes(1024);
  const cd = await pushBlob(base, 'bench/app', config);
  const ld = await pushBlob(base, 'bench/app', layer);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: cd },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layer.length, digest: ld }],
  });
  const r = await call('PUT', `${base}/v2/bench/app/manifests/latest`, manifest, { 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json' });
  if (r.status !== 201) throw new Error(`manifest push to ${base} failed: ${r.status}`);
  const big = await pushBlob(base, 'bench/app', BIG);
  return { big };
}

const ACCEPT = 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json';
const BIG = randomBytes(50 * 1024 * 1024);

/** HEAD req/s: ab when present, else a keep-alive node generator for SECONDS. */
async function headRate(url: string): Promise<number> {
  if (have('ab')) {
    // Docker's Accept header: without it Distribution 2.8 tries a schema1 down-conversion.
    const accept = ['-H', `Accept: ${ACCEPT}`];
    spawnSync('ab', ['-k', '-i', ...accept, '-c', String(CONC), '-n', '5000', url], { encoding: 'utf8' }); // warm-up
    const r = spawnSync('ab', ['-k', '-i', ...accept, '-c', String(CONC), '-n', String(REQUESTS), url], { encoding: 'utf8' });
    const m = /Requests per second:\s+([\d.]+)/.exec(r.stdout);
    const failed = /Failed requests:\s+(\d+)/.exec(r.stdout);
    const non2xx = /Non-2xx responses:\s+(\d+)/.exec(r.stdout);
    if (m === null) throw new Error(`ab failed: ${r.stderr}`);
    if ((failed !== null && failed[1] !== '0') || non2xx !== null) throw new Error(`ab saw failures against ${url}:\n${r.stdout}`);
    return Number(m[1]);
  }
  const agent = new Agent({ keepAlive: true, maxSockets: CONC });
  const u = new URL(url);
  let n = 0;
  const end = Date.now() + SECONDS * 1000;
  const worker = async (): Promise<void> => {
    while (Date.now() < end) {
      await new Promise<void>((resolve, reject) => {
        const q = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'HEAD', agent, headers: { Accept: ACCEPT } }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) n++;
            resolve();
          });
        });
        q.on('error', reject);
        q.end();
      });
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: CONC }, worker));
  agent.destroy();
  return n / ((Date.now() - t0) / 1000);
}

/** Wall time for 20 concurrent curl downloads of the blob, and aggregate MB/s. */
async function pullRate(url: string, from = 0): Promise<{ seconds: number; mbps: number }> {
  const range = from > 0 ? ['-r', `${from}-`] : [];
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from(
      { length: 20 },
      () =>
        new Promise<void>((resolve, reject) => {
          const p = spawn('curl', ['-sf', ...range, '-o', '/dev/null', url], { stdio: 'ignore' });
          p.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`curl exited ${c}`))));
        }),
    ),
  );
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return { seconds: s, mbps: (20 * (BIG.length - from)) / 1024 / 1024 / s };
}

const PUSH_LAYERS = 5;
const PUSH_LAYER_BYTES = 100 * 1024 * 1024;

/**
 * An OCI layout of PUSH_LAYERS gzip layers of random bytes. Stored-mode gzip
 * (level 0): skopeo sees compressed layers and sends them as they are, so the
 * figure is the registry's, not skopeo's compressor's.
 */
async function makeImage(dir: string): Promise<number> {
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const put = async (b: Buffer | string): Promise<{ digest: string; size: number }> => {
    const digest = sha(b);
    await writeFile(join(blobs, digest.slice(7)), b);
    return { digest, size: Buffer.byteLength(b) };
  };
  const layers: { mediaType: string; digest: string; size: number }[] = [];
  const diffIds: string[] = [];
  for (let i = 0; i < PUSH_LAYERS; i++) {
    const raw = randomBytes(PUSH_LAYER_BYTES);
    diffIds.push(sha(raw));
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...(await put(gzipSync(raw, { level: 0 }))) });
  }
  const config = await put(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds } }));
  const manifest = await put(
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers }),
  );
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }),
  );
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  return layers.reduce((n, l) => n + l.size, 0);
}

/** Seconds for one skopeo push of the layout to `hostPort`. */
function pushTime(layout: string, hostPort: string, repo: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${hostPort}/${repo}:latest`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`skopeo push to ${hostPort} failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function distributionConfig(root: string, port: number): string {
  return [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  cache:',
    '    blobdescriptor: inmemory',
    '  filesystem:',
    `    rootdirectory: ${root}`,
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '',
  ].join('\n');
}

/** Starts one registry process on a fresh root; returns its host:port and a stopper. */
/** CPU seconds (user + system) a process has used so far, from /proc (Linux); 0 elsewhere. */
function cpuSeconds(pid: number | undefined): number {
  const r = spawnSync('cat', [`/proc/${pid ?? 0}/stat`], { encoding: 'utf8' });
  const f = r.stdout.slice(r.stdout.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in USER_HZ ticks
}

async function startServer(kind: 'berth' | 'dist', dir: string): Promise<{ hostPort: string; cpu: () => number; stop: () => Promise<void> }> {
  const port = await freePort();
  const root = join(dir, `${kind}-${port}`);
  let p: ChildProcess;
  if (kind === 'berth') {
    p = spawn(process.execPath, [MAIN, 'serve', '--addr', `127.0.0.1:${port}`, '--root', root, '--log-level', 'warn'], { stdio: 'inherit' });
  } else {
    const cfg = `${root}.yml`;
    await writeFile(cfg, distributionConfig(root, port));
    p = spawn('docker-registry', ['serve', cfg], { stdio: 'ignore' });
  }
  const hostPort = `127.0.0.1:${port}`;
  await waitUp(`http://${hostPort}`);
  return {
    hostPort,
    cpu: () => cpuSeconds(p.pid),
    async stop() {
      // A process killed by a signal has exitCode null but signalCode set: waiting for its 'exit' would hang.
      if (p.exitCode === null && p.signalCode === null) {
        p.kill('SIGTERM');
        await new Promise((r) => p.once('exit', r));
      }
      await rm(root, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-reg-bench-'));
  const stops: (() => Promise<void>)[] = [];
  try {
    const hasDist = have('docker-registry');
    if (!hasDist) console.log('docker-registry not installed: berth only');
    const rows: { what: string; berth: number; dist?: number; unit: string }[] = [];
    const best = (xs: number[]): number => Math.min(...xs);
    /** Rows from per-round wall times: best rate and best wall, both from the fastest round. */
    const rows2 = (what: string, mb: number, b: number[], d: number[]): void => {
      rows.push({ what, berth: mb / best(b), ...(d.length > 0 ? { dist: mb / best(d) } : {}), unit: 'MB/s' });
      rows.push({ what: `${what}, wall`, berth: best(b), ...(d.length > 0 ? { dist: best(d) } : {}), unit: 's' });
      console.log(`${what} rounds (s): berth ${b.map((t) => t.toFixed(2)).join(' ')}${d.length > 0 ? `; distribution ${d.map((t) => t.toFixed(2)).join(' ')}` : ''}`);
    };

    if (ONLY.has('head') || ONLY.has('pull') || ONLY.has('range')) {
      const b = await startServer('berth', dir);
      stops.push(b.stop);
      const d = hasDist ? await startServer('dist', dir) : undefined;
      if (d !== undefined) stops.push(d.stop);
      const berth = `http://${b.hostPort}`;
      const dist = d !== undefined ? `http://${d.hostPort}` : undefined;
      const bs = await seed(berth);
      const ds = dist !== undefined ? await seed(dist) : undefined;

      if (ONLY.has('head')) {
        const bh = await headRate(`${berth}/v2/bench/app/manifests/latest`);
        const dh = dist !== undefined ? await headRate(`${dist}/v2/bench/app/manifests/latest`) : undefined;
        rows.push({ what: `manifest HEAD, c=${CONC}, keep-alive`, berth: bh, ...(dh !== undefined ? { dist: dh } : {}), unit: 'req/s' });
      }
      for (const [section, from, label] of [
        ['pull', 0, '20 concurrent pulls of 50 MB'],
        ['range', 1 << 20, '20 concurrent ranged pulls (1 MiB-)'],
      ] as const) {
        if (!ONLY.has(section)) continue;
        // Best of ROUNDS rounds each, alternating servers, so neither pays for warm-up or neighbour noise.
        const bt: number[] = [];
        const dt: number[] = [];
        for (let i = 0; i < ROUNDS; i++) {
          bt.push((await pullRate(`${berth}/v2/bench/app/blobs/${bs.big}`, from)).seconds);
          if (dist !== undefined && ds !== undefined) dt.push((await pullRate(`${dist}/v2/bench/app/blobs/${ds.big}`, from)).seconds);
        }
        rows2(label, (20 * (BIG.length - from)) / 1024 / 1024, bt, dt);
      }
    }

    if (ONLY.has('push')) {
      if (!have('skopeo')) {
        console.log('skopeo not installed: no push figures');
      } else {
        const layout = join(dir, 'image');
        const bytes = await makeImage(layout);
        const bt: number[] = [];
        const dt: number[] = [];
        // Server CPU per push: steadier than wall time on a shared machine, and what a busy registry runs out of.
        const bc: number[] = [];
        const dc: number[] = [];
        for (let i = 0; i < ROUNDS; i++) {
          for (const kind of hasDist ? (['berth', 'dist'] as const) : (['berth'] as const)) {
            const s = await startServer(kind, dir);
            try {
              const c0 = s.cpu();
              (kind === 'berth' ? bt : dt).push(pushTime(layout, s.hostPort, 'bench/big'));
              (kind === 'berth' ? bc : dc).push(s.cpu() - c0);
            } finally {
              await s.stop();
            }
          }
        }
        rows.push({ what: 'push, server CPU (best round)', berth: best(bc), ...(dc.length > 0 ? { dist: best(dc) } : {}), unit: 's' });
        console.log(`push server CPU rounds (s): berth ${bc.map((t) => t.toFixed(2)).join(' ')}${dc.length > 0 ? `; distribution ${dc.map((t) => t.toFixed(2)).join(' ')}` : ''}`);
        rows2(`push ${PUSH_LAYERS} layers, ${(bytes / 1e6).toFixed(0)} MB`, bytes / 1024 / 1024, bt, dt);
      }
    }

    console.log(`HEAD load generator: ${have('ab') ? 'ab -k -i' : 'node'}`);
    console.log(`${'benchmark'.padEnd(40)} ${'berth'.padStart(12)} ${'distribution'.padStart(14)} ${'ratio'.padStart(8)}`);
    for (const r of rows) {
      const ratio = r.dist !== undefined ? (r.unit === 's' ? r.dist / r.berth : r.berth / r.dist) : undefined;
      console.log(
        `${r.what.padEnd(40)} ${`${r.berth.toFixed(r.unit === 's' ? 2 : 0)} ${r.unit}`.padStart(12)} ${r.dist !== undefined ? `${r.dist.toFixed(r.unit === 's' ? 2 : 0)} ${r.unit}`.padStart(14) : '-'.padStart(14)} ${ratio !== undefined ? `${ratio.toFixed(2)}x`.padStart(8) : ''}`,
      );
    }
  } finally {
    for (const stop of stops) await stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
