/** `berth tag SOURCE TARGET`: POST /images/{source}/tag?repo=<fully qualified>&tag=… */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { parseNormalizedNamed, ReferenceError } from '../reference.js';

export const spec: CommandSpec = {
  use: 'tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  short: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  aliases: 'docker image tag, docker tag',
  args: { min: 2, max: 2 },
  interspersed: false,
  flags: [],
};

export async function run(ctx: CommandContext): Promise<number> {
  const [source, target] = ctx.args as [string, string];
  let ref;
  try {
    ref = parseNormalizedNamed(target);
  } catch (e) {
    if (e instanceof ReferenceError) throw new StatusError(`Error parsing reference: "${target}" is not a valid repository/tag: ${e.message}`, 1);
    throw e;
  }
  if (ref.digest !== undefined) throw new StatusError('refusing to create a tag with a digest reference', 1);
  const client = await ctx.client();
  await client.json('POST', `/images/${source}/tag`, { query: { repo: ref.name, tag: ref.tag ?? 'latest' } });
  return 0;
}
