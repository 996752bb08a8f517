// Checks the import rules of the layout (README, "How the code is laid
// out"): a folder may import only from the folders listed for it. Fails
// with a message naming the allowed folders, as VS Code's layer lint does.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';

const allowed = {
  base: [],
  oci: ['base'],
  events: ['base'],
  content: ['base'],
  snapshots: ['base'],
  remotes: ['base', 'oci'],
  metadata: ['base', 'oci'],
  images: ['base', 'oci', 'events', 'content', 'snapshots', 'metadata', 'remotes'],
  runtime: ['base', 'oci', 'snapshots'],
  network: ['base', 'oci', 'events', 'metadata'],
  volumes: ['base', 'oci', 'events', 'metadata'],
  containers: ['base', 'oci', 'events', 'content', 'snapshots', 'metadata', 'images', 'runtime', 'network', 'volumes'],
  registry: ['base', 'oci'],
  build: ['base', 'oci', 'events', 'content', 'snapshots', 'metadata', 'images', 'runtime', 'containers'],
  api: ['base', 'oci', 'events', 'content', 'snapshots', 'metadata', 'remotes', 'images', 'runtime', 'containers', 'network', 'volumes', 'build'],
  client: ['base'],
  cli: ['base', 'oci', 'client'],
  daemon: ['base', 'oci', 'events', 'content', 'snapshots', 'metadata', 'remotes', 'images', 'runtime', 'containers', 'registry', 'api', 'network', 'volumes', 'build'],
  bin: ['daemon', 'cli', 'client', 'registry', 'base'],
};

const src = resolve('src');
const problems = [];
function walk(dir) {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) walk(p);
    else if (n.endsWith('.ts') && !n.endsWith('.test.ts') && n !== 'testsuite.ts') check(p);
  }
}
function check(file) {
  const from = relative(src, file).split('/')[0];
  const ok = allowed[from];
  if (ok === undefined) {
    problems.push(`${relative('.', file)}: folder "${from}" has no layer assigned in scripts/check-layers.mjs`);
    return;
  }
  // Comments may show imports as examples: drop them first.
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
    const spec = m[1] ?? m[2];
    const target = relative(src, resolve(dirname(file), spec)).split('/')[0];
    if (target === from || target.startsWith('..')) continue;
    if (!ok.includes(target)) problems.push(`${relative('.', file)}: imports ${spec}; "${from}" may import only from: ${ok.join(', ') || '(node builtins only)'}`);
  }
}
walk(src);
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log('layers: ok');
