/**
 * Call limits of a cluster: the CPM windows and concurrent calls of every
 * account and trunk held in the cluster's Redis, so that a limit holds over
 * all the nodes together (the Lua is in limit-scripts.ts).
 *
 *   const limiter = new SharedLimiter({ link, node, aliveCount, onRedisDown, log });
 *   const v = await limiter.tryStart(scopes, callSid);   // one script: all scopes or none
 *   v.ok && v.release();                                 // ZREM of the call's lease: idempotent
 *
 * A call up holds a lease per scope (member `NODE|CALLSID`, score its
 * expiry); its node renews the leases of its calls every RENEW_MS, each for
 * LEASE_MS, so the slots of a node that died come back within LEASE_MS.
 *
 * Redis unreachable (the link down, a command failing, or no answer within
 * ADMIT_TIMEOUT_MS): a new call follows `cluster.onRedisDown`: `reject`
 * refuses it (503, Retry-After), `local` admits it against a CallLimiter of
 * this node whose limits are each divided by the nodes alive at the last
 * heartbeat (rounded up), the calls this node holds counted in it.
 * Established calls never wait for Redis: releases and renewals are sent in
 * the background, and those that could not be sent are sent again. Once
 * Redis answers again the node asserts its calls at once (its leases,
 * those admitted locally included, and its call starts of the last
 * minute), so the shared counts match the live calls within a renewal.
 */
import { CallLimiter, type LimitVerdict, type Limiter, type ScopeLimits, type ScopeUsage } from '../trunking/limits.js';
import type { OnRedisDown } from './config.js';
import { ClusterProtocolError, RedisUnavailableError } from './errors.js';
import { keys } from './keys.js';
import { ADMIT_LUA, RELEASE_LUA, SYNC_LUA, USAGE_LUA } from './limit-scripts.js';
import type { LinkLog, RedisLink, RedisScript } from './redis-link.js';

/** How long a lease holds without renewal: a dead node's slots come back within this. */
export const LEASE_MS = 15_000;
/** How often a node renews its calls' leases. */
export const RENEW_MS = 5_000;
/** An admission Redis has not answered in this long follows `onRedisDown`. */
export const ADMIT_TIMEOUT_MS = 1_000;
/** Retry-After of a call refused because the limits cannot be reached (`onRedisDown: reject`). */
export const UNAVAILABLE_RETRY_S = 5;
/** A retry of a failed assertion while the link is up. */
const RETRY_SYNC_MS = 1_000;
const WINDOW_MS = 60_000;
/** Releases kept for a Redis that cannot be told now; beyond, the leases lapse by themselves. */
const MAX_PENDING = 100_000;
/** Calls ended within this long are released in one script: a slot comes back this much later at most. */
const RELEASE_BATCH_MS = 100;

export interface SharedLimiterOptions {
  link: RedisLink;
  /** This node's id (the first part of its members). */
  node: string;
  /** Nodes alive at the last heartbeat (NodeRegistry.aliveCount): the divisor of the local limits. */
  aliveCount: () => number;
  onRedisDown: OnRedisDown;
  log: LinkLog;
  /** LEASE_MS and RENEW_MS unless given (the same on every node). */
  leaseMs?: number;
  renewMs?: number;
}

/** A call this node admitted and holds. */
interface Held {
  member: string;
  /** Its scopes' keys (`trunk:pbx`). */
  scopes: string[];
  /** Its release in the local limiter while Redis is unreachable, else null. */
  local: (() => void) | null;
}

/** A call start of the last minute, for the CPM windows of a Redis that lost them. */
interface Start {
  member: string;
  /** The scopes with a CPM limit. */
  scopes: string[];
  /** performance.now() at admission. */
  at: number;
}

/** The keys of one script call, each named once: ARGV refers to them by their 1-based index. */
class KeyIndex {
  readonly keys: string[] = [];
  readonly #index = new Map<string, number>();

  at(k: string): number {
    let i = this.#index.get(k);
    if (i === undefined) {
      this.keys.push(k);
      i = this.keys.length;
      this.#index.set(k, i);
    }
    return i;
  }
}

/** A limit shared out over n nodes: each takes its part, rounded up. */
function share(limit: number | null, n: number): number | null {
  return limit === null ? null : Math.ceil(limit / n);
}

export class SharedLimiter implements Limiter {
  /** New calls that followed `onRedisDown`, by mode (trunkline_cluster_limit_fallbacks_total). */
  readonly fallbacks: Record<OnRedisDown, number> = { reject: 0, local: 0 };
  readonly #o: SharedLimiterOptions;
  readonly #leaseMs: number;
  readonly #admit: RedisScript;
  readonly #release: RedisScript;
  readonly #sync: RedisScript;
  readonly #usage: RedisScript;
  readonly #held = new Map<string, Held>();
  #starts: Start[] = [];
  /** member -> keys: calls ended that Redis still has to be told of. */
  readonly #pending = new Map<string, string[]>();
  /** member -> keys: calls ended in the last RELEASE_BATCH_MS, released together. */
  readonly #releasing = new Map<string, string[]>();
  #releaseTimer: NodeJS.Timeout | null = null;
  /** The limits of this node alone while Redis is unreachable; null otherwise. */
  #local: CallLimiter | null = null;
  /** Bumped at each event after which Redis must be told this node's calls anew; #asserted: the last told. */
  #dirty = 0;
  #asserted = 0;
  #syncing = false;
  #outageLogged = false;
  #timer: NodeJS.Timeout | null;

