/**
 * The objects of /api/v1 and of the CLI's `--json`, one zod schema each:
 * its fields, their types and descriptions. From each come the API's
 * request checks and OpenAPI schemas (views.ts, resource.ts), the return
 * types of the views that build the objects (src/store/json.ts, shared by
 * the CLI and the API), and the console's types (web/src/types.ts).
 *
 * This file imports nothing but zod and ./views.ts, so that the console's
 * build can read it; keep it so.
 */
import { z } from 'zod';
import { views } from './views.js';

// ---------------------------------------------------------------- registrar

export const domainViews = views(
  z.object({
    domain: z.string().describe('host name or IP address; the digest realm of its subscribers'),
    createdAt: z.string().describe('ISO 8601'),
  }),
  { key: 'domain', readOnly: ['createdAt'] },
);

export const subscriberViews = views(
  z.object({
    subscriber: z.string().describe('USER@DOMAIN (its domain must exist)'),
    password: z.string().describe('the digest password; accepted, never returned'),
    username: z.string(),
    domain: z.string(),
    createdAt: z.string().describe('ISO 8601'),
    updatedAt: z.string().describe('ISO 8601'),
  }),
  { key: 'subscriber', readOnly: ['username', 'domain', 'createdAt', 'updatedAt'], writeOnly: ['password'] },
);

export const aliasViews = views(
  z.object({
    alias: z.string().describe('an E.164 number (+912240001234), a prefix ending in * (+9122400012*), or a name'),
    subscriber: z.string().describe('USER@DOMAIN it reaches'),
    username: z.string(),
    domain: z.string(),
    createdAt: z.string().describe('ISO 8601'),
  }),
  { key: 'alias', readOnly: ['username', 'domain', 'createdAt'] },
);

export const bindingViews = views(
  z.object({
    aor: z.string().describe('USER@DOMAIN'),
    contact: z.string(),
    received: z.string().nullable().describe('where the REGISTER came from when that differs from the contact (NAT)'),
    expires: z.number().int().describe('seconds left'),
    expiresAt: z.string().describe('ISO 8601'),
    q: z.number(),
    path: z.array(z.string()),
    instance: z.string().nullable(),
    regId: z.number().int().nullable(),
    callId: z.string(),
    cseq: z.number().int(),
    proto: z.string(),
    local: z.string().describe('IP:PORT it arrived on'),
    remote: z.string().describe('IP:PORT it came from'),
    userAgent: z.string().nullable(),
    updatedAt: z.string().describe('ISO 8601'),
    node: z
      .string()
      .nullable()
      .describe('in a cluster: the node that took the REGISTER (calls reach it through that node)'),
  }),
  { key: 'aor' },
);

// ---------------------------------------------------------------- trunking

const limit = z.number().int().min(1).max(1_000_000).nullable();

export const accountViews = views(
  z.object({
    name: z.string().describe('letters, digits, . _ -'),
    cpm: limit.optional().describe('calls per minute over all its trunks; null = unlimited'),
    maxCalls: limit.optional().describe('concurrent calls over all its trunks; null = unlimited'),
    sellBelowCost: z
      .boolean()
      .optional()
      .describe(
        'its calls go through when the cheapest carrier costs more than its price (default false: refused 403)',
      ),
    createdAt: z.string().describe('ISO 8601'),
  }),
  { key: 'name', readOnly: ['createdAt'] },
);

