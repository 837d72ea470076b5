import type { SipMessage } from '../sip/message.js';
import {
  againHeaders,
  attemptDialog,
  sendStatelessBytes,
  StrayAnswers,
  strayOrigin,
  type StrayOrigin,
} from './uac-leg.js';
import { serializeUnpooled } from '../sip/serializer.js';
import type { Target } from '../transaction/types.js';
import type { ProbeCancel } from '../transport/udp-probe.js';
import type { TransportError } from '../transport/transport-error.js';
import type { ClientTransaction, ClientHandlers } from '../transaction/client-transaction.js';
import type { TimerHandle } from '../transaction/timer-wheel.js';
import { allowsFailover } from '../proxy/best-response.js';
import { buildCancel } from '../proxy/cancel.js';
import type { SipInterface } from '../dialog/interfaces.js';
import { newLegSid } from '../dialog/sid.js';
import { applyHeaderRule, relayedRequestHeaders } from './headers.js';
import { withSupported100rel } from './rel100.js';
import { answerChallenge } from './uac-auth.js';
import type { LegAttempt } from './plan.js';
import type { Call } from './call.js';
import type { LegMediaOptions } from '../media/engine.js';

/** Handlers of a request whose outcome nobody waits for (BYE, CANCEL). */
export const NO_HANDLERS: ClientHandlers = { onFinal() {}, onTimeout() {}, onTransportError() {} };

/**
 * The search for the callee: the call's plan tried attempt after attempt
 * (gateways in order) until one answers, a refusal ends the search, or the
 * caller cancels. Each attempt is a new dialog with its own INVITE; within
 * one, a carrier's challenge is answered once with its credentials (RFC 3261
 * 22.2) and an SRTP offer refused with 488 is offered again once as RTP. A
 * gateway that sends nothing within the gateway timeout, refuses the
 * connect or is unreachable (ICMP, UDP probe) is passed over at once; a
 * callee that rings past the ring timeout is cancelled (408 to the caller).
 */
export class CalleeSearch {
  private attemptIndex = -1;
  /** The current attempt's INVITE transaction and request; null between attempts (the request also once the call ended). */
  private tx: ClientTransaction | null = null;
  private invite: SipMessage | null = null;
  /** The CSeq of the current attempt's INVITE (kept when the request is let go). */
  private inviteSeq = 0;
  private authTried = false;
  /** This attempt's SRTP offer was refused with 488 and sent again as RTP (once per attempt). */
  private rtpRetried = false;
  /** A CANCEL waits for the first provisional (RFC 3261 9.1). */
  private cancelWanted = false;
  private gotResponse = false;
  private gatewayTimer: TimerHandle | null = null;
  /** Cancels the UDP port probe of the current attempt (it ends with the gateway timer). */
  private stopProbe: ProbeCancel | null = null;
  private ringTimer: TimerHandle | null = null;
  /**
   * The CSeq of the INVITE the callee answered, and our ACK of its 2xx as
   * bytes, sent again for each retransmission of it (RFC 3261 13.2.2.4).
   */
  private answeredSeq = 0;
  private ackBytes: Buffer | null = null;
  /** The current attempt toward a carrier gateway: when its first INVITE went, its post-dial delay; null once reported. */
  private timing: { attempt: LegAttempt; gateway: string; sentAt: number; pddMs: number | null } | null = null;
  /** The current carrier attempt's place in its carrier's and gateway's capacity (released when it ends unanswered, or with the call). */
  private place: (() => void) | null = null;

  /** 2xx answers of attempts given up, and second dialogs forked from the answered one. */
  private readonly strays: StrayAnswers;

  constructor(private readonly call: Call) {
    this.strays = new StrayAnswers(call.env);
  }

  start(): void {
    this.nextAttempt(503, 'Service Unavailable');
  }

  /** Starts the next attempt, or ends the call with `status` when none is left. */
  private nextAttempt(status: number, reason: string): void {
    const failed = this.call.plan.attempts[this.attemptIndex];
    this.attemptIndex++;
    const attempt = this.call.plan.attempts[this.attemptIndex];
    if (attempt === undefined || this.call.cancelled) {
      this.call.failCall(status, reason);
      return;
    }
    // One line per failover (none for the first attempt): the call-ended line names only the last carrier tried.
    if (failed !== undefined)
      this.call.env.log.info(
        {
          callSid: this.call.callSid,
          failed: failed.gateway ?? failed.requestUri,
          status,
          reason,
          next: attempt.gateway ?? attempt.requestUri,
        },
        'b2bua: attempt failed, the next one follows',
      );
    void this.sendAttempt(attempt);
  }

