/**
 * The resource registry's building block. A resource is one file in
 * ./resources declaring one zod schema of its object and its handlers; from
 * that one schema come
 *   - the request checks (POST and PATCH bodies, list filters): 400 naming
 *     the field, unknown fields refused;
 *   - the TypeScript types of the handlers' inputs and outputs;
 *   - the JSON schemas of the OpenAPI document (/api/v1/openapi.json);
 *   - the response filter: only the schema's fields leave (a writeOnly
 *     field such as a password never does).
 *
 *   GET    /api/v1/NAME        list      200 [objects]
 *   POST   /api/v1/NAME        create    201 object
 *   GET    /api/v1/NAME/KEY    get       200 object
 *   PATCH  /api/v1/NAME/KEY    update    200 object
 *   DELETE /api/v1/NAME/KEY    remove    204
 *
 * A method without a handler answers 405 with Allow. `views()` (views.ts)
 * derives the create and patch bodies from the object schema; the objects'
 * schemas are in shapes.ts.
 */
import type { ClusterStatusJson } from '../cluster/status.js';
import { z } from 'zod';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Store } from '../store/index.js';
import type { TokenRepo } from '../store/repos/tokens.js';
import type { EventBus } from '../core/events.js';
import { ApiError, SchemaError } from './errors.js';
import { isPage, type Page } from './pagination.js';
import { toCsv } from './csv.js';
import type { LiveCall } from '../b2bua/b2bua.js';
import type { TraceMessage } from '../capture/trace.js';
import type { DrainStatus } from '../core/drain.js';
import type { UnknownSource } from '../b2bua/unknown-sources.js';
import type { QualitySnapshot } from '../trunking/quality.js';
import type { CarrierSetting } from '../trunking/gateway-load.js';
import type { RoutingModule } from '../trunking/routing-hook.js';

/** The running B2BUA's live calls (absent in a server without one, and in tests of the store alone); a cluster's: every node's. */
export interface CallService {
  list(): LiveCall[] | Promise<LiveCall[]>;
  /** false when no such live call (a cluster: on no live node). */
  hangUp(callSid: string): boolean | Promise<boolean>;
}

/** The capture ring buffer of recent calls' SIP messages. */
export interface TraceService {
  /** The call's messages, both legs, oldest first; null when the call is not in the buffer. */
  trace(callSid: string): TraceMessage[] | null;
}

/** What handlers work with. Later modules add their services as optional fields. */
export interface ApiContext {
  store: Store;
  tokens: TokenRepo;
  bus: EventBus;
  now(): number;
  calls?: CallService;
  traces?: TraceService;
  /** Drain mode of the running server (POST /api/v1/drain): a server only. */
  drain?: (timeoutS: number | null) => DrainStatus;
  /** The last sources refused as unknown (absent without a B2BUA). */
  unknownSources?: () => UnknownSource[];
  /** Carriers' and gateways' quality figures (GET /api/v1/quality, route explain); a server only. */
  quality?: () => QualitySnapshot;
  /** The gateway load settings in force (`routing.carriers`), for route explain; a server only. */
  carrierSettings?: () => CarrierSetting[];
  /** The routing module in force, for route explain (absent: none). */
  routingModule?: () => RoutingModule | null;
  /** The cluster's nodes (GET /api/v1/cluster); a node alone answers `enabled: false`. */
  cluster?: () => Promise<ClusterStatusJson>;
}

type AnyObject = z.ZodObject<z.ZodRawShape>;
type Out<S extends z.ZodType> = z.output<S>;

export interface ResourceDef<
  O extends AnyObject,
  C extends AnyObject,
  P extends AnyObject,
  Q extends AnyObject,
  R extends AnyObject = AnyObject,
