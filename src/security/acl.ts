/**
 * Step 7: IP/CIDR access lists: who may send what. An entry belongs to a
 * named group (a label for the operator: `carriers`, `pbx-acme`), allows or
 * denies one CIDR block, for one method or all (`*`), in one direction or
 * any. Directions are the trunking stage's: `inbound` (from a carrier to a
 * customer: PSTN calls coming in), `outbound` (from a trunk to the PSTN).
 *
 * Decision for (source IP, method, direction), over the entries that apply
 * to that method and direction (an entry with direction `any` always does;
 * a directional one only when the direction is known):
 *  1. a deny entry containing the source: 403;
 *  2. else, if some allow entry applies: the source must be in one (an
 *     allow list), else 403;
 *  3. else pass.
 * So `acl add carriers --allow 198.51.100.0/24 --method INVITE --direction
 * inbound` means "only carrier gateways may send inbound calls".
 *
 * The pipeline runs it before routing with the direction unknown; the
 * trunking stage calls `decide()` again with the direction it classified.
 */
import { AddressSet } from '../net/cidr.js';

export type AclAction = 'allow' | 'deny';
export type AclDirection = 'any' | 'inbound' | 'outbound';
export const ACL_DIRECTIONS: readonly AclDirection[] = ['any', 'inbound', 'outbound'];

export interface AclEntry {
  id?: number;
  group: string;
  action: AclAction;
  cidr: string;
  /** Uppercase method, or `*`. */
  method: string;
  direction: AclDirection;
}

export interface AclVerdict {
  allowed: boolean;
  /** The entry that decided (deny), or null (no allow entry matched / nothing applied). */
  entry: AclEntry | null;
  reason: string;
}

interface Compiled {
  deny: AddressSet;
  allow: AddressSet;
  denyEntries: AclEntry[];
  hasAllow: boolean;
  /**
   * Verdicts by source IP: BlockList.check() (AddressSet.has) of a string builds a
   * SocketAddress each time, the largest cost of this step; a source sends
   * many requests. Bounded (cleared when full).
   */
  seen: Map<string, AclVerdict>;
}

const MAX_SEEN = 4096;

/** The entries compiled per (method, direction) into address sets, built lazily and kept. */
export class AccessList {
  private readonly cache = new Map<string, Compiled | null>();
  readonly size: number;

  constructor(private readonly entries: readonly AclEntry[]) {
    this.size = entries.length;
  }

  decide(ip: string, method: string, direction: AclDirection | null = null): AclVerdict {
    if (this.size === 0) return PASS;
    const key = `${method}|${direction ?? ''}`;
    let c = this.cache.get(key);
    if (c === undefined) {
      c = this.compile(method, direction);
      if (this.cache.size > 1000) this.cache.clear(); // unknown methods cannot grow it without bound
      this.cache.set(key, c);
    }
    if (c === null) return PASS;
    let v = c.seen.get(ip);
    if (v === undefined) {
      v = judge(c, ip);
      if (c.seen.size >= MAX_SEEN) c.seen.clear();
      c.seen.set(ip, v);
    }
    return v;
  }

  private compile(method: string, direction: AclDirection | null): Compiled | null {
    const applies = this.entries.filter(
      (e) => (e.method === '*' || e.method === method) && (e.direction === 'any' || e.direction === direction),
    );
    if (applies.length === 0) return null;
    const c: Compiled = {
      deny: new AddressSet(),
      allow: new AddressSet(),
      denyEntries: [],
      hasAllow: false,
      seen: new Map(),
    };
    for (const e of applies) {
      if (e.action === 'deny') {
        c.deny.add(e.cidr);
        c.denyEntries.push(e);
      } else {
        c.allow.add(e.cidr);
        c.hasAllow = true;
      }
    }
    return c;
  }
}

const PASS: AclVerdict = { allowed: true, entry: null, reason: '' };

function judge(c: Compiled, ip: string): AclVerdict {
  if (c.denyEntries.length > 0 && c.deny.has(ip)) {
    const entry = c.denyEntries.find((e) => new AddressSet([e.cidr]).has(ip)) ?? null;
    return { allowed: false, entry, reason: `denied by acl ${entry?.group ?? ''}`.trim() };
  }
  if (c.hasAllow && !c.allow.has(ip)) return { allowed: false, entry: null, reason: 'not in an allowed address group' };
  return PASS;
}
