/**
 * The leases one node competes for, by name (the carriers it would keep a
 * registration with): every node wants the same names, and for each name
 * exactly one node holds the lease (src/cluster/lease.ts) at a time.
 *
 *   const set = new LeaseSet(cluster.link, { node, incarnation, keyOf, tokenKeyOf, log });
 *   set.onChange((name, held) => ...);   // this node took a name / gave it up
 *   set.want(['carrier-a']);             // tries at once, then every renewMs
 *   set.holds('carrier-a');              // check before each act of the holder
 *   await set.stop();                    // releases what it holds
 *
 * Every renewMs the holder renews and the others try to take the lease; a
 * holder that died is replaced once its key expired (ttl), within
 * ttl + renewMs. A renew that finds another node's value ends the holding
 * at once; while Redis cannot be reached the holder keeps its lease until
 * its validity runs out (ttl - margin after the last renew), then gives it
 * up. When Redis is back the holders take their names again at once (still
 * theirs, or gone with a Redis restarted empty) while the others wait
 * quietMs first, so the holder keeps its name rather than a newcomer.
 */
import type { LinkLog, RedisLink } from './redis-link.js';
import { Lease, LEASE_MARGIN_MS, LEASE_TTL_MS } from './lease.js';
import { RedisUnavailableError } from './errors.js';

export const LEASE_RENEW_MS = 5_000;
/** Longer than a link's reconnect step (redis-link.ts: at most 1 s), so holders are back first. */
const MIN_QUIET_MS = 2_000;

export interface LeaseSetOptions {
  node: string;
  incarnation: string;
  keyOf(name: string): string;
  tokenKeyOf(name: string): string;
  ttlMs?: number;
  marginMs?: number;
  renewMs?: number;
  log: LinkLog;
}

export class LeaseSet {
  readonly #link: RedisLink;
  readonly #o: LeaseSetOptions;
  readonly #renewMs: number;
  readonly #leases = new Map<string, Lease>();
  /** Names this node told its listeners it holds. */
  readonly #held = new Set<string>();
  readonly #busy = new Set<string>();
  readonly #lapse = new Map<string, NodeJS.Timeout>();
  readonly #listeners: Array<(name: string, held: boolean) => void> = [];
  #timer: NodeJS.Timeout | null = null;
  #quietUntil = 0;
  #stopped = false;

  constructor(link: RedisLink, o: LeaseSetOptions) {
    this.#link = link;
    this.#o = o;
    this.#renewMs = o.renewMs ?? LEASE_RENEW_MS;
    link.onChange((up) => {
      if (up) this.#back();
    });
  }

  /** Called when this node takes a name (true) or gives it up (false). */
  onChange(fn: (name: string, held: boolean) => void): void {
    this.#listeners.push(fn);
  }

