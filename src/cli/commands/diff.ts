/** `berth diff`: GET /containers/{id}/changes, "{{.Type}} {{.Path}}" per change (Kind 0/1/2 → C/A/D). */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { asArray, asRecord, num, str } from '../narrow.js';
import { cpath } from './container-common.js';

export const spec: CommandSpec = {
  use: 'diff CONTAINER',
  short: "Inspect changes to files or directories on a container's filesystem",
  aliases: 'docker container diff, docker diff',
  args: { min: 1, max: 1 },
  flags: [],
};

const KINDS = ['C', 'A', 'D'];

export async function run(ctx: CommandContext): Promise<number> {
  const name = ctx.args[0] ?? '';
  if (name === '') throw new StatusError('Container name cannot be empty', 1);
  const client = await ctx.client();
  let s = '';
  for (const ch of asArray(await client.get(`/containers/${cpath(name)}/changes`)).map(asRecord)) {
    s += `${KINDS[num(ch, 'Kind')] ?? ''} ${str(ch, 'Path')}\n`;
  }
  ctx.out.write(s);
  return 0;
}