> {
  /** The collection: the URL segment (`domains`) and the OpenAPI tag. */
  name: string;
  /** The key field; its value names one object in the URL (`/domains/example.org`). */
  key: string;
  /** What the collection is, one line (OpenAPI). */
  description: string;
  /** The object as returned. */
  object: O;
  /** POST body (from views()). */
  create?: { body: C; run(ctx: ApiContext, body: Out<C>): Promise<z.input<O>> };
  /** PATCH body (from views()). */
  update?: { body: P; run(ctx: ApiContext, key: string, body: Out<P>): Promise<z.input<O>> };
  /** GET collection; with `query`, its filters (and pageQuery's limit/cursor for a paginated one). */
  list?: {
    query?: Q;
    /** Also answers CSV (`Accept: text/csv` or `?format=csv`). */ csv?: boolean;
    run(ctx: ApiContext, query: Out<Q>): Promise<z.input<O>[] | Page<z.input<O>>>;
  };
  get?(ctx: ApiContext, key: string): Promise<z.input<O>>;
  /** DELETE; with `query`, its options (`?cascade=true`). */
  remove?: { query?: R; run(ctx: ApiContext, key: string, query: Out<R>): Promise<void> };
  /**
   * POST of a file instead of `create` (rates: a CSV deck): the body as a
   * stream of `contentType` (another type: 415), the query checked by
   * `query`; 201 with what `run` returns (not filtered by `object`).
   */
  upload?: {
    contentType: string;
    query: AnyObject;
    summary: string;
    run(ctx: ApiContext, body: AsyncIterable<Buffer>, query: Record<string, unknown>): Promise<object>;
  };
  /** Whether the resource is served (its service exists in this server); default yes. */
  available?(ctx: ApiContext): boolean;
}

/** A resource with its types erased, for the registry's list. */
export type Resource = ResourceDef<AnyObject, AnyObject, AnyObject, AnyObject, AnyObject>;

/** Keeps the handlers' types checked against the schemas, then erases them for the registry. */
export function defineResource<
  O extends AnyObject,
  C extends AnyObject = AnyObject,
  P extends AnyObject = AnyObject,
  Q extends AnyObject = AnyObject,
  R extends AnyObject = AnyObject,
>(def: ResourceDef<O, C, P, Q, R>): Resource {
  return def as unknown as Resource;
}

function check<S extends z.ZodType>(schema: S, value: unknown, part: 'body' | 'query'): z.output<S> {
  const r = schema.safeParse(value ?? (part === 'query' ? {} : value), { reportInput: true });
  if (!r.success) throw new SchemaError(r.error.issues, part);
  return r.data;
}

/** The JSON schema of a zod schema for fastify's route (documentation) and OpenAPI. */
export function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const s = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete s.$schema;
  return s;
}

const METHODS = ['GET', 'POST', 'PATCH', 'DELETE'] as const;
type Method = (typeof METHODS)[number];
type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** A resource's routes as its handlers give them: method, URL (base or one object), handler. */
interface Route {
  method: Method;
  url: string;
  handler: Handler;
}

function isStream(v: unknown): v is AsyncIterable<Buffer> {
  return typeof (v as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] === 'function';
}

/** Adds a resource's routes under the instance's prefix (/api/v1). */
export function registerResource(app: FastifyInstance, r: Resource, ctx: ApiContext): void {
  // An upload's body reaches its handler as the request stream, unread (no body limit: the handler reads it).
  if (r.upload !== undefined && !app.hasContentTypeParser(r.upload.contentType))
    app.addContentTypeParser(r.upload.contentType, (_req, payload, done) => done(null, payload));
  const urls = { base: `/${r.name}`, one: `/${r.name}/:key` };
  const allowed = new Map<string, Method[]>([
    [urls.base, []],
    [urls.one, []],
  ]);
  for (const route of routesOf(r, ctx, urls)) {
    allowed.get(route.url)!.push(route.method);
    // Checked by zod in the handler (check()), so fastify validates nothing itself.
    app.route(route);
  }
  for (const [url, methods] of allowed) {
    for (const m of METHODS)
      if (!methods.includes(m)) app.route({ method: m, url, handler: notAllowed(r, url, m, methods) });
  }
}

