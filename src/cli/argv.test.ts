import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkArgs, FlagError, formatFlagUsages, parseArgs, parseBool, UsageError } from './argv.js';
import type { FlagSpec } from './argv.js';

const FLAGS: FlagSpec[] = [
  { name: 'all', short: 'a', type: 'bool', usage: 'Show all' },
  { name: 'quiet', short: 'q', type: 'bool', usage: 'Only IDs' },
  { name: 'filter', short: 'f', type: 'stringArray', varname: 'filter', usage: 'Filter' },
  { name: 'format', type: 'string', usage: 'Format' },
  { name: 'tail', short: 'n', type: 'int', usage: 'Lines' },
  { name: 'human', short: 'H', type: 'bool', usage: 'Human', default: true },
];

test('long, short, combined and valued flags', () => {
  const p = parseArgs(FLAGS, ['-aq', '--filter', 'a=1', '-fb=2', '-f=c=3', '--filter=d=4', 'img', '--format', '{{.ID}}', '-n', '5']);
  assert.equal(p.bool('all'), true);
  assert.equal(p.bool('quiet'), true);
  assert.deepEqual(p.strings('filter'), ['a=1', 'b=2', 'c=3', 'd=4']);
  assert.equal(p.string('format'), '{{.ID}}');
  assert.equal(p.int('tail'), 5);
  assert.deepEqual(p.args, ['img']);
});

test('bool flags accept =value and keep defaults', () => {
  const p = parseArgs(FLAGS, ['--all=false', '-H=false']);
  assert.equal(p.bool('all'), false);
  assert.equal(p.changed('all'), true);
  assert.equal(p.bool('human'), false);
  assert.equal(parseArgs(FLAGS, []).bool('human'), true);
  assert.throws(() => parseArgs(FLAGS, ['--all=maybe']), /invalid argument "maybe" for "-a, --all" flag/);
});

test('-- ends flags and - is an argument', () => {
  const p = parseArgs(FLAGS, ['-a', '--', '-q', '-']);
  assert.deepEqual(p.args, ['-q', '-']);
  assert.equal(p.bool('quiet'), false);
  assert.deepEqual(parseArgs(FLAGS, ['-']).args, ['-']);
});

test('non-interspersed parsing stops at the first argument', () => {
  const p = parseArgs(FLAGS, ['-a', 'img', '-q'], true);
  assert.deepEqual(p.args, ['img', '-q']);
  assert.equal(p.bool('quiet'), false);
});

test('errors use pflag wording', () => {
  assert.throws(() => parseArgs(FLAGS, ['--x']), (e: unknown) => e instanceof FlagError && e.message === 'unknown flag: --x');
  assert.throws(() => parseArgs(FLAGS, ['-z']), (e: unknown) => e instanceof FlagError && e.message === "unknown shorthand flag: 'z' in -z");
  assert.throws(() => parseArgs(FLAGS, ['-f']), (e: unknown) => e instanceof FlagError && e.message === "flag needs an argument: 'f' in -f");
  assert.throws(() => parseArgs(FLAGS, ['--format']), (e: unknown) => e instanceof FlagError && e.message === 'flag needs an argument: --format');
  assert.throws(() => parseArgs(FLAGS, ['-n', 'x']), /invalid argument "x" for "-n, --tail" flag/);
});

test('help flag', () => {
  assert.equal(parseArgs(FLAGS, ['-h']).help, true);
  assert.equal(parseArgs(FLAGS, ['--help']).help, true);
});

test('argument count checks match docker', () => {
  assert.throws(() => checkArgs({ max: 1 }, 2, 'berth', 'berth images', 'berth images [OPTIONS]'), (e: unknown) => e instanceof UsageError && e.exitCode === 1 && e.message.startsWith("berth: 'berth images' requires at most 1 argument\n\nUsage:  berth images [OPTIONS]"));
  assert.throws(() => checkArgs({ min: 2, max: 2 }, 1, 'berth', 'berth tag', 'berth tag A B'), /'berth tag' requires 2 arguments/);
  assert.throws(() => checkArgs({ min: 1 }, 0, 'berth', 'berth rmi', 'berth rmi IMAGE'), /requires at least 1 argument/);
  assert.throws(() => checkArgs({ max: 0 }, 1, 'berth', 'berth load', 'berth load'), /accepts no arguments/);
  checkArgs({ min: 1 }, 3, 'berth', 'x', 'x');
});

test('parseBool is strconv.ParseBool', () => {
  for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(parseBool(t), true);
  for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(parseBool(f), false);
  assert.equal(parseBool('yes'), undefined);
});

test('flag usages are laid out like pflag', () => {
  const s = formatFlagUsages([
    { name: 'all', short: 'a', type: 'bool', usage: 'Show all images (default hides intermediate images)' },
    { name: 'digests', type: 'bool', usage: 'Show digests' },
    { name: 'format', type: 'string', usage: 'Format output' },
  ]);
  assert.equal(s, '  -a, --all             Show all images (default hides intermediate images)\n      --digests         Show digests\n      --format string   Format output\n');
});
