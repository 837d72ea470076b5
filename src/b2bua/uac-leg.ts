/**
 * What every leg we place as a UAC (the callee search's attempts, a
 * transfer's new leg) shares: requests sent without a transaction, the
 * 2xx of an attempt given up, and the headers of an INVITE sent again.
 */
import type { SipMessage } from '../sip/message.js';
import { serialize } from '../sip/serializer.js';
import type { ClientTransaction } from '../transaction/client-transaction.js';
import { Dialog, withoutTag } from '../dialog/dialog.js';
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

/** A 2xx of an attempt given up (a late answer after the gateway timeout): ACKed and hung up (RFC 3261 15). */
export function hangUpStray(env: B2buaEnv, res: SipMessage, tx: ClientTransaction): void {
  const to = res.toTag;
  const iface = env.interfaces.forProto(tx.target.proto, tx.target.host);
  if (to === null || iface === null) return;
  const req = tx.request;
  const d = new Dialog({
    callId: req.callId,
    localTag: req.fromTag ?? newTagValue(),
    localUri: withoutTag(req.get('From') ?? ''),
    remoteUri: withoutTag(req.get('To') ?? ''),
    remoteTag: to,
    remoteTarget: res.contacts[0]?.uriText ?? req.requestUri,
    routeSet: res.getAll('Record-Route').reverse(),
    iface,
    target: tx.target,
    flow: tx.flow,
    localSeq: req.cseq.seq,
  });
  sendStateless(env, d.request('ACK', { seq: req.cseq.seq }), d);
  env.layer.sendRequest(d.request('BYE'), d.target, NO_HANDLERS, d.flow ?? undefined);
  env.counters.inc('b2bua_stray_answers_hung_up');
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
