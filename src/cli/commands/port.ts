/** `berth port`: the container's NetworkSettings.Ports, naturally sorted like docker. */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { asArray, asRecord, str } from '../narrow.js';
import { cpath } from './container-common.js';

export const spec: CommandSpec = {
  use: 'port CONTAINER [PRIVATE_PORT[/PROTO]]',
  short: 'List port mappings or a specific mapping for the container',
  aliases: 'docker container port, docker port',
  args: { min: 1, max: 2 },
  flags: [],
};

function joinHostPort(host: string, port: string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** sortorder.NaturalLess: digit runs compare numerically. */
export function naturalLess(a: string, b: string): boolean {
  const re = /(\d+|\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i] as string;
    const y = pb[i] as string;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const nx = BigInt(x);
      const ny = BigInt(y);
      if (nx !== ny) return nx < ny;
      if (x.length !== y.length) return x.length < y.length;
    } else if (x !== y) {
      return x < y;
    }
  }
  return pa.length < pb.length;
}

export async function run(ctx: CommandContext): Promise<number> {
  const name = ctx.args[0] ?? '';
  const client = await ctx.client();
  const c = asRecord(await client.get(`/containers/${cpath(name)}/json`));
  const ports = asRecord(asRecord(c['NetworkSettings'])['Ports']);
  const out: string[] = [];
  const want = ctx.args[1];
  if (want !== undefined) {
    const i = want.indexOf('/');
    const port = i === -1 ? want : want.slice(0, i);
    const proto = i === -1 || want.slice(i + 1) === '' ? 'tcp' : want.slice(i + 1);
    if (!/^\d+$/.test(port) || Number(port) > 65535) {
      throw new StatusError(`Error: invalid port (${port}): strconv.ParseUint: parsing ${JSON.stringify(port)}: ${/^\d+$/.test(port) ? 'value out of range' : 'invalid syntax'}`, 1);
    }
    const frontends = asArray(ports[`${port}/${proto}`]);
    if (frontends.length === 0) throw new StatusError(`Error: No public port '${want}' published for ${name}`, 1);
    for (const f of frontends.map(asRecord)) out.push(joinHostPort(str(f, 'HostIp'), str(f, 'HostPort')));
  } else {
    for (const [from, fr] of Object.entries(ports)) {
      for (const f of asArray(fr).map(asRecord)) out.push(`${from} -> ${joinHostPort(str(f, 'HostIp'), str(f, 'HostPort'))}`);
    }
  }
  if (out.length > 0) {
    out.sort((a, b) => (naturalLess(a, b) ? -1 : naturalLess(b, a) ? 1 : 0));
    ctx.out.write(`${out.join('\n')}\n`);
  }
  return 0;
}
