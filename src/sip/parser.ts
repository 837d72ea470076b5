import { SipSyntaxError, SipLimitError } from './errors.js';
import { H, headerIdFromBytes } from './header-names.js';
import { HeaderField } from './header-field.js';
import { SipMessage } from './message.js';
import { TOKEN, CR, LF, SP, HTAB, COLON } from './chars.js';
import { latin1, utf8 } from './bytes.js';

/** Limits against abuse (defaults; config `sip.limits`). */
export interface ParseLimits {
  /** Largest message accepted (streams; a datagram is bounded by its size). */
  maxMessageBytes: number;
  /** Most header lines in one message. */
  maxHeaders: number;
  /** Longest single header line (after folding), and longest start line. */
  maxHeaderLineBytes: number;
}

export const DEFAULT_PARSE_LIMITS: ParseLimits = {
  maxMessageBytes: 65536,
  maxHeaders: 100,
  maxHeaderLineBytes: 8192,
};

export type ParseResult =
  | { ok: true; message: SipMessage }
  /**
   * `message` is set when the start line and header lines were read but a
   * later check failed (Content-Length): a request can then still get its 400.
   */
  | { ok: false; error: SipSyntaxError; message: SipMessage | null };

/**
 * Parses one SIP message from a buffer (a UDP datagram, or one message framed
 * from a stream). Reads the start line strictly, splits the header lines
 * (folding, compact and any-case names) and takes the body by Content-Length
 * (RFC 3261 18.3: octets past it in a datagram are discarded). Header values
 * are not parsed here: SipMessage does that lazily.
 */
export function parseMessage(buf: Buffer, limits: ParseLimits = DEFAULT_PARSE_LIMITS): ParseResult {
  try {
    return parseOrThrow(buf, limits);
  } catch (err) {
    if (err instanceof SipSyntaxError) return { ok: false, error: err, message: null };
    // Anything else is a bug in the parser: report it as a parse failure, never as a crash.
    const reason = err instanceof Error ? err.message : String(err);
    return { ok: false, error: new SipSyntaxError('message', `parser fault: ${reason}`), message: null };
  }
}

function parseOrThrow(buf: Buffer, limits: ParseLimits): ParseResult {
  const len = buf.length;
  if (len > limits.maxMessageBytes) {
    throw new SipLimitError('message', `larger than ${limits.maxMessageBytes} bytes`, 513);
  }
  // RFC 3261 7.5: CRLFs before the start line are ignored.
  let startLineBegin = 0;
  while (startLineBegin < len && (buf[startLineBegin] === CR || buf[startLineBegin] === LF)) startLineBegin++;
  if (startLineBegin === len) throw new SipSyntaxError('message', 'empty');
  const startLineEnd = findLineEnd(buf, startLineBegin, len);
  if (startLineEnd < 0) throw new SipSyntaxError('start-line', 'no line end');
  const startContentEnd = trimLineBreak(buf, startLineBegin, startLineEnd);
  if (startContentEnd - startLineBegin > limits.maxHeaderLineBytes) {
    throw new SipLimitError('start-line', 'too long', 414);
  }
  const start = readStartLine(buf, startLineBegin, startContentEnd);
  const startError = scan.startError;
  const fields: HeaderField[] = [];
  const headersEnd = readHeaderLines(buf, startLineEnd, len, limits, fields);
  const message = new SipMessage({
    isRequest: start.isRequest,
    method: start.method,
    requestUri: start.requestUri,
    status: start.status,
    reason: start.reason,
    fields,
    body: buf.subarray(headersEnd, headersEnd),
    src: startLineBegin === 0 ? buf : buf.subarray(startLineBegin),
    startLineEnd: startLineEnd - startLineBegin,
    contentLength: scan.contentLength,
  });
  if (startError !== null) return { ok: false, error: startError, message };
  return takeBody(buf, message, headersEnd);
}

/**
 * What the steps below found besides what they return (a start line's
 * error, the Content-Length): one object reused by every parse (parsing is
 * synchronous), so that no result object is allocated per message.
 */
const scan = {
  startError: null as SipSyntaxError | null,
  contentLength: null as number | null,
  contentLengthConflict: false,
  contentLengthBad: null as string | null,
};

/** The start line; a bad one still has its headers read, so that a request can get its 400 (or 505): its error goes in `scan.startError`. */
function readStartLine(buf: Buffer, begin: number, end: number): StartLine {
  scan.startError = null;
  try {
    return parseStartLine(buf, begin, end);
  } catch (err) {
    if (!(err instanceof SipSyntaxError)) throw err;
    scan.startError = err;
    const looksLikeResponse = end - begin >= 7 && startsWithVersion(buf, begin);
    return { isRequest: !looksLikeResponse, method: '', requestUri: '', status: 0, reason: '' };
  }
}

