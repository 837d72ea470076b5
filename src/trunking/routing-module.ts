/**
 * The types a routing module's author writes against (`routing.module`).
 * A routing module is an ES module whose default export (or export named
 * `route`) is a RoutingFunction: given a read-only view of an outbound call
 * once the route and its carriers' order are known, it returns what to
 * change, or nothing to keep the table's decision. The view is frozen.
 * Trunkline runs it on the call's path (src/trunking/dialled.ts
 * decideRoute) for live calls and for `route explain` alike; a module that
 * throws, returns a decision it cannot apply, or takes longer than
 * `routing.moduleBudgetMs` is logged and the table's decision stands.
 * Emergency calls never reach it. Imports nothing at run time: a module
 * imports these types only (`import type`).
 */

/** A carrier's rate for the number: its deck's longest matching prefix in force now. */
export interface RoutingRate {
  readonly prefix: string;
  /** Price per minute in micro-units (1,000,000 = one unit of money). */
  readonly micros: number;
  /** The same as a decimal text, e.g. `0.0125`. */
  readonly perMinute: string;
  /** Per call, micro-units. */
  readonly feeMicros: number;
  /** Billing increments in seconds, e.g. `60/60`. */
  readonly increment: string;
}

/** A carrier's rolling figures (`routing.quality`); null values: not enough calls yet. */
export interface RoutingQuality {
  readonly attempts: number;
  /** Percent. */
  readonly asr: number | null;
  readonly ner: number | null;
  /** Seconds. */
  readonly acd: number | null;
  /** Milliseconds. */
  readonly pdd: number | null;
  readonly mos: number | null;
  /** Demoted for its figures: its calls try it after the others. */
  readonly demoted: boolean;
}

/** One carrier the table would try, in the table's order. */
export interface RoutingCandidate {
  readonly carrier: string;
  readonly gateways: readonly string[];
  /** Null in a priority route whose rates were not looked up, or when the carrier has none for the number. */
  readonly rate: RoutingRate | null;
  /** Null when no figures are at hand (no call yet, or `route explain` without a running server). */
  readonly quality: RoutingQuality | null;
  /** Why the table put it there, in words. */
  readonly why: string;
}

/** A number as the trunk sent it and as its dial plan reads it (E.164). */
export interface RoutingNumber {
  /** As received (the Request-URI user, the PAI or From user); null when absent. */
  readonly received: string | null;
  /** E.164 (`+...`); the caller's is null when it is no number. */
  readonly number: string | null;
}

/** What a routing module sees of a call. */
export interface RoutingCall {
  /** Where the INVITE came from; null for `route explain --from TRUNK`. */
  readonly source: { readonly address: string; readonly port: number; readonly transport: string } | null;
  readonly trunk: string;
  readonly account: string;
  readonly callee: RoutingNumber & { readonly number: string };
  readonly caller: RoutingNumber;
  /** The INVITE's headers as received, in order (names as written); empty for `route explain`. */
  readonly headers: ReadonlyArray<readonly [name: string, value: string]>;
  /** The route that matched: its prefix (`+` the default) and mode. */
  readonly route: { readonly prefix: string; readonly mode: 'priority' | 'lcr' | 'weighted' };
  /** The carriers the table would try, first first. */
  readonly candidates: readonly RoutingCandidate[];
  /** True when `route explain` asks (no call is placed). */
  readonly explain: boolean;
}

/** What a routing module asks for; every field optional, none: the table's decision stands. */
export interface RoutingDecision {
  /** The carriers to try, in order: each a candidate's name; candidates left out are dropped (none: the call is refused). */
  readonly carriers?: readonly string[];
  /** Refuse the call with this SIP status (400-699) and reason phrase. */
  readonly refuse?: { readonly status: number; readonly reason: string };
  /** The callee sent to the carriers instead (E.164; each carrier's dial plan still applies); the route stays the dialled number's. */
  readonly callee?: string;
  /** The caller ID sent to the carriers instead (E.164). */
  readonly caller?: string;
  /** Headers added to the INVITE sent to the carriers (not Via, From, To, Call-ID, CSeq, Contact, Route and the like). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** A routing module's export. */
export type RoutingFunction = (
  call: RoutingCall,
) => RoutingDecision | null | undefined | void | Promise<RoutingDecision | null | undefined | void>;
