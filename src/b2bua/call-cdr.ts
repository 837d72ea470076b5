/**
 * A trunk call's CDR as it ends (the media figures come after, in `extra`,
 * with the MOS estimated from them), and its one log line: the outcome with
 * the call's SID, no numbers beyond what the CDR holds, no secrets.
 */
import type { Cdr, HangupSide } from '../trunking/model.js';
import type { CallMediaStats } from '../media/engine.js';
import { callMos } from '../trunking/mos.js';
import type { B2buaLog } from './env.js';
import type { CallPlan } from './plan.js';
import { q850Of } from './q850.js';

export interface EndedCall {
  callSid: string;
  plan: CallPlan;
  carrier: string | null;
  /** The carrier gateway of the answering (or last) attempt. */
  gateway: string | null;
  startAt: number;
  answerAt: number | null;
  /** When the first ringing (18x) reached us, ms. */
  alertAt: number | null;
  /** The Reason header of the final answer or of the BYE that ended the call (RFC 3326). */
  endReason: string | null;
  /** The caller's dialog, and ours toward the callee (null: no attempt got that far). */
  a: { callId: string };
  b: { callId: string } | null;
}

export function cdrOf(call: EndedCall, answered: boolean, status: number, reason: string, by: HangupSide): Cdr {
  const endAt = Date.now();
  const finalStatus = answered ? 200 : status;
  const firstSign = call.alertAt ?? call.answerAt;
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
    status: finalStatus,
    reason,
    hangupBy: by,
    extra: null,
    fromReceived: receivedText(call.plan.received.from),
    toReceived: receivedText(call.plan.received.to),
    emergency: call.plan.emergency,
    gateway: call.gateway,
    pddMs: firstSign === null ? null : Math.max(0, firstSign - call.startAt),
    q850: q850Of(finalStatus, call.endReason),
    mos: null,
    aCallId: call.a.callId,
    bCallId: call.b?.callId ?? null,
    ringMs: call.alertAt === null ? null : Math.max(0, (call.answerAt ?? endAt) - call.alertAt),
    durationMs: answered && call.answerAt !== null ? Math.max(0, endAt - call.answerAt) : null,
  };
}

/** At most this much of a number as received goes into the CDR. */
const RECEIVED_MAX = 128;

/** A user part as received, for the CDR: cut to RECEIVED_MAX, null when none. */
export function receivedText(user: string | null): string | null {
  return user === null || user === '' ? null : user.slice(0, RECEIVED_MAX);
}

/** The MOS of a call from the `extra` the media link wrote (`{"media": CallMediaStats}`), or null. */
export function mosOfExtra(extra: string | null): number | null {
  if (extra === null) return null;
  try {
    const media = (JSON.parse(extra) as { media?: CallMediaStats }).media;
    return media?.aToB === undefined || media.bToA === undefined ? null : callMos(media);
  } catch {
    return null;
  }
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
