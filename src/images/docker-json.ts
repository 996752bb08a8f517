/**
 * Pure functions that shape image data the way the Engine API returns it.
 * Go marshals structs with every field in declaration order (zero values
 * included unless `omitempty`), and clients diff against that, so the
 * shapes here are spelled out field by field.
 */
import type { ContainerConfig, HistoryEntry, ImageConfig } from '../oci/types.js';

/** container.Config as Go marshals it: every field, fixed order. */
export function dockerContainerConfig(c: ContainerConfig | undefined): Record<string, unknown> {
  const x = c ?? {};
  const out: Record<string, unknown> = {
    Hostname: x.Hostname ?? '',
    Domainname: x.Domainname ?? '',
    User: x.User ?? '',
    AttachStdin: x.AttachStdin ?? false,
    AttachStdout: x.AttachStdout ?? false,
    AttachStderr: x.AttachStderr ?? false,
  };
  if (x.ExposedPorts !== undefined && Object.keys(x.ExposedPorts).length > 0) out['ExposedPorts'] = x.ExposedPorts;
  out['Tty'] = x.Tty ?? false;
  out['OpenStdin'] = x.OpenStdin ?? false;
  out['StdinOnce'] = x.StdinOnce ?? false;
  out['Env'] = x.Env ?? null;
  out['Cmd'] = x.Cmd ?? null;
  if (x.Healthcheck !== undefined) out['Healthcheck'] = x.Healthcheck;
  if (x.ArgsEscaped === true) out['ArgsEscaped'] = true;
  out['Image'] = x.Image ?? '';
  out['Volumes'] = x.Volumes ?? null;
  out['WorkingDir'] = x.WorkingDir ?? '';
  out['Entrypoint'] = x.Entrypoint ?? null;
  out['OnBuild'] = x.OnBuild ?? null;
  out['Labels'] = x.Labels ?? null;
  if (x.StopSignal !== undefined && x.StopSignal !== '') out['StopSignal'] = x.StopSignal;
  if (x.Shell !== undefined && x.Shell.length > 0) out['Shell'] = x.Shell;
  return out;
}

export function unixSeconds(iso: string | undefined): number {
  if (iso === undefined) return 0;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? 0 : Math.floor(t / 1000);
}

/** Docker's zero time when an image has no `created`. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface HistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

/**
 * Image history, newest first: each history entry that made a layer is
 * paired with that layer's size; only the newest entry carries the image ID
 * and tags (the rest are `<missing>`, as for pulled images in Docker).
 */
export function historyOf(
  id: string,
  config: ImageConfig,
  layerSizes: readonly number[],
  tags: readonly string[],
): HistoryItem[] {
  const entries: HistoryEntry[] = config.history ?? [];
  const items: HistoryItem[] = [];
  let li = 0;
  if (entries.length === 0) {
    // No history (e.g. an imported image): one row per layer.
    for (const size of layerSizes) items.push({ Id: '<missing>', Created: unixSeconds(config.created), CreatedBy: '', Tags: null, Size: size, Comment: '' });
  } else {
    for (const h of entries) {
      const empty = h.empty_layer === true;
      const size = empty ? 0 : (layerSizes[li++] ?? 0);
      items.push({ Id: '<missing>', Created: unixSeconds(h.created), CreatedBy: h.created_by ?? '', Tags: null, Size: size, Comment: h.comment ?? '' });
    }
  }
  items.reverse();
  const top = items[0];
  if (top !== undefined) {
    top.Id = id;
    top.Tags = tags.length > 0 ? [...tags] : null;
  }
  return items;
}
