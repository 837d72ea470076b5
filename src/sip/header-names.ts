/**
 * Known header names: a small integer id per header a proxy reads, found from
 * the raw bytes without allocating a lowercase copy. Compact forms (RFC 3261
 * 7.3.3, and the later RFCs' single letters) map to the same id as the long form.
 */

export const enum H {
  Other = 0,
  Via,
  From,
  To,
  CallId,
  CSeq,
  MaxForwards,
  Contact,
  Route,
  RecordRoute,
  ContentLength,
  ContentType,
  Expires,
  ProxyRequire,
  Require,
  Supported,
  Authorization,
  ProxyAuthorization,
  WwwAuthenticate,
  ProxyAuthenticate,
  UserAgent,
  Server,
  Allow,
  Path,
  MinExpires,
  Date,
  Accept,
  ContentEncoding,
  Subject,
  Event,
  ReferTo,
  ReferredBy,
  SessionExpires,
  Unsupported,
  PAssertedIdentity,
}

/** Canonical spelling of each known header, as Trunkline writes it. */
export const CANONICAL_NAMES: readonly string[] = [
  '',
  'Via',
  'From',
  'To',
  'Call-ID',
  'CSeq',
  'Max-Forwards',
  'Contact',
  'Route',
  'Record-Route',
  'Content-Length',
  'Content-Type',
  'Expires',
  'Proxy-Require',
  'Require',
  'Supported',
  'Authorization',
  'Proxy-Authorization',
  'WWW-Authenticate',
  'Proxy-Authenticate',
  'User-Agent',
  'Server',
  'Allow',
  'Path',
  'Min-Expires',
  'Date',
  'Accept',
  'Content-Encoding',
  'Subject',
  'Event',
  'Refer-To',
  'Referred-By',
  'Session-Expires',
  'Unsupported',
  'P-Asserted-Identity',
];

/** Compact forms (RFC 3261 7.3.3, RFC 3265, RFC 3515, RFC 3892, RFC 4028). */
const COMPACT: Record<string, H> = {
  v: H.Via,
  f: H.From,
  t: H.To,
  i: H.CallId,
  m: H.Contact,
  l: H.ContentLength,
  c: H.ContentType,
  k: H.Supported,
  e: H.ContentEncoding,
  s: H.Subject,
  o: H.Event,
  r: H.ReferTo,
  b: H.ReferredBy,
  x: H.SessionExpires,
};

/** Lowercase long name -> id, for lookups by name string. */
const BY_LOWER = new Map<string, H>();
CANONICAL_NAMES.forEach((name, id) => {
  if (id !== 0) BY_LOWER.set(name.toLowerCase(), id as H);
});
for (const [letter, id] of Object.entries(COMPACT)) BY_LOWER.set(letter, id);

/**
 * Buckets of candidate ids by name length, so an id is found from bytes with
 * at most a few case-insensitive compares (no string is made).
 */
const BY_LENGTH: Array<Array<[Uint8Array, H]>> = [];
for (const [lower, id] of BY_LOWER) {
  const bucket = (BY_LENGTH[lower.length] ??= []);
  bucket.push([Buffer.from(lower, 'latin1'), id]);
}

/** Header id of the name buf[start..end), compared case-insensitively. */
export function headerIdFromBytes(buf: Buffer, start: number, end: number): H {
  const bucket = BY_LENGTH[end - start];
  if (bucket === undefined) return H.Other;
  for (let b = 0; b < bucket.length; b++) {
    const entry = bucket[b]!;
    const lower = entry[0];
    let i = 0;
    for (; i < lower.length; i++) {
      // ASCII lowercase: set bit 0x20 on letters only.
      let c = buf[start + i]!;
      if (c >= 65 && c <= 90) c |= 0x20;
      if (c !== lower[i]) break;
    }
    if (i === lower.length) return entry[1];
  }
  return H.Other;
}

/**
 * Names as code writes them ("Via", "Max-Forwards", "via", "v"): found
 * without lowering the case, which makes a new string on every lookup of
 * the hot path (prependHeader, setHeader, get).
 */
const BY_EXACT = new Map<string, H>(BY_LOWER);
CANONICAL_NAMES.forEach((name, id) => {
  if (id !== 0) BY_EXACT.set(name, id as H);
});
for (const [letter, id] of Object.entries(COMPACT)) BY_EXACT.set(letter.toUpperCase(), id);

/** Header id of a name given as a string (any case, long or compact). */
export function headerIdFromName(name: string): H {
  return BY_EXACT.get(name) ?? BY_LOWER.get(name.toLowerCase()) ?? H.Other;
}

/** Canonical name for a known id, or the name as given. */
export function canonicalName(name: string): string {
  const id = headerIdFromName(name);
  return id === H.Other ? name : CANONICAL_NAMES[id]!;
}

/** Headers whose values are comma-separated lists (RFC 3261 7.3.1) that Trunkline splits. */
export function isListHeader(id: H): boolean {
  return (
    id === H.Via ||
    id === H.Contact ||
    id === H.Route ||
    id === H.RecordRoute ||
    id === H.Path ||
    id === H.ProxyRequire ||
    id === H.Require ||
    id === H.Supported ||
    id === H.Unsupported ||
    id === H.Allow ||
    id === H.Accept
  );
}
