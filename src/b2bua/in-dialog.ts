import type { SipMessage } from '../sip/message.js';
import { mediaOptionsOf } from './plan.js';
import { createResponse } from '../sip/response.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { ClientHandlers } from '../transaction/client-transaction.js';
import type { Call, Side } from './call.js';
import type { Dialog } from '../dialog/dialog.js';
import { relayedRequestHeaders, relayedResponseHeaders } from './headers.js';
import { MediaError } from '../media/errors.js';

/** Requests whose 2xx carries our Contact (target refresh, RFC 3261 12.2.2). */
const REFRESHING: ReadonlySet<string> = new Set(['INVITE', 'UPDATE']);

/**
 * Requests inside a confirmed call, other than BYE and ACK: re-INVITE,
 * UPDATE, INFO (DTMF), REFER, NOTIFY, MESSAGE, OPTIONS... each relayed to the
 * other leg as a new request of that leg's dialog, its final response
 * relayed back. One INVITE transaction at a time per call: a re-INVITE that
 * crosses one in progress gets 491 (glare, RFC 3261 14.2) or 500 with
 * Retry-After (the same side's earlier one still pending), and the call
 * goes on either way.
 */
export class InDialogRelay {
  /** The side whose re-INVITE is in progress (until its ACK), or null. */
  private inviteFrom: Side | null = null;

  constructor(private readonly call: Call) {}

  /** A re-INVITE relayed by us is in progress (until its ACK): no other INVITE on the call (session refreshes wait). */
  get inviteInProgress(): boolean {
    return this.inviteFrom !== null;
  }

  relay(side: Side, req: SipMessage, tx: ServerTransaction): void {
    const call = this.call;
    const env = call.env;
    const src = side === 'a' ? call.a : call.b!;
    const dst = side === 'a' ? call.b : call.a;
    if (call.state !== 'confirmed' || dst === null) {
      // Nothing on the other side to carry it to (PRACK and an early UPDATE are early-dialogs.ts's).
      tx.respond(createResponse(req, 481));
      return;
    }
    if (!src.acceptRemoteSeq(req.cseq.seq, req.method)) {
      tx.respond(createResponse(req, 500, { reason: 'CSeq out of order', headers: [['Retry-After', '1']] }));
      return;
    }
    if (req.method === 'INVITE') {
      if (this.inviteFrom !== null) {
        env.counters.inc('b2bua_glare');
        if (this.inviteFrom === side) {
          tx.respond(
            createResponse(req, 500, {
              reason: 'Request Pending',
              headers: [['Retry-After', String(1 + Math.floor(Math.random() * 5))]],
            }),
          );
        } else {
          tx.respond(createResponse(req, 491));
        }
        return;
      }
      this.inviteFrom = side;
    }
    if (REFRESHING.has(req.method)) src.refreshTarget(req);
    const dstSide: Side = side === 'a' ? 'b' : 'a';
    const relayed = relayedRequestHeaders(req);
    const headers = call.timers?.toward(dstSide, req.method, relayed) ?? relayed;
    if (env.agentName !== null) headers.push(['User-Agent', env.agentName]);
    const media = env.media;
    const offer = media.sdpOf(req);
    call.serial(async () => {
      // An offer inside the call (re-INVITE, UPDATE: hold, resume, new address) goes through the media engine first.
      let body = req.body;
      if (offer !== null) {
        try {
          body = await media.offer(call.callSid, side, offer, mediaOptionsOf(call, dstSide));
        } catch (err) {
          if (req.method === 'INVITE') this.inviteFrom = null;
          if (!(err instanceof MediaError)) throw err;
          // The offer is refused; the call goes on as it was (RFC 3261 14.2).
          tx.respond(createResponse(req, err.sipStatus, { headers: [['Warning', err.warningHeader()]] }));
          return;
        }
      }
      if (call.state !== 'confirmed') {
        tx.respond(createResponse(req, 481));
        return;
      }
      this.send(side, dstSide, req, tx, src, dst, headers, body, offer !== null);
    });
  }

