/**
 * Registry benchmark: berth's registry against Debian's docker-registry
 * (Distribution 2.8) on loopback.
 *
 *  1. manifest HEAD by tag, concurrency 32, keep-alive (ApacheBench `ab -k -i`
 *     when installed — wrk hangs on HEAD responses that carry a Content-Length —
 *     else a node load generator);
 *  2. 20 concurrent pulls of one 50 MB blob (curl processes).
 *
 * Both servers run as separate processes on fresh temp roots; Distribution
 * gets its in-memory blob descriptor cache and no access log (its best case).
 *
 *   node build/bench/registry.js [--seconds 10] [--requests 200000]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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
const CONC = 32;

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
async function pullRate(url: string): Promise<{ seconds: number; mbps: number }> {
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from(
      { length: 20 },
      () =>
        new Promise<void>((resolve, reject) => {
          const p = spawn('curl', ['-sf', '-o', '/dev/null', url], { stdio: 'ignore' });
          p.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`curl exited ${c}`))));
        }),
    ),
  );
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return { seconds: s, mbps: (20 * BIG.length) / 1024 / 1024 / s };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-reg-bench-'));
  const procs: ChildProcess[] = [];
  try {
    const bp = await freePort();
    const berth = `http://127.0.0.1:${bp}`;
    procs.push(spawn(process.execPath, [MAIN, 'serve', '--addr', `127.0.0.1:${bp}`, '--root', join(dir, 'berth'), '--log-level', 'warn'], { stdio: 'inherit' }));
    await waitUp(berth);
    let dist: string | undefined;
    if (have('docker-registry')) {
      const dp = await freePort();
      const cfg = join(dir, 'distribution.yml');
      await writeFile(
        cfg,
        [
          'version: 0.1',
          'log:',
          '  level: error',
          '  accesslog:',
          '    disabled: true',
          'storage:',
          '  cache:',
          '    blobdescriptor: inmemory',
          '  filesystem:',
          `    rootdirectory: ${join(dir, 'distribution')}`,
          'http:',
          `  addr: 127.0.0.1:${dp}`,
          '',
        ].join('\n'),
      );
      procs.push(spawn('docker-registry', ['serve', cfg], { stdio: 'ignore' }));
      dist = `http://127.0.0.1:${dp}`;
      await waitUp(dist);
    } else {
      console.log('docker-registry not installed: berth only');
    }

    const rows: { what: string; berth: number; dist?: number; unit: string }[] = [];
    const bs = await seed(berth);
    const ds = dist !== undefined ? await seed(dist) : undefined;

    const bh = await headRate(`${berth}/v2/bench/app/manifests/latest`);
    const dh = dist !== undefined ? await headRate(`${dist}/v2/bench/app/manifests/latest`) : undefined;
    rows.push({ what: `manifest HEAD, c=${CONC}, keep-alive`, berth: bh, ...(dh !== undefined ? { dist: dh } : {}), unit: 'req/s' });

    // Best of three rounds each, alternating servers, so neither pays for warm-up or neighbour noise.
    let bpull = { seconds: Infinity, mbps: 0 };
    let dpull: { seconds: number; mbps: number } | undefined;
    for (let i = 0; i < 3; i++) {
      const b = await pullRate(`${berth}/v2/bench/app/blobs/${bs.big}`);
      if (b.seconds < bpull.seconds) bpull = b;
      if (dist !== undefined && ds !== undefined) {
        const d = await pullRate(`${dist}/v2/bench/app/blobs/${ds.big}`);
        if (dpull === undefined || d.seconds < dpull.seconds) dpull = d;
      }
    }
    rows.push({ what: '20 concurrent pulls of 50 MB', berth: bpull.mbps, ...(dpull !== undefined ? { dist: dpull.mbps } : {}), unit: 'MB/s' });
    rows.push({ what: '20 concurrent pulls of 50 MB, wall', berth: bpull.seconds, ...(dpull !== undefined ? { dist: dpull.seconds } : {}), unit: 's' });

    console.log(`HEAD load generator: ${have('ab') ? 'ab -k -i' : 'node'}`);
    console.log(`${'benchmark'.padEnd(40)} ${'berth'.padStart(12)} ${'distribution'.padStart(14)} ${'ratio'.padStart(8)}`);
    for (const r of rows) {
      const ratio = r.dist !== undefined ? (r.unit === 's' ? r.dist / r.berth : r.berth / r.dist) : undefined;
      console.log(
        `${r.what.padEnd(40)} ${`${r.berth.toFixed(r.unit === 's' ? 2 : 0)} ${r.unit}`.padStart(12)} ${r.dist !== undefined ? `${r.dist.toFixed(r.unit === 's' ? 2 : 0)} ${r.unit}`.padStart(14) : '-'.padStart(14)} ${ratio !== undefined ? `${ratio.toFixed(2)}x`.padStart(8) : ''}`,
      );
    }
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', r)))));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
