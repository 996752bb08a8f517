/**
 * `berth inspect`: docker's object lookup chain — container, image,
 * network, volume — taking the first that is not a 404.
 */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { ApiError } from '../../client/errors.js';
import { INSPECT_FORMAT_HELP } from './common.js';
import { inspectAll } from './inspect-common.js';

export const spec: CommandSpec = {
  use: 'inspect [OPTIONS] NAME|ID [NAME|ID...]',
  short: 'Return low-level information on Docker objects',
  args: { min: 1 },
  flags: [
    { name: 'format', short: 'f', type: 'string', usage: INSPECT_FORMAT_HELP },
    { name: 'size', short: 's', type: 'bool', usage: 'Display total file sizes if the type is container' },
    { name: 'type', type: 'string', usage: 'Only inspect objects of the given type' },
  ],
};

const KINDS = ['container', 'image', 'network', 'volume'] as const;
type Kind = (typeof KINDS)[number];

export async function run(ctx: CommandContext): Promise<number> {
  const type = ctx.opts.string('type');
  if (type !== '' && !(KINDS as readonly string[]).includes(type) && !['config', 'node', 'plugin', 'secret', 'service', 'task'].includes(type)) {
    throw new StatusError(`"${type}" is not a valid value for --type`, 1);
  }
  const client = await ctx.client();
  const size = ctx.opts.bool('size');
  const path = (k: Kind, ref: string): string => {
    switch (k) {
      case 'container': return `/containers/${ref}/json${size ? '?size=1' : ''}`;
      case 'image': return `/images/${ref}/json`;
      case 'network': return `/networks/${ref}`;
      case 'volume': return `/volumes/${ref}`;
    }
  };
  const kinds: readonly Kind[] = type === '' ? KINDS : KINDS.filter((k) => k === type);
  return inspectAll(ctx, ctx.args, ctx.opts.string('format'), async (ref) => {
    for (const k of kinds) {
      try {
        return await client.text('GET', path(k, ref));
      } catch (e) {
        if (e instanceof ApiError && (e.status === 404 || e.status === 400)) continue;
        throw e;
      }
    }
    throw new Error(type === '' ? `Error: No such object: ${ref}` : `Error: No such ${type}: ${ref}`);
  });
}
