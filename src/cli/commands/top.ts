/** `berth top`: GET /containers/{id}/top[?ps_args=…], tabwriter minwidth 20. */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { asArray, asRecord, strings } from '../narrow.js';
import { tabwrite } from '../tabwriter.js';
import { cpath } from './container-common.js';

export const spec: CommandSpec = {
  use: 'top CONTAINER [ps OPTIONS]',
  short: 'Display the running processes of a container',
  aliases: 'docker container top, docker top',
  args: { min: 1 },
  interspersed: false,
  flags: [],
};

export async function run(ctx: CommandContext): Promise<number> {
  const client = await ctx.client();
  const psArgs = ctx.args.slice(1).join(' ');
  const r = asRecord(await client.get(`/containers/${cpath(ctx.args[0] ?? '')}/top`, { ps_args: psArgs !== '' ? psArgs : undefined }));
  let text = `${strings(r, 'Titles').join('\t')}\n`;
  for (const p of asArray(r['Processes'])) text += `${asArray(p).map((x) => (typeof x === 'string' ? x : String(x))).join('\t')}\n`;
  ctx.out.write(tabwrite(text, 20, 3));
  return 0;
}
