/**
 * Registrations in a cluster. Every node reads every binding from the
 * shared store, but a binding that came on a connection or from behind a
 * NAT (the store's holdsFlow) can only be reached through the node that
 * took its REGISTER, which the binding names (node id and incarnation: one
 * run of that node).
 *
 * - reach(): another node's binding is a target through that node, RFC 3327
 *   / RFC 5626 style: a Route to its SIP address (TCP when it listens on
 *   TCP: a dead node refuses at once) carrying a flow token, the branch
 *   answering 480 when that node cannot be reached. A binding whose run
 *   ended (gone from the node table, or alive as another incarnation:
 *   restarted, its connections gone with the old run) is no target and is
 *   dropped from the store.
 * - resolve(): a request routed to us with our token goes out on the
 *   binding's flow: its connection while open, else its received address;
 *   null (the proxy answers 430) when the token or the flow is gone.
 * - When a node's run ends every node drops its bindings that held a flow;
 *   at start and every minute, those of every run no longer alive too (a
 *   node that died while this one was down).
 * - registrations(): live bindings this run took, counted every 5 s (the
 *   node's figure in the node table).
 *
 * The token key is the cluster's: `tl:flow-key` in Redis, set by the first
 * node (SET NX), read again whenever Redis comes back (it may have
 * restarted empty).
 */
import { randomBytes } from 'node:crypto';
import type { Cluster } from '../cluster/cluster.js';
import { keys } from '../cluster/keys.js';
import { FLOW_PARAM, FlowTokens } from '../proxy/flow-token.js';
import type { BranchTarget } from '../proxy/forward-context.js';
import type { FlowDelivery } from '../proxy/proxy-env.js';
import { isSipUri, parseUri, type SipUri } from '../sip/uri.js';
import { holdsFlow, type BindingOwner, type LocationBinding, type Store } from '../store/index.js';
import type { ConnectionInfo } from '../transport/types.js';
import { toTarget, type FlowHolders, type LocationTarget } from './location.js';

/** How often the figure is counted again. */
const COUNT_MS = 5000;
/** How often the bindings of runs no longer alive are looked for. */
const SWEEP_MS = 60_000;
/** What a branch to a node that cannot be reached answers (RFC 3261 21.4.18: the callee cannot be reached now). */
const UNREACHABLE = 480;

export interface ClusterFlowsLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface ClusterFlowsDeps {
  cluster: Cluster;
  store: Store;
  transport: { connectionInfo(id: number): ConnectionInfo | undefined };
  log: ClusterFlowsLog;
}

export class ClusterFlows implements FlowHolders, FlowDelivery {
  /** This node's run: written with every binding it takes. */
  readonly self: BindingOwner;
  readonly #d: ClusterFlowsDeps;
  #tokens: FlowTokens | null = null;
  /** node id -> its incarnation and the base of a Route to it (`sip:host:port;transport=tcp`), null: none usable. */
  readonly #addresses = new Map<string, { incarnation: string; base: string | null }>();
  #owned = 0;
  #timers: NodeJS.Timeout[] = [];
  #stopped = false;

  constructor(d: ClusterFlowsDeps) {
    this.#d = d;
    this.self = { node: d.cluster.nodes.id, incarnation: d.cluster.nodes.incarnation };
  }

