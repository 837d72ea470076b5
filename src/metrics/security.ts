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
 * not know yet), never addresses. The counters mapped here are not exported
 * again one by one (`exportedHere`).
 */
import type { Counters } from '../core/counters.js';

export const DROP_REASONS = ['banned', 'scanner', 'maxforwards', 'sanity', 'acl', 'lists', 'sqli', 'foreign-route', 'forged-dialog', 'other'] as const;
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

/** Whether a core counter is exported in one of the labelled counters here (and not on its own). */
export function exportedHere(counter: string): boolean {
  return dropReasonOf(counter) !== null || banReasonOf(counter) !== null;
}

/** Sums the core counters by reason: every reason present, 0 when nothing happened (a rate() needs the series from the start). */
export function securityTotals(counters: Counters): { drops: Record<DropReason, number>; bans: Record<BanReason, number> } {
  const drops = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
  const bans = Object.fromEntries(BAN_REASONS.map((r) => [r, 0])) as Record<BanReason, number>;
  for (const [name, value] of Object.entries(counters.snapshot())) {
    if (!name.startsWith('security_')) continue;
    const d = dropReasonOf(name);
    if (d !== null) drops[d] += value;
    const b = banReasonOf(name);
    if (b !== null) bans[b] += value;
  }
  return { drops, bans };
}