  private hasNextAttempt(): boolean {
    return this.attemptIndex + 1 < this.call.plan.attempts.length;
  }

  private async sendAttempt(attempt: LegAttempt): Promise<void> {
    const call = this.call;
    const env = call.env;
    const route = await this.routeOf(attempt);
    if (call.isOver()) return;
    if (route === null) {
      env.counters.inc('b2bua_attempts_unroutable');
      this.nextAttempt(503, 'Unresolvable destination');
      return;
    }
    if (!this.takePlace(attempt)) {
      // The carrier or the gateway is at its capacity: the call overflows to the next.
      env.counters.inc('b2bua_capacity_overflows');
      this.nextAttempt(503, 'Capacity reached');
      return;
    }
    const { target, iface } = route;
    call.carrier = attempt.carrier;
    call.gateway = attempt.gateway;
    call.legSidB = newLegSid();
    // Each leg's media on its own network's address.
    env.media.setSides(call.callSid, call.a.iface.media, iface.media);
    const b = attemptDialog(attempt, iface, target);
    call.bindLeg(b);
    this.authTried = false;
    this.rtpRetried = false;
    this.gotResponse = false;
    const headers = this.headersOf(attempt, call.legSidB);
    // The caller's offer, anchored for this leg's trunk or carrier (each attempt may want another profile).
    call.mediaB = attempt.media;
    let body = call.aInvite.body;
    const offer = env.media.sdpOf(call.aInvite);
    if (offer !== null) {
      try {
        body = await env.media.offer(call.callSid, 'a', offer, attempt.media);
      } catch (err) {
        call.mediaFailed(err);
        return;
      }
      if (call.isOver()) return;
    }
    const mf = call.aInvite.maxForwards;
    this.timing =
      attempt.gateway === null ? null : { attempt, gateway: attempt.gateway, sentAt: Date.now(), pddMs: null };
    // A B2BUA still counts hops, so that two of them cannot loop a call forever.
    this.sendInvite(
      b.request('INVITE', { headers, body, maxForwards: mf === null ? 70 : Math.max(0, mf - 1) }),
      attempt,
    );
  }

  /** Where the attempt goes (RFC 3263) and our interface toward it; null when unresolvable or we do not listen on its transport. */
  private async routeOf(attempt: LegAttempt): Promise<{ target: Target; iface: SipInterface } | null> {
    const env = this.call.env;
    let targets: Target[];
    try {
      targets = await env.locate(attempt.hop);
    } catch {
      targets = []; // DNS failed (NXDOMAIN, timeout): no target, the next attempt is tried
    }
    if (this.call.isOver()) return null;
    // The kernel's route toward a new gateway decides our interface (listeners on several networks).
    const ready = env.interfaces.prepare(targets.slice(0, 1));
    if (ready !== null) await ready;
    const target = targets[0];
    const iface = target === undefined ? null : env.interfaces.forProto(target.proto, target.host);
    return target === undefined || iface === null ? null : { target, iface };
  }

  /** The attempt's INVITE headers: the caller's that may cross, the attempt's own, the leg SID, through the leg's header rule. */
  private headersOf(attempt: LegAttempt, legSid: string): Array<[string, string]> {
    const call = this.call;
    // Each leg does its own reliable provisionals (RFC 3262): offered toward the callee, required only by a header rule.
    const relayed = relayedRequestHeaders(call.aInvite);
    const timers = call.timers;
    const crossing = timers === null ? relayed : timers.crossing(relayed);
    const base: Array<[string, string]> = [
      ...(call.early.offerToCallee() ? withSupported100rel(crossing) : crossing),
      ...attempt.headers,
      ...(timers?.inviteHeaders() ?? []),
    ];
    if (call.plan.legSidHeader) base.push(['X-Leg-Sid', legSid]);
    if (call.env.agentName !== null) base.push(['User-Agent', call.env.agentName]);
    return applyHeaderRule(base, call.aInvite, attempt.rule);
  }

