import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile } from './dockerfile/parser.js';
import { plan, platformArgs } from './planner.js';

const pa = platformArgs({ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'amd64' });

test('global ARGs reach FROM; build args override defaults', () => {
  const p = plan(parseDockerfile('ARG V=1\nARG IMG=bb:${V}\nFROM ${IMG} AS a\nRUN true\n'), { buildArgs: new Map([['V', '2']]), platformArgs: pa });
  assert.deepEqual(p.stages[0]!.base, { kind: 'image', ref: 'bb:2' });
  assert.equal(p.globalArgs.get('TARGETARCH'), 'amd64');
});

test('only the stages the target needs are built', () => {
  const df = 'FROM bb AS a\nRUN a\nFROM bb AS unused\nRUN u\nFROM a AS b\nCOPY --from=0 /x /x\nFROM bb AS c\nRUN --mount=type=bind,from=b,target=/b true\nFROM bb\n';
  assert.deepEqual(plan(parseDockerfile(df), { buildArgs: new Map(), platformArgs: pa, target: 'c' }).order, [0, 2, 3]);
  assert.deepEqual(plan(parseDockerfile(df), { buildArgs: new Map(), platformArgs: pa }).order, [4]);
  assert.throws(() => plan(parseDockerfile(df), { buildArgs: new Map(), platformArgs: pa, target: 'nope' }), /failed to reach build target nope/);
});

test('only ARG may precede FROM; errors carry the line', () => {
  assert.throws(() => plan(parseDockerfile('ARG A\nRUN x\nFROM bb\n'), { buildArgs: new Map(), platformArgs: pa }), /line 2/);
  assert.throws(() => plan(parseDockerfile('FROM bb\nBOGUS 1\n'), { buildArgs: new Map(), platformArgs: pa }), /line 2: unknown instruction: BOGUS/);
});
