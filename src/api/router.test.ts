import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router, splitVersion, compareVersions, compileTemplate, type Handler } from './router.js';

const h = (name: string): Handler => {
  const f: Handler = () => {};
  Object.defineProperty(f, 'name', { value: name });
  return f;
};

test('version prefix: stripped, recorded, bounds as dockerd', () => {
  assert.deepEqual(splitVersion('/v1.41/containers/json'), { ok: true, version: '1.41', path: '/containers/json' });
  assert.deepEqual(splitVersion('/v1.12/version'), { ok: true, version: '1.12', path: '/version' });
  assert.deepEqual(splitVersion('/version'), { ok: true, version: '1.41', path: '/version' });
  assert.deepEqual(splitVersion('/volumes/x'), { ok: true, version: '1.41', path: '/volumes/x' });
  const tooNew = splitVersion('/v1.50/version');
  assert.deepEqual(tooNew, { ok: false, tooNew: true, message: 'client version 1.50 is too new. Maximum supported API version is 1.41' });
  const tooOld = splitVersion('/v1.11/version');
  assert.equal(tooOld.ok, false);
  assert.equal(!tooOld.ok && tooOld.message, 'client version 1.11 is too old. Minimum supported API version is 1.12, please upgrade your client to a newer version');
  assert.equal(compareVersions('1.9', '1.12'), -1);
  assert.equal(compareVersions('1.41', '1.41'), 0);
});

test('templates: one segment by default, greedy with a regex, named params', () => {
  const { re, names } = compileTemplate('/images/{name:.+}/json');
  assert.deepEqual(names, ['name']);
  assert.equal(re.exec('/images/localhost:5000/t1:v1/json')?.groups?.['name'], 'localhost:5000/t1:v1');
  assert.equal(compileTemplate('/containers/{id}/json').re.test('/containers/a/b/json'), false);
  assert.throws(() => compileTemplate('/x/{a'), /unbalanced/);
});

test('router: greedy image routes, literal first-segment buckets, wildcard routes, method', () => {
  const r = new Router().register([
    { method: 'GET', path: '/images/json', handler: h('list') },
    { method: 'GET', path: '/images/{name:.+}/json', handler: h('inspect') },
    { method: 'POST', path: '/images/{name:.+}/(?:push)', handler: h('never') },
    { method: 'POST', path: '/images/{name:.+}/push', handler: h('push') },
    { method: 'POST', path: '/images/{name:.+}/tag', handler: h('tag') },
    { method: 'DELETE', path: '/images/{name:.+}', handler: h('rmi') },
    { method: 'GET', path: '/containers/{id}/json', handler: h('cinspect') },
    { method: 'GET', path: /^\/plugins\/(?<name>.+)\/json$/, handler: h('plugin') },
    { method: 'GET', path: /^\/x\/(\d+)$/, handler: h('positional') },
  ]);
  assert.equal(r.match('GET', '/images/json')?.handler.name, 'list');
  const insp = r.match('GET', '/images/localhost:5000/t1:v1/json');
  assert.equal(insp?.handler.name, 'inspect');
  assert.deepEqual(insp?.params, { name: 'localhost:5000/t1:v1' });
  assert.deepEqual(r.match('POST', '/images/localhost:5000/t1/push')?.params, { name: 'localhost:5000/t1' });
  assert.equal(r.match('POST', '/images/localhost:5000/t1/push')?.handler.name, 'push');
  assert.deepEqual(r.match('DELETE', '/images/localhost:5000/t1:v2')?.params, { name: 'localhost:5000/t1:v2' });
  assert.deepEqual(r.match('GET', '/containers/web/json')?.params, { id: 'web' });
  assert.equal(r.match('GET', '/containers/a/b/json'), undefined);
  assert.deepEqual(r.match('GET', '/plugins/foo/bar/json')?.params, { name: 'foo/bar' });
  assert.deepEqual(r.match('GET', '/x/42')?.params, { '0': '42' });
  assert.equal(r.match('PUT', '/images/json'), undefined);
  assert.equal(r.match('GET', '/nothing'), undefined);
});
