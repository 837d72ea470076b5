/**
 * Which of our listeners a message toward a destination leaves from, on a
 * server with listeners on more than one network (an SBC: a public side for
 * carriers and customers, a private side for the core). The transport sends
 * from that listener's socket (UDP) or address (TCP/TLS/WS/WSS connections
 * we open), and the proxy and B2BUA write its address in Via, Record-Route
 * and Contact, so both must come to the same answer: both use this rule, on
 * the same listener list and the same KernelSources.
 *
 * The rule, among the listeners of the transport of the destination's
 * address family (every listener of the transport when none is):
 *   1. a listener whose configured `networks` hold the destination;
 *   2. the listener whose address is the kernel's source address toward the
 *      destination (learnt with a connected UDP socket, which sends nothing);
 *      not asked for a loopback destination, where every address is ours and
 *      the kernel always answers 127.0.0.1 / ::1;
 *   3. the listener sharing the longest address prefix with the destination,
 *      at least /24 for IPv4 or /64 for IPv6 (the same subnet);
 *   4. the same with the kernel's source address (another address of the
 *      network interface the kernel sends on);
 *   5. the first listener of the transport.
 * Wildcard listeners (0.0.0.0, ::) only ever match steps 1 and 5.
 */
import * as dgram from 'node:dgram';
import { AddressSet } from '../net/cidr.js';
import { ipFamily, isWildcard, normalizeHost } from './addr.js';
import type { TransportProto } from './types.js';

export interface ListenerCandidate {
  readonly proto: TransportProto;
  /** IP literal without brackets. */
  readonly host: string;
  /** Destinations (IP or CIDR) that leave from this listener whatever the kernel says. */
  readonly networks?: readonly string[] | undefined;
}

/** The kernel's source address toward a destination: an address, null (no route), undefined (not known yet). */
export interface SourceAddresses {
  sourceFor(dest: string): string | null | undefined;
  /** Learns (or refreshes) the source toward `dest`; null when what is known is fresh. */
  learn(dest: string): Promise<void> | null;
}

/** Shortest common prefix that counts as "the same subnet". */
const SUBNET_BITS: Record<4 | 6, number> = { 4: 24, 6: 64 };

interface Entry {
  proto: TransportProto;
  family: 0 | 4 | 6;
  /** Whether the address is a real one (not a wildcard): only those match the kernel or a subnet. */
  specific: boolean;
  /** IPv4 address as a number; -1 for IPv6 or a wildcard. */
  v4: number;
  /** IPv6 address as 8 groups of 16 bits; null for IPv4 or a wildcard. */
  v6: Uint16Array | null;
  host: string;
  networks: AddressSet | null;
}

export class ListenerChoice {
  private readonly entries: Entry[];
  /** Some family has listeners on more than one address: only then is the kernel asked. */
  readonly multihomed: boolean;

  constructor(
    listeners: readonly ListenerCandidate[],
    private readonly sources: SourceAddresses | null,
  ) {
    this.entries = listeners.map((l) => {
      const host = normalizeHost(l.host);
      const family = ipFamily(host);
      const specific = !isWildcard(host) && family !== 0;
      return {
        proto: l.proto,
        family,
        specific,
        v4: specific && family === 4 ? (ipv4Value(host) ?? -1) : -1,
        v6: specific && family === 6 ? ipv6Groups(host) : null,
        host,
        networks: l.networks !== undefined && l.networks.length > 0 ? new AddressSet(l.networks) : null,
      };
    });
    const hosts: Record<number, Set<string>> = { 4: new Set(), 6: new Set() };
    for (const e of this.entries) if (e.specific) hosts[e.family]!.add(e.host);
    this.multihomed = hosts[4]!.size > 1 || hosts[6]!.size > 1;
  }

