/**
 * An example routing module (`routing.module`): compile it to JavaScript
 * (ESM) and name the .js file in the config. See docs/routing-module.md.
 *
 * - Calls to +447 (UK mobiles) from account `budget` may not go to a
 *   carrier dearer than 0.05 a minute: dearer candidates are dropped, and
 *   with none left the call is refused 403.
 * - A carrier whose ASR is under 30% (over at least 20 attempts) goes last.
 * - A PBX sending `X-Priority-Route: carrier-name` gets that carrier first.
 * - Every call leaves with `X-Customer-Account` naming the account.
 */
import type { RoutingCall, RoutingCandidate, RoutingDecision } from '../../src/trunking/routing-module.js';

const MAX_MOBILE_MICROS = 50_000; // 0.05 a minute

function poor(c: RoutingCandidate): boolean {
  const q = c.quality;
  return q !== null && q.attempts >= 20 && q.asr !== null && q.asr < 30;
}

function header(call: RoutingCall, name: string): string | undefined {
  return call.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}

export default function route(call: RoutingCall): RoutingDecision {
  let candidates = [...call.candidates];
  if (call.account === 'budget' && call.callee.number.startsWith('+447')) {
    candidates = candidates.filter((c) => c.rate !== null && c.rate.micros <= MAX_MOBILE_MICROS);
    if (candidates.length === 0) return { refuse: { status: 403, reason: 'Destination not in plan' } };
  }
  // Stable: the table's order among the good ones, then the poor ones.
  candidates.sort((a, b) => Number(poor(a)) - Number(poor(b)));
  const wanted = header(call, 'X-Priority-Route');
  const first = candidates.findIndex((c) => c.carrier === wanted);
  if (first > 0) candidates.unshift(...candidates.splice(first, 1));
  return {
    carriers: candidates.map((c) => c.carrier),
    headers: { 'X-Customer-Account': call.account },
  };
}
