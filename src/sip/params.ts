/**
 * Parameter lists: the `;name[=value]` runs that follow a URI (uri-parameters),
 * a Via sent-by (via-params) or a name-addr (generic-param), RFC 3261 25.1.
 *
 * This module also holds the character classes and the small charCodeAt
 * scanners shared by the URI and name-addr parsers (marked @internal): they
 * are plain table lookups, so every scan is linear in the input.
 */
import { SipSyntaxError, parsedOrNull } from './errors.js';

/** A parameter value: the text after '=' as written, or null for a flag (`;lr`). */
export type ParamValue = string | null;

// ---------------------------------------------------------------------------
// Character classes (RFC 3261 25.1), one bit per class, US-ASCII only.

/** @internal alphanum */
export const C_ALNUM = 1 << 0;
/** @internal unreserved = alphanum / mark */
export const C_UNRESERVED = 1 << 1;
/** @internal user = unreserved / user-unreserved (+ '#' of telephone-subscriber); '%' handled as escape */
export const C_USER = 1 << 2;
/** @internal password = unreserved / "&" / "=" / "+" / "$" / ","; '%' handled as escape */
export const C_PASSWORD = 1 << 3;
/** @internal paramchar = param-unreserved / unreserved; '%' handled as escape */
export const C_PARAMCHAR = 1 << 4;
/** @internal hname/hvalue chars = hnv-unreserved / unreserved; '%' handled as escape */
export const C_HNV = 1 << 5;
/** @internal uric = reserved / unreserved (+ "[" "]" of RFC 2732); '%' handled as escape */
export const C_URIC = 1 << 6;
/** @internal token (header grammar; '%' is a plain char here) */
export const C_TOKEN = 1 << 7;
/** @internal hostname / IPv4 chars: alphanum "-" "." (and "_", seen in the wild) */
export const C_HOST = 1 << 8;
/** @internal scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
export const C_SCHEME = 1 << 9;
/** @internal HEXDIG (either case) */
export const C_HEX = 1 << 10;
/** @internal LWS chars: SP, HTAB, and CR/LF of a not yet unfolded line */
export const C_WS = 1 << 11;
/** @internal ALPHA */
export const C_ALPHA = 1 << 12;
/** @internal chars Params.set accepts in a name or unquoted value (never breaks framing) */
const C_SAFE = 1 << 13;

const ALNUM = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const MARK = "-_.!~*'()";

/** @internal One entry per US-ASCII code: the OR of the class bits it belongs to. */
export const CHARS: Uint16Array = buildCharTable();

function buildCharTable(): Uint16Array {
  const t = new Uint16Array(128);
  const add = (chars: string, bits: number): void => {
    for (let k = 0; k < chars.length; k++) t[chars.charCodeAt(k)]! |= bits;
  };
  const unreserved = C_UNRESERVED | C_USER | C_PASSWORD | C_PARAMCHAR | C_HNV | C_URIC | C_SAFE;
  add(ALNUM, C_ALNUM | unreserved | C_TOKEN | C_HOST | C_SCHEME);
  add('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', C_ALPHA);
  add(MARK, unreserved);
  add('&=+$,;?/#', C_USER);
  add('&=+$,', C_PASSWORD);
  add('[]/:&+$', C_PARAMCHAR | C_SAFE);
  add('[]/?:+$', C_HNV);
  add(';/?:@&=+$,[]', C_URIC);
  add("-.!%*_+`'~", C_TOKEN | C_SAFE);
  add('-._', C_HOST);
  add('+-.', C_SCHEME);
  add('0123456789abcdefABCDEF', C_HEX);
  add(' \t\r\n', C_WS);
  return t;
}

/** @internal True when char code c belongs to one of the classes in mask. */
export function isClass(c: number, mask: number): boolean {
  return c < 128 && (CHARS[c]! & mask) !== 0;
}

/** @internal Value of a hex digit, or -1. */
export function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** @internal The byte of the `%XX` escape at s[i], or -1 when it is not a valid escape. */
export function escapeAt(s: string, i: number, end: number): number {
  if (i + 2 >= end) return -1;
  const hi = hexValue(s.charCodeAt(i + 1));
  const lo = hexValue(s.charCodeAt(i + 2));
  return hi < 0 || lo < 0 ? -1 : (hi << 4) | lo;
}

