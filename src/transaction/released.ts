import { SipMessage } from '../sip/message.js';

/**
 * Stand-ins for messages a transaction has let go once it only waits out its
 * timers (RFC 3261 17: Timers D, I, J, K, L, M): the start-line facts that
 * stay meaningful (method, status, reason), no header, no body. Made only
 * when someone still asks for the message after the release.
 */

const NO_BODY = Buffer.alloc(0);

/** A released request: its method only. */
export function releasedRequest(method: string): SipMessage {
  return stub(true, method, 0, '');
}

/** A released response: status and reason only. */
export function releasedResponse(status: number, reason: string): SipMessage {
  return stub(false, '', status, reason);
}

function stub(isRequest: boolean, method: string, status: number, reason: string): SipMessage {
  return new SipMessage({
    isRequest,
    method,
    requestUri: '',
    status,
    reason,
    fields: [],
    body: NO_BODY,
    src: null,
    startLineEnd: 0,
    contentLength: null,
  });
}
