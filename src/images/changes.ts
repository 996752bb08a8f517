/**
 * `--change` for import and commit: the Dockerfile instructions that only
 * alter the image config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD,
 * STOPSIGNAL, USER, VOLUME, WORKDIR), parsed as the builder would.
 */
import { InvalidArgumentError } from '../base/errors.js';
import type { ContainerConfig } from '../oci/types.js';

const ALLOWED = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR']);

/** JSON array form, or shell form wrapped in /bin/sh -c. */
function cmdForm(rest: string): string[] {
  const t = rest.trim();
  if (t.startsWith('[')) {
    try {
      const v: unknown = JSON.parse(t);
      if (Array.isArray(v) && v.every((x): x is string => typeof x === 'string')) return v;
    } catch {
      /* falls through to shell form, as Docker does */
    }
  }
  return ['/bin/sh', '-c', t];
}

/** `k=v k2="v 2"` or the legacy `k v` form. */
function keyValues(rest: string, instr: string): [string, string][] {
  const t = rest.trim();
  const words = t.match(/(?:[^\s"']+|"(?:\\.|[^"\\])*"|'[^']*')+/g) ?? [];
  if (words.length > 0 && !words[0]!.includes('=')) {
    const sp = t.search(/\s/);
    if (sp === -1) throw new InvalidArgumentError(`${instr} names can not be blank`);
    return [[t.slice(0, sp), t.slice(sp).trim()]];
  }
  return words.map((w) => {
    const i = w.indexOf('=');
    if (i <= 0) throw new InvalidArgumentError(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    return [w.slice(0, i), unquote(w.slice(i + 1))];
  });
}

function unquote(s: string): string {
  if (s.length >= 2 && ((s.startsWith('"') && s.endsWith('"')) || (s.startsWith("'") && s.endsWith("'")))) {
    return s.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return s;
}

export function applyChanges(base: ContainerConfig, changes: readonly string[]): ContainerConfig {
  const c: ContainerConfig = { ...base };
  for (const change of changes) {
    const line = change.trim();
    if (line === '') continue;
    const sp = line.search(/\s/);
    const instr = (sp === -1 ? line : line.slice(0, sp)).toUpperCase();
    const rest = sp === -1 ? '' : line.slice(sp + 1);
    if (!ALLOWED.has(instr)) throw new InvalidArgumentError(`${instr} is not a valid change command`);
    switch (instr) {
      case 'CMD':
        c.Cmd = cmdForm(rest);
        break;
      case 'ENTRYPOINT':
        c.Entrypoint = cmdForm(rest);
        break;
      case 'ENV': {
        const env = [...(c.Env ?? [])];
        for (const [k, v] of keyValues(rest, 'ENV')) {
          const i = env.findIndex((e) => e.split('=')[0] === k);
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        c.Env = env;
        break;
      }
      case 'LABEL':
        c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(keyValues(rest, 'LABEL')) };
        break;
      case 'EXPOSE': {
        const ports = { ...(c.ExposedPorts ?? {}) };
        for (const p of rest.trim().split(/\s+/)) {
          if (p === '') continue;
          ports[p.includes('/') ? p.toLowerCase() : `${p}/tcp`] = {};
        }
        c.ExposedPorts = ports;
        break;
      }
      case 'VOLUME': {
        const vols = { ...(c.Volumes ?? {}) };
        const t = rest.trim();
        const list = t.startsWith('[') ? cmdForm(t).filter((_, i, a) => a[0] !== '/bin/sh' || i > 1) : t.split(/\s+/);
        for (const v of list) if (v !== '') vols[v] = {};
        c.Volumes = vols;
        break;
      }
      case 'USER':
        c.User = rest.trim();
        break;
      case 'WORKDIR':
        c.WorkingDir = rest.trim();
        break;
      case 'STOPSIGNAL':
        c.StopSignal = rest.trim();
        break;
      case 'ONBUILD':
        c.OnBuild = [...(c.OnBuild ?? []), rest.trim()];
        break;
    }
  }
  return c;
}
