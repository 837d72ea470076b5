import type { SipMessage } from '../sip/message.js';
import { viaSentBy, type SipInterface } from './interfaces.js';
import { buildRequest } from './request-builder.js';
import { newBranchValue } from './sid.js';

/** What a request we send as a UAC is made of (RFC 3261 8.1.1; inside a dialog, 12.2.1.1). */
export interface UacRequestParts {
  method: string;
  /** The Request-URI. */
  uri: string;
  /** Our interface toward the peer: the Via sent-by. */
  iface: SipInterface;
  /** From without tag (name-addr), and our tag. */
  from: string;
  fromTag: string;
  /** To as written: inside a dialog with the peer's tag. */
  to: string;
  callId: string;
  cseq: number;
  /** Default 70 (8.1.1.6). */
  maxForwards?: number;
  /** Route values, in the order they are written (the route set, 12.2.1.1). */
  routes?: readonly string[];
  /** Our Contact (8.1.1.8), or none. */
  contact?: string;
  /** Further header fields, in order, after those above. */
  headers?: ReadonlyArray<readonly [string, string]>;
  body?: Buffer;
}

/**
 * A new request of ours: the top Via with a fresh branch (8.1.1.7) and
 * rport (RFC 3581), Max-Forwards, the routes, From with our tag, To,
 * Call-ID, CSeq, Contact, then the caller's headers. Gateway pings,
 * carrier REGISTERs, NAT keep-alives and every request of a dialog are
 * written here. Throws when a value holds a line break (request-builder.ts).
 */
export function uacRequest(p: UacRequestParts): SipMessage {
  const h: Array<[string, string]> = [
    ['Via', `${viaSentBy(p.iface)};branch=${newBranchValue()};rport`],
    ['Max-Forwards', String(p.maxForwards ?? 70)],
  ];
  if (p.routes !== undefined) for (const r of p.routes) h.push(['Route', r]);
  h.push(
    ['From', `${p.from};tag=${p.fromTag}`],
    ['To', p.to],
    ['Call-ID', p.callId],
    ['CSeq', `${p.cseq} ${p.method}`],
  );
  if (p.contact !== undefined) h.push(['Contact', p.contact]);
  if (p.headers !== undefined) for (const [n, v] of p.headers) h.push([n, v]);
  return buildRequest({ method: p.method, uri: p.uri, headers: h, body: p.body });
}
