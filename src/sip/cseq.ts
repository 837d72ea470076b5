import { SipSyntaxError } from './errors.js';
import { isToken, parseDecimal } from './chars.js';

/** CSeq header value (RFC 3261 20.16). */
export interface CSeq {
  seq: number;
  method: string;
}

/** Parses `1*DIGIT LWS Method`; the number must be below 2**31 (RFC 3261 8.1.1.5). */
export function parseCSeq(value: string): CSeq {
  let i = 0;
  const n = value.length;
  while (i < n && value.charCodeAt(i) >= 48 && value.charCodeAt(i) <= 57) i++;
  const next = i < n ? value.charCodeAt(i) : 32;
  if (i === 0 || (next !== 32 && next !== 9))
    throw new SipSyntaxError('CSeq', 'sequence number is not a decimal number');
  const seq = parseDecimal(value.slice(0, i), 10);
  if (seq < 0 || seq > 0x7fffffff) throw new SipSyntaxError('CSeq', 'sequence number not below 2^31');
  const sep = i;
  while (i < n && (value.charCodeAt(i) === 32 || value.charCodeAt(i) === 9)) i++;
  if (i === sep) throw new SipSyntaxError('CSeq', 'missing method');
  const method = value.slice(i);
  if (!isToken(method)) throw new SipSyntaxError('CSeq', 'bad method');
  return { seq, method };
}

export function formatCSeq(c: CSeq): string {
  return `${c.seq} ${c.method}`;
}
