/** Public API of the snapshots layer. */
export type { ApplyLayerOptions, Mount, SnapshotInfo, SnapshotKind, Snapshotter, StagedLayer } from './types.js';
export { OverlaySnapshotter, diskUsage, type OverlayOptions } from './overlay.js';
export {
  applyTar,
  cleanEntryName,
  DEFAULT_MAX_ENTRY_SIZE,
  OVERLAY_OPAQUE_XATTR,
  WHITEOUT_OPAQUE,
  WHITEOUT_PREFIX,
  type ApplyTarOptions,
} from './unpack.js';
export { writeDiff, filterDiff, RUNTIME_MOUNT_POINTS, type WriteDiffOptions } from './diff.js';
export { mountAll, unmountAll, parseMountOptions } from './mount.js';
export { TarReader, encodeHeader, tarPadding, tarTrailer, toWriteHeader, type TarHeader, type TarType, type TarWriteHeader } from '../base/tar.js';
