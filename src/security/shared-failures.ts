/**
 * Authentication failures counted in the cluster's Redis, so that failures
 * spread over several nodes ban the source as they would on one node:
 *
 *   tl:authfail:ip:IP      ZSET  failure times (ms) of a source address, PEXPIRE window
 *   tl:authfail:user:NAME  ZSET  the same for a username (a long one by its SHA-256)
 *
 * One script counts a failure against both keys and checks them at once:
 * a key that reaches the threshold is deleted in the same step, so exactly
 * one node (the one whose failure made it reach) is told, and counting
 * restarts there, as FailureCounter does on one node. Times are Redis's own
 * clock (TIME), so the nodes' clocks need not agree; the window is
 * (now - window, now], as FailureCounter's.
 *
 *   const shared = new SharedFailureCounter(cluster.link, { threshold: 3, windowMs: 60_000, node: 'n1' });
 *   const { kinds, atMs } = await shared.record('192.0.2.7', 'alice');  // kinds: the keys that crossed
 */
import { createHash } from 'node:crypto';
import type { RedisLink, RedisScript } from '../cluster/redis-link.js';
import { keys } from '../cluster/keys.js';
import { ClusterProtocolError } from '../cluster/errors.js';
import type { FailureKind } from '../auth/failure-counter.js';
import { normalizeIp } from '../auth/ip.js';

const RECORD_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local threshold = tonumber(ARGV[2])
local out = { now }
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  redis.call('ZADD', key, now, ARGV[3])
  if redis.call('ZCARD', key) >= threshold then
    redis.call('DEL', key)
    out[#out + 1] = i
  else
    redis.call('PEXPIRE', key, window)
  end
end
return out
`;

/** Longest username kept as it is in a key; longer ones are hashed. */
const MAX_KEY_NAME = 128;

export interface SharedFailureOptions {
  threshold: number;
  windowMs: number;
  /** This node's id: failures are told apart by node and sequence. */
  node: string;
}

export interface SharedRecord {
  /** The keys that reached the threshold with this failure (ip first). */
  kinds: FailureKind[];
  /** Redis's clock at the failure (ms). */
  atMs: number;
}

/** The key of a source IP or username. */
export function authFailKey(kind: FailureKind, key: string): string {
  if (kind === 'ip') return keys.authFail('ip', normalizeIp(key));
  const name = key.length > MAX_KEY_NAME ? `sha256:${createHash('sha256').update(key).digest('hex')}` : key;
  return keys.authFail('user', name);
}

export class SharedFailureCounter {
  readonly #link: RedisLink;
  readonly #script: RedisScript;
  readonly #o: SharedFailureOptions;
  #seq = 0;

  constructor(link: RedisLink, o: SharedFailureOptions) {
    if (!Number.isInteger(o.threshold) || o.threshold < 1) throw new RangeError('threshold must be a positive integer');
    if (!Number.isInteger(o.windowMs) || o.windowMs < 1) throw new RangeError('window must be a positive number of ms');
    this.#link = link;
    this.#o = { ...o };
    this.#script = link.script(RECORD_LUA);
  }

  /** Whether Redis is reachable now (else the caller counts on its own). */
  get up(): boolean {
    return this.#link.up;
  }

  /** Counts one failure of `ip` (and `username` when known); rejects while Redis is down. */
  async record(ip: string, username: string | null): Promise<SharedRecord> {
    const names: FailureKind[] = username === null ? ['ip'] : ['ip', 'user'];
    const ks = names.map((kind) => authFailKey(kind, kind === 'ip' ? ip : username!));
    const member = `${this.#o.node}:${process.pid}:${++this.#seq}`;
    const reply = await this.#script.run(ks, [this.#o.windowMs, this.#o.threshold, member]);
    if (!Array.isArray(reply) || typeof reply[0] !== 'number')
      throw new ClusterProtocolError('auth failures: expected the time and the keys that crossed');
    const kinds: FailureKind[] = [];
    for (const i of reply.slice(1)) {
      const kind = names[Number(i) - 1];
      if (kind === undefined) throw new ClusterProtocolError(`auth failures: no key ${String(i)}`);
      kinds.push(kind);
    }
    return { kinds, atMs: reply[0] };
  }

  /** Forgets a key (a ban lifted by hand); rejects while Redis is down. */
  async reset(kind: FailureKind, key: string): Promise<void> {
    try {
      await this.#link.client().del(authFailKey(kind, key));
    } catch (err) {
      throw this.#link.failure('auth failures reset', err);
    }
  }
}
