/**
 * `berth exec`: inspect, POST /containers/{id}/exec, then (unless -d)
 * hijack POST /exec/{id}/start, stream, and exit with ExitCode from
 * GET /exec/{id}/json read after the stream ends.
 */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { asRecord, num, str } from '../narrow.js';
import { checkTty, cpath, flagValueError, monitorTtySize, readEnv, validateEnv } from './container-common.js';
import { streamHijacked } from './hijack.js';

export const spec: CommandSpec = {
  use: 'exec [OPTIONS] CONTAINER COMMAND [ARG...]',
  short: 'Execute a command in a running container',
  aliases: 'docker container exec, docker exec',
  args: { min: 2 },
  interspersed: false,
  flags: [
    { name: 'detach', short: 'd', type: 'bool', usage: 'Detached mode: run command in the background' },
    { name: 'detach-keys', type: 'string', usage: 'Override the key sequence for detaching a container' },
    { name: 'env', short: 'e', type: 'stringArray', varname: 'list', usage: 'Set environment variables' },
    { name: 'env-file', type: 'stringArray', varname: 'list', usage: 'Read in a file of environment variables' },
    { name: 'interactive', short: 'i', type: 'bool', usage: 'Keep STDIN open even if not attached' },
    { name: 'privileged', type: 'bool', usage: 'Give extended privileges to the command' },
    { name: 'tty', short: 't', type: 'bool', usage: 'Allocate a pseudo-TTY' },
    { name: 'user', short: 'u', type: 'string', usage: 'Username or UID (format: "<name|uid>[:<group|gid>]")' },
    { name: 'workdir', short: 'w', type: 'string', usage: 'Working directory inside the container' },
  ],
};

export async function run(ctx: CommandContext): Promise<number> {
  const o = ctx.opts;
  const name = ctx.args[0] ?? '';
  const env = o.strings('env').map((v) => {
    try { return validateEnv(v, ctx.env); } catch (e) { throw flagValueError(ctx, '-e, --env', v, e instanceof Error ? e.message : String(e)); }
  });
  const detach = o.bool('detach');
  const tty = o.bool('tty');
  const attachStdin = !detach && o.bool('interactive');
  const attachOut = !detach;
  let envList: string[] | null;
  try {
    envList = readEnv(ctx, o.strings('env-file'), env);
  } catch (e) {
    throw new StatusError(e instanceof Error ? e.message : String(e), 1);
  }
  const client = await ctx.client();
  await client.get(`/containers/${cpath(name)}/json`);
  if (!detach) checkTty(ctx, attachStdin, tty);
  // container.ExecOptions as the CLI marshals it (ConsoleSize dropped below API 1.42).
  const body = {
    User: o.string('user'),
    Privileged: o.bool('privileged'),
    Tty: tty,
    AttachStdin: attachStdin,
    AttachStderr: attachOut,
    AttachStdout: attachOut,
    Detach: detach,
    DetachKeys: o.string('detach-keys'),
    Env: envList,
    WorkingDir: o.string('workdir'),
    Cmd: ctx.args.slice(1),
  };
  const created = asRecord(await client.json('POST', `/containers/${cpath(name)}/exec`, { body }));
  const execId = str(created, 'Id');
  if (execId === '') throw new StatusError('exec ID empty', 1);
  if (detach) {
    await client.json('POST', `/exec/${execId}/start`, { body: { Detach: true, Tty: tty } });
    return 0;
  }
  const { socket, head } = await client.hijack('POST', `/exec/${execId}/start`, { body: { Detach: false, Tty: tty } });
  const session = streamHijacked({
    socket,
    head,
    tty,
    stdin: attachStdin ? ctx.stdin : undefined,
    stdout: (b) => ctx.out.write(b),
    stderr: (b) => (tty ? ctx.out.write(b) : ctx.err.write(b)),
    detachKeys: o.string('detach-keys'),
    warn: (m) => ctx.err.write(`WARN[0000] ${m}\n`),
  });
  const undo = tty && ctx.stdin.isTTY === true ? monitorTtySize(ctx, client, execId, true) : (): void => undefined;
  try {
    const end = await session.done;
    if (end.kind === 'error') throw end.error;
    // term.EscapeError surfaces as an error here (unlike run/start).
    if (end.kind === 'detached') throw new StatusError('read escape sequence', 1);
  } finally {
    undo();
  }
  const info = asRecord(await client.get(`/exec/${execId}/json`));
  const code = num(info, 'ExitCode');
  if (code !== 0) throw new StatusError('', code);
  return 0;
}
