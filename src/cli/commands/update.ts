/** `berth update`: POST /containers/{id}/update with docker's UpdateConfig body. */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { asArray, asRecord } from '../narrow.js';
import { cpath, errorText, flagValueError, parseCpus, parseRestartPolicy, ramInBytes } from './container-common.js';

export const spec: CommandSpec = {
  use: 'update [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Update configuration of one or more containers',
  aliases: 'docker container update, docker update',
  args: { min: 1 },
  flags: [
    { name: 'blkio-weight', type: 'int', varname: 'uint16', usage: 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)' },
    { name: 'cpu-period', type: 'int', usage: 'Limit CPU CFS (Completely Fair Scheduler) period' },
    { name: 'cpu-quota', type: 'int', usage: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
    { name: 'cpu-rt-period', type: 'int', usage: 'Limit the CPU real-time period in microseconds' },
    { name: 'cpu-rt-runtime', type: 'int', usage: 'Limit the CPU real-time runtime in microseconds' },
    { name: 'cpu-shares', short: 'c', type: 'int', usage: 'CPU shares (relative weight)' },
    { name: 'cpus', type: 'string', varname: 'decimal', usage: 'Number of CPUs' },
    { name: 'cpuset-cpus', type: 'string', usage: 'CPUs in which to allow execution (0-3, 0,1)' },
    { name: 'cpuset-mems', type: 'string', usage: 'MEMs in which to allow execution (0-3, 0,1)' },
    { name: 'kernel-memory', type: 'string', varname: 'bytes', usage: 'Kernel memory limit (deprecated)', hidden: true },
    { name: 'memory', short: 'm', type: 'string', varname: 'bytes', usage: 'Memory limit' },
    { name: 'memory-reservation', type: 'string', varname: 'bytes', usage: 'Memory soft limit' },
    { name: 'memory-swap', type: 'string', varname: 'bytes', usage: 'Swap limit equal to memory plus swap: -1 to enable unlimited swap' },
    { name: 'pids-limit', type: 'int', usage: 'Tune container pids limit (set -1 for unlimited)' },
    { name: 'restart', type: 'string', usage: 'Restart policy to apply when a container exits' },
  ],
};

const FLAG_NAMES = spec.flags.map((f) => f.name);

export async function run(ctx: CommandContext): Promise<number> {
  const o = ctx.opts;
  if (!FLAG_NAMES.some((n) => o.changed(n))) throw new StatusError('you must provide one or more flags when using this command', 1);
  const bytes = (name: string, label: string, swap = false): number => {
    if (!o.changed(name)) return 0;
    const v = o.string(name);
    if (swap && v === '-1') return -1;
    try { return ramInBytes(v); } catch (e) { throw flagValueError(ctx, label, v, e instanceof Error ? e.message : String(e)); }
  };
  const memory = bytes('memory', '-m, --memory');
  const memoryReservation = bytes('memory-reservation', '--memory-reservation');
  const memorySwap = bytes('memory-swap', '--memory-swap', true);
  const kernelMemory = bytes('kernel-memory', '--kernel-memory');
  let nanoCpus = 0;
  if (o.changed('cpus')) {
    try { nanoCpus = parseCpus(o.string('cpus')); } catch (e) { throw flagValueError(ctx, '--cpus', o.string('cpus'), e instanceof Error ? e.message : String(e)); }
  }
  let restart = { Name: '', MaximumRetryCount: 0 };
  if (o.string('restart') !== '') {
    try { restart = parseRestartPolicy(o.string('restart')); } catch (e) { throw new StatusError(e instanceof Error ? e.message : String(e), 1); }
  }
  // container.UpdateConfig: Resources (embedded, Go field order) + RestartPolicy.
  const body: Record<string, unknown> = {
    CpuShares: o.int('cpu-shares'), Memory: memory, NanoCpus: nanoCpus, CgroupParent: '', BlkioWeight: o.int('blkio-weight'),
    BlkioWeightDevice: null, BlkioDeviceReadBps: null, BlkioDeviceWriteBps: null, BlkioDeviceReadIOps: null, BlkioDeviceWriteIOps: null,
    CpuPeriod: o.int('cpu-period'), CpuQuota: o.int('cpu-quota'), CpuRealtimePeriod: o.int('cpu-rt-period'), CpuRealtimeRuntime: o.int('cpu-rt-runtime'),
    CpusetCpus: o.string('cpuset-cpus'), CpusetMems: o.string('cpuset-mems'), Devices: null, DeviceCgroupRules: null, DeviceRequests: null,
  };
  if (kernelMemory !== 0) body['KernelMemory'] = kernelMemory;
  Object.assign(body, {
    MemoryReservation: memoryReservation, MemorySwap: memorySwap, MemorySwappiness: null, OomKillDisable: null,
    PidsLimit: o.int('pids-limit') !== 0 ? o.int('pids-limit') : null, Ulimits: null, CpuCount: 0, CpuPercent: 0, IOMaximumIOps: 0, IOMaximumBandwidth: 0,
    RestartPolicy: restart,
  });
  const client = await ctx.client();
  const warns: string[] = [];
  const errs: string[] = [];
  for (const name of ctx.args) {
    try {
      const r = asRecord(await client.json('POST', `/containers/${cpath(name)}/update`, { body }));
      ctx.out.write(`${name}\n`);
      warns.push(...asArray(r['Warnings']).filter((w): w is string => typeof w === 'string'));
    } catch (e) {
      errs.push(errorText(e));
    }
  }
  if (warns.length > 0) ctx.out.write(`${warns.join('\n')}\n`);
  if (errs.length > 0) throw new StatusError(errs.join('\n'), 1);
  return 0;
}
