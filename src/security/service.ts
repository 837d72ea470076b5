/**
 * The security edge assembled: the gate (steps 1-2, before parsing), the
 * pipeline (steps 3-8, before the transaction layer), the brute-force
 * counter (step 9, fed by digest authentication), call barring (step 10,
 * for the trunking stage), and the live link with the store: bans, access
 * lists and black/white lists are reloaded when `store.changes()` moves
 * (polled every second, so a CLI change acts within 2 s), and the server's
 * own bans are written there (`trunkline ban list` shows them). In a
 * cluster (`attachCluster()`), the store is shared, bans this node makes and
 * lifts it reads are sent to the other nodes at once (cluster-bans.ts), and
 * authentication failures are counted across the nodes (shared-failures.ts).
 *
 * Hooks for the trunking stage (B2BUA), which classifies calls:
 * - `trust.setExtra(cidrs)`: trunk and carrier gateway addresses, never banned;
 * - `checkAcl(ip, method, direction)`: the access lists with the direction known;
 * - `checkDestination(e164)`: the dest black/white lists on the normalised number;
 * - `checkBarring(account, trunk, dialled, now)`: time-based call barring.
 */
import { watchPeers } from '../cluster/peers.js';
import type { Counters } from '../core/counters.js';
import type { Responder } from '../core/responder.js';
import type { SipUri } from '../sip/uri.js';
import type { Store } from '../store/index.js';
import { BanRepo } from '../store/repos/bans.js';
import { AclRepo } from '../store/repos/acl.js';
import { ListRepo } from '../store/repos/lists.js';
import { BanList, type Ban, type BanSource } from './ban-list.js';
import { FloodDetector } from './flood.js';
import { SecurityGate } from './gate.js';
import { SecurityPipeline } from './pipeline.js';
import { AccessList, type AclDirection, type AclVerdict } from './acl.js';
import { SecurityLists, type ListEntry, type ListVerdict } from './lists.js';
import type { SipMessage } from '../sip/message.js';
import type { Flow } from '../transport/types.js';
import { BanningFailureCounter } from './brute-force.js';
import { checkCallBarring, type BarringVerdict } from './call-barring.js';
import { TrustedAddresses } from './trust.js';
import type { SecurityConfig } from './config.js';
import type { Cluster } from '../cluster/cluster.js';
import { ClusterBans } from './cluster-bans.js';
import { SharedFailureCounter } from './shared-failures.js';
import { watchStoreChanges } from '../store/change-watch.js';

export interface SecurityLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface SecurityServiceOptions {
  config: SecurityConfig;
  store: Store;
  counters: Counters;
  responder: Responder;
  log: SecurityLog;
  /** The server's own listen/advertise IPs. */
  selfAddresses: readonly string[];
  isForUs: (uri: SipUri) => boolean;
  /** Store poll period (ms), default 1000. */
  pollMs?: number;
  /** Closes a stream connection of a banned source (the transport's closeConnection). */
  closeConnection?: (id: number) => void;
}

export class SecurityService {
  readonly trust: TrustedAddresses;
  readonly bans: BanList;
  /** The steps as the current config makes them (rebuilt by `configure()` on SIGHUP). */
  flood: FloodDetector | null = null;
  gate: SecurityGate | null = null;
  pipeline: SecurityPipeline | null = null;
  /**
   * The counter to give the registrar and proxy authentication (null when
   * brute force is off). Made once: its threshold and window are read at start.
   */
  readonly failures: BanningFailureCounter | null;
  private config: SecurityConfig;
  private acl = new AccessList([]);
  private lists: SecurityLists;
  private listRows: ListEntry[] = [];
  private readonly banRepo: BanRepo;
  private readonly aclRepo: AclRepo;
  private readonly listRepo: ListRepo;
  private unwatch: (() => void) | null = null;
  private stopPeers: () => void = () => undefined;
  private lastChanges = -1;
  private polling = false;
  private lastPurge = 0;
  /** Bans by hand (`ban add`, the API) made after this time are counted when read from the store. */
  private manualSeen = Date.now();
  /** The cluster's side of the bans (null alone). */
  private clusterBans: ClusterBans | null = null;
  /** True while the store's bans are being applied (a lift then is one by hand seen in the store). */
  private readingStore = false;

