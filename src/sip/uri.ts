/**
 * SIP, SIPS and tel URIs (RFC 3261 19.1 and 25.1, RFC 3966), plus any other
 * absoluteURI kept opaque (RFC 3261 25.1; a proxy answers 416 for those).
 *
 * Parsing is a single left-to-right charCodeAt scan with table lookups (no
 * regular expressions), so it is linear in the input and never backtracks.
 * Every malformed input throws SipSyntaxError with field 'URI'.
 */
import { SipSyntaxError } from './errors.js';
import {
  C_ALPHA,
  C_HNV,
  C_HOST,
  C_PARAMCHAR,
  C_PASSWORD,
  C_SCHEME,
  C_URIC,
  C_USER,
  escapeAt,
  hexValue,
  isClass,
  Params,
  parseIPv4,
  normalizeIPv6Reference,
  parseIPv6,
  scanClass,
  scanEscaped,
} from './params.js';

export interface SipUri {
  scheme: 'sip' | 'sips';
  /** As written (still %-escaped); null when there is no userinfo. */
  user: string | null;
  /** As written (still %-escaped); null when absent, '' for `user:@host`. */
  password: string | null;
  /** Lowercase for domain names and IPv6; IPv6 WITH brackets, e.g. "[::1]", in the two-colon form (RFC 5118 4.10). */
  host: string;
  hostType: 'domain' | 'ipv4' | 'ipv6';
  /** null when not given. */
  port: number | null;
  params: Params;
  /** Raw text after '?', or null. */
  headers: string | null;
}

export interface TelUri {
  scheme: 'tel';
  /** global-number or local-number as written, visual separators included. */
  number: string;
  params: Params;
}

/** An absoluteURI of any other scheme; scheme lowercase, the rest as written. */
export interface OtherUri {
  scheme: string;
  opaque: string;
}

export type Uri = SipUri | TelUri | OtherUri;

const FIELD = 'URI';

/** Parses any URI: sip/sips, tel, or another scheme as OtherUri. */
export function parseUri(s: string): Uri {
  const colon = scanScheme(s);
  const scheme = s.slice(0, colon).toLowerCase();
  if (scheme === 'sip' || scheme === 'sips') return parseSipBody(s, colon + 1, scheme);
  if (scheme === 'tel') return parseTelBody(s, colon + 1);
  return parseOtherBody(s, colon + 1, scheme);
}

/** parseUri, or null when the text is not a URI (SipSyntaxError); any other error propagates. */
export function tryParseUri(s: string): Uri | null {
  try {
    return parseUri(s);
  } catch (err) {
    if (err instanceof SipSyntaxError) return null;
    throw err;
  }
}

/** Parses a sip or sips URI; any other (well-formed) scheme throws with status 416. */
export function parseSipUri(s: string): SipUri {
  const u = parseUri(s);
  if (!isSipUri(u)) throw new SipSyntaxError(FIELD, `unsupported URI scheme ${u.scheme}`, 416);
  return u;
}

export function isSipUri(u: Uri): u is SipUri {
  return (u.scheme === 'sip' || u.scheme === 'sips') && 'host' in u;
}

export function isTelUri(u: Uri): u is TelUri {
  return u.scheme === 'tel' && 'number' in u;
}

/** Writes a URI back; parseUri(formatUri(u)) gives an equal structure. */
export function formatUri(u: Uri): string {
  if (isSipUri(u)) {
    let out = `${u.scheme}:`;
    if (u.user !== null) out += u.password === null ? `${u.user}@` : `${u.user}:${u.password}@`;
    out += u.host;
    if (u.port !== null) out += `:${u.port}`;
    out += u.params.toString();
    if (u.headers !== null) out += `?${u.headers}`;
    return out;
  }
  if (isTelUri(u)) return `tel:${u.number}${u.params.toString()}`;
  return `${u.scheme}:${(u as OtherUri).opaque}`;
}

// ---------------------------------------------------------------------------
// Scheme and the three bodies

/** scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" ; returns the index of the ':'. */
function scanScheme(s: string): number {
  if (s.length === 0 || !isClass(s.charCodeAt(0), C_ALPHA)) throw new SipSyntaxError(FIELD, 'missing URI scheme');
  const i = scanClass(s, 1, s.length, C_SCHEME);
  if (i >= s.length || s.charCodeAt(i) !== 58 /* : */) throw new SipSyntaxError(FIELD, 'missing URI scheme');
  return i;
}

/** SIP-URI = "sip:" [ userinfo ] hostport uri-parameters [ headers ] (RFC 3261 25.1). */
function parseSipBody(s: string, i: number, scheme: 'sip' | 'sips'): SipUri {
  const end = s.length;
  let user: string | null = null;
  let password: string | null = null;
  // '@' is legal only as the userinfo delimiter (it is not in user, host,
  // paramchar or hvalue), so the first one ends the userinfo. The user part
  // itself may hold ';' and '?' (RFC 4475 3.1.1.9 semiuri).
  const at = s.indexOf('@', i);
  if (at >= 0) {
    const userEnd = scanEscaped(s, i, at, C_USER, FIELD);
    if (userEnd === i) throw new SipSyntaxError(FIELD, 'empty user part');
    user = s.slice(i, userEnd);
    if (userEnd < at) {
      if (s.charCodeAt(userEnd) !== 58 /* : */) throw new SipSyntaxError(FIELD, 'bad character in user part');
      const pwEnd = scanEscaped(s, userEnd + 1, at, C_PASSWORD, FIELD);
      if (pwEnd !== at) throw new SipSyntaxError(FIELD, 'bad character in password');
      password = s.slice(userEnd + 1, at);
    }
    i = at + 1;
  }
  const hp = parseHostPort(s, i, end);
  const params = new Params();
  i = parseUriParamsInto(s, hp.end, end, params);
  let headers: string | null = null;
  if (i < end) {
    if (s.charCodeAt(i) !== 63 /* ? */) throw new SipSyntaxError(FIELD, 'unexpected character in URI');
    checkHeaders(s, i + 1, end);
    headers = s.slice(i + 1);
  }
  return { scheme, user, password, host: hp.host, hostType: hp.hostType, port: hp.port, params, headers };
}

/** RFC 3966 3: telephone-subscriber followed by ;params; no headers. */
function parseTelBody(s: string, i: number): TelUri {
  const end = s.length;
  let j = i;
  while (j < end && s.charCodeAt(j) !== 59 /* ; */) j++;
  checkTelNumber(s, i, j);
  const params = new Params();
  const k = parseUriParamsInto(s, j, end, params);
  if (k !== end) throw new SipSyntaxError(FIELD, 'unexpected character in tel URI');
  return { scheme: 'tel', number: s.slice(i, j), params };
}

/**
 * global-number-digits = "+" *phonedigit DIGIT *phonedigit;
 * local-number-digits = *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex;
 * visual-separator = "-" / "." / "(" / ")" (RFC 3966 3).
 */
function checkTelNumber(s: string, i: number, end: number): void {
  const global = i < end && s.charCodeAt(i) === 43; /* + */
  let digits = 0;
  for (let j = global ? i + 1 : i; j < end; j++) {
    const c = s.charCodeAt(j);
    if (c >= 48 && c <= 57) digits++;
    else if (!global && (hexValue(c) >= 0 || c === 42 || c === 35)) digits++;
    else if (c !== 45 && c !== 46 && c !== 40 && c !== 41)
      throw new SipSyntaxError(FIELD, 'bad character in tel number');
  }
  if (digits === 0) throw new SipSyntaxError(FIELD, 'empty tel number');
}

