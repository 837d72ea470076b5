/**
 * One immutable, in-memory picture of the trunking data, built from the
 * store's rows: every lookup the B2BUA makes per request is a Map lookup or
 * a short scan, never a query.
 *
 * - Sources: the most specific match wins. A carrier gateway's address (IP
 *   literal as written, host name as resolved when the snapshot was built)
 *   is a whole address, a /32 or /128, so it is tried first: at equal
 *   length a carrier gateway wins over a trunk range, and no trunk range
 *   can take a carrier's calls. Then a trunk's CIDRs, most specific first
 *   (a /32 before a /24 before a /8; one Map lookup per distinct prefix
 *   length, see src/net/cidr-table.ts).
 * - DIDs and routes: Maps keyed by the number or prefix; a lookup tries the
 *   exact number, then its prefixes from the longest down (at most 16 Map
 *   lookups for an E.164 number), so the exact DID beats any prefix and the
 *   longest prefix wins.
 */
import { isIP } from 'node:net';
import { CidrTable } from '../net/cidr-table.js';
import { isSipUri, tryParseUri } from '../sip/uri.js';
import { EMERGENCY_ROUTE } from './model.js';
import type {
  Account,
  Carrier,
  DialPlan,
  Did,
  DidMatch,
  OutboundRoute,
  RouteMatch,
  SourceMatch,
  Trunk,
} from './model.js';

/** The rows a snapshot is built from. */
export interface TrunkingData {
  accounts: Account[];
  trunks: Trunk[];
  dids: Did[];
  carriers: Carrier[];
  routes: OutboundRoute[];
  dialPlans: DialPlan[];
}

/** Host name -> its addresses, resolved before the build (the build itself is synchronous). */
export type ResolvedHosts = ReadonlyMap<string, readonly string[]>;

/** The longest key a lookup tries: `+` and 15 digits. */
const MAX_NUMBER = 16;

const NO_MATCH: SourceMatch = { kind: 'none' };

/** Whether a trunk may send over `proto` (lowercase): its transport, or any when it has none. */
function allows(trunk: Trunk, proto: string): boolean {
  return trunk.transport === null || trunk.transport === proto;
}

/**
 * An address as the maps key it: IPv4 dotted (an IPv4-mapped IPv6 address
 * becomes its IPv4 form), IPv6 compressed and lowercased (RFC 5952, as the
 * WHATWG URL parser writes it), brackets dropped. '' when not an address.
 */
export function canonicalIp(ip: string): string {
  let a = ip;
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const family = isIP(a);
  if (family === 4) return a;
  if (family !== 6) return '';
  const lower = a.toLowerCase();
  if (lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4) return lower.slice(7);
  try {
    const host = new URL(`http://[${lower}]/`).hostname;
    const c = host.slice(1, -1);
    return c.startsWith('::ffff:') && !c.includes('.') ? (mappedV4(c) ?? c) : c;
  } catch {
    return lower; // isIP took it, so URL does too; were it not, the address as written is the best key
  }
}

