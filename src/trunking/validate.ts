/**
 * Checks and normal forms of the trunking model's values (accounts, trunks,
 * DIDs, carriers, routes). Each check returns the normal form or throws a
 * ValidationError naming the field, in the store's style (`ip: ...`), so the
 * CLI prints it as is and the API answers 400 with it.
 */
import { parseCidr } from '../net/cidr.js';
import { isSipUri, tryParseUri, formatUri } from '../sip/uri.js';
import { ValidationError } from '../store/errors.js';
import { knownCodecName } from '../media/sdp/codecs.js';
import { EMERGENCY_ROUTE, type MediaMode, type TrunkTransport } from './model.js';

export const TRUNK_TRANSPORTS: readonly TrunkTransport[] = ['udp', 'tcp', 'tls'];
export const MEDIA_MODES: readonly MediaMode[] = ['rtp', 'srtp', 'any'];

/** The calls-per-minute of a trunk when none is given (README.md). */
export const DEFAULT_TRUNK_CPM = 200;
/** Upper bound of cpm and max-calls values. */
export const MAX_LIMIT = 1_000_000;

const MAX_LIST = 64;

function show(value: unknown): string {
  const s = typeof value === 'string' ? value : String(value);
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s);
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** An account, trunk or carrier name: letters, digits, `.`, `_`, `-`, at most 64, starting with a letter or digit. */
export function checkName(value: unknown, field = 'name'): string {
  if (typeof value === 'string' && NAME.test(value)) return value;
  throw new ValidationError(
    field,
    `expected a name of letters, digits, '.', '_' or '-' (at most 64), got ${show(value)}`,
  );
}

const E164 = /^\+[1-9][0-9]{0,14}$/;

/** An E.164 number: `+`, then 1 to 15 digits, the first not 0. */
export function isE164(value: string): boolean {
  return E164.test(value);
}

export function checkE164(value: unknown, field = 'number'): string {
  if (typeof value === 'string' && E164.test(value)) return value;
  throw new ValidationError(field, `expected an E.164 number like +912240001234, got ${show(value)}`);
}

/** A DID as parsed: an exact number, or a prefix (`+9122400012*`, body `+9122400012`). */
export interface ParsedDid {
  /** As stored: `+912240001234` or `+9122400012*`. */
  number: string;
  prefix: boolean;
  /** The number without the `*`. */
  body: string;
}

/** A DID: an E.164 number (`+912240001234`) or a prefix of one ending in `*` (`+9122400012*`). */
export function parseDid(value: unknown, field = 'number'): ParsedDid {
  if (typeof value === 'string') {
    const prefix = value.endsWith('*');
    const body = prefix ? value.slice(0, -1) : value;
    if (E164.test(body)) return { number: value, prefix, body };
  }
  throw new ValidationError(
    field,
    `expected an E.164 number like +912240001234 or a prefix like +9122400012*, got ${show(value)}`,
  );
}

/**
 * An outbound route prefix: `+` alone (the default route) or `+` and 1 to 15
 * digits. A trailing `*` is accepted and dropped (`+91*` is `+91`): a route
 * is always a prefix. `emergency` names the route of emergency calls.
 */
export function parseRoutePrefix(value: unknown, field = 'prefix'): string {
  if (typeof value === 'string') {
    if (value.toLowerCase() === EMERGENCY_ROUTE) return EMERGENCY_ROUTE;
    const body = value.endsWith('*') ? value.slice(0, -1) : value;
    if (body === '+' || E164.test(body)) return body;
  }
  throw new ValidationError(
    field,
    `expected + (the default route), + and up to 15 digits like +9122, or emergency, got ${show(value)}`,
  );
}

/** A rate deck's prefix: 1 to 15 digits, the first not 0, with or without `+` (`44`, `+4420`); returned with `+`. */
export function checkRatePrefix(value: unknown, field = 'prefix'): string {
  if (typeof value === 'string') {
    const v = value.trim();
    const body = v.startsWith('+') ? v : `+${v}`;
    if (E164.test(body)) return body;
  }
  throw new ValidationError(field, `expected a dialling prefix like 44 or +4420 (1 to 15 digits), got ${show(value)}`);
}

/**
 * A CIDR (`10.0.0.0/8`, `::1/128`) or a bare address, which becomes a /32 or
 * /128. The address part is written as node writes it (IPv6 lowercased).
 */
