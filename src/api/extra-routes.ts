/**
 * The API's routes outside the resource registry:
 *
 *   GET /api/v1/route/explain?number=N&from=TRUNK   what a call to N from TRUNK would meet
 *                                                   (the twin of `trunkline route explain`);
 *       ...&fromIp=IP[&transport=udp|tcp|tls]      from an address instead: which rule
 *                                                   classifies it, then the same
 *   GET /api/v1/calls/SID/trace                     the SIP messages of a live or recent call,
 *                                                   both legs (the capture ring buffer)
 *   GET /api/v1/cluster                             the cluster's nodes (`trunkline cluster status`);
 *                                                   a node alone: {"enabled": false, ...}
 *   POST /api/v1/drain {"timeout": S}               stop taking calls, let those up end, then exit
 *                                                   (the twin of `trunkline drain`; admin)
 *   GET /api/v1/cdrs/export?account=A&from=ISO&to=ISO[&format=csv|json]
 *                                                   an account's CDRs for billing, streamed
 *                                                   (the twin of `trunkline cdr export`)
 *
 * A `+` in a query string is a space once decoded: send it as %2B (a
 * leading space in `number` is read as the `+` it was).
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { CDR_EXPORT_FORMATS, cdrExport } from '../cdr/export.js';
import { isoTime } from './resources/cdrs.js';
import { z } from 'zod';
import { loadTrunkingData } from '../trunking/directory.js';
import { explainFromSource, explainRoute } from '../trunking/explain.js';
import type { RateLookup } from '../trunking/cost.js';
import { TrunkingSnapshot, canonicalIp } from '../trunking/snapshot.js';
import { checkName } from '../trunking/validate.js';
import { ApiError, SchemaError } from './errors.js';
import { MAX_DRAIN_TIMEOUT_S } from '../core/drain.js';
import { jsonSchema, type ApiContext } from './resource.js';

const explainQuery = z.strictObject({
  number: z.string().min(1).max(64).describe('the dialled number, as the PBX sends it (+ as %2B)'),
  from: z.string().min(1).max(64).optional().describe('the trunk the call comes from'),
  fromIp: z.string().min(1).max(64).optional().describe('or the address it comes from: which rule classifies it'),
  transport: z.enum(['udp', 'tcp', 'tls']).optional().describe('with fromIp (default udp)'),
});

const drainBody = z.strictObject({
  timeout: z
    .number()
    .int()
    .min(0)
    .max(MAX_DRAIN_TIMEOUT_S)
    .nullable()
    .optional()
    .describe(
      'seconds; at the timeout the calls still up are ended (BYE, CDR "Server shutting down"); none: wait for them',
    ),
});

const cdrExportQuery = z.strictObject({
  account: z.string().min(1).max(64).describe('the account'),
  from: isoTime.describe('calls that started at or after this time (ISO 8601)'),
  to: isoTime.describe('and before this time (ISO 8601)'),
  format: z.enum(CDR_EXPORT_FORMATS).optional().describe('csv (the default) or json'),
});

export function registerExtraRoutes(v1: FastifyInstance, ctx: ApiContext): void {
  // A static path: it comes before /cdrs/:key.
  v1.get('/cdrs/export', async (req, reply) => {
    const r = cdrExportQuery.safeParse(req.query ?? {}, { reportInput: true });
    if (!r.success) throw new SchemaError(r.error.issues, 'query');
    const q = { ...r.data, format: r.data.format ?? 'csv' };
    const chunks = await cdrExport(ctx.store, q);
    reply
      .header('Content-Type', q.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8')
      .header('Content-Disposition', `attachment; filename="cdrs-${q.account}.${q.format}"`);
    return reply.send(Readable.from(chunks));
  });
  v1.get('/route/explain', async (req) => {
    const r = explainQuery.safeParse(req.query ?? {}, { reportInput: true });
    if (!r.success) throw new SchemaError(r.error.issues, 'query');
    const q = r.data;
    if ((q.from === undefined) === (q.fromIp === undefined))
      throw new ApiError(400, 'from: give from=TRUNK or fromIp=IP');
    if (q.transport !== undefined && q.fromIp === undefined) throw new ApiError(400, 'transport: goes with fromIp');
    const from = q.from === undefined ? null : checkName(q.from, 'from');
    if (q.fromIp !== undefined && canonicalIp(q.fromIp) === '')
      throw new ApiError(400, `fromIp: expected an IP address, got ${JSON.stringify(q.fromIp)}`);
    const number = q.number.startsWith(' ') ? `+${q.number.trimStart()}` : q.number.trim();
    const snapshot = new TrunkingSnapshot(await loadTrunkingData(ctx.store));
    const rates: RateLookup = (c, n, at) => ctx.store.rates.match(c, n, at);
    const live = {
      quality: ctx.quality?.() ?? null,
      carriers: ctx.carrierSettings?.() ?? [],
      module: ctx.routingModule?.() ?? null,
      prices: (a: string, n: string, at: number) => ctx.store.prices.match(a, n, at),
    };
    return from !== null
      ? explainRoute(snapshot, from, number, rates, ctx.now(), live)
      : explainFromSource(snapshot, q.fromIp!, q.transport ?? 'udp', number, rates, live);
  });
  v1.get('/calls/:key/trace', async (req) => {
    const sid = (req.params as { key: string }).key;
    if (ctx.traces === undefined) throw new ApiError(404, 'call traces are not kept by this server');
    const t = ctx.traces.trace(sid);
    if (t === null)
      throw new ApiError(404, `unknown call ${sid} (not among the recent calls kept for traces: capture.traceCalls)`);
    return t;
  });
  v1.get('/cluster', async () => {
    if (ctx.cluster === undefined) throw new ApiError(404, 'cluster: not a running server');
    return ctx.cluster();
  });
  v1.post('/drain', async (req, reply) => {
    const r = drainBody.safeParse(req.body ?? {}, { reportInput: true });
    if (!r.success) throw new SchemaError(r.error.issues, 'body');
    if (ctx.drain === undefined) throw new ApiError(404, 'drain: not a running server');
    reply.code(202);
    return ctx.drain(r.data.timeout ?? null);
  });
}

/** Their OpenAPI entries. */
export const EXTRA_PATHS: Record<string, unknown> = {
  '/api/v1/cdrs/export': {
    get: {
      summary:
        "an account's CDRs whose call started in [from, to), oldest first, streamed: CSV (RFC 4180, a header row of the CDR's fields in order) or one JSON array (format=json)",
      parameters: [
        { name: 'account', in: 'query', required: true, schema: { type: 'string' } },
        { name: 'from', in: 'query', required: true, schema: { type: 'string', format: 'date-time' } },
        { name: 'to', in: 'query', required: true, schema: { type: 'string', format: 'date-time' } },
        { name: 'format', in: 'query', required: false, schema: { type: 'string', enum: [...CDR_EXPORT_FORMATS] } },
      ],
      responses: {
        200: { description: 'text/csv or application/json' },
        400: { description: 'a bad parameter, named' },
        404: { description: 'unknown account' },
      },
    },
  },
  '/api/v1/route/explain': {
    get: {
      summary:
        'what a call to NUMBER from TRUNK (or from the address fromIp: which rule classifies it) would meet: number, DID, route, carriers and what each is sent, why it would be refused',
      parameters: [
        { name: 'number', in: 'query', required: true, schema: { type: 'string' } },
        { name: 'from', in: 'query', required: false, schema: { type: 'string' } },
        { name: 'fromIp', in: 'query', required: false, schema: { type: 'string' } },
        { name: 'transport', in: 'query', required: false, schema: { type: 'string', enum: ['udp', 'tcp', 'tls'] } },
      ],
      responses: {
        200: { description: 'the explanation' },
        400: { description: 'a bad parameter, named' },
        404: { description: 'unknown trunk' },
      },
    },
  },
  '/api/v1/calls/{callSid}/trace': {
    get: {
      summary:
        'the SIP messages of a live or recent call, both legs, oldest first (time, direction, leg, src, dst, firstLine, raw)',
      parameters: [{ name: 'callSid', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { 200: { description: 'the messages' }, 404: { description: 'not among the recent calls' } },
    },
  },
  '/api/v1/cluster': {
    get: {
      summary:
        "the cluster: this node's id, the Redis it shares (target, up) and every node that joined: id, alive, SIP addresses, API, version, pid, up since, last heartbeat, calls, registrations and carrier registrations held; which node keeps each carrier registration (carrierLeases: carrier, node, token). A node alone: enabled false",
      responses: { 200: { description: '{enabled, node, redis, onRedisDown, nodes: [...], carrierLeases: [...]}' } },
    },
  },
  '/api/v1/drain': {
    post: {
      summary:
        'stop taking new calls (503 + Retry-After, OPTIONS 503, /readyz 503), let the calls up end, then exit; at the timeout the calls still up are ended as at SIGTERM. Again while draining: the new timeout applies',
      requestBody: { required: false, content: { 'application/json': { schema: jsonSchema(drainBody, 'input') } } },
      responses: {
        202: { description: 'draining: {state: draining|stopping, calls: N, deadline: ISO 8601 or null}' },
        400: { description: 'a bad timeout' },
        403: { description: 'a read token' },
      },
    },
  },
};
