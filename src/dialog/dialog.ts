import type { SipMessage } from '../sip/message.js';
import type { Flow } from '../transport/types.js';
import type { Target } from '../transaction/types.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { SipInterface } from './interfaces.js';
import { uacRequest } from './uac-request.js';
import { AckWait, type AckWaitHandlers, type RetransmitClock } from './ack-wait.js';

/** What a request inside a dialog carries besides what the dialog writes. */
export interface InDialogRequest {
  /** Header fields after the dialog's own (Via to CSeq, Contact), in order. */
  headers?: ReadonlyArray<readonly [string, string]>;
  body?: Buffer;
  /** The CSeq number to reuse (ACK, CANCEL); absent: the next one. */
  seq?: number;
  /** Default 70. */
  maxForwards?: number;
}

/** What a dialog starts with (RFC 3261 12.1.1 for the UAS side, 12.1.2 for the UAC side). */
export interface DialogOptions {
  callId: string;
  localTag: string;
  /** Our From/To value without tag (name-addr). */
  localUri: string;
  /** The peer's From/To value without tag (name-addr). */
  remoteUri: string;
  /** The peer's tag; absent until its answer (UAC side). */
  remoteTag?: string | null;
  /** The peer's Contact URI (or, before one, the Request-URI). */
  remoteTarget: string;
  /** Route values for our requests, in the order they are written. */
  routeSet?: string[];
  /** Our interface toward the peer: Via, Contact. */
  iface: SipInterface;
  /** Where requests to the peer go. */
  target: Target;
  /** The flow to reuse (stream connection); absent or null: none. */
  flow?: Flow | null;
  /** The CSeq of our last request (default 0: the next is 1). */
  localSeq?: number;
  /** The peer's last CSeq (default null: none yet). */
  remoteSeq?: number | null;
}

/**
 * One side of a B2BUA call as a dialog (RFC 3261 12): Trunkline is one
 * party, the peer the other. Requests we send inside it carry our tag in
 * From, the peer's in To, our next CSeq, the route set, and go to where the
 * peer's messages come from (the flow: the same connection on TCP/TLS, the
 * source address on UDP, so NATed peers are reached; symmetric signalling).
 */
export class Dialog {
  readonly callId: string;
  readonly localTag: string;
  /** Our From/To value without tag (name-addr). */
  readonly localUri: string;
  /** The peer's From/To value without tag (name-addr). */
  readonly remoteUri: string;
  /** Our CSeq for the next request we send (12.2.1.1). */
  localSeq: number;
  /** The peer's last CSeq (12.2.2); null before any request of the peer. */
  remoteSeq: number | null;
  remoteTag: string | null;
  /** The peer's Contact URI: our in-dialog Request-URI (12.2.1.1). */
  remoteTarget: string;
  /** Route values for our requests, in the order they are written (12.1.1, 12.1.2). */
  routeSet: string[];
  /** Our interface toward the peer: Via, Contact. */
  iface: SipInterface;
  /** Where requests to the peer go. */
  target: Target;
  /** The flow to reuse (stream connection), or null. */
  flow: Flow | null;
  /** Our 2xx to the peer's INVITE still waiting for its ACK, or null. */
  private ackWait: AckWait | null = null;

  constructor(o: DialogOptions) {
    this.callId = o.callId;
    this.localTag = o.localTag;
    this.localUri = o.localUri;
    this.remoteUri = o.remoteUri;
    this.remoteTag = o.remoteTag ?? null;
    this.remoteTarget = o.remoteTarget;
    this.routeSet = o.routeSet ?? [];
    this.iface = o.iface;
    this.target = o.target;
    this.flow = o.flow ?? null;
    this.localSeq = o.localSeq ?? 0;
    this.remoteSeq = o.remoteSeq ?? null;
  }

  /** Our Contact for this side: the interface the peer reaches (a GRUU-less UA contact). */
  get contact(): string {
    return contactOf(this.iface);
  }

  /**
   * A new request inside the dialog (12.2.1.1): the next CSeq (ACK and
   * CANCEL reuse the INVITE's, given as `seq`), a fresh branch.
   */
  request(method: string, o: InDialogRequest = {}): SipMessage {
    const cseq = o.seq ?? ++this.localSeq;
    return uacRequest({
      method,
      uri: this.remoteTarget,
      iface: this.iface,
      from: this.localUri,
      fromTag: this.localTag,
      to: this.remoteTag === null ? this.remoteUri : `${this.remoteUri};tag=${this.remoteTag}`,
      callId: this.callId,
      cseq,
      routes: this.routeSet,
      ...(o.maxForwards !== undefined && { maxForwards: o.maxForwards }),
      ...(TARGET_REFRESH.has(method) && { contact: this.contact }),
      ...(o.headers !== undefined && { headers: o.headers }),
      ...(o.body !== undefined && { body: o.body }),
    });
  }