export const trunkViews = views(
  z.object({
    name: z.string().describe('letters, digits, . _ -'),
    account: z.string().describe('the account it belongs to'),
    ip: z
      .array(z.string())
      .optional()
      .describe('CIDRs of a static peer (a bare address is a /32 or /128); [] for a registering PBX'),
    register: z
      .string()
      .nullable()
      .optional()
      .describe('USER@DOMAIN a registering PBX registers as; null for a static peer'),
    transport: z
      .enum(['udp', 'tcp', 'tls'])
      .nullable()
      .optional()
      .describe('the only transport it may use; null = any'),
    tlsFingerprint: z
      .string()
      .nullable()
      .optional()
      .describe('SHA-256 fingerprint of the client certificate it must present'),
    dest: z.string().nullable().optional().describe('SIP URI inbound calls go to; null = the registered contact'),
    cpm: z.number().int().optional().describe('calls per minute (default 200)'),
    maxCalls: z.number().int().nullable().optional().describe('concurrent calls; null = unlimited'),
    media: z.enum(['rtp', 'srtp', 'any']).optional().describe('default any: as offered'),
    codecs: z.array(z.string()).optional().describe('allowed codecs in order; [] = as offered'),
    dialPlan: z
      .string()
      .nullable()
      .optional()
      .describe('the dial plan its numbers are read and written by; null = E.164 only'),
    createdAt: z.string().describe('ISO 8601'),
    force: z
      .boolean()
      .optional()
      .describe(
        "accept an ip range holding a carrier gateway's address or every address (the carrier keeps its address)",
      ),
  }),
  { key: 'name', readOnly: ['createdAt'], writeOnly: ['force'] },
);

export const didViews = views(
  z.object({
    number: z.string().describe('an E.164 number (+912240001234) or a prefix ending in * (+9122400012*)'),
    trunk: z.string().describe('the trunk inbound calls to it go to'),
    account: z.string().describe("the trunk's account, which owns the number"),
    createdAt: z.string().describe('ISO 8601'),
  }),
  { key: 'number', readOnly: ['account', 'createdAt'] },
);

export const carrierViews = views(
  z.object({
    name: z.string().describe('letters, digits, . _ -'),
    gateways: z.array(z.string()).describe('SIP URIs, first = highest priority'),
    username: z.string().nullable().optional().describe("user name for the carrier's 401/407 challenges"),
    password: z.string().nullable().optional().describe('accepted, never returned'),
    hasPassword: z.boolean().describe('whether a password is stored'),
    register: z.boolean().optional().describe('keep a registration with the carrier (needs the credentials)'),
    prefix: z.string().nullable().optional().describe('tech prefix put before the dialled number'),
    plus: z.boolean().optional().describe('send numbers E.164 with + (default true; false = --no-plus)'),
    media: z.enum(['rtp', 'srtp', 'any']).optional(),
    codecs: z.array(z.string()).optional(),
    dialPlan: z
      .string()
      .nullable()
      .optional()
      .describe('the dial plan its numbers are read and written by; null = E.164 (plus)'),
    createdAt: z.string().describe('ISO 8601'),
  }),
  { key: 'name', readOnly: ['hasPassword', 'createdAt'], writeOnly: ['password'] },
);

export const dialPlanViews = views(
  z.object({
    name: z.string().describe('letters, digits, . _ -'),
    country: z.string().describe('country code, digits (91, 44, 1)'),
    nationalPrefix: z
      .string()
      .optional()
      .describe("national (trunk) prefix: 0 (IN, UK), 1 (US); '' = none; default: the country's"),
    internationalPrefix: z.string().optional().describe("international prefix: 00, 011; default: the country's"),
    format: z
      .enum(['e164', 'national', 'international'])
      .optional()
      .describe(
        'how numbers are sent: e164 (default), national (at home; the international prefix elsewhere), international',
      ),
    emergency: z
      .array(z.string())
      .optional()
      .describe(
        "emergency numbers as dialled (112, 100): never given a country code, never refused; default: the country's",
      ),
    rules: z
      .array(
        z.object({
          match: z.string().describe('a prefix of digits, or ^ and a regular expression'),
          replace: z.string().describe('what replaces the prefix or the match ($1: a group)'),
          direction: z.enum(['in', 'out']).optional().describe('in (default): numbers received; out: numbers sent'),
        }),
      )
      .optional()
      .describe('rewrite rules, the first matching of a direction applies'),
    createdAt: z.string().describe('ISO 8601'),
  }),
  { key: 'name', readOnly: ['createdAt'] },
);

