/**
 * A trunk call's CDR as it ends (the media figures come after, in `extra`),
 * and its one log line: the outcome with the call's SID, no numbers beyond
 * what the CDR holds, no secrets.
 */
import type { Cdr, HangupSide } from '../trunking/model.js';
import type { B2buaLog } from './env.js';
import type { CallPlan } from './plan.js';

export interface EndedCall {
  callSid: string;
  plan: CallPlan;
  carrier: string | null;
  startAt: number;
  answerAt: number | null;
}

export function cdrOf(call: EndedCall, answered: boolean, status: number, reason: string, by: HangupSide): Cdr {
  const endAt = Date.now();
  return {
    callSid: call.callSid,
    account: call.plan.account,
    trunk: call.plan.trunk,
    carrier: call.carrier,
    direction: call.plan.direction,
    from: call.plan.from,
    to: call.plan.to,
    startAt: call.startAt,
    answerAt: call.answerAt,
    endAt,
    duration: answered && call.answerAt !== null ? Math.round((endAt - call.answerAt) / 1000) : 0,
    status: answered ? 200 : status,
    reason,
    hangupBy: by,
    extra: null,
    fromReceived: receivedText(call.plan.received.from),
    toReceived: receivedText(call.plan.received.to),
    emergency: call.plan.emergency,
  };
}

/** At most this much of a number as received goes into the CDR. */
const RECEIVED_MAX = 128;

/** A user part as received, for the CDR: cut to RECEIVED_MAX, null when none. */
export function receivedText(user: string | null): string | null {
  return user === null || user === '' ? null : user.slice(0, RECEIVED_MAX);
}

export function logCallEnded(log: B2buaLog, cdr: Cdr): void {
  log.info(
    {
      callSid: cdr.callSid,
      direction: cdr.direction,
      account: cdr.account,
      trunk: cdr.trunk,
      carrier: cdr.carrier,
      status: cdr.status,
      reason: cdr.reason,
      duration: cdr.duration,
      hangupBy: cdr.hangupBy,
      ...(cdr.emergency === true && { emergency: true, to: cdr.to }),
    },
    cdr.emergency === true ? 'emergency call ended' : 'call ended',
  );
}
