import type { SipMessage } from '../sip/message.js';

/** 4xx codes a proxy prefers when the 4xx class is chosen (RFC 3261 16.7 step 6). */
const PREFERRED_4XX: ReadonlySet<number> = new Set([401, 407, 415, 420, 484]);

/**
 * Picks the response to send upstream from the final responses of all
 * branches (RFC 3261 16.7 step 6): a 6xx if any; else the lowest class
 * stored, preferring 401/407/415/420/484 within 4xx; else the first seen.
 */
export function chooseBest(finals: SipMessage[]): SipMessage | null {
  let best: SipMessage | null = null;
  for (const r of finals) {
    if (best === null) {
      best = r;
      continue;
    }
    const a = classRank(r.status);
    const b = classRank(best.status);
    if (a < b) best = r;
    else if (
      a === b &&
      Math.floor(r.status / 100) === 4 &&
      PREFERRED_4XX.has(r.status) &&
      !PREFERRED_4XX.has(best.status)
    )
      best = r;
  }
  return best;
}

/** Lower is better: 6xx first (it ends the search), then 2xx, 3xx, 4xx, 5xx. */
function classRank(status: number): number {
  const cls = Math.floor(status / 100);
  return cls === 6 ? 0 : cls;
}

/**
 * Whether a final response from one target lets a serial fork or a gateway
 * failover try the next one. Never for a callee's refusal (486, 603, most
 * 4xx: the callee said no, asking elsewhere would ring the same person or
 * defeat the refusal); yes for timeouts, 408 and server failures (500, 502,
 * 503, 504), where another target may well work.
 */
export function allowsFailover(status: number): boolean {
  return status === 408 || status === 500 || status === 502 || status === 503 || status === 504;
}