/** `::ffff:7f00:1` (how URL writes a mapped address) -> `127.0.0.1`. */
function mappedV4(c: string): string | null {
  const m = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(c);
  if (m === null) return null;
  const hi = parseInt(m[1]!, 16);
  const lo = parseInt(m[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** The host of a gateway URI as written (IPv6 without brackets), or null when it does not parse. */
export function gatewayHost(uri: string): { host: string; literal: boolean } | null {
  const u = tryParseUri(uri);
  if (u === null || !isSipUri(u)) return null;
  if (u.hostType === 'domain') return { host: u.host, literal: false };
  return { host: canonicalIp(u.host), literal: true };
}

interface TrunkEntry {
  trunk: Trunk;
  account: Account;
}

/** A trunk range in the CIDR table: the trunk, and the CIDR as stored (for `explainSource`). */
interface RangeEntry {
  entry: TrunkEntry;
  cidr: string;
}

/** A carrier gateway address: the carrier and the gateway URI that gave it. */
interface GatewayEntry {
  carrier: Carrier;
  gateway: string;
}

/** The rule that classified a source (`route explain --from-ip`). */
export interface SourceRule {
  match: SourceMatch;
  /** The address as classified (IPv4-mapped IPv6 as IPv4), '' when not an address. */
  address: string;
  /** The trunk CIDR that matched (trunk, wrong-transport), as stored. */
  cidr?: string;
  /** The carrier gateway URI whose address it is (carrier). */
  gateway?: string;
  /** The rule in words. */
  rule: string;
}

export class TrunkingSnapshot {
  readonly accounts = new Map<string, Account>();
  readonly trunks = new Map<string, TrunkEntry>();
  readonly carriers = new Map<string, Carrier>();
  readonly dialPlans = new Map<string, DialPlan>();
  /** Every trunk CIDR: one Map lookup per distinct prefix length, most specific first. */
  readonly #cidrs = new CidrTable<RangeEntry>();
  readonly #byRegistration = new Map<string, TrunkEntry>();
  readonly #carrierByIp = new Map<string, GatewayEntry>();
  /** Carrier name -> the addresses its gateways had at build time. */
  readonly carrierAddresses = new Map<string, string[]>();
  readonly #exactDids = new Map<string, DidMatch>();
  readonly #prefixDids = new Map<string, DidMatch>();
  readonly #routes = new Map<string, RouteMatch>();
  readonly routes: OutboundRoute[];
  readonly dids: Did[];

  constructor(data: TrunkingData, resolved: ResolvedHosts = new Map()) {
    for (const a of data.accounts) this.accounts.set(a.name, a);
    for (const p of data.dialPlans) this.dialPlans.set(p.name, p);
    for (const t of data.trunks) {
      const account = this.accounts.get(t.account);
      if (account === undefined) continue; // removed meanwhile; the next reload settles it
      const entry = { trunk: t, account };
      this.trunks.set(t.name, entry);
      if (t.register !== null) this.#byRegistration.set(registrationKey(t.register), entry);
      for (const cidr of t.ip) this.#addCidr(cidr, entry);
    }
    // Among trunks claiming the same block, by name: the same answer on every load.
    this.#cidrs.sortEach((a, b) =>
      a.entry.trunk.name < b.entry.trunk.name ? -1 : a.entry.trunk.name > b.entry.trunk.name ? 1 : 0,
    );

    for (const row of data.carriers) {
      const c = guarded(row);
      this.carriers.set(c.name, c);
      const addresses: string[] = [];
      for (const g of c.gateways) {
        const h = gatewayHost(g);
        if (h === null) continue;
        for (const ip of h.literal ? [h.host] : (resolved.get(h.host) ?? []).map(canonicalIp)) {
          if (ip === '' || addresses.includes(ip)) continue;
          addresses.push(ip);
          // The first carrier (by name) to claim an address keeps it.
          if (!this.#carrierByIp.has(ip)) this.#carrierByIp.set(ip, { carrier: c, gateway: g });
        }
      }
      this.carrierAddresses.set(c.name, addresses);
    }

    this.dids = [];
    for (const d of data.dids) {
      const entry = this.trunks.get(d.trunk);
      if (entry === undefined) continue;
      this.dids.push(d);
      const match: DidMatch = { did: d, trunk: entry.trunk, account: entry.account };
      if (d.number.endsWith('*')) this.#prefixDids.set(d.number.slice(0, -1), match);
      else this.#exactDids.set(d.number, match);
    }

    this.routes = data.routes;
    for (const r of data.routes) {
      const carriers: Carrier[] = [];
      const weights: number[] = [];
      r.carriers.forEach((n, i) => {
        const c = this.carriers.get(n);
        if (c === undefined) return;
        carriers.push(c);
        weights.push(r.weights?.[i] ?? 1);
      });
      this.#routes.set(r.prefix, {
        prefix: r.prefix,
        mode: r.mode,
        carriers,
        weights: r.mode === 'weighted' ? weights : null,
      });
    }
  }

  #addCidr(cidr: string, entry: TrunkEntry): void {
    const slash = cidr.indexOf('/');
    const ip = canonicalIp(slash < 0 ? cidr : cidr.slice(0, slash));
    if (ip !== '') this.#cidrs.add(slash < 0 ? ip : `${ip}${cidr.slice(slash)}`, { entry, cidr });
  }

  /**
   * The most specific match wins: the carrier with a gateway at this very
   * address (a whole address: at equal length a carrier gateway comes
   * before a trunk range), else the trunk of the most specific CIDR holding
   * it (then by name) that may use `proto`, else the trunk the address
   * belongs to but whose transport is another (wrong-transport), else none.
   */
  classifySource(ip: string, proto: string): SourceMatch {
    const addr = canonicalIp(ip);
    if (addr === '') return NO_MATCH;
    const gw = this.#carrierByIp.get(addr);
    if (gw !== undefined) return { kind: 'carrier', carrier: gw.carrier };
    const p = proto.toLowerCase();
    const r = this.#range(addr, p);
    if (r === undefined) return NO_MATCH;
    const { trunk, account } = r.entry;
    return allows(trunk, p) ? { kind: 'trunk', trunk, account } : { kind: 'wrong-transport', trunk, account };
  }

  /** classifySource, with the rule that decided (`route explain --from-ip`; not the hot path). */
  explainSource(ip: string, proto: string): SourceRule {
    const match = this.classifySource(ip, proto);
    const addr = canonicalIp(ip);
    const p = proto.toLowerCase();
    if (match.kind === 'carrier') {
      const gw = this.#carrierByIp.get(addr)!;
      return {
        match,
        address: addr,
        gateway: gw.gateway,
        rule: `carrier ${gw.carrier.name}: ${addr} is the address of its gateway ${gw.gateway} (a carrier gateway comes before any trunk range)`,
      };
    }
    if (match.kind === 'none') {
      return {
        match,
        address: addr,
        rule:
          addr === ''
            ? `${JSON.stringify(ip)} is not an IP address`
            : `no carrier gateway and no trunk range holds ${addr} (403 Forbidden: unknown source)`,
      };
    }
    const cidr = this.#range(addr, p)!.cidr;
    if (match.kind === 'trunk') {
      return {
        match,
        address: addr,
        cidr,
        rule: `trunk ${match.trunk.name}: ${cidr} is the most specific trunk range holding ${addr} that allows ${p}; no carrier gateway has this address`,
      };
    }
    return {
      match,
      address: addr,
      cidr,
      rule: `trunk ${match.trunk.name}: ${cidr} holds ${addr}, but the trunk allows ${match.trunk.transport} only, not ${p} (403 Transport not allowed)`,
    };
  }

  /** The most specific trunk range holding `addr` whose trunk allows `p`, else the most specific one holding it at all. */
  #range(addr: string, p: string): RangeEntry | undefined {
    let refused: RangeEntry | undefined;
    let allowed: RangeEntry | undefined;
    this.#cidrs.find(addr, (r) => {
      if (allows(r.entry.trunk, p)) {
        allowed = r;
        return true;
      }
      refused ??= r;
      return false;
    });
    return allowed ?? refused;
  }

  trunkByRegistration(aor: string): TrunkEntry | null {
    return this.#byRegistration.get(registrationKey(aor)) ?? null;
  }

  did(number: string): DidMatch | null {
    if (typeof number !== 'string' || number === '') return null;
    const exact = this.#exactDids.get(number);
    if (exact !== undefined) return exact;
    if (this.#prefixDids.size === 0) return null;
    for (let i = Math.min(number.length, MAX_NUMBER); i >= 1; i--) {
      const m = this.#prefixDids.get(number.slice(0, i));
      if (m !== undefined) return m;
    }
    return null;
  }

  carriersFor(number: string): Carrier[] {
    return this.route(number)?.carriers ?? [];
  }

  /** The route of the longest prefix of `number`, or null. */
  route(number: string): RouteMatch | null {
    if (typeof number !== 'string' || !number.startsWith('+')) return null;
    for (let i = Math.min(number.length, MAX_NUMBER); i >= 1; i--) {
      const r = this.#routes.get(number.slice(0, i));
      if (r !== undefined) return r;
    }
    return null;
  }

  /** The `emergency` route, else the default route `+` (an emergency call is never lost for want of its own route). */
  emergencyRoute(): RouteMatch | null {
    return this.#routes.get(EMERGENCY_ROUTE) ?? this.#routes.get('+') ?? null;
  }

  dialPlan(name: string): DialPlan | null {
    return this.dialPlans.get(name) ?? null;
  }

  /** The route prefix `carriersFor(number)` used, or null. */
  routeFor(number: string): string | null {
    if (typeof number !== 'string' || !number.startsWith('+')) return null;
    for (let i = Math.min(number.length, MAX_NUMBER); i >= 1; i--) {
      if (this.#routes.has(number.slice(0, i))) return number.slice(0, i);
    }
    return null;
  }
}

/**
 * A copy of the carrier whose JSON form (JSON.stringify, pino) shows `***`
 * for the password: a log line that includes a carrier never leaks it. The
 * field itself is there for digest answers. (toJSON is not enumerable, so a
 * spread copy loses the guard but never the password.)
 */
function guarded(c: Carrier): Carrier {
  const copy: Carrier = { ...c };
  Object.defineProperty(copy, 'toJSON', {
    enumerable: false,
    value: () => ({ ...copy, password: copy.password === null ? null : '***' }),
  });
  return copy;
}

/** `user@domain` with the domain lowercased and any `sip:`/`sips:` dropped. */
function registrationKey(aor: string): string {
  let a = aor.trim();
  const lower = a.slice(0, 5).toLowerCase();
  if (lower.startsWith('sips:')) a = a.slice(5);
  else if (lower.startsWith('sip:')) a = a.slice(4);
  const at = a.lastIndexOf('@');
  return at < 0 ? a : `${a.slice(0, at)}@${a.slice(at + 1).toLowerCase()}`;
}