  constructor(private readonly o: SecurityServiceOptions) {
    const c = o.config;
    this.config = c;
    this.trust = new TrustedAddresses(c.trusted, o.selfAddresses, c.trustSelf);
    this.bans = new BanList({ isTrusted: this.trust.isTrusted, log: o.log });
    this.trust.onChange(() => {
      this.bans.setTrusted(this.trust.isTrusted);
      this.flood?.setTrusted(this.trust.isTrusted);
    });
    this.lists = new SecurityLists([], c.lists.sqlInjection);
    this.failures =
      c.enabled && c.bruteForce.enabled
        ? new BanningFailureCounter(c.bruteForce, (ip, reason, seconds) => {
            this.o.counters.inc('security_bruteforce_bans');
            this.ban(ip, reason, seconds, 'brute-force');
          })
        : null;
    this.bans.onLift = (ip, how, ban) => {
      if (how === 'by hand') {
        this.failures?.reset('ip', ip);
        this.flood?.forget(ip);
        if (this.readingStore) this.clusterBans?.announceLift(ban);
      }
    };
    this.banRepo = new BanRepo(o.store.ctx);
    this.aclRepo = new AclRepo(o.store.ctx);
    this.listRepo = new ListRepo(o.store.ctx);
    this.configure(c);
  }

  /**
   * (Re)builds the gate and the pipeline from a config (at start, and on
   * SIGHUP: the caller installs the new `gate` in the ingress). Bans, store
   * entries and the trusted hook's addresses carry over; `trustSelf` and
   * `bruteForce` are read at start only.
   */
  configure(c: SecurityConfig): void {
    this.config = c;
    const on = c.enabled;
    this.trust.setConfigured(c.trusted);
    this.flood =
      on && c.flood.enabled
        ? new FloodDetector({ density: c.flood.density, unit: c.flood.unit, isTrusted: this.trust.isTrusted })
        : null;
    const bansOn = on && c.bans.enabled;
    this.gate =
      bansOn || this.flood !== null
        ? new SecurityGate(
            bansOn ? this.bans : null,
            this.flood,
            this.o.counters,
            (ip) =>
              this.ban(
                ip,
                `flood: more than ${c.flood.density} requests in ${c.flood.unit} s`,
                c.flood.banSeconds,
                'flood',
              ),
            this.o.closeConnection ?? null,
          )
        : null;
    this.pipeline = on
      ? new SecurityPipeline({
          config: c,
          isForUs: this.o.isForUs,
          counters: this.o.counters,
          responder: this.o.responder,
          log: this.o.log,
        })
      : null;
    this.lists = new SecurityLists(this.listRows, c.lists.sqlInjection);
    this.pipeline?.setAcl(this.acl);
    this.pipeline?.setLists(this.lists);
  }

  /** Steps 3-8 for a parsed request: false when the pipeline answered or dropped it. */
  admit(req: SipMessage, flow: Flow): boolean {
    return this.pipeline === null || this.pipeline.admit(req, flow);
  }

  /** Loads bans and lists from the store, then polls it. */
  async start(): Promise<void> {
    await this.reload();
    this.unwatch?.();
    this.unwatch = watchStoreChanges(this.o.store, this.o.pollMs ?? 1000, () => void this.poll());
  }

  stop(): void {
    this.unwatch?.();
    this.unwatch = null;
    this.stopPeers();
  }

