/** `berth info`: a docker-shaped subset of /info. */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { JSON_FORMAT, JSON_KEY, execOrThrow, parseFormat } from '../format.js';
import { asArray, asRecord, bool, num, str, strings } from '../narrow.js';
import type { Rec } from '../narrow.js';
import { bytesSize } from '../units.js';
import { INSPECT_FORMAT_HELP } from './common.js';
import { VERSION } from './version.js';

export const spec: CommandSpec = {
  use: 'info [OPTIONS]',
  short: 'Display system-wide information',
  aliases: 'docker system info, docker info',
  args: { max: 0 },
  flags: [{ name: 'format', short: 'f', type: 'string', usage: INSPECT_FORMAT_HELP }],
};

function serverInfo(i: Rec): string {
  let s = 'Server:\n';
  const line = (k: string, v: string | number): void => {
    s += ` ${k}: ${v}\n`;
  };
  line('Containers', num(i, 'Containers'));
  s += `  Running: ${num(i, 'ContainersRunning')}\n  Paused: ${num(i, 'ContainersPaused')}\n  Stopped: ${num(i, 'ContainersStopped')}\n`;
  line('Images', num(i, 'Images'));
  line('Server Version', str(i, 'ServerVersion'));
  line('Storage Driver', str(i, 'Driver'));
  for (const pair of asArray(i['DriverStatus'])) {
    const p = asArray(pair);
    if (typeof p[0] === 'string') s += `  ${p[0]}: ${typeof p[1] === 'string' ? p[1] : ''}\n`;
  }
  line('Logging Driver', str(i, 'LoggingDriver'));
  line('Cgroup Driver', str(i, 'CgroupDriver'));
  line('Cgroup Version', str(i, 'CgroupVersion'));
  const plugins = asRecord(i['Plugins']);
  s += ' Plugins:\n';
  s += `  Volume: ${strings(plugins, 'Volume').join(' ')}\n`;
  s += `  Network: ${strings(plugins, 'Network').join(' ')}\n`;
  s += `  Log: ${strings(plugins, 'Log').join(' ')}\n`;
  const swarm = asRecord(i['Swarm']);
  line('Swarm', str(swarm, 'LocalNodeState') || 'inactive');
  line('Runtimes', Object.keys(asRecord(i['Runtimes'])).join(' '));
  line('Default Runtime', str(i, 'DefaultRuntime'));
  line('Init Binary', str(i, 'InitBinary'));
  line('containerd version', str(asRecord(i['ContainerdCommit']), 'ID'));
  line('runc version', str(asRecord(i['RuncCommit']), 'ID'));
  line('init version', str(asRecord(i['InitCommit']), 'ID'));
  const secopts = strings(i, 'SecurityOptions');
  if (secopts.length > 0) {
    s += ' Security Options:\n';
    for (const o of secopts) {
      for (const kv of o.split(',')) {
        const [k, v] = kv.split('=') as [string, string | undefined];
        if (k === 'name') s += `  ${v ?? ''}\n`;
        else s += `   ${k.charAt(0).toUpperCase()}${k.slice(1)}: ${v ?? ''}\n`;
      }
    }
  }
  line('Kernel Version', str(i, 'KernelVersion'));
  line('Operating System', str(i, 'OperatingSystem'));
  line('OSType', str(i, 'OSType'));
  line('Architecture', str(i, 'Architecture'));
  line('CPUs', num(i, 'NCPU'));
  line('Total Memory', bytesSize(num(i, 'MemTotal')));
  line('Name', str(i, 'Name'));
  line('ID', str(i, 'ID'));
  line('Docker Root Dir', str(i, 'DockerRootDir'));
  line('Debug Mode', String(bool(i, 'Debug')));
  if (str(i, 'HttpProxy') !== '') line('HTTP Proxy', str(i, 'HttpProxy'));
  if (str(i, 'HttpsProxy') !== '') line('HTTPS Proxy', str(i, 'HttpsProxy'));
  if (str(i, 'NoProxy') !== '') line('No Proxy', str(i, 'NoProxy'));
  const labels = strings(i, 'Labels');
  if (labels.length > 0) s += ` Labels:\n${labels.map((l) => `  ${l}\n`).join('')}`;
  line('Experimental', String(bool(i, 'ExperimentalBuild')));
  const reg = asRecord(i['RegistryConfig']);
  const insecure = [
    ...Object.values(asRecord(reg['IndexConfigs'])).map(asRecord).filter((c) => c['Secure'] === false).map((c) => str(c, 'Name')),
    ...strings(reg, 'InsecureRegistryCIDRs'),
  ];
  if (insecure.length > 0) s += ` Insecure Registries:\n${insecure.map((r) => `  ${r}\n`).join('')}`;
  const mirrors = strings(reg, 'Mirrors');
  if (mirrors.length > 0) s += ` Registry Mirrors:\n${mirrors.map((r) => `  ${r}\n`).join('')}`;
  line('Live Restore Enabled', String(bool(i, 'LiveRestoreEnabled')));
  return s;
}

export async function run(ctx: CommandContext): Promise<number> {
  const format = ctx.opts.string('format');
  const client = await ctx.client();
  if (format !== '') {
    const tmpl = parseFormat(format === JSON_KEY ? JSON_FORMAT : format);
    const info = await client.get('/info');
    ctx.out.write(`${execOrThrow(tmpl, { ...asRecord(info), ClientInfo: { Version: VERSION, Context: 'default', Debug: ctx.global.debug } })}\n`);
    return 0;
  }
  ctx.out.write(`Client:\n Version:    ${VERSION}\n Context:    default\n Debug Mode: ${String(ctx.global.debug)}\n\n`);
  let info: Rec;
  try {
    info = asRecord(await client.get('/info'));
  } catch (e) {
    ctx.out.write('Server:\n');
    throw e;
  }
  ctx.out.write(serverInfo(info));
  const warnings = strings(info, 'Warnings');
  if (warnings.length > 0) ctx.err.write(`${warnings.join('\n')}\n`);
  return 0;
}
