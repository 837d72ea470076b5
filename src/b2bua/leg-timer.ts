import type { SipMessage } from '../sip/message.js';
import type { TimerHandle } from '../transaction/timer-wheel.js';
import type { Dialog } from '../dialog/dialog.js';
import type { Call, Side } from './call.js';
import {
  after422,
  expiryDelayMs,
  minSEof,
  outcomeAsUac,
  refreshDelayMs,
  requestTimerHeaders,
  sdpOrigin,
  timerHeadersOfResponse,
  type Negotiated,
  type TimerSettings,
} from './session-timer.js';

/** The SDP that last crossed the call, per side (call-timers.ts keeps it). */
export interface SdpMemory {
  /** Last taken from the side: its current session description. */
  from(side: Side): Buffer | null;
  /** Last written for the side: ours toward it. */
  to(side: Side): Buffer | null;
}

/** Our own INVITE on a leg: our refresh in progress ('sent'), or our 2xx to the peer's refresh waiting for its ACK ('answered'). */
export type LegInvite = 'none' | 'sent' | 'answered';

/** A refresh that cannot go now (an INVITE in progress on the call) is tried again after this long. */
const BUSY_RETRY_MS = 1000;
/** Refused refreshes tried again (491, 422, 500 with Retry-After...) in one refresh round, at most (RFC 4028 10: not endlessly). */
const MAX_TRIES = 4;

/**
 * The session timer of one leg of a call (RFC 4028): the leg's interval,
 * who refreshes it, and its two timers. Where we refresh, a refresh goes at
 * half the interval: an UPDATE without SDP when the peer allows UPDATE,
 * else a re-INVITE with the SDP last sent on the leg (unchanged, so the
 * same version: RFC 3264 8). Whoever refreshes, a session not refreshed
 * before its expiry (less min(32 s, interval/3), section 10) ends the call:
 * BYE to both legs, "Session timer expired" in the CDR.
 */
export class LegTimer {
  interval: number;
  /** Our Min-SE on the leg (raised by a 422, RFC 4028 7.3). */
  minSE: number;
  weRefresh = false;
  invite: LegInvite = 'none';
  /** The peer's Allow lists UPDATE (RFC 3311): refreshes go as UPDATE without SDP. */
  private update = false;
  private refreshTimer: TimerHandle | null = null;
  private expiryTimer: TimerHandle | null = null;
  private tries = 0;
  private stopped = false;

  constructor(
    private readonly call: Call,
    readonly side: Side,
    /** The leg's settings: what a peer's request is answered with (RFC 4028 9). */
    readonly settings: TimerSettings,
    private readonly sdp: SdpMemory,
  ) {
    this.interval = settings.interval;
    this.minSE = settings.minSE;
  }

  private get dialog(): Dialog | null {
    return this.side === 'a' ? this.call.a : this.call.b;
  }

  private get legName(): string {
    return this.side === 'a' ? 'caller' : 'callee';
  }

  /** The session was refreshed (a 2xx to a re-INVITE or UPDATE either way): the timers start over (RFC 4028 10). */
  refreshed(n: Negotiated): void {
    if (this.stopped) return;
    this.interval = n.interval;
    this.weRefresh = n.weRefresh;
    this.tries = 0;
    this.clearTimers();
    const wheel = this.call.env.wheel;
    if (n.weRefresh) this.refreshTimer = wheel.schedule(refreshDelayMs(n.interval), () => this.refresh());
    this.expiryTimer = wheel.schedule(expiryDelayMs(n.interval), () => this.expired());
  }

  /** What a message of the peer says it allows: UPDATE or not (a message without Allow changes nothing). */
  noteAllow(msg: SipMessage): void {
    if (!msg.has('Allow')) return;
    this.update = msg.getAll('Allow').some((m) => m.trim().toUpperCase() === 'UPDATE');
  }

  /** The session timer headers of a request of ours on this leg (RFC 4028 7.4): the interval, who refreshes, our Min-SE. */
  requestHeaders(): Array<[string, string]> {
    return requestTimerHeaders(this.interval, this.minSE, this.weRefresh);
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
  }

  private clearTimers(): void {
    const wheel = this.call.env.wheel;
    if (this.refreshTimer !== null) wheel.cancel(this.refreshTimer);
    if (this.expiryTimer !== null) wheel.cancel(this.expiryTimer);
    this.refreshTimer = this.expiryTimer = null;
  }

  private expired(): void {
    this.expiryTimer = null;
    if (this.stopped || this.call.state !== 'confirmed') return;
    this.call.env.counters.inc('b2bua_session_timer_expired');
    this.call.hangUp(`Session timer expired (${this.legName} leg)`);
  }

  private later(ms: number): void {
    if (this.refreshTimer !== null) this.call.env.wheel.cancel(this.refreshTimer);
    this.refreshTimer = this.call.env.wheel.schedule(ms, () => this.refresh());
  }

