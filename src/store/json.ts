/**
 * The JSON of stored objects, one view per noun, shared by the CLI's
 * `--json` output and the HTTP API (the same fields both ways).
 * The shapes, their types and descriptions are the schemas of
 * src/api/shapes.ts; each view returns its schema's type. Times are ISO
 * 8601 (UTC).
 */
import type {
  AccountJson,
  AliasJson,
  BanJson,
  BindingJson,
  CarrierJson,
  CdrJson,
  DialPlanJson,
  DidJson,
  DomainJson,
  RateJson,
  RouteJson,
  SubscriberJson,
  TokenJson,
  TrunkJson,
} from '../api/shapes.js';
import type { Account, Cdr, DialPlan, OutboundRoute, Trunk } from '../trunking/model.js';
import type { Alias } from './repos/aliases.js';
import type { BanRow } from './repos/bans.js';
import type { CarrierInfo } from './repos/carriers.js';
import type { DidRow } from './repos/dids.js';
import type { Domain } from './repos/domains.js';
import type { LocationBinding } from './repos/location.js';
import type { Subscriber } from './repos/subscribers.js';
import type { ApiToken } from './repos/tokens.js';
import type { RateInfo } from './repos/rate-types.js';
import { formatIncrements, formatMicros } from '../trunking/money.js';

/** Milliseconds since the epoch as ISO 8601 (UTC). */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

const isoOrNull = (ms: number | null): string | null => (ms === null ? null : isoTime(ms));

// ---------------------------------------------------------------- registrar

export function domainJson(d: Domain): DomainJson {
  return { domain: d.domain, createdAt: isoTime(d.createdAt) };
}

/** A subscriber: never its password or HA1s. */
export function subscriberJson(s: Subscriber): SubscriberJson {
  return {
    subscriber: `${s.username}@${s.domain}`,
    username: s.username,
    domain: s.domain,
    createdAt: isoTime(s.createdAt),
    updatedAt: isoTime(s.updatedAt),
  };
}

export function aliasJson(a: Alias): AliasJson {
  return {
    alias: a.alias,
    subscriber: `${a.username}@${a.domain}`,
    username: a.username,
    domain: a.domain,
    createdAt: isoTime(a.createdAt),
  };
}

/** Seconds until a binding expires at `now` (at least 0). */
export function expiresIn(b: LocationBinding, now: number): number {
  return Math.max(0, Math.round((b.expiresAt - now) / 1000));
}

/** A registration as listed. */
export function bindingJson(b: LocationBinding, now: number): BindingJson {
  return {
    aor: b.aor,
    contact: b.contact,
    received: b.received,
    expires: expiresIn(b, now),
    expiresAt: isoTime(b.expiresAt),
    q: b.q,
    path: b.path,
    instance: b.instance,
    regId: b.regId,
    callId: b.callId,
    cseq: b.cseq,
    proto: b.proto,
    local: `${b.localHost}:${b.localPort}`,
    remote: `${b.remoteHost}:${b.remotePort}`,
    userAgent: b.userAgent,
    updatedAt: isoTime(b.updatedAt),
    node: b.ownerNode,
  };
}

// ---------------------------------------------------------------- trunking

export function accountJson(a: Account): AccountJson {
  return {
    name: a.name,
    cpm: a.cpm,
    maxCalls: a.maxCalls,
    sellBelowCost: a.sellBelowCost === true,
    createdAt: isoTime(a.createdAt),
  };
}

export function trunkJson(t: Trunk): TrunkJson {
  return {
    name: t.name,
    account: t.account,
    ip: t.ip,
    register: t.register,
    transport: t.transport,
    tlsFingerprint: t.tlsFingerprint,
    dest: t.dest,
    cpm: t.cpm,
    maxCalls: t.maxCalls,
    media: t.media,
    codecs: t.codecs,
    dialPlan: t.dialPlan,
    createdAt: isoTime(t.createdAt),
  };
}

export function didJson(d: DidRow): DidJson {
  return { number: d.number, trunk: d.trunk, account: d.account, createdAt: isoTime(d.createdAt) };
}

/** A carrier: whether it has a password, never the password. */
export function carrierJson(c: CarrierInfo): CarrierJson {
  return {
    name: c.name,
    gateways: c.gateways,
    username: c.username,
    hasPassword: c.hasPassword,
    register: c.register,
    prefix: c.prefix,
    plus: c.plus,
    media: c.media,
    codecs: c.codecs,
    dialPlan: c.dialPlan,
    createdAt: isoTime(c.createdAt),
  };
}

export function dialPlanJson(p: DialPlan): DialPlanJson {
  return {
    name: p.name,
    country: p.country,
    nationalPrefix: p.nationalPrefix,
    internationalPrefix: p.internationalPrefix,
    format: p.format,
    emergency: p.emergency,
    rules: p.rules,
    createdAt: isoTime(p.createdAt),
  };
}

export function routeJson(r: OutboundRoute): RouteJson {
  return { prefix: r.prefix, carriers: r.carriers, mode: r.mode, weights: r.weights, createdAt: isoTime(r.createdAt) };
}

const moneyOrNull = (m: number | null | undefined): string | null =>
  m === null || m === undefined ? null : formatMicros(m);

/** A rate of a deck: money as decimals, exact. */
export function rateJson(r: RateInfo): RateJson {
  return {
    carrier: r.carrier,
    prefix: r.prefix,
    rate: formatMicros(r.rate),
    increment: formatIncrements(r),
    fee: formatMicros(r.fee),
    effective: r.effectiveAt === 0 ? null : isoTime(r.effectiveAt),
  };
}

export function cdrJson(c: Cdr): CdrJson {
  return {
    callSid: c.callSid,
    account: c.account,
    trunk: c.trunk,
    carrier: c.carrier,
    direction: c.direction,
    from: c.from,
    to: c.to,
    startAt: isoTime(c.startAt),
    answerAt: isoOrNull(c.answerAt),
    endAt: isoTime(c.endAt),
    duration: c.duration,
    status: c.status,
    reason: c.reason,
    hangupBy: c.hangupBy,
    extra: c.extra,
    cost: moneyOrNull(c.cost),
    rate: moneyOrNull(c.rate),
    ratePrefix: c.ratePrefix ?? null,
    billed: c.billed ?? null,
    fromReceived: c.fromReceived ?? null,
    toReceived: c.toReceived ?? null,
    emergency: c.emergency === true,
    gateway: c.gateway ?? null,
    pddMs: c.pddMs ?? null,
    q850: c.q850 ?? null,
    mos: c.mos ?? null,
    // Last: a CSV export's columns before them keep their places.
    price: moneyOrNull(c.price),
    aCallId: c.aCallId ?? null,
    bCallId: c.bCallId ?? null,
    ringMs: c.ringMs ?? null,
    durationMs: c.durationMs ?? null,
  };
}

// ---------------------------------------------------------------- security

export function banJson(b: BanRow): BanJson {
  return {
    ip: b.ip,
    reason: b.reason,
    source: b.source,
    expiresAt: isoOrNull(b.expiresAt),
    createdAt: isoTime(b.createdAt),
  };
}

/** A token: never the token itself (the API's POST answer adds it, once). */
export function tokenJson(t: ApiToken): TokenJson {
  return { name: t.name, role: t.role, createdAt: isoTime(t.createdAt), lastUsedAt: isoOrNull(t.lastUsedAt) };
}