export const routeViews = views(
  z.object({
    prefix: z.string().describe('+ (the default route) or + and digits'),
    carriers: z.array(z.string()).describe('carrier names, first tried first (mode priority)'),
    mode: z
      .enum(['priority', 'lcr', 'weighted'])
      .optional()
      .describe('priority (default): as listed; lcr: cheapest rate for the number first; weighted: random by weight'),
    weights: z
      .array(z.number().int().min(1).max(1_000_000))
      .nullable()
      .optional()
      .describe('mode weighted: one weight per carrier (default 1 each); null otherwise'),
    createdAt: z.string().describe('ISO 8601'),
  }),
  { key: 'prefix', readOnly: ['createdAt'] },
);

export const cdrViews = views(
  z.object({
    callSid: z.string(),
    account: z.string().nullable(),
    trunk: z.string().nullable(),
    carrier: z.string().nullable(),
    direction: z.enum(['inbound', 'outbound']),
    from: z.string(),
    to: z.string(),
    startAt: z.string().describe('ISO 8601'),
    answerAt: z.string().nullable().describe('ISO 8601; null when never answered'),
    endAt: z.string().describe('ISO 8601'),
    duration: z.number().int().describe('seconds answered'),
    status: z.number().int().describe('final SIP status (200 for an answered call)'),
    reason: z.string(),
    hangupBy: z.enum(['caller', 'callee', 'system']),
    extra: z.string().nullable().describe('JSON text: media figures'),
    cost: z
      .string()
      .nullable()
      .describe('buy cost of an answered outbound call, a decimal: fee + rate x billed / 60; null when not priced'),
    rate: z.string().nullable().describe('the price per minute it was priced by, a decimal'),
    ratePrefix: z.string().nullable().describe("the carrier deck's prefix that matched"),
    billed: z.number().int().nullable().describe("seconds billed by the deck's increments"),
    fromReceived: z.string().nullable().describe('the caller as received, before the dial plan'),
    toReceived: z.string().nullable().describe('the callee as received, before the dial plan'),
    emergency: z.boolean().describe('a call to an emergency number'),
    gateway: z.string().nullable().describe('the carrier gateway of the answering (or last) attempt'),
    pddMs: z
      .number()
      .int()
      .nullable()
      .describe('post-dial delay: from the INVITE to the first ringing (18x) or the answer, ms'),
    q850: z
      .number()
      .int()
      .nullable()
      .describe('Q.850 cause of the end: the Reason header (RFC 3326), else mapped from the status (RFC 3398)'),
    mos: z
      .number()
      .nullable()
      .describe('MOS estimate of the media (ITU-T G.107 E-model, simplified); null without RTCP'),
    price: z
      .string()
      .nullable()
      .describe(
        "sell price of an answered outbound call, a decimal: the account's price (fee + rate x billed / 60 by its increments); null when it has none",
      ),
    aCallId: z.string().nullable().describe("the caller's leg's Call-ID (the dialog the caller's own records carry)"),
    bCallId: z
      .string()
      .nullable()
      .describe("our leg's Call-ID toward the callee (the answering or last attempt); null when none was sent"),
    ringMs: z
      .number()
      .int()
      .nullable()
      .describe('ring time: from the first ringing (18x) to the answer or the end, ms; null when it never rang'),
    durationMs: z.number().int().nullable().describe('answered duration, ms; null when never answered'),
  }),
  { key: 'callSid' },
);

export const rateViews = views(
  z.object({
    carrier: z.string(),
    prefix: z.string().describe('+ and digits: the dialled numbers it prices'),
    rate: z.string().describe('price per minute, a decimal'),
    increment: z.string().describe('FIRST/NEXT seconds billed (60/60, 1/1, 30/6)'),
    fee: z.string().describe('per call, a decimal'),
    effective: z.string().nullable().describe('ISO 8601: applies from then; null: always'),
  }),
  { key: 'carrier' },
);

