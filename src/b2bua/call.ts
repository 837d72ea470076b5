import type { SipMessage } from '../sip/message.js';
import { createResponse } from '../sip/response.js';
import { serialize } from '../sip/serializer.js';
import type { Flow } from '../transport/types.js';
import type { TransportError } from '../transport/transport-error.js';
import type { Target } from '../transaction/types.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { ClientTransaction, ClientHandlers } from '../transaction/client-transaction.js';
import type { TimerHandle } from '../transaction/timer-wheel.js';
import { allowsFailover } from '../proxy/best-response.js';
import { buildCancel } from '../proxy/cancel.js';
import type { Cdr, HangupSide } from '../trunking/model.js';
import { Dialog, targetOfFlow, withoutTag } from '../dialog/dialog.js';
import type { RetransmitClock } from '../dialog/ack-wait.js';
import { applyHeaderRule, relayedRequestHeaders, relayedResponseHeaders } from './headers.js';
import { answerChallenge } from './uac-auth.js';
import { newCallId, newLegSid, newTagValue } from '../dialog/sid.js';
import type { B2buaEnv } from './env.js';
import type { CallPlan, LegAttempt } from './plan.js';
import { InDialogRelay } from './in-dialog.js';
import { MediaError } from '../media/errors.js';
import type { LegMediaOptions } from '../media/engine.js';

export type Side = 'a' | 'b';
export type CallState = 'trying' | 'early' | 'confirmed' | 'ended';

/** The registry a call reports its dialogs to, so that in-dialog requests find it. */
export interface CallRegistry {
  bind(key: string, call: Call, side: Side): void;
  unbind(key: string): void;
  ended(call: Call): void;
  /** The call's CDR on its way to the store (settles when written or failed), so that shutdown waits for it. */
  writingCdr(done: Promise<void>): void;
}

const NO_HANDLERS: ClientHandlers = { onFinal() {}, onTimeout() {}, onTransportError() {} };

/**
 * One trunk call: the caller's leg (a: we are its UAS) and the callee's leg
 * (b: we are its UAC), each its own dialog with its own Call-ID, tags, Via
 * and Contact. The b leg is tried attempt after attempt (gateways in order)
 * until one answers, a refusal ends the search, or the caller cancels.
 */
export class Call {
  state: CallState = 'trying';
  readonly a: Dialog;
  b: Dialog | null = null;
  readonly startAt = Date.now();
  answerAt: number | null = null;
  /** The carrier that answered (or was last tried). */
  carrier: string | null = null;
  legSidA = newLegSid();
  legSidB: string | null = null;

  private attemptIndex = -1;
  private bTx: ClientTransaction | null = null;
  private bInvite: SipMessage | null = null;
  private bKey: string | null = null;
  private authTried = false;
  /** This attempt's SRTP offer was refused with 488 and sent again as RTP (once per attempt). */
  private rtpRetried = false;
  private cancelled = false;
  private cancelWanted = false;
  private gotResponse = false;
  private gatewayTimer: TimerHandle | null = null;
  /** Cancels the UDP port probe of the current attempt (it ends with the gateway timer). */
  private stopProbe: (() => void) | null = null;
  private ringTimer: TimerHandle | null = null;
  private ackToB: SipMessage | null = null;
  readonly relay: InDialogRelay;
  private lastFinal = 0;
  /** Media options of the callee's leg (its current attempt's trunk or carrier). */
  mediaB: LegMediaOptions = { profile: 'as-offered', codecs: [] };
  /** Steps that touch media run one after another, in the order their messages came. */
  private chain: Promise<void> = Promise.resolve();
  /** What times our 2xx retransmissions (RFC 3261 13.3.1.4). */
  private readonly clock: RetransmitClock;

