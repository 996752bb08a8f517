import { setFlagsFromString } from 'node:v8';
import { main } from '../daemon/main.js';

// Keep V8's young generation at its initial size instead of letting it grow
// to 2 x 16 MiB during a burst (a big load) and stay committed while idle:
// idle RSS drops ~10 MiB for more frequent, cheap scavenges. This is the
// runtime form of --max-semi-space-size, which only applies at isolate
// creation (and berthd is started as `node bin/berthd`, so no CLI flags).
setFlagsFromString('--semi-space-growth-factor=1');

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`berthd: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
