/** `berth push`: POST /images/{name}/push?tag=… with progress. */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { BufferOutput } from '../context.js';
import { StatusError } from '../errors.js';
import { displayJsonMessages } from '../jsonmessage.js';
import { apiTag, familiarName, withDefaultTag } from '../reference.js';
import { X_REGISTRY_AUTH } from './common.js';
import { parseRef } from './pull.js';

export const spec: CommandSpec = {
  use: 'push [OPTIONS] NAME[:TAG]',
  short: 'Upload an image to a registry',
  aliases: 'docker image push, docker push',
  args: { min: 1, max: 1 },
  flags: [
    { name: 'all-tags', short: 'a', type: 'bool', usage: 'Push all tags of an image to the repository' },
    { name: 'disable-content-trust', type: 'bool', usage: 'Skip image signing', default: true },
    { name: 'platform', type: 'string', usage: 'Push a platform-specific manifest as a single-platform image to the registry.' },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress verbose output' },
  ],
};

export async function run(ctx: CommandContext): Promise<number> {
  const allTags = ctx.opts.bool('all-tags');
  let ref = parseRef(ctx.args[0] ?? '');
  if (ref.digest !== undefined) throw new StatusError('cannot push a digest reference', 1);
  if (allTags && ref.tag !== undefined) throw new StatusError('tag can\'t be used with --all-tags/-a', 1);
  if (!allTags && ref.tag === undefined) {
    ref = withDefaultTag(ref);
    if (!ctx.opts.bool('quiet')) ctx.out.write(`Using default tag: ${ref.tag ?? 'latest'}\n`);
  }
  const client = await ctx.client();
  const res = await client.stream('POST', `/images/${familiarName(ref)}/push`, {
    query: { tag: allTags ? undefined : apiTag(ref) },
    headers: { 'X-Registry-Auth': X_REGISTRY_AUTH },
  });
  const quiet = ctx.opts.bool('quiet');
  await displayJsonMessages(res, quiet ? new BufferOutput() : ctx.out);
  if (quiet) ctx.out.write(`${ctx.args[0] ?? ''}\n`);
  return 0;
}