  constructor(
    readonly env: B2buaEnv,
    readonly plan: CallPlan,
    readonly aInvite: SipMessage,
    readonly aTx: ServerTransaction,
    aFlow: Flow,
    private readonly registry: CallRegistry,
  ) {
    const contacts = aInvite.contacts;
    const remoteTarget = contacts.length > 0 ? contacts[0]!.uriText : aInvite.from.uriText;
    this.a = new Dialog({
      callId: aInvite.callId,
      localTag: newTagValue(),
      localUri: withoutTag(aInvite.get('To') ?? ''),
      remoteUri: withoutTag(aInvite.get('From') ?? ''),
      remoteTag: aInvite.fromTag,
      remoteTarget,
      // RFC 3261 12.1.1: the UAS route set is the Record-Route of the request, in order.
      routeSet: aInvite.getAll('Record-Route'),
      iface: env.interfaces.forFlow(aFlow),
      target: targetOfFlow(aFlow),
      flow: aFlow.proto === 'udp' ? null : aFlow,
      remoteSeq: aInvite.cseq.seq,
    });
    this.relay = new InDialogRelay(this);
    this.clock = { wheel: env.wheel, t1: env.timers.t1, t2: env.timers.t2 };
  }

  /** Ended or cancelled (checked again after every await). */
  isOver(): boolean {
    return this.state === 'ended' || this.cancelled;
  }

  get callSid(): string {
    return this.plan.callSid;
  }

  get dialogKeyA(): string {
    return dialogKey(this.a.callId, this.a.localTag);
  }

  start(): void {
    this.registry.bind(this.dialogKeyA, this, 'a');
    this.env.counters.inc('b2bua_calls_started');
    this.env.events?.started?.({
      callSid: this.callSid,
      direction: this.plan.direction,
      trunk: this.plan.trunk,
      carrier: null,
      from: this.plan.from,
      to: this.plan.to,
    });
    this.nextAttempt(503, 'Service Unavailable');
  }

  // ---- the callee leg ------------------------------------------------------------------

  /** Starts the next attempt, or ends the call with `status` when none is left. */
  private nextAttempt(status: number, reason: string): void {
    this.attemptIndex++;
    const attempt = this.plan.attempts[this.attemptIndex];
    if (attempt === undefined || this.cancelled) {
      this.failCall(status, reason);
      return;
    }
    void this.sendAttempt(attempt);
  }

  private async sendAttempt(attempt: LegAttempt): Promise<void> {
    let targets: Target[];
    try {
      targets = await this.env.locate(attempt.hop);
    } catch {
      targets = [];
    }
    if (this.state === 'ended' || this.cancelled) return;
    // The kernel's route toward a new gateway decides our interface (listeners on several networks).
    const ready = this.env.interfaces.prepare(targets.slice(0, 1));
    if (ready !== null) await ready;
    if (this.isOver()) return;
    const target = targets[0];
    const iface = target === undefined ? null : this.env.interfaces.forProto(target.proto, target.host);
    if (target === undefined || iface === null) {
      this.env.counters.inc('b2bua_attempts_unroutable');
      this.nextAttempt(503, 'Unresolvable destination');
      return;
    }
    this.carrier = attempt.carrier;
    this.legSidB = newLegSid();
    // Each leg's media on its own network's address.
    this.env.media.setSides(this.callSid, this.a.iface.media, iface.media);
    const b = new Dialog({
      callId: newCallId(),
      localTag: newTagValue(),
      localUri: attempt.from,
      remoteUri: attempt.to,
      remoteTarget: attempt.requestUri,
      routeSet: [...attempt.routes],
      iface,
      target,
    });
    if (this.bKey !== null) this.registry.unbind(this.bKey);
    this.b = b;
    this.bKey = dialogKey(b.callId, b.localTag);
    this.registry.bind(this.bKey, this, 'b');
    this.authTried = false;
    this.rtpRetried = false;
    this.gotResponse = false;
    const mf = this.aInvite.maxForwards;
    const base: Array<[string, string]> = [...relayedRequestHeaders(this.aInvite), ...attempt.headers];
    if (this.plan.legSidHeader) base.push(['X-Leg-Sid', this.legSidB]);
    if (this.env.userAgent !== null) base.push(['User-Agent', this.env.userAgent]);
    const headers = applyHeaderRule(base, this.aInvite, attempt.rule);
    // The caller's offer, anchored for this leg's trunk or carrier (each attempt may want another profile).
    this.mediaB = attempt.media;
    let body = this.aInvite.body;
    const offer = this.env.media.sdpOf(this.aInvite);
    if (offer !== null) {
      try {
        body = await this.env.media.offer(this.callSid, 'a', offer, attempt.media);
      } catch (err) {
        this.mediaFailed(err);
        return;
      }
      if (this.isOver()) return;
    }
    // A B2BUA still counts hops, so that two of them cannot loop a call forever.
    const invite = b.request('INVITE', { headers, body, maxForwards: mf === null ? 70 : Math.max(0, mf - 1) });
    this.sendInvite(invite, attempt);
  }

