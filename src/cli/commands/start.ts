/**
 * `berth start`: plain start prints each name (errors collected into
 * "failed to start containers"); `-a`/`-i` attach first, register the wait,
 * start, and exit with the container's status like `run`.
 */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { asRecord, bool, str } from '../narrow.js';
import { cpath, errorText, forwardSignals, monitorTtySize, startWait } from './container-common.js';
import type { WaitResult } from './container-common.js';
import { attachToConsole } from './hijack.js';

export const spec: CommandSpec = {
  use: 'start [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Start one or more stopped containers',
  aliases: 'docker container start, docker start',
  args: { min: 1 },
  flags: [
    { name: 'attach', short: 'a', type: 'bool', usage: 'Attach STDOUT/STDERR and forward signals' },
    { name: 'checkpoint', type: 'string', usage: 'Restore from this checkpoint', hidden: true },
    { name: 'checkpoint-dir', type: 'string', usage: 'Use a custom checkpoint storage directory', hidden: true },
    { name: 'detach-keys', type: 'string', usage: 'Override the key sequence for detaching a container' },
    { name: 'interactive', short: 'i', type: 'bool', usage: "Attach container's STDIN" },
  ],
};

async function startAttached(ctx: CommandContext): Promise<number> {
  if (ctx.args.length > 1) throw new StatusError('you cannot start and attach multiple containers at once', 1);
  const client = await ctx.client();
  const c = asRecord(await client.get(`/containers/${cpath(ctx.args[0] ?? '')}/json`));
  const id = str(c, 'Id');
  const config = asRecord(c['Config']);
  const tty = bool(config, 'Tty');
  const autoRemove = bool(asRecord(c['HostConfig']), 'AutoRemove');
  const undo: Array<() => void> = [];
  if (!tty) undo.push(forwardSignals(client, id));
  const abort = new AbortController();
  try {
    const withStdin = ctx.opts.bool('interactive') && bool(config, 'OpenStdin');
    const session = await attachToConsole(ctx, client, id, { tty, stdin: withStdin });
    const statusP = (await startWait(client, id, autoRemove ? 'removed' : 'next-exit', abort.signal).catch((e: unknown) => {
      session.cancel();
      throw e;
    })).result;
    const status = statusP.then((v): PromiseSettledResult<WaitResult> => ({ status: 'fulfilled', value: v }), (reason: unknown): PromiseSettledResult<WaitResult> => ({ status: 'rejected', reason }));
    try {
      await client.json('POST', `/containers/${cpath(id)}/start`, {
        query: { checkpoint: ctx.opts.string('checkpoint') || undefined, 'checkpoint-dir': ctx.opts.string('checkpoint-dir') || undefined },
      });
    } catch (e) {
      session.cancel();
      await session.done;
      if (autoRemove) await status;
      throw e;
    }
    if (tty && ctx.out.isTTY) undo.push(monitorTtySize(ctx, client, id, false));
    const end = await session.done;
    if (end.kind === 'detached') return 0;
    if (end.kind === 'error') throw end.error;
    const r = await status;
    const code = r.status === 'rejected' ? 125 : r.value.error !== undefined ? 125 : r.value.statusCode;
    if (code !== 0) throw new StatusError('', code);
    return 0;
  } finally {
    abort.abort();
    for (const u of undo) u();
  }
}

export async function run(ctx: CommandContext): Promise<number> {
  if (ctx.opts.bool('attach') || ctx.opts.bool('interactive')) return startAttached(ctx);
  const client = await ctx.client();
  if (ctx.opts.string('checkpoint') !== '') {
    if (ctx.args.length > 1) throw new StatusError('you cannot restore multiple containers at once', 1);
    await client.json('POST', `/containers/${cpath(ctx.args[0] ?? '')}/start`, {
      query: { checkpoint: ctx.opts.string('checkpoint'), 'checkpoint-dir': ctx.opts.string('checkpoint-dir') || undefined },
    });
    return 0;
  }
  const failed: string[] = [];
  for (const name of ctx.args) {
    try {
      await client.json('POST', `/containers/${cpath(name)}/start`);
      ctx.out.write(`${name}\n`);
    } catch (e) {
      ctx.err.write(`${errorText(e)}\n`);
      failed.push(name);
    }
  }
  if (failed.length > 0) throw new StatusError(`Error: failed to start containers: ${failed.join(', ')}`, 1);
  return 0;
}