  private sendInvite(invite: SipMessage, attempt: LegAttempt): void {
    const env = this.call.env;
    const target = this.call.b!.target;
    this.invite = invite;
    this.inviteSeq = invite.cseq.seq;
    env.counters.inc('b2bua_invites_sent');
    this.tx = env.layer.sendRequest(invite, target, this.handlers(attempt, strayOrigin(this.call.b!, invite.cseq.seq)));
    this.clearTimer('gateway');
    // UDP does not say that nothing listens there: a probe hears the ICMP port unreachable, and the
    // next gateway is tried at once, as after a refused TCP/TLS connect (onTransportError). Carrier
    // gateways only: a customer's contact may sit behind a NAT that answers a packet from another
    // port with an ICMP of its own while the PBX behind it is fine.
    if (target.proto === 'udp' && attempt.gateway !== null && env.probeUdp !== undefined) {
      const tx = this.tx;
      this.stopProbe = env.probeUdp(target, (err) => {
        if (tx !== this.tx || this.gotResponse) return;
        tx.terminate();
        this.tx = null;
        this.onUnreachable(err, attempt);
      });
    }
    this.gatewayTimer = env.wheel.schedule(env.timers.gatewayTimeoutMs, () => {
      this.gatewayTimer = null;
      // Not even a 100 Trying: this gateway is gone; the next one (its transaction is let go).
      if (!this.gotResponse && !this.call.isOver()) {
        this.attemptFailed(408);
        env.counters.inc('b2bua_gateway_timeouts');
        this.tx = null;
        this.nextAttempt(408, 'Request Timeout');
      }
    });
  }

  /** The INVITE's handlers: those of an abandoned attempt's transaction only hang up a late 2xx. */
  private handlers(attempt: LegAttempt, origin: StrayOrigin): ClientHandlers {
    return {
      onProvisional: (res, tx) => {
        if (tx === this.tx) this.onProvisional(res);
      },
      onFinal: (res, tx) => {
        if (tx === this.tx) this.onFinal(res, attempt);
        else if (res.status >= 200 && res.status < 300) this.strays.hangUp(res, tx, origin);
      },
      onRetransmitted2xx: (res, tx) => {
        if (tx === this.tx && res.toTag === this.call.b?.remoteTag) this.resendAck();
        else this.strays.hangUp(res, tx, origin);
      },
      onTimeout: (tx) => {
        if (tx === this.tx) this.onFailure(408, 'Request Timeout');
      },
      onTransportError: (tx, err) => {
        if (tx === this.tx) this.onUnreachable(err, attempt);
      },
    };
  }

  private onProvisional(res: SipMessage): void {
    const call = this.call;
    this.gotResponse = true;
    this.clearTimer('gateway');
    if (this.cancelWanted) this.cancel();
    if (res.status > 100) this.notePdd();
    if (res.status === 100 || call.isOver()) return;
    // A reliable provisional is PRACKed on this leg; its retransmissions go no further (RFC 3262 4).
    if (!call.early.fromCallee(res, this.tx?.flow ?? null)) return;
    if (this.ringTimer === null) {
      this.ringTimer = call.env.wheel.schedule(call.env.timers.ringTimeoutMs, () => {
        this.ringTimer = null;
        if (call.state === 'early' || call.state === 'trying') {
          call.env.counters.inc('b2bua_ring_timeouts');
          call.abandon();
          call.failCall(408, 'No Answer');
        }
      });
    }
    call.relayProvisional(res);
  }

  private onFinal(res: SipMessage, attempt: LegAttempt): void {
    const call = this.call;
    this.gotResponse = true;
    this.clearTimer('gateway');
    const status = res.status;
    if (status >= 200 && status < 300) {
      this.onAnswered(res);
      return;
    }
    if (call.state === 'ended') {
      this.attemptFailed(status);
      return;
    }
    if ((status === 401 || status === 407) && this.answerChallenge(res, attempt)) return;
    if (status === 422 && this.retryAfter422(res, attempt)) return;
    if (status === 488 && this.canRetryAsRtp(attempt)) {
      this.rtpRetried = true;
      call.serial(() => this.retryAsRtp(attempt));
      return;
    }
    this.attemptFailed(status);
    if (!call.cancelled && allowsFailover(status) && this.hasNextAttempt()) {
      call.env.counters.inc('b2bua_failovers');
      this.nextAttempt(status, res.reason);
      return;
    }
    if (!call.cancelled && (status === 401 || status === 407) && this.hasNextAttempt()) {
      // Our credentials were refused by this carrier: another carrier may take the call.
      this.nextAttempt(status, res.reason);
      return;
    }
    call.failCall(status, res.reason, res);
  }