  /**
   * Joins the cluster's bans: bans go to the other nodes by the bus as well
   * as the store, and authentication failures are counted in Redis (the
   * brute-force settings as read at start).
   */
  attachCluster(cluster: Cluster): void {
    // The other nodes forward calls here: never flood-counted nor banned (src/cluster/peers.ts).
    this.stopPeers = watchPeers(cluster, (hosts) => this.trust.setPeers(hosts));
    this.clusterBans = new ClusterBans(cluster.bus, this.bans, this.o.log);
    const bf = this.config.bruteForce;
    this.failures?.share(
      new SharedFailureCounter(cluster.link, { threshold: bf.threshold, windowMs: bf.window * 1000, node: cluster.id }),
      this.o.log,
    );
  }

  /** Bans an address now (memory first, then the other nodes of a cluster, then the store). */
  ban(ip: string, reason: string, seconds: number | null, source: BanSource): void {
    const b = this.bans.add(ip, reason, seconds, source);
    if (b === null) return;
    this.clusterBans?.announce(b, source);
    this.banRepo
      .add(b.ip, { reason, source, expiresAt: b.expiresAt, createdAt: b.createdAt })
      .then(() => this.bans.markPersisted(b.ip))
      .catch((err: unknown) =>
        this.o.log.warn({ mod: 'security', ip: b.ip, err: String(err) }, 'writing a ban to the store failed'),
      );
  }

  /** The ban that holds `ip` now when bans are on (the API refuses such a source too), else undefined. */
  activeBan(ip: string): Ban | undefined {
    return this.config.enabled && this.config.bans.enabled ? this.bans.enforced(ip) : undefined;
  }

  checkAcl(ip: string, method: string, direction: AclDirection): AclVerdict {
    if (!this.config.enabled || !this.config.acl.enabled) return { allowed: true, entry: null, reason: '' };
    return this.acl.decide(ip, method, direction);
  }

  checkDestination(dialled: string): ListVerdict | null {
    return this.config.enabled && this.config.lists.enabled ? this.lists.checkDestination(dialled) : null;
  }

  checkBarring(account: string | null, trunk: string | null, dialled: string, now = new Date()): BarringVerdict {
    return checkCallBarring(this.config.callBarring, { account, trunk, dialled, now });
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      this.bans.sweep();
      const n = await this.o.store.changes();
      if (n !== this.lastChanges) await this.reload(n);
      const now = Date.now();
      if (now - this.lastPurge > 60_000) {
        this.lastPurge = now;
        await this.banRepo.purgeExpired();
      }
    } catch (err) {
      this.o.log.warn({ mod: 'security', err: String(err) }, 'security: reading the store failed');
    } finally {
      this.polling = false;
    }
  }

  private async reload(changes?: number): Promise<void> {
    const n = changes ?? (await this.o.store.changes());
    const readAt = Date.now();
    const [bans, acl, lists] = await Promise.all([this.banRepo.list(), this.aclRepo.list(), this.listRepo.list()]);
    this.lastChanges = n;
    // Bans by hand reach the server through the store only: counted once each, by their creation time.
    let newest = this.manualSeen;
    for (const b of bans) {
      if (b.source !== 'manual' || b.createdAt <= this.manualSeen) continue;
      this.o.counters.inc('security_manual_bans');
      newest = Math.max(newest, b.createdAt);
    }
    this.manualSeen = newest;
    this.readingStore = true;
    try {
      this.bans.replaceFromStore(
        bans.map((b) => ({ ip: b.ip, reason: b.reason, expiresAt: b.expiresAt, createdAt: b.createdAt })),
        readAt,
      );
    } finally {
      this.readingStore = false;
    }
    this.acl = new AccessList(acl);
    this.listRows = lists;
    this.lists = new SecurityLists(lists, this.config.lists.sqlInjection);
    if (this.lists.skipped.length > 0) {
      this.o.log.warn(
        { mod: 'security', rows: this.lists.skipped },
        'security lists: rows that do not parse are left out',
      );
    }
    this.pipeline?.setAcl(this.acl);
    this.pipeline?.setLists(this.lists);
  }
}
