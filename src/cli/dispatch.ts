/**
 * The command table. Each entry names a module under ./commands that is
 * imported only when that command runs (esbuild turns each into a chunk),
 * so `berth version` never loads the code of `berth pull`.
 *
 * To add a command: write src/cli/commands/<name>.ts exporting
 * `spec: CommandSpec` and `run(ctx): Promise<number>`, then add a line here.
 */
import type { CommandSpec } from './argv.js';
import type { CommandContext } from './context.js';

export interface CommandModule {
  readonly spec: CommandSpec;
  run(ctx: CommandContext): Promise<number>;
}

export interface CommandEntry {
  readonly short: string;
  readonly load: () => Promise<CommandModule>;
}

export interface GroupEntry {
  readonly short: string;
  readonly group: Readonly<Record<string, CommandEntry>>;
  /** Subcommand names listed in help (aliases omitted). */
  readonly listed: readonly string[];
}

const images: CommandEntry = { short: 'List images', load: () => import('./commands/images.js') };
const imageInspect: CommandEntry = { short: 'Display detailed information on one or more images', load: () => import('./commands/image-inspect.js') };
const rmi: CommandEntry = { short: 'Remove one or more images', load: () => import('./commands/rmi.js') };
const tag: CommandEntry = { short: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE', load: () => import('./commands/tag.js') };
const save: CommandEntry = { short: 'Save one or more images to a tar archive (streamed to STDOUT by default)', load: () => import('./commands/save.js') };
const load: CommandEntry = { short: 'Load an image from a tar archive or STDIN', load: () => import('./commands/load.js') };
const importCmd: CommandEntry = { short: 'Import the contents from a tarball to create a filesystem image', load: () => import('./commands/import.js') };
const history: CommandEntry = { short: 'Show the history of an image', load: () => import('./commands/history.js') };
const imagePrune: CommandEntry = { short: 'Remove unused images', load: () => import('./commands/image-prune.js') };
const pull: CommandEntry = { short: 'Download an image from a registry', load: () => import('./commands/pull.js') };
const push: CommandEntry = { short: 'Upload an image to a registry', load: () => import('./commands/push.js') };
const info: CommandEntry = { short: 'Display system-wide information', load: () => import('./commands/info.js') };
const df: CommandEntry = { short: 'Show docker disk usage', load: () => import('./commands/system-df.js') };
const events: CommandEntry = { short: 'Get real time events from the server', load: () => import('./commands/events.js') };

const run: CommandEntry = { short: 'Create and run a new container from an image', load: () => import('./commands/run.js') };
const create: CommandEntry = { short: 'Create a new container', load: () => import('./commands/create.js') };
const ps: CommandEntry = { short: 'List containers', load: () => import('./commands/ps.js') };
const start: CommandEntry = { short: 'Start one or more stopped containers', load: () => import('./commands/start.js') };
const stop: CommandEntry = { short: 'Stop one or more running containers', load: () => import('./commands/stop.js') };
const restart: CommandEntry = { short: 'Restart one or more containers', load: () => import('./commands/restart.js') };
const kill: CommandEntry = { short: 'Kill one or more running containers', load: () => import('./commands/kill.js') };
const rm: CommandEntry = { short: 'Remove one or more containers', load: () => import('./commands/rm.js') };
const exec: CommandEntry = { short: 'Execute a command in a running container', load: () => import('./commands/exec.js') };
const logs: CommandEntry = { short: 'Fetch the logs of a container', load: () => import('./commands/logs.js') };
const attach: CommandEntry = { short: 'Attach local standard input, output, and error streams to a running container', load: () => import('./commands/attach.js') };
const wait: CommandEntry = { short: 'Block until one or more containers stop, then print their exit codes', load: () => import('./commands/wait.js') };
const pause: CommandEntry = { short: 'Pause all processes within one or more containers', load: () => import('./commands/pause.js') };
const unpause: CommandEntry = { short: 'Unpause all processes within one or more containers', load: () => import('./commands/unpause.js') };
const rename: CommandEntry = { short: 'Rename a container', load: () => import('./commands/rename.js') };
const top: CommandEntry = { short: 'Display the running processes of a container', load: () => import('./commands/top.js') };
const stats: CommandEntry = { short: 'Display a live stream of container(s) resource usage statistics', load: () => import('./commands/stats.js') };
const port: CommandEntry = { short: 'List port mappings or a specific mapping for the container', load: () => import('./commands/port.js') };
const cp: CommandEntry = { short: 'Copy files/folders between a container and the local filesystem', load: () => import('./commands/cp.js') };
const exportCmd: CommandEntry = { short: "Export a container's filesystem as a tar archive", load: () => import('./commands/export.js') };
const commit: CommandEntry = { short: "Create a new image from a container's changes", load: () => import('./commands/commit.js') };
const diff: CommandEntry = { short: "Inspect changes to files or directories on a container's filesystem", load: () => import('./commands/diff.js') };
const update: CommandEntry = { short: 'Update configuration of one or more containers', load: () => import('./commands/update.js') };
const containerPrune: CommandEntry = { short: 'Remove all stopped containers', load: () => import('./commands/container-prune.js') };
const containerInspect: CommandEntry = { short: 'Display detailed information on one or more containers', load: () => import('./commands/container-inspect.js') };

export const IMAGE_GROUP: GroupEntry = {
  short: 'Manage images',
  group: {
    history, import: importCmd, inspect: imageInspect, load, ls: images, list: images, prune: imagePrune,
    pull, push, rm: rmi, rmi, remove: rmi, save, tag,
  },
  listed: ['history', 'import', 'inspect', 'load', 'ls', 'prune', 'pull', 'push', 'rm', 'save', 'tag'],
};

export const SYSTEM_GROUP: GroupEntry = {
  short: 'Manage Docker',
  group: { df, events, info },
  listed: ['df', 'events', 'info'],
};

export const CONTAINER_GROUP: GroupEntry = {
  short: 'Manage containers',
  group: {
    attach, commit, cp, create, diff, exec, export: exportCmd, inspect: containerInspect, kill, logs, ls: ps, list: ps, ps, pause, port,
    prune: containerPrune, rename, restart, rm, remove: rm, run, start, stats, stop, top, unpause, update, wait,
  },
  listed: ['attach', 'commit', 'cp', 'create', 'diff', 'exec', 'export', 'inspect', 'kill', 'logs', 'ls', 'pause', 'port', 'prune', 'rename', 'restart', 'rm', 'run', 'start', 'stats', 'stop', 'top', 'unpause', 'update', 'wait'],
};

export const TOP_LEVEL: Readonly<Record<string, CommandEntry>> = {
  run,
  exec,
  ps,
  create,
  start,
  stop,
  restart,
  kill,
  rm,
  logs,
  attach,
  wait,
  pause,
  unpause,
  rename,
  top,
  stats,
  port,
  cp,
  export: exportCmd,
  commit,
  diff,
  update,
  events,
  version: { short: 'Show the Docker version information', load: () => import('./commands/version.js') },
  info,
  images,
  inspect: { short: 'Return low-level information on Docker objects', load: () => import('./commands/inspect.js') },
  rmi,
  tag,
  save,
  load,
  import: importCmd,
  history,
  pull,
  push,
  build: { short: 'Build an image from a Dockerfile', load: () => import('./commands/build.js') },
};

export const GROUPS: Readonly<Record<string, GroupEntry>> = {
  container: CONTAINER_GROUP,
  image: IMAGE_GROUP,
  system: SYSTEM_GROUP,
};

/**
 * Network, volume and build commands are still to come; until then they
 * answer "not implemented yet" (exit 1) instead of "unknown command".
 */
export const NOT_YET: readonly string[] = [
  'build', 'login', 'logout', 'search', 'network', 'volume', 'builder', 'buildx', 'compose', 'context', 'plugin', 'manifest', 'trust',
];