/**
 * @internal Advances over chars of `mask` and `%XX` escapes (RFC 3261 25.1
 * "escaped"); returns the index of the first char that is neither. A '%' not
 * followed by two hex digits is an error.
 */
export function scanEscaped(s: string, i: number, end: number, mask: number, field: string): number {
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c === 37 /* % */) {
      if (escapeAt(s, i, end) < 0) throw new SipSyntaxError(field, 'bad %-escape');
      i += 3;
    } else if (c < 128 && (CHARS[c]! & mask) !== 0) {
      i++;
    } else {
      break;
    }
  }
  return i;
}

/** @internal Advances over chars of `mask`. */
export function scanClass(s: string, i: number, end: number, mask: number): number {
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c >= 128 || (CHARS[c]! & mask) === 0) break;
    i++;
  }
  return i;
}

/** @internal Skips linear whitespace (SP, HTAB, CR, LF). */
export function skipLws(s: string, i: number, end: number): number {
  return scanClass(s, i, end, C_WS);
}

/** @internal Index just past trailing linear whitespace ending at `end`. */
export function trimLwsEnd(s: string, start: number, end: number): number {
  while (end > start && isClass(s.charCodeAt(end - 1), C_WS)) end--;
  return end;
}

/**
 * @internal Scans a quoted-string whose opening '"' is at s[i]; returns the
 * index just past the closing quote. RFC 3261 25.1: qdtext is LWS, %x21,
 * %x23-5B, %x5D-7E or non-ASCII; quoted-pair is "\" and any char but CR/LF.
 */
export function scanQuoted(s: string, i: number, end: number, field: string): number {
  for (i++; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 34 /* " */) return i + 1;
    if (c === 92 /* \ */) {
      i++;
      if (i >= end) break;
      const e = s.charCodeAt(i);
      if (e === 13 || e === 10) throw new SipSyntaxError(field, 'bad quoted-pair');
    } else if ((c < 32 && c !== 9 && c !== 13 && c !== 10) || c === 127) {
      throw new SipSyntaxError(field, 'control character in quoted string');
    }
  }
  throw new SipSyntaxError(field, 'unterminated quoted string');
}

/** @internal The content of a scanned quoted-string s[start..end) with quoted-pairs resolved. */
export function unquote(s: string, start: number, end: number): string {
  const inner = s.slice(start + 1, end - 1);
  if (inner.indexOf('\\') < 0) return inner;
  let out = '';
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!;
    if (c === '\\' && i + 1 < inner.length) {
      i++;
      out += inner[i];
    } else {
      out += c;
    }
  }
  return out;
}

/**
 * @internal Parses IPv4address (RFC 3261 25.1, each octet at most 255) spanning
 * exactly s[start..end); returns it as an unsigned 32-bit number, or -1.
 */
export function parseIPv4(s: string, start: number, end: number): number {
  let value = 0;
  let i = start;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= end || s.charCodeAt(i) !== 46 /* . */) return -1;
      i++;
    }
    const from = i;
    let octet = 0;
    while (i < end && i - from < 4) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      octet = octet * 10 + d;
      i++;
    }
    if (i === from || i - from > 3 || octet > 255) return -1;
    value = value * 256 + octet;
  }
  return i === end ? value : -1;
}

/**
 * @internal Parses IPv6address (RFC 3261 25.1 / RFC 4291 2.2, no brackets)
 * spanning exactly s[start..end); returns its eight 16-bit groups, or null.
 */