/** The routes of the handlers the resource has. */
function routesOf(r: Resource, ctx: ApiContext, urls: { base: string; one: string }): Route[] {
  const shape = outputShape(r);
  const keyOf = (req: FastifyRequest): string => (req.params as { key: string }).key;
  const routes: Route[] = [];
  if (r.list !== undefined)
    routes.push({ method: 'GET', url: urls.base, handler: listHandler(r.name, r.list, ctx, shape) });
  if (r.upload !== undefined) {
    const upload = r.upload;
    routes.push({
      method: 'POST',
      url: urls.base,
      handler: async (req, reply) => {
        const type = String(req.headers['content-type'] ?? '')
          .split(';')[0]!
          .trim()
          .toLowerCase();
        if (type !== upload.contentType || !isStream(req.body))
          throw new ApiError(415, `POST /api/v1/${r.name} takes a ${upload.contentType} body`);
        const created = await upload.run(ctx, req.body, check(upload.query, req.query, 'query'));
        reply.code(201);
        return created;
      },
    });
  }
  if (r.create !== undefined) {
    const create = r.create;
    routes.push({
      method: 'POST',
      url: urls.base,
      handler: async (req, reply) => {
        const created = await create.run(ctx, check(create.body, req.body, 'body'));
        reply.code(201);
        return shape.pick(created);
      },
    });
  }
  if (r.get !== undefined) {
    const get = r.get;
    routes.push({ method: 'GET', url: urls.one, handler: async (req) => shape.pick(await get(ctx, keyOf(req))) });
  }
  if (r.update !== undefined) {
    const update = r.update;
    routes.push({
      method: 'PATCH',
      url: urls.one,
      handler: async (req) => shape.pick(await update.run(ctx, keyOf(req), check(update.body, req.body, 'body'))),
    });
  }
  if (r.remove !== undefined) {
    const remove = r.remove;
    routes.push({
      method: 'DELETE',
      url: urls.one,
      handler: async (req, reply) => {
        await remove.run(ctx, keyOf(req), remove.query !== undefined ? check(remove.query, req.query, 'query') : {});
        reply.code(204);
        return reply.send();
      },
    });
  }
  return routes;
}

/**
 * Only the object schema's fields leave (a writeOnly password never does);
 * a pick, not a parse: the handlers build the objects, and lists can be long.
 */
function outputShape(r: Resource): { fields: string[]; pick(v: unknown): Record<string, unknown> } {
  const fields = Object.keys(r.object.shape);
  return {
    fields,
    pick(v) {
      const src = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const f of fields) if (src[f] !== undefined) out[f] = src[f];
      return out;
    },
  };
}

/** GET of the collection: its filters checked, JSON or CSV, a page's Next-Cursor and Link. */
function listHandler(
  name: string,
  list: NonNullable<Resource['list']>,
  ctx: ApiContext,
  shape: ReturnType<typeof outputShape>,
): Handler {
  return async (req, reply) => {
    const query = list.query !== undefined ? check(list.query, req.query, 'query') : {};
    const result = await list.run(ctx, query);
    const csv = list.csv === true && wantsCsv(req);
    if (csv)
      reply
        .header('Content-Type', 'text/csv; charset=utf-8')
        .header('Content-Disposition', `attachment; filename="${name}.csv"`);
    let items = result;
    if (isPage(result)) {
      if (result.next !== null) {
        reply.header('Next-Cursor', result.next);
        const q = new URLSearchParams(req.query as Record<string, string>);
        q.set('cursor', result.next);
        reply.header('Link', `<${req.url.split('?')[0]}?${q.toString()}>; rel="next"`);
      }
      items = result.items;
    }
    const rows = (items as unknown[]).map((v) => shape.pick(v));
    return csv ? toCsv(shape.fields, rows) : rows;
  };
}

/** 405 with Allow, for a method the resource has no handler of. */
function notAllowed(r: Resource, url: string, m: Method, methods: readonly Method[]): Handler {
  return async () => {
    throw new ApiError(
      405,
      `${m} is not allowed on /api/v1${url.replace(':key', `{${r.key}}`)} (allowed: ${methods.join(', ') || 'none'})`,
      {
        Allow: methods.join(', '),
      },
    );
  };
}

/** `?format=csv`, or an Accept header that names text/csv before (or without) JSON. */
function wantsCsv(req: FastifyRequest): boolean {
  const f = (req.query as Record<string, unknown> | undefined)?.['format'];
  if (f === 'csv') return true;
  if (f === 'json') return false;
  const accept = req.headers.accept ?? '';
  const c = accept.indexOf('text/csv');
  if (c < 0) return false;
  const j = accept.indexOf('application/json');
  return j < 0 || c < j;
}
