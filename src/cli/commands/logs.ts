/**
 * `berth logs`: inspect (for the full ID and Config.Tty), then
 * GET /containers/{id}/logs — raw bytes for a TTY container, stdcopy frames
 * split to stdout/stderr otherwise.
 */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { asRecord, bool, str } from '../narrow.js';
import { demuxStream } from '../../client/stdcopy.js';
import { cpath } from './container-common.js';
import { getTimestamp } from './events.js';

export const spec: CommandSpec = {
  use: 'logs [OPTIONS] CONTAINER',
  short: 'Fetch the logs of a container',
  aliases: 'docker container logs, docker logs',
  args: { min: 1, max: 1 },
  flags: [
    { name: 'details', type: 'bool', usage: 'Show extra details provided to logs' },
    { name: 'follow', short: 'f', type: 'bool', usage: 'Follow log output' },
    { name: 'since', type: 'string', usage: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
    { name: 'tail', short: 'n', type: 'string', usage: 'Number of lines to show from the end of the logs', default: 'all' },
    { name: 'timestamps', short: 't', type: 'bool', usage: 'Show timestamps' },
    { name: 'until', type: 'string', usage: 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
  ],
};

export async function run(ctx: CommandContext): Promise<number> {
  const o = ctx.opts;
  const client = await ctx.client();
  const c = asRecord(await client.get(`/containers/${cpath(ctx.args[0] ?? '')}/json`));
  const ts = (name: 'since' | 'until'): string | undefined => {
    const v = o.string(name);
    if (v === '') return undefined;
    try {
      return getTimestamp(v, Date.now());
    } catch (e) {
      throw new StatusError(`invalid value for "${name}": ${e instanceof Error ? e.message : String(e)}`, 1);
    }
  };
  const res = await client.stream('GET', `/containers/${cpath(str(c, 'Id'))}/logs`, {
    query: {
      stdout: '1',
      stderr: '1',
      since: ts('since'),
      until: ts('until'),
      timestamps: o.bool('timestamps') ? '1' : undefined,
      details: o.bool('details') ? '1' : undefined,
      follow: o.bool('follow') ? '1' : undefined,
      tail: o.string('tail'),
    },
  });
  if (bool(asRecord(c['Config']), 'Tty')) {
    for await (const chunk of res) ctx.out.write(chunk as Buffer);
  } else {
    await demuxStream(res, (b) => ctx.out.write(b), (b) => ctx.err.write(b));
  }
  return 0;
}
