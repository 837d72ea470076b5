import type { SipMessage } from '../sip/message.js';
import { formatUri, isSipUri, isTelUri, parseUri, tryParseUri, type SipUri } from '../sip/uri.js';
import { parsedOrNull } from '../sip/errors.js';
import { parseNameAddr } from '../sip/name-addr.js';
import type { Flow } from '../transport/types.js';
import type { Account, Carrier, DidMatch, RateMatch, Trunk, TrunkingDirectory } from '../trunking/model.js';
import type { Limiter, ScopeLimits } from '../trunking/limits.js';
import type { CallPlan, LegAttempt } from './plan.js';
import {
  calleeForCarrier,
  callerForCarrier,
  decideRoute,
  planOf,
  profitRefusal,
  readCaller,
  readDialled,
  type DialledNumber,
  type RatesOf,
} from '../trunking/dialled.js';
import { sendNumber } from '../trunking/dial-plan.js';
import { newCallSid } from '../dialog/sid.js';
import type { LegHeaderRule } from './headers.js';
import type { B2buaLog } from './env.js';
import { legMedia } from './media-link.js';
import type { RefusalCause } from './refusal-cause.js';
import type { CallPolicy } from '../security/call-policy.js';
import { qualityLookup, type ModuleEffect, type ModuleHook, type RoutingModule } from '../trunking/routing-hook.js';
import type { QualitySnapshot } from '../trunking/quality.js';

/** A registered customer's contacts (the location service), for trunks without a fixed destination. */
export interface ContactLookup {
  contactsOf(aor: string): Promise<Array<{ requestUri: string; hop: SipUri; routes: string[] }>>;
}

export type { CallPolicy };

/** What planning needs: the trunking data, the limits, gateway states, our name in From. */
export interface Planner {
  directory: TrunkingDirectory;
  /** A node alone: CallLimiter; a node of a cluster: the limits shared in Redis (src/cluster/shared-limits.ts). */
  limiter: Limiter;
  contacts: ContactLookup;
  /** Whether a gateway answers its OPTIONS (true when not monitored). */
  gatewayUp(uri: string): boolean;
  /** A carrier's gateways in the order a call tries them (`routing.carriers`: priority groups, weights); absent: as listed. */
  gatewayOrder?(carrier: Carrier, callId: string): string[];
  /** Carriers and gateways demoted for their figures (src/trunking/quality.ts): tried after the others. */
  quality?: { isDemoted(carrier: string, gateway: string | null): boolean; snapshot?(): QualitySnapshot };
  /** An account's sell price for a number (src/store/repos/prices.ts); absent: no sell prices. */
  prices?(account: string, number: string, at: number): Promise<RateMatch | null>;
  /** The routing module in force (`routing.module`), null or absent: none. */
  routingModule?(): RoutingModule | null;
  /** Our host as written in the From/To/PAI we send (the advertised address). */
  ourHost: string;
  /** The header rule for legs toward a trunk or a carrier, or null. */
  headerRule(kind: 'trunk' | 'carrier', name: string): LegHeaderRule | null;
  /** Whether any trunk or carrier is configured. */
  inUse(): boolean;
  /** Access lists, barred destinations, call barring by time (src/security/call-policy.ts). */
  policy: CallPolicy;
  /** The TLS certificate fingerprint of a connection, for trunks that require one. */
  fingerprintOf(flow: Flow): string | null;
  /** For a gateway left out of a plan because its URI is not a SIP URI. */
  log: B2buaLog;
}

export type { RefusalCause };

/** A call refused before any leg: the answer, its cause, and the trunk when a limit of it was hit. */
export interface Refusal {
  kind: 'refuse';
  status: number;
  reason: string;
  cause: RefusalCause;
  headers?: Array<[string, string]>;
  account?: string;
  trunk?: string;
  /** A call to an emergency number (refused only when no route or gateway can take it). */
  emergency?: boolean;
}

export type PlanResult = { kind: 'call'; plan: CallPlan } | Refusal;

export function refuse(
  status: number,
  reason: string,
  cause: RefusalCause,
  headers?: Array<[string, string]>,
): Refusal {
  return headers === undefined
    ? { kind: 'refuse', status, reason, cause }
    : { kind: 'refuse', status, reason, cause, headers };
}

/** The limits a call of this trunk meets, outermost first: account over trunk. */
function scopes(trunk: Trunk, account: Account): ScopeLimits[] {
  return [
    { key: `account:${account.name}`, cpm: account.cpm, maxCalls: account.maxCalls },
    { key: `trunk:${trunk.name}`, cpm: trunk.cpm, maxCalls: trunk.maxCalls },
  ];
}

