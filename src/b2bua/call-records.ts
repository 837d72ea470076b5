/**
 * The live calls of a cluster in Redis, one Lua script per operation (each
 * atomic, one round trip):
 *
 *   tl:call:SID       HASH  the call (call-record.ts): node, incarnation, listing fields, dialogs, media
 *   tl:calls:NODE     SET   the SIDs a node holds
 *   tl:dialog:CALLID  HASH  callSid, node, incarnation, side: a leg's Call-ID to its call
 *
 * A node writes only while Redis names it alive with its own incarnation
 * (else a survivor may just have swept it: it writes again once its
 * heartbeat is back). An index entry is removed only by the call it names
 * (two calls may share a caller's Call-ID, a carrier retrying elsewhere).
 * A sweep removes the records of a node that are not of its incarnation
 * alive now: all of a dead node's, the leftovers of a restarted one's.
 */
import { keys } from '../cluster/keys.js';
import { ClusterProtocolError } from '../cluster/errors.js';
import type { RedisLink, RedisScript } from '../cluster/redis-link.js';
import { LISTED_FIELDS, listedCall } from './call-record.js';
import type { LiveCall } from './b2bua.js';

const PUT_LUA = `
if redis.call('GET', KEYS[3]) ~= ARGV[3] then return 0 end
local n = tonumber(ARGV[4])
local fields = {}
for i = 5 + n, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('SADD', KEYS[2], ARGV[1])
for i = 1, n do
  redis.call('HSET', KEYS[3 + i], 'callSid', ARGV[1], 'node', ARGV[2], 'incarnation', ARGV[3], 'side', ARGV[4 + i])
end
for i = 4 + n, #KEYS do
  if redis.call('HGET', KEYS[i], 'callSid') == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 1
`;

const DROP_LUA = `
local ids = redis.call('HMGET', KEYS[1], 'aCallId', 'bCallId')
for _, id in ipairs(ids) do
  if id and id ~= '' then
    local k = ARGV[2] .. id
    if redis.call('HGET', k, 'callSid') == ARGV[1] then redis.call('DEL', k) end
  end
end
for i = 3, #KEYS do
  if redis.call('HGET', KEYS[i], 'callSid') == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return 1
`;

const SWEEP_LUA = `
local alive = redis.call('GET', ARGV[1])
local removed = 0
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[2] .. sid
  local h = redis.call('HMGET', key, 'incarnation', 'aCallId', 'bCallId')
  if not alive or h[1] ~= alive then
    for j = 2, 3 do
      if h[j] and h[j] ~= '' then
        local k = ARGV[3] .. h[j]
        if redis.call('HGET', k, 'callSid') == sid then redis.call('DEL', k) end
      end
    end
    redis.call('DEL', key)
    redis.call('SREM', KEYS[1], sid)
    removed = removed + 1
  end
end
return removed
`;

const LIST_LUA = `
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if id ~= ARGV[1] and redis.call('EXISTS', ARGV[2] .. id) == 1 then
    for _, sid in ipairs(redis.call('SMEMBERS', ARGV[3] .. id)) do
      out[#out + 1] = redis.call('HMGET', ARGV[4] .. sid, unpack(fields))
    end
  end
end
return out
`;

const DIALOG_LUA = `
local h = redis.call('HMGET', KEYS[1], 'node', 'incarnation', 'callSid')
if not h[1] then return false end
return {h[1], h[2] or '', h[3] or '', redis.call('HGET', ARGV[1] .. h[1], 'sip') or '[]'}
`;

/** The node holding a call (the incarnation that wrote it). */
export interface CallOwner {
  node: string;
  incarnation: string;
}

/** The node holding a dialog, with that node's SIP listeners (`proto:host:port`). */
export interface DialogOwner extends CallOwner {
  callSid: string;
  sip: string[];
}

