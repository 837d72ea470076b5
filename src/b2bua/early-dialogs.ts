import type { SipMessage } from '../sip/message.js';
import { createResponse } from '../sip/response.js';
import type { Flow } from '../transport/types.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { Call, Side } from './call.js';
import { CalleeEarly } from './callee-early.js';
import { EarlyUpdates } from './early-update.js';
import { ReliableSender } from './reliable-sender.js';
import { rackOf, rel100Of, type Rel100Wish } from './rel100.js';

/**
 * A call before its answer, per leg: reliable provisionals toward the
 * caller (reliable-sender.ts), PRACKs toward the callee (callee-early.ts),
 * UPDATE between the early dialogs (early-update.ts). Each leg is its own
 * dialog: PRACK and RSeq never cross, 100rel is negotiated on each.
 */
export class EarlyDialogs {
  readonly callee: CalleeEarly;
  private readonly updates: EarlyUpdates;
  /** What the caller's INVITE said of 100rel. */
  private readonly callerWish: Rel100Wish;
  private sender: ReliableSender | null = null;

  constructor(private readonly call: Call) {
    this.callerWish = rel100Of(call.aInvite);
    this.callee = new CalleeEarly({
      get b() {
        return call.b;
      },
      send: (req, d, handlers) => call.env.layer.sendRequest(req, d.target, handlers, d.flow ?? undefined),
      counter: (name) => call.env.counters.inc(name),
      agentName: call.env.agentName,
      get lateOffer() {
        return call.env.media.sdpOf(call.aInvite) === null;
      },
    });
    this.updates = new EarlyUpdates(call, this.callee, { answerAcked: () => this.sender?.answerAcked ?? false });
  }

  /**
   * Whether the INVITE toward the callee offers `Supported: 100rel`: when the
   * caller's INVITE carries an offer, or when the caller does 100rel too. A
   * late offer's callee may then offer in a reliable provisional, whose
   * answer is due in our PRACK (RFC 3262 5): the caller gets that offer
   * reliably and answers it in its PRACK, which our PRACK carries on.
   */
  offerToCallee(): boolean {
    return this.call.env.media.sdpOf(this.call.aInvite) !== null || this.callerWish !== 'none';
  }

  /** The callee's offer in a reliable provisional waits for the caller's answer (its SDP is an offer to relay). */
  heldOffer(): boolean {
    return this.callee.holding;
  }

  /** A provisional of the callee: false when it is not to be relayed (a retransmission, RFC 3262 4). */
  fromCallee(res: SipMessage, flow: Flow | null): boolean {
    return this.callee.take(res, flow);
  }

  /**
   * A provisional for the caller (RFC 3262 3): reliable when the caller
   * requires 100rel, or supports it and the provisional carries the answer
   * to its offer (early media); else as before, unreliable.
   */
  toCaller(out: SipMessage): void {
    const call = this.call;
    const sdp = out.body.length > 0 && out.contentType === 'application/sdp';
    const lateOffer = call.env.media.sdpOf(call.aInvite) === null;
    // The callee's offer in a reliable provisional: the caller's answer is due in its PRACK (RFC 3262 5).
    const offer = lateOffer && sdp && this.callee.holding;
    const reliable =
      this.callerWish === 'required' || (this.callerWish === 'supported' && sdp && (!lateOffer || offer));
    if (!reliable) {
      call.aTx.respond(out);
      return;
    }
    // Else SDP in a reliable provisional to a late offer would be an offer the callee never made binding
    // (nothing would carry the answer back): the caller gets the offer in the 2xx (RFC 3261 13.2.1).
    if (lateOffer && sdp && !offer) out.setBody(Buffer.alloc(0));
    this.sender ??= new ReliableSender(
      call.aTx,
      call.aInvite.cseq.seq,
      { wheel: call.env.wheel, t1: call.env.timers.t1, t2: call.env.timers.t2 },
      () => this.noPrack(),
    );
    call.env.counters.inc('b2bua_reliable_provisionals_sent');
    this.sender.send(out, sdp && (!lateOffer || offer));
  }

