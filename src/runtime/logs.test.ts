/** Unit tests of the k8s-file log reader on synthetic files. */
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseLogLine, parseTimestamp, readLogs, rotateLogFiles, type ReadLogsOptions } from './logs.js';

const ts = (s: number, ns = 0): string => `2026-11-28T05:56:${String(s).padStart(2, '0')}.${String(ns).padStart(9, '0')}+00:00`;

async function collect(path: string, opts: ReadLogsOptions = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const m of readLogs(path, opts)) out.push(`${m.stream[3]}:${m.data.toString()}`);
  return out;
}

describe('k8s-file logs', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'brt-logs-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('parses records', () => {
    const r = parseLogLine(Buffer.from(`${ts(1, 143760482)} stdout F hello world`));
    assert.equal(r?.stream, 'stdout');
    assert.equal(r?.partial, false);
    assert.equal(r?.data.toString(), 'hello world');
    assert.equal(r?.timeNano, parseTimestamp('2026-11-28T05:56:01.143760482Z'));
    assert.equal(parseLogLine(Buffer.from(`${ts(1)} stderr F`))?.data.length, 0);
    assert.equal(parseLogLine(Buffer.from('garbage')), undefined);
    assert.equal(parseTimestamp('2026-11-28T06:56:01.5+01:00'), parseTimestamp('2026-11-28T05:56:01.500000000Z'));
  });

  it('reassembles partial records, tails, filters by time and stream', async () => {
    const p = join(dir, 'a.log');
    const lines = [
      `${ts(1)} stdout F one`,
      `${ts(2)} stdout P tw`,
      `${ts(2, 5)} stderr F err`,
      `${ts(3)} stdout F o`,
      `${ts(4)} stdout F three`,
      `${ts(5)} stdout P tail-without-newline`,
    ];
    await writeFile(p, lines.join('\n') + '\n');
    assert.deepEqual(await collect(p), ['o:one\n', 'e:err\n', 'o:two\n', 'o:three\n', 'o:tail-without-newline']);
    assert.deepEqual(await collect(p, { tail: 2 }), ['o:three\n', 'o:tail-without-newline']);
    assert.deepEqual(await collect(p, { tail: 3 }), ['o:two\n', 'o:three\n', 'o:tail-without-newline']);
    assert.deepEqual(await collect(p, { tail: 0 }), []);
    assert.deepEqual(await collect(p, { tail: 100 }), await collect(p));
    assert.deepEqual(await collect(p, { stdout: false }), ['e:err\n']);
    const since = parseTimestamp('2026-11-28T05:56:02.000000001Z') as bigint;
    const until = parseTimestamp('2026-11-28T05:56:04Z') as bigint;
    assert.deepEqual(await collect(p, { since, until }), ['e:err\n']);
    assert.deepEqual(await collect(p, { since: parseTimestamp('2026-11-28T05:56:02Z') as bigint, until }), ['e:err\n', 'o:two\n']);
  });

  it('tails a large file by reading from the end', async () => {
    const p = join(dir, 'big.log');
    const rows: string[] = [];
    for (let i = 0; i < 20000; i++) rows.push(`${ts(i % 60, i)} stdout F row ${i}`);
    await writeFile(p, rows.join('\n') + '\n');
    assert.deepEqual(await collect(p, { tail: 3 }), ['o:row 19997\n', 'o:row 19998\n', 'o:row 19999\n']);
  });

  it('reads rotated files oldest first and tails across them', async () => {
    const p = join(dir, 'r.log');
    await writeFile(p, `${ts(1)} stdout F first\n`);
    await rotateLogFiles(p, 3);
    await writeFile(p, `${ts(2)} stdout F second\n`);
    await rotateLogFiles(p, 3);
    await writeFile(p, `${ts(3)} stdout F third\n`);
    assert.deepEqual(await collect(p), ['o:first\n', 'o:second\n', 'o:third\n']);
    assert.deepEqual(await collect(p, { tail: 2 }), ['o:second\n', 'o:third\n']);
    await rotateLogFiles(p, 3); // first drops out
    await writeFile(p, '');
    assert.deepEqual(await collect(p), ['o:second\n', 'o:third\n']);
  });

  it('follows appends, survives conmon replacing the file, and stops after the stop signal', async () => {
    const p = join(dir, 'f.log');
    await writeFile(p, `${ts(1)} stdout F before\n`);
    let stop!: () => void;
    const stopWhen = new Promise<void>((r) => (stop = r));
    const got: string[] = [];
    const done = (async () => {
      for await (const m of readLogs(p, { follow: true, stopWhen, pollMs: 20 })) got.push(m.data.toString());
    })();
    await new Promise((r) => setTimeout(r, 50));
    await appendFile(p, `${ts(2)} stdout P hal`);
    await new Promise((r) => setTimeout(r, 50));
    await appendFile(p, `f\n${ts(2)} stdout F \n`);
    await new Promise((r) => setTimeout(r, 80));
    // conmon's --log-size-max: a new file renamed over the old one
    await writeFile(`${p}.tmp`, `${ts(3)} stdout F after-replace\n`);
    await rename(`${p}.tmp`, p);
    await new Promise((r) => setTimeout(r, 80));
    await appendFile(p, `${ts(4)} stdout F last\n`);
    stop();
    await done;
    assert.deepEqual(got, ['before\n', 'half\n', 'after-replace\n', 'last\n']);
  });
});
