import type { SipMessage } from '../sip/message.js';

/**
 * Topology hiding by allow-list: of a message crossing the B2BUA, only these
 * end-to-end headers pass to the other leg. Everything else (Via, Contact,
 * Record-Route, Route, Call-ID, tags, User-Agent, Server, Warning, every X-
 * header, P- headers but P-Early-Media) stays on its own side, so neither
 * side learns the other's addresses or software. P-Early-Media (RFC 5009)
 * crosses: a carrier's early-media authorization reaches the PBX, a PBX's
 * "supported" reaches the carrier.
 */
const RELAYED_REQUEST_HEADERS: readonly string[] = [
  'Content-Type',
  'Content-Disposition',
  'Content-Encoding',
  'Content-Language',
  'Accept',
  'Allow',
  'Supported',
  'Require',
  'Session-Expires',
  'Min-SE',
  'Event',
  'Subscription-State',
  'Refer-To',
  'Referred-By',
  // RFC 4488: a relayed REFER asking for no subscription, and the 2xx saying there is none.
  'Refer-Sub',
  'Reason',
  'Info-Package',
  'Recv-Info',
  'Priority',
  'Subject',
  'Privacy',
  'P-Early-Media',
];

const RELAYED_RESPONSE_HEADERS: readonly string[] = [
  'Content-Type',
  'Content-Disposition',
  'Content-Encoding',
  'Accept',
  'Allow',
  'Supported',
  'Require',
  'Unsupported',
  'Session-Expires',
  'Min-SE',
  'Retry-After',
  'Reason',
  'P-Early-Media',
  'Refer-Sub',
];

/** Extensions the B2BUA does not carry across: reliable provisionals are per leg (RFC 3262, rel100.ts). */
const DROPPED_OPTION_TAGS: ReadonlySet<string> = new Set(['100rel', 'precondition']);

/** Of those, the ones a request may not require of us: preconditions (RFC 3312) are not done across legs. */
const REFUSED_OPTION_TAGS: ReadonlySet<string> = new Set(['precondition']);

/** The headers of a request that cross to the other leg, option tags filtered. */
export function relayedRequestHeaders(msg: SipMessage): Array<[string, string]> {
  return pick(msg, RELAYED_REQUEST_HEADERS);
}

export function relayedResponseHeaders(msg: SipMessage): Array<[string, string]> {
  return pick(msg, RELAYED_RESPONSE_HEADERS);
}

/**
 * Option tags of Require that the B2BUA cannot honour across legs (answer
 * 420 with them as Unsupported). 100rel is not one: each leg does its own
 * reliable provisionals.
 */
export function unsupportedRequired(msg: SipMessage): string[] {
  return msg.optionTags('Require').filter((t) => REFUSED_OPTION_TAGS.has(t.toLowerCase()));
}

function pick(msg: SipMessage, names: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const name of names) {
    if (!msg.has(name)) continue;
    if (name === 'Supported' || name === 'Require') {
      const tags = msg.optionTags(name).filter((t) => !DROPPED_OPTION_TAGS.has(t.toLowerCase()));
      if (tags.length > 0) out.push([name, tags.join(', ')]);
      continue;
    }
    for (const v of msg.getAll(name)) out.push([name, v]);
  }
  return out;
}

/** A header rule for the leg toward one trunk or carrier (config `trunking.headers`). */
export interface LegHeaderRule {
  keep: string[];
  strip: string[];
  add: Record<string, string>;
}

/** Trunkline's own identifiers: written by us only, never taken from a peer, never kept across. */
const INTERNAL: ReadonlySet<string> = new Set(['x-call-sid', 'x-leg-sid', 'x-trunk-sid']);

/**
 * The headers of an outgoing INVITE after its leg's rule: `keep` lets more
 * of the other side's headers through (never our internal X- ones), `add`
 * writes fixed ones, `strip` removes by name (also ours, e.g.
 * P-Asserted-Identity toward a carrier that refuses it).
 */
export function applyHeaderRule(
  headers: Array<[string, string]>,
  source: SipMessage,
  rule: LegHeaderRule | null,
): Array<[string, string]> {
  if (rule === null) return headers;
  const out = [...headers];
  for (const name of rule.keep) {
    if (INTERNAL.has(name.toLowerCase())) continue;
    for (const v of source.getAll(name)) out.push([name, v]);
  }
  for (const [name, value] of Object.entries(rule.add)) out.push([name, value]);
  if (rule.strip.length === 0) return out;
  const strip = new Set(rule.strip.map((n) => n.toLowerCase()));
  return out.filter(([name]) => !strip.has(name.toLowerCase()));
}
