import type { SipMessage } from '../sip/message.js';
import { formatUri, isSipUri, isTelUri, parseUri, tryParseUri, type SipUri } from '../sip/uri.js';
import { parsedOrNull } from '../sip/errors.js';
import { parseNameAddr } from '../sip/name-addr.js';
import type { Flow } from '../transport/types.js';
import type { Account, Carrier, DidMatch, RateMatch, RouteMatch, Trunk, TrunkingDirectory } from '../trunking/model.js';
import { orderRoute } from '../trunking/route-order.js';
import type { Limiter, ScopeLimits } from '../trunking/limits.js';
import type { CallPlan, LegAttempt } from './plan.js';
import { formatForCarrier, tryNormalizeNumber } from '../trunking/e164.js';
import { newCallSid } from '../dialog/sid.js';
import type { LegHeaderRule } from './headers.js';
import type { B2buaLog } from './env.js';
import { legMedia } from './media-link.js';
import type { RefusalCause } from './refusal-cause.js';
import type { CallPolicy } from '../security/call-policy.js';

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
  quality?: { isDemoted(carrier: string, gateway: string | null): boolean };
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

/** A user part as an E.164 number (digits without `+`, as some carriers write them, taken as international), or null. */
function toE164(user: string | null): string | null {
  return user === null || user === '' ? null : tryNormalizeNumber(user);
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
function findDid(p: Planner, req: SipMessage): { number: string | null; match: DidMatch | null } {
  let number: string | null = null;
  for (const candidate of [requestUser(req), userOf(req.get('To')).user]) {
    const n = toE164(candidate);
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
 * addresses goes to the customer: From, To and PAI are written anew.
 */
export async function planInbound(p: Planner, req: SipMessage, flow: Flow, carrier: Carrier): Promise<PlanResult> {
  const denied = p.policy.inbound(flow.remoteHost);
  if (denied !== null) return refuse(403, 'Forbidden', 'policy');
  const { number, match } = findDid(p, req);
  if (number === null) return refuse(404, 'Unknown number', 'number');
  if (match === null) return refuse(404, 'Unknown DID', 'unknown-did');
  const { trunk, account } = match;
  const from = userOf(req.get('From'));
  const caller = toE164(from.user) ?? from.user ?? 'anonymous';
  const callSid = newCallSid();
  const attempts: LegAttempt[] = [];
  const common: Array<[string, string]> = [
    ['X-Call-Sid', callSid],
    ['X-Trunk-Sid', trunk.name],
  ];
  const pai = userOf(req.get('P-Asserted-Identity'));
  const paiNumber = toE164(pai.user);
  if (paiNumber !== null) common.push(['P-Asserted-Identity', `<sip:${paiNumber}@${p.ourHost}>`]);
  const fromValue = `${displayPart(from.display)}<sip:${caller}@${p.ourHost}>`;
  // One leg to the trunk: at its fixed destination or at one of its registered contacts.
  const trunkLeg = (requestUri: string, hop: SipUri, routes: string[]): LegAttempt => ({
    requestUri,
    hop,
    routes,
    from: fromValue,
    to: `<sip:${number}@${hop.host}>`,
    headers: common,
    credentials: null,
    carrier: carrier.name,
    gateway: null,
    rule: p.headerRule('trunk', trunk.name),
    media: legMedia(trunk.media, trunk.codecs),
  });
  if (trunk.dest !== null) {
    const dest = parseUri(trunk.dest);
    if (!isSipUri(dest)) return refuse(500, 'Trunk destination is not a SIP URI', 'trunk-config');
    const ruri: SipUri = { ...dest, user: dest.user ?? number };
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
      attempts,
      release: admitted.release,
      legSidHeader: true,
      mediaA: legMedia(carrier.media, carrier.codecs),
    },
  };
}

/**
 * A call from a customer's trunk to the PSTN: the caller ID must be a DID
 * of the trunk's account (403 otherwise), the dialled number E.164, the
 * limits, then the route's carriers and their gateways in order (those an
 * OPTIONS monitor found dead are skipped while another is up; those demoted
 * for their quality come after the others).
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
  const caller = toE164(callerRaw);
  if (caller === null || !p.directory.accountOwns(account.name, caller))
    return refuse(403, 'Caller ID not allowed', 'caller-id');
  const number = toE164(requestUser(req));
  if (number === null) return refuse(484, 'Address Incomplete', 'number');
  // Access lists for outbound calls, barred destinations (premium rate...), barring by time of day.
  const barred = p.policy.outbound(flow.remoteHost, account.name, trunk.name, number);
  if (barred !== null) return refuse(403, barred, 'barred');
  const route = p.directory.route(number);
  if (route === null || route.carriers.length === 0) return refuse(404, 'No route', 'no-route');
  const carriers = await routeCarriers(p, route, number);
  if (carriers.length === 0) return refuse(404, 'No rated carrier', 'no-route');
  const attempts: LegAttempt[] = [];
  const demoted: LegAttempt[] = [];
  const down: LegAttempt[] = [];
  for (const c of carriers) {
    for (const gw of p.gatewayOrder?.(c, req.callId) ?? c.gateways) {
      const a = carrierAttempt(p, c, gw, caller, number, from.display);
      if (a === null) continue;
      if (!p.gatewayUp(gw)) down.push(a);
      else (p.quality?.isDemoted(c.name, gw) === true ? demoted : attempts).push(a);
    }
  }
  attempts.push(...demoted);
  // Every gateway marked down: try them anyway rather than refuse the call.
  if (attempts.length === 0) attempts.push(...down);
  if (attempts.length === 0) return refuse(503, 'No gateway', 'no-gateway');
  const callSid = newCallSid();
  const admitted = await admit(p, trunk, account, callSid);
  if ('kind' in admitted) return admitted;
  return {
    kind: 'call',
    plan: {
      callSid,
      direction: 'outbound',
      account: account.name,
      trunk: trunk.name,
      from: caller,
      to: number,
      attempts,
      release: admitted.release,
      legSidHeader: false,
      mediaA: legMedia(trunk.media, trunk.codecs),
    },
  };
}

/**
 * The route's carriers in the order this call tries them (route-order.ts):
 * an `lcr` route looks up each carrier's rate for the number (one indexed
 * query); when that fails, the list order is kept rather than the call lost.
 */
async function routeCarriers(p: Planner, route: RouteMatch, number: string): Promise<Carrier[]> {
  if (route.mode === 'priority') return route.carriers;
  let rates: Map<string, RateMatch> | null = null;
  if (route.mode === 'lcr') {
    try {
      rates = await p.directory.rates(
        route.carriers.map((c) => c.name),
        number,
        Date.now(),
      );
    } catch (err) {
      p.log.warn({ route: route.prefix, err: String(err) }, 'rates not read: carriers tried in the list order');
      return route.carriers;
    }
  }
  return orderRoute(route, rates).ordered.map((o) => o.carrier);
}

/** Gateways already reported as unusable, so that each costs one log line, not one per call (bounded). */
const reportedGateways = new Set<string>();

function carrierAttempt(
  p: Planner,
  c: Carrier,
  gw: string,
  caller: string,
  number: string,
  display: string | null,
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
  const dialled = formatForCarrier(number, c);
  const callerOut = formatForCarrier(caller, { prefix: null, plus: c.plus });
  const ruri: SipUri = { ...uri, user: dialled };
  return {
    requestUri: formatUri(ruri),
    hop: uri,
    routes: [],
    from: `${displayPart(display)}<sip:${callerOut}@${p.ourHost}>`,
    to: `<sip:${dialled}@${uri.host}>`,
    headers: [['P-Asserted-Identity', `<sip:${callerOut}@${p.ourHost}>`]],
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