/** absoluteURI = scheme ":" ( hier-part / opaque-part ): a non-empty run of uric (RFC 3261 25.1). */
function parseOtherBody(s: string, i: number, scheme: string): OtherUri {
  if (i >= s.length) throw new SipSyntaxError(FIELD, 'empty URI after scheme');
  if (scanEscaped(s, i, s.length, C_URIC, FIELD) !== s.length) {
    throw new SipSyntaxError(FIELD, 'bad character in URI');
  }
  return { scheme, opaque: s.slice(i) };
}

// ---------------------------------------------------------------------------
// hostport

interface HostPort {
  host: string;
  hostType: SipUri['hostType'];
  port: number | null;
  end: number;
}

/** hostport = host [ ":" port ]; host = hostname / IPv4address / IPv6reference. */
function parseHostPort(s: string, i: number, end: number): HostPort {
  let host: string;
  let hostType: HostPort['hostType'];
  if (i < end && s.charCodeAt(i) === 91 /* [ */) {
    let close = i + 1;
    while (close < end && s.charCodeAt(close) !== 93 /* ] */) close++;
    if (close >= end) throw new SipSyntaxError(FIELD, 'unterminated IPv6 reference');
    if (parseIPv6(s, i + 1, close) === null) throw new SipSyntaxError(FIELD, 'bad IPv6 address');
    host = normalizeIPv6Reference(s.slice(i, close + 1).toLowerCase());
    hostType = 'ipv6';
    i = close + 1;
  } else {
    const start = i;
    i = scanClass(s, i, end, C_HOST);
    if (i === start) throw new SipSyntaxError(FIELD, 'empty host');
    if (parseIPv4(s, start, i) >= 0) {
      hostType = 'ipv4';
    } else if (isHostname(s, start, i)) {
      hostType = 'domain';
    } else {
      throw new SipSyntaxError(FIELD, 'bad host name');
    }
    host = s.slice(start, i).toLowerCase();
  }
  let port: number | null = null;
  if (i < end && s.charCodeAt(i) === 58 /* : */) {
    const start = i + 1;
    i = start;
    let value = 0;
    while (i < end) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      value = value * 10 + d;
      i++;
      if (i - start > 5) throw new SipSyntaxError(FIELD, 'bad port');
    }
    if (i === start || value > 65535) throw new SipSyntaxError(FIELD, 'bad port');
    port = value;
  }
  return { host, hostType, port, end: i };
}

/**
 * hostname = *( domainlabel "." ) toplabel [ "." ] (RFC 3261 25.1): labels
 * are non-empty and do not start or end with '-', the top label starts with
 * a letter. Underscores are tolerated inside labels.
 */
function isHostname(s: string, start: number, end: number): boolean {
  let labelStart = start;
  let topFirst = -1;
  for (let i = start; i <= end; i++) {
    if (i < end && s.charCodeAt(i) !== 46 /* . */) continue;
    if (i === labelStart) {
      if (i === end && i > start) break; // one trailing dot
      return false;
    }
    if (s.charCodeAt(labelStart) === 45 || s.charCodeAt(i - 1) === 45) return false;
    topFirst = s.charCodeAt(labelStart);
    labelStart = i + 1;
  }
  return isClass(topFirst, C_ALPHA);
}

// ---------------------------------------------------------------------------
// uri-parameters and headers

/**
 * uri-parameters = *( ";" uri-parameter ), uri-parameter = pname [ "=" pvalue ],
 * both 1*paramchar with %-escapes (RFC 3261 25.1). No whitespace anywhere.
 * Stops at the first char that does not start a parameter; returns its index.
 */
function parseUriParamsInto(s: string, i: number, end: number, out: Params): number {
  while (i < end && s.charCodeAt(i) === 59 /* ; */) {
    const nameStart = i + 1;
    i = scanEscaped(s, nameStart, end, C_PARAMCHAR, FIELD);
    if (i === nameStart) throw new SipSyntaxError(FIELD, 'empty URI parameter name');
    const name = s.slice(nameStart, i);
    let value: string | null = null;
    if (i < end && s.charCodeAt(i) === 61 /* = */) {
      const valueStart = i + 1;
      i = scanEscaped(s, valueStart, end, C_PARAMCHAR, FIELD);
      if (i === valueStart) throw new SipSyntaxError(FIELD, 'empty URI parameter value');
      value = s.slice(valueStart, i);
    }
    out.push(name, paramKey(name), value);
  }
  return i;
}

