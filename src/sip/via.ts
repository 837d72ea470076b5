import { SipSyntaxError } from './errors.js';
import { type Params, normalizeIPv6Reference, parseParams } from './params.js';
import { headerParamIn } from './fast-scan.js';
import { splitHeaderList } from './name-addr.js';
import { TOKEN, parseDecimal } from './chars.js';

/** RFC 3261 17.2.3: a branch that starts with the magic cookie was made by an RFC 3261 element. */
export const MAGIC_COOKIE = 'z9hG4bK';

/**
 * One Via header value (RFC 3261 20.42, 25.1 via-parm). The parameters are
 * parsed on first use of `params`; `branch` is found by a scan, since a proxy
 * reads it for every message and rarely anything else.
 */
export class Via {
  /** "SIP/2.0", normalised to upper case without whitespace. */
  readonly protocol: string;
  /** Transport in upper case: UDP, TCP, TLS, WS, WSS, SCTP or any token. */
  readonly transport: string;
  /** sent-by host: domain (lowercase), IPv4, or IPv6 in brackets (two-colon form, RFC 5118 4.10). */
  readonly host: string;
  /** sent-by port, or null when absent. */
  readonly port: number | null;
  /** The parameter text from the first ';' (or ''). */
  private readonly rawParams: string;
  private parsed: Params | null = null;

  constructor(protocol: string, transport: string, host: string, port: number | null, rawParams: string) {
    this.protocol = protocol;
    this.transport = transport;
    this.host = host;
    this.port = port;
    this.rawParams = rawParams;
  }

  get params(): Params {
    if (this.parsed === null) this.parsed = parseParams(this.rawParams, 'Via');
    return this.parsed;
  }

  /** The branch parameter (RFC 3261 8.1.1.7), or null. */
  get branch(): string | null {
    if (this.parsed !== null) {
      const b = this.parsed.get('branch');
      return typeof b === 'string' ? b : null;
    }
    const b = headerParamIn(this.rawParams, 0, 'branch');
    return b === null || b.length === 0 ? null : b;
  }

  /** The parameter text as it will be written (from `params` once touched). */
  paramsText(): string {
    return this.parsed === null ? this.rawParams : this.parsed.toString();
  }
}

/** Parses one via-parm: `SIP / 2.0 / UDP host:port;branch=...`. */
export function parseVia(value: string): Via {
  let i = 0;
  const n = value.length;
  const parts: string[] = [];
  // sent-protocol = protocol-name SLASH protocol-version SLASH transport; SLASH allows LWS around it.
  for (let k = 0; k < 3; k++) {
    i = skipWs(value, i);
    const start = i;
    while (i < n && TOKEN[value.charCodeAt(i)] === 1) i++;
    if (i === start) throw new SipSyntaxError('Via', 'bad sent-protocol');
    parts.push(value.slice(start, i));
    i = skipWs(value, i);
    if (k < 2) {
      if (value.charCodeAt(i) !== 47 /* / */) throw new SipSyntaxError('Via', 'bad sent-protocol');
      i++;
    }
  }
  const protocol = `${parts[0]!.toUpperCase()}/${parts[1]}`;
  if (protocol !== 'SIP/2.0') throw new SipSyntaxError('Via', `unsupported protocol ${protocol}`);
  if (i === n || (value.charCodeAt(i - 1) !== 32 && value.charCodeAt(i - 1) !== 9)) {
    throw new SipSyntaxError('Via', 'missing sent-by');
  }
  // sent-by = host [ COLON port ]
  let host: string;
  if (value.charCodeAt(i) === 91 /* [ */) {
    const close = value.indexOf(']', i);
    if (close < 0) throw new SipSyntaxError('Via', 'unterminated IPv6 reference');
    host = normalizeIPv6Reference(value.slice(i, close + 1).toLowerCase());
    i = close + 1;
  } else {
    const start = i;
    while (i < n) {
      const c = value.charCodeAt(i);
      if (!isHostChar(c)) break;
      i++;
    }
    if (i === start) throw new SipSyntaxError('Via', 'missing sent-by host');
    host = value.slice(start, i).toLowerCase();
  }
  i = skipWs(value, i);
  let port: number | null = null;
  if (value.charCodeAt(i) === 58 /* : */) {
    i = skipWs(value, i + 1);
    const start = i;
    while (i < n && value.charCodeAt(i) >= 48 && value.charCodeAt(i) <= 57) i++;
    port = parseDecimal(value.slice(start, i), 5);
    if (port < 1 || port > 65535) throw new SipSyntaxError('Via', 'bad sent-by port');
    i = skipWs(value, i);
  }
  if (i < n && value.charCodeAt(i) !== 59 /* ; */) throw new SipSyntaxError('Via', 'unexpected text after sent-by');
  return new Via(protocol, parts[2]!.toUpperCase(), host, port, i < n ? value.slice(i) : '');
}

/** Parses a Via header value that may hold several comma-separated via-parms. */
export function parseViaList(value: string): Via[] {
  const items = splitHeaderList(value);
  if (items.length === 0) throw new SipSyntaxError('Via', 'empty Via');
  const vias: Via[] = [];
  for (const item of items) {
    if (item.length === 0) throw new SipSyntaxError('Via', 'empty Via value in list');
    vias.push(parseVia(item));
  }
  return vias;
}

/** Writes a Via value back: `SIP/2.0/UDP host:port;params`. */
export function formatVia(v: Via): string {
  const sentBy = v.port === null ? v.host : `${v.host}:${v.port}`;
  return `${v.protocol}/${v.transport} ${sentBy}${v.paramsText()}`;
}

/** The branch parameter, or null. */
export function viaBranch(v: Via): string | null {
  return v.branch;
}

function skipWs(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 9) break;
    i++;
  }
  return i;
}

/** hostname and IPv4address characters: alphanum, '-', '.' */
function isHostChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 46 || c === 95;
}
