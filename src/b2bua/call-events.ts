/**
 * The call events the B2BUA publishes on the event bus (src/core/events.ts),
 * built in one place: the live stream, the metrics (src/api/trunking-ops.ts)
 * and HEP correlation read them there.
 */
import type { EventPayloads } from '../core/events.js';
import type { Cdr } from '../trunking/model.js';

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
  };
}