  /** Before the 2xx to the caller: false when the PRACK it waited for never came (the call is failed by then). */
  beforeAnswer(): Promise<boolean> {
    return this.sender === null ? Promise.resolve(true) : this.sender.beforeAnswer();
  }

  /**
   * Whether the callee's 2xx `res` comes after the offer/answer was done in
   * reliable provisionals on both legs: its SDP is then not a new answer
   * (RFC 6337 3.1.1; after an early UPDATE it would not even be the current
   * one), and the caller's 2xx needs none.
   */
  answeredEarly(res: SipMessage): boolean {
    return this.callee.byTag(res.toTag)?.answered === true && this.sender?.answerSent === true;
  }

  /** PRACK (any time) and UPDATE before the answer: true when taken here. */
  take(side: Side, req: SipMessage, tx: ServerTransaction): boolean {
    if (req.method === 'PRACK') {
      this.onPrack(side, req, tx);
      return true;
    }
    if (req.method === 'UPDATE' && this.call.state !== 'confirmed') {
      this.updates.relay(side, req, tx);
      return true;
    }
    return false;
  }

  /** The call ended: no more retransmissions. */
  stop(): void {
    this.sender?.stop();
  }

  /** A PRACK of the caller (RFC 3262 3): 200 when it acknowledges our outstanding provisional, else 481. */
  private onPrack(side: Side, req: SipMessage, tx: ServerTransaction): void {
    const call = this.call;
    if (side === 'b' || this.sender === null) {
      // We never send the callee a provisional: nothing of ours to acknowledge.
      tx.respond(createResponse(req, 481));
      return;
    }
    if (!call.a.acceptRemoteSeq(req.cseq.seq, req.method)) {
      tx.respond(createResponse(req, 500, { reason: 'CSeq out of order', headers: [['Retry-After', '1']] }));
      return;
    }
    const rack = rackOf(req);
    if (rack === null) {
      tx.respond(createResponse(req, 400, { reason: 'Bad RAck' }));
      return;
    }
    if (!this.sender.prack(rack)) {
      tx.respond(createResponse(req, 481));
      return;
    }
    call.env.counters.inc('b2bua_pracks_received');
    const answer = call.env.media.sdpOf(req);
    if (answer !== null && !this.callee.holding && this.sender.answerAcked) {
      // RFC 3262 5: after the offer/answer of the INVITE, SDP in a PRACK is a new offer, answered in its 200:
      // it goes to the callee's early dialog as an UPDATE (RFC 3311), the answer back in our 200.
      this.updates.relay('a', req, tx, true);
      return;
    }
    const headers: Array<[string, string]> = call.env.agentName === null ? [] : [['Server', call.env.agentName]];
    tx.respond(createResponse(req, 200, { headers }));
    if (answer !== null && this.callee.holding) {
      // The answer to the callee's reliable offer: on in our PRACK, through the media engine.
      call.serial(async () => {
        this.callee.prackHeld(await call.env.media.answer(call.callSid, 'a', answer, call.mediaB));
      });
    }
  }

  /**
   * No PRACK within 64*T1 (RFC 3262 3): the caller's INVITE is rejected with
   * a 5xx; a callee that already answered (its 2xx waiting for that PRACK)
   * is hung up, and the call is not billed as answered.
   */
  private noPrack(): void {
    const call = this.call;
    call.env.counters.inc('b2bua_prack_timeouts');
    call.env.log.warn({ callSid: call.callSid }, 'b2bua: reliable provisional never PRACKed by the caller');
    if (call.state === 'ended') return;
    if (call.state === 'confirmed') {
      call.sendBye('b', 'SIP;cause=500;text="No PRACK"');
      call.state = 'early';
      call.answerAt = null;
    }
    call.abandon();
    call.failCall(500, 'No PRACK');
  }
}
