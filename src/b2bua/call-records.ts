/**
 * The live calls of a cluster in Redis, one Lua script per operation (each
 * atomic, one round trip; a flush of a node's changes is one):
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

/**
 * One flush of a node's calls, as one JSON argument (a node's CPU goes per
 * argument sent, Redis's per field written): drops first (ended calls:
 * their record, their SID in the node's set, the index entries that still
 * name them), then puts, only while Redis names this node alive with its
 * incarnation (returns 1; else 0 and no put is written).
 * KEYS: this node's alive key, its calls set. ARGV: incarnation, node,
 * call key prefix, dialog key prefix, {puts: [{sid, rec, legs: [[callId,
 * side]], stale: [callId]}], drops: [{sid, ids: [callId]}]}.
 */
const WRITE_LUA = `
local inc, node, cp, dp = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local batch = cjson.decode(ARGV[5])
local function unindex(id, sid)
  if id and id ~= '' and redis.call('HGET', dp .. id, 'callSid') == sid then redis.call('DEL', dp .. id) end
end
for _, d in ipairs(batch.drops) do
  for _, id in ipairs(redis.call('HMGET', cp .. d.sid, 'aCallId', 'bCallId')) do unindex(id, d.sid) end
  for _, id in ipairs(d.ids) do unindex(id, d.sid) end
  redis.call('DEL', cp .. d.sid)
  redis.call('SREM', KEYS[2], d.sid)
end
if redis.call('GET', KEYS[1]) ~= inc then return 0 end
for _, p in ipairs(batch.puts) do
  local fields = {}
  for k, v in pairs(p.rec) do
    fields[#fields + 1] = k
    fields[#fields + 1] = v
  end
  redis.call('HSET', cp .. p.sid, unpack(fields))
  redis.call('SADD', KEYS[2], p.sid)
  for _, l in ipairs(p.legs) do
    redis.call('HSET', dp .. l[1], 'callSid', p.sid, 'node', node, 'incarnation', inc, 'side', l[2])
  end
  for _, id in ipairs(p.stale) do unindex(id, p.sid) end
end
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

/** A live call to write: its record, its legs' Call-IDs to index, Call-IDs indexed before and no longer its. */
export interface RecordPut {
  sid: string;
  rec: Record<string, string>;
  legs: Array<[callId: string, side: 'a' | 'b']>;
  stale: string[];
}

/** An ended call to remove, with the Call-IDs indexed for it. */
export interface RecordDrop {
  sid: string;
  ids: string[];
}

export interface RecordBatch {
  puts: RecordPut[];
  drops: RecordDrop[];
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export class CallRecords {
  readonly #link: RedisLink;
  readonly #node: string;
  readonly #incarnation: string;
  readonly #write: RedisScript;
  readonly #sweep: RedisScript;
  readonly #list: RedisScript;
  readonly #dialog: RedisScript;

  constructor(link: RedisLink, node: string, incarnation: string) {
    this.#link = link;
    this.#node = node;
    this.#incarnation = incarnation;
    this.#write = link.script(WRITE_LUA);
    this.#sweep = link.script(SWEEP_LUA);
    this.#list = link.script(LIST_LUA);
    this.#dialog = link.script(DIALOG_LUA);
  }

  /**
   * Writes a flush of this node's calls in one script: the ended ones
   * removed, the live ones written with their legs indexed. False when Redis
   * does not name this node alive now (the removals done, no call written).
   */
  async write(batch: RecordBatch): Promise<boolean> {
    const reply = await this.#write.run(
      [keys.alive(this.#node), keys.calls(this.#node)],
      [this.#incarnation, this.#node, keys.call(''), keys.dialog(''), JSON.stringify(batch)],
    );
    return reply === 1;
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