/** The header lines from `pos` up to the empty line into `fields`; returns where the headers end. The Content-Length found goes in `scan`. */
function readHeaderLines(buf: Buffer, pos: number, len: number, limits: ParseLimits, fields: HeaderField[]): number {
  scan.contentLength = null;
  scan.contentLengthConflict = false;
  scan.contentLengthBad = null;
  let headersEnd = -1;
  while (pos < len) {
    const c = buf[pos];
    if (c === CR || c === LF) {
      // Empty line: end of headers.
      headersEnd = c === CR && buf[pos + 1] === LF ? pos + 2 : pos + 1;
      break;
    }
    if (c === SP || c === HTAB) throw new SipSyntaxError('header', 'continuation line without a header');
    if (fields.length >= limits.maxHeaders)
      throw new SipLimitError('header', `more than ${limits.maxHeaders} headers`, 513);
    const field = parseHeaderLine(buf, pos, len, limits.maxHeaderLineBytes);
    fields.push(field);
    if (field.id === H.ContentLength) noteContentLength(field.value);
    pos = field.lineEnd;
  }
  // A datagram that ends right after a complete header line has no body and
  // no empty line; read it as ending there rather than refuse a 400 to it
  // (stream framing has already required the empty line).
  if (headersEnd < 0 && pos === len && fields.length > 0) headersEnd = len;
  if (headersEnd < 0) throw new SipSyntaxError('message', 'header section not terminated by an empty line');
  return headersEnd;
}

/** One Content-Length value: the first good one counts, a different one later is a conflict, a bad one is kept for the 400. */
function noteContentLength(v: string): void {
  const n = parseContentLength(v);
  if (n < 0) scan.contentLengthBad = v;
  else if (scan.contentLength !== null && scan.contentLength !== n) scan.contentLengthConflict = true;
  else scan.contentLength = n;
}

/** The body by Content-Length, or the failure of a message whose Content-Length is bad, conflicting or too large. */
function takeBody(buf: Buffer, message: SipMessage, headersEnd: number): ParseResult {
  if (scan.contentLengthBad !== null)
    return contentLengthFailure(message, `not a non-negative number: ${scan.contentLengthBad.slice(0, 20)}`);
  if (scan.contentLengthConflict) return contentLengthFailure(message, 'several different values');
  // RFC 3261 18.3: without Content-Length (datagrams only) the body runs to the end.
  const available = buf.length - headersEnd;
  const bodyLen = scan.contentLength ?? available;
  if (bodyLen > available) return contentLengthFailure(message, `says ${bodyLen} bytes, ${available} present`);
  message.body = buf.subarray(headersEnd, headersEnd + bodyLen);
  return { ok: true, message };
}

function contentLengthFailure(message: SipMessage, reason: string): ParseResult {
  return { ok: false, error: new SipSyntaxError('Content-Length', reason), message };
}

interface StartLine {
  isRequest: boolean;
  method: string;
  requestUri: string;
  status: number;
  reason: string;
}

/**
 * Request-Line = Method SP Request-URI SP SIP-Version (RFC 3261 7.1: single
 * spaces, no other whitespace); Status-Line = SIP-Version SP Status-Code SP
 * Reason-Phrase (7.2).
 */
function parseStartLine(buf: Buffer, begin: number, end: number): StartLine {
  if (end - begin >= 8 && startsWithVersion(buf, begin)) {
    // Status-Line
    let i = begin + 7;
    if (buf[i] !== SP) throw new SipSyntaxError('status-line', 'expected SP after SIP/2.0', 400);
    i++;
    const codeStart = i;
    while (i < end && buf[i]! >= 48 && buf[i]! <= 57) i++;
    if (i - codeStart !== 3) throw new SipSyntaxError('status-line', 'status code is not 3 digits');
    const status = (buf[codeStart]! - 48) * 100 + (buf[codeStart + 1]! - 48) * 10 + (buf[codeStart + 2]! - 48);
    if (status < 100 || status > 699) throw new SipSyntaxError('status-line', 'status code out of range');
    let reason = '';
    if (i < end) {
      if (buf[i] !== SP) throw new SipSyntaxError('status-line', 'expected SP after status code');
      reason = utf8(buf, i + 1, end);
    }
    return { isRequest: false, method: '', requestUri: '', status, reason };
  }
  // Request-Line
  let i = begin;
  while (i < end && TOKEN[buf[i]!] === 1) i++;
  if (i === begin) throw new SipSyntaxError('request-line', 'missing method');
  if (buf[i] !== SP) throw new SipSyntaxError('request-line', 'method is not a token followed by SP');
  const method = latin1(buf, begin, i);
  i++;
  const uriStart = i;
  while (i < end && buf[i] !== SP && buf[i] !== HTAB) i++;
  if (i === uriStart) throw new SipSyntaxError('request-line', 'missing Request-URI (or several SP)');
  if (buf[i] !== SP) throw new SipSyntaxError('request-line', 'missing SIP-Version');
  const uriEnd = i;
  if (buf[uriStart] === 60 /* < */) throw new SipSyntaxError('Request-URI', 'enclosed in <>');
  i++;
  const versionLen = end - i;
  if (versionLen !== 7 || !startsWithVersion(buf, i)) {
    const v = latin1(buf, i, Math.min(end, i + 16));
    if (/^SIP\/\d+\.\d+$/i.test(v)) throw new SipSyntaxError('SIP-Version', `${v} not supported`, 505);
    throw new SipSyntaxError('request-line', 'bad SIP-Version (or whitespace in the Request-URI)');
  }
  return { isRequest: true, method, requestUri: latin1(buf, uriStart, uriEnd), status: 0, reason: '' };
}

