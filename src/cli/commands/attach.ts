/**
 * `berth attach`: wait registered first, inspect (must be running, not
 * paused/restarting), hijack attach, stream, exit with the wait's status.
 */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { asRecord, bool } from '../narrow.js';
import type { Rec } from '../narrow.js';
import type { EngineClient } from '../../client/engine.js';
import { checkTty, cpath, forwardSignals, monitorTtySize, startWait, ttySize } from './container-common.js';
import type { WaitResult } from './container-common.js';
import { attachToConsole } from './hijack.js';

export const spec: CommandSpec = {
  use: 'attach [OPTIONS] CONTAINER',
  short: 'Attach local standard input, output, and error streams to a running container',
  aliases: 'docker container attach, docker attach',
  args: { min: 1, max: 1 },
  flags: [
    { name: 'detach-keys', type: 'string', usage: 'Override the key sequence for detaching a container' },
    { name: 'no-stdin', type: 'bool', usage: 'Do not attach STDIN' },
    { name: 'sig-proxy', type: 'bool', usage: 'Proxy all received signals to the process', default: true },
  ],
};

async function inspectRunning(client: EngineClient, ref: string): Promise<Rec> {
  const c = asRecord(await client.get(`/containers/${cpath(ref)}/json`));
  const st = asRecord(c['State']);
  if (!bool(st, 'Running')) throw new StatusError('You cannot attach to a stopped container, start it first', 1);
  if (bool(st, 'Paused')) throw new StatusError('You cannot attach to a paused container, unpause it first', 1);
  if (bool(st, 'Restarting')) throw new StatusError('You cannot attach to a restarting container, wait until it is running', 1);
  return c;
}

export async function run(ctx: CommandContext): Promise<number> {
  const ref = ctx.args[0] ?? '';
  const client = await ctx.client();
  const abort = new AbortController();
  const undo: Array<() => void> = [];
  try {
    const waitP = startWait(client, ref, undefined, abort.signal).then((w) => w.result);
    const status = waitP.then((v): PromiseSettledResult<WaitResult> => ({ status: 'fulfilled', value: v }), (reason: unknown): PromiseSettledResult<WaitResult> => ({ status: 'rejected', reason }));
    const c = await inspectRunning(client, ref);
    const config = asRecord(c['Config']);
    const tty = bool(config, 'Tty');
    const noStdin = ctx.opts.bool('no-stdin');
    checkTty(ctx, !noStdin, tty);
    const withStdin = !noStdin && bool(config, 'OpenStdin');
    if (ctx.opts.bool('sig-proxy') && !tty) undo.push(forwardSignals(client, ref));
    const session = await attachToConsole(ctx, client, ref, { tty, stdin: withStdin });
    await inspectRunning(client, ref).catch((e: unknown) => {
      session.cancel();
      throw e;
    });
    if (tty && ctx.out.isTTY) {
      // resizeTTY: jiggle to size+1 first so the process redraws.
      const [h, w] = ttySize(ctx.stdoutStream);
      if (h !== 0 || w !== 0) await client.json('POST', `/containers/${cpath(ref)}/resize`, { query: { h: h + 1, w: w + 1 } }).catch(() => undefined);
      undo.push(monitorTtySize(ctx, client, ref, false));
    }
    const end = await session.done;
    // term.EscapeError surfaces as an error here (unlike run/start).
    if (end.kind === 'detached') throw new StatusError('read escape sequence', 1);
    if (end.kind === 'error') throw end.error;
    const r = await status;
    if (r.status === 'rejected') throw r.reason;
    if (r.value.error !== undefined) throw new StatusError(r.value.error, 1);
    if (r.value.statusCode !== 0) throw new StatusError('', r.value.statusCode);
    return 0;
  } finally {
    abort.abort();
    for (const u of undo) u();
  }
}