  /** RFC 3261 22.2: the same request again with credentials, the next CSeq, a new branch (once per attempt). True when sent. */
  private answerChallenge(res: SipMessage, attempt: LegAttempt): boolean {
    const previous = this.invite!;
    if (attempt.credentials === null || this.authTried || this.call.cancelled) return false;
    const answer = answerChallenge(res, 'INVITE', previous.requestUri, attempt.credentials);
    if (answer === null) return false;
    this.authTried = true;
    this.call.env.counters.inc('b2bua_carrier_auth');
    const headers = againHeaders(previous);
    headers.push(answer);
    this.sendInvite(
      this.call.b!.request('INVITE', { headers, body: previous.body, maxForwards: previous.maxForwards ?? 70 }),
      attempt,
    );
    return true;
  }

  /** RFC 4028 7.3: a 422 to our Session-Expires: the same INVITE again, the next CSeq, the interval raised to its Min-SE. */
  private retryAfter422(res: SipMessage, attempt: LegAttempt): boolean {
    const previous = this.invite!;
    const headers = this.call.cancelled ? null : (this.call.timers?.after422(res, againHeaders(previous)) ?? null);
    if (headers === null) return false;
    this.authTried = false;
    this.sendInvite(
      this.call.b!.request('INVITE', { headers, body: previous.body, maxForwards: previous.maxForwards ?? 70 }),
      attempt,
    );
    return true;
  }

  /** A 488 to an SRTP offer made as offered (`--media any`): once per attempt, the same gateway gets it again as RTP. */
  private canRetryAsRtp(attempt: LegAttempt): boolean {
    const media = this.call.env.media;
    if (this.call.cancelled || this.rtpRetried || attempt.media.profile !== 'as-offered' || !media.active) return false;
    const sent = this.invite === null ? null : media.sdpOf(this.invite);
    return sent !== null && offersSrtp(sent);
  }

  /** After the media steps before it (a 183's answer); a media refusal ends the call as any media step does. */
  private async retryAsRtp(attempt: LegAttempt): Promise<void> {
    const call = this.call;
    const env = call.env;
    if (call.isOver()) return;
    const b = call.b!;
    const previous = this.invite!;
    const media: LegMediaOptions = { ...attempt.media, profile: 'RTP/AVP' };
    call.mediaB = media;
    env.counters.inc('b2bua_rtp_retries');
    env.log.info(
      { callSid: call.callSid, carrier: attempt.carrier },
      'b2bua: SRTP offer refused with 488, offered again as RTP',
    );
    const body = await env.media.offer(call.callSid, 'a', env.media.sdpOf(call.aInvite)!, media);
    if (call.isOver()) return;
    // A new INVITE of the same dialog attempt, the next CSeq (as for credentials, RFC 3261 22.2); a challenge may be answered again.
    this.authTried = false;
    this.sendInvite(
      b.request('INVITE', { headers: againHeaders(previous), body, maxForwards: previous.maxForwards ?? 70 }),
      attempt,
    );
  }

  /**
   * The INVITE did not reach the callee (RFC 3263 4.3: as after a 503, the next
   * gateway at once). Nothing listening at a carrier gateway (a refused connect,
   * an ICMP port unreachable over UDP) is counted as b2bua_gateway_unreachable.
   */
  private onUnreachable(err: TransportError, attempt: LegAttempt): void {
    if (err.code === 'connect-refused' && attempt.gateway !== null)
      this.call.env.counters.inc('b2bua_gateway_unreachable');
    this.onFailure(503, 'Service Unavailable');
  }

  /** No answer (timeout), a refused connect or an unreachable gateway: the next attempt, else the call fails. */
  private onFailure(status: number, reason: string): void {
    this.clearTimer('gateway');
    this.attemptFailed(status);
    if (this.call.isOver()) return;
    if (this.hasNextAttempt()) {
      this.call.env.counters.inc('b2bua_failovers');
      this.nextAttempt(status, reason);
      return;
    }
    this.call.failCall(status, reason);
  }

