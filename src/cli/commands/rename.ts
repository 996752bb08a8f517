/** `berth rename`: POST /containers/{old}/rename?name={new}. */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { cpath, errorText } from './container-common.js';

export const spec: CommandSpec = {
  use: 'rename CONTAINER NEW_NAME',
  short: 'Rename a container',
  aliases: 'docker container rename, docker rename',
  args: { min: 2, max: 2 },
  flags: [],
};

export async function run(ctx: CommandContext): Promise<number> {
  const oldName = (ctx.args[0] ?? '').trim();
  const newName = (ctx.args[1] ?? '').trim();
  if (oldName === '' || newName === '') throw new StatusError('Error: Neither old nor new names may be empty', 1);
  const client = await ctx.client();
  try {
    await client.json('POST', `/containers/${cpath(oldName)}/rename`, { query: { name: newName } });
  } catch (e) {
    ctx.err.write(`${errorText(e)}\n`);
    throw new StatusError(`Error: failed to rename container named ${oldName}`, 1);
  }
  return 0;
}
