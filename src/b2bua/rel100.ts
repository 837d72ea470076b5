import type { SipMessage } from '../sip/message.js';

/** The option tag of reliable provisional responses (RFC 3262). */
export const REL100 = '100rel';

/** What a request asks of reliable provisionals: Require: 100rel, Supported: 100rel, or neither. */
export type Rel100Wish = 'required' | 'supported' | 'none';

export function rel100Of(msg: SipMessage): Rel100Wish {
  if (hasTag(msg, 'Require')) return 'required';
  return hasTag(msg, 'Supported') ? 'supported' : 'none';
}

/** A provisional response sent reliably (RFC 3262 4): Require: 100rel and an RSeq. */
export function isReliable(res: SipMessage): boolean {
  return res.status > 100 && res.status < 200 && hasTag(res, 'Require') && rseqOf(res) !== null;
}

/** RSeq (RFC 3262 7.1): 1 to 2**32 - 1; null when absent or not a number. */
export function rseqOf(res: SipMessage): number | null {
  const v = res.get('RSeq');
  return v === undefined ? null : seqNumber(v.trim());
}

export interface RAck {
  rseq: number;
  cseq: number;
  method: string;
}

/** RAck of a PRACK (RFC 3262 7.2): `response-num CSeq-num Method`; null when malformed. */
export function rackOf(req: SipMessage): RAck | null {
  const v = req.get('RAck');
  if (v === undefined) return null;
  const parts = v.trim().split(/\s+/);
  if (parts.length !== 3) return null;
  const rseq = seqNumber(parts[0]!);
  const cseq = seqNumber(parts[1]!);
  if (rseq === null || cseq === null) return null;
  return { rseq, cseq, method: parts[2]! };
}

export function formatRAck(r: RAck): string {
  return `${r.rseq} ${r.cseq} ${r.method}`;
}

/** The headers of an INVITE with `100rel` added to its Supported (one list, as relayed). */
export function withSupported100rel(headers: Array<[string, string]>): Array<[string, string]> {
  const i = headers.findIndex(([n]) => n.toLowerCase() === 'supported');
  if (i < 0) return [...headers, ['Supported', REL100]];
  const out = [...headers];
  out[i] = [headers[i]![0], `${headers[i]![1]}, ${REL100}`];
  return out;
}

/** Whether a request's Allow names `method` (RFC 3311 5.1: UPDATE only toward a UA that allows it). */
export function allows(msg: SipMessage, method: string): boolean {
  return msg.getAll('Allow').some((m) => m.trim().toUpperCase() === method);
}

function hasTag(msg: SipMessage, name: 'Require' | 'Supported'): boolean {
  return msg.optionTags(name).some((t) => t.toLowerCase() === REL100);
}

function seqNumber(s: string): number | null {
  if (!/^\d{1,10}$/.test(s)) return null;
  const n = Number(s);
  return n >= 1 && n < 2 ** 32 ? n : null;
}
