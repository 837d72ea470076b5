/**
 * The security edge's counters (`security_*` in the core's Counters, see
 * src/security/README.md) as two labelled Prometheus counters, read at
 * scrape time:
 *
 *   trunkline_security_drops_total{reason}  requests stopped before the
 *     transaction layer: dropped unanswered (banned, scanner) or refused
 *     statelessly (maxforwards 483, sanity 400/416/420, acl, lists, sqli 403);
 *     and by the proxy, refused 403 or (an ACK) absorbed: foreign-route (an
 *     initial request from an untrusted source with a Route naming another
 *     host), forged-dialog (an in-dialog request not along a Record-Route of
 *     ours), see src/proxy/route-policy.ts
 *   trunkline_security_bans_total{reason}   sources banned: flood (the
 *     density crossed), auth (brute force: failed authentications), manual
 *     (`trunkline ban add`, POST /api/v1/bans)
 *
 * Label values are the fixed sets below ('other' for a step this file does
 * not know yet), never addresses. Two families of families.ts: the counters
 * mapped here are not exported again one by one.
 */
import type { CounterFamily } from './families.js';

export const DROP_REASONS = [
  'banned',
  'scanner',
  'maxforwards',
  'sanity',
  'acl',
  'lists',
  'sqli',
  'foreign-route',
  'forged-dialog',
  'other',
] as const;
export const BAN_REASONS = ['flood', 'auth', 'manual'] as const;
export type DropReason = (typeof DROP_REASONS)[number];
export type BanReason = (typeof BAN_REASONS)[number];

const BANS: Record<string, BanReason> = {
  security_flood_bans: 'flood',
  security_bruteforce_bans: 'auth',
  security_manual_bans: 'manual',
};

/** The proxy's refusals (src/proxy/route-policy.ts ROUTE_REFUSAL_COUNTERS). */
const ROUTE_DROPS: Record<string, DropReason> = {
  security_route_foreign: 'foreign-route',
  security_route_forged: 'forged-dialog',
};

/** `security_<step>_dropped` and `security_<step>_<status>` (the pipeline's outcomes); the keep-alive's 200 is an answer, not a drop. */
const OUTCOME = /^security_([a-z]+)_(dropped|[3-6]\d\d)$/;

/** The drop reason a core counter adds to, or null when it is not a drop. */
export function dropReasonOf(counter: string): DropReason | null {
  const route = ROUTE_DROPS[counter];
  if (route !== undefined) return route;
  const m = OUTCOME.exec(counter);
  if (m === null) return null;
  const step = m[1]!;
  if (step === 'keepalive') return null;
  return (DROP_REASONS as readonly string[]).includes(step) ? (step as DropReason) : 'other';
}

export function banReasonOf(counter: string): BanReason | null {
  return BANS[counter] ?? null;
}

export const SECURITY_DROPS: CounterFamily<'reason'> = {
  name: 'trunkline_security_drops_total',
  help: `requests stopped by the security edge, dropped or refused statelessly, by reason (${DROP_REASONS.join(', ')})`,
  labelNames: ['reason'],
  labelsOf: (c) => {
    const reason = c.startsWith('security_') ? dropReasonOf(c) : null;
    return reason === null ? null : { reason };
  },
  always: DROP_REASONS.map((reason) => ({ reason })),
};

export const SECURITY_BANS: CounterFamily<'reason'> = {
  name: 'trunkline_security_bans_total',
  help: `sources banned, by reason (${BAN_REASONS.join(', ')})`,
  labelNames: ['reason'],
  labelsOf: (c) => {
    const reason = c.startsWith('security_') ? banReasonOf(c) : null;
    return reason === null ? null : { reason };
  },
  always: BAN_REASONS.map((reason) => ({ reason })),
};
