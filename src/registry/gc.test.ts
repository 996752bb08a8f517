/** Garbage collection: what is kept, what is swept, and the grace periods. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../base/log.js';
import { garbageCollect } from './gc.js';
import { registryGarbageCollect } from './cli.js';
import { http, pushBlob, pushImage, startRegistry } from './testutil.js';

test('gc keeps what manifests reference, sweeps the rest after the grace period, and spares live uploads', async () => {
  const r = await startRegistry();
  try {
    const kept = await pushImage(r.base, 'gc/app', 'v1', { seed: 'kept' });
    const dropped = await pushImage(r.base, 'gc/app', 'v2', { seed: 'dropped' });
    const orphan = await pushBlob(r.base, 'gc/app', 'orphan blob');
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: kept.digest, size: Buffer.byteLength(kept.body) }],
    });
    assert.equal((await http('PUT', `${r.base}/v2/gc/app/manifests/idx`, { body: index, headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' } })).status, 201);
    assert.equal((await http('DELETE', `${r.base}/v2/gc/app/manifests/${dropped.digest}`)).status, 202);
    const live = String((await http('POST', `${r.base}/v2/gc/app/blobs/uploads/`)).headers.location);
    await http('PATCH', `${r.base}${live}`, { body: 'in flight' });
    const stale = String((await http('POST', `${r.base}/v2/gc/app/blobs/uploads/`)).headers.location);
    const staleDir = join(r.root, 'repositories', 'gc', 'app', '_uploads', stale.split('/').pop()!);
    const old = new Date(Date.now() - 2 * 86_400_000);
    await utimes(join(staleDir, 'data'), old, old);
    await utimes(staleDir, old, old);

    // Within the grace period nothing goes.
    const young = await garbageCollect(r.reg.store, { log: silentLogger });
    assert.deepEqual(young.sweptBlobs, []);
    assert.equal(young.sweptUploads, 1, 'the idle upload is swept, the live one is not');

    // Dry run reports without deleting; grace 0 sweeps the orphan and the dropped manifest's blobs.
    const dry = await garbageCollect(r.reg.store, { log: silentLogger, graceMs: 0, dryRun: true });
    const res = await garbageCollect(r.reg.store, { log: silentLogger, graceMs: 0 });
    assert.deepEqual([...dry.sweptBlobs].sort(), [...res.sweptBlobs].sort());
    assert.ok(res.sweptBlobs.includes(orphan as never));
    assert.ok(res.sweptBlobs.includes(dropped.digest as never));
    assert.equal(res.sweptBlobs.length, 4, 'orphan, dropped manifest, its config and layer');
    assert.equal((await http('HEAD', `${r.base}/v2/gc/app/blobs/${orphan}`)).status, 404);
    // Everything reachable from tags, the index and its child still pulls.
    for (const ref of ['v1', 'idx', kept.digest]) assert.equal((await http('GET', `${r.base}/v2/gc/app/manifests/${ref}`)).status, 200);
    const m = JSON.parse(kept.body) as { config: { digest: string }; layers: { digest: string }[] };
    for (const d of [m.config.digest, m.layers[0]!.digest]) assert.equal((await http('GET', `${r.base}/v2/gc/app/blobs/${d}`)).status, 200);
    assert.equal((await http('GET', `${r.base}${live}`)).status, 204);
    assert.equal((await readdir(join(r.root, 'repositories', 'gc', 'app', '_uploads'))).length, 1);
  } finally {
    await r.stop();
  }
});

test('garbage-collect entry point', async () => {
  const r = await startRegistry();
  try {
    await pushBlob(r.base, 'cli/gc', 'unreferenced');
    let out = '';
    const code = await registryGarbageCollect(['--root', r.root, '--grace', '0s', '--dry-run', '--log-level', 'error'], { out: (s) => (out += s), err: () => {} });
    assert.equal(code, 0);
    assert.match(out, /would delete sha256:/);
    assert.match(out, /^1 blobs/m);
  } finally {
    await r.stop();
  }
});
