/**
 * A standalone entry point (`node build/src/registry/main.js serve …`)
 * until `berth registry` is wired into src/bin; tests run the registry as a
 * real process through it (to kill -9 it).
 */
import { registryGarbageCollect, registryServe } from './cli.js';

const [cmd, ...rest] = process.argv.slice(2);
const code = cmd === 'garbage-collect' ? await registryGarbageCollect(rest) : await registryServe(cmd === 'serve' ? rest : process.argv.slice(2));
process.exit(code);
