/**
 * The CDRs of transfers (transfers.ts): the call keeps its own CDR (its
 * SID, the party that stayed, from start to end), whose reason says it was
 * transferred and whose `extra` lists each transfer; each new leg a
 * transfer placed gets a CDR of its own, as a call planned the same way
 * would (its SID, trunk, carrier, numbers), from the transfer to the end of
 * that leg, `extra.transferOf` naming the call.
 */
import type { Cdr, HangupSide } from '../trunking/model.js';
import type { CallPlan } from './plan.js';

/** A transfer's new leg, from its INVITE to its end. */
export interface TransferLegRecord {
  plan: CallPlan;
  /** The call the leg joined. */
  transferOf: string;
  startAt: number;
  answerAt: number | null;
  /** The carrier that answered (or was last tried). */
  carrier: string | null;
}

/** One transfer of a call, as its CDR's `extra.transfers` lists it. */
export interface TransferNote {
  /** The Refer-To number. */
  to: string;
  /** The new leg's SID (its own CDR) and carrier. */
  callSid: string;
  carrier: string | null;
  /** Who asked: the caller's side or the callee's. */
  by: 'caller' | 'callee';
  at: number;
  /** An attended transfer: the target's call (its SID above) joined this one, no new leg. */
  attended?: true;
}

/** The CDR of a transfer's new leg, ended at `endAt` with this status and reason. */
export function transferLegCdr(
  rec: TransferLegRecord,
  end: { endAt: number; status: number; reason: string; hangupBy: HangupSide },
): Cdr {
  const p = rec.plan;
  const answered = rec.answerAt !== null && end.status >= 200 && end.status < 300;
  return {
    callSid: p.callSid,
    account: p.account,
    trunk: p.trunk,
    carrier: rec.carrier,
    direction: p.direction,
    from: p.from,
    to: p.to,
    startAt: rec.startAt,
    answerAt: answered ? rec.answerAt : null,
    endAt: end.endAt,
    duration: answered ? Math.round((end.endAt - rec.answerAt!) / 1000) : 0,
    status: end.status,
    reason: end.reason,
    hangupBy: end.hangupBy,
    extra: JSON.stringify({ transferOf: rec.transferOf }),
  };
}

/** A CDR's `extra` (JSON text or null) with more keys. */
export function withNotes(extra: string | null, notes: Record<string, unknown>): string {
  let base: Record<string, unknown> = {};
  if (extra !== null) {
    try {
      const parsed: unknown = JSON.parse(extra);
      base = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : { value: parsed };
    } catch {
      base = { value: extra };
    }
  }
  return JSON.stringify({ ...base, ...notes });
}
