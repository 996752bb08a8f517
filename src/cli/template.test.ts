import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goJson, printValue, renderTemplate, sprintf, Template, TemplateError } from './template.js';
import { indentJson, preFormat, renderRows, truncateId, ellipsis } from './format.js';
import { tabwrite } from './tabwriter.js';

const data = {
  Name: 'web',
  Config: { Cmd: ['sh', '-c', 'echo hi'], Labels: { b: '2', a: '1' }, Env: null, Empty: [] },
  Size: 1985472,
  Ratio: 0.5,
  On: true,
  Tags: ['a:1', 'b:2'],
};

const cases: Array<[string, string]> = [
  ['{{.Name}}', 'web'],
  ['{{.Config.Cmd}}', '[sh -c echo hi]'],
  ['{{.Config.Labels}}', 'map[a:1 b:2]'],
  ['{{.Config.Env}}', '<nil>'],
  ['{{.Missing}}', '<no value>'],
  ['{{.Size}} {{.Ratio}} {{.On}}', '1985472 0.5 true'],
  ['{{json .Config.Cmd}}', '["sh","-c","echo hi"]'],
  ['{{.Config.Cmd | json}}', '["sh","-c","echo hi"]'],
  ['{{json .Config.Labels}}', '{"b":"2","a":"1"}'],
  ['{{range .Tags}}[{{.}}]{{end}}', '[a:1][b:2]'],
  ['{{range $i, $t := .Tags}}{{$i}}={{$t}} {{end}}', '0=a:1 1=b:2 '],
  ['{{range .Config.Empty}}x{{else}}none{{end}}', 'none'],
  ['{{range $k, $v := .Config.Labels}}{{$k}}{{$v}}{{end}}', 'a1b2'],
  ['{{if .On}}yes{{else}}no{{end}}', 'yes'],
  ['{{if .Config.Empty}}yes{{else if .Name}}name{{else}}no{{end}}', 'name'],
  ['{{if eq .Name "web" "db"}}match{{end}}', 'match'],
  ['{{if and .On (ne .Name "x")}}ok{{end}}', 'ok'],
  ['{{if or .Config.Empty .Missing}}t{{else}}f{{end}}', 'f'],
  ['{{if not .On}}t{{else}}f{{end}}', 'f'],
  ['{{index .Config.Labels "a"}}', '1'],
  ['{{index .Tags 1}}', 'b:2'],
  ['{{join .Tags ","}}', 'a:1,b:2'],
  ['{{split "a,b" ","}}', '[a b]'],
  ['{{lower "ABC"}}{{upper "abc"}}{{title "hello world"}}', 'abcABCHello World'],
  ['{{println .Name}}', 'web\n'],
  ['{{printf "%s-%d-%5s|%-4s|%q" .Name .Size "x" "y" "z"}}', 'web-1985472-    x|y   |"z"'],
  ['{{len .Tags}}', '2'],
  ['{{with .Config}}{{.Cmd}}{{end}}', '[sh -c echo hi]'],
  ['{{with .Missing}}x{{else}}empty{{end}}', 'empty'],
  ['{{$n := .Name}}{{range .Tags}}{{$n}}{{end}}', 'webweb'],
  ['{{range .Tags}}{{$.Name}}{{end}}', 'webweb'],
  ['a  {{- .Name -}}  b', 'awebb'],
  ['{{/* a comment */}}x', 'x'],
  ['{{pad .Name 1 2}}|{{truncate .Name 2}}', ' web  |we'],
  ['{{(index .Tags 0) | upper}}', 'A:1'],
  ['{{"quoted \\"str\\""}}', 'quoted "str"'],
  ['{{`raw`}}', 'raw'],
];

for (const [tmpl, want] of cases) {
  test(`template ${JSON.stringify(tmpl)}`, () => {
    assert.equal(renderTemplate(tmpl, data), want);
  });
}

test('unknown functions fail at parse time', () => {
  assert.throws(() => Template.parse('{{nosuch .X}}'), (e: unknown) => e instanceof TemplateError && /function "nosuch" not defined/.test(e.message));
  assert.throws(() => Template.parse('{{if .X}}'), TemplateError);
});

