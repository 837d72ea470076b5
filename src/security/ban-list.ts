/**
 * Step 1: the ban list, in memory, consulted before a message is parsed.
 *
 * `isBanned(ip)` is one Map lookup (the transport already gives the source
 * as a normalised literal), plus a clock read only for a banned address: a
 * banned packet costs that and a counter, never a parse and never an answer.
 *
 * Bans come from three places: the server's own steps (flood, brute force),
 * which are enforced at once and then written to the store so that
 * `trunkline ban list` shows them; and the store (`trunkline ban add/rm`),
 * reconciled by `replaceFromStore()` whenever the store's change counter
 * moves. In a cluster, bans other nodes made come by the bus too
 * (`adopt()`, `liftAdopted()`: cluster-bans.ts), before the store shows
 * them. A ban that ends by time or is lifted by hand is logged, once.
 *
 * "A ban never locks out a configured carrier": an address for which
 * `isTrusted` holds is never enforced (the ban is kept, shown, and logged as
 * not enforced). The predicate is asked when a ban is added, not per packet.
 */
import { isIP } from 'node:net';
import { normalizeIp } from '../auth/ip.js';

export type BanSource = 'manual' | 'flood' | 'brute-force' | 'store';

export interface Ban {
  ip: string;
  reason: string;
  /** Milliseconds since the epoch; null = until lifted by hand. */
  expiresAt: number | null;
  createdAt: number;
}

interface Entry extends Ban {
  /** Seen in (or written to) the store: its disappearance from the store means it was lifted by hand. */
  persisted: boolean;
  /** When it was known to be in the store (clock ms), -1 when not yet. */
  persistedAt: number;
  /** Trusted address: listed, not enforced. */
  exempt: boolean;
}

export interface BanLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface BanListOptions {
  isTrusted?: (ip: string) => boolean;
  now?: () => number;
  log?: BanLog;
  /** Most bans kept in memory (the oldest automatic one goes first); default 100 000. */
  maxBans?: number;
}

export class BanList {
  private readonly bans = new Map<string, Entry>();
  private isTrusted: (ip: string) => boolean;
  private readonly now: () => number;
  private readonly log: BanLog | null;
  private readonly maxBans: number;
  /** Packets dropped because of a ban. */
  dropped = 0;

  constructor(opts: BanListOptions = {}) {
    this.isTrusted = opts.isTrusted ?? (() => false);
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? null;
    this.maxBans = opts.maxBans ?? 100_000;
  }

  /** The hot-path check (a normalised IP literal, as the transport gives it). */
  isBanned(ip: string): boolean {
    const e = this.bans.get(ip);
    if (e === undefined || e.exempt) return false;
    if (e.expiresAt !== null && e.expiresAt <= this.now()) {
      this.lift(e, 'expired');
      return false;
    }
    this.dropped++;
    return true;
  }

  /** The ban enforced on `ip` now (not ended, not of a trusted address), for gates off the packet path (the API); counts nothing. */
  enforced(ip: string): Ban | undefined {
    const e = this.bans.get(normalizeIp(ip));
    if (e === undefined || e.exempt || (e.expiresAt !== null && e.expiresAt <= this.now())) return undefined;
    return toBan(e);
  }

  get size(): number {
    return this.bans.size;
  }

  get(ip: string): Ban | undefined {
    const e = this.bans.get(normalizeIp(ip));
    return e === undefined ? undefined : toBan(e);
  }

  list(): Ban[] {
    return [...this.bans.values()].map(toBan);
  }

  /**
   * Bans `ip` for `seconds` (null = until lifted). Returns the ban when it is
   * new or longer than the one in place, else null (nothing to write).
   */
  add(ip: string, reason: string, seconds: number | null, source: BanSource): Ban | null {
    const key = normalizeIp(ip);
    if (isIP(key) === 0) throw new RangeError(`not an IP address: ${ip}`);
    const now = this.now();
    const expiresAt = seconds === null ? null : now + seconds * 1000;
    const old = this.bans.get(key);
    if (old !== undefined && (old.expiresAt === null || (expiresAt !== null && old.expiresAt >= expiresAt)))
      return null;
    if (old === undefined && this.bans.size >= this.maxBans) this.evictOne();
    const e: Entry = {
      ip: key,
      reason,
      expiresAt,
      createdAt: now,
      persisted: source === 'store',
      persistedAt: source === 'store' ? now : -1,
      exempt: this.isTrusted(key),
    };
    this.bans.set(key, e);
    const fields = {
      mod: 'security',
      ip: key,
      reason,
      source,
      until: expiresAt === null ? 'lifted' : new Date(expiresAt).toISOString(),
    };
    if (e.exempt) this.log?.warn(fields, 'ban of a trusted address not enforced');
    else this.log?.info(fields, 'ban added');
    return toBan(e);
  }

