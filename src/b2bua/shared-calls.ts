/**
 * A cluster node's live calls shared with the other nodes (call-records.ts
 * has the Redis side):
 *
 * - each call is written at its start, at each change of its state or of a
 *   dialog, and removed at its end; write-behind: the call only marks itself
 *   dirty, never waits, and goes on whatever Redis does (a failed write is
 *   tried again; when Redis comes back every call is written again);
 * - the listing (`trunkline calls`, GET /api/v1/calls) is this node's calls
 *   and those Redis has of the other live nodes, each with its node; a dead
 *   node's calls are left out, and its records removed by the survivors;
 * - a hang-up of a call another node holds goes to it over the bus;
 * - an in-dialog request for a call of another node (the peer sent it to
 *   the wrong node) is forwarded there by the proxy (nodeOf).
 *
 *   const shared = new SharedCalls(cluster, b2bua, media, log);
 *   shared.start();  ...  await shared.stop();   // the last changes written (1 s at most)
 */
import type { Cluster } from '../cluster/cluster.js';
import { listNodes } from '../cluster/nodes.js';
import type { LinkLog } from '../cluster/redis-link.js';
import { isSipUri, parseUri, type SipUri } from '../sip/uri.js';
import type { Flow, TransportProto } from '../transport/types.js';
import type { B2bua, CallWatcher, LiveCall } from './b2bua.js';
import type { Call } from './call.js';
import { callRecord } from './call-record.js';
import { CallRecords, type RecordBatch } from './call-records.js';
import type { MediaLink } from './media-link.js';

/** Changes within this long are written together (one script): a socket write to Redis costs more than the script. */
const FLUSH_MS = 100;
/** A write that failed, or that Redis refused (this node not alive there yet), is tried again after this. */
const RETRY_MS = 500;
/** The other nodes' addresses are read again this often (and when one goes). */
const PEERS_MS = 10_000;
/** Calls written by one script at most (after Redis came back, every call is): Redis stays responsive. */
const MAX_BATCH = 500;
/** At stop, the last writes wait this long at most. */
const STOP_WAIT_MS = 1000;

export class SharedCalls implements CallWatcher {
  readonly #cluster: Cluster;
  readonly #b2bua: B2bua;
  readonly #media: MediaLink;
  readonly #log: LinkLog;
  readonly #records: CallRecords;
  /** SIDs whose record is behind: written (live) or removed (ended) at the next flush. */
  readonly #dirty = new Set<string>();
  /** The Call-IDs indexed per call (earlier attempts' too), so that each entry goes with its call. */
  readonly #indexed = new Map<string, Set<string>>();
  /** SIDs a write was sent for (a record may be in Redis): an ended call never sent costs no removal. */
  readonly #sent = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  #flushing: Promise<unknown> | null = null;
  #peersTimer: NodeJS.Timeout | null = null;
  /** Hosts of the other nodes' SIP listeners. */
  #peerHosts = new Set<string>();
  /** A write failure was logged; the next success says so. */
  #failing = false;
  #stopped = false;

  constructor(cluster: Cluster, b2bua: B2bua, media: MediaLink, log: LinkLog) {
    this.#cluster = cluster;
    this.#b2bua = b2bua;
    this.#media = media;
    this.#log = log;
    this.#records = new CallRecords(cluster.link, cluster.id, cluster.nodes.incarnation);
    b2bua.share(cluster.id, this);
  }

