/** `berth commit`: POST /commit?container=…&repo=…&tag=…&comment=…&author=…&changes=…[&pause=0]. */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { asRecord, str } from '../narrow.js';
import { parseNormalizedNamed, ReferenceError, withDefaultTag } from '../reference.js';

export const spec: CommandSpec = {
  use: 'commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]',
  short: "Create a new image from a container's changes",
  aliases: 'docker container commit, docker commit',
  args: { min: 1, max: 2 },
  interspersed: false,
  flags: [
    { name: 'author', short: 'a', type: 'string', usage: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' },
    { name: 'change', short: 'c', type: 'stringArray', varname: 'list', usage: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', type: 'string', usage: 'Commit message' },
    { name: 'pause', short: 'p', type: 'bool', usage: 'Pause container during commit', default: true },
  ],
};

export async function run(ctx: CommandContext): Promise<number> {
  const o = ctx.opts;
  let repo = '';
  let tag = '';
  const refStr = ctx.args[1];
  if (refStr !== undefined && refStr !== '') {
    let ref;
    try {
      ref = parseNormalizedNamed(refStr);
    } catch (e) {
      if (e instanceof ReferenceError) throw new StatusError(e.message, 1);
      throw e;
    }
    if (ref.digest !== undefined) throw new StatusError('refusing to create a tag with a digest reference', 1);
    ref = withDefaultTag(ref);
    tag = ref.tag ?? '';
    repo = ref.name;
  }
  const client = await ctx.client();
  const r = asRecord(await client.json('POST', '/commit', {
    query: {
      container: ctx.args[0] ?? '',
      repo,
      tag,
      comment: o.string('message'),
      author: o.string('author'),
      changes: o.strings('change'),
      pause: o.bool('pause') ? undefined : '0',
    },
  }));
  ctx.out.write(`${str(r, 'Id')}\n`);
  return 0;
}
