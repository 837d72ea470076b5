import type { SipMessage } from '../sip/message.js';
import { parseUri } from '../sip/uri.js';
import { SipSyntaxError } from '../sip/errors.js';
import type { Flow } from '../transport/types.js';
import type { Responder } from './responder.js';
import type { LocalIdentity } from './local-identity.js';
import type { Counters } from './counters.js';
import type { IngressHandlers } from './ingress.js';

/** Methods Trunkline understands (Allow header of its OPTIONS answer). */
export const ALLOWED_METHODS = 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, PRACK, UPDATE, INFO, REFER, NOTIFY, SUBSCRIBE, MESSAGE';

/**
 * The stateless answer path that stands until the proxy lands: OPTIONS to
 * the server itself (no user part) gets 200 (keep-alive pings of trunks and
 * carriers), ACK is absorbed (it never gets a response, RFC 3261 17.1.1.3),
 * everything else gets 501. Responses are dropped: no client transaction
 * waits for them yet.
 */
export class StatelessCore implements IngressHandlers {
  constructor(
    private readonly responder: Responder,
    private readonly identity: LocalIdentity,
    private readonly counters: Counters,
  ) {}

  onRequest(req: SipMessage, flow: Flow): void {
    if (req.method === 'ACK') return;
    if (req.method === 'OPTIONS' && this.isForUs(req)) {
      this.responder.reply(req, flow, 200, {
        headers: [
          ['Allow', ALLOWED_METHODS],
          ['Accept', 'application/sdp'],
          ['Supported', 'path, outbound'],
        ],
      });
      return;
    }
    this.responder.reply(req, flow, 501);
  }

  onResponse(_res: SipMessage, _flow: Flow): void {
    this.counters.inc('sip_responses_unmatched');
  }

  private isForUs(req: SipMessage): boolean {
    try {
      const uri = parseUri(req.requestUri);
      return 'user' in uri && uri.user === null && this.identity.isLocalUri(uri);
    } catch (err) {
      if (err instanceof SipSyntaxError) return false;
      throw err;
    }
  }
}
