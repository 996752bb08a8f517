/**
 * docker's inspect.Inspect: with no format, the daemon's raw JSON documents
 * re-indented with 4 spaces inside one array; with a template, one rendered
 * line per object. Failures are collected and reported after the output.
 */
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { indentJson, parseFormat } from '../format.js';
import { TemplateError } from '../template.js';
import type { Template } from '../template.js';

export type GetRaw = (ref: string) => Promise<string>;

export async function inspectAll(ctx: CommandContext, refs: readonly string[], format: string, get: GetRaw): Promise<number> {
  const useJson = format === '' || format === 'json';
  let tmpl: Template | undefined;
  if (!useJson) {
    try {
      tmpl = parseFormat(format);
    } catch (e) {
      throw new StatusError(e instanceof Error ? e.message : String(e), 64);
    }
  }
  const raws: string[] = [];
  let rendered = '';
  const errors: string[] = [];
  for (const ref of refs) {
    let raw: string;
    try {
      raw = await get(ref);
    } catch (e) {
      errors.push(errorText(e));
      continue;
    }
    if (tmpl === undefined) {
      raws.push(raw.trim());
      continue;
    }
    try {
      // Typed execution errors in docker fall back to the raw map with missingkey=error.
      rendered += `${tmpl.execute(JSON.parse(raw) as unknown, { missingKeyError: true })}\n`;
    } catch (e) {
      if (e instanceof TemplateError) errors.push(`template parsing error: template: :1:2: executing "" at <${format}>: ${e.message}`);
      else throw e;
    }
  }
  if (tmpl === undefined) {
    ctx.out.write(raws.length === 0 ? '[]\n' : `${indentJson(`[${raws.join(',')}]`)}\n`);
  } else {
    ctx.out.write(rendered === '' ? '\n' : rendered);
  }
  if (errors.length > 0) throw new StatusError(errors.join('\n'), 1);
  return 0;
}

/** How an error reads in docker's joined error list. */
export function errorText(e: unknown): string {
  if (e instanceof Error && e.name === 'ApiError') return `Error response from daemon: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}
