import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyCheckConfig, checkConfig, lintDockerfile } from './checks.js';
import { parseDockerfile } from './parser.js';

const rules = (df: string): string[] => lintDockerfile(parseDockerfile(df)).map((v) => `${v.rule}@${v.line}`);

test('a clean Dockerfile has no violations', () => {
  assert.deepEqual(rules('ARG BASE=bb\nFROM $BASE AS build\nWORKDIR /app\nENV A=1\nCMD ["sh"]\n'), []);
});

test('each rule, on its line, in BuildKit\'s words', () => {
  const df = [
    'FROM ${NOPE} as Build', // 1 UndefinedArgInFrom, FromAsCasing, StageNameCasing
    'MAINTAINER me', // 2
    'WORKDIR app', // 3
    'ENV KEY value', // 4 LegacyKeyValueFormat (+ SecretsUsedInArgOrEnv: KEY)
    'ARG DB_PASSWORD', // 5
    'EXPOSE 8080/TCP 127.0.0.1:80:80', // 6
    'CMD echo one', // 7 JSONArgsRecommended, MultipleInstructionsDisallowed
    'run true', // 8 ConsistentInstructionCasing
    'CMD ["two"]', // 9
    'FROM --platform=linux/amd64 scratch AS build', // 10 FromPlatformFlagConstDisallowed, DuplicateStageName
    'FROM --platform=$TARGETPLATFORM scratch AS scratch', // 11 RedundantTargetPlatform, ReservedStageName
    'RUN a \\',
    '',
    '  b', // 13 NoEmptyContinuation
  ].join('\n');
  const v = lintDockerfile(parseDockerfile(df));
  const got = v.map((x) => `${x.line} ${x.rule}: ${x.message}`);
  assert.deepEqual(got, [
    "1 UndefinedArgInFrom: FROM argument 'NOPE' is not declared",
    "1 FromAsCasing: 'as' and 'FROM' keywords' casing do not match",
    "1 StageNameCasing: Stage name 'Build' should be lowercase",
    '2 MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label',
    '3 WorkdirRelativePath: Relative workdir "app" can have unexpected results if the base image changes',
    '4 LegacyKeyValueFormat: "ENV key=value" should be used instead of legacy "ENV key value" format',
    '4 SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV "KEY")',
    '5 SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG "DB_PASSWORD")',
    "6 ExposeProtoCasing: Defined protocol '8080/TCP' in EXPOSE instruction should be lowercase",
    "6 ExposeInvalidFormat: EXPOSE instruction should not define an IP address or host-port mapping, found '127.0.0.1:80:80'",
    '7 JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals',
    '7 MultipleInstructionsDisallowed: Multiple CMD instructions should not be used in the same stage because only the last one will be used',
    "8 ConsistentInstructionCasing: Command 'run' should match the case of the command majority (uppercase)",
    '10 FromPlatformFlagConstDisallowed: FROM --platform flag should not use constant value "linux/amd64"',
    '10 DuplicateStageName: Duplicate stage name "build", stage names should be unique',
    '11 RedundantTargetPlatform: Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior',
    '11 ReservedStageName: Stage name should not use the same name as reserved stage "scratch"',
    '13 NoEmptyContinuation: Empty continuation line',
  ]);
  assert.equal(v[0]?.url, 'https://docs.docker.com/go/dockerfile/rule/undefined-arg-in-from/');
  assert.equal(v.find((x) => x.rule === 'JSONArgsRecommended')?.url, 'https://docs.docker.com/go/dockerfile/rule/json-args-recommended/');
});

test('a SHELL instruction makes shell-form CMD deliberate; a public key is not a secret', () => {
  assert.deepEqual(rules('FROM a\nSHELL ["/bin/bash", "-c"]\nCMD echo hi\nARG PUBLIC_KEY\n'), []);
});

test('check=skip/error from the directive and the build argument', () => {
  const v = lintDockerfile(parseDockerfile('FROM a AS Build\nCMD echo\n'));
  assert.deepEqual(applyCheckConfig(v, checkConfig('skip=JSONArgsRecommended', undefined)).map((x) => x.rule), ['StageNameCasing']);
  assert.deepEqual(applyCheckConfig(v, checkConfig('skip=all', undefined)), []);
  assert.deepEqual(checkConfig('skip=A,B;error=true', undefined), { skipAll: false, skip: new Set(['A', 'B']), error: true });
  // the build argument adds to the directive
  assert.deepEqual(checkConfig('error=true', 'skip=StageNameCasing'), { skipAll: false, skip: new Set(['StageNameCasing']), error: true });
  assert.equal(parseDockerfile('# check=skip=all\nFROM a\n').directives.get('check'), 'skip=all');
});
