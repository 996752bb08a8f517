/**
 * `berth run`: docker's runContainer flow — create (pulling if needed),
 * attach BEFORE start, register the wait (next-exit, or removed for --rm),
 * start, resize a TTY, stream until the output ends, exit with the wait's
 * StatusCode. `-d` prints the ID instead of attaching.
 */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { checkTty, cpath, forwardSignals, monitorTtySize, startWait } from './container-common.js';
import type { WaitResult } from './container-common.js';
import { CONTAINER_FLAGS } from './container-opts.js';
import { createContainer, describe, parseOrExit, withHelp } from './create.js';
import { attachToConsole } from './hijack.js';
import type { HijackSession } from './hijack.js';

export const spec: CommandSpec = {
  use: 'run [OPTIONS] IMAGE [COMMAND] [ARG...]',
  short: 'Create and run a new container from an image',
  aliases: 'docker container run, docker run',
  args: { min: 1 },
  interspersed: false,
  flags: [
    ...CONTAINER_FLAGS,
    { name: 'detach', short: 'd', type: 'bool', usage: 'Run container in background and print container ID' },
    { name: 'detach-keys', type: 'string', usage: 'Override the key sequence for detaching a container' },
    { name: 'pull', type: 'string', usage: 'Pull image before running ("always", "missing", "never")', default: 'missing' },
    { name: 'sig-proxy', type: 'bool', usage: 'Proxy received signals to the process', default: true },
  ],
};

/** toStatusError: a missing executable is 127, a permission problem 126, anything else 125. */
function toStatusError(ctx: CommandContext, e: unknown): StatusError {
  const msg = describe(e);
  let code = 125;
  if (msg.includes('executable file not found') || msg.includes('no such file or directory') || msg.includes('system cannot find the file specified')) code = 127;
  else if (msg.includes('permission denied') || msg.includes('is a directory')) code = 126;
  return new StatusError(withHelp(ctx, msg, 'run'), code);
}

function waitStatus(ctx: CommandContext, r: PromiseSettledResult<WaitResult>): number {
  if (r.status === 'rejected') {
    ctx.err.write(`error waiting for container: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}\n`);
    return 125;
  }
  if (r.value.error !== undefined) {
    ctx.err.write(`Error waiting for container: ${r.value.error}\n`);
    return 125;
  }
  return r.value.statusCode;
}

export async function run(ctx: CommandContext): Promise<number> {
  const cfg = parseOrExit(ctx, 'run');
  const detach = ctx.opts.bool('detach');
  const body = cfg.body;
  let attachStdin = cfg.attachStdin;
  let attachStdout = cfg.attachStdout;
  let attachStderr = cfg.attachStderr;
  if (!detach) {
    checkTty(ctx, attachStdin, cfg.tty);
  } else {
    if (cfg.hasAttachFlag) throw new StatusError('conflicting options: cannot specify both --attach and --detach', 1);
    attachStdin = attachStdout = attachStderr = false;
    body['AttachStdin'] = false;
    body['AttachStdout'] = false;
    body['AttachStderr'] = false;
    body['StdinOnce'] = false;
  }

  let id: string;
  try {
    id = await createContainer(ctx, cfg);
  } catch (e) {
    throw toStatusError(ctx, e);
  }
  const client = await ctx.client();
  const undo: Array<() => void> = [];
  if (ctx.opts.bool('sig-proxy')) undo.push(forwardSignals(client, id));
  const waitAbort = new AbortController();
  try {
    const attach = attachStdin || attachStdout || attachStderr;
    // docker prints the ID as soon as the container exists, even if start then fails.
    if (!attach) ctx.out.write(`${id}\n`);

    let session: HijackSession | undefined;
    if (attach) {
      session = await attachToConsole(ctx, client, id, { tty: cfg.tty, stdin: attachStdin, stdout: attachStdout, stderr: attachStderr });
    }

    let statusP: Promise<WaitResult>;
    try {
      statusP = (await startWait(client, id, cfg.autoRemove ? 'removed' : 'next-exit', waitAbort.signal)).result;
    } catch (e) {
      session?.cancel();
      throw e;
    }
    // Don't let an aborted wait surface as an unhandled rejection.
    const status = statusP.then((v): PromiseSettledResult<WaitResult> => ({ status: 'fulfilled', value: v }), (reason: unknown): PromiseSettledResult<WaitResult> => ({ status: 'rejected', reason }));

    try {
      await client.json('POST', `/containers/${cpath(id)}/start`);
    } catch (e) {
      if (session !== undefined) {
        session.cancel();
        await session.done;
      }
      if (cfg.autoRemove) await status;
      throw toStatusError(ctx, e);
    }
    if (session === undefined) return 0;

    if (cfg.tty && ctx.out.isTTY) undo.push(monitorTtySize(ctx, client, id, false));

    const first = await Promise.race([session.done.then((end) => ({ k: 'stream' as const, end })), status.then((s) => ({ k: 'status' as const, s }))]);
    if (first.k === 'stream') {
      const end = first.end;
      if (end.kind === 'detached') return 0;
      if (end.kind === 'error') throw end.error;
      const code = waitStatus(ctx, await status);
      if (code !== 0) throw new StatusError('', code);
      return 0;
    }
    if (!attachStdout && !attachStderr) session.cancel();
    await session.done;
    const code = waitStatus(ctx, first.s);
    if (code !== 0) throw new StatusError('', code);
    return 0;
  } finally {
    waitAbort.abort();
    for (const u of undo) u();
  }
}