  /**
   * Checks the CSeq of a request from the peer (12.2.2): lower than the last
   * one is out of order (the caller answers 500). Updates remoteSeq.
   */
  acceptRemoteSeq(seq: number, method: string): boolean {
    if (method === 'ACK' || method === 'CANCEL') return true;
    if (this.remoteSeq !== null && seq <= this.remoteSeq) return false;
    this.remoteSeq = seq;
    return true;
  }

  /**
   * Answers the peer's INVITE (initial or re-INVITE) with a 2xx, sent again
   * until its ACK (RFC 3261 13.3.1.4, ack-wait.ts); `then` runs on the ACK
   * or when none came within 64*T1. An earlier 2xx still waiting is let go.
   */
  answerInvite(res: SipMessage, tx: ServerTransaction, clock: RetransmitClock, then: AckWaitHandlers): void {
    this.stopAckWait();
    const wait: AckWait = new AckWait(res, tx, clock, then, () => {
      if (this.ackWait === wait) this.ackWait = null;
    });
    this.ackWait = wait;
  }

  /** An ACK of the peer: true when it acknowledges our 2xx (whose `then` runs). */
  takeAck(ack: SipMessage): boolean {
    return this.ackWait !== null && this.ackWait.ack(ack);
  }

  /**
   * The dialog is to end once the peer ACKs our 2xx (RFC 3261 15: a BYE
   * only after it): `then` replaces what was to follow the ACK. False when
   * no 2xx waits for its ACK (end it now).
   */
  endAfterAck(then: AckWaitHandlers): boolean {
    if (this.ackWait === null) return false;
    this.ackWait.endWith(then);
    return true;
  }

  /** Whether our 2xx waits for its ACK, and the dialog is to end after it. */
  get endsAfterAck(): boolean {
    return this.ackWait !== null && this.ackWait.ending;
  }

  /** No more retransmissions of our 2xx, nothing runs on its ACK. */
  stopAckWait(): void {
    this.ackWait?.stop();
    this.ackWait = null;
  }

  /** Our side as UAC confirmed by the peer's 2xx (12.1.2): its tag, its Contact as target, the route set from Record-Route reversed. */
  confirm(res: SipMessage): void {
    this.remoteTag = res.toTag;
    this.refreshTarget(res);
    this.routeSet = res.getAll('Record-Route').reverse();
  }

  /** A target refresh (12.2): a re-INVITE/UPDATE or its 2xx with a Contact changes the remote target. */
  refreshTarget(msg: SipMessage): void {
    const c = msg.contacts;
    if (c.length > 0) this.remoteTarget = c[0]!.uriText;
  }
}

/** Our side of a dialog as UAC before any answer: what the dialog an answer creates is made from (RFC 3261 12.1.2). */
export type UacDialogBase = Pick<Dialog, 'callId' | 'localTag' | 'localUri' | 'remoteUri' | 'remoteTarget' | 'iface'>;

/** The dialog the answer `res` (a 2xx, or a reliable 1xx's early dialog) makes on our side of `base`. */
export function dialogOfAnswer(
  base: UacDialogBase,
  res: SipMessage,
  target: Target,
  flow: Flow | null,
  localSeq?: number,
): Dialog {
  const d = new Dialog({
    callId: base.callId,
    localTag: base.localTag,
    localUri: base.localUri,
    remoteUri: base.remoteUri,
    remoteTarget: base.remoteTarget,
    iface: base.iface,
    target,
    flow,
    ...(localSeq !== undefined && { localSeq }),
  });
  d.confirm(res);
  return d;
}

/** Methods whose requests carry our Contact (target refresh or dialog-creating, RFC 3261 8.1.1.8, 12.2). */
const TARGET_REFRESH: ReadonlySet<string> = new Set(['INVITE', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'REFER']);

export function contactOf(i: SipInterface): string {
  const transport = i.proto === 'udp' ? '' : `;transport=${i.proto}`;
  return `<sip:${i.host}:${i.port}${transport}>`;
}

/** Where the peer of a flow is: the flow's far end (symmetric signalling, RFC 3581 spirit). */
export function targetOfFlow(flow: Flow): Target {
  return { proto: flow.proto, host: flow.remoteHost, port: flow.remotePort };
}

/** A From/To value without its tag parameter (the tag is written by Dialog.request). */
export function withoutTag(value: string): string {
  const close = value.lastIndexOf('>');
  const from = close >= 0 ? close : 0;
  const lower = value.toLowerCase();
  let i = lower.indexOf(';tag=', from);
  if (i < 0) {
    const m = /;\s*tag\s*=/i.exec(value.slice(from));
    if (m === null) return value;
    i = from + m.index;
  }
  let end = value.indexOf(';', i + 1);
  if (end < 0) end = value.length;
  return (value.slice(0, i) + value.slice(end)).trim();
}
