/**
 * URI comparison (RFC 3261 19.1.4 for sip/sips, RFC 3966 4 for tel), apart
 * from the parser in uri.ts. uri.ts re-exports uriEquals.
 */
import { escapeAt, Params, parseIPv6 } from './params.js';
import { isSipUri, isTelUri, type OtherUri, type SipUri, type TelUri, type Uri } from './uri.js';

/** reserved = ";" / "/" / "?" / ":" / "@" / "&" / "=" / "+" / "$" / "," (RFC 3261 25.1), plus '%' itself. */
function keepsEscape(b: number): boolean {
  return b >= 128 || b < 33 || b === 127 || ';/?:@&=+$,%'.indexOf(String.fromCharCode(b)) >= 0;
}

/**
 * Canonical form for comparison (RFC 3261 19.1.4): characters outside the
 * reserved set are equivalent to their %HEX HEX encoding, so those escapes
 * are decoded; the others keep the escape with uppercase hex. Never throws.
 */
function canonicalEscapes(s: string): string {
  if (s.indexOf('%') < 0) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 37) {
      out += s[i];
      continue;
    }
    const b = escapeAt(s, i, s.length);
    if (b < 0) {
      out += '%25';
    } else {
      out += keepsEscape(b) ? `%${HEX[b >> 4]}${HEX[b & 15]}` : String.fromCharCode(b);
      i += 2;
    }
  }
  return out;
}

const HEX = '0123456789ABCDEF';

/** Parameters that make URIs differ when present in only one of them (RFC 3261 19.1.4). */
const MUST_MATCH_PARAMS = new Set(['transport', 'user', 'ttl', 'method', 'maddr']);

/**
 * URI equality. For sip/sips, RFC 3261 19.1.4: same scheme; userinfo
 * case-sensitive; host case-insensitive (IPv6 compared by value); a port,
 * transport/user/ttl/method/maddr parameter given in only one never matches;
 * parameters in both compare case-insensitively, others are ignored; headers
 * must be the same set. Escapes of unreserved chars equal the chars. tel URIs
 * per RFC 3966 4 (separators ignored, all parameters must match). Other
 * schemes compare by exact opaque text.
 */
export function uriEquals(a: Uri, b: Uri): boolean {
  if (a.scheme !== b.scheme) return false;
  if (isSipUri(a) && isSipUri(b)) return sipEquals(a, b);
  if (isTelUri(a) && isTelUri(b)) return telEquals(a, b);
  if (isSipUri(a) || isSipUri(b) || isTelUri(a) || isTelUri(b)) return false;
  return (a as OtherUri).opaque === (b as OtherUri).opaque;
}

function sipEquals(a: SipUri, b: SipUri): boolean {
  if (!sameOptional(a.user, b.user) || !sameOptional(a.password, b.password)) return false;
  if (a.port !== b.port || a.hostType !== b.hostType) return false;
  if (!sameHost(a, b)) return false;
  if (!sameSipParams(a.params, b.params)) return false;
  if (a.headers === null || b.headers === null) return a.headers === b.headers;
  return headerSet(a.headers) === headerSet(b.headers);
}

/** Userinfo: both absent, or equal after escape canonicalisation, case-sensitive. */
function sameOptional(x: string | null, y: string | null): boolean {
  if (x === null || y === null) return x === y;
  return x === y || canonicalEscapes(x) === canonicalEscapes(y);
}

function sameHost(a: SipUri, b: SipUri): boolean {
  if (a.hostType !== 'ipv6') return a.host.toLowerCase() === b.host.toLowerCase();
  const ga = parseIPv6(a.host, 1, a.host.length - 1);
  const gb = parseIPv6(b.host, 1, b.host.length - 1);
  if (ga === null || gb === null) return a.host.toLowerCase() === b.host.toLowerCase();
  for (let k = 0; k < 8; k++) if (ga[k] !== gb[k]) return false;
  return true;
}

function normalizedParams(p: Params): Map<string, string | null> {
  const m = new Map<string, string | null>();
  for (const [name, value] of p.entries()) {
    const key = canonicalEscapes(name).toLowerCase();
    if (!m.has(key)) m.set(key, value === null ? null : canonicalEscapes(value).toLowerCase());
  }
  return m;
}

function sameSipParams(a: Params, b: Params): boolean {
  if (a.size === 0 && b.size === 0) return true;
  const ma = normalizedParams(a);
  const mb = normalizedParams(b);
  for (const [key, value] of ma) {
    if (mb.has(key)) {
      if (mb.get(key) !== value) return false;
    } else if (MUST_MATCH_PARAMS.has(key)) {
      return false;
    }
  }
  for (const key of mb.keys()) if (!ma.has(key) && MUST_MATCH_PARAMS.has(key)) return false;
  return true;
}

/** Headers as an order-independent string: names case-insensitive, values canonicalised. */
function headerSet(h: string): string {
  const parts = h.split('&').map((part) => {
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    return `${canonicalEscapes(name).toLowerCase()}=${canonicalEscapes(value)}`;
  });
  return parts.sort().join('&');
}

function telEquals(a: TelUri, b: TelUri): boolean {
  if (telDigits(a.number) !== telDigits(b.number)) return false;
  const ma = normalizedParams(a.params);
  const mb = normalizedParams(b.params);
  if (ma.size !== mb.size) return false;
  for (const [key, value] of ma) if (!mb.has(key) || mb.get(key) !== value) return false;
  return true;
}

/** The number without visual separators, case-folded (RFC 3966 4). */
function telDigits(n: string): string {
  let out = '';
  for (let i = 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    if (c !== 45 && c !== 46 && c !== 40 && c !== 41) out += n[i];
  }
  return out.toLowerCase();
}
