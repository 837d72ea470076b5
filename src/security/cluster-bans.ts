/**
 * Bans shared by the nodes of a cluster. The store holds every ban: each
 * node reloads it when `store.changes()` moves (polled every second, and at
 * start, so a ban outlives a restart), which brings bans by hand and the
 * other nodes' bans within about a second. The bus (src/cluster/bus.ts)
 * brings what a node decided itself at once:
 *
 *   'ban'   {ip, reason, source, expiresAt, createdAt}   a ban this node made (flood, brute force)
 *   'unban' {ip, createdAt}                              a lift by hand this node saw in the store
 *
 * A node receiving a ban holds it with the same end, judged by its own
 * trust: a configured trunk or carrier address is listed, never enforced.
 * The bus is at most once; the store is what a node catches up from. While
 * Redis is down, publishing fails (logged once until it works again) and
 * the store alone carries bans.
 */
import { isIP } from 'node:net';
import type { BanList, Ban, BanSource } from './ban-list.js';

/** What the service needs of the cluster bus. */
export interface BanBus {
  on(type: string, fn: (data: Record<string, unknown>, from: string) => void): void;
  publish(type: string, data: Record<string, unknown>): Promise<number>;
}

export interface ClusterBansLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

const SOURCES: readonly BanSource[] = ['manual', 'flood', 'brute-force', 'store'];
const MAX_REASON = 200;

function time(v: unknown): number | null | undefined {
  if (v === null) return null;
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

/** A 'ban' message as a ban, or null when it is not one. */
export function parseBanMessage(d: Record<string, unknown>): { ban: Ban; source: BanSource } | null {
  const { ip, reason, source, expiresAt, createdAt } = d;
  if (typeof ip !== 'string' || isIP(ip) === 0 || typeof reason !== 'string') return null;
  if (typeof source !== 'string' || !(SOURCES as readonly string[]).includes(source)) return null;
  const exp = time(expiresAt);
  const created = time(createdAt);
  if (exp === undefined || typeof created !== 'number') return null;
  return {
    ban: { ip, reason: reason.slice(0, MAX_REASON), expiresAt: exp, createdAt: created },
    source: source as BanSource,
  };
}

export class ClusterBans {
  /** Publishing failed: said once, until a publish works again. */
  #failing = false;
  /** Messages received and applied (a ban new or longer here, a lift). */
  applied = 0;

  constructor(
    private readonly bus: BanBus,
    private readonly bans: BanList,
    private readonly log: ClusterBansLog,
  ) {
    bus.on('ban', (d, from) => this.#onBan(d, from));
    bus.on('unban', (d, from) => this.#onUnban(d, from));
  }

  /** A ban this node decided, to the others at once. */
  announce(b: Ban, source: BanSource): void {
    this.#publish('ban', { ip: b.ip, reason: b.reason, source, expiresAt: b.expiresAt, createdAt: b.createdAt });
  }

  /** A lift by hand this node saw in the store, to the others at once. */
  announceLift(b: Ban): void {
    this.#publish('unban', { ip: b.ip, createdAt: b.createdAt });
  }

  #publish(type: string, data: Record<string, unknown>): void {
    this.bus.publish(type, data).then(
      () => {
        this.#failing = false;
      },
      (err: unknown) => {
        if (this.#failing) return;
        this.#failing = true;
        this.log.warn(
          { mod: 'security', ip: data['ip'], err: err instanceof Error ? err.message : String(err) },
          'cluster: a ban could not be published; the other nodes read it from the store',
        );
      },
    );
  }

  #onBan(d: Record<string, unknown>, from: string): void {
    const m = parseBanMessage(d);
    if (m === null) {
      this.log.warn({ mod: 'security', from }, 'cluster: a ban message that is not one was ignored');
      return;
    }
    if (this.bans.adopt(m.ban, m.source) !== null) this.applied++;
  }

  #onUnban(d: Record<string, unknown>, from: string): void {
    const ip = d['ip'];
    const createdAt = time(d['createdAt']);
    if (typeof ip !== 'string' || isIP(ip) === 0 || typeof createdAt !== 'number') {
      this.log.warn({ mod: 'security', from }, 'cluster: an unban message that is not one was ignored');
      return;
    }
    if (this.bans.liftAdopted(ip, createdAt)) this.applied++;
  }
}
