import type { SipMessage } from '../sip/message.js';
import { createResponse } from '../sip/response.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { Call, Side } from './call.js';
import type { B2buaEnv } from './env.js';
import type { CallPlan } from './plan.js';
import { LegTimer, type SdpMemory } from './leg-timer.js';
import {
  after422,
  answerAsUas,
  minSEof,
  outcomeAsUac,
  refreshesSession,
  requestTimerHeaders,
  responseTimerHeaders,
  sdpOrigin,
  SessionTimerHeaderError,
  timerHeadersOf,
  timerHeadersOfResponse,
  withoutTimerHeaders,
  type TimerHeaders,
  type TimerSettings,
  type UasAnswer,
} from './session-timer.js';

/** An answer to an initial INVITE refused for its session timer headers (RFC 4028 6, 9). */
export interface TimerRefusal {
  status: number;
  reason: string;
  headers: Array<[string, string]>;
}

/** The trunk or carrier of a side of a call: the caller's (a) or the callee's (b, its current attempt's carrier when outbound). */
function legOf(plan: CallPlan, side: Side, carrier: string | null): { kind: 'trunk' | 'carrier'; name: string | null } {
  const trunkSide: Side = plan.direction === 'outbound' ? 'a' : 'b';
  if (side === trunkSide) return { kind: 'trunk', name: plan.trunk };
  return { kind: 'carrier', name: plan.direction === 'inbound' ? (plan.attempts[0]?.carrier ?? null) : carrier };
}

function settingsOf(env: B2buaEnv, plan: CallPlan, side: Side, carrier: string | null): TimerSettings | null {
  const l = legOf(plan, side, carrier);
  return env.sessionTimers?.forLeg(l.kind, l.name) ?? null;
}

/**
 * The caller's INVITE checked before any leg is tried: 400 for a
 * Session-Expires or Min-SE that does not read, 422 with our Min-SE for
 * an interval below it (RFC 4028 6, 9); null when the call may go on.
 */
export function refuseForTimer(env: B2buaEnv, plan: CallPlan, invite: SipMessage): TimerRefusal | null {
  const s = settingsOf(env, plan, 'a', null);
  if (s === null) return null;
  let h: TimerHeaders;
  try {
    h = timerHeadersOf(invite);
  } catch (err) {
    if (!(err instanceof SessionTimerHeaderError)) throw err;
    return { status: 400, reason: `Bad ${err.header}`, headers: [] };
  }
  const a = answerAsUas(h, s);
  if (a.kind === 'accept') return null;
  return { status: 422, reason: 'Session Interval Too Small', headers: [['Min-SE', String(a.minSE)]] };
}

/**
 * The session timers of one call, one per leg (RFC 4028: each leg is a
 * session of its own, negotiated and refreshed on its own): Session-Expires
 * and Min-SE never cross; each leg gets ours. The hooks the call, the
 * callee search and the in-dialog relay call, in the order of a call:
 * inviteHeaders / after422 (the callee's INVITE), calleeAnswered and
 * callerAnswered (each leg's timer starts), then, inside the call,
 * takeRequest (a peer's refresh answered here, not relayed), toward and
 * answered (a relayed re-INVITE or UPDATE refreshes both legs).
 */
export class CallTimers implements SdpMemory {
  private readonly legs: Record<Side, LegTimer | null> = { a: null, b: null };
  /** Our 2xx to the caller's INVITE (RFC 4028 9), decided once. */
  private answerA: UasAnswer | null = null;
  /** The interval and Min-SE asked of the callee in the current attempt (a 422 raises them). */
  private askedB: { interval: number; minSE: number } | null = null;
  private readonly lastFrom: Partial<Record<Side, Buffer>> = {};
  private readonly lastTo: Partial<Record<Side, Buffer>> = {};

  private constructor(private readonly call: Call) {
    call.env.media.watch(call.callSid, (from, taken, written) => {
      this.lastFrom[from] = taken;
      this.lastTo[from === 'a' ? 'b' : 'a'] = written;
    });
  }

  /** The call's timers; null when no leg may run one (the call behaves as without session timers). */
  static of(call: Call): CallTimers | null {
    return call.env.sessionTimers?.anyEnabled === true ? new CallTimers(call) : null;
  }

  from(side: Side): Buffer | null {
    return this.lastFrom[side] ?? null;
  }

  to(side: Side): Buffer | null {
    return this.lastTo[side] ?? null;
  }

  private settings(side: Side): TimerSettings | null {
    return settingsOf(this.call.env, this.call.plan, side, this.call.carrier);
  }

  /** Headers crossing to the other leg, without the session timer ones. */
  crossing(headers: Array<[string, string]>): Array<[string, string]> {
    return withoutTimerHeaders(headers);
  }

  // ---- the callee's INVITE and the answers ---------------------------------------------