export function parseIPv6(s: string, start: number, end: number): number[] | null {
  const head: number[] = [];
  const tail: number[] = [];
  let cur = head;
  let compressed = false;
  let i = start;
  if (end - start >= 2 && s.charCodeAt(i) === 58 && s.charCodeAt(i + 1) === 58) {
    compressed = true;
    cur = tail;
    i = skipThirdColon(s, i + 2, end);
  }
  while (i < end) {
    const from = i;
    let group = 0;
    while (i < end && i - from < 5) {
      const h = hexValue(s.charCodeAt(i));
      if (h < 0) break;
      group = group * 16 + h;
      i++;
    }
    if (i < end && s.charCodeAt(i) === 46 /* . */) {
      // Trailing IPv4 part ("::ffff:192.0.2.1") counts as two groups.
      const v4 = parseIPv4(s, from, end);
      if (v4 < 0) return null;
      cur.push(Math.floor(v4 / 65536), v4 % 65536);
      i = end;
      break;
    }
    if (i === from || i - from > 4) return null;
    cur.push(group);
    if (i === end) break;
    if (s.charCodeAt(i) !== 58 /* : */) return null;
    i++;
    if (i < end && s.charCodeAt(i) === 58) {
      if (compressed) return null;
      compressed = true;
      cur = tail;
      i = skipThirdColon(s, i + 1, end);
    } else if (i === end) {
      return null; // a single trailing ':'
    }
  }
  const total = head.length + tail.length;
  if (compressed ? total > 7 : total !== 8) return null;
  const out = head;
  for (let k = total; k < 8; k++) out.push(0);
  for (const g of tail) out.push(g);
  return out;
}

/**
 * RFC 3261's IPv6address rule (hexpart [ ":" IPv4address ]) wrongly lets a
 * third colon follow "::" before a trailing IPv4 part ("2001:db8:::192.0.2.1");
 * RFC 5118 4.10 says to accept it as well as the two-colon form. Returns the
 * index past that third colon when an IPv4address follows it, else i.
 */
function skipThirdColon(s: string, i: number, end: number): number {
  return i < end && s.charCodeAt(i) === 58 && parseIPv4(s, i + 1, end) >= 0 ? i + 1 : i;
}

/**
 * @internal An IPv6 reference in the two-colon form: the RFC 5118 4.10
 * three-colon spelling that parseIPv6 tolerates is written back without its
 * extra colon, so the host can be handed to the socket layer and compared.
 */
export function normalizeIPv6Reference(ref: string): string {
  const k = ref.indexOf(':::');
  return k < 0 ? ref : ref.slice(0, k) + ref.slice(k + 1);
}

// ---------------------------------------------------------------------------
// Params

/**
 * An ordered parameter list. Lookup is by case-insensitive name (for URI
 * parameters the name is also %-unescaped, so `;%6C%72` answers get('lr'));
 * the names are written back as they were given.
 */
export class Params {
  private readonly names: string[] = [];
  private readonly keys: string[] = [];
  private readonly values: ParamValue[] = [];

  /** The value of the first parameter of that name: a string, null for a flag, undefined when absent. */
  get(name: string): ParamValue | undefined {
    const i = this.indexOf(name);
    return i < 0 ? undefined : this.values[i];
  }

  has(name: string): boolean {
    return this.indexOf(name) >= 0;
  }

  /**
   * Sets a parameter: replaces the value of an existing one in place, or
   * appends. Throws SipSyntaxError('params') for a name or value that would
   * break the enclosing header or URI (whitespace, ';', ',', '<', ...). A
   * value may be a complete quoted-string (kept with its quotes).
   */
  set(name: string, value: ParamValue): void {
    checkName(name);
    if (value !== null) checkValue(value);
    const i = this.indexOf(name);
    if (i >= 0) this.values[i] = value;
    else this.push(name, name.toLowerCase(), value);
  }

  /** Removes every parameter of that name; true when one was there. */
  delete(name: string): boolean {
    const key = name.toLowerCase();
    let removed = false;
    for (let i = this.keys.length - 1; i >= 0; i--) {
      if (this.keys[i] !== key) continue;
      this.names.splice(i, 1);
      this.keys.splice(i, 1);
      this.values.splice(i, 1);
      removed = true;
    }
    return removed;
  }

  /** [name as written, value] pairs in order. */
  *entries(): IterableIterator<[string, ParamValue]> {
    for (let i = 0; i < this.names.length; i++) yield [this.names[i]!, this.values[i]!];
  }

  [Symbol.iterator](): IterableIterator<[string, ParamValue]> {
    return this.entries();
  }

  get size(): number {
    return this.names.length;
  }