  private sendInvite(invite: SipMessage, attempt: LegAttempt): void {
    const b = this.b!;
    this.bInvite = invite;
    this.env.counters.inc('b2bua_invites_sent');
    const handlers: ClientHandlers = {
      onProvisional: (res, tx) => {
        if (tx === this.bTx) this.onBProvisional(res);
      },
      onFinal: (res, tx) => {
        if (tx === this.bTx) this.onBFinal(res, attempt);
        else if (res.status >= 200 && res.status < 300) this.hangUpStray(res, tx);
      },
      onRetransmitted2xx: (res, tx) => {
        if (tx === this.bTx) this.resendAckToB();
        else this.hangUpStray(res, tx);
      },
      onTimeout: (tx) => {
        if (tx === this.bTx) this.onBFailure(408, 'Request Timeout');
      },
      onTransportError: (tx, err) => {
        if (tx === this.bTx) this.onBUnreachable(err, attempt);
      },
    };
    this.bTx = this.env.layer.sendRequest(invite, b.target, handlers);
    this.clearTimer('gateway');
    // UDP does not say that nothing listens there: a probe hears the ICMP port unreachable, and the
    // next gateway is tried at once, as after a refused TCP/TLS connect (onTransportError). Carrier
    // gateways only: a customer's contact may sit behind a NAT that answers a packet from another
    // port with an ICMP of its own while the PBX behind it is fine.
    if (b.target.proto === 'udp' && attempt.gateway !== null && this.env.probeUdp !== undefined) {
      const tx = this.bTx;
      this.stopProbe = this.env.probeUdp(b.target, (err) => {
        if (tx !== this.bTx || this.gotResponse) return;
        tx.terminate();
        this.bTx = null;
        this.onBUnreachable(err, attempt);
      });
    }
    this.gatewayTimer = this.env.wheel.schedule(this.env.timers.gatewayTimeoutMs, () => {
      this.gatewayTimer = null;
      // Not even a 100 Trying: this gateway is gone; the next one (its transaction is let go).
      if (!this.gotResponse && this.state !== 'ended' && !this.cancelled) {
        this.env.counters.inc('b2bua_gateway_timeouts');
        this.bTx = null;
        this.nextAttempt(408, 'Request Timeout');
      }
    });
  }

  private onBProvisional(res: SipMessage): void {
    this.gotResponse = true;
    this.clearTimer('gateway');
    if (this.cancelWanted) this.sendCancelToB();
    if (res.status === 100 || this.state === 'ended' || this.cancelled) return;
    if (this.ringTimer === null) {
      this.ringTimer = this.env.wheel.schedule(this.env.timers.ringTimeoutMs, () => {
        this.ringTimer = null;
        if (this.state === 'early' || this.state === 'trying') {
          this.env.counters.inc('b2bua_ring_timeouts');
          this.cancelled = true;
          this.sendCancelToB();
          this.failCall(408, 'No Answer');
        }
      });
    }
    this.state = 'early';
    const sdp = this.env.media.sdpOf(res);
    this.serial(async () => {
      const body = sdp === null ? undefined : await this.env.media.answer(this.callSid, 'b', sdp, this.plan.mediaA);
      if (this.state !== 'ended' && !this.cancelled) this.aTx.respond(this.responseToA(res, res.status, body));
    });
  }

