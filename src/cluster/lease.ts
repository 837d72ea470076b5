/**
 * A lease in Redis: one key that at most one node holds at a time, for a
 * job exactly one node of the cluster must do (keep a carrier's
 * registration). Its value is `node|incarnation|token`, the token a fencing
 * token: each acquisition takes the next one, so a later holder always has
 * a greater token than every earlier one.
 *
 *   const l = new Lease(link, { key, tokenKey, node: 'n1', incarnation });
 *   await l.acquire();   // true: ours (taken, or still ours: re-asserted)
 *   await l.renew();     // {kind: 'renewed'} | {kind: 'gone'} | {kind: 'lost', holder}
 *   l.valid();           // confirmed by Redis less than ttl - margin ago: act as the holder
 *   await l.release();   // deletes it only while the value is still ours
 *
 * Redis expires the key ttl after it took the last acquire or renew, so
 * never before ttl after the command was sent: the holder counts its
 * validity from the sending, on a monotonic clock, and stops acting a
 * margin before (clock rates differ a little; what it sends takes time to
 * arrive). acquire, renew and release each run as one script (atomic).
 * Commands reject with RedisUnavailableError while Redis is down; the
 * validity then runs out by itself.
 */
import { performance } from 'node:perf_hooks';
import type { RedisLink, RedisScript } from './redis-link.js';
import { ClusterProtocolError } from './errors.js';
import { keys } from './keys.js';
import type { CarrierLeaseJson } from './status.js';

export const LEASE_TTL_MS = 20_000;
export const LEASE_MARGIN_MS = 4_000;

/**
 * KEYS[1] the lease, KEYS[2] its token counter; ARGV[1] node|incarnation,
 * ARGV[2] the TTL. Still ours: kept (re-asserted, same token). Free: the
 * next token, then SET NX PX (the TTL with the value, in one command).
 * A counter that does not exist (the first lease, or a Redis restarted
 * with nothing) starts at the server's time in ms, so tokens go on above
 * every earlier one.
 */
const ACQUIRE_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur then
  if string.sub(cur, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, cur}
  end
  return {0, cur}
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[2], t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000)))
end
local v = ARGV[1] .. '|' .. redis.call('INCR', KEYS[2])
if redis.call('SET', KEYS[1], v, 'NX', 'PX', ARGV[2]) then return {1, v} end
return {0, ''}
`;

/** KEYS[1] the lease; ARGV[1] our value, ARGV[2] the TTL. 1: renewed; 0: gone; 2: another's (its value). */
const RENEW_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, cur}
end
if not cur then return {0, ''} end
return {2, cur}
`;

/** KEYS[1] the lease; ARGV[1] our value: deleted only if it is still that. */
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export interface LeaseValue {
  node: string;
  incarnation: string;
  token: number;
}

/** `node|incarnation|token`, or null for anything else. */
export function parseLeaseValue(v: string): LeaseValue | null {
  const m = /^([^|]+)\|([^|]+)\|([0-9]+)$/.exec(v);
  if (m === null) return null;
  return { node: m[1]!, incarnation: m[2]!, token: Number(m[3]) };
}

/** The leases held now under a key prefix, by name (what follows the prefix), sorted; rejects while Redis is down. */
export async function listLeases(link: RedisLink, prefix: string): Promise<Array<{ name: string } & LeaseValue>> {
  const c = link.client();
  try {
    const found: string[] = [];
    // SCAN by hand: a Sentinel client has no scanIterator.
    let cursor = '0';
    do {
      const page = await c.scan(cursor, { MATCH: `${prefix}*`, COUNT: 200 });
      cursor = String(page.cursor);
      found.push(...page.keys);
    } while (cursor !== '0');
    const out: Array<{ name: string } & LeaseValue> = [];
    for (const key of [...new Set(found)].sort()) {
      const v = await c.get(key);
      const parsed = v === null ? null : parseLeaseValue(v);
      if (parsed !== null) out.push({ name: key.slice(prefix.length), ...parsed });
    }
    return out;
  } catch (err) {
    throw link.failure('leases', err);
  }
}

/** Which node keeps each carrier's registration, as `cluster status` shows it (rejects while Redis is down). */
export async function listCarrierLeases(link: RedisLink): Promise<CarrierLeaseJson[]> {
  return (await listLeases(link, keys.carrierLeasePrefix)).map((l) => ({
    carrier: l.name,
    node: l.node,
    token: l.token,
  }));
}

