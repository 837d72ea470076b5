/**
 * Step 8: black- and white-lists after Kamailio's secfilter. Kinds:
 * - ua: User-Agent, case-insensitive substring;
 * - ip: source address, IP or CIDR;
 * - domain: From, To and Request-URI hosts, the name or any subdomain;
 * - user: From, To, Contact and Request-URI user parts, exact;
 * - dest: the dialled number (Request-URI user, or a tel: number) by
 *   prefix, `+` and visual separators kept as written (`+1900`, `00`).
 * A whitelisted source IP skips every list; a whitelisted value of a kind
 * skips that kind's blacklist (secfilter's "whitelist wins"). A blacklist
 * hit, or SQL-injection-like content in a user part or a display name, is
 * a 403.
 *
 * The trunking stage calls `checkDestination()` again with the number it
 * normalised (E.164), so prefixes written in E.164 also bar `00`-dialled calls.
 */
import { AddressSet, isCidr } from '../net/cidr.js';
import type { SipMessage } from '../sip/message.js';
import { isSipUri, isTelUri, parseUri, type Uri } from '../sip/uri.js';
import type { NameAddr } from '../sip/name-addr.js';
import { suspiciousDisplayName, suspiciousUser } from './sqli.js';

export const LIST_KINDS = ['ua', 'ip', 'domain', 'user', 'dest'] as const;
export type ListKind = (typeof LIST_KINDS)[number];
export type ListType = 'black' | 'white';

export interface ListEntry {
  id?: number;
  list: ListType;
  kind: ListKind;
  value: string;
}

export interface ListVerdict {
  kind: ListKind | 'sqli';
  reason: string;
}

class KindSet {
  readonly values: string[] = [];
  readonly set = new Set<string>();
  add(v: string): void {
    this.values.push(v);
    this.set.add(v);
  }
}

class ListSide {
  readonly ua = new KindSet();
  readonly domain = new KindSet();
  readonly user = new KindSet();
  readonly dest = new KindSet();
  readonly ip = new AddressSet();
}

/** Lowercases where the kind is case-insensitive; throws a RangeError naming a bad value. */
export function normalizeListValue(kind: ListKind, value: string): string {
  const v = value.trim();
  if (v === '') throw new RangeError(`empty ${kind} value`);
  switch (kind) {
    case 'ua':
    case 'domain':
      return v.toLowerCase();
    case 'ip':
      if (!isCidr(v)) throw new RangeError(`not an IP address or CIDR: ${value}`);
      return v.toLowerCase();
    default:
      return v;
  }
}

export class SecurityLists {
  private readonly black = new ListSide();
  private readonly white = new ListSide();
  /** Source IP -> 'white' | 'black' | null, memoised (AddressSet.has of a string allocates); bounded. */
  private readonly ipSeen = new Map<string, ListType | null>();
  readonly size: number;
  /** Stored rows that no longer parse (`10.0.0.0/`): left out, each named, for the caller to log. */
  readonly skipped: string[] = [];

  constructor(
    entries: readonly ListEntry[],
    private readonly sqlInjection = true,
  ) {
    for (const e of entries) {
      const side = e.list === 'white' ? this.white : this.black;
      try {
        const v = normalizeListValue(e.kind, e.value);
        if (e.kind === 'ip') side.ip.add(v);
        else side[e.kind].add(v);
      } catch (err) {
        // A row an older version accepted must not stop the whole list (or the server) from loading.
        if (!(err instanceof RangeError)) throw err;
        this.skipped.push(`${e.list} ${e.kind} ${JSON.stringify(e.value)}: ${err.message}`);
      }
    }
    this.size = entries.length - this.skipped.length;
  }

  /** The first list hit for a request from `ip`, or null to go on. */
  check(req: SipMessage, ip: string, ruri: Uri = parseUri(req.requestUri)): ListVerdict | null {
    if (this.white.ip.size > 0 || this.black.ip.size > 0) {
      let side = this.ipSeen.get(ip);
      if (side === undefined) {
        side =
          this.white.ip.size > 0 && this.white.ip.has(ip)
            ? 'white'
            : this.black.ip.size > 0 && this.black.ip.has(ip)
              ? 'black'
              : null;
        if (this.ipSeen.size >= 4096) this.ipSeen.clear();
        this.ipSeen.set(ip, side);
      }
      if (side === 'white') return null;
      if (side === 'black') return { kind: 'ip', reason: 'source blacklisted' };
    }
    if (this.black.ua.values.length > 0) {
      const ua = req.get('User-Agent');
      if (ua !== undefined) {
        const lower = ua.toLowerCase();
        if (
          !this.white.ua.values.some((w) => lower.includes(w)) &&
          this.black.ua.values.some((b) => lower.includes(b))
        ) {
          return { kind: 'ua', reason: 'user agent blacklisted' };
        }
      }
    }
    const from = req.from;
    const to = req.to;
    if (this.black.domain.values.length > 0) {
      for (const u of [ruri, from.uri, to.uri]) {
        if (!isSipUri(u)) continue;
        if (!matchDomain(this.white.domain.set, u.host) && matchDomain(this.black.domain.set, u.host)) {
          return { kind: 'domain', reason: 'domain blacklisted' };
        }
      }
    }
    const needUsers = this.black.user.values.length > 0 || this.sqlInjection;
    if (needUsers) {
      const users: string[] = [];
      pushUser(users, ruri);
      pushUser(users, from.uri);
      pushUser(users, to.uri);
      if (req.method === 'REGISTER' || req.method === 'INVITE') {
        if (!req.contactIsStar) for (const c of req.contacts) pushUser(users, c.uri);
      }
      for (const u of users) {
        if (this.black.user.set.has(u) && !this.white.user.set.has(u))
          return { kind: 'user', reason: 'user blacklisted' };
      }
      if (this.sqlInjection) {
        for (const u of users) if (suspiciousUser(u)) return { kind: 'sqli', reason: 'suspicious user part' };
        if (suspiciousName(from) || suspiciousName(to)) return { kind: 'sqli', reason: 'suspicious display name' };
      }
    }
    if (this.black.dest.values.length > 0) {
      const dialled = isSipUri(ruri) ? ruri.user : isTelUri(ruri) ? ruri.number : null;
      if (dialled !== null) {
        const v = this.checkDestination(dialled);
        if (v !== null) return v;
      }
    }
    return null;
  }

  /** A dialled number against the dest lists (longest match wins between white and black). */
  checkDestination(dialled: string): ListVerdict | null {
    const black = longestPrefix(this.black.dest.values, dialled);
    if (black === 0) return null;
    const white = longestPrefix(this.white.dest.values, dialled);
    return white >= black ? null : { kind: 'dest', reason: 'destination barred' };
  }
}

function pushUser(out: string[], u: Uri): void {
  if (isSipUri(u) && u.user !== null && u.user !== '') out.push(u.user);
}

function suspiciousName(n: NameAddr): boolean {
  return n.displayName !== null && n.displayName !== '' && suspiciousDisplayName(n.displayName);
}

/** The host or one of its parent domains is in the set. */
function matchDomain(set: ReadonlySet<string>, host: string): boolean {
  if (set.size === 0) return false;
  if (set.has(host)) return true;
  for (let i = host.indexOf('.'); i >= 0; i = host.indexOf('.', i + 1)) if (set.has(host.slice(i + 1))) return true;
  return false;
}

function longestPrefix(prefixes: readonly string[], s: string): number {
  let best = 0;
  for (const p of prefixes) if (p.length > best && s.startsWith(p)) best = p.length;
  return best;
}
