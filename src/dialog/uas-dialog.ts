/**
 * The dialog a request makes when we answer it as its UAS (RFC 3261 12.1.1):
 * our new To tag, the remote target from its Contact (else its From), the
 * route set from its Record-Route in order, the remote CSeq, and the flow
 * it came on (stream transports: the connection to answer on).
 */
import type { SipMessage } from '../sip/message.js';
import type { Flow } from '../transport/types.js';
import { Dialog, targetOfFlow, withoutTag } from './dialog.js';
import type { SipInterface } from './interfaces.js';
import { newTagValue } from './sid.js';

export function uasDialogOf(req: SipMessage, flow: Flow, iface: SipInterface): Dialog {
  const contacts = req.contacts;
  return new Dialog({
    callId: req.callId,
    localTag: newTagValue(),
    localUri: withoutTag(req.get('To') ?? ''),
    remoteUri: withoutTag(req.get('From') ?? ''),
    remoteTag: req.fromTag,
    remoteTarget: contacts.length > 0 ? contacts[0]!.uriText : req.from.uriText,
    routeSet: req.getAll('Record-Route'),
    iface,
    target: targetOfFlow(flow),
    flow: flow.proto === 'udp' ? null : flow,
    remoteSeq: req.cseq.seq,
  });
}
