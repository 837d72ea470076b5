/**
 * Digest credentials (RFC 3261 22.4 and 25.1 `credentials`, RFC 7616 3.4,
 * RFC 8760): the value of an Authorization or Proxy-Authorization header.
 *
 * The auth-param list is read by a single left-to-right scan: parameter names
 * are case-insensitive and may come in any order, values are a token or a
 * quoted-string (quoted-pairs resolved), commas and LWS separate them, and
 * empty list elements are skipped (RFC 7230 7). Every malformed value throws
 * SipSyntaxError naming the header (400 at the edge).
 *
 * Per RFC 3261 7.3.1 the four authentication headers are never combined into
 * one line, so each header line holds exactly one credentials (or challenge)
 * value, and several lines may carry credentials for several realms.
 */
import { SipSyntaxError } from '../sip/errors.js';
import { C_TOKEN, scanClass, scanQuoted, skipLws, unquote } from '../sip/params.js';
import type { SipMessage } from '../sip/message.js';

/** Digest algorithms Trunkline parses (RFC 7616 3.4, RFC 8760 2.1). */
export type DigestAlgorithm = 'MD5' | 'SHA-256' | 'MD5-sess' | 'SHA-256-sess';

/** The algorithms a server offers in challenges (no -sess: RFC 8760 leaves them optional). */
export type ChallengeAlgorithm = 'MD5' | 'SHA-256';

export interface DigestCredentials {
  scheme: 'Digest';
  username: string;
  realm: string;
  nonce: string;
  /** digest-uri-value as sent (the Request-URI the client hashed). */
  uri: string;
  /** Lower-case hex; 32 digits for MD5, 64 for SHA-256. */
  response: string;
  /** MD5 when the client sent none (RFC 7616 3.4). */
  algorithm: DigestAlgorithm;
  qop: 'auth' | null;
  /** nonce-count as a number (1 and up); null without qop. */
  nc: number | null;
  /** nonce-count exactly as written (8 hex digits): the text the client hashed. */
  ncText: string | null;
  cnonce: string | null;
  opaque: string | null;
}

/** One auth-param value, with whether it was written as a quoted-string. */
export interface AuthParam {
  value: string;
  quoted: boolean;
}

/** An auth scheme and its auth-params, names lower-cased. */
export interface AuthHeader {
  scheme: string;
  params: Map<string, AuthParam>;
}

const ALGORITHMS: readonly DigestAlgorithm[] = ['MD5', 'SHA-256', 'MD5-sess', 'SHA-256-sess'];

/** Hex digits a response has for an algorithm's hash. */
export function hashHexLength(alg: DigestAlgorithm): number {
  return alg === 'MD5' || alg === 'MD5-sess' ? 32 : 64;
}

/**
 * The auth scheme of a credentials or challenge value (`Digest`, `Bearer`...),
 * as written, or null when the value does not start with a token.
 */
export function authScheme(value: string): string | null {
  const i = skipLws(value, 0, value.length);
  const end = scanClass(value, i, value.length, C_TOKEN);
  return end === i ? null : value.slice(i, end);
}

/**
 * Parses `scheme 1*LWS auth-param *(COMMA auth-param)` (RFC 3261 25.1
 * credentials / challenge with other-response's auth-param form). Names are
 * lower-cased; a parameter given twice is an error (RFC 7616 3.4: each at
 * most once).
 */
export function parseAuthHeader(value: string, field = 'Authorization'): AuthHeader {
  const s = value;
  const end = s.length;
  let i = skipLws(s, 0, end);
  const schemeStart = i;
  i = scanClass(s, i, end, C_TOKEN);
  if (i === schemeStart) throw new SipSyntaxError(field, 'missing auth scheme');
  const scheme = s.slice(schemeStart, i);
  const afterScheme = i;
  i = skipLws(s, i, end);
  if (i < end && i === afterScheme) throw new SipSyntaxError(field, 'expected whitespace after the auth scheme');

  const params = new Map<string, AuthParam>();
  while (i < end) {
    if (s.charCodeAt(i) === 44 /* , */) {
      i = skipLws(s, i + 1, end); // an empty list element
      continue;
    }
    const nameStart = i;
    i = scanClass(s, i, end, C_TOKEN);
    if (i === nameStart) throw new SipSyntaxError(field, `unexpected character at offset ${i}`);
    const name = s.slice(nameStart, i).toLowerCase();
    i = skipLws(s, i, end);
    if (i >= end || s.charCodeAt(i) !== 61 /* = */) throw new SipSyntaxError(field, `expected '=' after ${name}`);
    i = skipLws(s, i + 1, end);
    let param: AuthParam;
    if (i < end && s.charCodeAt(i) === 34 /* " */) {
      const close = scanQuoted(s, i, end, field);
      param = { value: unquote(s, i, close), quoted: true };
      i = close;
    } else {
      const valueStart = i;
      i = scanClass(s, i, end, C_TOKEN);
      if (i === valueStart) throw new SipSyntaxError(field, `bad value of ${name}`);
      param = { value: s.slice(valueStart, i), quoted: false };
    }
    if (params.has(name)) throw new SipSyntaxError(field, `duplicate parameter ${name}`);
    params.set(name, param);
    i = skipLws(s, i, end);
    if (i < end) {
      if (s.charCodeAt(i) !== 44) throw new SipSyntaxError(field, `expected ',' after ${name}`);
      i = skipLws(s, i + 1, end);
    }
  }
  if (params.size === 0) throw new SipSyntaxError(field, 'no auth parameters');
  return { scheme, params };
}

