import type { SipMessage } from '../sip/message.js';
import type { Flow } from '../transport/types.js';
import type { ClientHandlers } from '../transaction/client-transaction.js';
import { Dialog, dialogOfAnswer } from '../dialog/dialog.js';
import { formatRAck, isReliable, rseqOf } from './rel100.js';

/** One early dialog of the callee leg (RFC 3261 12.1.2: a provisional with a To tag). */
export interface EarlyDialog {
  readonly d: Dialog;
  /** RSeq of the last reliable provisional taken (RFC 3262 4), null before one. */
  rseq: number | null;
  /** A reliable provisional with SDP came: the offer of our INVITE is answered in this early dialog. */
  answered: boolean;
}

/** What the callee leg's early dialogs need of the call. */
export interface CalleeEarlyHost {
  readonly b: Dialog | null;
  send(req: SipMessage, d: Dialog, handlers: ClientHandlers): void;
  counter(name: string): void;
  readonly agentName: string | null;
  /** Our INVITE toward the callee carried no offer (the caller's had none). */
  readonly lateOffer: boolean;
}

/** A reliable provisional whose PRACK waits for the answer to the offer it carries (RFC 3262 5). */
interface HeldPrack {
  e: EarlyDialog;
  leg: Dialog;
  res: SipMessage;
  rseq: number;
}

/**
 * The early dialogs of the callee leg of the current attempt (one per To
 * tag: a forking callee makes several), and the PRACKs we send in them
 * (RFC 3262 4, 7.2). Requests of ours in an early dialog take their CSeq
 * from the leg's dialog, so that the confirmed dialog goes on counting
 * after them (RFC 3261 12.2.1.1).
 */
export class CalleeEarly {
  private readonly dialogs = new Map<string, EarlyDialog>();
  /** The early dialog that last sent a reliable provisional: the one an UPDATE of the caller goes to. */
  current: EarlyDialog | null = null;
  private held: HeldPrack | null = null;

  constructor(private readonly host: CalleeEarlyHost) {}

  /** A new attempt (a new dialog of the callee leg): the early dialogs of the last one are forgotten. */
  reset(): void {
    this.dialogs.clear();
    this.current = null;
    this.held = null;
  }

  /** Whether a PRACK of ours waits for the caller's answer to the callee's offer (prackHeld). */
  get holding(): boolean {
    return this.held !== null;
  }

  /** The held PRACK goes, with the answer (RFC 3262 5: the answer to an offer in a reliable provisional). */
  prackHeld(answer: Buffer | undefined): void {
    const h = this.held;
    if (h === null) return;
    this.held = null;
    if (answer !== undefined) h.e.answered = true;
    this.prack(h.e, h.leg, h.res, h.rseq, answer);
  }

  /** The early dialog a request of the callee belongs to (its From tag), or undefined. */
  byTag(tag: string | null): EarlyDialog | undefined {
    return tag === null ? undefined : this.dialogs.get(tag);
  }

  /**
   * A provisional of the callee: PRACKed when reliable. False when it must
   * not be processed further (RFC 3262 4: a retransmission, or an RSeq that
   * is not one more than the last one of its early dialog).
   */
  take(res: SipMessage, flow: Flow | null): boolean {
    const leg = this.host.b;
    const tag = res.toTag;
    if (leg === null || tag === null || !isReliable(res)) return true;
    const rseq = rseqOf(res)!;
    let e = this.dialogs.get(tag);
    if (e === undefined) {
      e = {
        d: dialogOfAnswer(leg, res, leg.target, flow !== null && flow.proto !== 'udp' ? flow : leg.flow),
        rseq: null,
        answered: false,
      };
      this.dialogs.set(tag, e);
    }
    if (e.rseq !== null && rseq !== e.rseq + 1) {
      if (rseq > e.rseq) this.host.counter('b2bua_reliable_out_of_order');
      return false;
    }
    e.rseq = rseq;
    const sdp = res.body.length > 0 && res.contentType === 'application/sdp';
    this.current = e;
    if (sdp && this.host.lateOffer && !e.answered && this.held === null) {
      // Our INVITE had no offer: this SDP is the offer, its answer due in our PRACK (RFC 3262 5), from the caller.
      this.held = { e, leg, res, rseq };
      return true;
    }
    if (sdp) e.answered = true;
    this.prack(e, leg, res, rseq);
    return true;
  }

  /** RFC 3262 7.2: RAck names the provisional's RSeq and the CSeq of the INVITE it answers. */
  private prack(e: EarlyDialog, leg: Dialog, res: SipMessage, rseq: number, answer?: Buffer): void {
    const headers: Array<[string, string]> = [
      ['RAck', formatRAck({ rseq, cseq: res.cseq.seq, method: res.cseq.method })],
    ];
    if (this.host.agentName !== null) headers.push(['User-Agent', this.host.agentName]);
    if (answer !== undefined) headers.push(['Content-Type', 'application/sdp']);
    const prack = e.d.request('PRACK', { headers, seq: ++leg.localSeq, ...(answer !== undefined && { body: answer }) });
    this.host.counter('b2bua_pracks_sent');
    this.host.send(prack, e.d, {
      onFinal: (r) => {
        if (r.status >= 300) this.host.counter('b2bua_pracks_refused');
      },
      onTimeout: () => this.host.counter('b2bua_pracks_refused'),
      onTransportError: () => this.host.counter('b2bua_pracks_refused'),
    });
  }
}
