/**
 * SIP.js (0.21.2, ESM). Its message parser is the core `Parser.parseMessage(
 * text, logger)`, which its transports feed with a string; we decode the
 * datagram with buf.toString('utf8') and count that. It returns an
 * IncomingRequestMessage / IncomingResponseMessage whose From, To, Call-ID,
 * CSeq, Max-Forwards, Content-*, Contact, Record-Route and first Via are parsed
 * while parsing; other headers are kept raw in `headers` (canonical name ->
 * array of {raw, parsed?}, one entry per header line) and parsed on demand
 * with parseHeader(name, idx).
 *
 * SIP.js is a user agent library and has no proxy API: there is no way to
 * serialize an IncomingMessage except toString(), which returns the received
 * text unchanged, and OutgoingRequestMessage builds a new UAC request (new
 * Call-ID, CSeq, Via) rather than relaying one. So the forward path is written
 * the way a proxy on SIP.js would do it: edit the `headers` structure (unshift
 * a {raw} Via, replace Max-Forwards, drop the first Route value, or shift the
 * top Via of a response) and rebuild the text from the received start line
 * (the first line of `data`), every entry of `headers` in order, and `body`,
 * then encode it with Buffer.from(text, 'utf8').
 *
 * SIP.js's grammar has no Route rule; a Route value has the Record-Route
 * syntax (RFC 3261 25.1 rec-route / route-param), so Route lines are parsed
 * with Grammar.parse(value, 'Record_Route'), which also gives the offset of
 * each comma-separated value.
 */
import { Parser } from 'sip.js/lib/core/messages/parser.js';
import { IncomingRequestMessage } from 'sip.js/lib/core/messages/incoming-request-message.js';
import type { IncomingResponseMessage } from 'sip.js/lib/core/messages/incoming-response-message.js';
import { LoggerFactory } from 'sip.js/lib/core/log/logger-factory.js';
import { Grammar } from 'sip.js/lib/grammar/grammar.js';
import type { NameAddrHeader } from 'sip.js/lib/grammar/name-addr-header.js';
import { DEFAULT_MAX_FORWARDS, PROXY_VIA_PREFIX, sinkNum, sinkStr, type Implementation } from './common.js';

type SipJsMessage = IncomingRequestMessage | IncomingResponseMessage;
type HeaderEntry = { raw: string; parsed?: unknown };

/** One item of Grammar.parse(value, 'Record_Route'): [offset, position) is its text in value. */
interface RouteItem {
  offset: number;
  position: number;
  parsed: NameAddrHeader;
}

const loggerFactory = new LoggerFactory();
loggerFactory.builtinEnabled = false;
const logger = loggerFactory.getLogger('sip.parser');

let branchCounter = 0;

export function parseSipJs(buf: Buffer): SipJsMessage {
  const m = Parser.parseMessage(buf.toString('utf8'), logger);
  if (m === undefined) throw new Error('sip.js: parse failed');
  return m;
}

function parseRouteLine(raw: string): RouteItem[] {
  const items = Grammar.parse(raw, 'Record_Route') as RouteItem[] | -1;
  if (items === -1) throw new Error('sip.js: bad Route');
  return items;
}

function sinkNameAddr(n: NameAddrHeader): void {
  sinkStr(n.uri.host);
  sinkStr(n.displayName);
}

/** Removes the first value of a list header kept as lines of raw text. */
function shiftFirstValue(lines: HeaderEntry[], items: Array<{ offset: number }> | null): void {
  const first = lines[0]!;
  if (items !== null) {
    if (items.length > 1) lines[0] = { raw: first.raw.substring(items[1]!.offset) };
    else lines.shift();
    return;
  }
  // Via: SIP.js keeps one raw entry per line and parses only a single via-parm per line.
  const comma = first.raw.indexOf(',');
  if (comma < 0) lines.shift();
  else lines[0] = { raw: first.raw.substring(comma + 1).trim() };
}