export function checkCidr(value: unknown, field = 'ip'): string {
  if (typeof value === 'string') {
    const c = parseCidr(value.trim());
    if (c !== null) return `${c.ip.toLowerCase()}/${c.bits}`;
  }
  throw new ValidationError(
    field,
    `expected an IP address or CIDR like 192.0.2.10/32 or 2001:db8::/32, got ${show(value)}`,
  );
}

/** A non-empty list of CIDRs (duplicates dropped, order kept). */
export function checkCidrs(value: unknown, field = 'ip'): string[] {
  if (!Array.isArray(value) || value.length === 0)
    throw new ValidationError(field, 'expected at least one IP address or CIDR');
  if (value.length > MAX_LIST) throw new ValidationError(field, `at most ${MAX_LIST} entries`);
  return [...new Set(value.map((v) => checkCidr(v, field)))];
}

/** A SIP or SIPS URI with a host (`sip:127.0.0.5:5080;transport=udp`), as written back by the parser. */
export function checkSipUri(value: unknown, field: string): string {
  if (typeof value === 'string' && value.length <= 512) {
    const u = tryParseUri(value.trim());
    if (u !== null && isSipUri(u)) return formatUri(u);
  }
  throw new ValidationError(field, `expected a SIP URI like sip:192.0.2.10:5060, got ${show(value)}`);
}

export function checkTransport(value: unknown, field = 'transport'): TrunkTransport | null {
  if (value === undefined || value === null) return null;
  const v = typeof value === 'string' ? value.toLowerCase() : value;
  if ((TRUNK_TRANSPORTS as readonly unknown[]).includes(v)) return v as TrunkTransport;
  throw new ValidationError(field, `expected one of ${TRUNK_TRANSPORTS.join(', ')}, got ${show(value)}`);
}

export function checkMedia(value: unknown, field = 'media'): MediaMode {
  if (value === undefined || value === null) return 'any';
  const v = typeof value === 'string' ? value.toLowerCase() : value;
  if ((MEDIA_MODES as readonly unknown[]).includes(v)) return v as MediaMode;
  throw new ValidationError(field, `expected one of ${MEDIA_MODES.join(', ')}, got ${show(value)}`);
}

/**
 * Codec names (`PCMA`, `PCMU`, `telephone-event`), any case, written in their
 * usual spelling; order kept, duplicates dropped; [] = as offered. A name the
 * media layer does not know (KNOWN_CODECS) is refused.
 */
export function checkCodecs(value: unknown, field = 'codecs'): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ValidationError(field, 'expected a list of codec names');
  if (value.length > MAX_LIST) throw new ValidationError(field, `at most ${MAX_LIST} entries`);
  const out: string[] = [];
  for (const c of value) {
    const name = typeof c === 'string' ? knownCodecName(c) : null;
    if (name === null) {
      throw new ValidationError(
        field,
        `unknown codec ${show(c)}: expected names like PCMA,PCMU,G722,G729,opus,telephone-event`,
      );
    }
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

/**
 * A SHA-256 certificate fingerprint: 64 hex digits, with or without colons
 * (`sha256/` or `SHA-256 ` before it is accepted); kept uppercase, colon
 * separated, as `openssl x509 -fingerprint -sha256` prints it.
 */
export function checkFingerprint(value: unknown, field = 'tlsFingerprint'): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') {
    const hex = value
      .trim()
      .replace(/^(sha-?256[ =/:]*)/i, '')
      .replace(/:/g, '')
      .toUpperCase();
    if (/^[0-9A-F]{64}$/.test(hex)) return hex.match(/../g)!.join(':');
  }
  throw new ValidationError(
    field,
    `expected a SHA-256 fingerprint (64 hex digits, colons allowed), got ${show(value)}`,
  );
}

/** A limit (calls per minute, concurrent calls): an integer from 1 to MAX_LIMIT. */
export function checkLimit(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 && value <= MAX_LIMIT) return value;
  throw new ValidationError(field, `expected an integer from 1 to ${MAX_LIMIT}, got ${show(value)}`);
}

export function checkOptionalLimit(value: unknown, field: string): number | null {
  if (value === undefined || value === null) return null;
  return checkLimit(value, field);
}

/** A carrier's tech prefix: digits, `#` or `*`, at most 16 (`--prefix DIGITS`). */
export function checkTechPrefix(value: unknown, field = 'prefix'): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value === 'string' && /^[0-9#*]{1,16}$/.test(value)) return value;
  throw new ValidationError(field, `expected up to 16 digits (# and * allowed), got ${show(value)}`);
}