  /** Reads (or sets) the token key; rejects when Redis cannot be reached. */
  async start(): Promise<void> {
    await this.#loadKey();
    const { cluster } = this.#d;
    cluster.link.onChange((up) => {
      if (up) this.#loadKey().catch((err: unknown) => this.#warn(err, 'cluster: flow key not read again'));
    });
    cluster.nodes.onGone((node, incarnation) => void this.#dropRun({ node, incarnation }));
    void this.#sweep();
    void this.#count();
    this.#timers = [setInterval(() => void this.#count(), COUNT_MS), setInterval(() => void this.#sweep(), SWEEP_MS)];
    for (const t of this.#timers) t.unref();
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
  }

  /** Live bindings this run took, as last counted. */
  registrations(): number {
    return this.#owned;
  }

  async reach(b: LocationBinding): Promise<'here' | 'none' | LocationTarget> {
    if (b.ownerNode === null || b.ownerIncarnation === null || !holdsFlow(b)) return 'here';
    const owner: BindingOwner = { node: b.ownerNode, incarnation: b.ownerIncarnation };
    if (owner.node === this.self.node && owner.incarnation === this.self.incarnation) return 'here';
    const { nodes } = this.#d.cluster;
    if (!nodes.isAlive(owner.node, owner.incarnation)) {
      // The table is a heartbeat old: a node that joined since is asked of Redis before its binding goes.
      const alive = await this.#aliveNow(owner);
      if (alive !== true) {
        if (alive === false) await this.#drop(owner, [b.id]);
        return 'none';
      }
    }
    const base = await this.#baseOf(owner);
    if (base === null || this.#tokens === null) return 'none';
    const route = `${base};lr;${FLOW_PARAM}=${this.#tokens.make(b.id, owner.incarnation)}`;
    const hop = parseUri(route) as SipUri;
    return { requestUri: b.contact, hop, routes: [`<${route}>`], unreachable: UNREACHABLE };
  }

  async resolve(token: string): Promise<BranchTarget | null> {
    const id = this.#tokens?.verify(token, this.self.incarnation) ?? null;
    if (id === null) return null;
    const b = await this.#d.store.location.get(id);
    if (b === undefined || b.ownerNode !== this.self.node || b.ownerIncarnation !== this.self.incarnation) return null;
    if (b.proto === 'udp') {
      const t = toTarget(b.contact, b.received, b.path);
      return t === null ? null : { hop: t.hop };
    }
    // A stream flow: only the connection it registered on reaches it (RFC 5626 5.3: else 430).
    const conn = b.connectionId === null ? undefined : this.#d.transport.connectionInfo(Number(b.connectionId));
    if (conn === undefined || conn.state !== 'open' || conn.proto !== b.proto) return null;
    const host = conn.remoteHost.includes(':') ? `[${conn.remoteHost}]` : conn.remoteHost;
    const hop = parseUri(`sip:${host}:${conn.remotePort};transport=${conn.proto}`);
    return isSipUri(hop) ? { hop } : null;
  }

  async #loadKey(): Promise<void> {
    const { link } = this.#d.cluster;
    try {
      const c = link.client();
      await c.set(keys.flowKey, randomBytes(32).toString('hex'), { condition: 'NX' });
      const hex = await c.get(keys.flowKey);
      if (hex === null || !/^[0-9a-f]{32,}$/.test(hex)) throw new Error(`${keys.flowKey} is not a hex key`);
      this.#tokens = new FlowTokens(Buffer.from(hex, 'hex'));
    } catch (err) {
      throw link.failure('flow key', err);
    }
  }

  /** Whether the run is alive by Redis now; null when Redis cannot say. */
  async #aliveNow(owner: BindingOwner): Promise<boolean | null> {
    try {
      return (await this.#d.cluster.link.client().get(keys.alive(owner.node))) === owner.incarnation;
    } catch {
      return null;
    }
  }

  /** The base of a Route to the run's node: its TCP listener, else its UDP one; null when it has neither. */
  async #baseOf(owner: BindingOwner): Promise<string | null> {
    const known = this.#addresses.get(owner.node);
    if (known?.incarnation === owner.incarnation) return known.base;
    try {
      for (const n of await this.#d.cluster.nodes.list())
        this.#addresses.set(n.id, { incarnation: n.incarnation, base: routeBase(n.sip) });
    } catch (err) {
      this.#warn(err, 'cluster: node addresses not read');
      return null;
    }
    const found = this.#addresses.get(owner.node);
    return found?.incarnation === owner.incarnation ? found.base : null;
  }

  async #drop(owner: BindingOwner, ids: number[] | null): Promise<void> {
    try {
      const n = await this.#d.store.location.removeFlowsOf(owner, ids);
      if (n > 0)
        this.#d.log.info(
          { node: owner.node, incarnation: owner.incarnation, bindings: n },
          'cluster: bindings of a node gone dropped',
        );
    } catch (err) {
      this.#warn(err, 'cluster: bindings of a node gone not dropped');
    }
  }

  #dropRun(owner: BindingOwner): Promise<void> {
    this.#addresses.delete(owner.node);
    return this.#drop(owner, null);
  }

  /** Drops the bindings of every run that holds flows and is not alive by Redis now. */
  async #sweep(): Promise<void> {
    if (this.#stopped || !this.#d.cluster.link.up) return;
    try {
      for (const owner of await this.#d.store.location.flowOwners()) {
        if (owner.node === this.self.node && owner.incarnation === this.self.incarnation) continue;
        if ((await this.#aliveNow(owner)) === false) await this.#drop(owner, null);
      }
    } catch (err) {
      if (!this.#stopped) this.#warn(err, 'cluster: sweep of bindings failed');
    }
  }

  async #count(): Promise<void> {
    if (this.#stopped) return;
    try {
      this.#owned = await this.#d.store.location.countOwned(this.self);
    } catch (err) {
      if (!this.#stopped) this.#d.log.debug({ err: String(err) }, 'cluster: registrations not counted');
    }
  }

  #warn(err: unknown, msg: string): void {
    this.#d.log.warn({ err: err instanceof Error ? err.message : String(err) }, msg);
  }
}

/** `sip:host:port;transport=tcp` of a node's listeners (`proto:host:port`): TCP first, else UDP; null when neither. */
export function routeBase(sip: readonly string[]): string | null {
  for (const proto of ['tcp', 'udp']) {
    const l = sip.find((s) => s.startsWith(`${proto}:`));
    if (l === undefined) continue;
    const hostPort = l.slice(proto.length + 1);
    if (!/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(hostPort)) continue;
    // A wildcard listener without `advertise` names no address the others can send to.
    if (hostPort.startsWith('0.0.0.0:') || hostPort.startsWith('[::]:')) continue;
    return `sip:${hostPort};transport=${proto}`;
  }
  return null;
}
