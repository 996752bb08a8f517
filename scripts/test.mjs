// Runs the test suite with node's test runner over the compiled tree.
// Unit tests live next to the code (src/**/*.test.ts); integration tests
// that need root, runc and overlay live under test/.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const unitOnly = process.argv.includes('--unit');
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
function walk(dir, out) {
  let names;
  try { names = readdirSync(dir); } catch { return out; }
  for (const n of names) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (n.endsWith('.test.js')) out.push(p);
  }
  return out;
}
let files = walk('build/src', []);
if (!unitOnly) files = files.concat(walk('build/test', []));
if (only.length > 0) files = files.filter((f) => only.some((o) => f.includes(o)));
files.sort();
const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
