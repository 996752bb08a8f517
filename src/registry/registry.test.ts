/** Spec behaviours over real HTTP (node's client and curl) against a registry on 127.0.0.1:0. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { Sys } from '../base/sys.js';
import { socketFd } from './handlers/sendfile.js';
import { errorCode, have, http, pushBlob, pushImage, run, sha256, startRegistry, tempDir, type Running } from './testutil.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

describe('registry API', () => {
  let r: Running;
  before(async () => {
    r = await startRegistry();
  });
  after(async () => {
    await r.stop();
  });

  test('/v2/ answers 200 {} with the API version header', async () => {
    const res = await http('GET', `${r.base}/v2/`);
    assert.equal(res.status, 200);
    assert.equal(res.text, '{}');
    assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
  });

  test('monolithic POST ?digest= with curl, then HEAD/GET/Range', async (t) => {
    if (!have('curl')) return t.skip('no curl');
    const dir = await tempDir();
    try {
      const data = Buffer.from('0123456789abcdef'.repeat(64));
      const file = join(dir, 'blob');
      await writeFile(file, data);
      const d = sha256(data);
      const post = (await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %header{location} %header{docker-content-digest}', '-X', 'POST', '-H', 'Content-Type: application/octet-stream', '--data-binary', `@${file}`, `${r.base}/v2/mono/blobs/uploads/?digest=${d}`]));
      assert.equal(post.stdout, `201 /v2/mono/blobs/${d} ${d}`);
      const head = (await run('curl', ['-sI', `${r.base}/v2/mono/blobs/${d}`])).stdout.toLowerCase();
      assert.match(head, /^http\/1.1 200/);
      assert.match(head, new RegExp(`docker-content-digest: ${d}`));
      assert.match(head, /content-length: 1024/);
      assert.match(head, /content-type: application\/octet-stream/);
      assert.match(head, /accept-ranges: bytes/);
      const full = await http('GET', `${r.base}/v2/mono/blobs/${d}`);
      assert.deepEqual(full.body, data);
      const part = await http('GET', `${r.base}/v2/mono/blobs/${d}`, { headers: { Range: 'bytes=16-31' } });
      assert.equal(part.status, 206);
      assert.equal(part.headers['content-range'], 'bytes 16-31/1024');
      assert.deepEqual(part.body, data.subarray(16, 32));
      const bad = await http('GET', `${r.base}/v2/mono/blobs/${d}`, { headers: { Range: 'bytes=5000-' } });
      assert.equal(bad.status, 416);
      assert.equal(bad.headers['content-range'], 'bytes */1024');
      // the blob is not visible through another repository
      assert.equal((await http('HEAD', `${r.base}/v2/other/blobs/${d}`)).status, 404);
      const unknown = await http('GET', `${r.base}/v2/mono/blobs/${sha256('nope')}`);
      assert.equal(unknown.status, 404);
      assert.equal(errorCode(unknown), 'BLOB_UNKNOWN');
      assert.deepEqual(unknown.json(), { errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry', detail: { digest: sha256('nope') } }] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('POST then PUT with the whole blob', async () => {
    const start = await http('POST', `${r.base}/v2/pp/blobs/uploads/`);
    assert.equal(start.status, 202);
    const loc = String(start.headers.location);
    assert.match(loc, /^\/v2\/pp\/blobs\/uploads\/[0-9a-f-]{36}$/);
    assert.equal(start.headers['docker-upload-uuid'], loc.split('/').pop());
    const data = 'post then put';
    const put = await http('PUT', `${r.base}${loc}?digest=${sha256(data)}`, { body: data, headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(put.status, 201);
    assert.equal(put.headers.location, `/v2/pp/blobs/${sha256(data)}`);
    assert.equal((await http('GET', `${r.base}/v2/pp/blobs/${sha256(data)}`)).text, data);
  });

  test('chunked PATCH in order, 416 out of order, status GET, final chunk on PUT', async () => {
    const data = Buffer.from('abcdefghijklmnopqrstuvwxyz');
    const loc = String((await http('POST', `${r.base}/v2/chunky/blobs/uploads/`, { headers: { 'Content-Length': '0' } })).headers.location);
    const p1 = await http('PATCH', `${r.base}${loc}`, { body: data.subarray(0, 10), headers: { 'Content-Range': '0-9', 'Content-Type': 'application/octet-stream' } });
    assert.equal(p1.status, 202);
    assert.equal(p1.headers.range, '0-9');
    assert.equal(p1.headers.location, loc);
    const ooo = await http('PATCH', `${r.base}${loc}`, { body: data.subarray(12, 20), headers: { 'Content-Range': '12-19' } });
    assert.equal(ooo.status, 416);
    assert.equal(errorCode(ooo), 'BLOB_UPLOAD_INVALID');
    const st = await http('GET', `${r.base}${loc}`);
    assert.equal(st.status, 204);
    assert.equal(st.headers.range, '0-9');
    assert.equal(st.headers.location, loc);
    assert.equal(st.headers['docker-upload-uuid'], loc.split('/').pop());
    const p2 = await http('PATCH', `${r.base}${loc}`, { body: data.subarray(10, 20), headers: { 'Content-Range': '10-19' } });
    assert.equal(p2.headers.range, '0-19');
    const put = await http('PUT', `${r.base}${loc}?digest=${sha256(data)}`, { body: data.subarray(20), headers: { 'Content-Range': '20-25' } });
    assert.equal(put.status, 201);
    assert.deepEqual((await http('GET', `${r.base}/v2/chunky/blobs/${sha256(data)}`)).body, data);
    // the session is gone once closed
    assert.equal((await http('GET', `${r.base}${loc}`)).status, 404);
  });

  test('chunked upload with curl, closing PUT without a body', async (t) => {
    if (!have('curl')) return t.skip('no curl');
    const data = 'curl chunk one|curl chunk two';
    const loc = (await run('curl', ['-s', '-o', '/dev/null', '-w', '%header{location}', '-X', 'POST', `${r.base}/v2/curl/chunked/blobs/uploads/`])).stdout;
    const a = (await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %header{range}', '-X', 'PATCH', '-H', 'Content-Range: 0-14', '--data-binary', data.slice(0, 15), `${r.base}${loc}`]));
    assert.equal(a.stdout, '202 0-14');
    const b = (await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %header{range}', '-X', 'PATCH', '-H', 'Content-Range: 15-28', '--data-binary', data.slice(15), `${r.base}${loc}`]));
    assert.equal(b.stdout, '202 0-28');
    const c = (await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'PUT', `${r.base}${loc}?digest=${sha256(data)}`]));
    assert.equal(c.stdout, '201');
    assert.equal((await run('curl', ['-s', `${r.base}/v2/curl/chunked/blobs/${sha256(data)}`])).stdout, data);
  });

  test('DELETE cancels an upload', async () => {
    const loc = String((await http('POST', `${r.base}/v2/cancel/blobs/uploads/`)).headers.location);
    await http('PATCH', `${r.base}${loc}`, { body: 'partial' });
    assert.equal((await http('DELETE', `${r.base}${loc}`)).status, 204);
    const st = await http('GET', `${r.base}${loc}`);
    assert.equal(st.status, 404);
    assert.equal(errorCode(st), 'BLOB_UPLOAD_UNKNOWN');
    assert.equal((await http('DELETE', `${r.base}${loc}`)).status, 404);
  });

  test('a digest mismatch is refused and nothing is stored', async () => {
    const data = 'the real bytes';
    const claimed = sha256('other bytes');
    const mono = await http('POST', `${r.base}/v2/mismatch/blobs/uploads/?digest=${claimed}`, { body: data });
    assert.equal(mono.status, 400);
    assert.equal(errorCode(mono), 'DIGEST_INVALID');
    const loc = String((await http('POST', `${r.base}/v2/mismatch/blobs/uploads/`)).headers.location);
    const put = await http('PUT', `${r.base}${loc}?digest=${claimed}`, { body: data });
    assert.equal(put.status, 400);
    assert.equal(errorCode(put), 'DIGEST_INVALID');
    for (const d of [claimed, sha256(data)]) assert.equal((await http('HEAD', `${r.base}/v2/mismatch/blobs/${d}`)).status, 404);
    const shards = await readdir(join(r.root, 'blobs', 'sha256')).catch(() => [] as string[]);
    for (const d of [claimed, sha256(data)]) assert.ok(!shards.includes(d.slice(7, 9)) || !(await readdir(join(r.root, 'blobs', 'sha256', d.slice(7, 9)))).includes(d.slice(7)));
    assert.deepEqual(await readdir(join(r.root, 'repositories', 'mismatch', '_uploads')), []);
  });

  test('cross-repository mount: 201 when linked in from, else a 202 session', async () => {
    const d = await pushBlob(r.base, 'src/repo', 'mount me');
    const ok = await http('POST', `${r.base}/v2/dst/repo/blobs/uploads/?mount=${d}&from=src/repo`);
    assert.equal(ok.status, 201);
    assert.equal(ok.headers.location, `/v2/dst/repo/blobs/${d}`);
    assert.equal(ok.headers['docker-content-digest'], d);
    assert.equal((await http('HEAD', `${r.base}/v2/dst/repo/blobs/${d}`)).status, 200);
    const fallback = await http('POST', `${r.base}/v2/dst/repo/blobs/uploads/?mount=${d}&from=nowhere`);
    assert.equal(fallback.status, 202);
    assert.match(String(fallback.headers.location), /^\/v2\/dst\/repo\/blobs\/uploads\//);
    const unknown = await http('POST', `${r.base}/v2/dst/repo/blobs/uploads/?mount=${sha256('never pushed')}&from=src/repo`);
    assert.equal(unknown.status, 202);
  });

  test('concurrent uploads of the same blob all succeed and store it once', async () => {
    const data = Buffer.alloc(256 * 1024, 7);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => http('POST', `${r.base}/v2/conc${i % 2}/blobs/uploads/?digest=${sha256(data)}`, { body: data })));
    assert.deepEqual(results.map((x) => x.status), Array(8).fill(201));
    const hex = sha256(data).slice(7);
    assert.deepEqual(await readdir(join(r.root, 'blobs', 'sha256', hex.slice(0, 2), hex)), ['data']);
    assert.deepEqual((await http('GET', `${r.base}/v2/conc1/blobs/${sha256(data)}`)).body, data);
  });

  test('blob DELETE unlinks from the repository only', async () => {
    const d = await pushBlob(r.base, 'del/a', 'delete me');
    await http('POST', `${r.base}/v2/del/b/blobs/uploads/?mount=${d}&from=del/a`);
    assert.equal((await http('DELETE', `${r.base}/v2/del/a/blobs/${d}`)).status, 202);
    assert.equal((await http('HEAD', `${r.base}/v2/del/a/blobs/${d}`)).status, 404);
    assert.equal((await http('HEAD', `${r.base}/v2/del/b/blobs/${d}`)).status, 200);
    const again = await http('DELETE', `${r.base}/v2/del/a/blobs/${d}`);
    assert.equal(again.status, 404);
    assert.equal(errorCode(again), 'BLOB_UNKNOWN');
  });

  test('manifests by tag and digest; Content-Type echoes the stored type', async () => {
    const { digest, body } = await pushImage(r.base, 'img/one', 'v1');
    for (const ref of ['v1', digest]) {
      const g = await http('GET', `${r.base}/v2/img/one/manifests/${ref}`);
      assert.equal(g.status, 200);
      assert.equal(g.text, body);
      assert.equal(g.headers['content-type'], OCI_MANIFEST);
      assert.equal(g.headers['docker-content-digest'], digest);
      const h = await http('HEAD', `${r.base}/v2/img/one/manifests/${ref}`);
      assert.equal(h.status, 200);
      assert.equal(h.headers['content-length'], String(Buffer.byteLength(body)));
      assert.equal(h.body.length, 0);
    }
    // a Docker schema2 manifest keeps its type
    const cfg = await pushBlob(r.base, 'img/one', '{"os":"linux"}');
    const docker = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: cfg, size: 14 },
      layers: [],
    });
    const put = await http('PUT', `${r.base}/v2/img/one/manifests/docker`, { body: docker, headers: { 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json' } });
    assert.equal(put.status, 201);
    assert.equal(put.headers.location, `/v2/img/one/manifests/${sha256(docker)}`);
    assert.equal((await http('HEAD', `${r.base}/v2/img/one/manifests/docker`)).headers['content-type'], 'application/vnd.docker.distribution.manifest.v2+json');
    // an index over both, pushed by digest
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { mediaType: OCI_MANIFEST, digest, size: Buffer.byteLength(body), platform: { architecture: 'amd64', os: 'linux' } },
        { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: sha256(docker), size: Buffer.byteLength(docker) },
      ],
    });
    const ip = await http('PUT', `${r.base}/v2/img/one/manifests/${sha256(index)}`, { body: index, headers: { 'Content-Type': OCI_INDEX } });
    assert.equal(ip.status, 201);
    assert.equal((await http('GET', `${r.base}/v2/img/one/manifests/${sha256(index)}`)).headers['content-type'], OCI_INDEX);
    // retagging moves the tag (and the HEAD cache follows)
    const { digest: d2 } = await pushImage(r.base, 'img/one', 'v1', { seed: 'second' });
    assert.equal((await http('HEAD', `${r.base}/v2/img/one/manifests/v1`)).headers['docker-content-digest'], d2);
  });

  test('manifest PUT verification errors store nothing', async () => {
    const cfg = await pushBlob(r.base, 'verify', '{"c":1}');
    const missing = sha256('missing layer');
    const mk = (layers: string[], mt = OCI_MANIFEST): string =>
      JSON.stringify({
        schemaVersion: 2,
        mediaType: mt,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cfg, size: 7 },
        layers: layers.map((d) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: d, size: 1 })),
      });
    const put = (ref: string, body: string, ct = OCI_MANIFEST) => http('PUT', `${r.base}/v2/verify/manifests/${ref}`, { body, headers: { 'Content-Type': ct } });

    const noBlob = await put('t1', mk([missing]));
    assert.equal(noBlob.status, 404);
    assert.equal(errorCode(noBlob), 'MANIFEST_BLOB_UNKNOWN');
    // a blob that exists in another repository is not enough
    const elsewhere = await pushBlob(r.base, 'verify-other', 'elsewhere');
    assert.equal(errorCode(await put('t1', mk([elsewhere]))), 'MANIFEST_BLOB_UNKNOWN');

    const idx = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha256('no such manifest'), size: 3 }] });
    const noChild = await put('t2', idx, OCI_INDEX);
    assert.equal(noChild.status, 404);
    assert.equal(errorCode(noChild), 'MANIFEST_BLOB_UNKNOWN');

    const good = mk([]);
    const wrongDigest = await put(sha256('something else'), good);
    assert.equal(wrongDigest.status, 400);
    assert.equal(errorCode(wrongDigest), 'DIGEST_INVALID');
    assert.equal((await http('HEAD', `${r.base}/v2/verify/manifests/${sha256(good)}`)).status, 404);

    const typeClash = await put('t3', good, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(typeClash.status, 400);
    assert.equal(errorCode(typeClash), 'MANIFEST_INVALID');
    assert.equal(errorCode(await put('t4', '{not json')), 'MANIFEST_INVALID');
    assert.equal(errorCode(await put('t5', JSON.stringify({ schemaVersion: 1, name: 'x' }))), 'MANIFEST_INVALID');

    const huge = await http('PUT', `${r.base}/v2/verify/manifests/big`, { body: Buffer.alloc(4 * 1024 * 1024 + 1, 32), headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(huge.status, 413);

    const tags = await http('GET', `${r.base}/v2/verify/tags/list`);
    assert.deepEqual((tags.json() as { tags: string[] }).tags, []);
    assert.equal((await put('ok', good)).status, 201);
  });

  test('tags list: sorted, n/last paging with Link, n=0', async () => {
    const tags = ['b', 'a', 'c', 'A', '1.0', 'latest'];
    for (const t of tags) await pushImage(r.base, 'paged', t, { seed: 'same' });
    const all = await http('GET', `${r.base}/v2/paged/tags/list`);
    assert.deepEqual(all.json(), { name: 'paged', tags: [...tags].sort() });
    const p1 = await http('GET', `${r.base}/v2/paged/tags/list?n=2`);
    assert.deepEqual((p1.json() as { tags: string[] }).tags, ['1.0', 'A']);
    assert.equal(p1.headers.link, '</v2/paged/tags/list?n=2&last=A>; rel="next"');
    const p2 = await http('GET', `${r.base}/v2/paged/tags/list?n=2&last=A`);
    assert.deepEqual((p2.json() as { tags: string[] }).tags, ['a', 'b']);
    const p3 = await http('GET', `${r.base}/v2/paged/tags/list?n=2&last=b`);
    assert.deepEqual((p3.json() as { tags: string[] }).tags, ['c', 'latest']);
    assert.equal(p3.headers.link, undefined);
    const zero = await http('GET', `${r.base}/v2/paged/tags/list?n=0`);
    assert.deepEqual((zero.json() as { tags: string[] }).tags, []);
    assert.equal(zero.headers.link, undefined);
    const unknown = await http('GET', `${r.base}/v2/never/pushed/tags/list`);
    assert.equal(unknown.status, 404);
    assert.equal(errorCode(unknown), 'NAME_UNKNOWN');
  });

  test('catalog lists repositories with paging', async () => {
    const all = (await http('GET', `${r.base}/v2/_catalog`)).json() as { repositories: string[] };
    assert.ok(all.repositories.includes('img/one'));
    assert.deepEqual(all.repositories, [...all.repositories].sort());
    const p1 = await http('GET', `${r.base}/v2/_catalog?n=1`);
    const first = (p1.json() as { repositories: string[] }).repositories;
    assert.deepEqual(first, all.repositories.slice(0, 1));
    assert.equal(p1.headers.link, `</v2/_catalog?n=1&last=${encodeURIComponent(first[0]!)}>; rel="next"`);
    const p2 = (await http('GET', `${r.base}/v2/_catalog?n=1000&last=${encodeURIComponent(first[0]!)}`)).json() as { repositories: string[] };
    assert.deepEqual(p2.repositories, all.repositories.slice(1));
  });

  test('referrers: OCI-Subject on push, listing, artifactType filter', async () => {
    const subj = await pushImage(r.base, 'ref/app', 'v1');
    const subject = { mediaType: OCI_MANIFEST, digest: subj.digest, size: Buffer.byteLength(subj.body) };
    const sbomPut = await pushImage(r.base, 'ref/app', 'sbom', { subject, artifactType: 'application/vnd.example.sbom', annotations: { 'org.example.k': 'v' } });
    const sig = await pushImage(r.base, 'ref/app', 'sig', { subject, seed: 'sig' }); // no artifactType: the config's media type
    const raw = await http('GET', `${r.base}/v2/ref/app/manifests/sbom`);
    assert.equal(raw.headers['docker-content-digest'], sbomPut.digest);
    // the OCI-Subject header on a PUT with a subject
    const again = await http('PUT', `${r.base}/v2/ref/app/manifests/sbom2`, { body: sbomPut.body, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(again.headers['oci-subject'], subj.digest);
    const list = await http('GET', `${r.base}/v2/ref/app/referrers/${subj.digest}`);
    assert.equal(list.status, 200);
    assert.equal(list.headers['content-type'], OCI_INDEX);
    const idx = list.json() as { schemaVersion: number; mediaType: string; manifests: { digest: string; artifactType?: string; annotations?: Record<string, string> }[] };
    assert.equal(idx.schemaVersion, 2);
    assert.equal(idx.mediaType, OCI_INDEX);
    const byDigest = new Map(idx.manifests.map((m) => [m.digest, m]));
    assert.equal(byDigest.size, 2);
    assert.equal(byDigest.get(sbomPut.digest)?.artifactType, 'application/vnd.example.sbom');
    assert.deepEqual(byDigest.get(sbomPut.digest)?.annotations, { 'org.example.k': 'v' });
    assert.equal(byDigest.get(sig.digest)?.artifactType, 'application/vnd.oci.image.config.v1+json');
    const filtered = await http('GET', `${r.base}/v2/ref/app/referrers/${subj.digest}?artifactType=application/vnd.example.sbom`);
    assert.equal(filtered.headers['oci-filters-applied'], 'artifactType');
    assert.deepEqual((filtered.json() as { manifests: { digest: string }[] }).manifests.map((m) => m.digest), [sbomPut.digest]);
    const none = await http('GET', `${r.base}/v2/ref/app/referrers/${sha256('nothing refers')}`);
    assert.equal(none.status, 200);
    assert.deepEqual((none.json() as { manifests: unknown[] }).manifests, []);
    assert.equal((await http('GET', `${r.base}/v2/ref/app/referrers/sha256:xyz`)).status, 400);
    // deleting a referrer drops it from the list
    assert.equal((await http('DELETE', `${r.base}/v2/ref/app/manifests/${sig.digest}`)).status, 202);
    const after = (await http('GET', `${r.base}/v2/ref/app/referrers/${subj.digest}`)).json() as { manifests: { digest: string }[] };
    assert.deepEqual(after.manifests.map((m) => m.digest), [sbomPut.digest]);
  });

  test('manifest and tag deletes', async () => {
    const a = await pushImage(r.base, 'gone', 'keep', { seed: 'same' });
    await pushImage(r.base, 'gone', 'also', { seed: 'same' });
    const b = await pushImage(r.base, 'gone', 'drop', { seed: 'other' });
    assert.equal((await http('DELETE', `${r.base}/v2/gone/manifests/drop`)).status, 202);
    assert.equal(errorCode(await http('GET', `${r.base}/v2/gone/manifests/drop`)), 'MANIFEST_UNKNOWN');
    assert.equal((await http('GET', `${r.base}/v2/gone/manifests/${b.digest}`)).status, 200, 'tag delete keeps the manifest');
    assert.equal((await http('DELETE', `${r.base}/v2/gone/manifests/${a.digest}`)).status, 202);
    for (const ref of ['keep', 'also', a.digest]) assert.equal((await http('HEAD', `${r.base}/v2/gone/manifests/${ref}`)).status, 404);
    assert.deepEqual((await http('GET', `${r.base}/v2/gone/tags/list`)).json(), { name: 'gone', tags: [] });
    assert.equal((await http('DELETE', `${r.base}/v2/gone/manifests/${a.digest}`)).status, 404);
  });

  test('names and references are validated', async () => {
    const bad = await http('GET', `${r.base}/v2/Upper/Case/tags/list`);
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad), 'NAME_INVALID');
    assert.equal((await http('GET', `${r.base}/v2/a//b/tags/list`)).status, 400);
    assert.equal(errorCode(await http('GET', `${r.base}/v2/img/one/manifests/nosuchtag`)), 'MANIFEST_UNKNOWN');
    assert.equal(errorCode(await http('GET', `${r.base}/v2/no/repo/manifests/latest`)), 'NAME_UNKNOWN');
    assert.equal(errorCode(await http('GET', `${r.base}/v2/img/one/blobs/sha256:short`)), 'DIGEST_INVALID');
    assert.equal((await http('GET', `${r.base}/v2/a/b/c/d/e/tags/list`)).status, 404);
    assert.equal((await http('POST', `${r.base}/v2/img/one/manifests/x`)).status, 405);
  });
});

