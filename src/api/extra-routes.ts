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
 *
 * A `+` in a query string is a space once decoded: send it as %2B (a
 * leading space in `number` is read as the `+` it was).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { loadTrunkingData } from '../trunking/directory.js';
import { explainFromSource, explainRoute } from '../trunking/explain.js';
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

export function registerExtraRoutes(v1: FastifyInstance, ctx: ApiContext): void {
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
    return from !== null
      ? explainRoute(snapshot, from, number)
      : explainFromSource(snapshot, q.fromIp!, q.transport ?? 'udp', number);
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