async function admit(
  p: Planner,
  trunk: Trunk,
  account: Account,
  callSid: string,
): Promise<{ release: () => void } | PlanResult> {
  const v = await p.limiter.tryStart(scopes(trunk, account), callSid);
  if (v.ok) return { release: v.release };
  const retry: Array<[string, string]> = [['Retry-After', String(v.retryAfter)]];
  const refused =
    v.kind === 'unavailable'
      ? refuse(503, 'Cluster limits unavailable', 'cluster-unavailable', retry)
      : refuse(
          503,
          `${v.kind === 'cpm' ? 'Calls per minute' : 'Concurrent calls'} limit reached`,
          v.kind === 'cpm' ? 'cpm-limit' : 'concurrent-limit',
          retry,
        );
  // The CDR of a limit hit names the trunk that hit it (inbound calls are refused before the plan knows it otherwise).
  return { ...refused, account: account.name, trunk: trunk.name };
}

/** The Request-URI's user (a tel: URI's number), or null when it has none or does not parse. */
export function requestUser(req: SipMessage): string | null {
  const u = tryParseUri(req.requestUri);
  if (u === null) return null;
  if (isSipUri(u)) return u.user;
  return isTelUri(u) ? u.number : null;
}

/** The user and display name of a From/To value, nulls when it does not parse. */
export function userOf(value: string | undefined): { user: string | null; display: string | null } {
  const n = value === undefined ? null : parsedOrNull(() => parseNameAddr(value));
  if (n === null) return { user: null, display: null };
  return { user: isSipUri(n.uri) ? n.uri.user : null, display: n.displayName };
}

function displayPart(display: string | null): string {
  if (display === null || display === '') return '';
  return `"${display.replace(/["\\\r\n]/g, '')}" `;
}

/**
 * The DID an inbound call is for: the Request-URI user, or, for a carrier we
 * register with (it calls our Contact, whose user is our username there),
 * the To user. `number` is the first that reads as E.164, `match` its DID.
 */
function findDid(p: Planner, req: SipMessage, carrier: Carrier): { number: string | null; match: DidMatch | null } {
  let number: string | null = null;
  for (const candidate of [requestUser(req), userOf(req.get('To')).user]) {
    const n = readCaller(p.directory, carrier, candidate);
    if (n === null) continue;
    number ??= n;
    const match = p.directory.did(n);
    if (match !== null) return { number: n, match };
  }
  return { number, match: null };
}

/**
 * A call from a carrier to a DID: the DID's trunk, its limits, then its
 * fixed destination or its registered contacts. Nothing of the carrier's
 * addresses goes to the customer: From, To and PAI are written anew. The
 * numbers are read by the carrier's dial plan and written in the trunk's.
 */
export async function planInbound(p: Planner, req: SipMessage, flow: Flow, carrier: Carrier): Promise<PlanResult> {
  const denied = p.policy.inbound(flow.remoteHost);
  if (denied !== null) return refuse(403, 'Forbidden', 'policy');
  const { number, match } = findDid(p, req, carrier);
  if (number === null) return refuse(404, 'Unknown number', 'number');
  if (match === null) return refuse(404, 'Unknown DID', 'unknown-did');
  const { trunk, account } = match;
  const from = userOf(req.get('From'));
  const caller = readCaller(p.directory, carrier, from.user) ?? from.user ?? 'anonymous';
  // In the trunk's own form (its dial plan), E.164 without one.
  const trunkPlan = planOf(p.directory, trunk);
  const toTrunk = (n: string): string => sendNumber(n, trunkPlan, false, { plus: true });
  const calleeOut = toTrunk(number);
  const callSid = newCallSid();
  const attempts: LegAttempt[] = [];
  const common: Array<[string, string]> = [
    ['X-Call-Sid', callSid],
    ['X-Trunk-Sid', trunk.name],
  ];
  const pai = userOf(req.get('P-Asserted-Identity'));
  const paiNumber = readCaller(p.directory, carrier, pai.user);
  if (paiNumber !== null) common.push(['P-Asserted-Identity', `<sip:${toTrunk(paiNumber)}@${p.ourHost}>`]);
  const fromValue = `${displayPart(from.display)}<sip:${toTrunk(caller)}@${p.ourHost}>`;
  // One leg to the trunk: at its fixed destination or at one of its registered contacts.
  const trunkLeg = (requestUri: string, hop: SipUri, routes: string[]): LegAttempt => ({
    requestUri,
    hop,
    routes,
    from: fromValue,
    to: `<sip:${calleeOut}@${hop.host}>`,
    headers: common,
    credentials: null,
    carrier: carrier.name,
    gateway: null,
    rule: p.headerRule('trunk', trunk.name),
    media: legMedia(trunk.media, trunk.codecs, overWebSocket(hop)),
  });
  if (trunk.dest !== null) {
    const dest = parseUri(trunk.dest);
    if (!isSipUri(dest)) return refuse(500, 'Trunk destination is not a SIP URI', 'trunk-config');
    const ruri: SipUri = { ...dest, user: dest.user ?? calleeOut };
    attempts.push(trunkLeg(formatUri(ruri), dest, []));
  } else if (trunk.register !== null) {
    const contacts = await p.contacts.contactsOf(trunk.register);
    for (const c of contacts) attempts.push(trunkLeg(c.requestUri, c.hop, c.routes));
  }
  if (attempts.length === 0) return refuse(480, 'Trunk not reachable', 'trunk-unreachable');
  const admitted = await admit(p, trunk, account, callSid);
  if ('kind' in admitted) return admitted;
  return {
    kind: 'call',
    plan: {
      callSid,
      direction: 'inbound',
      account: account.name,
      trunk: trunk.name,
      from: caller,
      to: number,
      received: { from: from.user, to: requestUser(req) },
      emergency: false,
      attempts,
      release: admitted.release,
      legSidHeader: true,
      mediaA: legMedia(carrier.media, carrier.codecs),
    },
  };
}

