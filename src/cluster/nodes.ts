/**
 * The cluster's node table in Redis: each node writes its record and renews
 * its `alive` key (TTL 3 s) every second; a node whose key expired is gone
 * (crashed or cut off), one that stopped cleanly deletes it at once.
 *
 *   tl:nodes          SET   ids of every node that joined
 *   tl:node:ID        HASH  id, sip, api, version, pid, upSince, heartbeat, incarnation, figures
 *   tl:alive:ID       STR   the node's incarnation, PX 3000
 *
 * Each heartbeat is one script: it writes this node and returns the ids
 * alive now, so every node learns of a death within a heartbeat of the key
 * expiring (at most 4 s after the last beat). `incarnation` changes at each
 * start: a node that restarted is a new incarnation, and what the old one
 * held (connections, leases) is gone with it.
 */
import { randomBytes } from 'node:crypto';
import type { RedisLink, RedisScript } from './redis-link.js';
import { keys } from './keys.js';
import { ClusterProtocolError } from './errors.js';
import type { NodeFigures, NodeInfo, SelfDescription } from './node-info.js';

export type { NodeFigures, NodeInfo, SelfDescription } from './node-info.js';

export const HEARTBEAT_MS = 1000;
export const ALIVE_TTL_MS = 3000;

const HEARTBEAT_LUA = `
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[2])
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local inc = redis.call('GET', '${keys.alivePrefix}' .. id)
  if inc then out[#out + 1] = id; out[#out + 1] = inc end
end
return out
`;

function num(v: string | undefined): number {
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
}

function parseNode(id: string, h: Record<string, string>, alive: boolean): NodeInfo {
  let sip: string[] = [];
  try {
    const parsed: unknown = JSON.parse(h['sip'] ?? '[]');
    if (Array.isArray(parsed)) sip = parsed.map(String);
  } catch {
    // a record written by hand: no addresses
  }
  return {
    id,
    alive,
    sip,
    api: h['api'] === undefined || h['api'] === '' ? null : h['api'],
    version: h['version'] ?? '',
    pid: num(h['pid']),
    incarnation: h['incarnation'] ?? '',
    upSince: num(h['upSince']),
    lastHeartbeat: num(h['heartbeat']),
    calls: num(h['calls']),
    registrations: num(h['registrations']),
    carrierRegistrations: num(h['carrierRegistrations']),
  };
}

export class NodeRegistry {
  readonly incarnation = `${Date.now().toString(36)}.${randomBytes(4).toString('hex')}`;
  readonly upSince = Date.now();
  readonly #link: RedisLink;
  readonly #self: SelfDescription;
  readonly #figures: () => NodeFigures;
  readonly #beat: RedisScript;
  /** id -> incarnation of the nodes alive at the last heartbeat (this one included). */
  #alive = new Map<string, string>();
  #timer: NodeJS.Timeout | null = null;
  #beating = false;
  readonly #gone: Array<(id: string, incarnation: string) => void> = [];
  readonly #joined: Array<(id: string, incarnation: string) => void> = [];

  constructor(link: RedisLink, self: SelfDescription, figures: () => NodeFigures) {
    this.#link = link;
    this.#self = { ...self };
    this.#figures = figures;
    this.#beat = link.script(HEARTBEAT_LUA);
  }

  get id(): string {
    return this.#self.id;
  }

  /** The SIP listeners as `proto:host:port`, once bound (before start). */
  setSip(sip: string[]): void {
    this.#self.sip = [...sip];
  }

  /** The API's address once it listens (written at the next heartbeat). */
  setApi(api: string | null): void {
    this.#self.api = api;
  }

  /** First heartbeat (rejects when Redis cannot take it), then one every second. */
  async start(): Promise<void> {
    await this.heartbeat();
    this.#timer = setInterval(() => void this.heartbeat().catch(() => undefined), HEARTBEAT_MS);
    this.#timer.unref();
  }

  /** Leaves the cluster: the alive key goes at once, so the others see this node gone now. */
  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    if (!this.#link.up) return;
    try {
      await this.#link.bounded(this.#link.client().del(keys.alive(this.#self.id)), 'alive key not deleted');
    } catch {
      // Redis went meanwhile (or its master did, behind Sentinel): the key expires by itself
    }
  }

  /** Writes this node's record and learns who is alive; rejects while Redis is down (the table is kept). */
  async heartbeat(): Promise<void> {
    if (this.#beating) return;
    this.#beating = true;
    try {
      const f = this.#figures();
      const fields: Array<string | number> = [
        'id',
        this.#self.id,
        'sip',
        JSON.stringify(this.#self.sip),
        'api',
        this.#self.api ?? '',
        'version',
        this.#self.version,
        'pid',
        process.pid,
        'upSince',
        this.upSince,
        'heartbeat',
        Date.now(),
        'incarnation',
        this.incarnation,
        'calls',
        f.calls,
        'registrations',
        f.registrations,
        'carrierRegistrations',
        f.carrierRegistrations,
      ];
      const reply = await this.#beat.run(
        [keys.nodes, keys.node(this.#self.id), keys.alive(this.#self.id)],
        [this.#self.id, ALIVE_TTL_MS, this.incarnation, ...fields],
      );
      if (!Array.isArray(reply)) throw new ClusterProtocolError('heartbeat: expected a list of nodes');
      const next = new Map<string, string>();
      for (let i = 0; i + 1 < reply.length; i += 2) next.set(String(reply[i]), String(reply[i + 1]));
      const before = this.#alive;
      this.#alive = next;
      for (const [id, inc] of before) if (next.get(id) !== inc) for (const fn of this.#gone) fn(id, inc);
      for (const [id, inc] of next) if (before.get(id) !== inc) for (const fn of this.#joined) fn(id, inc);
    } finally {
      this.#beating = false;
    }
  }

  /** Whether a node was alive at the last heartbeat (this node always is). */
  isAlive(id: string, incarnation?: string): boolean {
    if (id === this.#self.id) return incarnation === undefined || incarnation === this.incarnation;
    const inc = this.#alive.get(id);
    return inc !== undefined && (incarnation === undefined || inc === incarnation);
  }

  /** How many nodes were alive at the last heartbeat (at least 1: this one). */
  aliveCount(): number {
    return Math.max(1, this.#alive.size);
  }

  /** Called once for each node (incarnation) that was alive and no longer is. */
  onGone(fn: (id: string, incarnation: string) => void): void {
    this.#gone.push(fn);
  }

  /** Called once for each node (incarnation) seen alive that was not at the heartbeat before (this one at the first). */
  onJoin(fn: (id: string, incarnation: string) => void): void {
    this.#joined.push(fn);
  }

  /** Every node that joined, alive or not, as Redis has them (rejects while Redis is down). */
  async list(): Promise<NodeInfo[]> {
    return listNodes(this.#link);
  }
}

/** The node table read from Redis (also by `trunkline cluster status`, which is no node). */
export async function listNodes(link: RedisLink): Promise<NodeInfo[]> {
  const c = link.client();
  try {
    const ids = (await c.sMembers(keys.nodes)).sort();
    const out: NodeInfo[] = [];
    for (const id of ids) {
      const [h, alive] = await Promise.all([c.hGetAll(keys.node(id)), c.get(keys.alive(id))]);
      if (Object.keys(h).length === 0) continue;
      out.push(parseNode(id, h, alive !== null && alive === h['incarnation']));
    }
    return out;
  } catch (err) {
    throw link.failure('nodes', err);
  }
}
