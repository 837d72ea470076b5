import type { SipMessage } from '../sip/message.js';
import { createResponse } from '../sip/response.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { ClientHandlers } from '../transaction/client-transaction.js';
import type { Call, Side } from './call.js';
import type { Dialog } from './dialog.js';
import { relayedRequestHeaders, relayedResponseHeaders } from './headers.js';

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

  relay(side: Side, req: SipMessage, tx: ServerTransaction): void {
    const call = this.call;
    const env = call.env;
    const src = side === 'a' ? call.a : call.b!;
    const dst = side === 'a' ? call.b : call.a;
    if (call.state !== 'confirmed' || dst === null) {
      // Nothing on the other side to carry it to (PRACK: we never send reliable provisionals).
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
          tx.respond(createResponse(req, 500, { reason: 'Request Pending', headers: [['Retry-After', String(1 + Math.floor(Math.random() * 5))]] }));
        } else {
          tx.respond(createResponse(req, 491));
        }
        return;
      }
      this.inviteFrom = side;
    }
    if (REFRESHING.has(req.method)) src.refreshTarget(req);
    const headers = relayedRequestHeaders(req);
    if (env.userAgent !== null) headers.push(['User-Agent', env.userAgent]);
    const out = dst.request(req.method, headers, req.body);
    env.counters.inc('b2bua_in_dialog_relayed');
    let ackOut: SipMessage | null = null;
    const handlers: ClientHandlers = {
      onProvisional: (res) => {
        if (res.status > 100) tx.respond(this.response(req, res, src));
      },
      onFinal: (res) => {
        if (req.method === 'INVITE' && res.status >= 200 && res.status < 300) {
          ackOut = this.answered(side, req, tx, out, res, src, dst, (ack) => (ackOut = ack));
          return;
        }
        if (req.method === 'INVITE') this.inviteFrom = null;
        tx.respond(this.response(req, res, src));
        // RFC 3261 12.2.1.2: 481 or 408 to a request inside a dialog ends it.
        if (res.status === 481 || res.status === 408) call.hangUp(`In-dialog ${req.method} answered ${res.status}`);
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
    req: SipMessage,
    tx: ServerTransaction,
    out: SipMessage,
    res: SipMessage,
    src: Dialog,
    dst: Dialog,
    setAck: (ack: SipMessage) => void,
  ): SipMessage | null {
    const call = this.call;
    dst.refreshTarget(res);
    const seq = out.cseq.seq;
    const lateOffer = req.body.length === 0;
    let ack: SipMessage | null = null;
    if (!lateOffer) {
      ack = dst.request('ACK', [], undefined, seq);
      call.sendStateless(ack, dst);
    }
    call.answerWithRetransmit(side, this.response(req, res, src), tx, (nearAck) => {
      this.inviteFrom = null;
      if (!lateOffer) return;
      const ct = nearAck.get('Content-Type');
      const late = dst.request('ACK', ct !== undefined && nearAck.body.length > 0 ? [['Content-Type', ct]] : [], nearAck.body, seq);
      setAck(late);
      call.sendStateless(late, dst);
    });
    return ack;
  }

  private failed(req: SipMessage, tx: ServerTransaction, status: number, reason: string): void {
    if (req.method === 'INVITE') this.inviteFrom = null;
    tx.respond(createResponse(req, status, { reason }));
    this.call.hangUp(reason);
  }

  /** The far side's response as the near side gets it: our Contact on a refresh, the allowed headers, the body. */
  private response(req: SipMessage, res: SipMessage, src: Dialog): SipMessage {
    const headers = relayedResponseHeaders(res);
    if (REFRESHING.has(req.method) && res.status < 300) headers.push(['Contact', src.contact]);
    if (this.call.env.userAgent !== null) headers.push(['Server', this.call.env.userAgent]);
    return createResponse(req, res.status, { reason: res.reason, headers, ...(res.body.length > 0 ? { body: res.body } : {}) });
  }
}
