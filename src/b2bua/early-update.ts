import type { SipMessage } from '../sip/message.js';
import { mediaOptionsOf } from './plan.js';
import { createResponse } from '../sip/response.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { ClientHandlers } from '../transaction/client-transaction.js';
import type { Dialog } from '../dialog/dialog.js';
import { MediaError } from '../media/errors.js';
import type { Call, Side } from './call.js';
import type { CalleeEarly } from './callee-early.js';
import { relayedRequestHeaders, relayedResponseHeaders } from './headers.js';
import { allows } from './rel100.js';

/** What the early UPDATEs need to know of the caller's leg. */
export interface CallerEarly {
  /** The caller PRACKed our reliable provisional with the answer to its offer (its early offer/answer is complete). */
  answerAcked(): boolean;
}

/**
 * UPDATE inside the early dialogs (RFC 3311), before the answer: the
 * caller's goes to the callee's early dialog that last sent a reliable
 * provisional, the callee's to the caller's dialog, as a request of that
 * dialog; an offer goes through the media engine as a re-INVITE's does
 * (in-dialog.ts), its answer back the same way. It is carried once the
 * first offer/answer is complete on both legs (each leg's answer came in a
 * reliable provisional; RFC 3311 5.1), and toward the caller only when its
 * INVITE allowed UPDATE; until then it gets 500 with Retry-After (5.2). One
 * UPDATE at a time: one crossing it gets 491 (glare, 5.2).
 */
export class EarlyUpdates {
  /** The side whose UPDATE is in progress, or null. */
  private from: Side | null = null;
  /** Its final response came; its answer is on its way through the media engine. */
  private settling = false;

  constructor(
    private readonly call: Call,
    private readonly callee: CalleeEarly,
    private readonly caller: CallerEarly,
  ) {}

  /**
   * `req` an UPDATE of `side`, or the caller's PRACK with a new offer
   * (`seqTaken`: its CSeq already taken; RFC 3262 5: its answer comes in
   * the 200 to the PRACK), which goes to the callee as an UPDATE.
   */
  relay(side: Side, req: SipMessage, tx: ServerTransaction, seqTaken = false): void {
    const call = this.call;
    if (this.from !== null && this.from !== side && this.settling) {
      // The other side answered our UPDATE already: on its leg nothing is pending, so its own UPDATE is no
      // glare (RFC 3311 5.2); it waits until that answer reached the first side (the call's serial queue).
      call.serial(async () => this.relay(side, req, tx, seqTaken));
      return;
    }
    const early = side === 'b' ? this.callee.byTag(req.fromTag) : undefined;
    const src = side === 'a' ? call.a : early?.d;
    if (call.state === 'ended' || src === undefined) {
      tx.respond(createResponse(req, 481));
      return;
    }
    if (!seqTaken && !src.acceptRemoteSeq(req.cseq.seq, req.method)) {
      tx.respond(createResponse(req, 500, { reason: 'CSeq out of order', headers: [['Retry-After', '1']] }));
      return;
    }
    const toCallee = this.callee.current;
    const dst = side === 'a' ? toCallee?.d : call.a;
    if (dst === undefined || !this.caller.answerAcked() || (side === 'a' ? !toCallee!.answered : !early!.answered)) {
      // RFC 3311 5.2: an offer/answer of the early dialog still open on one leg or the other.
      this.refuse(req, tx, 500, 'Early Dialog Not Ready', true);
      return;
    }
    if (side === 'b' && !allows(call.aInvite, 'UPDATE')) {
      // RFC 3311 5.1: never toward a UA that did not say it allows UPDATE.
      this.refuse(req, tx, 500, 'UPDATE Not Allowed By Peer', false);
      return;
    }
    if (this.from !== null) {
      call.env.counters.inc('b2bua_glare');
      if (this.from === side) this.refuse(req, tx, 500, 'Request Pending', true);
      else tx.respond(createResponse(req, 491));
      return;
    }
    this.from = side;
    // RFC 3311 5.1: UPDATE is a target refresh (a PRACK is not).
    if (req.method === 'UPDATE') src.refreshTarget(req);
    const headers = relayedRequestHeaders(req);
    if (call.env.agentName !== null) headers.push(['User-Agent', call.env.agentName]);
    const dstSide: Side = side === 'a' ? 'b' : 'a';
    const media = call.env.media;
    const offer = media.sdpOf(req);
    call.serial(async () => {
      let body = req.body;
      if (offer !== null) {
        try {
          body = await media.offer(call.callSid, side, offer, mediaOptionsOf(call, dstSide));
        } catch (err) {
          this.from = null;
          if (!(err instanceof MediaError)) throw err;
          // The offer is refused; the session stays as it was (RFC 3311 5.2).
          tx.respond(createResponse(req, err.sipStatus, { headers: [['Warning', err.warningHeader()]] }));
          return;
        }
      }
      if (call.state === 'ended') {
        this.from = null;
        tx.respond(createResponse(req, 481));
        return;
      }
      // Our requests in the callee's early dialogs count on with the leg's CSeq (callee-early.ts).
      const seq = side === 'a' ? ++call.b!.localSeq : undefined;
      const out = dst.request('UPDATE', { headers, body, ...(seq !== undefined && { seq }) });
      call.env.counters.inc('b2bua_early_updates_relayed');
      call.env.layer.sendRequest(
        out,
        dst.target,
        this.handlers(side, dstSide, req, tx, src, dst, offer !== null),
        dst.flow ?? undefined,
      );
    });
  }

  private handlers(
    side: Side,
    dstSide: Side,
    req: SipMessage,
    tx: ServerTransaction,
    src: Dialog,
    dst: Dialog,
    hadOffer: boolean,
  ): ClientHandlers {
    const call = this.call;
    const media = call.env.media;
    const fail = (status: number): void => {
      this.from = null;
      this.settling = false;
      tx.respond(createResponse(req, status));
    };
    return {
      onFinal: (res) => {
        const sdp = res.status < 300 ? media.sdpOf(res) : null;
        this.settling = true;
        call.serial(async () => {
          let body: Buffer | undefined;
          try {
            if (sdp !== null && hadOffer)
              body = await media.answer(call.callSid, dstSide, sdp, mediaOptionsOf(this.call, side));
          } finally {
            this.from = null;
            this.settling = false;
          }
          if (res.status < 300) dst.refreshTarget(res);
          tx.respond(
            this.response(req, res, src, body ?? (media.active && sdp !== null ? Buffer.alloc(0) : undefined)),
          );
        });
      },
      onTimeout: () => fail(408),
      onTransportError: () => fail(503),
    };
  }

  private refuse(req: SipMessage, tx: ServerTransaction, status: number, reason: string, retry: boolean): void {
    const headers: Array<[string, string]> = retry ? [['Retry-After', String(1 + Math.floor(Math.random() * 3))]] : [];
    tx.respond(createResponse(req, status, { reason, headers }));
  }

  /** The far side's answer as the near side gets it: our Contact on a 2xx (target refresh), the allowed headers, the body. */
  private response(req: SipMessage, res: SipMessage, src: Dialog, body?: Buffer): SipMessage {
    const out = body ?? res.body;
    const headers = relayedResponseHeaders(res).filter(([n]) => out.length > 0 || n !== 'Content-Type');
    if (res.status < 300) headers.push(['Contact', src.contact]);
    if (this.call.env.agentName !== null) headers.push(['Server', this.call.env.agentName]);
    return createResponse(req, res.status, { reason: res.reason, headers, ...(out.length > 0 ? { body: out } : {}) });
  }
}