test('struct fields: missing ones are errors, getters are fields', () => {
  class Row {
    get ID(): string { return 'abc'; }
    Label(k: string): string { return `L:${k}`; }
  }
  assert.equal(renderTemplate('{{.ID}} {{.Label "x"}}', new Row()), 'abc L:x');
  assert.throws(() => renderTemplate('{{.Nope}}', new Row()), /can't evaluate field Nope/);
  assert.throws(() => renderTemplate('{{.Nope}}', {}, { missingKeyError: true }), /map has no entry for key "Nope"/);
});

test('json of Marshaler-like values escapes HTML; raw values do not', () => {
  assert.equal(goJson({ a: '<none>' }), '{"a":"<none>"}');
  assert.equal(goJson({ toJSON: () => ({ a: '<none>&' }) }), '{"a":"\\u003cnone\\u003e\\u0026"}');
  assert.equal(goJson(undefined), 'null');
});

test('printValue and sprintf edge cases', () => {
  assert.equal(printValue([1, 'a', null]), '[1 a <nil>]');
  assert.equal(printValue({ b: [1], a: { c: true } }), 'map[a:map[c:true] b:[1]]');
  // structs (capitalised field names, in field order) as the docker CLI prints them
  assert.equal(printValue({ Type: 'json-file', Config: {} }), '{json-file map[]}');
  assert.equal(printValue({ Name: 'no', MaximumRetryCount: 0 }), '{no 0}');
  assert.equal(printValue({ Status: 'running', Health: null, Labels: { z: '1', a: '2' } }), '{running <nil> map[a:2 z:1]}');
  assert.equal(sprintf('%v%%', [5]), '5%');
  assert.equal(sprintf('%05d', [42]), '00042');
  assert.equal(sprintf('%s', []), '%!s(MISSING)');
});

test('tabwriter: docker table layout (minwidth 10, padding 3)', () => {
  const out = tabwrite('REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\nbusybox\tlocal\t02291ac9d98f\t2 minutes ago\t1.99MB\n', 10, 3);
  assert.equal(out, 'REPOSITORY   TAG       IMAGE ID       CREATED         SIZE\nbusybox      local     02291ac9d98f   2 minutes ago   1.99MB\n');
});

test('tabwriter: an empty last cell still pads the column before it', () => {
  assert.equal(tabwrite('A\tB\nxx\t\n', 10, 3), 'A         B\nxx        \n');
});

test('tabwriter: lines without tabs break column blocks', () => {
  assert.equal(tabwrite('a\tb\nlonger line\nccccccccccccc\td\n', 1, 1), 'a b\nlonger line\nccccccccccccc d\n');
});

test('tabwriter: wide characters count double', () => {
  assert.equal(tabwrite('日本\tx\nab\ty\n', 1, 1), '日本 x\nab   y\n');
});

test('renderRows: table header from the same template, custom format, quiet', () => {
  class R { constructor(readonly ID: string, readonly Size: string) {} }
  const rows = [new R('abc', '1MB'), new R('defghijklmnop', '22MB')];
  const headers = { ID: 'IMAGE ID', Size: 'SIZE' };
  assert.equal(renderRows('table {{.ID}}\\t{{.Size}}', rows, headers), 'IMAGE ID        SIZE\nabc             1MB\ndefghijklmnop   22MB\n');
  assert.equal(renderRows('{{.ID}}:{{.Size}}', rows, headers), 'abc:1MB\ndefghijklmnop:22MB\n');
  assert.equal(renderRows('table {{.ID}}\t{{.Size | lower}}', [], headers), 'IMAGE ID   SIZE\n');
  assert.equal(renderRows('table', rows, headers), '\n\n\n');
});

test('preFormat strips table and expands json and escapes', () => {
  assert.equal(preFormat('table {{.ID}}\\t{{.Size}}'), '{{.ID}}\t{{.Size}}');
  assert.equal(preFormat('json'), '{{json .}}');
  assert.equal(preFormat('{{.A}}\\n'), '{{.A}}\n');
});

test('indentJson is Go json.Indent', () => {
  assert.equal(indentJson('[{"a":1,"b":[],"c":{},"d":["x","y"],"e":"q\\"{,"}]'), '[\n    {\n        "a": 1,\n        "b": [],\n        "c": {},\n        "d": [\n            "x",\n            "y"\n        ],\n        "e": "q\\"{,"\n    }\n]');
});

test('truncateId and ellipsis', () => {
  assert.equal(truncateId('sha256:02291ac9d98f5b6ca2c0cfc6fc1614854478d76f109b5737051e63bbb0a84f99'), '02291ac9d98f');
  assert.equal(truncateId('<missing>'), '<missing>');
  assert.equal(ellipsis('/bin/sh -c #(nop) COPY file:73e2b2d48642b21b357384b0cb81c1869cc5e0c48a00f61553756196058304b9 in /bin/busybox', 45), '/bin/sh -c #(nop) COPY file:73e2b2d48642b21b…');
});