  private onBFinal(res: SipMessage, attempt: LegAttempt): void {
    this.gotResponse = true;
    this.clearTimer('gateway');
    const status = res.status;
    if (status >= 200 && status < 300) {
      this.onBAnswered(res);
      return;
    }
    if (this.state === 'ended') return;
    if ((status === 401 || status === 407) && attempt.credentials !== null && !this.authTried && !this.cancelled) {
      // RFC 3261 22.2: the same request again with credentials, the next CSeq, a new branch.
      const b = this.b!;
      const answer = answerChallenge(res, 'INVITE', this.bInvite!.requestUri, attempt.credentials);
      if (answer !== null) {
        this.authTried = true;
        this.env.counters.inc('b2bua_carrier_auth');
        const headers = reinviteHeaders(this.bInvite!);
        headers.push(answer);
        const again = b.request('INVITE', { headers, body: this.bInvite!.body, maxForwards: this.bInvite!.maxForwards ?? 70 });
        this.sendInvite(again, attempt);
        return;
      }
    }
    if (status === 488 && this.canRetryAsRtp(attempt)) {
      this.rtpRetried = true;
      this.serial(() => this.retryAsRtp(attempt));
      return;
    }
    if (!this.cancelled && allowsFailover(status) && this.attemptIndex + 1 < this.plan.attempts.length) {
      this.env.counters.inc('b2bua_failovers');
      this.nextAttempt(status, res.reason);
      return;
    }
    if (!this.cancelled && (status === 401 || status === 407) && this.attemptIndex + 1 < this.plan.attempts.length) {
      // Our credentials were refused by this carrier: another carrier may take the call.
      this.nextAttempt(status, res.reason);
      return;
    }
    this.failCall(status, res.reason, res);
  }

  /** A 488 to an SRTP offer made as offered (`--media any`): once per attempt, the same gateway gets it again as RTP. */
  private canRetryAsRtp(attempt: LegAttempt): boolean {
    if (this.cancelled || this.rtpRetried || attempt.media.profile !== 'as-offered' || !this.env.media.active) return false;
    const sent = this.bInvite === null ? null : this.env.media.sdpOf(this.bInvite);
    return sent !== null && offersSrtp(sent);
  }

  /** After the media steps before it (a 183's answer); a media refusal ends the call as any media step does. */
  private async retryAsRtp(attempt: LegAttempt): Promise<void> {
    if (this.isOver()) return;
    const b = this.b!;
    const previous = this.bInvite!;
    const media: LegMediaOptions = { ...attempt.media, profile: 'RTP/AVP' };
    this.mediaB = media;
    this.env.counters.inc('b2bua_rtp_retries');
    this.env.log.info({ callSid: this.callSid, carrier: attempt.carrier }, 'b2bua: SRTP offer refused with 488, offered again as RTP');
    const body = await this.env.media.offer(this.callSid, 'a', this.env.media.sdpOf(this.aInvite)!, media);
    if (this.isOver()) return;
    // A new INVITE of the same dialog attempt, the next CSeq (as for credentials, RFC 3261 22.2); a challenge may be answered again.
    this.authTried = false;
    const again = b.request('INVITE', { headers: reinviteHeaders(previous), body, maxForwards: previous.maxForwards ?? 70 });
    this.sendInvite(again, attempt);
  }

  /**
   * The INVITE did not reach the callee (RFC 3263 4.3: as after a 503, the next
   * gateway at once). Nothing listening at a carrier gateway (a refused connect,
   * an ICMP port unreachable over UDP) is counted as b2bua_gateway_unreachable.
   */
  private onBUnreachable(err: TransportError, attempt: LegAttempt): void {
    if (err.code === 'connect-refused' && attempt.gateway !== null) this.env.counters.inc('b2bua_gateway_unreachable');
    this.onBFailure(503, 'Service Unavailable');
  }

  private onBFailure(status: number, reason: string): void {
    this.clearTimer('gateway');
    if (this.state === 'ended' || this.cancelled) return;
    if (this.attemptIndex + 1 < this.plan.attempts.length) {
      this.env.counters.inc('b2bua_failovers');
      this.nextAttempt(status, reason);
      return;
    }
    this.failCall(status, reason);
  }

