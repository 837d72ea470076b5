import type { SipMessage } from '../sip/message.js';
import { parseMessage } from '../sip/parser.js';
import { H } from '../sip/header-names.js';
import { firstListElement } from '../sip/fast-scan.js';

/**
 * The CANCEL for a request we sent (RFC 3261 9.1): same Request-URI,
 * Call-ID, To, From and CSeq number, method CANCEL, only the top Via (same
 * branch), the same Route headers.
 */
export function buildCancel(req: SipMessage): SipMessage {
  const lines = [`CANCEL ${req.requestUri} SIP/2.0`];
  const via = req.fields.find((f) => f.id === H.Via)!;
  lines.push(`Via: ${firstListElement(via.value)}`);
  for (const f of req.fields) {
    if (f.id === H.Route || f.id === H.To || f.id === H.From || f.id === H.CallId) lines.push(`${f.name}: ${f.value}`);
  }
  lines.push(`CSeq: ${req.cseq.seq} CANCEL`, 'Max-Forwards: 70', 'Content-Length: 0', '', '');
  const parsed = parseMessage(Buffer.from(lines.join('\r\n'), 'utf8'));
  if (!parsed.ok) throw new Error(`CANCEL build failed: ${parsed.error.message}`);
  return parsed.message;
}
