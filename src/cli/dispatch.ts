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
  group: { df, info },
  listed: ['df', 'info'],
};

export const TOP_LEVEL: Readonly<Record<string, CommandEntry>> = {
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
};

export const GROUPS: Readonly<Record<string, GroupEntry>> = {
  image: IMAGE_GROUP,
  system: SYSTEM_GROUP,
};

/**
 * Container, network and volume commands arrive with the runtime; until
 * then they answer "not implemented yet" (exit 1) instead of "unknown command".
 */
export const NOT_YET: readonly string[] = [
  'run', 'create', 'ps', 'start', 'stop', 'restart', 'kill', 'rm', 'exec', 'logs', 'attach', 'wait', 'pause', 'unpause',
  'rename', 'top', 'stats', 'cp', 'port', 'diff', 'commit', 'export', 'update', 'events', 'build', 'login', 'logout',
  'search', 'container', 'network', 'volume', 'builder', 'buildx', 'compose', 'context', 'plugin', 'manifest', 'trust',
];
