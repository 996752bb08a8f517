/**
 * Go's text/tabwriter (docker's fork) for the case docker uses: cells are
 * tab-terminated, the last cell of a line is not aligned, padding with a
 * pad character, no flags. Column blocks are computed exactly like Go's
 * recursive `format`, so consecutive lines share widths only while they
 * have a cell in that column.
 */

/** Display width: code points, with East Asian wide/fullwidth characters counting 2. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    w += isWide(c) ? 2 : 1;
  }
  return w;
}

function isWide(c: number): boolean {
  return (
    (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf && c !== 0x303f) || (c >= 0xac00 && c <= 0xd7a3) ||
    (c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) || (c >= 0xffe0 && c <= 0xffe6) ||
    (c >= 0x1f300 && c <= 0x1f64f) || (c >= 0x1f900 && c <= 0x1f9ff) || (c >= 0x20000 && c <= 0x3fffd)
  );
}

interface Cell { text: string; width: number }

export function tabwrite(text: string, minwidth: number, padding: number, padchar = ' '): string {
  const lines: Cell[][] = text.split('\n').map((l) => l.split('\t').map((t) => ({ text: t, width: displayWidth(t) })));
  // A trailing empty last cell (text ended with "\n" or "\t") is not a cell in Go.
  for (const l of lines) {
    const last = l[l.length - 1];
    if (last !== undefined && last.text === '' && l.length === 1) l.pop();
  }
  const out: string[] = [];
  const widths: number[] = [];

  const writeLines = (line0: number, line1: number): void => {
    for (let i = line0; i < line1; i++) {
      const line = lines[i] as Cell[];
      line.forEach((c, j) => {
        out.push(c.text);
        if (j < widths.length && j < line.length - 1) out.push(padchar.repeat(Math.max(0, (widths[j] as number) - c.width)));
      });
      if (i + 1 < lines.length) out.push('\n');
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= (lines[t] as Cell[]).length - 1) continue;
      writeLines(line0, t);
      line0 = t;
      let width = minwidth;
      for (; t < line1; t++) {
        const line = lines[t] as Cell[];
        if (column >= line.length - 1) break;
        const w = (line[column] as Cell).width + padding;
        if (w > width) width = w;
      }
      widths.push(width);
      format(line0, t);
      widths.pop();
      line0 = t;
    }
    writeLines(line0, line1);
  };
  format(0, lines.length);
  return out.join('');
}
