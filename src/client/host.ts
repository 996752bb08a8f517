/**
 * Where the daemon lives. Resolution order follows the docker CLI
 * (-H flag, then env), with berth's own variable and socket first.
 */
export const DEFAULT_HOST = 'unix:///run/berth/berth.sock';

export type HostAddress =
  | { readonly kind: 'unix'; readonly socketPath: string; readonly url: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly url: string };

export function resolveHostString(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const candidates = [flag, env['BERTH_HOST'], env['DOCKER_HOST']];
  for (const c of candidates) if (c !== undefined && c !== '') return c;
  return DEFAULT_HOST;
}

/** Parses `unix:///path`, `tcp://host:port`, `http://host:port`; errors read like docker's. */
export function parseHost(s: string): HostAddress {
  if (s.startsWith('unix://')) {
    const p = s.slice('unix://'.length);
    if (p === '') throw new Error(`unable to parse docker host \`${s}\``);
    return { kind: 'unix', socketPath: p, url: s };
  }
  const m = /^(tcp|http):\/\/(\[[^\]]+\]|[^:/]*)(?::(\d+))?\/?$/.exec(s);
  if (m !== null) {
    const host = (m[2] ?? '').replace(/^\[|\]$/g, '') || '127.0.0.1';
    const port = m[3] !== undefined ? Number(m[3]) : 2375;
    return { kind: 'tcp', host, port, url: `tcp://${m[2] || '127.0.0.1'}:${port}` };
  }
  // docker accepts a bare path as a unix socket only with the scheme; mirror its error
  throw new Error(`unable to parse docker host \`${s}\``);
}
