/** `berth export`: GET /containers/{id}/export streamed to stdout or (atomically) to -o FILE. */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { cpath } from './container-common.js';

export const spec: CommandSpec = {
  use: 'export [OPTIONS] CONTAINER',
  short: "Export a container's filesystem as a tar archive",
  aliases: 'docker container export, docker export',
  args: { min: 1, max: 1 },
  flags: [{ name: 'output', short: 'o', type: 'string', usage: 'Write to a file, instead of STDOUT' }],
};

export async function run(ctx: CommandContext): Promise<number> {
  const output = ctx.opts.string('output');
  if (output === '' && ctx.out.isTTY) throw new StatusError('cowardly refusing to save to a terminal. Use the -o flag or redirect', 1);
  const client = await ctx.client();
  if (output === '') {
    const res = await client.stream('GET', `/containers/${cpath(ctx.args[0] ?? '')}/export`);
    await pipeline(res, ctx.stdoutStream, { end: false });
    return 0;
  }
  // atomicwriter: write a temp file beside the target, rename on success.
  const tmp = join(dirname(output), `.${basename(output)}.tmp-${process.pid}`);
  try {
    const res = await client.stream('GET', `/containers/${cpath(ctx.args[0] ?? '')}/export`);
    await pipeline(res, createWriteStream(tmp, { mode: 0o600 }));
    await rename(tmp, output);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return 0;
}
