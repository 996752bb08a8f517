/** `berth stop`: parallel POST /containers/{id}/stop[?t=N][&signal=S], one name per line. */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { cpath, forEachContainer } from './container-common.js';

export const spec: CommandSpec = {
  use: 'stop [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Stop one or more running containers',
  aliases: 'docker container stop, docker stop',
  args: { min: 1 },
  flags: [
    { name: 'signal', short: 's', type: 'string', usage: 'Signal to send to the container' },
    { name: 'time', type: 'int', usage: 'Seconds to wait before killing the container (deprecated: use --timeout)', hidden: true },
    { name: 'timeout', short: 't', type: 'int', usage: 'Seconds to wait before killing the container' },
  ],
};

/** The stop/restart query: `t` only when given, `signal` only when set. */
export function stopQuery(ctx: CommandContext): Record<string, string | undefined> {
  const o = ctx.opts;
  if (o.changed('time') && o.changed('timeout')) throw new StatusError('conflicting options: cannot specify both --timeout and --time', 1);
  if (o.changed('time')) ctx.err.write('Flag --time has been deprecated, use --timeout instead\n');
  const t = o.changed('timeout') ? o.int('timeout') : o.changed('time') ? o.int('time') : undefined;
  return { t: t === undefined ? undefined : String(t), signal: o.string('signal') !== '' ? o.string('signal') : undefined };
}

export async function run(ctx: CommandContext): Promise<number> {
  const query = stopQuery(ctx);
  const client = await ctx.client();
  return forEachContainer(ctx, (name) => client.json('POST', `/containers/${cpath(name)}/stop`, { query }));
}
