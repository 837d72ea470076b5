/**
 * What every leg we place as a UAC (the callee search's attempts, a
 * transfer's new leg) shares: requests sent without a transaction, the
 * 2xx of an attempt given up, and the headers of an INVITE sent again.
 */
import type { SipMessage } from '../sip/message.js';
import { serialize, serializeUnpooled } from '../sip/serializer.js';
import type { ClientTransaction } from '../transaction/client-transaction.js';
import { Dialog, dialogOfAnswer, type UacDialogBase } from '../dialog/dialog.js';
import { newCallId, newTagValue } from '../dialog/sid.js';
import type { B2buaEnv } from './env.js';
import type { LegAttempt } from './plan.js';
import type { SipInterface } from '../dialog/interfaces.js';
import type { Target } from '../transaction/types.js';
import { NO_HANDLERS } from './callee-search.js';

/** Sends a request without a transaction (an ACK for a 2xx, RFC 3261 17.1.1.3). */
export function sendStateless(env: B2buaEnv, req: SipMessage, d: Dialog): void {
  sendStatelessBytes(env, serialize(req), d);
}

/** sendStateless() of a request already serialized (an ACK kept as bytes to be sent again). */
export function sendStatelessBytes(env: B2buaEnv, bytes: Buffer, d: Dialog): void {
  if (d.flow !== null && env.transport.send(d.flow, bytes)) return;
  env.transport.sendTo(d.target, bytes).catch(() => env.counters.inc('b2bua_ack_send_failures'));
}

/** What the ACK and BYE of a stray 2xx are built from: an attempt's dialog as its INVITE left, and the INVITE's CSeq (the ACK's; the BYE takes the next). */
export type StrayOrigin = UacDialogBase & { readonly seq: number };

/** The StrayOrigin of an attempt's INVITE `seq`, sent in dialog `d` (before any answer). */
export function strayOrigin(d: Dialog, seq: number): StrayOrigin {
  return {
    callId: d.callId,
    localTag: d.localTag,
    localUri: d.localUri,
    remoteUri: d.remoteUri,
    remoteTarget: d.remoteTarget,
    iface: d.iface,
    seq,
  };
}

/**
 * 2xx answers no call keeps: a late answer to an attempt given up (after the
 * gateway timeout), or a second dialog forked from the one we took. Each such
 * dialog gets one BYE (RFC 3261 15), and our ACK for every copy of its 2xx:
 * a retransmission means the callee has not seen the ACK yet (RFC 3261
 * 13.2.2.4), not that the dialog is new, so it gets no second BYE.
 */
export class StrayAnswers {
  /** Our ACK of each stray dialog (by its Call-ID and To tag), sent again for its retransmissions; made on the first. */
  private acks: Map<string, { bytes: Buffer; dialog: Dialog }> | null = null;

  constructor(private readonly env: B2buaEnv) {}

  /** `origin`: the attempt's dialog as its INVITE left (the transaction lets its request go on a 2xx). */
  hangUp(res: SipMessage, tx: ClientTransaction, origin: StrayOrigin): void {
    const to = res.toTag;
    if (to === null) return;
    const key = `${origin.callId}\n${to}`;
    this.acks ??= new Map();
    const known = this.acks.get(key);
    if (known !== undefined) {
      sendStatelessBytes(this.env, known.bytes, known.dialog);
      return;
    }
    const d = dialogOfAnswer(origin, res, tx.target, tx.flow, origin.seq);
    // Its own buffer: it is kept as long as the transaction takes retransmissions (Timer M).
    const ack = serializeUnpooled(d.request('ACK', { seq: origin.seq }));
    this.acks.set(key, { bytes: ack, dialog: d });
    sendStatelessBytes(this.env, ack, d);
    this.env.layer.sendRequest(d.request('BYE'), d.target, NO_HANDLERS, d.flow ?? undefined);
    this.env.counters.inc('b2bua_stray_answers_hung_up');
  }
}

/** Headers of an INVITE sent again (credentials, 422): all but those the dialog writes and the old credentials. */
export function againHeaders(invite: SipMessage): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const f of invite.fields) if (!OWN.has(f.name.toLowerCase())) out.push([f.name, f.value]);
  return out;
}

const OWN: ReadonlySet<string> = new Set([
  'via',
  'v',
  'max-forwards',
  'route',
  'from',
  'f',
  'to',
  't',
  'call-id',
  'i',
  'cseq',
  'contact',
  'm',
  'content-length',
  'l',
  'authorization',
  'proxy-authorization',
]);

/** The dialog of a new attempt toward a callee: a Call-ID and tag of its own, the attempt's URIs and preloaded routes. */
export function attemptDialog(attempt: LegAttempt, iface: SipInterface, target: Target): Dialog {
  return new Dialog({
    callId: newCallId(),
    localTag: newTagValue(),
    localUri: attempt.from,
    remoteUri: attempt.to,
    remoteTarget: attempt.requestUri,
    routeSet: [...attempt.routes],
    iface,
    target,
  });
}