export const callViews = views(
  z.object({
    callSid: z.string(),
    node: z.string().nullable().describe('the cluster node holding it; null for a node alone'),
    direction: z.string().describe('inbound or outbound'),
    account: z.string().nullable(),
    trunk: z.string().nullable(),
    carrier: z.string().nullable().describe('the carrier answering or being tried'),
    from: z.string(),
    to: z.string(),
    state: z.string().describe('trying, early, confirmed, ...'),
    startAt: z.string().describe('ISO 8601'),
    answerAt: z.string().nullable().describe('ISO 8601; null until answered'),
    seconds: z.number().int().describe('since the start'),
  }),
  { key: 'callSid' },
);

// ---------------------------------------------------------------- security

export const banViews = views(
  z.object({
    ip: z.string().describe('IPv4 or IPv6 address'),
    for: z.number().int().positive().optional().describe('seconds until it ends by itself; absent: until lifted'),
    reason: z.string().max(200).optional().describe('why (shown in ban list)'),
    source: z.string().describe('manual, flood or brute-force'),
    expiresAt: z.string().nullable().describe('ISO 8601, null = until lifted'),
    createdAt: z.string().describe('ISO 8601'),
  }),
  { key: 'ip', readOnly: ['source', 'expiresAt', 'createdAt'], writeOnly: ['for'] },
);

export const tokenViews = views(
  z.object({
    name: z.string().describe('who or what uses it'),
    role: z.enum(['admin', 'read']).describe('admin reads and writes; read only reads'),
    token: z.string().optional().describe('the bearer token, in the answer to POST only'),
    createdAt: z.string().describe('ISO 8601'),
    lastUsedAt: z.string().nullable().describe('ISO 8601, to the minute; null when never used'),
  }),
  { key: 'name', readOnly: ['token', 'createdAt', 'lastUsedAt'] },
);

// ---------------------------------------------------------------- the objects' types

type Json<V extends { object: z.ZodType }> = z.output<V['object']>;

export type DomainJson = Json<typeof domainViews>;
export type SubscriberJson = Json<typeof subscriberViews>;
export type AliasJson = Json<typeof aliasViews>;
export type BindingJson = Json<typeof bindingViews>;
export type AccountJson = Json<typeof accountViews>;
export type TrunkJson = Json<typeof trunkViews>;
export type DidJson = Json<typeof didViews>;
export type CarrierJson = Json<typeof carrierViews>;
export type DialPlanJson = Json<typeof dialPlanViews>;
export type RouteJson = Json<typeof routeViews>;
export type CdrJson = Json<typeof cdrViews>;
export type RateJson = Json<typeof rateViews>;
export type CallJson = Json<typeof callViews>;
export type BanJson = Json<typeof banViews>;
export type TokenJson = Json<typeof tokenViews>;

// ---------------------------------------------------------------- answers outside the resources

/** One message of a call's trace (GET /api/v1/calls/SID/trace). */
export interface TraceMessage {
  /** ISO 8601 with milliseconds. */
  time: string;
  /** in: received by Trunkline; out: sent by it. */
  direction: 'in' | 'out';
  /** a: the caller's leg; b: the callee's leg (one per gateway attempt). */
  leg: 'a' | 'b';
  callId: string;
  proto: string;
  /** IP:PORT (IPv6 in brackets). */
  src: string;
  dst: string;
  /** The request or status line. */
  firstLine: string;
  /** The whole message as text. */
  raw: string;
}

/** One minute of GET /api/v1/stats/calls. */
export interface CallBucket {
  /** ISO 8601, the minute's start. */
  start: string;
  started: number;
  answered: number;
  failed: number;
}

/** One source of GET /api/v1/stats/unknown-sources (src/b2bua/unknown-sources.ts). */
export interface UnknownSourceJson {
  /** The address (one source, whatever its port). */
  address: string;
  /** The transport of its last refused request. */
  proto: string;
  /** The last refused request's method. */
  method: string;
  /** Requests refused from it since it was first seen (while kept). */
  count: number;
  /** ISO 8601. */
  firstAt: string;
  lastAt: string;
}