  /** The callee answered: confirm its dialog, ACK it (now, or with the caller's ACK for a late offer), answer the caller. */
  private onBAnswered(res: SipMessage): void {
    const b = this.b!;
    b.remoteTag = res.toTag;
    b.refreshTarget(res);
    // RFC 3261 12.1.2: the UAC route set is the Record-Route of the 2xx, reversed.
    b.routeSet = res.getAll('Record-Route').reverse();
    if (this.bTx?.flow && this.bTx.flow.proto !== 'udp') b.flow = this.bTx.flow;
    const seq = this.bInvite!.cseq.seq;
    if (this.state === 'ended' || this.cancelled) {
      // The caller gave up first: this answer is acknowledged and hung up at once.
      this.sendAckToB(b.request('ACK', { seq }));
      this.sendBye('b');
      return;
    }
    this.clearTimer('ring');
    this.state = 'confirmed';
    this.answerAt = Date.now();
    this.env.counters.inc('b2bua_calls_answered');
    this.env.events?.answered?.({ callSid: this.callSid });
    const lateOffer = this.env.media.sdpOf(this.aInvite) === null;
    if (!lateOffer) this.sendAckToB(b.request('ACK', { seq }));
    const sdp = this.env.media.sdpOf(res);
    const media = this.env.media;
    this.serial(async () => {
      // Late offer (RFC 3261 13.2.1): the callee's 200 carries the offer, the caller's ACK the answer.
      let body: Buffer | undefined;
      if (sdp !== null) {
        try {
          body = lateOffer ? await media.offer(this.callSid, 'b', sdp, this.plan.mediaA) : await media.answer(this.callSid, 'b', sdp, this.plan.mediaA);
        } catch (err) {
          if (!(err instanceof MediaError)) throw err;
          this.refuseAnswer(err, lateOffer ? b.request('ACK', { seq }) : null);
          return;
        }
      }
      if (this.state === 'ended') return;
      this.answerWithRetransmit('a', this.responseToA(res, 200, body), this.aTx, (ack) => {
        if (!lateOffer) return;
        const answer = media.sdpOf(ack);
        this.serial(async () => {
          const ackBody = answer === null ? undefined : await media.answer(this.callSid, 'a', answer, this.mediaB);
          this.sendAckToB(b.request('ACK', ackBody === undefined ? { seq } : { headers: [['Content-Type', 'application/sdp']], body: ackBody, seq }));
        });
      });
    });
  }

  /**
   * The callee's 2xx carries SDP the media engine refuses (a codec that was
   * not offered, crypto it cannot use): the callee's dialog is ACKed (RFC
   * 3261 13.2.2.4: a 2xx is always ACKed; `ack` for a late offer, which is
   * not yet) and ended by BYE; the caller, who never got a 2xx, gets the
   * engine's refusal (488 + Warning) and the call is not billed as answered.
   */
  private refuseAnswer(err: MediaError, ack: SipMessage | null): void {
    if (this.state === 'ended') return;
    this.env.counters.inc('b2bua_media_failures');
    this.env.log.warn({ callSid: this.callSid, err: err.message }, 'b2bua: callee answer refused by the media engine');
    if (ack !== null) this.sendAckToB(ack);
    this.sendBye('b', `SIP;cause=${err.sipStatus};text="${err.warning.replace(/["\\]/g, '')}"`);
    this.state = 'early';
    this.answerAt = null;
    this.cancelled = true;
    this.failCall(err.sipStatus, err.warning, undefined, [['Warning', err.warningHeader()]]);
  }

  private sendAckToB(ack: SipMessage): void {
    const b = this.b!;
    this.ackToB = ack;
    this.sendStateless(ack, b);
  }

  private resendAckToB(): void {
    if (this.ackToB !== null && this.b !== null) this.sendStateless(this.ackToB, this.b);
  }

  /** A 2xx of a transaction we no longer want (an abandoned attempt): ACK and BYE it (RFC 3261 15). */
  private hangUpStray(res: SipMessage, tx: ClientTransaction): void {
    const to = res.toTag;
    if (to === null) return;
    const req = tx.request;
    const contacts = res.contacts;
    const iface = this.env.interfaces.forProto(tx.target.proto, tx.target.host);
    if (iface === null) return;
    const d = new Dialog({
      callId: req.callId,
      localTag: req.fromTag ?? newTagValue(),
      localUri: withoutTag(req.get('From') ?? ''),
      remoteUri: withoutTag(req.get('To') ?? ''),
      remoteTag: to,
      remoteTarget: contacts[0]?.uriText ?? req.requestUri,
      routeSet: res.getAll('Record-Route').reverse(),
      iface,
      target: tx.target,
      flow: tx.flow,
      localSeq: req.cseq.seq,
    });
    this.sendStateless(d.request('ACK', { seq: req.cseq.seq }), d);
    this.env.layer.sendRequest(d.request('BYE'), d.target, NO_HANDLERS, d.flow ?? undefined);
    this.env.counters.inc('b2bua_stray_answers_hung_up');
  }

