/**
 * The call events the B2BUA publishes on the event bus (src/core/events.ts),
 * built in one place: the live stream, the metrics (src/api/trunking-ops.ts)
 * and HEP correlation read them there.
 */
import type { EventPayloads } from '../core/events.js';
import type { Cdr } from '../trunking/model.js';
import type { AnsweredAttempt } from './plan.js';

/** `call.ended` for a call's CDR (answered: a 2xx final status; else failed). */
export function callEnded(cdr: Cdr): EventPayloads['call.ended'] {
  return {
    callSid: cdr.callSid,
    disposition: cdr.status >= 200 && cdr.status < 300 ? 'answered' : 'failed',
    status: cdr.status,
    reason: cdr.reason,
    hangupBy: cdr.hangupBy,
    durationMs: cdr.answerAt === null ? 0 : cdr.endAt - cdr.answerAt,
    direction: cdr.direction,
    ...(cdr.trunk !== null && { trunk: cdr.trunk }),
    ...(cdr.carrier !== null && { carrier: cdr.carrier }),
    ...(cdr.gateway != null && { gateway: cdr.gateway }),
    ...(cdr.pddMs != null && { pddMs: cdr.pddMs }),
    ...(cdr.q850 != null && { q850: cdr.q850 }),
    ...(cdr.mos != null && { mos: cdr.mos }),
  };
}

/** `call.attempt` for the attempt that answered, once its call ended (duration and MOS known); null when none did. */
export function answeredAttempt(a: AnsweredAttempt | null, cdr: Cdr): EventPayloads['call.attempt'] | null {
  if (a === null || cdr.answerAt === null) return null;
  return {
    callSid: cdr.callSid,
    carrier: a.carrier,
    gateway: a.gateway,
    status: 200,
    ...(a.pddMs !== null && { pddMs: a.pddMs }),
    durationMs: cdr.endAt - cdr.answerAt,
    ...(cdr.mos != null && { mos: cdr.mos }),
  };
}