/** Lookup key of a URI parameter name: unescaped (RFC 3261 19.1.2), lowercase. */
function paramKey(name: string): string {
  return (name.indexOf('%') < 0 ? name : unescapeUriPart(name)).toLowerCase();
}

/** headers = "?" header *( "&" header ), header = hname "=" hvalue (RFC 3261 25.1). */
function checkHeaders(s: string, i: number, end: number): void {
  for (;;) {
    const nameStart = i;
    i = scanEscaped(s, i, end, C_HNV, FIELD);
    if (i === nameStart || i >= end || s.charCodeAt(i) !== 61 /* = */) {
      throw new SipSyntaxError(FIELD, 'bad URI header');
    }
    i = scanEscaped(s, i + 1, end, C_HNV, FIELD);
    if (i === end) return;
    if (s.charCodeAt(i) !== 38 /* & */) throw new SipSyntaxError(FIELD, 'bad character in URI headers');
    i++;
  }
}

// ---------------------------------------------------------------------------
// Escapes

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes %XX escapes (RFC 3261 19.1.2). Escaped bytes that form valid UTF-8
 * sequences become those characters; any other byte becomes the character of
 * the same code (ISO-8859-1), so nothing is lost; '%00' gives '\0'. Throws
 * SipSyntaxError on a '%' not followed by two hex digits.
 */
export function unescapeUriPart(s: string): string {
  let next = s.indexOf('%');
  if (next < 0) return s;
  let out = s.slice(0, next);
  let i = next;
  const n = s.length;
  while (i < n) {
    if (s.charCodeAt(i) !== 37) {
      next = s.indexOf('%', i);
      if (next < 0) next = n;
      out += s.slice(i, next);
      i = next;
      continue;
    }
    const bytes: number[] = [];
    let ascii = true;
    while (i < n && s.charCodeAt(i) === 37) {
      const b = escapeAt(s, i, n);
      if (b < 0) throw new SipSyntaxError(FIELD, 'bad %-escape');
      if (b >= 128) ascii = false;
      bytes.push(b);
      i += 3;
    }
    out += decodeBytes(bytes, ascii);
  }
  return out;
}

function decodeBytes(bytes: number[], ascii: boolean): string {
  let out = '';
  if (ascii) {
    for (const b of bytes) out += String.fromCharCode(b);
    return out;
  }
  for (let k = 0; k < bytes.length;) {
    const len = utf8SequenceLength(bytes[k]!);
    if (len > 1 && k + len <= bytes.length) {
      try {
        out += utf8.decode(Uint8Array.from(bytes.slice(k, k + len)));
        k += len;
        continue;
      } catch {
        // not a valid sequence: this byte stands for itself
      }
    }
    out += String.fromCharCode(bytes[k]!);
    k++;
  }
  return out;
}

/** Length of the UTF-8 sequence a lead byte announces (1 for ASCII and stray bytes). */
function utf8SequenceLength(b: number): number {
  if (b >= 0xf0 && b <= 0xf4) return 4;
  if (b >= 0xe0) return b <= 0xef ? 3 : 1;
  if (b >= 0xc2) return 2;
  return 1;
}

export { uriEquals } from './uri-equals.js';

/**
 * Default port for a SIP URI (RFC 3261 19.1.2): 5061 for sips or TLS, else
 * 5060. `transport` overrides the URI's own transport parameter.
 */
export function defaultPort(u: SipUri, transport?: string): number {
  const fromUri = u.params.get('transport');
  const t = (transport ?? (typeof fromUri === 'string' ? fromUri : '')).toLowerCase();
  return u.scheme === 'sips' || t === 'tls' || t === 'tls-sctp' ? 5061 : 5060;
}