  // ---- the caller leg ------------------------------------------------------------------

  /** The caller's CANCEL (RFC 3261 9.2): 487 to the INVITE, CANCEL toward the callee. */
  onCancel(): void {
    if (this.state === 'confirmed' || this.state === 'ended') return;
    this.cancelled = true;
    this.sendCancelToB();
    this.end(487, 'Request Terminated', 'caller');
    this.aTx.respond(createResponse(this.aInvite, 487, { toTag: this.a.localTag }));
  }

  /** RFC 3261 9.1: a CANCEL only after a provisional; until then it waits. */
  private sendCancelToB(): void {
    const tx = this.bTx;
    if (tx === null) return;
    if (tx.lastProvisional === 0) {
      this.cancelWanted = true;
      return;
    }
    this.cancelWanted = false;
    if (tx.state !== 'Proceeding' && tx.state !== 'Calling') return;
    this.env.layer.sendRequest(buildCancel(tx.request), tx.target, NO_HANDLERS, tx.flow ?? undefined);
    this.env.counters.inc('b2bua_cancels_sent');
  }

  /** A request inside one of the call's dialogs (or a 2xx ACK). */
  onInDialog(side: Side, req: SipMessage, tx: ServerTransaction | null, flow: Flow): void {
    const d = side === 'a' ? this.a : this.b;
    if (d === null) return;
    // Symmetric signalling: answers and requests go where the peer really is.
    if (side === 'a' || flow.proto !== 'udp') d.flow = flow.proto === 'udp' ? null : flow;
    if (tx === null) {
      // An ACK: of our 2xx it runs what waited for it; any other is absorbed.
      d.takeAck(req);
      return;
    }
    if (req.method === 'BYE') {
      this.onBye(side, req, tx);
      return;
    }
    this.relay.relay(side, req, tx);
  }

  private onBye(side: Side, bye: SipMessage, tx: ServerTransaction): void {
    const d = side === 'a' ? this.a : this.b!;
    if (!d.acceptRemoteSeq(bye.cseq.seq, 'BYE')) {
      tx.respond(createResponse(bye, 500, { reason: 'CSeq out of order', headers: [['Retry-After', '1']] }));
      return;
    }
    tx.respond(createResponse(bye, 200, this.env.userAgent === null ? {} : { headers: [['Server', this.env.userAgent]] }));
    this.env.counters.inc('b2bua_byes_received');
    if (this.state === 'confirmed') {
      // After the answer still on its way to the other side (media steps), and not before its ACK.
      const other: Side = side === 'a' ? 'b' : 'a';
      const reason = bye.get('Reason');
      this.serial(() => {
        this.byeWhenAcked(other, reason);
        this.end(200, 'Normal Clearing', side === 'a' ? 'caller' : 'callee');
      });
      return;
    }
    // A BYE from the callee before its answer reached us, or from the caller of an early call.
    if (side === 'a') this.onCancel();
  }

  /** Ends the call from inside (media timeout, API hang-up, missing ACK): BYE to both sides. */
  hangUp(reason: string, by: HangupSide = 'system'): void {
    if (this.state === 'confirmed') {
      const r = `SIP;cause=200;text="${reason.replace(/["\\]/g, '')}"`;
      this.byeWhenAcked('a', r);
      this.byeWhenAcked('b', r);
      this.end(200, reason, by);
      return;
    }
    if (this.state !== 'ended') {
      this.cancelled = true;
      this.sendCancelToB();
      this.failCall(480, reason);
    }
  }

  /** A BYE now, or once the side ACKs the 2xx it is still owed an ACK for (RFC 3261 15). */
  private byeWhenAcked(side: Side, reason?: string): void {
    const bye = (): void => this.sendBye(side, reason);
    const d = side === 'a' ? this.a : this.b;
    const owed = d?.endAfterAck({
      onAck: bye,
      // The call already ended: the owed BYE goes now.
      onTimeout: () => {
        this.env.counters.inc('b2bua_ack_timeouts');
        bye();
      },
    });
    if (owed !== true) bye();
  }