/** A registered contact reached over WebSocket (RFC 7118): a browser, whose media is WebRTC. */
function overWebSocket(hop: SipUri): boolean {
  const t = hop.params.get('transport');
  return typeof t === 'string' && /^wss?$/i.test(t);
}

/**
 * A call from a customer's trunk to the PSTN: the dialled number read by
 * the trunk's dial plan (src/trunking/dialled.ts, the path `route explain`
 * takes too); then, unless it is an emergency number, the caller ID must be
 * a DID of the trunk's account (403 otherwise), barring, and the limits;
 * then the route's carriers and their gateways in order (those an OPTIONS
 * monitor found dead are skipped while another is up; those demoted for
 * their quality come after the others). An emergency call
 * meets no caller ID check, no barring and no limit: it is never refused
 * for them.
 */
export async function planOutbound(
  p: Planner,
  req: SipMessage,
  flow: Flow,
  trunk: Trunk,
  account: Account,
): Promise<PlanResult> {
  if (trunk.transport !== null && trunk.transport !== flow.proto)
    return refuse(403, 'Transport not allowed', 'transport');
  if (trunk.tlsFingerprint !== null) {
    const fp = p.fingerprintOf(flow);
    if (fp === null || normFp(fp) !== normFp(trunk.tlsFingerprint))
      return refuse(403, 'Certificate not allowed', 'certificate');
  }
  const pai = userOf(req.get('P-Asserted-Identity'));
  const from = userOf(req.get('From'));
  const callerRaw = pai.user ?? from.user;
  const caller = readCaller(p.directory, trunk, callerRaw);
  const dialledRaw = requestUser(req);
  const dialled = readDialled(p.directory, trunk, dialledRaw);
  const emergency = 'number' in dialled && dialled.emergency;
  if (!emergency && (caller === null || !p.directory.accountOwns(account.name, caller)))
    return refuse(403, 'Caller ID not allowed', 'caller-id');
  if (!('number' in dialled)) return refuse(dialled.status, dialled.reason, dialled.cause);
  const number = dialled.number;
  // Access lists for outbound calls, barred destinations (premium rate...), barring by time of day.
  const barred = emergency ? null : p.policy.outbound(flow.remoteHost, account.name, trunk.name, number);
  if (barred !== null) return refuse(403, barred, 'barred');
  const hook = moduleHook(p, req, flow, trunk, account, { received: callerRaw, number: caller }, dialledRaw);
  const price = emergency ? null : await readPrice(p, account, number);
  const rates: RatesOf = (names, n) => readRates(p, names, n);
  const decision = await decideRoute(p.directory, dialled, rates, Math.random, hook, price !== null);
  const effect = decision.module;
  const unprofitable = decision.refusal === null ? profitRefusal(decision.order, price, account) : null;
  if (unprofitable !== null) return refuse(unprofitable.status, unprofitable.reason, unprofitable.cause);
  // An emergency call refused all the same (no route or gateway for it) says so in its CDR and log.
  const flagged = (r: Refusal): Refusal => (emergency ? { ...r, emergency: true } : r);
  if (decision.refusal !== null)
    return flagged(refuse(decision.refusal.status, decision.refusal.reason, decision.refusal.cause));
  const callerOut = effect?.caller ?? caller ?? (callerRaw !== null && callerRaw !== '' ? callerRaw : 'anonymous');
  const sent: DialledNumber = effect?.callee == null ? dialled : { number: effect.callee, emergency: false };
  const attempts: LegAttempt[] = [];
  const demoted: LegAttempt[] = [];
  const down: LegAttempt[] = [];
  for (const { carrier: c } of decision.order.ordered) {
    for (const gw of p.gatewayOrder?.(c, req.callId) ?? c.gateways) {
      const a = carrierAttempt(p, c, gw, callerOut, sent, from.display, effect);
      if (a === null) continue;
      if (!p.gatewayUp(gw)) down.push(a);
      else (p.quality?.isDemoted(c.name, gw) === true ? demoted : attempts).push(a);
    }
  }
  attempts.push(...demoted);
  // Every gateway marked down: try them anyway rather than refuse the call.
  if (attempts.length === 0) attempts.push(...down);
  if (attempts.length === 0) return flagged(refuse(503, 'No gateway', 'no-gateway'));
  const callSid = newCallSid();
  if (emergency)
    p.log.warn({ callSid, trunk: trunk.name, account: account.name, number, caller: callerRaw }, 'emergency call');
  // An emergency call takes no place in the limits (it is never refused for them).
  const admitted = emergency ? { release: () => undefined } : await admit(p, trunk, account, callSid);
  if ('kind' in admitted) return admitted;
  return {
    kind: 'call',
    plan: {
      callSid,
      direction: 'outbound',
      account: account.name,
      trunk: trunk.name,
      from: callerOut,
      to: sent.number,
      received: { from: callerRaw, to: dialledRaw },
      emergency,
      attempts,
      release: admitted.release,
      legSidHeader: false,
      mediaA: legMedia(trunk.media, trunk.codecs, flow.proto === 'ws' || flow.proto === 'wss'),
    },
  };
}

