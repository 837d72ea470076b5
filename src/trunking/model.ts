/**
 * The trunking model as the rest of Trunkline sees it (the CLI's and API's nouns:
 * account, trunk, did, carrier, route, cdr). The store keeps them (see
 * src/store/repos/), the CLI and API edit them, the B2BUA reads them through
 * a TrunkingDirectory: an in-memory snapshot reloaded when the store changes,
 * so that classifying a call costs no query.
 */

export type TrunkTransport = 'udp' | 'tcp' | 'tls';
export type MediaMode = 'rtp' | 'srtp' | 'any';

/** A customer: limits that apply over all its trunks (null = unlimited). */
export interface Account {
  name: string;
  cpm: number | null;
  maxCalls: number | null;
  createdAt: number;
  /** Its calls go through when the cheapest carrier costs more than its price (sell prices, src/store/repos/prices.ts); absent: false. */
  sellBelowCost?: boolean;
}

/** A customer's trunk: a static peer (ip) or a registering PBX (register). */
export interface Trunk {
  name: string;
  account: string;
  /** CIDRs (`127.0.0.2/32`, `10.0.0.0/8`, `::1/128`) of a static-IP trunk; [] for a registration trunk. */
  ip: string[];
  /** `user@domain` of the subscriber a registration trunk registers as; null for a static-IP trunk. */
  register: string | null;
  /** The only transport the trunk may use; null = any. */
  transport: TrunkTransport | null;
  /** SHA-256 fingerprint of the client certificate a TLS trunk must present (uppercase hex, colon separated), or null. */
  tlsFingerprint: string | null;
  /** Where inbound calls go: a SIP URI, or null = the registered contact. */
  dest: string | null;
  /** Calls per minute (default 200). */
  cpm: number;
  /** Concurrent calls, null = unlimited. */
  maxCalls: number | null;
  media: MediaMode;
  /** Allowed codecs in order of preference (`PCMA`, `PCMU`, `telephone-event`); [] = as offered. */
  codecs: string[];
  /** The dial plan its numbers are read and written by (dial-plan.ts); null = E.164 only. */
  dialPlan: string | null;
  createdAt: number;
}

/** A number (`+912240001234`) or a prefix (`+9122400012*`) owned by the trunk's account. */
export interface Did {
  number: string;
  trunk: string;
  createdAt: number;
}

/** An upstream carrier and its gateways, in priority order. */
export interface Carrier {
  name: string;
  /** SIP URIs (`sip:127.0.0.5:5080;transport=udp`), first = highest priority. */
  gateways: string[];
  /** Credentials for the carrier's 401/407 challenges (and registration). */
  username: string | null;
  /** Kept in the store because a digest answer needs it; never listed or logged. */
  password: string | null;
  /** Keep a registration with the carrier using the credentials. */
  register: boolean;
  /** Tech prefix put before the dialled number. */
  prefix: string | null;
  /** Send numbers E.164 with `+` (true) or without (false, --no-plus). */
  plus: boolean;
  media: MediaMode;
  codecs: string[];
  /** The dial plan its numbers are read and written by (dial-plan.ts); null = E.164 (`plus`). */
  dialPlan: string | null;
  createdAt: number;
}

/** How numbers are sent to the peer of a dial plan: `+CC...`, national form at home, or always the international prefix. */
export type NumberFormat = 'e164' | 'national' | 'international';
export const NUMBER_FORMATS: readonly NumberFormat[] = ['e164', 'national', 'international'];

/**
 * One rewrite rule of a dial plan: `match` a literal prefix (replaced by
 * `replace`), or a regular expression when it starts with `^` (`replace`
 * may name its groups `$1`); `in` rules apply to numbers received, `out`
 * rules to numbers sent. The first matching rule of a direction applies.
 */
export interface DialPlanRule {
  match: string;
  replace: string;
  direction: 'in' | 'out';
}

/** How a trunk or carrier writes numbers (src/trunking/dial-plan.ts). */
export interface DialPlan {
  name: string;
  /** Country code, digits (`91`). */
  country: string;
  /** National (trunk) prefix: `0` (IN, UK), `1` (US); '' = none. */
  nationalPrefix: string;
  /** International prefix: `00`, `011`. */
  internationalPrefix: string;
  format: NumberFormat;
  /** Emergency numbers as dialled (`112`, `100`): never given a country code, never refused. */
  emergency: string[];
  rules: DialPlanRule[];
  createdAt: number;
}

/**
 * How a route orders its carriers for a call: `priority` as listed; `lcr`
 * by each carrier's rate for the number (cheapest first, ties as listed; a
 * carrier without a rate for it is left out); `weighted` at random, each
 * carrier's chance of going first its weight over the sum (the rest follow
 * the same way, for failover).
 */
export type RouteMode = 'priority' | 'lcr' | 'weighted';
export const ROUTE_MODES: readonly RouteMode[] = ['priority', 'lcr', 'weighted'];

/** The route of emergency calls (dial-plan.ts): its key instead of a prefix. */
export const EMERGENCY_ROUTE = 'emergency';

/**
 * Outbound routing: longest prefix of the dialled E.164 number wins; `+`
 * alone is the default route; `emergency` (EMERGENCY_ROUTE) takes the
 * emergency calls.
 */
export interface OutboundRoute {
  prefix: string;
  /** Carrier names, tried in order. */
  carriers: string[];
  createdAt: number;
  mode: RouteMode;
  /** A weighted route's weights, one per carrier in order; null for the other modes. */
  weights: number[] | null;
}