  /** Sends the leg's refresh (RFC 4028 7.4 and 10). */
  private refresh(): void {
    this.refreshTimer = null;
    const call = this.call;
    const env = call.env;
    const d = this.dialog;
    if (this.stopped || call.state !== 'confirmed' || d === null) return;
    const sdp = this.sdp.to(this.side);
    const method = this.update || sdp === null ? 'UPDATE' : 'INVITE';
    // RFC 3261 14.1: no INVITE of ours while another is in progress on the leg (a relayed one, the peer's).
    if (method === 'INVITE' && (this.invite !== 'none' || call.relay.inviteInProgress)) {
      this.later(BUSY_RETRY_MS);
      return;
    }
    const headers = this.requestHeaders();
    if (env.agentName !== null) headers.push(['User-Agent', env.agentName]);
    if (method === 'INVITE') headers.push(['Content-Type', 'application/sdp']);
    const req = d.request(method, method === 'INVITE' ? { headers, body: sdp! } : { headers });
    call.noteChange();
    if (method === 'INVITE') this.invite = 'sent';
    let ack: SipMessage | null = null;
    env.counters.inc('b2bua_session_refreshes_sent');
    env.layer.sendRequest(
      req,
      d.target,
      {
        onFinal: (res) => {
          ack = this.onFinal(req, res, d);
        },
        onRetransmitted2xx: () => {
          if (ack !== null) call.sendStateless(ack, d);
        },
        onTimeout: () => this.failed(req, 'no answer'),
        onTransportError: () => this.failed(req, 'transport error'),
      },
      d.flow ?? undefined,
    );
  }

  /** The final answer to our refresh; returns our ACK of a 2xx to a re-INVITE. */
  private onFinal(req: SipMessage, res: SipMessage, d: Dialog): SipMessage | null {
    const call = this.call;
    const status = res.status;
    const ok = status >= 200 && status < 300;
    let ack: SipMessage | null = null;
    if (req.method === 'INVITE') {
      this.invite = 'none';
      // RFC 3261 13.2.2.4: every 2xx to an INVITE is ACKed, even one that comes after the call ended.
      if (ok) call.sendStateless((ack = d.request('ACK', { seq: req.cseq.seq })), d);
    }
    if (this.stopped || call.state !== 'confirmed') return ack;
    if (ok) {
      d.refreshTarget(res);
      this.noteAllow(res);
      if (req.method === 'INVITE') this.checkAnswer(res);
      call.env.counters.inc('b2bua_session_refreshes_ok');
      this.refreshed(outcomeAsUac(timerHeadersOfResponse(res), { interval: this.interval, minSE: this.minSE }));
      return ack;
    }
    // RFC 4028 10: 408 and 481 end the dialog (RFC 3261 12.2.1.2); other refusals are retried as their code allows.
    if (status === 408 || status === 481) {
      this.failed(req, `${status} ${res.reason}`);
      return ack;
    }
    if (++this.tries <= MAX_TRIES && this.retry(req, res)) return ack;
    call.env.counters.inc('b2bua_session_refreshes_refused');
    call.env.log.warn(
      { callSid: call.callSid, leg: this.legName, method: req.method, status },
      'b2bua: session refresh refused; the call ends at the session expiry unless the peer refreshes it',
    );
    return ack;
  }

  /** A refusal that says how to try again: true when the refresh goes again (now or later). */
  private retry(req: SipMessage, res: SipMessage): boolean {
    const status = res.status;
    if (status === 491) {
      // RFC 3261 14.1: 2.1-4 s when we chose the leg's Call-ID (the callee's leg), else 0-2 s.
      const ownCallId = this.side === 'b';
      this.later(ownCallId ? 2100 + Math.floor(Math.random() * 190) * 10 : Math.floor(Math.random() * 200) * 10);
      return true;
    }
    if (status === 422) {
      const next = after422({ interval: this.interval, minSE: this.minSE }, minSEof(res));
      if (next === null) return false;
      this.interval = next.interval;
      this.minSE = next.minSE;
      this.later(0);
      return true;
    }
    if ((status === 405 || status === 501) && req.method === 'UPDATE' && this.sdp.to(this.side) !== null) {
      this.update = false;
      this.later(0);
      return true;
    }
    const after = Number(res.get('Retry-After')?.match(/^\s*(\d{1,6})/)?.[1] ?? NaN);
    if (status >= 500 && Number.isFinite(after) && after * 1000 < expiryDelayMs(this.interval)) {
      this.later(after * 1000);
      return true;
    }
    return false;
  }

  /** The refresh got no answer, a 408 or a 481: the call ends now (RFC 4028 10). */
  private failed(req: SipMessage, why: string): void {
    if (req.method === 'INVITE') this.invite = 'none';
    if (this.stopped || this.call.state !== 'confirmed') return;
    this.call.env.counters.inc('b2bua_session_refreshes_failed');
    this.call.hangUp(`Session refresh failed (${this.legName} leg): ${why}`);
  }

  /**
   * The answer to our refresh re-INVITE should be the peer's SDP unchanged
   * (RFC 3264 8: same version). A changed one is not carried to the media
   * engine (it answers the other leg's offers, not ours): counted and logged.
   */
  private checkAnswer(res: SipMessage): void {
    const call = this.call;
    const sdp = call.env.media.sdpOf(res);
    const before = this.sdp.from(this.side);
    if (sdp === null || before === null || sdpOrigin(sdp) === sdpOrigin(before)) return;
    call.env.counters.inc('b2bua_session_refresh_sdp_changed');
    call.env.log.warn(
      { callSid: call.callSid, leg: this.legName },
      'b2bua: the answer to a session refresh changed the SDP; the media goes on as negotiated before',
    );
  }
}