  get #self(): string {
    return this.#cluster.id;
  }

  start(): void {
    const c = this.#cluster;
    c.bus.on('hangup', (data) => {
      if (data['node'] === this.#self && typeof data['callSid'] === 'string') this.#b2bua.hangUp(data['callSid']);
    });
    c.nodes.onGone((id) => {
      void this.#sweep(id);
      void this.#refreshPeers();
    });
    c.link.onChange((up) => {
      if (!up || this.#stopped) return;
      // Redis is back (maybe empty, maybe swept of this node meanwhile): every call is written again.
      for (const call of this.#b2bua.calls()) this.#dirty.add(call.callSid);
      this.#schedule(0);
      void this.#sweepAll();
    });
    void this.#sweepAll();
    void this.#refreshPeers();
    this.#peersTimer = setInterval(() => void this.#refreshPeers(), PEERS_MS);
    this.#peersTimer.unref();
  }

  /** Writes what is still behind (the calls just ended at shutdown), STOP_WAIT_MS at most. */
  async stop(): Promise<void> {
    if (this.#peersTimer !== null) clearInterval(this.#peersTimer);
    this.#peersTimer = null;
    const deadline = Date.now() + STOP_WAIT_MS;
    while (this.#dirty.size > 0 && this.#cluster.link.up && Date.now() < deadline) {
      if (this.#flushing === null) void this.#flush();
      await Promise.race([this.#flushing, new Promise((r) => setTimeout(r, 50))]);
    }
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  // ---- CallWatcher (the B2BUA) ----

  changed(call: Call): void {
    this.#dirty.add(call.callSid);
    this.#schedule(FLUSH_MS);
  }

  ended(call: Call): void {
    this.changed(call);
  }

  isNodeFlow(flow: Flow): boolean {
    return this.#peerHosts.has(flow.remoteHost);
  }

  // ---- the operator's side ----

  /** This node's calls and the other live nodes' (this node's alone while Redis cannot be reached). */
  async list(): Promise<LiveCall[]> {
    const out = this.#b2bua.liveCalls();
    if (!this.#cluster.link.up) return out;
    let others: Awaited<ReturnType<CallRecords['others']>>;
    try {
      others = await this.#records.others();
    } catch (err) {
      this.#log.warn({ err: String(err) }, "cluster: the other nodes' calls could not be read");
      return out;
    }
    const nodes = this.#cluster.nodes;
    const mine = new Set(out.map((c) => c.callSid));
    const theirs = others
      .filter((o) => {
        const node = o.call.node ?? '';
        return node !== this.#self && !mine.has(o.call.callSid) && nodes.isAlive(node, o.incarnation);
      })
      .map((o) => o.call)
      .sort((x, y) => x.startAt - y.startAt);
    return [...out, ...theirs];
  }

  /**
   * Hangs up a call of any node: this node's at once, another live node's
   * by the bus (its node ends it). False when no live node holds it; throws
   * RedisUnavailableError when it is not here and Redis cannot say.
   */
  async hangUp(callSid: string): Promise<boolean> {
    if (this.#b2bua.hangUp(callSid)) return true;
    const owner = await this.#records.owner(callSid);
    if (owner === null || owner.node === this.#self || !this.#cluster.nodes.isAlive(owner.node, owner.incarnation))
      return false;
    await this.#cluster.bus.publish('hangup', { callSid, node: owner.node });
    return true;
  }

  /**
   * Where to forward an in-dialog request this node has no dialog for: the
   * SIP address (same transport when it has one) of the live node whose call
   * has this Call-ID; null when none (or Redis cannot say: the request gets
   * the answer it gets today).
   */
  async nodeOf(callId: string, proto: TransportProto): Promise<SipUri | null> {
    if (!this.#cluster.link.up) return null;
    let o: Awaited<ReturnType<CallRecords['dialogOwner']>>;
    try {
      o = await this.#records.dialogOwner(callId);
    } catch {
      return null;
    }
    if (o === null || o.node === this.#self || !this.#cluster.nodes.isAlive(o.node, o.incarnation)) return null;
    const addr = o.sip.find((s) => s.startsWith(`${proto}:`)) ?? o.sip.find((s) => s.startsWith('udp:'));
    const m = addr === undefined ? null : /^(\w+):(.+):(\d+)$/.exec(addr);
    if (m === null) return null;
    const uri = parseUri(`sip:${m[2]!}:${m[3]!};transport=${m[1]!}`);
    return isSipUri(uri) ? uri : null;
  }

  // ---- writing ----

  #schedule(delayMs: number): void {
    if (this.#timer !== null || this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#flush();
    }, delayMs);
    this.#timer.unref();
  }

  /** Writes every dirty call in one script; those not taken stay dirty (again in RETRY_MS, or all of them when Redis is back). */
  async #flush(): Promise<void> {
    if (this.#flushing !== null || this.#dirty.size === 0 || !this.#cluster.link.up) return;
    const batch = this.#batch();
    const done = this.#send(batch);
    this.#flushing = done;
    const retry = !(await done);
    this.#flushing = null;
    // While Redis is down nothing is retried: its return writes every call.
    if (this.#dirty.size > 0 && this.#cluster.link.up) this.#schedule(retry ? RETRY_MS : FLUSH_MS);
  }

  /** Up to MAX_BATCH dirty calls as writes (no longer dirty): a live call's record, an ended call's removal (none when it never reached Redis). */
  #batch(): RecordBatch {
    const batch: RecordBatch = { puts: [], drops: [] };
    let n = 0;
    for (const sid of this.#dirty) {
      if (n++ === MAX_BATCH) break;
      this.#dirty.delete(sid);
      const call = this.#b2bua.call(sid);
      const had = this.#indexed.get(sid);
      if (call === undefined) {
        // Started and ended within one flush (FLUSH_MS): nothing of it ever reached Redis.
        if (this.#sent.has(sid)) batch.drops.push({ sid, ids: had === undefined ? [] : [...had] });
        continue;
      }
      const legs: Array<[string, 'a' | 'b']> = [[call.a.callId, 'a']];
      if (call.b !== null) legs.push([call.b.callId, 'b']);
      const stale = had === undefined ? [] : [...had].filter((id) => !legs.some((l) => l[0] === id));
      const rec = callRecord(call, this.#self, this.#cluster.nodes.incarnation, this.#media.relayOf(sid));
      batch.puts.push({ sid, rec, legs, stale });
    }
    return batch;
  }

  /** Sends a batch; true when all of it was taken, else its calls are dirty again. */
  async #send(batch: RecordBatch): Promise<boolean> {
    for (const p of batch.puts) this.#sent.add(p.sid);
    let taken: boolean;
    try {
      taken = await this.#records.write(batch);
    } catch (err) {
      for (const c of [...batch.puts, ...batch.drops]) this.#dirty.add(c.sid);
      if (!this.#failing && this.#cluster.link.up)
        this.#log.warn({ err: String(err) }, 'cluster: call records could not be written (tried again)');
      this.#failing = true;
      return false;
    }
    this.#failing = false;
    for (const d of batch.drops) {
      this.#indexed.delete(d.sid);
      this.#sent.delete(d.sid);
    }
    // Not alive in Redis yet (or swept): the live calls are written again later.
    if (!taken) for (const p of batch.puts) this.#dirty.add(p.sid);
    // A call that ended while written is dirty again: the next flush removes it.
    else for (const p of batch.puts) this.#indexed.set(p.sid, new Set(p.legs.map((l) => l[0])));
    return taken || batch.puts.length === 0;
  }

  // ---- the other nodes ----

  /** Removes the records of a node that are not of its live incarnation (a dead node's: all). */
  async #sweep(node: string): Promise<void> {
    if (!this.#cluster.link.up) return;
    try {
      const n = await this.#records.sweep(node);
      if (n > 0) this.#log.info({ node: node, calls: n }, "cluster: a gone node's calls removed");
    } catch (err) {
      this.#log.warn({ node, err: String(err) }, "cluster: a gone node's calls could not be removed");
    }
  }

  /** Every node's leftovers: deaths nobody saw (this node was down, or cut off from Redis). */
  async #sweepAll(): Promise<void> {
    if (!this.#cluster.link.up) return;
    try {
      const nodes = await listNodes(this.#cluster.link);
      for (const n of nodes) await this.#sweep(n.id);
    } catch {
      // Redis went again: its return sweeps
    }
  }

  async #refreshPeers(): Promise<void> {
    if (!this.#cluster.link.up) return;
    try {
      const nodes = await listNodes(this.#cluster.link);
      const hosts = new Set<string>();
      for (const n of nodes) {
        if (n.id === this.#self) continue;
        for (const s of n.sip) {
          const m = /^\w+:\[?(.+?)\]?:\d+$/.exec(s);
          if (m !== null) hosts.add(m[1]!);
        }
      }
      this.#peerHosts = hosts;
    } catch {
      // kept as they were
    }
  }
}
