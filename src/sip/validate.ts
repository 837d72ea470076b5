import { SipSyntaxError } from './errors.js';
import { H } from './header-names.js';
import type { SipMessage } from './message.js';
import { isSipUri } from './uri.js';
import { parseHttpDate } from './date.js';

/**
 * Checks that parseMessage() leaves to the lazy accessors, run once on every
 * message that enters the server: the headers every element reads must be
 * present, single and well formed (RFC 3261 8.1.1, 8.2, 16.3 step 1, RFC 4475
 * 3.1.2). Returns the first fault, or null. Semantic answers (416 for an
 * unknown scheme, 420, 483) belong to the proxy, not here.
 */
export function validateMessage(msg: SipMessage): SipSyntaxError | null {
  try {
    checkCounts(msg);

    void msg.callId;
    const cseq = msg.cseq;
    if (!msg.isRequest) {
      // A response is relayed, not interpreted: its top Via routes it and its CSeq matches it (RFC 4475 scalarlg).
      void msg.topVia.params;
      return null;
    }
    void msg.from;
    void msg.to;
    for (const via of msg.vias) void via.params;
    void msg.maxForwards;
    void msg.expires;
    {
      // RFC 3261 8.1.1.5: the CSeq method matches the request method (RFC 4475 mismatch01/02).
      if (cseq.method !== msg.method)
        throw new SipSyntaxError('CSeq', `method ${cseq.method} differs from ${msg.method}`);
      const uri = msg.requestUriParsed;
      // RFC 3261 19.1.5: a Request-URI carries no header part (RFC 4475 escruri).
      if (isSipUri(uri) && uri.headers !== null) throw new SipSyntaxError('Request-URI', 'contains headers');
      void msg.contacts;
      void msg.routes;
      void msg.recordRoutes;
    }
    const date = msg.field('Date');
    if (date !== undefined && parseHttpDate(date.value) === null) {
      throw new SipSyntaxError('Date', 'not an RFC 1123 date in GMT');
    }
    return null;
  } catch (err) {
    if (err instanceof SipSyntaxError) return err;
    throw err;
  }
}

/** Headers that may appear once at most (RFC 3261 7.3.1: only list headers may repeat), and whether each is required. */
const SINGLE: ReadonlyArray<[H, string, boolean]> = [
  [H.CallId, 'Call-ID', true],
  [H.CSeq, 'CSeq', true],
  [H.From, 'From', true],
  [H.To, 'To', true],
  [H.MaxForwards, 'Max-Forwards', false],
  [H.ContentType, 'Content-Type', false],
  [H.Expires, 'Expires', false],
];
/** Lines per header id in the message being checked: only SINGLE's ids are reset and read (others count to 2 and are ignored). */
const counts = new Uint8Array(256);

/** One pass over the fields: each single header at most once (required ones present), and a Via. */
function checkCounts(msg: SipMessage): void {
  let vias = 0;
  for (const [id] of SINGLE) counts[id] = 0;
  for (const f of msg.fields) {
    if (f.id === H.Via) vias++;
    else if (f.id < 256 && counts[f.id]! < 2) counts[f.id]!++;
  }
  for (const [id, name, required] of SINGLE) {
    const n = counts[id]!;
    if (n === 0 && required) throw new SipSyntaxError(name, 'missing');
    if (n > 1) throw new SipSyntaxError(name, 'appears more than once');
  }
  if (vias === 0) throw new SipSyntaxError('Via', 'missing');
}
