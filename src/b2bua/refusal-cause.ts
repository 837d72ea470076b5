/**
 * Why a call was refused before any leg was tried: a fixed, small set (a
 * metric label and a CDR field), unlike the reason phrase, which may carry
 * a barring rule's text. Imports nothing: the console's build reads it
 * (its labels of trunkline_calls_refused_total must name every cause).
 */
export type RefusalCause =
  | 'policy'
  | 'transport'
  | 'certificate'
  | 'caller-id'
  | 'number'
  | 'unknown-did'
  | 'barred'
  | 'no-route'
  | 'no-gateway'
  | 'trunk-unreachable'
  | 'trunk-config'
  | 'cpm-limit'
  | 'concurrent-limit'
  /** A node of a cluster that cannot reach the shared limits (Redis), `cluster.onRedisDown: reject`. */
  | 'cluster-unavailable'
  /** Refused by the routing module (`routing.module`), or every carrier dropped by it. */
  | 'routing-module'
  /** The cheapest carrier costs more than the account pays for the number (sell prices). */
  | 'not-profitable'
  | 'extension'
  | 'shutdown';

/** The `cause` label of trunkline_calls_refused_total: the planner's causes, and a source that is no trunk, carrier or user (unknown-sources.ts). */
export type RefusedCallCause = RefusalCause | 'unknown-source';
