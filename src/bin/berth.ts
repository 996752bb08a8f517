/**
 * berth: the CLI entry. Startup cost matters (every command pays it), so
 * this file only parses argv and then imports the one command module it
 * needs; the HTTP client, template engine and formatters load with it.
 */
import { checkArgs, FlagError, formatFlagUsages, formatHelp, parseArgs, UsageError } from '../cli/argv.js';
import type { FlagSpec } from '../cli/argv.js';
import type { CommandContext, GlobalOptions, Output } from '../cli/context.js';
import { processOutput } from '../cli/context.js';
import { GROUPS, NOT_YET, TOP_LEVEL } from '../cli/dispatch.js';
import type { CommandEntry, GroupEntry } from '../cli/dispatch.js';
import { StatusError } from '../cli/errors.js';
import { ApiError, DaemonUnreachableError, StreamError } from '../client/errors.js';
import type { EngineClient } from '../client/engine.js';

const BIN = 'berth';
const VERSION = '0.1.0';

const GLOBAL_FLAGS: readonly FlagSpec[] = [
  { name: 'config', type: 'string', usage: 'Location of client config files', default: '~/.docker' },
  { name: 'context', short: 'c', type: 'string', usage: 'Name of the context to use to connect to the daemon' },
  { name: 'debug', short: 'D', type: 'bool', usage: 'Enable debug mode' },
  { name: 'host', short: 'H', type: 'stringArray', varname: 'list', usage: 'Daemon socket to connect to' },
  { name: 'log-level', short: 'l', type: 'string', usage: 'Set the logging level ("debug", "info", "warn", "error", "fatal")', default: 'info' },
  { name: 'version', short: 'v', type: 'bool', usage: 'Print version information and quit' },
];

function pad(name: string, width: number): string {
  return name.padEnd(width);
}

function rootHelp(): string {
  const names = Object.keys(TOP_LEVEL);
  const mgmt: Array<[string, string]> = [...Object.entries(GROUPS).map(([k, g]): [string, string] => [k, g.short]), ['registry', 'Run an OCI distribution registry']];
  const w = Math.max(11, ...names.map((n) => n.length), ...mgmt.map(([n]) => n.length));
  let s = `\nUsage:  ${BIN} [OPTIONS] COMMAND\n\nAn open container platform, speaking the Docker Engine API\n\n`;
  s += 'Management Commands:\n';
  for (const [n, short] of mgmt) s += `  ${pad(n, w)} ${short}\n`;
  s += '\nCommands:\n';
  for (const n of names) s += `  ${pad(n, w)} ${(TOP_LEVEL[n] as CommandEntry).short}\n`;
  s += `\nGlobal Options:\n${formatFlagUsages(GLOBAL_FLAGS)}`;
  s += `\nRun '${BIN} COMMAND --help' for more information on a command.\n`;
  return s;
}

function groupHelp(name: string, g: GroupEntry): string {
  const w = Math.max(11, ...g.listed.map((n) => n.length));
  let s = `Usage:  ${BIN} ${name} COMMAND\n\n${g.short}\n\nCommands:\n`;
  for (const n of g.listed) s += `  ${pad(n, w)} ${(g.group[n] as CommandEntry).short}\n`;
  s += `\nRun '${BIN} ${name} COMMAND --help' for more information on a command.\n`;
  return s;
}

function printError(err: Output, e: unknown): number {
  if (e instanceof UsageError || e instanceof StatusError) {
    if (e.message !== '') err.write(`${e.message}\n`);
    return e.exitCode;
  }
  if (e instanceof ApiError) {
    err.write(`Error response from daemon: ${e.message}\n`);
    return 1;
  }
  if (e instanceof StreamError) {
    err.write(`${e.message}\n`);
    return e.code;
  }
  if (e instanceof DaemonUnreachableError) {
    err.write(`${e.message}\n`);
    return 1;
  }
  err.write(`${e instanceof Error ? e.message : String(e)}\n`);
  return 1;
}

/** `berth registry serve|garbage-collect`: handed to the registry module (its own flags). */
async function runRegistry(argv: readonly string[], out: Output): Promise<number> {
  const sub = argv[0];
  if (sub !== 'serve' && sub !== 'garbage-collect') {
    out.write(`Usage:  ${BIN} registry COMMAND\n\nRun an OCI distribution registry\n\nCommands:\n  serve           Serve the registry\n  garbage-collect Delete unreferenced blobs\n`);
    return sub === undefined || sub === '--help' || sub === '-h' ? 0 : 1;
  }
  const mod = await import('../registry/cli.js');
  return sub === 'serve' ? mod.registryServe(argv.slice(1)) : mod.registryGarbageCollect(argv.slice(1));
}

