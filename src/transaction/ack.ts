import { SipMessage } from '../sip/message.js';
import { HeaderField } from '../sip/header-field.js';
import { H } from '../sip/header-names.js';
import { firstListElement } from '../sip/fast-scan.js';

/**
 * The ACK a client INVITE transaction sends for a 3xx-6xx response
 * (RFC 3261 17.1.1.3): the Request-URI, Call-ID, From and CSeq number of the
 * INVITE with method ACK, only the top Via of the INVITE (same branch), the
 * To of the response (its tag), and the INVITE's Route header fields.
 * Max-Forwards is copied (70 when the INVITE had none). Header fields are the
 * INVITE's and response's own, so they are written from their bytes.
 */
export function buildNon2xxAck(invite: SipMessage, res: SipMessage): SipMessage {
  let via: HeaderField | null = null;
  let maxForwards: HeaderField | null = null;
  let from: HeaderField | null = null;
  let callId: HeaderField | null = null;
  const routes: HeaderField[] = [];
  for (const f of invite.fields) {
    switch (f.id) {
      case H.Via:
        if (via === null) via = f.value.indexOf(',') < 0 ? f : HeaderField.create('Via', firstListElement(f.value));
        break;
      case H.Route:
        routes.push(f);
        break;
      case H.MaxForwards:
        maxForwards = f;
        break;
      case H.From:
        from = f;
        break;
      case H.CallId:
        callId = f;
        break;
      default:
        break;
    }
  }
  let to: HeaderField | null = null;
  for (const f of res.fields) {
    if (f.id === H.To) {
      to = f;
      break;
    }
  }
  if (via === null || from === null || callId === null || to === null) {
    throw new Error('cannot build ACK: INVITE or response lacks Via/From/Call-ID/To');
  }
  const fields: HeaderField[] = [
    via,
    ...routes,
    maxForwards ?? HeaderField.create('Max-Forwards', '70'),
    from,
    to,
    callId,
  ];
  fields.push(HeaderField.create('CSeq', `${invite.cseq.seq} ACK`));
  fields.push(HeaderField.create('Content-Length', '0'));
  return new SipMessage({
    isRequest: true,
    method: 'ACK',
    requestUri: invite.requestUri,
    status: 0,
    reason: '',
    fields,
    body: Buffer.alloc(0),
    src: null,
    startLineEnd: 0,
    contentLength: 0,
  });
}