/** The route a dialled number takes, with its carriers as the directory has them. */
export interface RouteMatch {
  prefix: string;
  mode: RouteMode;
  carriers: Carrier[];
  /** One per carrier (weighted routes), else null. */
  weights: number[] | null;
}

/** A carrier's rate for a number: the row of its deck with the longest matching prefix, in force at the time asked. */
export interface RateMatch {
  carrier: string;
  prefix: string;
  /** Price per minute, micro-units (src/trunking/money.ts). */
  rate: number;
  /** Per call, micro-units. */
  fee: number;
  /** Increments in seconds (30/6: first 30, then 6). */
  first: number;
  next: number;
  /** ms since the epoch the row applies from (0: always). */
  effectiveAt: number;
}

export type CallDirection = 'inbound' | 'outbound';
/** Which side ended the call. */
export type HangupSide = 'caller' | 'callee' | 'system';

/** A call record, written when a call ends (answered or not). */
export interface Cdr {
  callSid: string;
  account: string | null;
  trunk: string | null;
  carrier: string | null;
  direction: CallDirection;
  from: string;
  to: string;
  startAt: number;
  answerAt: number | null;
  endAt: number;
  /** Seconds answered (0 when never answered). */
  duration: number;
  /** Final SIP status of the call (200 for an answered call). */
  status: number;
  reason: string;
  hangupBy: HangupSide;
  /** Free-form JSON text for later figures (media counters); null when none. */
  extra: string | null;
  /** The caller and callee as received, before the dial plan (absent/null: as `from`, `to`). */
  fromReceived?: string | null;
  toReceived?: string | null;
  /** A call to an emergency number (dial-plan.ts). */
  emergency?: boolean;
  /** Buy cost of an answered outbound call (fee + rate x billed / 60), micro-units; null or absent when not priced. */
  cost?: number | null;
  /** The price per minute it was priced by, micro-units. */
  rate?: number | null;
  /** The carrier deck's prefix that matched. */
  ratePrefix?: string | null;
  /** Seconds billed by the deck's increments. */
  billed?: number | null;
  /** The carrier gateway of the answering (or last) attempt, as configured. */
  gateway?: string | null;
  /** Post-dial delay: from the caller's INVITE to the first ringing (18x) or the answer, ms; null when neither came. */
  pddMs?: number | null;
  /** The Q.850 cause of the end: the Reason header's (RFC 3326), else mapped from the status (RFC 3398). */
  q850?: number | null;
  /** The MOS estimate of the call's media (src/trunking/mos.ts, ITU-T G.107 simplified); null without RTCP figures. */
  mos?: number | null;
  /** Sell price of an answered outbound call (the account's price: fee + rate x billed / 60 by its increments), micro-units; null or absent when the account has no price for the number. */
  price?: number | null;
  /** The caller's leg's Call-ID, and ours toward the callee (the answering or last attempt); null: none. */
  aCallId?: string | null;
  bCallId?: string | null;
  /** From the first ringing (18x) to the answer or the end, ms; null when it never rang. */
  ringMs?: number | null;
  /** Answered duration, ms (duration is whole seconds); null when never answered. */
  durationMs?: number | null;
}

export interface CdrFilter {
  since?: number;
  until?: number;
  trunk?: string;
  account?: string;
  direction?: CallDirection;
  /** `answered` (status 2xx) or `failed`. */
  disposition?: 'answered' | 'failed';
  limit?: number;
  /** Opaque cursor from the previous page. */
  cursor?: string;
}

/** The answer of a DID lookup: the DID row that matched (exact before the longest prefix) and its trunk. */
export interface DidMatch {
  did: Did;
  trunk: Trunk;
  account: Account;
}

/** A source classified as one of ours. */
export type SourceMatch =
  | { kind: 'trunk'; trunk: Trunk; account: Account }
  | { kind: 'carrier'; carrier: Carrier }
  /**
   * The address is a trunk's, but the trunk is restricted to another
   * transport (`trunk.transport`) and no other trunk or carrier takes it:
   * answer 403 "Transport not allowed".
   */
  | { kind: 'wrong-transport'; trunk: Trunk; account: Account }
  | { kind: 'none' };

/**
 * What the B2BUA asks of the trunking data, all synchronous from memory.
 * Numbers are E.164 with `+`.
 */
export interface TrunkingDirectory {
  /**
   * The trunk or carrier a request from this address over this transport
   * comes from: the most specific match wins, so a carrier gateway's
   * address (a whole address) comes before any trunk range holding it.
   */
  classifySource(ip: string, proto: string): SourceMatch;
  /** The registration trunk whose subscriber is `user@domain`, with its account. */
  trunkByRegistration(aor: string): { trunk: Trunk; account: Account } | null;
  /** The DID for a number: exact match first, then the longest matching prefix. */
  did(number: string): DidMatch | null;
  /** Whether `number` is a DID (exact or prefix) of the account (caller-ID check). */
  accountOwns(account: string, number: string): boolean;
  /** The carriers for a dialled number: the longest matching route prefix, carriers in order; [] when no route. */
  carriersFor(number: string): Carrier[];
  /** The route of the longest matching prefix, with its mode; null when none. */
  route(number: string): RouteMatch | null;
  /** The `emergency` route, else the default route `+`; null when neither. */
  emergencyRoute(): RouteMatch | null;
  dialPlan(name: string): DialPlan | null;
  /** Each named carrier's rate for `number` in force at `at` (ms); carriers without one are absent. */
  rates(carriers: readonly string[], number: string, at: number): Promise<Map<string, RateMatch>>;
  trunk(name: string): Trunk | null;
  account(name: string): Account | null;
  carrier(name: string): Carrier | null;
}