export interface IndexedLeg {
  callId: string;
  side: 'a' | 'b';
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export class CallRecords {
  readonly #link: RedisLink;
  readonly #node: string;
  readonly #incarnation: string;
  readonly #put: RedisScript;
  readonly #drop: RedisScript;
  readonly #sweep: RedisScript;
  readonly #list: RedisScript;
  readonly #dialog: RedisScript;

  constructor(link: RedisLink, node: string, incarnation: string) {
    this.#link = link;
    this.#node = node;
    this.#incarnation = incarnation;
    this.#put = link.script(PUT_LUA);
    this.#drop = link.script(DROP_LUA);
    this.#sweep = link.script(SWEEP_LUA);
    this.#list = link.script(LIST_LUA);
    this.#dialog = link.script(DIALOG_LUA);
  }

  /**
   * Writes a call of this node and indexes its legs; `stale`: Call-IDs
   * indexed before and no longer its (an earlier attempt's). False when
   * Redis does not name this node alive now (nothing written).
   */
  async put(fields: Record<string, string>, legs: IndexedLeg[], stale: string[]): Promise<boolean> {
    const sid = fields['callSid']!;
    const reply = await this.#put.run(
      [
        keys.call(sid),
        keys.calls(this.#node),
        keys.alive(this.#node),
        ...legs.map((l) => keys.dialog(l.callId)),
        ...stale.map((id) => keys.dialog(id)),
      ],
      [sid, this.#node, this.#incarnation, legs.length, ...legs.map((l) => l.side), ...Object.entries(fields).flat()],
    );
    return reply === 1;
  }

  /** Removes an ended call of this node: its record, its SID from the node's set, its index entries. */
  async drop(callSid: string, callIds: Iterable<string>): Promise<void> {
    await this.#drop.run(
      [keys.call(callSid), keys.calls(this.#node), ...[...callIds].map((id) => keys.dialog(id))],
      [callSid, keys.dialog('')],
    );
  }

  /** Removes a node's records not of its incarnation alive now; returns how many. */
  async sweep(node: string): Promise<number> {
    const n = await this.#sweep.run([keys.calls(node)], [keys.alive(node), keys.call(''), keys.dialog('')]);
    return typeof n === 'number' ? n : 0;
  }

  /** The calls of the other nodes Redis names alive (their incarnation: the caller checks it). */
  async others(): Promise<Array<{ call: LiveCall; incarnation: string }>> {
    const reply = await this.#list.run(
      [keys.nodes],
      [this.#node, keys.alivePrefix, keys.calls(''), keys.call(''), ...LISTED_FIELDS],
    );
    if (!Array.isArray(reply)) throw new ClusterProtocolError('calls: expected a list of call records');
    const out: Array<{ call: LiveCall; incarnation: string }> = [];
    for (const row of reply) {
      if (!Array.isArray(row)) continue;
      const c = listedCall(row.map(str));
      if (c !== null) out.push(c);
    }
    return out;
  }

  /** The node holding a call, or null when Redis has no such call. */
  async owner(callSid: string): Promise<CallOwner | null> {
    let h: Array<string | null>;
    try {
      h = (await this.#link.client().hmGet(keys.call(callSid), ['node', 'incarnation'])) as Array<string | null>;
    } catch (err) {
      throw this.#link.failure('call owner', err);
    }
    const node = str(h[0]);
    return node === null ? null : { node, incarnation: str(h[1]) ?? '' };
  }

  /** The node holding the call one of whose legs has this Call-ID, or null. */
  async dialogOwner(callId: string): Promise<DialogOwner | null> {
    const reply = await this.#dialog.run([keys.dialog(callId)], [keys.node('')]);
    if (reply === null) return null;
    if (!Array.isArray(reply) || reply.length !== 4) throw new ClusterProtocolError('dialog: expected 4 values');
    let sip: string[] = [];
    try {
      const parsed: unknown = JSON.parse(String(reply[3]));
      if (Array.isArray(parsed)) sip = parsed.map(String);
    } catch {
      // a node record written by hand: no address
    }
    return { node: String(reply[0]), incarnation: String(reply[1]), callSid: String(reply[2]), sip };
  }
}