  /**
   * A ban another node made (the cluster bus), held with the same times as
   * there and judged by this node's trust; not yet seen in the store (its
   * absence from a read does not lift it). Returns it when new or longer,
   * else null.
   */
  adopt(b: Ban, source: BanSource): Ban | null {
    const key = normalizeIp(b.ip);
    if (isIP(key) === 0) throw new RangeError(`not an IP address: ${b.ip}`);
    if (b.expiresAt !== null && b.expiresAt <= this.now()) return null;
    const old = this.bans.get(key);
    if (old !== undefined && (old.expiresAt === null || (b.expiresAt !== null && old.expiresAt >= b.expiresAt)))
      return null;
    if (old === undefined && this.bans.size >= this.maxBans) this.evictOne();
    const e: Entry = { ...b, ip: key, persisted: false, persistedAt: -1, exempt: this.isTrusted(key) };
    this.bans.set(key, e);
    this.log?.[e.exempt ? 'warn' : 'info'](
      {
        mod: 'security',
        ip: key,
        reason: b.reason,
        source,
        from: 'cluster',
        until: b.expiresAt === null ? 'lifted' : new Date(b.expiresAt).toISOString(),
      },
      e.exempt ? 'ban of a trusted address not enforced' : 'ban added',
    );
    return toBan(e);
  }

  /**
   * A lift by hand another node saw in the store (the cluster bus): lifts
   * the ban of `ip` unless it is newer than the one lifted there (made
   * again since).
   */
  liftAdopted(ip: string, createdAt: number): boolean {
    const e = this.bans.get(normalizeIp(ip));
    if (e === undefined || e.createdAt > createdAt) return false;
    this.lift(e, 'by hand');
    return true;
  }

  /** Marks a ban as written to the store. */
  markPersisted(ip: string): void {
    const e = this.bans.get(normalizeIp(ip));
    if (e !== undefined && !e.persisted) {
      e.persisted = true;
      e.persistedAt = this.now();
    }
  }

  /** Lifts a ban by hand (this process); returns whether one was in place. */
  remove(ip: string): boolean {
    const e = this.bans.get(normalizeIp(ip));
    if (e === undefined) return false;
    this.lift(e, 'by hand');
    return true;
  }

  /**
   * Makes memory agree with the store's active bans: new or longer ones are
   * added, persisted ones missing from the store were lifted by hand. Bans of
   * this process not yet written stay, and so do those written after the
   * read began (`readAt`, clock ms: the rows may predate them).
   */
  replaceFromStore(rows: readonly Ban[], readAt = Number.POSITIVE_INFINITY): void {
    const seen = new Set<string>();
    for (const r of rows) {
      const key = normalizeIp(r.ip);
      seen.add(key);
      const e = this.bans.get(key);
      if (e === undefined || e.expiresAt !== r.expiresAt) {
        if (e !== undefined) this.bans.delete(key);
        const entry: Entry = { ...r, ip: key, persisted: true, persistedAt: this.now(), exempt: this.isTrusted(key) };
        this.bans.set(key, entry);
        if (e === undefined) {
          this.log?.info(
            {
              mod: 'security',
              ip: key,
              reason: r.reason,
              source: 'store',
              until: r.expiresAt === null ? 'lifted' : new Date(r.expiresAt).toISOString(),
            },
            entry.exempt ? 'ban of a trusted address not enforced' : 'ban added',
          );
        }
      } else if (!e.persisted) {
        e.persisted = true;
        e.persistedAt = this.now();
      }
    }
    for (const e of [...this.bans.values()])
      if (e.persisted && e.persistedAt < readAt && !seen.has(e.ip)) this.lift(e, 'by hand');
  }

  /** Lifts the bans whose time is up (a periodic sweep; isBanned also lifts lazily). */
  sweep(): number {
    const now = this.now();
    let n = 0;
    for (const e of [...this.bans.values()]) {
      if (e.expiresAt !== null && e.expiresAt <= now) {
        this.lift(e, 'expired');
        n++;
      }
    }
    return n;
  }

  /** A new trust predicate (trunk and carrier addresses changed): every ban is judged again. */
  setTrusted(isTrusted: (ip: string) => boolean): void {
    this.isTrusted = isTrusted;
    for (const e of this.bans.values()) e.exempt = isTrusted(e.ip);
  }

  /** Called when a ban goes, with how (for the brute-force counter to forget the address) and the ban. */
  onLift: ((ip: string, how: 'expired' | 'by hand', ban: Ban) => void) | null = null;

  private lift(e: Entry, how: 'expired' | 'by hand'): void {
    if (this.bans.get(e.ip) !== e) return;
    this.bans.delete(e.ip);
    this.log?.info(
      { mod: 'security', ip: e.ip, reason: e.reason, how },
      how === 'expired' ? 'ban lifted: expired' : 'ban lifted by hand',
    );
    this.onLift?.(e.ip, how, toBan(e));
  }

  private evictOne(): void {
    for (const e of this.bans.values()) {
      if (e.expiresAt !== null) {
        this.bans.delete(e.ip);
        return;
      }
    }
  }
}

function toBan(e: Entry): Ban {
  return { ip: e.ip, reason: e.reason, expiresAt: e.expiresAt, createdAt: e.createdAt };
}
