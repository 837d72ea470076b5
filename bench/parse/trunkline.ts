/**
 * Trunkline's own parser and serializer (src/sip), driven the way its proxy
 * core drives them: parseMessage() on the datagram, lazy typed accessors for
 * the headers a proxy reads, field-list edits, serialize() back to bytes
 * (untouched lines are copied from the source buffer).
 */
import { parseMessage } from '../../src/sip/parser.js';
import { serialize } from '../../src/sip/serializer.js';
import { H } from '../../src/sip/header-names.js';
import type { SipMessage } from '../../src/sip/message.js';
import type { NameAddr } from '../../src/sip/name-addr.js';
import { DEFAULT_MAX_FORWARDS, PROXY_VIA_PREFIX, sinkNum, sinkStr, type Implementation } from './common.js';

let branchCounter = 0;

function parse(buf: Buffer): SipMessage {
  const r = parseMessage(buf);
  if (!r.ok) throw new Error(`trunkline: parse failed: ${r.error.message}`);
  return r.message;
}

function sinkNameAddr(n: NameAddr): void {
  sinkStr(n.uriText);
  sinkNum(n.params.size);
}

function forward(buf: Buffer): Buffer {
  const m = parse(buf);
  // What a stateful proxy reads: transaction key, dialog ids, loop/route info.
  const via = m.topVia;
  sinkStr(via.branch);
  sinkStr(via.host);
  sinkNum(via.port);
  sinkStr(m.callId);
  const cseq = m.cseq;
  sinkNum(cseq.seq);
  sinkStr(cseq.method);
  sinkStr(m.fromTag);
  sinkStr(m.toTag);
  if (m.isRequest) {
    const mf = m.maxForwards;
    // Loose routing looks at the top Route only (RFC 3261 16.4).
    const route = m.topRoute;
    if (route !== null) sinkNameAddr(route);
    m.prependHeader('Via', PROXY_VIA_PREFIX + ++branchCounter);
    m.setHeader('Max-Forwards', String((mf ?? DEFAULT_MAX_FORWARDS) - 1));
    if (route !== null) m.removeFirstValue('Route');
  } else {
    m.removeFirstValue('Via');
  }
  return serialize(m);
}

/** Headers read through a typed accessor in fullParse; the rest go through get(). */
const TYPED = new Set<number>([
  H.Via,
  H.From,
  H.To,
  H.Contact,
  H.Route,
  H.RecordRoute,
  H.CSeq,
  H.CallId,
  H.MaxForwards,
]);

function fullParse(buf: Buffer): number {
  const m = parse(buf);
  const before = m.fields.length;
  sinkNameAddr(m.from);
  sinkNameAddr(m.to);
  for (const v of m.vias) {
    sinkStr(v.host);
    sinkNum(v.params.size);
  }
  for (const c of m.contacts) sinkNameAddr(c);
  for (const r of m.routes) sinkNameAddr(r);
  for (const r of m.recordRoutes) sinkNameAddr(r);
  sinkNum(m.cseq.seq);
  sinkStr(m.callId);
  sinkNum(m.maxForwards);
  const fields = m.fields;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    if (!TYPED.has(f.id)) sinkStr(m.get(f.name));
  }
  sinkNum(m.body.length);
  return before;
}

export const trunkline: Implementation = {
  name: 'trunkline',
  notes:
    'parseMessage(Buffer) -> SipMessage; lazy accessors (topVia, callId, cseq, fromTag, toTag, maxForwards, routes); ' +
    "prependHeader('Via'), setHeader('Max-Forwards'), removeFirstValue('Route'|'Via'); serialize() -> Buffer",
  forward,
  fullParse,
};
