/**
 * Load over a carrier's gateways (`routing.carriers`): priority groups
 * (lower first), and inside a group the first gateway of a call chosen by
 * weight, by smooth weighted round-robin (the proportions hold exactly over
 * any run of calls: 3:1 gives 3 of every 4) or by a hash of the Call-ID
 * (a call's retransmissions and its re-tries land on the same gateway);
 * the others of the group follow by weight, for failover. And a capacity:
 * concurrent calls per carrier and per gateway, a call over it overflowing
 * to the next gateway (src/b2bua/callee-search.ts takes a place per attempt).
 *
 * A carrier without an entry keeps its gateways' list order; gateways an
 * entry does not list come after those it lists, in list order.
 */
export type Balance = 'weighted' | 'hash';

export interface GatewaySetting {
  uri: string;
  /** Lower first. */
  priority: number;
  weight: number;
  /** Concurrent calls; null = no limit. */
  maxCalls: number | null;
}

export interface CarrierSetting {
  carrier: string;
  maxCalls: number | null;
  balance: Balance;
  gateways: GatewaySetting[];
}

interface Group {
  members: GatewaySetting[];
  /** Smooth weighted round-robin: each member's current weight. */
  current: number[];
}

/** FNV-1a, 32 bits. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export class GatewayLoad {
  private settings = new Map<string, CarrierSetting>();
  /** Per carrier, its priority groups (lowest first), rebuilt when the settings or the gateways change. */
  private groups = new Map<string, { key: string; groups: Group[] }>();
  private readonly live = new Map<string, number>();

  constructor(settings: readonly CarrierSetting[] = []) {
    this.update(settings);
  }

  /** New settings (a config reload); the calls up keep their places. */
  update(settings: readonly CarrierSetting[]): void {
    this.settings = new Map(settings.map((s) => [s.carrier, s]));
    this.groups.clear();
  }

  /** The carrier's gateways in the order this call tries them. */
  order(carrier: string, gateways: readonly string[], callId: string): string[] {
    const s = this.settings.get(carrier);
    if (s === undefined || s.gateways.length === 0) return [...gateways];
    const out: string[] = [];
    for (const g of this.groupsOf(s, gateways)) out.push(...this.pick(s.balance, g, callId));
    for (const gw of gateways) if (!out.includes(gw)) out.push(gw);
    return out;
  }

  /** A place for one call on the carrier's gateway; null when the carrier or the gateway is full. The release is idempotent. */
  tryAcquire(carrier: string, gateway: string): (() => void) | null {
    const s = this.settings.get(carrier);
    const gwMax = s?.gateways.find((g) => g.uri === gateway)?.maxCalls ?? null;
    const keys = [carrier, `${carrier}\n${gateway}`];
    if (s?.maxCalls != null && this.count(keys[0]!) >= s.maxCalls) return null;
    if (gwMax !== null && this.count(keys[1]!) >= gwMax) return null;
    for (const k of keys) this.live.set(k, this.count(k) + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      for (const k of keys) {
        const n = this.count(k) - 1;
        if (n <= 0) this.live.delete(k);
        else this.live.set(k, n);
      }
    };
  }

  /** The settings in force (route explain shows them). */
  list(): CarrierSetting[] {
    return [...this.settings.values()];
  }

  /** Calls holding a place on the carrier (or on one of its gateways) now. */
  calls(carrier: string, gateway?: string): number {
    return this.count(gateway === undefined ? carrier : `${carrier}\n${gateway}`);
  }

  private count(key: string): number {
    return this.live.get(key) ?? 0;
  }

  private groupsOf(s: CarrierSetting, gateways: readonly string[]): Group[] {
    const key = gateways.join('\n');
    const cached = this.groups.get(s.carrier);
    if (cached !== undefined && cached.key === key) return cached.groups;
    const listed = s.gateways.filter((g) => gateways.includes(g.uri));
    const priorities = [...new Set(listed.map((g) => g.priority))].sort((a, b) => a - b);
    const groups = priorities.map((p) => {
      const members = listed.filter((g) => g.priority === p);
      return { members, current: members.map(() => 0) };
    });
    this.groups.set(s.carrier, { key, groups });
    return groups;
  }

  /** The group's gateways for one call: the one chosen first, then the others by weight (ties in list order). */
  private pick(balance: Balance, g: Group, callId: string): string[] {
    const total = g.members.reduce((n, m) => n + m.weight, 0);
    let first = 0;
    if (balance === 'hash') {
      let x = fnv1a(callId) % total;
      while (x >= g.members[first]!.weight) x -= g.members[first++]!.weight;
    } else {
      // Smooth weighted round-robin: every member gains its weight, the highest goes first and pays the total.
      g.members.forEach((m, i) => (g.current[i]! += m.weight));
      for (let i = 1; i < g.members.length; i++) if (g.current[i]! > g.current[first]!) first = i;
      g.current[first]! -= total;
    }
    const rest = g.members.filter((_, i) => i !== first).sort((a, b) => b.weight - a.weight);
    return [g.members[first]!.uri, ...rest.map((m) => m.uri)];
  }
}

/** A carrier's gateway settings as route explain shows them: priority groups in order, by weight, then those not listed. */
export interface GatewayLoadOut {
  balance: Balance;
  maxCalls: number | null;
  gateways: Array<{ uri: string; priority: number | null; weight: number | null; maxCalls: number | null }>;
}

export function gatewayLoadOut(s: CarrierSetting | undefined, gateways: readonly string[]): GatewayLoadOut | null {
  if (s === undefined) return null;
  const listed = s.gateways
    .filter((g) => gateways.includes(g.uri))
    .sort((a, b) => a.priority - b.priority || b.weight - a.weight);
  const rest = gateways.filter((g) => !listed.some((l) => l.uri === g));
  return {
    balance: s.balance,
    maxCalls: s.maxCalls,
    gateways: [
      ...listed.map((g) => ({ uri: g.uri, priority: g.priority, weight: g.weight, maxCalls: g.maxCalls })),
      ...rest.map((uri) => ({ uri, priority: null, weight: null, maxCalls: null })),
    ],
  };
}