  /** The names to compete for: new ones are tried at once, the others released. Starts the periodic round. */
  want(names: Iterable<string>): void {
    if (this.#stopped) return;
    const next = new Set(names);
    for (const [name, lease] of this.#leases) {
      if (next.has(name)) continue;
      this.#leases.delete(name);
      this.#clearLapse(name);
      if (this.#held.delete(name)) this.#emit(name, false);
      if (lease.value !== null)
        void lease.release().catch((err: unknown) => this.#warn(name, err, 'lease release failed'));
    }
    for (const name of next) {
      if (this.#leases.has(name)) continue;
      this.#leases.set(
        name,
        new Lease(this.#link, {
          key: this.#o.keyOf(name),
          tokenKey: this.#o.tokenKeyOf(name),
          node: this.#o.node,
          incarnation: this.#o.incarnation,
          ttlMs: this.#o.ttlMs ?? LEASE_TTL_MS,
          marginMs: this.#o.marginMs ?? LEASE_MARGIN_MS,
        }),
      );
      void this.#step(name);
    }
    if (this.#timer === null) {
      this.#timer = setInterval(() => {
        for (const name of this.#leases.keys()) void this.#step(name);
      }, this.#renewMs);
      this.#timer.unref();
    }
  }

  /** Whether this node holds the name now (its lease confirmed less than ttl - margin ago). */
  holds(name: string): boolean {
    return this.#held.has(name) && this.#leases.get(name)?.valid() === true;
  }

  /** The node that held the name at this node's last try, or null (nobody, or not known). */
  holder(name: string): string | null {
    return this.#leases.get(name)?.holder?.node ?? null;
  }

  /** The fencing token of a name this node holds. */
  token(name: string): number | null {
    return this.holds(name) ? (this.#leases.get(name)?.token ?? null) : null;
  }

  /** Ends the rounds and releases every lease still ours (a failed release expires by itself). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    for (const name of this.#lapse.keys()) this.#clearLapse(name);
    const leases = [...this.#leases.entries()];
    this.#leases.clear();
    this.#held.clear();
    await Promise.all(
      leases
        .filter(([, l]) => l.value !== null)
        .map(([name, l]) =>
          this.#link
            .bounded(l.release(), `lease ${name} not released`)
            .catch((err: unknown) => this.#warn(name, err, 'lease release failed')),
        ),
    );
  }

  /** Redis is back: holders re-assert now; the others wait quietMs. */
  #back(): void {
    if (this.#stopped) return;
    this.#quietUntil = Date.now() + Math.max(this.#renewMs, MIN_QUIET_MS);
    for (const [name, lease] of this.#leases) if (lease.value !== null) void this.#step(name);
  }

  /** One round for one name: the holder renews, the others try to take it. */
  async #step(name: string): Promise<void> {
    const lease = this.#leases.get(name);
    if (lease === undefined || this.#busy.has(name) || this.#stopped) return;
    this.#busy.add(name);
    try {
      if (lease.valid()) {
        const r = await lease.renew();
        if (this.#leases.get(name) !== lease) return;
        if (r.kind === 'renewed') this.#armLapse(name, lease);
        else if (r.kind === 'gone') await this.#take(name, lease);
        else this.#lose(name, `taken by ${r.holder?.node ?? 'another node'}`);
      } else if (lease.value !== null || Date.now() >= this.#quietUntil) {
        await this.#take(name, lease);
      }
    } catch (err) {
      // Redis down: the lapse timer ends the holding when its validity runs out (now, if it has).
      if (!(err instanceof RedisUnavailableError)) this.#warn(name, err, 'lease round failed');
      if (this.#held.has(name) && !lease.valid()) this.#lose(name, 'not renewed in time (redis)');
    } finally {
      this.#busy.delete(name);
    }
  }

  async #take(name: string, lease: Lease): Promise<void> {
    const ok = await lease.acquire();
    if (this.#leases.get(name) !== lease || this.#stopped) {
      if (ok) await lease.release().catch(() => undefined);
      return;
    }
    if (!ok) {
      if (this.#held.has(name)) this.#lose(name, `taken by ${lease.holder?.node ?? 'another node'}`);
      return;
    }
    this.#armLapse(name, lease);
    if (this.#held.has(name)) return;
    this.#held.add(name);
    this.#o.log.info({ lease: name, token: lease.token }, 'cluster: lease taken');
    this.#emit(name, true);
  }

  #lose(name: string, why: string): void {
    this.#clearLapse(name);
    if (!this.#held.delete(name)) return;
    this.#o.log.warn({ lease: name, why }, 'cluster: lease lost');
    this.#emit(name, false);
  }

  /** Gives the name up when its validity runs out without a renew. */
  #armLapse(name: string, lease: Lease): void {
    this.#clearLapse(name);
    const t = setTimeout(
      () => {
        this.#lapse.delete(name);
        if (!lease.valid() && this.#leases.get(name) === lease) this.#lose(name, 'not renewed in time (redis)');
      },
      Math.ceil(lease.remainingMs()) + 1,
    );
    t.unref();
    this.#lapse.set(name, t);
  }

  #clearLapse(name: string): void {
    const t = this.#lapse.get(name);
    if (t !== undefined) clearTimeout(t);
    this.#lapse.delete(name);
  }

  #emit(name: string, held: boolean): void {
    for (const fn of this.#listeners) {
      try {
        fn(name, held);
      } catch (err) {
        this.#warn(name, err, 'lease listener failed');
      }
    }
  }

  #warn(name: string, err: unknown, msg: string): void {
    this.#o.log.warn({ lease: name, err: err instanceof Error ? err.message : String(err) }, `cluster: ${msg}`);
  }
}
