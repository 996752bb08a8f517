/** `berth import`: POST /images/create?fromSrc=… with a tarball (file, URL or stdin). */
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { displayJsonMessages } from '../jsonmessage.js';
import { parseNormalizedNamed, ReferenceError } from '../reference.js';

export const spec: CommandSpec = {
  use: 'import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]',
  short: 'Import the contents from a tarball to create a filesystem image',
  aliases: 'docker image import, docker import',
  args: { min: 1 },
  flags: [
    { name: 'change', short: 'c', type: 'stringArray', varname: 'list', usage: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', type: 'string', usage: 'Set commit message for imported image' },
    { name: 'platform', type: 'string', usage: 'Set platform if server is multi-platform capable' },
  ],
};

export async function run(ctx: CommandContext): Promise<number> {
  const [source, reference] = ctx.args as [string, string | undefined];
  let body: Readable | undefined;
  let fromSrc: string;
  if (source === '-') {
    body = ctx.stdin;
    fromSrc = '-';
  } else if (source.startsWith('http://') || source.startsWith('https://')) {
    fromSrc = source;
  } else {
    try {
      await access(source);
    } catch {
      throw new StatusError(`open ${source}: no such file or directory`, 1);
    }
    body = createReadStream(source);
    fromSrc = '-';
  }
  if (reference !== undefined && reference !== '') {
    try {
      parseNormalizedNamed(reference);
    } catch (e) {
      if (e instanceof ReferenceError) throw new StatusError(e.message, 1);
      throw e;
    }
  }
  const client = await ctx.client();
  const res = await client.stream('POST', '/images/create', {
    query: {
      fromSrc,
      repo: reference ?? '',
      tag: '',
      message: ctx.opts.string('message'),
      platform: ctx.opts.string('platform') === '' ? undefined : ctx.opts.string('platform'),
      changes: ctx.opts.strings('change'),
    },
    ...(body !== undefined ? { body, headers: { 'Content-Type': 'application/x-tar' } } : {}),
  });
  await displayJsonMessages(res, ctx.out);
  return 0;
}
