/** `berth pull`: POST /images/create?fromImage=…&tag=… with progress, then the full reference. */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { BufferOutput } from '../context.js';
import { StatusError } from '../errors.js';
import { displayJsonMessages } from '../jsonmessage.js';
import { apiTag, familiarName, fullString, parseNormalizedNamed, ReferenceError, withDefaultTag } from '../reference.js';
import type { NamedRef } from '../reference.js';
import { X_REGISTRY_AUTH } from './common.js';

export const spec: CommandSpec = {
  use: 'pull [OPTIONS] NAME[:TAG|@DIGEST]',
  short: 'Download an image from a registry',
  aliases: 'docker image pull, docker pull',
  args: { min: 1, max: 1 },
  flags: [
    { name: 'all-tags', short: 'a', type: 'bool', usage: 'Download all tagged images in the repository' },
    { name: 'disable-content-trust', type: 'bool', usage: 'Skip image verification', default: true },
    { name: 'platform', type: 'string', usage: 'Set platform if server is multi-platform capable' },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress verbose output' },
  ],
};

export function parseRef(s: string): NamedRef {
  try {
    return parseNormalizedNamed(s);
  } catch (e) {
    if (e instanceof ReferenceError) throw new StatusError(e.message, 1);
    throw e;
  }
}

export async function run(ctx: CommandContext): Promise<number> {
  const allTags = ctx.opts.bool('all-tags');
  let ref = parseRef(ctx.args[0] ?? '');
  if (allTags && (ref.tag !== undefined || ref.digest !== undefined)) throw new StatusError('tag can\'t be used with --all-tags/-a', 1);
  if (!allTags && ref.tag === undefined && ref.digest === undefined) {
    ref = withDefaultTag(ref);
    if (!ctx.opts.bool('quiet')) ctx.out.write(`Using default tag: ${ref.tag ?? 'latest'}\n`);
  }
  const client = await ctx.client();
  const platform = ctx.opts.string('platform');
  const res = await client.stream('POST', '/images/create', {
    query: { fromImage: familiarName(ref), tag: allTags ? undefined : apiTag(ref), platform: platform === '' ? undefined : platform },
    headers: { 'X-Registry-Auth': X_REGISTRY_AUTH },
  });
  await displayJsonMessages(res, ctx.opts.bool('quiet') ? new BufferOutput() : ctx.out);
  ctx.out.write(`${fullString(ref)}\n`);
  return 0;
}
