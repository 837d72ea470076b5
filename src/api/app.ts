/**
 * The HTTP API as a fastify instance (no socket: operations.ts listens, tests
 * use inject()):
 *
 *   /                        the web console (static files; its data comes from /api/v1)
 *   /healthz                 200 while the process runs (no token)
 *   /readyz                  200 when the store answers, every listener is bound and calls are taken, else 503 (no token)
 *   /metrics                 Prometheus text (no token)
 *   /api/v1/openapi.json     the OpenAPI document (no token)
 *   /api/v1/events           SSE event stream
 *   /api/v1/reload           POST: re-read the config file and apply it (admin)
 *   /api/v1/drain            POST: stop taking calls, exit once those up ended (admin; extra-routes.ts)
 *   /api/v1/log              GET the log level, PATCH {"level": "debug"} to change it until the next reload
 *   /api/v1/stats/calls      calls per minute over the last hour (the console's charts; stats.ts)
 *   /api/v1/NAME[/KEY]       the resources of ./resources (token; writes need admin)
 *
 * Every error is `{"error": "..."}` (errors.ts).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { LOG_LEVELS } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import { authorize } from './auth.js';
import type { LoginGuard } from './login-guard.js';
import { registerConsole } from './console.js';
import { ApiError, SchemaError, statusOf } from './errors.js';
import { registerEvents, type EventStreams } from './events.js';
import { openApiDocument } from './openapi.js';
import { registerResource, type ApiContext, type Resource } from './resource.js';
import { RESOURCES } from './resources/index.js';
import { EXTRA_PATHS, registerExtraRoutes } from './extra-routes.js';
import { QUALITY_PATHS, registerQualityRoutes } from './quality-routes.js';
import { registerStats, STATS_PATHS } from './stats.js';

export const API_PREFIX = '/api/v1';
const BODY_LIMIT = 1 << 20;

export interface ApiDeps {
  ctx: ApiContext;
  log: Logger;
  metrics: Metrics;
  version: string;
  /** null when ready, else why not (503 body). */
  ready(): Promise<string | null>;
  /** Re-reads and applies the config; throws a ConfigError (400) for a bad one. Returns the file read. */
  reload(): Promise<{ config: string | null }>;
  /** The registry; RESOURCES by default. */
  resources?: readonly Resource[];
  /** Failed logins logged and counted, banned sources refused (login-guard.ts); none: tokens only. */
  logins?: LoginGuard;
}

export interface Api {
  app: FastifyInstance;
  events: EventStreams;
}

export async function buildApi(
  deps: ApiDeps,
  opts: { https?: { cert: string | Buffer; key: string | Buffer } } = {},
): Promise<Api> {
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    forceCloseConnections: true,
    return503OnClosing: true,
    ...(opts.https !== undefined && { https: opts.https }),
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;
  const log = deps.log.child({ mod: 'api' });
  const resources = (deps.resources ?? RESOURCES).filter((r) => r.available?.(deps.ctx) ?? true);
  answerErrors(app, log);
  countRequests(app, deps.metrics);
  const noConsole = registerConsole(app);
  if (noConsole !== null) log.warn({ reason: noConsole }, 'web console not served');
  registerProbes(app, deps);
  let events: EventStreams | undefined;
  await app.register(
    async (v1) => {
      events = registerV1(v1, deps, resources);
    },
    { prefix: API_PREFIX },
  );
  await app.ready();
  return { app, events: events! };
}

/** Every error as `{"error": "..."}` with its status (errors.ts); an internal one logged. */
function answerErrors(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler((err, req, reply) => {
    const s = statusOf(err);
    if (s.internal) log.error({ err, method: req.method, url: req.url.split('?')[0] }, 'API request failed');
    for (const [k, v] of Object.entries(s.headers)) reply.header(k, v);
    reply.code(s.status).send({ error: s.message });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: `no such path: ${req.method} ${req.url.split('?')[0]}` });
  });
}

function countRequests(app: FastifyInstance, metrics: Metrics): void {
  const requests = metrics.counter('trunkline_api_requests_total', 'HTTP API requests by method, route and status', [
    'method',
    'route',
    'status',
  ]);
  app.addHook('onResponse', async (req, reply) => {
    requests.inc({ method: req.method, route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) });
  });
}

