import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../base/errors.js';
import { Query, parseGoBool, parseFilters } from './http.js';
import { decodeJsonLikeGo, goJson, JsonSyntaxError } from './gojson.js';
import { frame, FrameDecoder } from './stdcopy.js';
import { httpStatusOf, HttpError } from './errors.js';
import { ConflictError, NotFoundError, NotModifiedError, UnauthorizedError, ForbiddenError, UnavailableError, NotImplementedError, CancelledError, InternalError } from '../base/errors.js';

test('ParseBool like Go', () => {
  for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(parseGoBool(t), true);
  for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(parseGoBool(f), false);
  for (const x of ['yes', 'tRUE', '2', '']) assert.equal(parseGoBool(x), undefined);
  const q = new Query('all=1&v=True&link=False&force=false&x=yes&e=');
  assert.equal(q.bool('all'), true);
  assert.equal(q.bool('v'), true);
  assert.equal(q.bool('link'), false);
  assert.equal(q.bool('force'), false);
  assert.equal(q.bool('absent'), false);
  assert.equal(q.bool('e'), false);
  assert.throws(() => q.bool('x'), (e: unknown) => e instanceof InvalidArgumentError && /ParseBool: parsing "yes"/.test(e.message));
});

test('query: str, strs, int, json, plus-as-space', () => {
  const q = new Query('t=a&t=b%3Av1&limit=-1&tail=all&fromImage=localhost%3A5000%2Ft1&buildargs=%7B%22A%22%3A+%221%22%7D');
  assert.deepEqual(q.strs('t'), ['a', 'b:v1']);
  assert.equal(q.str('fromImage'), 'localhost:5000/t1');
  assert.equal(q.int('limit'), -1);
  assert.equal(q.int('nope'), undefined);
  assert.equal(q.int('nope', 10), 10);
  assert.throws(() => q.int('tail'), /strconv.Atoi: parsing "all": invalid syntax/);
  assert.deepEqual(q.json('buildargs'), { A: '1' });
  assert.equal(new Query('').str('x'), undefined);
});

test('filters: both shapes', () => {
  const cli = parseFilters('{"label":{"app=demo":true},"status":{"running":true}}');
  assert.deepEqual([...cli], [['label', ['app=demo']], ['status', ['running']]]);
  const py = parseFilters('{"status": ["created", "exited"], "label": ["com.docker.compose.project=cproj", "com.docker.compose.oneoff=False"]}');
  assert.deepEqual(py.get('status'), ['created', 'exited']);
  assert.deepEqual(py.get('label'), ['com.docker.compose.project=cproj', 'com.docker.compose.oneoff=False']);
  assert.equal(parseFilters('').size, 0);
  assert.equal(new Query('filters=%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%7D').filters().get('dangling')?.[0], 'true');
  assert.throws(() => parseFilters('notjson'), (e: unknown) => e instanceof InvalidArgumentError && e.message === "invalid character 'o' in literal null (expecting 'u')");
  assert.throws(() => parseFilters('{"a":1}'), InvalidArgumentError);
});

test('goJson escapes like Go', () => {
  assert.equal(goJson({ progress: '[===>]  a&b <x>' }), '{"progress":"[===\\u003e]  a\\u0026b \\u003cx\\u003e"}');
  assert.equal(goJson(undefined), 'null');
  assert.equal(goJson('\u2028'), '"\\u2028"');
});

test('JSON decode errors in Go words', () => {
  const msg = (s: string): string => {
    try {
      decodeJsonLikeGo(Buffer.from(s));
    } catch (e) {
      assert.ok(e instanceof JsonSyntaxError);
      return e.message;
    }
    return 'ok';
  };
  assert.equal(msg('{bad'), "invalid character 'b' looking for beginning of object key string");
  assert.equal(msg(''), 'EOF');
  assert.equal(msg('  \n'), 'EOF');
  assert.equal(msg('{"a":'), 'unexpected EOF');
  assert.equal(msg('{"a" 1}'), "invalid character '1' after object key");
  assert.equal(msg('{"a":1 "b"}'), `invalid character '"' after object key:value pair`);
  assert.equal(msg('[1 2]'), "invalid character '2' after array element");
  assert.equal(msg('tru'), 'unexpected EOF');
  assert.equal(msg('trux'), "invalid character 'x' in literal true (expecting 'e')");
  assert.equal(msg('{"a":-x}'), "invalid character 'x' in numeric literal");
  assert.equal(msg('{"a":"\\q"}'), "invalid character 'q' in string escape code");
  assert.equal(msg('{"a":"\n"}'), "invalid character '\\n' in string literal");
  assert.equal(msg("'x'"), "invalid character '\\'' looking for beginning of value");
  assert.equal(msg('{"Detach":false}\n'), 'ok');
  // One value, then anything: the Decoder reads just the value.
  assert.deepEqual(decodeJsonLikeGo(Buffer.from('{"t":0} trailing')), { t: 0 });
});

test('stdcopy frames', () => {
  assert.deepEqual([...frame(1, 'hi\n')], [1, 0, 0, 0, 0, 0, 0, 3, 0x68, 0x69, 0x0a]);
  const d = new FrameDecoder();
  const two = Buffer.concat([frame(2, 'two\n'), frame(1, 'one\n')]);
  assert.deepEqual(d.push(two.subarray(0, 5)), []);
  const got = d.push(two.subarray(5));
  assert.deepEqual(got.map((f) => [f.stream, f.payload.toString()]), [[2, 'two\n'], [1, 'one\n']]);
});

test('error taxonomy → status', () => {
  assert.equal(httpStatusOf(new InvalidArgumentError('x')), 400);
  assert.equal(httpStatusOf(new NotFoundError('x')), 404);
  assert.equal(httpStatusOf(new ConflictError('x')), 409);
  assert.equal(httpStatusOf(new NotModifiedError('x')), 304);
  assert.equal(httpStatusOf(new UnauthorizedError('x')), 401);
  assert.equal(httpStatusOf(new ForbiddenError('x')), 403);
  assert.equal(httpStatusOf(new UnavailableError('x')), 503);
  assert.equal(httpStatusOf(new NotImplementedError('x')), 501);
  assert.equal(httpStatusOf(new CancelledError('x')), 500);
  assert.equal(httpStatusOf(new InternalError('x')), 500);
  assert.equal(httpStatusOf(new Error('x')), 500);
  assert.equal(httpStatusOf(new HttpError(418, 'x')), 418);
});