  constructor(o: SharedLimiterOptions) {
    this.#o = o;
    this.#leaseMs = o.leaseMs ?? LEASE_MS;
    this.#admit = o.link.script(ADMIT_LUA);
    this.#release = o.link.script(RELEASE_LUA);
    this.#sync = o.link.script(SYNC_LUA);
    this.#usage = o.link.script(USAGE_LUA);
    o.link.onChange((up) => {
      if (!up) this.#dirty++;
      else void this.#syncNow();
    });
    this.#timer = setInterval(() => void this.#syncNow(), o.renewMs ?? RENEW_MS);
    this.#timer.unref();
  }

  /** Calls this node holds now. */
  get held(): number {
    return this.#held.size;
  }

  async tryStart(scopes: ScopeLimits[], callSid: string): Promise<LimitVerdict> {
    const member = `${this.#o.node}|${callSid}`;
    // Releases batched so far go first: Redis runs one connection's scripts in order, so a call that
    // ended before this one came is out of the counts this admission sees.
    if (this.#releasing.size > 0) this.#sendReleases();
    if (this.#o.link.up) {
      const ks = scopes.flatMap((s) => [keys.cpm(s.key), keys.lease(s.key)]);
      const args = [member, this.#leaseMs, ...scopes.flatMap((s) => [s.cpm ?? -1, s.maxCalls ?? -1])];
      const run = this.#admit.run(ks, args);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), ADMIT_TIMEOUT_MS)));
      try {
        const reply = await Promise.race([run, late]);
        if (reply !== 'late') return this.#verdict(reply, scopes, member);
        // It may still run: a call it admitted then is taken out at once.
        run.then(
          (r) => {
            if (Array.isArray(r) && Number(r[0]) === 0) this.#forget(member, ks);
          },
          () => undefined,
        );
      } catch (err) {
        if (!(err instanceof RedisUnavailableError)) throw err;
      } finally {
        clearTimeout(timer);
      }
    }
    return this.#fallback(scopes, member);
  }

  /** The shared figures while Redis answers; else what this node knows of its own calls. */
  async usage(key: string): Promise<ScopeUsage> {
    if (this.#o.link.up) {
      try {
        const r = await this.#usage.run([keys.cpm(key), keys.lease(key)], []);
        if (!Array.isArray(r) || r.length !== 2) throw new ClusterProtocolError('usage: expected two counts');
        return { active: Number(r[0]), lastMinute: Number(r[1]) };
      } catch (err) {
        if (!(err instanceof RedisUnavailableError)) throw err;
      }
    }
    const now = performance.now();
    let active = 0;
    for (const h of this.#held.values()) if (h.scopes.includes(key)) active++;
    const lastMinute = this.#starts.filter((s) => now - s.at < WINDOW_MS && s.scopes.includes(key)).length;
    return { active, lastMinute };
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#sendReleases();
  }

  #verdict(reply: unknown, scopes: ScopeLimits[], member: string): LimitVerdict {
    if (!Array.isArray(reply) || reply.length < 2) throw new ClusterProtocolError('admit: expected a list');
    const at = Number(reply[0]);
    if (at === 0) return this.#admitted(scopes, member, null);
    const scope = scopes[at - 1];
    const kind = String(reply[1]);
    if (scope === undefined || (kind !== 'cpm' && kind !== 'concurrent'))
      throw new ClusterProtocolError(`admit: unexpected answer ${JSON.stringify(reply)}`);
    return { ok: false, key: scope.key, kind, retryAfter: Number(reply[2]) };
  }

  #admitted(scopes: ScopeLimits[], member: string, local: (() => void) | null): LimitVerdict {
    const held: Held = { member, scopes: scopes.map((s) => s.key), local };
    this.#held.set(member, held);
    const limited = scopes.filter((s) => s.cpm !== null).map((s) => s.key);
    if (limited.length > 0) this.#starts.push({ member, scopes: limited, at: performance.now() });
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.#held.delete(member);
        held.local?.();
        this.#forget(
          member,
          held.scopes.map((k) => keys.lease(k)),
        );
      },
    };
  }

  /** Takes a member out of keys within RELEASE_BATCH_MS, or as soon as Redis answers (never waited for). */
  #forget(member: string, ks: string[]): void {
    if (!this.#o.link.up) {
      this.#keepPending(member, ks);
      return;
    }
    this.#releasing.set(member, ks);
    if (this.#releaseTimer !== null) return;
    this.#releaseTimer = setTimeout(() => this.#sendReleases(), RELEASE_BATCH_MS);
    this.#releaseTimer.unref();
  }

  /** The releases batched so far, in one script; those Redis could not take wait for the next sync. */
  #sendReleases(): void {
    if (this.#releaseTimer !== null) clearTimeout(this.#releaseTimer);
    this.#releaseTimer = null;
    if (this.#releasing.size === 0) return;
    const batch = [...this.#releasing];
    this.#releasing.clear();
    // A release that crosses an assertion in flight is sent again after it.
    if (!this.#o.link.up || this.#syncing) for (const [member, ks] of batch) this.#keepPending(member, ks);
    if (!this.#o.link.up) return;
    const ki = new KeyIndex();
    const args: Array<string | number> = [];
    for (const [member, ks] of batch) for (const k of ks) args.push(ki.at(k), member);
    this.#release.run(ki.keys, args).catch(() => {
      for (const [member, ks] of batch) this.#keepPending(member, ks);
      this.#dirty++;
    });
  }

  #keepPending(member: string, ks: string[]): void {
    if (this.#pending.size < MAX_PENDING || this.#pending.has(member)) this.#pending.set(member, ks);
  }

  #fallback(scopes: ScopeLimits[], member: string): LimitVerdict {
    const mode = this.#o.onRedisDown;
    this.fallbacks[mode]++;
    this.#dirty++;
    const n = Math.max(1, this.#o.aliveCount());
    if (!this.#outageLogged) {
      this.#outageLogged = true;
      this.#o.log.warn(
        { onRedisDown: mode, ...(mode === 'local' && { nodes: n }) },
        mode === 'reject'
          ? 'cluster limits unreachable: new calls refused (503) until Redis answers'
          : 'cluster limits unreachable: new calls admitted against limit/nodes on this node until Redis answers',
      );
    }
    if (mode === 'reject')
      return { ok: false, key: scopes[0]?.key ?? '', kind: 'unavailable', retryAfter: UNAVAILABLE_RETRY_S };
    const v = this.#localLimiter().tryStart(
      scopes.map((s) => ({ key: s.key, cpm: share(s.cpm, n), maxCalls: share(s.maxCalls, n) })),
    );
    return v.ok ? this.#admitted(scopes, member, v.release) : v;
  }

  /** The local limiter of this outage; made at its first call with this node's calls up counted in it. */
  #localLimiter(): CallLimiter {
    if (this.#local !== null) return this.#local;
    const local = new CallLimiter();
    for (const h of this.#held.values()) {
      const v = local.tryStart(h.scopes.map((key) => ({ key, cpm: null, maxCalls: null })));
      h.local = v.ok ? v.release : null;
    }
    this.#local = local;
    return local;
  }

  /** Renews this node's leases, or asserts all its calls when Redis may have lost them; never throws. */
  async #syncNow(): Promise<void> {
    if (this.#syncing || !this.#o.link.up) return;
    const assert = this.#dirty !== this.#asserted;
    const now = performance.now();
    this.#starts = this.#starts.filter((s) => now - s.at < WINDOW_MS);
    if (!assert && this.#held.size === 0 && this.#pending.size === 0) return;
    const gen = this.#dirty;
    const removals = [...this.#pending];
    this.#pending.clear();
    const ki = new KeyIndex();
    const at = (k: string): number => ki.at(k);
    const leases: Array<string | number> = [];
    for (const h of this.#held.values()) for (const s of h.scopes) leases.push(at(keys.lease(s)), h.member);
    const starts: Array<string | number> = [];
    if (assert)
      for (const s of this.#starts)
        for (const scope of s.scopes) starts.push(at(keys.cpm(scope)), s.member, Math.round(now - s.at));
    const gone: Array<string | number> = [];
    for (const [member, mks] of removals) for (const k of mks) gone.push(at(k), member);
    this.#syncing = true;
    try {
      const missing = Number(
        await this.#sync.run(ki.keys, [
          this.#leaseMs,
          assert ? 'assert' : 'renew',
          leases.length / 2,
          starts.length / 3,
          gone.length / 2,
          ...leases,
          ...starts,
          ...gone,
        ]),
      );
      if (assert && this.#dirty === gen) {
        this.#asserted = gen;
        this.#local = null;
        if (this.#outageLogged) this.#o.log.info({ calls: this.#held.size }, 'cluster limits: calls up asserted again');
        this.#outageLogged = false;
      }
      if (missing > 0) {
        // A lease of a call up lapsed (this node could not renew it in time): it is added again.
        this.#dirty++;
        this.#o.log.warn({ missing }, 'cluster limits: leases of calls up had lapsed; asserted again');
        setTimeout(() => void this.#syncNow(), 0).unref();
      }
    } catch (err) {
      for (const [member, mks] of removals) this.#keepPending(member, mks);
      this.#dirty++;
      if (!(err instanceof RedisUnavailableError))
        this.#o.log.warn({ err: String(err) }, 'cluster limits: leases not renewed');
      if (this.#o.link.up) setTimeout(() => void this.#syncNow(), RETRY_SYNC_MS).unref();
    } finally {
      this.#syncing = false;
    }
    if (this.#pending.size > 0 && this.#o.link.up) setTimeout(() => void this.#syncNow(), 0).unref();
  }
}