  sendBye(side: Side, reason?: string): void {
    const d = side === 'a' ? this.a : this.b;
    if (d === null) return;
    const headers: Array<[string, string]> = [];
    if (reason !== undefined) headers.push(['Reason', reason]);
    if (this.env.userAgent !== null) headers.push(['User-Agent', this.env.userAgent]);
    this.env.layer.sendRequest(d.request('BYE', { headers }), d.target, NO_HANDLERS, d.flow ?? undefined);
    this.env.counters.inc('b2bua_byes_sent');
  }

  /** Sends a request without a transaction (an ACK for a 2xx, 17.1.1.3). */
  sendStateless(req: SipMessage, d: Dialog): void {
    const bytes = serialize(req);
    if (d.flow !== null && this.env.transport.send(d.flow, bytes)) return;
    this.env.transport.sendTo(d.target, bytes).catch(() => this.env.counters.inc('b2bua_ack_send_failures'));
  }

  /**
   * Answers a side's INVITE with a 2xx, sent again until its ACK (RFC 3261
   * 13.3.1.4, the dialog's); without an ACK after 64*T1 the call is ended
   * (BYE to both sides). `onAck` runs on the ACK (a late offer's answer).
   */
  answerWithRetransmit(side: Side, res: SipMessage, tx: ServerTransaction, onAck: (ack: SipMessage) => void): void {
    const d = side === 'a' ? this.a : this.b!;
    d.answerInvite(res, tx, this.clock, {
      onAck,
      onTimeout: () => {
        this.env.counters.inc('b2bua_ack_timeouts');
        this.hangUp('No ACK');
      },
    });
  }

  /** A response of the callee leg as the caller leg sends it: our tag and Contact, its body, nothing else of theirs. */
  responseToA(res: SipMessage, status: number, sdp?: Buffer): SipMessage {
    // An SDP the media engine did not rewrite never crosses (it would show the other side's addresses).
    const passBody = sdp !== undefined || (res.body.length > 0 && (!this.env.media.active || this.env.media.sdpOf(res) === null));
    const headers = relayedResponseHeaders(res).filter(([n]) => passBody || n !== 'Content-Type');
    if (status >= 101 && status < 300) {
      // RFC 3261 12.1.1: a dialog-creating response carries the request's Record-Route, so proxies on the caller's side stay on the path.
      for (const rr of this.aInvite.getAll('Record-Route')) headers.push(['Record-Route', rr]);
      headers.push(['Contact', this.a.contact]);
    }
    if (this.env.userAgent !== null) headers.push(['Server', this.env.userAgent]);
    const body = sdp ?? (passBody ? res.body : undefined);
    return createResponse(this.aInvite, status, {
      reason: res.reason,
      toTag: this.a.localTag,
      headers,
      ...(body !== undefined && body.length > 0 ? { body } : {}),
    });
  }

  /** No attempt answered: the caller gets the final status (a downstream 503 becomes 500, as a proxy does, 16.7 step 6). */
  private failCall(status: number, reason: string, res?: SipMessage, extra: Array<[string, string]> = []): void {
    if (this.state === 'ended') return;
    const code = status === 503 ? 500 : status;
    const out =
      res !== undefined && res.status === status
        ? this.responseToA(res, code)
        : createResponse(this.aInvite, code, {
            reason,
            toTag: this.a.localTag,
            headers: [...extra, ...(this.env.userAgent === null ? [] : ([['Server', this.env.userAgent]] as Array<[string, string]>))],
          });
    this.end(status, reason, 'callee');
    // After any provisional still on its way through the media steps.
    this.serial(() => this.aTx.respond(out));
  }

  /** Runs a step after the earlier media steps of the call; a failure ends the call (or is answered 488). */
  serial(step: () => Promise<void> | void): void {
    this.chain = this.chain.then(step).catch((err: unknown) => this.mediaFailed(err));
  }

  /** A media step failed: an unanswered call gets the engine's status (488 + Warning); an answered one is hung up. */
  private mediaFailed(err: unknown): void {
    const me = err instanceof MediaError ? err : null;
    this.env.counters.inc('b2bua_media_failures');
    this.env.log.warn({ callSid: this.callSid, err: me?.message ?? String(err) }, 'b2bua: media step failed');
    if (this.state === 'confirmed') {
      this.hangUp('Media failure');
      return;
    }
    if (this.state === 'ended') return;
    this.cancelled = true;
    this.sendCancelToB();
    this.failCall(me?.sipStatus ?? 500, me?.warning ?? 'Media failure', undefined, me === null ? [] : [['Warning', me.warningHeader()]]);
  }