/** /healthz, /readyz and /metrics: no token. */
function registerProbes(app: FastifyInstance, deps: ApiDeps): void {
  app.get('/healthz', async () => ({ status: 'alive' }));
  app.get('/readyz', async (_req, reply) => {
    const why = await deps.ready();
    if (why !== null) {
      reply.code(503);
      return { status: 'not ready', error: why };
    }
    return { status: 'ready' };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('Content-Type', deps.metrics.contentType);
    return deps.metrics.text();
  });
}

/** Everything under /api/v1: a token first (but for the OpenAPI document), then the routes. */
function registerV1(v1: FastifyInstance, deps: ApiDeps, resources: readonly Resource[]): EventStreams {
  const guard = deps.logins ?? null;
  v1.addHook('onRequest', async (req) => {
    const path = req.url.split('?')[0];
    if (path === `${API_PREFIX}/openapi.json`) return;
    await authorize(req, deps.ctx.tokens, { allowQueryToken: path === `${API_PREFIX}/events`, guard });
  });
  const doc = openApiDocument(resources, deps.version, OPERATION_PATHS);
  v1.get('/openapi.json', async () => doc);
  registerLogLevel(v1, deps.log);
  v1.post('/reload', async () => {
    const r = await deps.reload();
    return { reloaded: true, config: r.config };
  });
  const events = registerEvents(v1, deps.ctx.bus);
  for (const r of resources) registerResource(v1, r, deps.ctx);
  registerExtraRoutes(v1, deps.ctx);
  registerQualityRoutes(v1, deps.ctx);
  registerStats(v1, deps.ctx);
  // Unknown paths under the prefix still need a token: no probing without one.
  v1.setNotFoundHandler(async (req) => {
    await authorize(req, deps.ctx.tokens, { allowQueryToken: false, guard }).catch((err: unknown) => {
      if (err instanceof ApiError && err.status === 403) return; // a read token may learn a path is unknown
      throw err;
    });
    throw new ApiError(404, `no such path: ${req.method} ${req.url.split('?')[0]}`);
  });
  return events;
}

/** GET /log, and PATCH {"level": "debug"} until the next reload. */
function registerLogLevel(v1: FastifyInstance, log: Logger): void {
  const logBody = z.strictObject({ level: z.enum(LOG_LEVELS) });
  v1.get('/log', async () => ({ level: log.level }));
  v1.patch('/log', async (req) => {
    const r = logBody.safeParse(req.body, { reportInput: true });
    if (!r.success) throw new SchemaError(r.error.issues, 'body');
    log.level = r.data.level;
    log.info({ level: r.data.level, token: req.token?.name }, 'log level changed through the API');
    return { level: log.level };
  });
}

/** The OpenAPI entries of the routes outside the resources. */
const OPERATION_PATHS = {
  [`${API_PREFIX}/events`]: {
    get: {
      summary: 'Server-Sent Events: registrations, calls, bans, gateway states',
      parameters: [{ name: 'types', in: 'query', schema: { type: 'string' } }],
      responses: { 200: { description: 'text/event-stream' } },
    },
  },
  [`${API_PREFIX}/log`]: {
    get: { summary: 'the log level', responses: { 200: { description: '{"level": "info"}' } } },
    patch: {
      summary: 'change the log level until the next reload',
      requestBody: {
        content: {
          'application/json': {
            schema: { type: 'object', properties: { level: { enum: [...LOG_LEVELS] } }, required: ['level'] },
          },
        },
      },
      responses: { 200: { description: 'changed' }, 400: { description: 'not a level' } },
    },
  },
  ...EXTRA_PATHS,
  ...QUALITY_PATHS,
  ...STATS_PATHS,
  [`${API_PREFIX}/reload`]: {
    post: {
      summary: 'reload the config file (routes, TLS files, capture), as SIGHUP does',
      responses: { 200: { description: 'reloaded' }, 400: { description: 'the config is bad; the running one stays' } },
    },
  },
};