export async function main(argv: readonly string[]): Promise<number> {
  const out = processOutput(process.stdout);
  const err = processOutput(process.stderr);
  let global;
  try {
    global = parseArgs(GLOBAL_FLAGS, argv, true);
  } catch (e) {
    if (e instanceof FlagError) {
      err.write(`${e.message}\n\nUsage:  ${BIN} [OPTIONS] COMMAND [ARG...]\n\nRun '${BIN} --help' for more information\n`);
      return 125;
    }
    throw e;
  }
  if (global.bool('version')) {
    out.write(`Berth version ${VERSION}\n`);
    return 0;
  }
  const rest = global.args;
  const name = rest[0];
  if (name === undefined || global.help || name === 'help') {
    out.write(rootHelp());
    return 0;
  }
  const globals: GlobalOptions = { hosts: global.strings('host'), debug: global.bool('debug'), logLevel: global.string('log-level') };

  try {
    if (name === 'registry') return await runRegistry(rest.slice(1), out);

    let entry: CommandEntry | undefined = TOP_LEVEL[name];
    let path = `${BIN} ${name}`;
    let cmdArgv = rest.slice(1);
    const group = GROUPS[name];
    if (group !== undefined) {
      const sub = rest[1];
      if (sub === undefined || sub === '--help' || sub === '-h') {
        out.write(groupHelp(name, group));
        return 0;
      }
      entry = group.group[sub];
      if (entry === undefined) {
        err.write(`${BIN}: unknown command: ${BIN} ${name} ${sub}\n\nUsage:  ${BIN} ${name}\n\nRun '${BIN} ${name} --help' for more information\n`);
        return 1;
      }
      path = `${BIN} ${name} ${sub}`;
      cmdArgv = rest.slice(2);
    }
    if (entry === undefined) {
      if (NOT_YET.includes(name)) {
        err.write(`${BIN}: '${name}' is not implemented yet\n`);
        return 1;
      }
      err.write(`${BIN}: unknown command: ${BIN} ${name}\n\nRun '${BIN} --help' for more information\n`);
      return 1;
    }

    const mod = await entry.load();
    const spec = mod.spec;
    const useLine = [path, ...spec.use.split(' ').slice(1)].join(' ');
    let opts;
    try {
      opts = parseArgs(spec.flags, cmdArgv, spec.interspersed === false);
    } catch (e) {
      if (e instanceof FlagError) throw new UsageError(`${e.message}\n\nUsage:  ${useLine}\n\nRun '${path} --help' for more information`, 125);
      throw e;
    }
    if (opts.help) {
      out.write(formatHelp(BIN, path, spec, out.columns > 0 ? out.columns : 80));
      return 0;
    }
    checkArgs(spec.args, opts.args.length, BIN, path, useLine);

    let client: Promise<EngineClient> | undefined;
    const ctx: CommandContext = {
      bin: BIN,
      path,
      useLine,
      opts,
      args: opts.args,
      global: globals,
      out,
      err,
      stdin: process.stdin,
      stdoutStream: process.stdout,
      env: process.env,
      client: () => {
        client ??= (async () => {
          if (globals.hosts.length > 1) throw new StatusError('Specify only one -H', 1);
          const [{ EngineClient }, { parseHost, resolveHostString }] = await Promise.all([import('../client/engine.js'), import('../client/host.js')]);
          const host = parseHost(resolveHostString(globals.hosts[0], process.env));
          const apiVersion = process.env['DOCKER_API_VERSION'];
          return new EngineClient(apiVersion !== undefined && apiVersion !== '' ? { host, apiVersion } : { host });
        })();
        return client;
      },
    };
    try {
      return await mod.run(ctx);
    } finally {
      if (client !== undefined) await client.then((c) => c.close(), () => undefined);
    }
  } catch (e) {
    return printError(err, e);
  }
}

// A closed stdout (`berth logs … | head`) kills the Go CLI with SIGPIPE; end the same way, quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(128 + 13);
  throw e;
});

process.exitCode = await main(process.argv.slice(2));