  // ---- the end -------------------------------------------------------------------------

  /** Ends the call once: limits released, timers stopped, dialogs forgotten, the CDR written. */
  end(status: number, reason: string, by: HangupSide): void {
    if (this.state === 'ended') return;
    const answered = this.state === 'confirmed';
    this.state = 'ended';
    this.lastFinal = status;
    this.clearTimer('gateway');
    this.clearTimer('ring');
    // A side still owed a BYE keeps its 2xx retransmissions until its ACK.
    for (const d of [this.a, this.b]) if (d !== null && !d.endsAfterAck) d.stopAckWait();
    this.plan.release();
    // Dialog keys stay bound a little (a BYE crossing ours, retransmissions) and then go.
    const keys = [this.dialogKeyA, this.bKey];
    this.env.wheel.schedule(32_000, () => {
      for (const k of keys) if (k !== null) this.registry.unbind(k);
    });
    this.registry.ended(this);
    const endAt = Date.now();
    const cdr: Cdr = {
      callSid: this.callSid,
      account: this.plan.account,
      trunk: this.plan.trunk,
      carrier: this.carrier,
      direction: this.plan.direction,
      from: this.plan.from,
      to: this.plan.to,
      startAt: this.startAt,
      answerAt: this.answerAt,
      endAt,
      duration: answered && this.answerAt !== null ? Math.round((endAt - this.answerAt) / 1000) : 0,
      status: answered ? 200 : status,
      reason,
      hangupBy: by,
      extra: null,
    };
    this.env.counters.inc(answered ? 'b2bua_calls_completed' : 'b2bua_calls_failed');
    // One line per call outcome, with its SID (no numbers beyond what the CDR holds, no secrets).
    this.env.log.info(
      { callSid: cdr.callSid, direction: cdr.direction, account: cdr.account, trunk: cdr.trunk, carrier: cdr.carrier, status: cdr.status, reason: cdr.reason, duration: cdr.duration, hangupBy: cdr.hangupBy },
      'call ended',
    );
    // The media goes (its ports freed) and its figures go into the CDR.
    const written = this.env.media
      .end(this.callSid)
      .catch((err: unknown) => {
        this.env.log.warn({ err: String(err), callSid: this.callSid }, 'b2bua: media not released');
        return null;
      })
      .then((extra) => {
        cdr.extra = extra;
        this.env.events?.ended?.(cdr);
        return this.env.cdrs.write(cdr);
      })
      .catch((err: unknown) => this.env.log.warn({ err: String(err), callSid: this.callSid }, 'b2bua: CDR not written'));
    this.registry.writingCdr(written);
  }

  get finalStatus(): number {
    return this.lastFinal;
  }

  private clearTimer(which: 'gateway' | 'ring'): void {
    if (which === 'gateway' && this.stopProbe !== null) {
      this.stopProbe();
      this.stopProbe = null;
    }
    const h = which === 'gateway' ? this.gatewayTimer : this.ringTimer;
    if (h === null) return;
    this.env.wheel.cancel(h);
    if (which === 'gateway') this.gatewayTimer = null;
    else this.ringTimer = null;
  }
}

/** Whether an SDP offers an SRTP stream (RTP/SAVP or RTP/SAVPF on a port other than 0). */
function offersSrtp(sdp: Buffer): boolean {
  return /^m=\S+ [1-9]\d* RTP\/SAVPF?\b/m.test(sdp.toString('latin1'));
}

export function dialogKey(callId: string, localTag: string): string {
  return `${callId}\n${localTag}`;
}

/** Headers of an INVITE sent again with credentials: all but those Dialog.request writes. */
function reinviteHeaders(invite: SipMessage): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const f of invite.fields) {
    const n = f.name.toLowerCase();
    if (OWN.has(n)) continue;
    out.push([f.name, f.value]);
  }
  return out;
}

const OWN: ReadonlySet<string> = new Set(['via', 'v', 'max-forwards', 'route', 'from', 'f', 'to', 't', 'call-id', 'i', 'cseq', 'contact', 'm', 'content-length', 'l', 'authorization', 'proxy-authorization']);