  private send(
    side: Side,
    dstSide: Side,
    req: SipMessage,
    tx: ServerTransaction,
    src: Dialog,
    dst: Dialog,
    headers: Array<[string, string]>,
    body: Buffer,
    hadOffer: boolean,
  ): void {
    const call = this.call;
    const env = call.env;
    const media = env.media;
    const out = dst.request(req.method, { headers, body });
    call.noteChange();
    env.counters.inc('b2bua_in_dialog_relayed');
    let ackOut: SipMessage | null = null;
    const handlers: ClientHandlers = {
      onProvisional: (res) => {
        // An SDP in a provisional to a mid-call request is not carried (it would bypass the media engine).
        if (res.status > 100) tx.respond(this.response(req, res, src, media.active ? Buffer.alloc(0) : undefined));
      },
      onFinal: (res) => {
        const ok = res.status >= 200 && res.status < 300;
        if (ok) call.timers?.relayedAnswered(dstSide, req.method, res);
        const sdp = media.sdpOf(res);
        call.serial(async () => {
          let answerBody: Buffer | undefined;
          if (ok && sdp !== null) {
            // The far side's answer (or, for a late-offer re-INVITE, its offer) for the near side.
            answerBody = hadOffer
              ? await media.answer(call.callSid, dstSide, sdp, mediaOptionsOf(this.call, side))
              : await media.offer(call.callSid, dstSide, sdp, mediaOptionsOf(this.call, side));
          }
          if (req.method === 'INVITE' && ok) {
            ackOut = this.answered(
              side,
              dstSide,
              req,
              tx,
              out,
              res,
              src,
              dst,
              hadOffer,
              answerBody,
              (ack) => (ackOut = ack),
            );
            return;
          }
          if (req.method === 'INVITE') this.inviteFrom = null;
          tx.respond(
            this.response(req, res, src, answerBody ?? (media.active && sdp !== null ? Buffer.alloc(0) : undefined)),
          );
          // RFC 3261 12.2.1.2: 481 or 408 to a request inside a dialog ends it.
          if (res.status === 481 || res.status === 408) call.hangUp(`In-dialog ${req.method} answered ${res.status}`);
        });
      },
      onRetransmitted2xx: () => {
        if (ackOut !== null) call.sendStateless(ackOut, dst);
      },
      onTimeout: () => this.failed(req, tx, 408, 'Request Timeout'),
      onTransportError: () => this.failed(req, tx, 503, 'Service Unavailable'),
    };
    env.layer.sendRequest(out, dst.target, handlers, dst.flow ?? undefined);
  }

  /**
   * A 2xx to a relayed re-INVITE: the far side is ACKed now when the
   * re-INVITE carried an offer, else with the answer the near side's ACK
   * brings (late offer); the 2xx goes to the near side until its ACK.
   */
  private answered(
    side: Side,
    dstSide: Side,
    req: SipMessage,
    tx: ServerTransaction,
    out: SipMessage,
    res: SipMessage,
    src: Dialog,
    dst: Dialog,
    hadOffer: boolean,
    body: Buffer | undefined,
    setAck: (ack: SipMessage) => void,
  ): SipMessage | null {
    const call = this.call;
    const media = call.env.media;
    dst.refreshTarget(res);
    const seq = out.cseq.seq;
    const lateOffer = !hadOffer && req.body.length === 0;
    let ack: SipMessage | null = null;
    if (!lateOffer) {
      ack = dst.request('ACK', { seq });
      call.sendStateless(ack, dst);
    }
    call.answerWithRetransmit(side, this.response(req, res, src, body), tx, (nearAck) => {
      this.inviteFrom = null;
      if (!lateOffer) return;
      const answer = media.sdpOf(nearAck);
      call.serial(async () => {
        const ackBody =
          answer === null
            ? undefined
            : await media.answer(call.callSid, side, answer, mediaOptionsOf(this.call, dstSide));
        const late = dst.request(
          'ACK',
          ackBody === undefined ? { seq } : { headers: [['Content-Type', 'application/sdp']], body: ackBody, seq },
        );
        setAck(late);
        call.sendStateless(late, dst);
      });
    });
    return ack;
  }

  private failed(req: SipMessage, tx: ServerTransaction, status: number, reason: string): void {
    if (req.method === 'INVITE') this.inviteFrom = null;
    tx.respond(createResponse(req, status, { reason }));
    this.call.hangUp(reason);
  }

  /** The far side's response as the near side gets it: our Contact on a refresh, the allowed headers, the body. */
  private response(req: SipMessage, res: SipMessage, src: Dialog, body?: Buffer): SipMessage {
    const out = body ?? res.body;
    const relayed = relayedResponseHeaders(res);
    const timers = this.call.timers;
    const side: Side = src === this.call.a ? 'a' : 'b';
    const headers = (timers === null ? relayed : timers.answered(side, req, res.status, relayed)).filter(
      ([n]) => out.length > 0 || n !== 'Content-Type',
    );
    if (REFRESHING.has(req.method) && res.status < 300) headers.push(['Contact', src.contact]);
    if (this.call.env.agentName !== null) headers.push(['Server', this.call.env.agentName]);
    return createResponse(req, res.status, { reason: res.reason, headers, ...(out.length > 0 ? { body: out } : {}) });
  }
}
