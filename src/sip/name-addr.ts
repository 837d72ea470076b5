/**
 * name-addr / addr-spec values with header parameters: the grammar of From,
 * To, Contact, Route, Record-Route and friends (RFC 3261 20.10, 25.1), and the
 * top-level comma split of list headers (RFC 3261 7.3.1).
 */
import { SipSyntaxError } from './errors.js';
import { C_TOKEN, C_WS, isClass, Params, parseParamsInto, scanQuoted, skipLws, trimLwsEnd, unquote } from './params.js';
import { formatUri, parseUri, type Uri } from './uri.js';

export interface NameAddr {
  /** Unquoted and unescaped if it was a quoted-string, else the token sequence as written (trimmed). */
  displayName: string | null;
  uri: Uri;
  /** The URI exactly as written. */
  uriText: string;
  /** Header parameters after the URI (tag, q, expires, +sip.instance, ...). */
  params: Params;
  /** Whether the URI was written inside <>. */
  bracketed: boolean;
}

/**
 * Parses one name-addr or addr-spec followed by header parameters:
 * `[display-name] <URI> *(;param)` or `URI *(;param)`. In the addr-spec form
 * every ';' after the URI starts a header parameter, and a URI holding ',' or
 * '?' must have been bracketed (RFC 3261 20.10).
 */
export function parseNameAddr(s: string, field = 'name-addr'): NameAddr {
  const start = skipLws(s, 0, s.length);
  const end = trimLwsEnd(s, start, s.length);
  if (start === end) throw new SipSyntaxError(field, 'empty value');
  if (s.charCodeAt(start) === 34 /* " */) {
    const close = scanQuoted(s, start, end, field);
    // LAQUOT = SWS "<": whitespace between the name and '<' is optional (RFC 4475 3.1.1.6).
    const lt = skipLws(s, close, end);
    if (lt >= end || s.charCodeAt(lt) !== 60 /* < */) {
      throw new SipSyntaxError(field, "expected '<' after quoted display name");
    }
    return parseBracketed(s, lt, end, unquote(s, start, close), field);
  }
  // display-name = *(token LWS): scan tokens and whitespace up to a '<'.
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 60 /* < */) {
      const name = i === start ? null : s.slice(start, trimLwsEnd(s, start, i));
      return parseBracketed(s, i, end, name, field);
    }
    if (!isClass(c, C_TOKEN | C_WS)) {
      // An addr-spec breaks here at its scheme ':'. Anything else followed by a
      // '<' is a display name that is neither tokens nor quoted (RFC 4475 3.1.2.15 baddn).
      if (c !== 58 /* : */ && s.lastIndexOf('<', end - 1) > i) {
        throw new SipSyntaxError(field, 'display name is neither a token sequence nor a quoted string');
      }
      break;
    }
  }
  return parseAddrSpec(s, start, end, field);
}

/** `<URI>` at s[lt] followed by header params up to `end`. No LWS inside the brackets (RFC 3261 25.1 LAQUOT/RAQUOT). */
function parseBracketed(s: string, lt: number, end: number, displayName: string | null, field: string): NameAddr {
  let gt = lt + 1;
  while (gt < end && s.charCodeAt(gt) !== 62 /* > */) gt++;
  if (gt >= end) throw new SipSyntaxError(field, "missing '>'");
  const uriText = s.slice(lt + 1, gt);
  const uri = parseUriIn(uriText, field);
  const params = new Params();
  parseParamsInto(s, gt + 1, end, field, params);
  return { displayName, uri, uriText, params, bracketed: true };
}

/** addr-spec form: the URI runs to the first ';' or LWS; what follows are header params (RFC 3261 20.10). */
function parseAddrSpec(s: string, start: number, end: number, field: string): NameAddr {
  let i = start;
  for (; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 59 /* ; */ || isClass(c, C_WS)) break;
    if (c === 44 /* , */ || c === 63 /* ? */) {
      throw new SipSyntaxError(field, "a URI with ',' or '?' must be enclosed in <>");
    }
  }
  const uriText = s.slice(start, i);
  const uri = parseUriIn(uriText, field);
  const params = new Params();
  parseParamsInto(s, i, end, field, params);
  return { displayName: null, uri, uriText, params, bracketed: false };
}

/** parseUri, reporting errors under the caller's field name. */
function parseUriIn(text: string, field: string): Uri {
  try {
    return parseUri(text);
  } catch (e) {
    if (e instanceof SipSyntaxError) throw new SipSyntaxError(field, `bad URI: ${e.message}`, e.status);
    throw e;
  }
}

/** Parses a comma-separated list of name-addr/addr-spec values (Contact, Route, Record-Route). */
export function parseNameAddrList(s: string, field = 'name-addr'): NameAddr[] {
  const items = splitHeaderList(s);
  if (items.length === 0) throw new SipSyntaxError(field, 'empty value');
  const out: NameAddr[] = [];
  for (const item of items) {
    if (item.length === 0) throw new SipSyntaxError(field, 'empty element in list');
    out.push(parseNameAddr(item, field));
  }
  return out;
}

/**
 * Splits a header value on top-level commas (RFC 3261 7.3.1): commas inside
 * quoted strings (with \" escapes) or <...> do not split. Each element is
 * trimmed; empty elements are kept ('a,,b' gives three), an all-blank value
 * gives []. Never throws: an unterminated quote or '<' runs to the end.
 */
export function splitHeaderList(s: string): string[] {
  const out: string[] = [];
  const n = s.length;
  let inQuote = false;
  let inAngle = false;
  let from = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (inQuote) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inQuote = false;
    } else if (inAngle) {
      if (c === 62 /* > */) inAngle = false;
    } else if (c === 34) {
      inQuote = true;
    } else if (c === 60 /* < */) {
      inAngle = true;
    } else if (c === 44 /* , */) {
      out.push(trimmed(s, from, i));
      from = i + 1;
    }
  }
  const last = trimmed(s, from, n);
  if (out.length > 0 || last.length > 0) out.push(last);
  return out;
}

function trimmed(s: string, from: number, to: number): string {
  const start = skipLws(s, from, to);
  return s.slice(start, trimLwsEnd(s, start, to));
}

/** Writes `[display-name ]<uri>;params`, quoting the display name unless it is a token sequence. */
export function formatNameAddr(n: NameAddr): string {
  const uri = `<${formatUri(n.uri)}>${n.params.toString()}`;
  return n.displayName === null ? uri : `${formatDisplayName(n.displayName)} ${uri}`;
}

/**
 * A token sequence (tokens separated by SP/HTAB) is written as is, anything
 * else as a quoted-string. CR and LF cannot appear in a quoted-string, even
 * escaped (RFC 3261 25.1 quoted-pair), so they become spaces first.
 */
function formatDisplayName(raw: string): string {
  const name = raw.indexOf('\r') < 0 && raw.indexOf('\n') < 0 ? raw : raw.replaceAll('\r', ' ').replaceAll('\n', ' ');
  if (isTokenSequence(name)) return name;
  let out = '"';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 34 || c === 92 || (c < 32 && c !== 9) || c === 127) out += `\\${name[i]}`;
    else out += name[i];
  }
  return `${out}"`;
}

function isTokenSequence(name: string): boolean {
  const n = name.length;
  if (n === 0 || !isClass(name.charCodeAt(0), C_TOKEN) || !isClass(name.charCodeAt(n - 1), C_TOKEN)) return false;
  for (let i = 1; i < n - 1; i++) {
    const c = name.charCodeAt(i);
    if (c !== 32 && c !== 9 && !isClass(c, C_TOKEN)) return false;
  }
  return true;
}