/**
 * Parses Digest credentials. Required: username, realm, nonce, uri,
 * response; with qop also nc (8 hex digits, not 0) and cnonce; without qop
 * neither (RFC 2617 3.2.2). Unsupported: qop other than auth, algorithms other
 * than MD5/SHA-256 and their -sess forms, userhash=true.
 */
export function parseDigestCredentials(value: string, field = 'Authorization'): DigestCredentials {
  const { scheme, params } = parseAuthHeader(value, field);
  if (scheme.toLowerCase() !== 'digest') throw new SipSyntaxError(field, `not Digest credentials (${scheme})`);
  const req = (name: string): string => {
    const p = params.get(name);
    if (p === undefined) throw new SipSyntaxError(field, `missing ${name}`);
    return p.value;
  };
  const opt = (name: string): string | null => params.get(name)?.value ?? null;

  const username = req('username');
  const realm = req('realm');
  const nonce = req('nonce');
  const uri = req('uri');
  const responseRaw = req('response');

  const algText = opt('algorithm');
  let algorithm: DigestAlgorithm = 'MD5';
  if (algText !== null) {
    const found = ALGORITHMS.find((a) => a.toLowerCase() === algText.toLowerCase());
    if (found === undefined) throw new SipSyntaxError(field, `unsupported algorithm ${clip(algText)}`);
    algorithm = found;
  }

  const userhash = opt('userhash');
  if (userhash !== null && userhash.toLowerCase() === 'true') throw new SipSyntaxError(field, 'userhash not supported');

  const qopText = opt('qop');
  let qop: 'auth' | null = null;
  if (qopText !== null) {
    if (qopText.toLowerCase() !== 'auth') throw new SipSyntaxError(field, `unsupported qop ${clip(qopText)}`);
    qop = 'auth';
  }

  const ncText = opt('nc');
  const cnonce = opt('cnonce');
  let nc: number | null = null;
  if (qop !== null) {
    if (ncText === null) throw new SipSyntaxError(field, 'missing nc');
    if (cnonce === null) throw new SipSyntaxError(field, 'missing cnonce');
  } else if (ncText !== null || cnonce !== null) {
    throw new SipSyntaxError(field, 'nc or cnonce without qop');
  }
  if (ncText !== null) {
    if (!/^[0-9a-fA-F]{8}$/.test(ncText)) throw new SipSyntaxError(field, 'bad nc (8 hex digits expected)');
    nc = Number.parseInt(ncText, 16);
    if (nc === 0) throw new SipSyntaxError(field, 'bad nc (0)');
  }

  const len = hashHexLength(algorithm);
  if (responseRaw.length !== len || !/^[0-9a-fA-F]+$/.test(responseRaw)) {
    throw new SipSyntaxError(field, `bad response (${len} hex digits expected for ${algorithm})`);
  }

  return {
    scheme: 'Digest',
    username,
    realm,
    nonce,
    uri,
    response: responseRaw.toLowerCase(),
    algorithm,
    qop,
    nc,
    ncText,
    cnonce,
    opaque: opt('opaque'),
  };
}

/**
 * The realm of a credentials value that may not parse, found leniently (for
 * deciding whether a malformed header was meant for us), or null.
 */
export function peekRealm(value: string): string | null {
  const m = /(?:^|[\s,])realm[ \t]*=[ \t]*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))/i.exec(value);
  if (m === null) return null;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? null);
}

/** The username of a credentials value that may not parse, found leniently (for failure counters), or null. */
export function peekUsername(value: string): string | null {
  const m = /(?:^|[\s,])username[ \t]*=[ \t]*"((?:[^"\\]|\\.)*)"/i.exec(value);
  return m === null || m[1] === undefined ? null : m[1].replace(/\\(.)/g, '$1');
}

/**
 * Of several credentials values (every Authorization or Proxy-Authorization
 * line of a request), the Digest ones for `realm` (compared exactly). Non-Digest
 * schemes are skipped, as are malformed values clearly for another realm.
 * When several match, the first whose algorithm comes earliest in
 * `preferred` wins (else the first). Returns null when none is for this realm;
 * throws the first SipSyntaxError when none parsed but a malformed one may
 * have been meant for this realm.
 */
export function selectCredentials(
  values: readonly string[],
  realm: string,
  field = 'Authorization',
  preferred: readonly DigestAlgorithm[] = [],
): DigestCredentials | null {
  const matches: DigestCredentials[] = [];
  let firstError: SipSyntaxError | null = null;
  for (const value of values) {
    const scheme = authScheme(value);
    if (scheme !== null && scheme.toLowerCase() !== 'digest') continue;
    try {
      const c = parseDigestCredentials(value, field);
      if (c.realm === realm) matches.push(c);
    } catch (err) {
      if (!(err instanceof SipSyntaxError)) throw err;
      const r = peekRealm(value);
      if (r !== null && r !== realm) continue;
      firstError ??= err;
    }
  }
  if (matches.length === 0) {
    if (firstError !== null) throw firstError;
    return null;
  }
  for (const alg of preferred) {
    const c = matches.find((m) => m.algorithm === alg);
    if (c !== undefined) return c;
  }
  return matches[0]!;
}

/** selectCredentials over a request's Authorization or Proxy-Authorization lines. */
export function findCredentials(
  req: SipMessage,
  header: 'Authorization' | 'Proxy-Authorization',
  realm: string,
  preferred: readonly DigestAlgorithm[] = [],
): DigestCredentials | null {
  return selectCredentials(req.getAll(header), realm, header, preferred);
}

function clip(s: string): string {
  return s.length > 32 ? `${s.slice(0, 32)}...` : s;
}
