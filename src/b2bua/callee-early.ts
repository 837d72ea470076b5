import type { SipMessage } from '../sip/message.js';
import type { Flow } from '../transport/types.js';
import type { ClientHandlers } from '../transaction/client-transaction.js';
import { Dialog } from '../dialog/dialog.js';
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

  constructor(private readonly host: CalleeEarlyHost) {}

  /** A new attempt (a new dialog of the callee leg): the early dialogs of the last one are forgotten. */
  reset(): void {
    this.dialogs.clear();
    this.current = null;
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
        d: new Dialog({
          callId: leg.callId,
          localTag: leg.localTag,
          localUri: leg.localUri,
          remoteUri: leg.remoteUri,
          remoteTag: tag,
          remoteTarget: res.contacts[0]?.uriText ?? leg.remoteTarget,
          routeSet: res.getAll('Record-Route').reverse(),
          iface: leg.iface,
          target: leg.target,
          flow: flow !== null && flow.proto !== 'udp' ? flow : leg.flow,
        }),
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
    if (res.body.length > 0 && res.contentType === 'application/sdp') e.answered = true;
    this.current = e;
    this.prack(e, leg, res, rseq);
    return true;
  }

  /** RFC 3262 7.2: RAck names the provisional's RSeq and the CSeq of the INVITE it answers. */
  private prack(e: EarlyDialog, leg: Dialog, res: SipMessage, rseq: number): void {
    const headers: Array<[string, string]> = [
      ['RAck', formatRAck({ rseq, cseq: res.cseq.seq, method: res.cseq.method })],
    ];
    if (this.host.agentName !== null) headers.push(['User-Agent', this.host.agentName]);
    const prack = e.d.request('PRACK', { headers, seq: ++leg.localSeq });
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