  /** Our Supported: timer, Session-Expires and Min-SE for an attempt's INVITE (RFC 4028 7.1; no refresher: the callee may choose). */
  inviteHeaders(): Array<[string, string]> {
    const s = this.settings('b');
    this.askedB = s === null ? null : { interval: s.interval, minSE: s.minSE };
    return s === null ? [] : requestTimerHeaders(s.interval, s.minSE, null);
  }

  /** A 422 from the callee (RFC 4028 7.3): the INVITE's headers to ask again with, the interval raised; null to give up. */
  after422(res: SipMessage, previous: Array<[string, string]>): Array<[string, string]> | null {
    if (this.askedB === null) return null;
    const next = after422(this.askedB, minSEof(res));
    if (next === null) return null;
    this.askedB = next;
    this.call.env.counters.inc('b2bua_session_422_retries');
    return [...withoutTimerHeaders(previous), ...requestTimerHeaders(next.interval, next.minSE, null)];
  }

  /** The callee's 2xx: its leg's timer starts, as the 2xx says (RFC 4028 7.2). */
  calleeAnswered(res: SipMessage): void {
    const s = this.settings('b');
    if (s === null || this.askedB === null) return;
    const leg = new LegTimer(this.call, 'b', s, this);
    leg.minSE = this.askedB.minSE;
    leg.noteAllow(res);
    this.legs.b = leg;
    leg.refreshed(outcomeAsUac(timerHeadersOfResponse(res), this.askedB));
  }

  /** Headers of our response to the caller's INVITE: those of the callee's without the timer ones; on the 2xx, ours (RFC 4028 9). */
  toCaller(status: number, headers: Array<[string, string]>): Array<[string, string]> {
    const out = withoutTimerHeaders(headers);
    if (status < 200 || status >= 300) return out;
    const a = this.callerAnswer();
    if (a !== null) out.push(...responseTimerHeaders(a));
    return out;
  }

  /** Our 2xx goes to the caller: its leg's timer starts. */
  callerAnswered(): void {
    const s = this.settings('a');
    const a = this.callerAnswer();
    if (s === null || a === null || this.legs.a !== null) return;
    const leg = new LegTimer(this.call, 'a', s, this);
    leg.noteAllow(this.call.aInvite);
    this.legs.a = leg;
    leg.refreshed(a);
  }

  private callerAnswer(): Extract<UasAnswer, { kind: 'accept' }> | null {
    const s = this.settings('a');
    if (s === null) return null;
    if (this.answerA === null) {
      let h: TimerHeaders = { supported: false, se: null, minSE: null };
      try {
        h = timerHeadersOf(this.call.aInvite);
      } catch {
        // Refused before the call started (refuseForTimer): not reached.
      }
      this.answerA = answerAsUas(h, s);
    }
    return this.answerA.kind === 'accept' ? this.answerA : null;
  }

  // ---- inside the call ------------------------------------------------------------------

  /**
   * A re-INVITE or UPDATE of a peer, before the relay: true when answered
   * here. Its session timer headers are checked (400, 422: RFC 4028 9); one
   * that only refreshes the session (an UPDATE without SDP, or SDP whose
   * origin line is the one its side last gave: unchanged, RFC 3264 8) is
   * answered on its own leg with our SDP of that leg, unchanged; the other
   * leg never sees it. An INVITE that would cross an INVITE of ours on a leg
   * gets 491 (RFC 3261 14.2). Anything else goes to the relay.
   */
  takeRequest(side: Side, req: SipMessage, tx: ServerTransaction): boolean {
    const call = this.call;
    const d = side === 'a' ? call.a : call.b;
    if (!refreshesSession(req.method) || d === null || call.state !== 'confirmed') return false;
    // Out of order: the relay answers it (500).
    if (d.remoteSeq !== null && req.cseq.seq <= d.remoteSeq) return false;
    const answer = (status: number, reason?: string, headers: Array<[string, string]> = []): true => {
      d.acceptRemoteSeq(req.cseq.seq, req.method);
      if (call.env.agentName !== null) headers.push(['Server', call.env.agentName]);
      tx.respond(createResponse(req, status, { headers, ...(reason !== undefined && { reason }) }));
      return true;
    };
    const leg = this.legs[side];
    const other = this.legs[side === 'a' ? 'b' : 'a'];
    let accepted: Extract<UasAnswer, { kind: 'accept' }> | null = null;
    if (leg !== null) {
      let h: TimerHeaders;
      try {
        h = timerHeadersOf(req);
      } catch (err) {
        if (!(err instanceof SessionTimerHeaderError)) throw err;
        return answer(400, `Bad ${err.header}`);
      }
      const a = answerAsUas(h, leg.settings);
      if (a.kind === 'too-small') return answer(422, 'Session Interval Too Small', [['Min-SE', String(a.minSE)]]);
      accepted = a;
    }
    const invite = req.method === 'INVITE';
    if (invite && leg?.invite === 'sent') return answer(491);
    if (invite && leg?.invite === 'answered')
      return answer(500, 'Request Pending', [['Retry-After', String(1 + Math.floor(Math.random() * 5))]]);
    if (leg === null || accepted === null || !this.onlyRefreshes(side, req)) {
      // To be relayed: not across an INVITE of ours on the other leg.
      if (invite && other !== null && other.invite !== 'none') return answer(491);
      return false;
    }
    // One INVITE at a time across the call: the relay answers 491 or 500.
    if (invite && call.relay.inviteInProgress) return false;
    this.answerRefresh(leg, side, req, tx, accepted);
    return true;
  }

