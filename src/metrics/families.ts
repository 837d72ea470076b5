/**
 * Core counters (src/core/counters.ts) whose names carry a value, each
 * family exported as one labelled Prometheus counter instead of one metric
 * per name, read at scrape time:
 *
 *   trunkline_proxy_replies_total{status}            proxy_replies_<status>: answers the proxy made itself
 *   trunkline_calls_refused_total{status,cause}      b2bua_refused_<status>_<cause>: trunk calls refused before a leg
 *   trunkline_stateless_responses_total{status_class} sip_responses_out_<class>: stateless answers (malformed requests, the security edge)
 *   trunkline_security_drops_total{reason}, trunkline_security_bans_total{reason}   security.ts
 *
 * Label values come from fixed sets: a status is one of the codes of
 * src/sip/status.ts, a cause one of CALL_REFUSAL_CAUSES; anything else
 * is `other`. The names of a family are not exported again one by one.
 */
import { isKnownStatus } from '../sip/status.js';
import type { RefusedCallCause } from '../b2bua/refusal-cause.js';

export interface CounterFamily<L extends string = string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  /** The labels a core counter adds to (values from fixed sets), or null when it is not one of this family. */
  labelsOf(counter: string): Readonly<Record<L, string>> | null;
  /** Label sets present from the start at 0 (a rate() needs the series), if any. */
  readonly always?: ReadonlyArray<Readonly<Record<L, string>>>;
}

/** `403` -> itself; a code src/sip/status.ts does not know, or not a code: `other`. */
function statusValue(text: string): string {
  const n = Number(text);
  return text.length === 3 && isKnownStatus(n) ? text : 'other';
}

/** The `cause` label's values: every RefusedCallCause (src/b2bua/refusal-cause.ts), and `other`. */
export const CALL_REFUSAL_CAUSES = [
  'policy',
  'transport',
  'certificate',
  'caller-id',
  'number',
  'unknown-did',
  'barred',
  'no-route',
  'no-gateway',
  'trunk-unreachable',
  'trunk-config',
  'cpm-limit',
  'concurrent-limit',
  'cluster-unavailable',
  'routing-module',
  'not-profitable',
  'extension',
  'shutdown',
  'unknown-source',
  'other',
] as const satisfies ReadonlyArray<RefusedCallCause | 'other'>;
// Every RefusedCallCause is in the list (a new one fails to build until it is added).
const everyCause: [Exclude<RefusedCallCause, (typeof CALL_REFUSAL_CAUSES)[number]>] extends [never] ? true : never =
  true;
void everyCause;
const CAUSES: ReadonlySet<string> = new Set(CALL_REFUSAL_CAUSES);

const PROXY_REPLIES_PREFIX = 'proxy_replies_';
export const PROXY_REPLIES: CounterFamily<'status'> = {
  name: 'trunkline_proxy_replies_total',
  help: 'answers the proxy made itself (refusals, OPTIONS to the server, CANCEL), by SIP status',
  labelNames: ['status'],
  labelsOf: (c) =>
    c.startsWith(PROXY_REPLIES_PREFIX) ? { status: statusValue(c.slice(PROXY_REPLIES_PREFIX.length)) } : null,
};

const REFUSED_PREFIX = 'b2bua_refused_';
export const CALLS_REFUSED: CounterFamily<'status' | 'cause'> = {
  name: 'trunkline_calls_refused_total',
  help: 'trunk calls refused before a leg was tried, by SIP status and cause (cpm-limit, concurrent-limit, caller-id, unknown-did, no-route, ...)',
  labelNames: ['status', 'cause'],
  labelsOf(c) {
    if (!c.startsWith(REFUSED_PREFIX)) return null;
    const rest = c.slice(REFUSED_PREFIX.length);
    const cut = rest.indexOf('_');
    const cause = cut < 0 ? 'other' : rest.slice(cut + 1);
    return { status: statusValue(cut < 0 ? rest : rest.slice(0, cut)), cause: CAUSES.has(cause) ? cause : 'other' };
  },
};

const STATELESS_PREFIX = 'sip_responses_out_';
const STATUS_CLASSES: ReadonlySet<string> = new Set(['1xx', '2xx', '3xx', '4xx', '5xx', '6xx']);
export const STATELESS_RESPONSES: CounterFamily<'status_class'> = {
  name: 'trunkline_stateless_responses_total',
  help: 'responses sent without a transaction (to malformed requests, by the security edge), by status class',
  labelNames: ['status_class'],
  labelsOf(c) {
    if (!c.startsWith(STATELESS_PREFIX)) return null;
    const v = c.slice(STATELESS_PREFIX.length);
    return { status_class: STATUS_CLASSES.has(v) ? v : 'other' };
  },
};
