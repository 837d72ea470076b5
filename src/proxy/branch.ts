import type { SipMessage } from '../sip/message.js';
import { MAGIC_COOKIE } from '../sip/via.js';

/**
 * Via branches of forwarded requests (RFC 3261 16.6 step 8): the magic
 * cookie, a hash of what identifies the request as received, and a counter.
 * The hash lets a request that comes back through us unchanged be told from
 * a spiral (16.3 step 4: loop detection); the counter keeps branches unique.
 */
let counter = Math.floor(Math.random() * 0x7fffffff);

export function newBranch(req: SipMessage): string {
  counter = (counter + 1) & 0x7fffffff;
  return `${MAGIC_COOKIE}${loopHash(req)}.${counter.toString(36)}`;
}

/** The loop-hash part of a branch we made, or null when the branch is not ours. */
export function loopHashOf(branch: string): string | null {
  if (!branch.startsWith(MAGIC_COOKIE)) return null;
  const dot = branch.indexOf('.', MAGIC_COOKIE.length);
  return dot < 0 ? null : branch.slice(MAGIC_COOKIE.length, dot);
}

/**
 * Hash of the fields 16.6 step 8 names: Request-URI, To tag, From tag,
 * Call-ID, CSeq number, Proxy-Require. The received top Via is left out: a
 * request that loops back through another element carries that element's
 * Via, and the hash must come out the same for the loop to be seen.
 */
export function loopHash(req: SipMessage): string {
  let h = fnv1a(0x811c9dc5, req.requestUri);
  h = fnv1a(h, req.toTag ?? '');
  h = fnv1a(h, req.fromTag ?? '');
  h = fnv1a(h, req.callId);
  h = fnv1a(h, String(req.cseq.seq));
  h = fnv1a(h, req.get('Proxy-Require') ?? '');
  return (h >>> 0).toString(36);
}

/**
 * Branch for a stateless forward (16.11): the same for every retransmission
 * of a request, so downstream transactions still match; derived from the
 * incoming branch (an ACK for a 2xx has a branch of its own).
 */
export function statelessBranch(req: SipMessage): string {
  let h = fnv1a(0x811c9dc5, req.topVia.branch ?? req.callId);
  h = fnv1a(h, req.method);
  h = fnv1a(h, req.requestUri);
  return `${MAGIC_COOKIE}${(h >>> 0).toString(36)}.s`;
}

/** FNV-1a over the UTF-16 code units of s (a fast non-cryptographic hash). */
function fnv1a(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Separator so that ("ab","c") and ("a","bc") differ.
  h ^= 0x7c;
  return Math.imul(h, 0x01000193);
}
