/**
 * Header values read straight from a raw SIP message's bytes, without
 * parsing it: what the transport tap's consumers (HEP capture, call traces)
 * need for every message in and out, cheaply. Only the header section is
 * read (a name in the body is not a header).
 */
/** Header names as the byte strings searched for: a line break, then the name and its colon. */
export const rawNames = (names: readonly string[]): Buffer[] => names.map((n) => Buffer.from(n, 'latin1'));
/** From in its usual spellings and compact `f` (RFC 3261 20.20). */
export const FROM_NAMES = rawNames(['\r\nFrom:', '\r\nfrom:', '\r\nFROM:', '\r\nf:', '\r\nF:']);
/** CSeq in its usual spellings (it has no compact form). */
export const CSEQ_NAMES = rawNames(['\r\nCSeq:', '\r\ncseq:', '\r\nCSEQ:', '\r\nCseq:']);
const CRLF = Buffer.from('\r\n', 'latin1');
const CRLF2 = Buffer.from('\r\n\r\n', 'latin1');
const isSpace = (c: number | undefined): boolean => c === 0x20 || c === 0x09;

/** [start, end) of the value of the first header among `names` in the header section of a raw message, trimmed; null without it. */
export function headerSpan(data: Buffer, names: readonly Buffer[]): [number, number] | null {
  let headEnd = -1;
  for (const name of names) {
    const at = data.indexOf(name);
    if (at < 0) continue;
    if (headEnd === -1) headEnd = data.indexOf(CRLF2);
    if (headEnd >= 0 && at > headEnd) continue; // in the body
    let start = at + name.length;
    let end = data.indexOf(CRLF, start);
    if (end < 0) end = data.length;
    while (start < end && isSpace(data[start])) start++;
    while (end > start && isSpace(data[end - 1])) end--;
    return [start, end];
  }
  return null;
}

/** The value of the first header among `names` in the header section of a raw message, trimmed; null without it. */
export function headerValue(data: Buffer, names: readonly Buffer[]): string | null {
  const s = headerSpan(data, names);
  return s === null ? null : data.toString('latin1', s[0], s[1]);
}

const CALL_ID_REST = Buffer.from('all-id', 'latin1');

/**
 * Where the Call-ID of a raw SIP message is ([start, end) of its value,
 * trimmed), or null: one pass over the header section in JS, line by line,
 * the name in any case (`Call-ID`, `call-id`, ...) or compact `i`
 * (RFC 3261 7.3.1, 20.8), never in the body. Runs once for every message
 * while capture or traces are on (the operations tap hands the span to
 * both): a few native indexOf calls cost more than this loop.
 */
export function callIdSpan(data: Buffer): [number, number] | null {
  const n = data.length;
  for (let i = 0; i < n; i++) {
    if (data[i] !== 0x0a) continue;
    let o = i + 1; // a line starts
    const c = data[o];
    if (c === 0x0d || c === 0x0a || c === undefined) return null; // the blank line: end of the headers
    const lower = c | 0x20;
    if (lower === 0x63 /* c */) {
      let k = 0;
      while (k < 6 && (data[o + 1 + k]! | 0x20) === CALL_ID_REST[k]) k++;
      if (k < 6) continue;
      o += 7;
    } else if (lower === 0x69 /* i */) o += 1;
    else continue;
    while (o < n && (data[o] === 0x20 || data[o] === 0x09)) o++;
    if (data[o] !== 0x3a /* : */) continue;
    o++;
    while (o < n && (data[o] === 0x20 || data[o] === 0x09)) o++;
    let end = o;
    while (end < n && data[end] !== 0x0d && data[end] !== 0x0a) end++;
    let e = end;
    while (e > o && (data[e - 1] === 0x20 || data[e - 1] === 0x09)) e--;
    return [o, e];
  }
  return null;
}

/** The Call-ID of a raw SIP message (its usual spellings and the compact `i`), or null. */
export function callIdOf(data: Buffer): string | null {
  const s = callIdSpan(data);
  return s === null ? null : data.toString('latin1', s[0], s[1]);
}

/** The tag parameter of a From or To value (after the `<...>` of a name-addr: a URI's own parameters are not the header's), or null. */
export function tagParam(nameAddr: string): string | null {
  const close = nameAddr.indexOf('<') >= 0 ? nameAddr.indexOf('>') : -1;
  const m = /;\s*tag\s*=\s*([^;\s,]+)/i.exec(close >= 0 ? nameAddr.slice(close + 1) : nameAddr);
  return m === null ? null : m[1]!;
}

/** The tag parameter of the From header of a raw SIP message, or null. */
export function fromTagOf(data: Buffer): string | null {
  const from = headerValue(data, FROM_NAMES);
  return from === null ? null : tagParam(from);
}