describe('registry with deletes disabled', () => {
  test('DELETE answers 405 UNSUPPORTED', async () => {
    const r = await startRegistry({ deleteEnabled: false });
    try {
      const { digest } = await pushImage(r.base, 'nodel', 'v1');
      const res = await http('DELETE', `${r.base}/v2/nodel/manifests/${digest}`);
      assert.equal(res.status, 405);
      assert.equal(errorCode(res), 'UNSUPPORTED');
    } finally {
      await r.stop();
    }
  });
});

/**
 * Blobs bigger than the socket's send buffer, so the sendfile path runs,
 * fills the socket (EAGAIN) and resumes. Each check compares bytes.
 */
describe('large blob bodies (sendfile)', () => {
  const data = randomBytes(24 * 1024 * 1024 + 12345);
  const d = sha256(data);

  /** GET through `agent`, optionally pausing before reading so the server's socket fills. */
  const get = (base: string, range: string | undefined, agent: Agent | false, pauseMs = 0): Promise<{ status: number; body: Buffer; headers: Record<string, unknown> }> =>
    new Promise((resolve, reject) => {
      const q = request(`${base}/v2/big/blobs/${d}`, { agent, headers: range !== undefined ? { Range: range } : {} }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts), headers: res.headers }));
        res.on('error', reject);
        if (pauseMs > 0) {
          res.pause();
          setTimeout(() => res.resume(), pauseMs);
        }
      });
      q.on('error', reject);
      q.end();
    });

  const checks = async (base: string): Promise<void> => {
    const full = await get(base, undefined, false);
    assert.equal(full.status, 200);
    assert.equal(full.body.length, data.length);
    assert.ok(full.body.equals(data), 'whole body');
    const ranges: [string, number, number][] = [
      ['bytes=100-', 100, data.length - 1],
      ['bytes=-5000', data.length - 5000, data.length - 1],
      ['bytes=70000-9000000', 70000, 9000000],
      ['bytes=65536-65536', 65536, 65536],
    ];
    const got = await Promise.all(ranges.map(([h]) => get(base, h, false)));
    for (const [i, [h, s, e]] of ranges.entries()) {
      assert.equal(got[i]?.status, 206, h);
      assert.equal(got[i]?.headers['content-range'], `bytes ${s}-${e}/${data.length}`);
      assert.ok(got[i]?.body.equals(data.subarray(s, e + 1)), h);
    }
    // A reader that stalls: the server sees EAGAIN and must resume without losing or reordering bytes.
    const slow = await get(base, 'bytes=1-', false, 300);
    assert.ok(slow.body.equals(data.subarray(1)), 'stalled reader');
    // Keep-alive: a response after a sendfile body must still be framed right.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const a = await get(base, 'bytes=0-99999', agent);
      const b = await get(base, undefined, agent);
      const head = await http('HEAD', `${base}/v2/big/blobs/${d}`);
      assert.ok(a.body.equals(data.subarray(0, 100000)));
      assert.ok(b.body.equals(data));
      assert.equal(head.headers['content-length'], String(data.length));
    } finally {
      agent.destroy();
    }
    // A client that goes away mid-body leaves the server serving others.
    await new Promise<void>((resolve, reject) => {
      const q = request(`${base}/v2/big/blobs/${d}`, { agent: false }, (res) => {
        res.once('data', () => {
          q.destroy();
          resolve();
        });
      });
      q.on('error', (e) => (q.destroyed ? undefined : reject(e)));
      q.end();
    });
    const after = await get(base, 'bytes=-1', false);
    assert.ok(after.body.equals(data.subarray(-1)));
  };

  test('whole, ranged, concurrent, stalled, keep-alive and aborted GETs', async () => {
    const r = await startRegistry();
    try {
      await pushBlob(r.base, 'big', data);
      await checks(r.base);
    } finally {
      await r.stop();
    }
  });

  test('without a usable sendfile binding the same bodies go the ordinary way', async () => {
    // No glibc: the first call fails.
    class NoLibc extends Sys {
      override sendfile(): number {
        throw new Error('libc.so.6: cannot open shared object file');
      }
    }
    // Fails mid-body, after some bytes went out by sendfile: the rest must follow in order.
    class Flaky extends Sys {
      private calls = 0;
      override sendfile(outFd: number, inFd: number, offset: number, count: number): number {
        if (++this.calls > 2) throw new Error('binding gone');
        return super.sendfile(outFd, inFd, offset, count);
      }
    }
    for (const sys of [new NoLibc(), new Flaky()]) {
      const r = await startRegistry({ sys });
      try {
        await pushBlob(r.base, 'big', data);
        await checks(r.base);
      } finally {
        await r.stop();
      }
    }
  });

  test('socketFd: undefined without a socket', () => {
    assert.equal(socketFd(null), undefined);
  });
});