  /**
   * The index of the listener for `proto` toward `dest` (an IP literal
   * without brackets), -1 when none listens on `proto`. Synchronous: the
   * kernel's answer is used when known; when not, it is learnt for the next
   * time (call prepare() first to have it now).
   */
  choose(proto: TransportProto, dest: string): number {
    const family = ipFamily(dest);
    let first = -1;
    let firstOfFamily = -1;
    let count = 0;
    for (let i = 0; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (e.proto !== proto) continue;
      if (first < 0) first = i;
      if (e.family === family) {
        if (firstOfFamily < 0) firstOfFamily = i;
        count++;
      }
    }
    // One listener of the family (the common case) or a host name: nothing to weigh.
    if (count <= 1 || family === 0) return firstOfFamily >= 0 ? firstOfFamily : first;
    return this.weigh(proto, dest, family, firstOfFamily);
  }

  /** Learns the kernel's source toward each destination that needs it; null when none does. */
  prepare(dests: Iterable<string>): Promise<void> | null {
    if (!this.multihomed || this.sources === null) return null;
    let waits: Array<Promise<void>> | null = null;
    for (const d of dests) {
      if (!this.asksKernel(d)) continue;
      const p = this.sources.learn(d);
      if (p !== null) (waits ??= []).push(p);
    }
    if (waits === null) return null;
    return waits.length === 1 ? waits[0]! : Promise.all(waits).then(() => undefined);
  }

  private asksKernel(dest: string): boolean {
    const family = ipFamily(dest);
    return family !== 0 && !isLoopback(dest, family);
  }

  private weigh(proto: TransportProto, dest: string, family: 4 | 6, fallback: number): number {
    // 1. A configured binding.
    for (let i = 0; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (e.proto === proto && e.family === family && e.networks !== null && e.networks.has(dest)) return i;
    }
    // 2. The kernel's source address.
    let source: string | null | undefined = null;
    if (this.sources !== null && !isLoopback(dest, family)) {
      source = this.sources.sourceFor(dest);
      // Not known (or stale): learnt in the background for the next message.
      this.sources.learn(dest)?.catch(() => undefined);
      if (source !== undefined && source !== null) {
        for (let i = 0; i < this.entries.length; i++) {
          const e = this.entries[i]!;
          if (e.proto === proto && e.family === family && e.specific && e.host === source) return i;
        }
      }
    }
    // 3. The same subnet as the destination; 4. as the kernel's source.
    const byDest = this.longestPrefix(proto, family, dest);
    if (byDest >= 0) return byDest;
    if (typeof source === 'string' && ipFamily(source) === family) {
      const bySource = this.longestPrefix(proto, family, source);
      if (bySource >= 0) return bySource;
    }
    // 5. The first of the transport.
    return fallback;
  }

  /** The listener sharing the longest prefix (at least the subnet's) with `ip`, -1 when none does. IPv4 allocates nothing. */
  private longestPrefix(proto: TransportProto, family: 4 | 6, ip: string): number {
    const v4 = family === 4 ? ipv4Value(ip) : null;
    const v6 = family === 6 ? ipv6Groups(ip) : null;
    if (v4 === null && v6 === null) return -1;
    let best = -1;
    let bestBits = SUBNET_BITS[family] - 1;
    for (let i = 0; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (e.proto !== proto || e.family !== family || !e.specific) continue;
      const n = v4 !== null ? (e.v4 === v4 ? 32 : Math.clz32((e.v4 ^ v4) >>> 0)) : commonPrefix(e.v6!, v6!);
      if (n > bestBits) {
        best = i;
        bestBits = n;
      }
    }
    return best;
  }
}

/** 127.0.0.0/8 and ::1. */
function isLoopback(ip: string, family: 4 | 6): boolean {
  return family === 4 ? ip.startsWith('127.') : ip === '::1';
}

/** Bits two addresses of one family have in common from the start. */
export function commonPrefix(a: Uint16Array, b: Uint16Array): number {
  let n = 0;
  for (let i = 0; i < a.length && i < b.length; i++) {
    const x = a[i]! ^ b[i]!;
    if (x === 0) {
      n += 16;
      continue;
    }
    return n + Math.clz32(x) - 16;
  }
  return n;
}