  /** An UPDATE without SDP, or an SDP unchanged since its side last gave it (and ours toward it known). */
  private onlyRefreshes(side: Side, req: SipMessage): boolean {
    if (req.body.length === 0) return req.method === 'UPDATE';
    const media = this.call.env.media;
    const sdp = media.sdpOf(req);
    const before = this.from(side);
    if (sdp === null || before === null || this.to(side) === null) return false;
    const origin = sdpOrigin(sdp);
    return origin !== null && origin === sdpOrigin(before);
  }

  /** Our 2xx to a peer's refresh on its own leg: our timer headers, our Contact, our SDP of that leg unchanged. */
  private answerRefresh(
    leg: LegTimer,
    side: Side,
    req: SipMessage,
    tx: ServerTransaction,
    a: Extract<UasAnswer, { kind: 'accept' }>,
  ): void {
    const call = this.call;
    const d = side === 'a' ? call.a : call.b!;
    d.acceptRemoteSeq(req.cseq.seq, req.method);
    d.refreshTarget(req);
    leg.noteAllow(req);
    const headers: Array<[string, string]> = [...responseTimerHeaders(a), ['Contact', d.contact]];
    if (call.env.agentName !== null) headers.push(['Server', call.env.agentName]);
    const sdp = req.body.length > 0 ? this.to(side) : null;
    if (sdp !== null) headers.push(['Content-Type', 'application/sdp']);
    const res = createResponse(req, 200, { headers, ...(sdp !== null && { body: sdp }) });
    call.env.counters.inc('b2bua_session_refreshes_answered');
    leg.refreshed(a);
    if (req.method !== 'INVITE') {
      tx.respond(res);
      return;
    }
    leg.invite = 'answered';
    call.answerWithRetransmit(side, res, tx, () => {
      leg.invite = 'none';
    });
  }

  /** Headers of a re-INVITE or UPDATE relayed toward a leg: the crossing ones without timer headers, the leg's own (RFC 4028 7.4). */
  toward(side: Side, method: string, headers: Array<[string, string]>): Array<[string, string]> {
    const out = withoutTimerHeaders(headers);
    const leg = this.legs[side];
    if (leg !== null && refreshesSession(method)) out.push(...leg.requestHeaders());
    return out;
  }

  /** The far leg's 2xx to a relayed re-INVITE or UPDATE: that leg's session is refreshed (RFC 4028 7.2). */
  relayedAnswered(side: Side, method: string, res: SipMessage): void {
    const leg = this.legs[side];
    if (leg === null || !refreshesSession(method)) return;
    leg.noteAllow(res);
    leg.refreshed(outcomeAsUac(timerHeadersOfResponse(res), { interval: leg.interval, minSE: leg.minSE }));
  }

  /**
   * Headers of the response to a relayed request, toward the leg it came
   * from: the far side's without timer headers; on a 2xx to a re-INVITE or
   * UPDATE, ours (RFC 4028 9), and that leg's session is refreshed.
   */
  answered(side: Side, req: SipMessage, status: number, headers: Array<[string, string]>): Array<[string, string]> {
    const out = withoutTimerHeaders(headers);
    const leg = this.legs[side];
    if (leg === null || status < 200 || status >= 300 || !refreshesSession(req.method)) return out;
    let h: TimerHeaders = { supported: false, se: null, minSE: null };
    try {
      h = timerHeadersOf(req);
    } catch {
      // Checked by takeRequest before the relay: not reached.
    }
    const a = answerAsUas(h, leg.settings);
    if (a.kind !== 'accept') return out;
    leg.noteAllow(req);
    leg.refreshed(a);
    out.push(...responseTimerHeaders(a));
    return out;
  }

  /** A leg taken over by a new dialog (a transfer, transfers.ts): its timer is `leg` from now on (null: none). */
  replaceLeg(side: Side, leg: LegTimer | null): void {
    this.legs[side]?.stop();
    this.legs[side] = leg;
  }

  /** The call ended: no more refreshes, no expiry. */
  stop(): void {
    this.legs.a?.stop();
    this.legs.b?.stop();
  }
}
