/**
 * Table of open stream connections (TCP, TLS, WS, WSS), accepted and outgoing.
 *
 * Indexed by id and by `proto|remoteHost|remotePort`, so that responses and
 * later requests to a peer reuse the connection it opened (RFC 3261 18.2.2,
 * RFC 5923 aliases). Enforces a per-IP cap on accepted connections and a total
 * cap. Idle detection is a periodic sweep over the table (one timer for the
 * whole table, none per connection, and none while the table is empty:
 * onOccupied tells when the first connection comes and the last goes).
 */
import { normalizeHost } from './addr.js';
import type { ConnectionState, StreamProto } from './types.js';

export interface TableEntry {
  readonly id: number;
  readonly proto: StreamProto;
  readonly direction: 'inbound' | 'outbound';
  state: ConnectionState;
  localHost: string;
  localPort: number;
  readonly remoteHost: string;
  readonly remotePort: number;
  readonly createdAt: number;
  lastActivity: number;
  /** When state became 'closing' (ms since epoch). */
  closingSince: number;
  /** Index keys of this entry: the remote address first (set by add()), then aliases. */
  readonly keys: string[];
}

export interface SweepLimits {
  idleTimeoutMs: number;
  handshakeTimeoutMs: number;
  /** How long a gracefully closing connection may linger before it is destroyed. */
  closeGraceMs: number;
}

export type SweepVerdict = 'idle' | 'handshake-timeout' | 'close-timeout';

export function connectionKey(proto: StreamProto, host: string, port: number): string {
  return `${proto}|${normalizeHost(host)}|${port}`;
}

export class ConnectionTable<E extends TableEntry> {
  private nextId = 1;
  private readonly byId = new Map<number, E>();
  private readonly byKey = new Map<string, Set<number>>();
  private readonly inboundPerIp = new Map<string, number>();
  private occupiedCb: ((occupied: boolean) => void) | null = null;

  constructor(private readonly caps: { maxConnections: number; maxConnectionsPerIp: number }) {}

  /** `fn(true)` when the first connection enters, `fn(false)` when the last leaves. */
  onOccupied(fn: (occupied: boolean) => void): void {
    this.occupiedCb = fn;
  }

  get size(): number {
    return this.byId.size;
  }

  allocateId(): number {
    return this.nextId++;
  }

  /** Why a new connection from this IP (or an outgoing one when ip is null) cannot be taken, or null. */
  refusal(ip: string | null): string | null {
    if (this.byId.size >= this.caps.maxConnections) return `connection limit ${this.caps.maxConnections} reached`;
    if (ip !== null && (this.inboundPerIp.get(normalizeHost(ip)) ?? 0) >= this.caps.maxConnectionsPerIp) {
      return `per-IP connection limit ${this.caps.maxConnectionsPerIp} reached`;
    }
    return null;
  }

  /** Enter a connection; its remote address becomes its first index key. */
  add(entry: E): void {
    const key = connectionKey(entry.proto, entry.remoteHost, entry.remotePort);
    if (entry.keys[0] !== key) entry.keys.unshift(key);
    const had = this.byId.has(entry.id);
    this.byId.set(entry.id, entry);
    this.index(entry, key);
    if (!had && this.byId.size === 1) this.occupiedCb?.(true);
    if (entry.direction === 'inbound') {
      const ip = normalizeHost(entry.remoteHost);
      this.inboundPerIp.set(ip, (this.inboundPerIp.get(ip) ?? 0) + 1);
    }
  }

  /** Idempotent. Returns the entry if it was present. */
  remove(id: number): E | undefined {
    const entry = this.byId.get(id);
    if (!entry) return undefined;
    this.byId.delete(id);
    for (const key of entry.keys) {
      const set = this.byKey.get(key);
      if (!set) continue;
      set.delete(id);
      if (set.size === 0) this.byKey.delete(key);
    }
    if (entry.direction === 'inbound') {
      const ip = normalizeHost(entry.remoteHost);
      const n = (this.inboundPerIp.get(ip) ?? 1) - 1;
      if (n <= 0) this.inboundPerIp.delete(ip);
      else this.inboundPerIp.set(ip, n);
    }
    if (this.byId.size === 0) this.occupiedCb?.(false);
    return entry;
  }

  get(id: number): E | undefined {
    return this.byId.get(id);
  }

  /** Most recent open connection to proto|host|port (remote address or alias). */
  lookup(proto: StreamProto, host: string, port: number): E | undefined {
    const set = this.byKey.get(connectionKey(proto, host, port));
    if (!set) return undefined;
    let best: E | undefined;
    for (const id of set) {
      const e = this.byId.get(id);
      if (e && e.state === 'open' && (!best || e.id > best.id)) best = e;
    }
    return best;
  }

  /** Add an alias (RFC 5923) for a connection. Returns false if the id is unknown. */
  addAlias(id: number, host: string, port: number): boolean {
    const entry = this.byId.get(id);
    if (!entry) return false;
    const key = connectionKey(entry.proto, host, port);
    if (entry.keys.includes(key)) return true;
    entry.keys.push(key);
    this.index(entry, key);
    return true;
  }

  values(): IterableIterator<E> {
    return this.byId.values();
  }

  /** Entries that should be closed now, with the reason. Does not modify the table. */
  sweep(now: number, limits: SweepLimits): Array<[E, SweepVerdict]> {
    const out: Array<[E, SweepVerdict]> = [];
    for (const e of this.byId.values()) {
      if (e.state === 'closing') {
        if (now - e.closingSince >= limits.closeGraceMs) out.push([e, 'close-timeout']);
      } else if (e.state === 'handshaking') {
        if (now - e.createdAt >= limits.handshakeTimeoutMs) out.push([e, 'handshake-timeout']);
      } else if (now - e.lastActivity >= limits.idleTimeoutMs) {
        out.push([e, 'idle']);
      }
    }
    return out;
  }

  private index(entry: E, key: string): void {
    let set = this.byKey.get(key);
    if (!set) this.byKey.set(key, (set = new Set()));
    set.add(entry.id);
  }
}
