import type { SipMessage } from '../sip/message.js';
import { MAGIC_COOKIE, type Via } from '../sip/via.js';

/**
 * Transaction keys: one string per transaction, so that matching a message
 * is one Map lookup. The keys of the two common cases are built with join:
 * a template literal makes a rope of cons strings (one per part) that a
 * transaction would keep for its 32 s of Timer J/L/M, where join makes one
 * flat string, cheaper to keep and to hash.
 */

/** True for a branch made by an RFC 3261 element (17.2.3: starts with the magic cookie). */
export function isRfc3261Branch(branch: string | null): branch is string {
  return branch !== null && branch.startsWith(MAGIC_COOKIE);
}

/**
 * 17.2.3 (RFC 3261 branch): the branch, the sent-by of the top Via, and the
 * method, ACK counting as INVITE. CANCEL keeps its own method, so it gets
 * its own transaction.
 */
export function serverKey3261(branch: string, via: Via, method: string): string {
  return [branch, '|', via.host, ':', via.port ?? '', '|', method === 'ACK' ? 'INVITE' : method].join('');
}

/**
 * 17.2.3 (RFC 2543 request, no magic cookie): Request-URI, To tag, From
 * tag, Call-ID, CSeq number and method, and the top Via (transport,
 * sent-by and any old-style branch: a retransmission repeats them; the
 * received/rport the ingress adds are left out). The ACK of a non-2xx has
 * the To tag of the response, not the INVITE's: the layer looks it up with
 * the INVITE's possible To tags and checks the response's tag.
 */
export function serverKey2543(req: SipMessage, via: Via, branch: string | null, method: string, toTag: string): string {
  return `\n2543\n${req.requestUri}\n${toTag}\n${req.fromTag ?? ''}\n${req.callId}\n${req.cseq.seq}\n${method}\n${via.transport} ${via.host}:${via.port ?? ''};${branch ?? ''}`;
}

/** 17.1.3: the top Via branch of a response and its CSeq method. */
export function clientKey(branch: string, method: string): string {
  return [branch, '|', method].join('');
}

/**
 * The branch, as the first characters of its transaction's key when the key
 * starts with it (an RFC 3261 key), else as it came. A transaction keeps
 * both for its 32 s of Timer J/L/M; the parser's branch is a slice of the
 * whole Via value, and V8 keeps a slice's parent string alive: a slice of
 * the key keeps nothing the transaction does not keep anyway.
 */
export function branchWithin(key: string, branch: string): string {
  return key.startsWith(branch) ? key.slice(0, branch.length) : branch;
}
