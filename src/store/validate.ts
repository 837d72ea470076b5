/**
 * Checks and normal forms for the values the repositories take. Each check
 * returns the normal form or throws a ValidationError naming the field.
 */
import { isIP } from 'node:net';
import { isHostname } from '../config/address.js';
import { ValidationError } from './errors.js';

const MAX_USER = 64;
const MAX_ALIAS = 64;
const MAX_PASSWORD = 1024;

function show(value: unknown): string {
  const s = typeof value === 'string' ? value : String(value);
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s);
}

/**
 * A SIP domain: a host name (lowercased, no trailing dot), an IPv4 address or
 * an IPv6 address (stored in brackets, lowercased).
 */
export function normalizeDomain(value: unknown, field = 'domain'): string {
  if (typeof value === 'string') {
    let d = value.trim().toLowerCase();
    if (d.endsWith('.') && !d.endsWith('..')) d = d.slice(0, -1);
    if (d.startsWith('[') && d.endsWith(']') && isIP(d.slice(1, -1)) === 6) return d;
    const ip = isIP(d); // once: node's IPv6 pattern is long, and every REGISTER and call checks a domain
    if (ip === 6) return `[${d}]`;
    if (ip === 4) return d;
    if (d !== '' && isHostname(d) && !/^[0-9.]+$/.test(d)) return d;
  }
  throw new ValidationError(field, `expected a host name or IP address, got ${show(value)}`);
}

/**
 * The user part of a SIP URI (RFC 3261 25.1: unreserved, escaped and
 * user-unreserved characters), case kept, at most 64 characters.
 */
const USER = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/;

export function checkUsername(value: unknown, field = 'username'): string {
  if (typeof value === 'string' && value.length <= MAX_USER && USER.test(value)) return value;
  throw new ValidationError(field, `expected a SIP user name (letters, digits, -_.!~*'()&=+$,;?/), got ${show(value)}`);
}

export function checkPassword(value: unknown, field = 'password'): string {
  if (typeof value !== 'string' || value === '') throw new ValidationError(field, 'must not be empty');
  if (value.length > MAX_PASSWORD) throw new ValidationError(field, `longer than ${MAX_PASSWORD} characters`);
  if (/[\r\n]/.test(value)) throw new ValidationError(field, 'must be one line');
  return value;
}

/** `alice@example.org` from `alice@Example.ORG`, `USER@DOMAIN` split at the last `@`. */
export function parseAddress(value: unknown, field = 'subscriber'): { username: string; domain: string } {
  if (typeof value === 'string') {
    const at = value.lastIndexOf('@');
    if (at > 0 && at < value.length - 1) {
      return {
        username: checkUsername(value.slice(0, at), field),
        domain: normalizeDomain(value.slice(at + 1), field),
      };
    }
  }
  throw new ValidationError(field, `expected USER@DOMAIN, got ${show(value)}`);
}

/** The address-of-record key of the location table: `user@domain`, domain lowercased. */
export function aorOf(username: string, domain: string): string {
  return `${username}@${domain.toLowerCase()}`;
}

/**
 * An AOR as the location table keeps it: `user@domain`. A leading `sip:` or
 * `sips:` is dropped and the domain lowercased, so `sip:alice@Example.org`
 * and `alice@example.org` name the same bindings.
 */
export function normalizeAor(value: unknown, field = 'aor'): string {
  if (typeof value === 'string') {
    const bare = value.trim().replace(/^sips?:/i, '');
    const at = bare.lastIndexOf('@');
    if (at > 0 && at < bare.length - 1 && !/[\s;?>]/.test(bare)) {
      return `${bare.slice(0, at)}@${bare.slice(at + 1).toLowerCase()}`;
    }
  }
  throw new ValidationError(field, `expected USER@DOMAIN, got ${show(value)}`);
}

const E164 = /^\+[0-9]{1,15}$/;
const NAME = /^(?:[A-Za-z0-9\-_.!~'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/;

export interface ParsedAlias {
  alias: string;
  /** Ends in `*`: matches every number or name starting with `body`. */
  prefix: boolean;
  body: string;
}

/**
 * An alias: an E.164 number (`+912240001234`), a prefix ending in `*`
 * (`+9122400012*`), or a name (`sales`, `0800123`, also with a `*`).
 */
export function parseAlias(value: unknown, field = 'alias'): ParsedAlias {
  if (typeof value === 'string' && value.length <= MAX_ALIAS) {
    const prefix = value.endsWith('*');
    const body = prefix ? value.slice(0, -1) : value;
    const ok = body.startsWith('+') ? E164.test(body) : body !== '' && NAME.test(body);
    if (ok) return { alias: value, prefix, body };
  }
  throw new ValidationError(
    field,
    `expected an E.164 number like +912240001234, a prefix like +9122400012* or a name, got ${show(value)}`,
  );
}

export function checkText(value: unknown, field: string, max = 2048): string {
  if (typeof value === 'string' && value !== '' && value.length <= max && !/[\r\n\0]/.test(value)) return value;
  throw new ValidationError(field, `expected text of 1 to ${max} characters on one line, got ${show(value)}`);
}

export function checkOptionalText(value: unknown, field: string, max = 2048): string | null {
  if (value === undefined || value === null) return null;
  return checkText(value, field, max);
}

export function checkInt(value: unknown, field: string, min: number, max: number): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max) return value;
  throw new ValidationError(field, `expected an integer from ${min} to ${max}, got ${show(value)}`);
}