/** The routing module to run on this call and what it is shown of the call, or null when none is configured. */
function moduleHook(
  p: Planner,
  req: SipMessage,
  flow: Flow,
  trunk: Trunk,
  account: Account,
  caller: { received: string | null; number: string | null },
  calleeReceived: string | null,
): ModuleHook | null {
  const module = p.routingModule?.() ?? null;
  if (module === null) return null;
  const snapshot = p.quality?.snapshot?.() ?? null;
  return {
    module,
    facts: {
      source: { address: flow.remoteHost, port: flow.remotePort, transport: flow.proto },
      trunk: trunk.name,
      account: account.name,
      calleeReceived,
      caller,
      headers: req.fields.map((f) => [f.name, f.value] as const),
      explain: false,
      quality: qualityLookup(snapshot, Date.now()),
    },
  };
}

/** The account's price for the number; null when it has none or it could not be read (the call is not checked then). */
async function readPrice(p: Planner, account: Account, number: string): Promise<RateMatch | null> {
  if (p.prices === undefined) return null;
  try {
    return await p.prices(account.name, number, Date.now());
  } catch (err) {
    p.log.warn({ account: account.name, number, err: String(err) }, 'sell price not read: the call is not checked');
    return null;
  }
}

/** The carriers' rates for an lcr route (one indexed query); null when they could not be read. */
async function readRates(
  p: Planner,
  names: readonly string[],
  number: string,
): Promise<ReadonlyMap<string, RateMatch> | null> {
  try {
    return await p.directory.rates(names, number, Date.now());
  } catch (err) {
    p.log.warn({ number, err: String(err) }, 'rates not read: carriers tried in the list order');
    return null;
  }
}

/** Gateways already reported as unusable, so that each costs one log line, not one per call (bounded). */
const reportedGateways = new Set<string>();

function carrierAttempt(
  p: Planner,
  c: Carrier,
  gw: string,
  caller: string,
  dialled: DialledNumber,
  display: string | null,
  effect: ModuleEffect | null,
): LegAttempt | null {
  const uri = tryParseUri(gw);
  if (uri === null || !isSipUri(uri)) {
    if (!reportedGateways.has(gw)) {
      if (reportedGateways.size >= 1024) reportedGateways.clear();
      reportedGateways.add(gw);
      p.log.warn({ carrier: c.name, gateway: gw }, 'carrier gateway left out of calls: not a SIP URI');
    }
    return null;
  }
  const callee = calleeForCarrier(p.directory, c, dialled);
  const callerOut = callerForCarrier(p.directory, c, caller);
  const ruri: SipUri = { ...uri, user: callee };
  return {
    requestUri: formatUri(ruri),
    hop: uri,
    routes: [],
    from: `${displayPart(display)}<sip:${callerOut}@${p.ourHost}>`,
    to: `<sip:${callee}@${uri.host}>`,
    headers: [['P-Asserted-Identity', `<sip:${callerOut}@${p.ourHost}>`], ...(effect?.headers ?? [])],
    credentials: c.username !== null && c.password !== null ? { username: c.username, password: c.password } : null,
    carrier: c.name,
    gateway: gw,
    rule: p.headerRule('carrier', c.name),
    media: legMedia(c.media, c.codecs),
  };
}

function normFp(fp: string): string {
  return fp.replace(/:/g, '').toUpperCase();
}