function serializeSipJs(m: SipJsMessage): Buffer {
  const data = m.data;
  let s = data.substring(0, data.indexOf('\r\n') + 2);
  const headers = m.headers as Record<string, HeaderEntry[]>;
  for (const name in headers) {
    const lines = headers[name]!;
    for (let i = 0; i < lines.length; i++) s += `${name}: ${lines[i]!.raw}\r\n`;
  }
  s += '\r\n';
  s += m.body;
  return Buffer.from(s, 'utf8');
}

function forward(buf: Buffer): Buffer {
  const m = parseSipJs(buf);
  sinkStr(m.viaBranch);
  sinkStr(m.via.host);
  sinkNum(m.via.port);
  sinkStr(m.callId);
  sinkNum(m.cseq);
  sinkStr((m.parseHeader('cseq') as { method: string }).method);
  sinkStr(m.fromTag);
  sinkStr(m.toTag);
  const headers = m.headers as Record<string, HeaderEntry[]>;
  if (m instanceof IncomingRequestMessage) {
    const mfParsed = m.parseHeader('max-forwards') as number | undefined;
    const mf = mfParsed ?? DEFAULT_MAX_FORWARDS;
    const routeLines = headers['Route'];
    let routeItems: RouteItem[] | null = null;
    if (routeLines !== undefined && routeLines.length > 0) {
      routeItems = parseRouteLine(routeLines[0]!.raw);
      sinkNameAddr(routeItems[0]!.parsed);
    }
    headers['Via']!.unshift({ raw: PROXY_VIA_PREFIX + ++branchCounter });
    m.setHeader('max-forwards', String(mf - 1));
    if (routeLines !== undefined && routeItems !== null) {
      shiftFirstValue(routeLines, routeItems);
      if (routeLines.length === 0) delete headers['Route'];
    }
  } else {
    const vias = headers['Via']!;
    shiftFirstValue(vias, null);
    if (vias.length === 0) delete headers['Via'];
  }
  return serializeSipJs(m);
}

/** Headers parsed in fullParse (the set all three implementations parse); others are read raw. */
const PARSED = new Set(['Via', 'From', 'To', 'Contact', 'Route', 'Record-Route', 'CSeq', 'Call-ID', 'Max-Forwards']);

function fullParse(buf: Buffer): number {
  const m = parseSipJs(buf);
  const headers = m.headers as Record<string, HeaderEntry[]>;
  sinkNameAddr(m.from);
  sinkNameAddr(m.to);
  const viaCount = headers['Via']?.length ?? 0;
  for (let i = 0; i < viaCount; i++) sinkStr((m.parseHeader('Via', i) as { host: string }).host);
  const contactCount = headers['Contact']?.length ?? 0;
  for (let i = 0; i < contactCount; i++) sinkNameAddr(m.parseHeader('Contact', i) as NameAddrHeader);
  for (const line of headers['Route'] ?? []) for (const r of parseRouteLine(line.raw)) sinkNameAddr(r.parsed);
  const rrCount = headers['Record-Route']?.length ?? 0;
  for (let i = 0; i < rrCount; i++) sinkNameAddr(m.parseHeader('Record-Route', i) as NameAddrHeader);
  sinkNum((m.parseHeader('CSeq') as { value: number }).value);
  sinkStr(m.callId);
  sinkNum(m.parseHeader('Max-Forwards') as number | undefined);
  let n = 0;
  for (const name in headers) {
    n += headers[name]!.length;
    if (PARSED.has(name)) continue;
    for (const raw of m.getHeaders(name)) sinkStr(raw);
  }
  sinkNum(m.body.length);
  return n;
}

export const sipjsPeer: Implementation = {
  name: 'sip.js',
  notes:
    "Parser.parseMessage(buf.toString('utf8')) -> Incoming*Message; via/viaBranch/callId/cseq/fromTag/toTag fields, " +
    "parseHeader('max-forwards'), Grammar 'Record_Route' rule for Route; edit `headers`, rebuild text from first line of data + headers + body; Buffer.from(utf8)",
  forward,
  fullParse,
};
