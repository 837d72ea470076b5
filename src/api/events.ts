/**
 * GET /api/v1/events: the event bus as a Server-Sent Events stream (HTML
 * living standard, "server-sent events"): each event is `id:`, `event:`
 * (its type) and `data:` (JSON with `time` and the payload). `?types=a,b`
 * keeps only those types. A comment line every 15 s keeps proxies from
 * closing an idle stream; a client that stops reading (1 MiB queued) is
 * dropped rather than buffered without end.
 */
import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import { EVENT_TYPES, type EventBus, type EventType } from '../core/events.js';
import { ApiError } from './errors.js';

const HEARTBEAT_MS = 15_000;
const MAX_QUEUED = 1 << 20;

export interface EventStreams {
  /** Ends every open stream (server stop). */
  closeAll(): void;
  readonly count: number;
}

export function registerEvents(app: FastifyInstance, bus: EventBus): EventStreams {
  const open = new Set<ServerResponse>();
  app.get('/events', async (req, reply) => {
    const typesParam = (req.query as Record<string, unknown>).types;
    let types: Set<string> | null = null;
    if (typeof typesParam === 'string' && typesParam !== '') {
      types = new Set(typesParam.split(',').map((t) => t.trim()));
      for (const t of types)
        if (!(EVENT_TYPES as readonly string[]).includes(t))
          throw new ApiError(400, `types: unknown event type ${JSON.stringify(t)} (known: ${EVENT_TYPES.join(', ')})`);
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write(`: trunkline events${types ? ` (${[...types].join(',')})` : ''}\n\n`);
    open.add(res);
    const close = (): void => {
      unsubscribe();
      clearInterval(heartbeat);
      open.delete(res);
      if (!res.writableEnded) res.end();
    };
    const unsubscribe = bus.subscribe((e) => {
      if (types !== null && !types.has(e.type as EventType)) return;
      if (res.writableLength > MAX_QUEUED) {
        close();
        return;
      }
      res.write(
        `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify({ time: new Date(e.time).toISOString(), ...e.data })}\n\n`,
      );
    });
    const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    req.raw.on('close', close);
    res.on('error', close);
  });
  return {
    closeAll() {
      for (const res of [...open]) res.end();
    },
    get count() {
      return open.size;
    },
  };
}
