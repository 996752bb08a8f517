/** `berth save`: GET /images/get?names=…, to a file (-o) or a non-terminal stdout. */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';

export const spec: CommandSpec = {
  use: 'save [OPTIONS] IMAGE [IMAGE...]',
  short: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  aliases: 'docker image save, docker save',
  args: { min: 1 },
  flags: [{ name: 'output', short: 'o', type: 'string', usage: 'Write to a file, instead of STDOUT' }],
};

export async function run(ctx: CommandContext): Promise<number> {
  const output = ctx.opts.string('output');
  if (output === '' && ctx.out.isTTY) throw new StatusError('cowardly refusing to save to a terminal. Use the -o flag or redirect', 1);
  const client = await ctx.client();
  const res = await client.stream('GET', '/images/get', { query: { names: ctx.args } });
  if (output === '') {
    await pipeline(res, ctx.stdoutStream, { end: false });
    return 0;
  }
  // Like docker's atomicwriter: write a temp file next to the target, rename on success.
  const tmp = join(dirname(output), `.${basename(output)}.${process.pid}.tmp`);
  try {
    await pipeline(res, createWriteStream(tmp, { mode: 0o600 }));
    await rename(tmp, output);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new StatusError(`failed to save image: ${e instanceof Error ? e.message : String(e)}`, 1);
  }
  return 0;
}
