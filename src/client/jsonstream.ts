/**
 * JSON message streams (pull, push, load, import, build, events): one JSON
 * object per line. dockerd ends lines with `\r\n` for some endpoints and
 * `\n` for others, so split on `\n` and let the `\r` go.
 */
export async function* readJsonLines(source: AsyncIterable<Buffer | string>): AsyncGenerator<unknown> {
  let pending = '';
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of source) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let nl = pending.indexOf('\n');
    while (nl !== -1) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line !== '') yield JSON.parse(line) as unknown;
      nl = pending.indexOf('\n');
    }
  }
  pending += decoder.decode();
  const rest = pending.trim();
  if (rest !== '') yield JSON.parse(rest) as unknown;
}