  /** `;a=b;lr` (each parameter with its leading ';'), or '' when empty. */
  toString(): string {
    let out = '';
    for (let i = 0; i < this.names.length; i++) {
      const v = this.values[i];
      out += v === null ? `;${this.names[i]}` : `;${this.names[i]}=${v}`;
    }
    return out;
  }

  /** An independent copy. */
  clone(): Params {
    const p = new Params();
    for (let i = 0; i < this.names.length; i++) p.push(this.names[i]!, this.keys[i]!, this.values[i]!);
    return p;
  }

  /** @internal Appends without validation or de-duplication (parsers use it); key is the lookup name. */
  push(name: string, key: string, value: ParamValue): void {
    this.names.push(name);
    this.keys.push(key);
    this.values.push(value);
  }

  private indexOf(name: string): number {
    const key = name.toLowerCase();
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] === key) return i;
    return -1;
  }
}

function checkName(name: string): void {
  if (name.length === 0 || scanClass(name, 0, name.length, C_SAFE) !== name.length) {
    throw new SipSyntaxError('params', 'bad parameter name');
  }
}

function checkValue(value: string): void {
  const n = value.length;
  if (n > 0 && value.charCodeAt(0) === 34) {
    if (parsedOrNull(() => scanQuoted(value, 0, n, 'params')) === n) return;
  } else if (n > 0 && scanClass(value, 0, n, C_SAFE) === n) {
    return;
  }
  throw new SipSyntaxError('params', 'bad parameter value');
}

/**
 * Parses a generic parameter list (RFC 3261 25.1 generic-param, via-params):
 * `*( SEMI token [ EQUAL gen-value ] )` where SEMI and EQUAL allow LWS around
 * them and gen-value is a token, a host (IPv6 references in brackets; a bare
 * IPv6address as in Via received= is accepted too) or a quoted-string, kept
 * with its quotes. `s` starts at the first ';' (leading LWS allowed) or is empty.
 */
export function parseParams(s: string, field: string): Params {
  const p = new Params();
  parseParamsInto(s, 0, s.length, field, p);
  return p;
}

/** @internal parseParams over s[i..end), appending to `out`; the whole range must be parameters. */
export function parseParamsInto(s: string, i: number, end: number, field: string, out: Params): void {
  i = skipLws(s, i, end);
  while (i < end) {
    if (s.charCodeAt(i) !== 59 /* ; */) throw new SipSyntaxError(field, "expected ';' before parameter");
    i = skipLws(s, i + 1, end);
    const nameStart = i;
    i = scanClass(s, i, end, C_TOKEN);
    if (i === nameStart) throw new SipSyntaxError(field, 'empty parameter name');
    const name = s.slice(nameStart, i);
    i = skipLws(s, i, end);
    let value: ParamValue = null;
    if (i < end && s.charCodeAt(i) === 61 /* = */) {
      const valueStart = skipLws(s, i + 1, end);
      i = scanGenValue(s, valueStart, end, field);
      value = s.slice(valueStart, i);
      i = skipLws(s, i, end);
    }
    out.push(name, name.toLowerCase(), value);
  }
}

/** gen-value = token / host / quoted-string (RFC 3261 25.1); returns the index after it. */
function scanGenValue(s: string, i: number, end: number, field: string): number {
  if (i >= end) throw new SipSyntaxError(field, 'empty parameter value');
  const c = s.charCodeAt(i);
  if (c === 34 /* " */) return scanQuoted(s, i, end, field);
  if (c === 91 /* [ */) {
    let close = i + 1;
    while (close < end && s.charCodeAt(close) !== 93 /* ] */) close++;
    if (close >= end || parseIPv6(s, i + 1, close) === null) {
      throw new SipSyntaxError(field, 'bad IPv6 reference in parameter value');
    }
    return close + 1;
  }
  // Tokens, hostnames, IPv4; ':' admits the bare IPv6address of Via received= (RFC 3261 20.42).
  let j = i;
  while (j < end) {
    const d = s.charCodeAt(j);
    if (d !== 58 && (d >= 128 || (CHARS[d]! & C_TOKEN) === 0)) break;
    j++;
  }
  if (j === i) throw new SipSyntaxError(field, 'bad parameter value');
  return j;
}
