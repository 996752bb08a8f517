/**
 * /containers/* and /exec/*: the Engine API's container endpoints over the
 * ContainerService. Streams follow REFERENCE.md §4–5: attach and exec are
 * hijacked (101 with Upgrade, 200 raw otherwise) and framed with stdcopy
 * unless the container has a TTY; wait and stats flush headers at once.
 */
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { errorMessage, InvalidArgumentError } from '../../base/errors.js';
import type { ContainerService } from '../../containers/service.js';
import { frame } from '../stdcopy.js';
import type { Route } from '../router.js';
import { parseEventTime } from './events.js';

/** Seconds (possibly fractional) or RFC 3339 → nanoseconds. */
function timeNs(v: string | undefined): bigint | undefined {
  if (v === undefined || v === '' || v === '0') return undefined;
  return BigInt(Math.round(parseEventTime(v)));
}

/** Feeds a hijacked socket's incoming bytes (the client's stdin) into a stream we control. */
function socketStdin(sock: Socket): PassThrough {
  const p = new PassThrough();
  sock.on('data', (b: Buffer) => p.write(b));
  sock.on('end', () => p.end());
  sock.on('close', () => p.end());
  return p;
}

export function containerRoutes(svc: ContainerService): Route[] {
  return [
    {
      method: 'POST',
      path: '/containers/create',
      handler: async (req, res) => {
        const body = await req.json();
        res.json(201, await svc.create(req.ctx, body, req.query.str('name')));
      },
    },
    {
      method: 'GET',
      path: '/containers/json',
      handler: (req, res) => {
        const limit = req.query.int('limit') ?? -1;
        res.json(
          200,
          svc.list({ all: req.query.bool('all'), limit: limit < 0 ? 0 : limit, filters: req.query.filters(), size: req.query.bool('size'), latestOnly: false }),
        );
      },
    },
    {
      method: 'POST',
      path: '/containers/prune',
      handler: async (req, res) => res.json(200, await svc.prune(req.ctx, req.query.filters())),
    },
    { method: 'GET', path: '/containers/{id}/json', handler: (req, res) => res.json(200, svc.inspect(req.param('id'))) },
    {
      method: 'POST',
      path: '/containers/{id}/start',
      handler: async (req, res) => {
        await svc.start(req.ctx, req.param('id'));
        res.noContent();
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/stop',
      handler: async (req, res) => {
        await svc.stop(req.ctx, req.param('id'), req.query.int('t'), req.query.str('signal'));
        res.noContent();
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/restart',
      handler: async (req, res) => {
        await svc.restart(req.ctx, req.param('id'), req.query.int('t'));
        res.noContent();
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/kill',
      handler: async (req, res) => {
        await svc.kill(req.ctx, req.param('id'), req.query.str('signal'));
        res.noContent();
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/pause',
      handler: async (req, res) => {
        await svc.pause(req.param('id'));
        res.noContent();
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/unpause',
      handler: async (req, res) => {
        await svc.unpause(req.param('id'));
        res.noContent();
      },
    },
    {
      method: 'DELETE',
      path: '/containers/{id}',
      handler: async (req, res) => {
        await svc.remove(req.ctx, req.param('id'), { force: req.query.bool('force'), volumes: req.query.bool('v') });
        res.noContent();
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/rename',
      handler: (req, res) => {
        const name = req.query.str('name') ?? '';
        if (name === '') throw new InvalidArgumentError('Neither old nor new names may be empty');
        svc.rename(req.param('id'), name);
        res.noContent();
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/wait',
      handler: async (req, res) => {
        const id = req.param('id');
        svc.get(id); // 404 before the stream starts
        const out = res.jsonStream({ terminator: '\n' });
        try {
          const r = await svc.wait(id, req.query.str('condition') ?? '', req.signal);
          out.write({ Error: r.error === null ? null : { Message: r.error }, StatusCode: r.code });
        } catch (e) {
          out.write({ Error: { Message: errorMessage(e) }, StatusCode: -1 });
        }
        out.end();
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/resize',
      handler: async (req, res) => {
        await svc.resize(req.param('id'), req.query.int('h') ?? 0, req.query.int('w') ?? 0);
        res.empty(200);
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/attach',
      handler: async (req, res) => {
        const id = req.param('id');
        const l = svc.get(id);
        const tty = l.rec.Config.Tty;
        const wantOut = req.query.bool('stdout');
        const wantErr = req.query.bool('stderr');
        const wantIn = req.query.bool('stdin');
        const stream = req.query.bool('stream');
        const withLogs = req.query.bool('logs');
        const sock = await res.hijack();
        const write = (s: 1 | 2, data: Buffer): void => {
          if ((s === 1 && !wantOut) || (s === 2 && !wantErr) || sock.destroyed) return;
          sock.write(tty ? data : frame(s, data));
        };
        if (withLogs) {
          for await (const m of svc.logs(id, { follow: false, stdout: wantOut, stderr: wantErr, signal: req.signal }).messages) {
            write(m.stream === 'stdout' ? 1 : 2, m.data);
          }
        }
        if (!stream) {
          sock.end();
          return;
        }
        let detach = (): void => {};
        const done = new Promise<void>((resolve) => {
          const a = {
            write,
            end: () => resolve(),
            ...(wantIn ? { stdin: socketStdin(sock) } : {}),
          };
          svc.attach(req.ctx, id, a).then((d) => (detach = d), () => resolve());
          sock.on('close', () => resolve());
        });
        if (!wantIn) sock.resume(); // drain and notice the client's FIN
        await done;
        detach();
        if (!sock.destroyed) sock.end();
      },
    },
    {
      method: 'GET',
      path: '/containers/{id}/logs',
      handler: async (req, res) => {
        const id = req.param('id');
        const stdout = req.query.bool('stdout');
        const stderr = req.query.bool('stderr');
        if (!stdout && !stderr) throw new InvalidArgumentError('Bad parameters: you must choose at least one stream');
        const tailRaw = req.query.str('tail') ?? 'all';
        const tail = tailRaw === 'all' || tailRaw === '' || Number(tailRaw) < 0 ? undefined : Number(tailRaw);
        if (tail !== undefined && Number.isNaN(tail)) throw new InvalidArgumentError(`invalid value for "tail": ${tailRaw}`);
        const since = timeNs(req.query.str('since'));
        const until = timeNs(req.query.str('until'));
        const { tty, messages } = svc.logs(id, {
          follow: req.query.bool('follow'),
          stdout,
          stderr,
          signal: req.signal,
          ...(tail !== undefined ? { tail } : {}),
          ...(since !== undefined ? { since } : {}),
          ...(until !== undefined ? { until } : {}),
        });
        const ts = req.query.bool('timestamps');
        const out = res.rawStream(null);
        try {
          for await (const m of messages) {
            const payload = ts ? Buffer.concat([Buffer.from(`${nanoTime(m.timeNano)} `), m.data]) : m.data;
            const ok = out.write(tty ? payload : frame(m.stream === 'stdout' ? 1 : 2, payload));
            if (!ok) await new Promise((r) => out.once('drain', r));
          }
        } catch (e) {
          if (!req.signal.aborted) req.ctx.log.warn('logs stream failed', { id, err: errorMessage(e) });
        }
        out.end();
      },
    },
    {
      method: 'GET',
      path: '/containers/{id}/top',
      handler: async (req, res) => res.json(200, await svc.top(req.param('id'), req.query.str('ps_args') ?? '')),
    },
    {
      method: 'GET',
      path: '/containers/{id}/stats',
      handler: async (req, res) => {
        const id = req.param('id');
        const stream = req.query.has('stream') ? req.query.bool('stream') : true;
        if (!stream) {
          // Two samples so precpu_stats is filled, as dockerd does (one-shot skips that).
          if (!req.query.bool('one-shot') && svc.isRunning(id)) {
            await svc.stats(id);
            await new Promise((r) => setTimeout(r, 1000));
          }
          res.json(200, await svc.stats(id));
          return;
        }
        const out = res.jsonStream({ terminator: '\n' });
        while (!out.closed && !req.signal.aborted) {
          out.write(await svc.stats(id));
          if (!svc.isRunning(id)) break;
          await new Promise((r) => setTimeout(r, 1000));
        }
        out.end();
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/exec',
      handler: async (req, res) => {
        const body = await req.json();
        res.json(201, { Id: svc.execCreate(req.param('id'), body) });
      },
    },
    {
      method: 'POST',
      path: '/exec/{id}/start',
      handler: async (req, res) => {
        const execId = req.param('id');
        const e = svc.getExec(execId);
        const raw = await req.json({ optional: true });
        const o = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
        const detach = o['Detach'] === true;
        const tty = typeof o['Tty'] === 'boolean' ? o['Tty'] : e.Tty;
        if (detach) {
          await svc.execStart(req.ctx, execId, undefined, tty);
          res.empty(200);
          return;
        }
        const sock = await res.hijack();
        const stdin = e.AttachStdin ? socketStdin(sock) : undefined;
        if (stdin === undefined) sock.resume();
        const code = await svc
          .execStart(req.ctx, execId, {
            write: (s, data) => {
              if ((s === 1 && !e.AttachStdout) || (s === 2 && !e.AttachStderr) || sock.destroyed) return;
              sock.write(tty ? data : frame(s, data));
            },
            ...(stdin !== undefined ? { stdin } : {}),
          }, tty)
          .catch((err: unknown) => {
            if (!sock.destroyed) sock.write(tty ? `${errorMessage(err)}\r\n` : frame(1, `${errorMessage(err)}\r\n`));
            return -1;
          });
        void code;
        if (!sock.destroyed) sock.end();
      },
    },
    {
      method: 'POST',
      path: '/exec/{id}/resize',
      handler: async (req, res) => {
        await svc.execResize(req.param('id'), req.query.int('h') ?? 0, req.query.int('w') ?? 0);
        res.empty(200);
      },
    },
    { method: 'GET', path: '/exec/{id}/json', handler: (req, res) => res.json(200, svc.execInspect(req.param('id'))) },
  ];
}

/** RFC3339Nano in UTC as Docker prints log timestamps. */
function nanoTime(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const iso = new Date(ms).toISOString().slice(0, 19);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${iso}${frac === '' ? '' : '.' + frac}Z`;
}
