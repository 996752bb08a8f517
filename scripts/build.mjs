// Build: type-check and emit the whole tree to build/ (tests import it),
// then bundle the two programs into dist/ with esbuild so `berth` starts
// by reading one file (plus lazily loaded chunks), not hundreds.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import * as esbuild from 'esbuild';

const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

rmSync('dist', { recursive: true, force: true });
await esbuild.build({
  entryPoints: { berth: 'src/bin/berth.ts', berthd: 'src/bin/berthd.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  external: ['better-sqlite3', 'koffi', 'node-unix-socket'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});

// berth-exec, the native exec helper (src/runtime/native/berth-exec.c): needs
// gcc and libseccomp's headers (scripts/setup.sh installs them). Without it
// berthd still works and runs every exec through runc.
if (existsSync('/usr/include/seccomp.h')) {
  const cc = spawnSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', 'dist/berth-exec', 'src/runtime/native/berth-exec.c', '-lseccomp'], { stdio: 'inherit' });
  if (cc.status !== 0) process.exit(cc.status ?? 1);
} else {
  console.warn('build: libseccomp headers missing (apt-get install gcc libseccomp-dev): berth-exec not built, execs will use runc');
}