/** "SIP/2.0" at buf[i], case-insensitive (RFC 3261 7.1). */
function startsWithVersion(buf: Buffer, i: number): boolean {
  return (
    (buf[i]! | 0x20) === 0x73 &&
    (buf[i + 1]! | 0x20) === 0x69 &&
    (buf[i + 2]! | 0x20) === 0x70 &&
    buf[i + 3] === 0x2f &&
    buf[i + 4] === 0x32 &&
    buf[i + 5] === 0x2e &&
    buf[i + 6] === 0x30
  );
}

/**
 * One header with its continuation lines: `name HCOLON value CRLF *(WSP value CRLF)`.
 * HCOLON allows SP/HTAB before the colon (RFC 3261 25.1).
 */
function parseHeaderLine(buf: Buffer, pos: number, len: number, maxLine: number): HeaderField {
  const lineStart = pos;
  let i = pos;
  while (i < len && TOKEN[buf[i]!] === 1) i++;
  const nameEnd = i;
  if (nameEnd === lineStart) throw new SipSyntaxError('header', 'header name is not a token');
  while (i < len && (buf[i] === SP || buf[i] === HTAB)) i++;
  if (buf[i] !== COLON)
    throw new SipSyntaxError(
      'header',
      `no colon after header name "${latin1(buf, lineStart, Math.min(nameEnd, lineStart + 40))}"`,
    );
  i++;
  // Value: skip leading whitespace (and folds directly after the colon).
  let folded = false;
  let lineEnd = -1;
  let valueStart = -1;
  let valueEnd = i;
  for (;;) {
    const eol = findLineEnd(buf, i, len);
    if (eol < 0) throw new SipSyntaxError('header', 'line not terminated');
    const contentEnd = trimLineBreak(buf, i, eol);
    // Trim whitespace at both ends of this segment.
    let s = i;
    while (s < contentEnd && (buf[s] === SP || buf[s] === HTAB)) s++;
    let e = contentEnd;
    while (e > s && (buf[e - 1] === SP || buf[e - 1] === HTAB)) e--;
    if (s < e) {
      if (valueStart < 0) valueStart = s;
      else folded = true;
      valueEnd = e;
    }
    lineEnd = eol;
    if (lineEnd - lineStart > maxLine) throw new SipLimitError('header', 'header line too long', 513);
    // RFC 3261 7.3.1: a line starting with whitespace continues the value.
    const next = buf[eol];
    if (eol < len && (next === SP || next === HTAB)) {
      i = eol;
      continue;
    }
    break;
  }
  if (valueStart < 0) valueStart = valueEnd = i;
  const id = headerIdFromBytes(buf, lineStart, nameEnd);
  return new HeaderField(id, buf, lineStart, lineEnd, nameEnd, valueStart, valueEnd, folded, null, null);
}

/** Offset just past the next LF at or after i (CRLF or bare LF ends a line), or -1. */
function findLineEnd(buf: Buffer, i: number, len: number): number {
  const lf = buf.indexOf(LF, i);
  return lf < 0 || lf >= len ? -1 : lf + 1;
}

/** Offset of the end of the line's content, before its CRLF/LF. */
function trimLineBreak(buf: Buffer, start: number, eol: number): number {
  let e = eol - 1; // at LF
  if (e > start && buf[e - 1] === CR) e--;
  return e;
}

/** Content-Length = 1*DIGIT (RFC 3261 20.14); -1 when malformed. */
function parseContentLength(v: string): number {
  if (v.length === 0 || v.length > 9) return -1;
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const d = v.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}
