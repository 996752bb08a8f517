/**
 * berthd's life: parse flags, build the graph, listen, and on SIGTERM or
 * SIGINT shut down cleanly (stop accepting, let streams finish briefly,
 * close the database). Logs go to stderr in dockerd's logfmt.
 */
import { chown, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ensureDir, writeFileAtomic } from '../base/fsutil.js';
import { createLogger } from '../base/log.js';
import { errorMessage } from '../base/errors.js';
import { parseDaemonArgs, parseHost, USAGE } from './config.js';
import { buildDaemon, BERTH_VERSION } from './wire.js';

export async function main(argv: readonly string[]): Promise<number> {
  let cfg;
  try {
    cfg = parseDaemonArgs(argv);
  } catch (e) {
    process.stderr.write(`${errorMessage(e)}\nSee 'berthd --help'.\n`);
    return 125;
  }
  if (cfg.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (cfg.version) {
    process.stdout.write(`Berth version ${BERTH_VERSION}\n`);
    return 0;
  }
  const log = createLogger(cfg.logLevel);
  log.info('Starting up', { version: BERTH_VERSION, dataRoot: cfg.dataRoot });
  const daemon = await buildDaemon(cfg, log);
  for (const h of cfg.hosts) {
    const host = parseHost(h);
    if (host.kind === 'unix') {
      await ensureDir(dirname(host.path), 0o755);
      await daemon.api.listen({ socketPath: host.path, mode: 0o660, group: cfg.group });
    } else {
      const port = await daemon.api.listenTcp(host.host, host.port);
      log.warn(`API listen on ${host.host}:${port} without TLS: anyone who can reach it controls the daemon`);
    }
  }
  await writeFileAtomic(cfg.pidfile, `${process.pid}\n`);
  log.info('Daemon has completed initialization');
  await new Promise<void>((resolve) => {
    const stop = (sig: string): void => {
      log.info(`Processing signal '${sig}'`);
      resolve();
    };
    process.once('SIGTERM', () => stop('terminated'));
    process.once('SIGINT', () => stop('interrupt'));
  });
  await daemon.close();
  await rm(cfg.pidfile, { force: true });
  void chown;
  log.info('Daemon shutdown complete');
  return 0;
}