export interface LeaseOptions {
  key: string;
  tokenKey: string;
  node: string;
  incarnation: string;
  ttlMs?: number;
  marginMs?: number;
}

export type RenewResult = { kind: 'renewed' } | { kind: 'gone' } | { kind: 'lost'; holder: LeaseValue | null };

/** The two-element reply of our scripts. */
function reply(r: unknown, what: string): [number, string] {
  if (!Array.isArray(r) || r.length !== 2) throw new ClusterProtocolError(`lease ${what}: unexpected reply`);
  return [Number(r[0]), String(r[1])];
}

export class Lease {
  readonly key: string;
  readonly tokenKey: string;
  readonly node: string;
  readonly incarnation: string;
  readonly ttlMs: number;
  readonly marginMs: number;
  readonly #acquire: RedisScript;
  readonly #renew: RedisScript;
  readonly #release: RedisScript;
  #value: string | null = null;
  #token: number | null = null;
  #validUntil = 0;
  #holder: LeaseValue | null = null;

  constructor(link: RedisLink, o: LeaseOptions) {
    this.key = o.key;
    this.tokenKey = o.tokenKey;
    this.node = o.node;
    this.incarnation = o.incarnation;
    this.ttlMs = o.ttlMs ?? LEASE_TTL_MS;
    this.marginMs = o.marginMs ?? LEASE_MARGIN_MS;
    this.#acquire = link.script(ACQUIRE_LUA);
    this.#renew = link.script(RENEW_LUA);
    this.#release = link.script(RELEASE_LUA);
  }

  /** Our value while we hold it (kept once the validity ran out, to re-assert it), else null. */
  get value(): string | null {
    return this.#value;
  }

  /** Our fencing token while we hold it. */
  get token(): number | null {
    return this.#value === null ? null : this.#token;
  }

  /** Who held it at the last acquire or renew (this node when ours), or null when nobody did. */
  get holder(): LeaseValue | null {
    return this.#holder;
  }

  /** Whether this node may act as the holder now. */
  valid(): boolean {
    return this.#value !== null && performance.now() < this.#validUntil;
  }

  /** Milliseconds of validity left (0 when not valid). */
  remainingMs(): number {
    return this.valid() ? this.#validUntil - performance.now() : 0;
  }

  /** Takes it when free, keeps it when still ours; false when another node holds it (then in `holder`). */
  async acquire(): Promise<boolean> {
    const sent = performance.now();
    const [ok, v] = reply(await this.#acquire.run([this.key, this.tokenKey], [this.#owner(), this.ttlMs]), 'acquire');
    if (ok === 1) {
      const parsed = parseLeaseValue(v);
      if (parsed === null) throw new ClusterProtocolError(`lease acquire: a value we cannot read: ${v}`);
      this.#value = v;
      this.#token = parsed.token;
      this.#holder = parsed;
      this.#validUntil = sent + this.ttlMs - this.marginMs;
      return true;
    }
    this.#forget();
    this.#holder = parseLeaseValue(v);
    return false;
  }

  /**
   * Extends it if the value in Redis is still ours. `gone`: nobody holds it
   * (a Redis restarted with nothing): not valid until acquired again.
   * `lost`: another node holds it; this one no longer does.
   */
  async renew(): Promise<RenewResult> {
    const value = this.#value;
    if (value === null) return { kind: 'lost', holder: this.#holder };
    const sent = performance.now();
    const [status, v] = reply(await this.#renew.run([this.key], [value, this.ttlMs]), 'renew');
    if (this.#value !== value) return { kind: 'lost', holder: this.#holder };
    if (status === 1) {
      this.#validUntil = sent + this.ttlMs - this.marginMs;
      return { kind: 'renewed' };
    }
    if (status === 0) {
      this.#validUntil = 0;
      this.#holder = null;
      return { kind: 'gone' };
    }
    this.#forget();
    this.#holder = parseLeaseValue(v);
    return { kind: 'lost', holder: this.#holder };
  }

  /** Deletes it if it is still ours (true); either way this node no longer holds it. */
  async release(): Promise<boolean> {
    const value = this.#value;
    this.#forget();
    if (value === null) return false;
    const n = await this.#release.run([this.key], [value]);
    if (n === 1) this.#holder = null;
    return n === 1;
  }

  #owner(): string {
    return `${this.node}|${this.incarnation}`;
  }

  #forget(): void {
    this.#value = null;
    this.#token = null;
    this.#validUntil = 0;
  }
}