/** An IP literal as 16-bit groups (IPv4: 2, IPv6: 8); null when it does not parse. */
export function addressBits(ip: string, family: 4 | 6): Uint16Array | null {
  if (family === 4) {
    const v = ipv4Value(ip);
    return v === null ? null : Uint16Array.of(v >>> 16, v & 0xffff);
  }
  return ipv6Groups(ip);
}

/** Dotted IPv4 as an unsigned number; null when it is not four decimal octets. No allocation (runs per message). */
function ipv4Value(ip: string): number | null {
  let v = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return null;
      v = v * 256 + octet;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return null;
    } else return null;
  }
  if (dots !== 3 || digits === 0) return null;
  return v * 256 + octet;
}

function ipv6Groups(ip: string): Uint16Array | null {
  let text = ip;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const out = new Uint16Array(8);
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (s: string): number[] | null => {
    if (s === '') return [];
    const groups: number[] = [];
    const items = s.split(':');
    for (let i = 0; i < items.length; i++) {
      const g = items[i]!;
      if (i === items.length - 1 && g.includes('.')) {
        const v = ipv4Value(g);
        if (v === null) return null;
        groups.push(v >>> 16, v & 0xffff);
      } else {
        const v = hexGroup(g);
        if (v < 0) return null;
        groups.push(v);
      }
    }
    return groups;
  };
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  if (head === null || tail === null) return null;
  if (halves.length === 1 ? head.length !== 8 : head.length + tail.length > 7) return null;
  out.set(head, 0);
  out.set(tail, 8 - tail.length);
  return out;
}

/** 1-4 hex digits as a number; -1 when it is not that. */
function hexGroup(g: string): number {
  if (g.length < 1 || g.length > 4) return -1;
  let v = 0;
  for (let i = 0; i < g.length; i++) {
    const c = g.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/**
 * The kernel's source address toward destinations, learnt with a connected
 * UDP socket (connect() picks the route and the source address and sends
 * nothing), cached per destination for `ttlMs` (then refreshed while the old
 * answer still serves) and at most `max` destinations (the oldest go first).
 */
export class KernelSources implements SourceAddresses {
  private readonly known = new Map<string, { source: string | null; at: number }>();
  private readonly pending = new Map<string, Promise<void>>();

  constructor(
    private readonly ttlMs = 60_000,
    private readonly max = 10_000,
  ) {}

  sourceFor(dest: string): string | null | undefined {
    return this.known.get(dest)?.source;
  }

  learn(dest: string): Promise<void> | null {
    const k = this.known.get(dest);
    if (k !== undefined && Date.now() - k.at < this.ttlMs) return null;
    let p = this.pending.get(dest);
    if (p === undefined) {
      p = kernelSource(dest).then((source) => {
        this.pending.delete(dest);
        this.known.delete(dest);
        if (this.known.size >= this.max) this.known.delete(this.known.keys().next().value!);
        this.known.set(dest, { source, at: Date.now() });
      });
      this.pending.set(dest, p);
    }
    return p;
  }
}

/** The source address the kernel would use toward `dest`; null when it has no route (or `dest` is no IP). */
export function kernelSource(dest: string): Promise<string | null> {
  const family = ipFamily(dest);
  if (family === 0) return Promise.resolve(null);
  return new Promise((resolve) => {
    const sock = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    const done = (source: string | null): void => {
      try {
        sock.close();
      } catch {
        /* already closed */
      }
      resolve(source);
    };
    sock.on('error', () => done(null));
    try {
      // Port 9 (discard): any port does, nothing is sent.
      sock.connect(9, dest, (err?: Error) => {
        if (err) return done(null);
        try {
          done(sock.address().address);
        } catch {
          done(null); // closed meanwhile: no answer, the caller falls back
        }
      });
    } catch {
      done(null); // a destination connect() refuses synchronously: no route known
    }
  });
}