  /** The callee answered: its dialog confirmed (RFC 3261 12.1.2); the call takes it on, unless it is over (then ACK and BYE). */
  private onAnswered(res: SipMessage): void {
    const call = this.call;
    const b = call.b!;
    b.confirm(res);
    this.notePdd();
    const t = this.timing;
    if (t !== null && t.attempt.carrier !== null)
      call.answeredAttempt = { carrier: t.attempt.carrier, gateway: t.gateway, pddMs: t.pddMs };
    this.timing = null;
    if (this.tx?.flow && this.tx.flow.proto !== 'udp') b.flow = this.tx.flow;
    this.answeredSeq = this.inviteSeq;
    if (call.isOver()) {
      // The caller gave up first: this answer is acknowledged and hung up at once.
      this.ackCallee();
      call.sendBye('b');
      return;
    }
    this.clearTimer('ring');
    call.answered(res);
  }

  /** The attempt's post-dial delay: its first ringing or its answer (RFC 6076's session request delay). */
  private notePdd(): void {
    const t = this.timing;
    if (t !== null && t.pddMs === null) t.pddMs = Date.now() - t.sentAt;
  }

  /** The current carrier attempt ended unanswered with `status`: reported once on the bus (carrier quality). */
  private attemptFailed(status: number): void {
    this.place?.();
    this.place = null;
    const t = this.timing;
    this.timing = null;
    if (t === null || t.attempt.carrier === null) return;
    this.call.env.bus.publish('call.attempt', {
      callSid: this.call.callSid,
      carrier: t.attempt.carrier,
      gateway: t.gateway,
      status,
      ...(t.pddMs !== null && { pddMs: t.pddMs }),
    });
  }

  /** ACKs the callee's 2xx (`body`: the caller's answer to a late offer), and again for each retransmission of it. */
  ackCallee(body?: Buffer): void {
    const b = this.call.b!;
    const seq = this.answeredSeq;
    const ack = b.request(
      'ACK',
      body === undefined ? { seq } : { headers: [['Content-Type', 'application/sdp']], body, seq },
    );
    // Its own buffer, not a slice of the shared pool: it is kept as long as the call's dialog lingers.
    this.ackBytes = serializeUnpooled(ack);
    sendStatelessBytes(this.call.env, this.ackBytes, b);
  }

  private resendAck(): void {
    if (this.ackBytes !== null && this.call.b !== null) sendStatelessBytes(this.call.env, this.ackBytes, this.call.b);
  }

  /** A CANCEL toward the callee, only after a provisional (RFC 3261 9.1); until then it waits. */
  cancel(): void {
    const tx = this.tx;
    if (tx === null) return;
    if (tx.lastProvisional === 0) {
      this.cancelWanted = true;
      return;
    }
    this.cancelWanted = false;
    if (tx.state !== 'Proceeding' && tx.state !== 'Calling') return;
    this.call.env.layer.sendRequest(buildCancel(tx.request), tx.target, NO_HANDLERS, tx.flow ?? undefined);
    this.call.env.counters.inc('b2bua_cancels_sent');
  }

  /** A place for a carrier attempt in its capacity (`routing.carriers`); false when full. */
  private takePlace(attempt: LegAttempt): boolean {
    const load = this.call.env.load;
    if (load === undefined || attempt.gateway === null || attempt.carrier === null) return true;
    this.place = load.tryAcquire(attempt.carrier, attempt.gateway);
    return this.place !== null;
  }

  /**
   * The gateway and ring timers (and the UDP probe) stop, the attempt's place
   * is freed: the call ended. The INVITE is let go (no attempt follows): an
   * ended call lingers 32 s for late answers, and what it keeps is what the
   * garbage collector walks.
   */
  stop(): void {
    this.invite = null;
    this.place?.();
    this.place = null;
    this.clearTimer('gateway');
    this.clearTimer('ring');
  }

  private clearTimer(which: 'gateway' | 'ring'): void {
    const wheel = this.call.env.wheel;
    if (which === 'gateway' && this.stopProbe !== null) {
      this.stopProbe(this.gotResponse);
      this.stopProbe = null;
    }
    const h = which === 'gateway' ? this.gatewayTimer : this.ringTimer;
    if (h === null) return;
    wheel.cancel(h);
    if (which === 'gateway') this.gatewayTimer = null;
    else this.ringTimer = null;
  }
}

/** Whether an SDP offers an SRTP stream (RTP/SAVP or RTP/SAVPF on a port other than 0). */
function offersSrtp(sdp: Buffer): boolean {
  return /^m=\S+ [1-9]\d* RTP\/SAVPF?\b/m.test(sdp.toString('latin1'));
}
