/**
 * `berth rm`: parallel DELETE /containers/{id}[?v=1&link=1&force=1]; with
 * -f a missing container is only reported on stderr.
 */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { cpath, errorText, isNotFound, parallel } from './container-common.js';

export const spec: CommandSpec = {
  use: 'rm [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Remove one or more containers',
  aliases: 'docker container rm, docker container remove, docker rm',
  args: { min: 1 },
  flags: [
    { name: 'force', short: 'f', type: 'bool', usage: 'Force the removal of a running container (uses SIGKILL)' },
    { name: 'link', short: 'l', type: 'bool', usage: 'Remove the specified link' },
    { name: 'volumes', short: 'v', type: 'bool', usage: 'Remove anonymous volumes associated with the container' },
  ],
};

export async function run(ctx: CommandContext): Promise<number> {
  const o = ctx.opts;
  const force = o.bool('force');
  const query = { v: o.bool('volumes') ? '1' : undefined, link: o.bool('link') ? '1' : undefined, force: force ? '1' : undefined };
  const client = await ctx.client();
  const results = await parallel(ctx.args, async (name) => {
    const id = name.replace(/^\/+|\/+$/g, '');
    if (id === '') throw new Error('container name cannot be empty');
    return client.json('DELETE', `/containers/${cpath(id)}`, { query });
  });
  const errors: string[] = [];
  results.forEach((r, i) => {
    if (r.ok) ctx.out.write(`${ctx.args[i] ?? ''}\n`);
    else if (force && isNotFound(r.error)) ctx.err.write(`${errorText(r.error)}\n`);
    else errors.push(errorText(r.error));
  });
  if (errors.length > 0) throw new StatusError(errors.join('\n'), 1);
  return 0;
}
