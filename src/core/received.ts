import type { SipMessage } from '../sip/message.js';
import { formatVia } from '../sip/via.js';
import type { Flow } from '../transport/types.js';

/**
 * RFC 3261 18.2.1 and RFC 3581 4: the server transport notes on the top Via
 * where a request really came from: `received` when the sent-by host differs
 * from the source address (or rport was asked for), and the source port in
 * `rport` when the client sent an empty rport.
 */
export function stampReceived(msg: SipMessage, flow: Flow): void {
  const top = msg.topVia;
  const wantsRport = top.params.has('rport');
  const hostMatches = stripBrackets(top.host) === flow.remoteHost;
  if (hostMatches && !wantsRport) return;
  top.params.set('received', flow.remoteHost);
  if (wantsRport) top.params.set('rport', String(flow.remotePort));
  msg.setFirstValue('Via', formatVia(top));
}

function stripBrackets(host: string): string {
  return host.charCodeAt(0) === 91 ? host.slice(1, -1) : host;
}
