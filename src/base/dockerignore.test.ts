import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IgnoreMatcher, parseDockerignore } from './dockerignore.js';

test('.dockerignore: globs, **, parents, ! exceptions, comments', () => {
  const m = new IgnoreMatcher(parseDockerignore('# comment\n*.log\n!keep.log\nbuild/\n**/*.tmp\n/secret\n'));
  assert.equal(m.ignores('a.log'), true);
  assert.equal(m.ignores('keep.log'), false);
  assert.equal(m.ignores('sub/a.log'), false); // `*` does not cross `/`
  assert.equal(m.ignores('build/x/y'), true);
  assert.equal(m.ignores('deep/er/f.tmp'), true);
  assert.equal(m.ignores('f.tmp'), true);
  assert.equal(m.ignores('secret'), true);
  assert.equal(m.ignores('src/main.c'), false);
  assert.equal(m.skipsDir('build'), true);
});

test('exclusions re-include below an ignored directory', () => {
  const m = new IgnoreMatcher(['docs', '!docs/README.md']);
  assert.equal(m.ignores('docs/a.md'), true);
  assert.equal(m.ignores('docs/README.md'), false);
  assert.equal(m.skipsDir('docs'), false);
});
