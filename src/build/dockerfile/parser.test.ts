import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile, DockerfileSyntaxError } from './parser.js';
import { validateInstruction, parseDuration } from './instructions.js';
import { expandWord, expandWords, splitWordsRaw } from './shell.js';

test('directives, continuation, comments, JSON and shell forms, flags, lines', () => {
  const p = parseDockerfile('# syntax=docker/dockerfile:1\n# escape=`\nFROM bb AS x\n# c\nRUN echo a `\n  # inner comment\n  b\nCMD ["a", "b"]\nCOPY --from=x --chown=1:1 /a /b\n');
  assert.equal(p.directives.get('syntax'), 'docker/dockerfile:1');
  assert.equal(p.escape, '`');
  assert.deepEqual(p.instructions.map((i) => [i.cmd, i.startLine]), [['from', 3], ['run', 5], ['cmd', 8], ['copy', 9]]);
  assert.equal(p.instructions[1]!.args, 'echo a   b');
  assert.deepEqual(p.instructions[2]!.json, ['a', 'b']);
  assert.deepEqual(p.instructions[3]!.flags, ['from=x', 'chown=1:1']);
  assert.equal(p.instructions[3]!.args, '/a /b');
});

test('directives stop at the first non-directive line', () => {
  const p = parseDockerfile('FROM x\n# escape=`\nRUN a \\\n b\n');
  assert.equal(p.escape, '\\');
  assert.equal(p.instructions[1]!.args, 'a  b');
});

test('heredocs: bodies, <<- tab stripping, quoted delimiters, several per instruction', () => {
  const p = parseDockerfile('FROM x\nRUN <<EOF\necho hi\nEOF\nCOPY <<-A <<"B" /d/\n\tone\n\tA\ntwo $X\nB\nRUN true\n');
  const run = p.instructions[1]!;
  assert.equal(run.heredocs[0]!.content, 'echo hi\n');
  assert.equal(run.endLine, 4);
  const copy = p.instructions[2]!;
  assert.deepEqual(copy.heredocs.map((h) => [h.name, h.content, h.expand]), [['A', 'one\n', true], ['B', 'two $X\n', false]]);
  assert.equal(p.instructions[3]!.startLine, 10);
  assert.throws(() => parseDockerfile('FROM x\nRUN <<EOF\nno end\n'), DockerfileSyntaxError);
});

test('validation names the line', () => {
  const p = parseDockerfile('FROM x\n\nFOO bar\n');
  assert.throws(() => validateInstruction(p.instructions[1]!, '\\'), /line 3: unknown instruction: FOO/);
  const q = parseDockerfile('FROM x\nCOPY --bogus a b\nSHELL /bin/sh\nCOPY a\n');
  assert.throws(() => validateInstruction(q.instructions[1]!, '\\'), /line 2: unknown flag: bogus/);
  assert.throws(() => validateInstruction(q.instructions[2]!, '\\'), /JSON form/);
  assert.throws(() => validateInstruction(q.instructions[3]!, '\\'), /at least two arguments/);
  assert.equal(parseDuration('1m30s', 1), 90e9);
});

test('substitution: modifiers, quotes, escapes', () => {
  const env = new Map([['A', 'x'], ['E', ''], ['P', 'pre.tar.gz']]);
  assert.equal(expandWord('${A:-d} ${E:-d} ${E-d} ${U-d}', env), 'x d  d');
  assert.equal(expandWord('${A:+y} ${E:+y} ${E+y} ${U+y}', env), 'y  y ');
  assert.equal(expandWord("'$A' \"$A\" \\$A $A", env), '$A x $A x');
  assert.equal(expandWord('${P%.gz} ${P#pre.}', env), 'pre.tar tar.gz');
  assert.throws(() => expandWord('${U:?must be set}', env), /U: must be set/);
  assert.deepEqual(expandWords('a "b c" $A', env), ['a', 'b c', 'x']);
  assert.deepEqual(splitWordsRaw('k="a b" j=c'), ['k="a b"', 'j=c']);
  assert.equal(expandWord('`$A', env, '`'), '$A');
});
