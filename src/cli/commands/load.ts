/** `berth load`: POST /images/load with the tar (file or stdin), showing the message stream. */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { displayJsonMessages } from '../jsonmessage.js';

export const spec: CommandSpec = {
  use: 'load [OPTIONS]',
  short: 'Load an image from a tar archive or STDIN',
  aliases: 'docker image load, docker load',
  args: { max: 0 },
  flags: [
    { name: 'input', short: 'i', type: 'string', usage: 'Read from tar archive file, instead of STDIN' },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress the load output' },
  ],
};

export async function run(ctx: CommandContext): Promise<number> {
  const input = ctx.opts.string('input');
  let body: Readable;
  if (input === '') {
    if (ctx.stdin.isTTY === true) throw new StatusError('requested load from stdin, but stdin is empty', 1);
    body = ctx.stdin;
  } else {
    // Open first so a missing file reports "open x: no such file or directory" before any request.
    try {
      const fh = await open(input, 'r');
      await fh.close();
    } catch {
      throw new StatusError(`open ${input}: no such file or directory`, 1);
    }
    body = createReadStream(input);
  }
  const quiet = ctx.opts.bool('quiet') || !ctx.out.isTTY;
  const client = await ctx.client();
  const res = await client.stream('POST', '/images/load', {
    query: { quiet: quiet ? '1' : '0' },
    headers: { 'Content-Type': 'application/x-tar' },
    body,
  });
  if ((res.headers['content-type'] ?? '').includes('json')) await displayJsonMessages(res, ctx.out);
  else for await (const c of res) ctx.out.write(c as Buffer);
  return 0;
}
