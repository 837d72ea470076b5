/**
 * Trunking: the media engine, the trunking directory (a snapshot of the
 * store, reloaded on change), the B2BUA of trunk calls with its limits and
 * the call policy, the gateway monitor and the registrations kept with
 * carriers. Built once the listeners are bound; each periodic piece is a
 * part of its own, started and stopped by the parts list.
 */
import type { TrunklineConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import type { StageEnv } from '../core/stage-env.js';
import type { StoreTrunkingDirectory } from '../trunking/directory.js';
import { CallLimiter, type Limiter } from '../trunking/limits.js';
import type { Cluster } from '../cluster/cluster.js';
import { SharedLimiter } from '../cluster/shared-limits.js';
import { registerLimitMetrics } from '../cluster/metrics.js';
import { LeaseSet } from '../cluster/lease-set.js';
import { keys } from '../cluster/keys.js';
import { GatewayMonitor } from '../trunking/gateway-monitor.js';
import { B2bua } from '../b2bua/b2bua.js';
import type { B2buaEnv, CdrSink } from '../b2bua/env.js';
import { pingGateway } from '../b2bua/options-ping.js';
import { MediaLink } from '../b2bua/media-link.js';
import { CarrierRegistrations } from '../b2bua/carrier-registration.js';
import type { LegHeaderRule } from '../b2bua/headers.js';
import { SessionTimerPolicy } from '../b2bua/timer-policy.js';
import { TransferPolicy } from '../b2bua/transfer-policy.js';
import { udpProbesFor } from '../transport/udp-probe.js';
import type { TransportLayer } from '../transport/transport-layer.js';
import { createMediaEngine, type MediaEngine } from '../media/index.js';
import { parseUri } from '../sip/uri.js';
import { SecurityCallPolicy } from '../security/call-policy.js';
import { pricedCdr } from '../trunking/cost.js';
import type { SecurityService } from '../security/service.js';
import type { Location } from '../registrar/location.js';
import type { Operations } from '../api/operations.js';
import type { Part } from './parts.js';
import { QualityBoard } from '../trunking/quality.js';
import { GatewayLoad } from '../trunking/gateway-load.js';
import { carrierSettings } from '../config/quality-schema.js';
import type { BusEvent } from '../core/events.js';
import { RoutingModule } from '../trunking/routing-hook.js';
import { CdrBatch } from '../cdr/batch.js';

/** How long SIGTERM waits for the CDRs of the calls it ended to reach the store. */
const CDR_WAIT_MS = 5_000;

export interface Trunking {
  directory: StoreTrunkingDirectory;
  b2bua: B2bua;
  /** Null when gateways are not pinged (`trunking.ping.interval: 0`). */
  monitor: GatewayMonitor | null;
  carrierRegistrations: CarrierRegistrations;
  /** Carrier and gateway quality: rolling figures and demotions (`routing.quality`), fed by the bus's call.attempt. */
  quality: QualityBoard;
  /** The routing module in force (`routing.module`; null: none), loaded by routingModulePart. */
  routingModule: { current: RoutingModule | null };
  /** Replaces the header rules per trunk / carrier (`trunking.headers`), the session timers (`trunking.sessionTimer`), the transfer policy (`trunking.transfer`) and the gateway load settings (`routing.carriers`) for the calls to come. */
  setHeaderRules(config: TrunklineConfig): void;
}

export interface TrunkingDeps {
  config: TrunklineConfig;
  /** The trunking data (not loaded yet: directoryPart loads it). */
  directory: StoreTrunkingDirectory;
  store: Store;
  env: StageEnv;
  /** The transport itself: TLS fingerprints of connections, the listeners UDP probes leave from. */
  transport: TransportLayer;
  /** The media relay every trunk call's SDP goes through (none: SDP passes as is). */
  media: MediaLink;
  /** Our host in the From/To/PAI the B2BUA writes and in its gateway pings. */
  ourHost: string;
  security: SecurityService;
  location: Location;
  ops: Operations;
  log: Logger;
  /** The node's cluster (limits shared in its Redis), or null when it runs alone. */
  cluster: Cluster | null;
  /** Where CDRs go when not only to the store's cdrs (the CDR webhook's outbox too). */
  cdrs?: CdrSink;
}

function headerRuleMap(config: TrunklineConfig): Map<string, LegHeaderRule> {
  const m = new Map<string, LegHeaderRule>();
  for (const r of config.trunking.headers)
    m.set(r.trunk !== undefined ? `trunk:${r.trunk}` : `carrier:${r.carrier!}`, {
      keep: r.keep,
      strip: r.strip,
      add: r.add,
    });
  return m;
}

/** The media engine (built-in relay, rtpengine, or none); `link` is what the B2BUA holds once it started. */
export class MediaPart implements Part {
  readonly name = 'media engine';
  #engine: MediaEngine | null = null;
  link = new MediaLink(null);

  constructor(
    private readonly config: TrunklineConfig,
    private readonly address: string,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.#engine = createMediaEngine(this.config.media, this.address.replace(/^\[|\]$/g, ''), this.log);
    this.link = new MediaLink(this.#engine);
  }

  async stop(): Promise<void> {
    await this.#engine?.close();
  }
}

function buildMonitor(d: TrunkingDeps, env: B2buaEnv, directory: StoreTrunkingDirectory): GatewayMonitor | null {
  const ping = d.config.trunking.ping;
  if (ping.interval <= 0) return null;
  return new GatewayMonitor({
    intervalMs: ping.interval * 1000,
    downAfter: ping.downAfter,
    upAfter: ping.upAfter,
    gateways: () => [...directory.snapshot.carriers.values()].flatMap((c) => c.gateways),
    ping: (uri, done) => pingGateway(env, d.ourHost, uri, ping.timeout * 1000, done),
    onChange: (uri, up) => {
      // A gateway going down is the warning; coming up is news.
      if (up) d.log.info({ gateway: uri, up }, 'gateway up');
      else d.log.warn({ gateway: uri, up }, 'gateway down');
      d.ops.onGateway(uri, up);
    },
  });
}

/** The B2BUA's environment: the stage record, its timers, the CDR sink that prices CDRs first, the media, the policies. */
function b2buaEnvOf(d: TrunkingDeps, policies: Pick<B2buaEnv, 'sessionTimers' | 'transfers' | 'load'>): B2buaEnv {
  const { config, store, env, directory } = d;
  const sink: CdrSink = d.cdrs ?? new CdrBatch((cdrs) => store.cdrs.insertMany(cdrs));
  return {
    ...env,
    timers: {
      t1: env.layer.timers.t1,
      t2: env.layer.timers.t2,
      gatewayTimeoutMs: config.trunking.gatewayTimeout * 1000,
      ringTimeoutMs: config.trunking.ringTimeout * 1000,
    },
    // Answered outbound calls priced by the carrier's rate deck (src/trunking/cost.ts) before they are
    // written (and so POSTed by the CDR webhook); unpriced if the rates cannot be read.
    cdrs: {
      write: async (cdr) =>
        sink.write(
          await pricedCdr(
            cdr,
            (c, n, at) => directory.rates(c, n, at),
            (a, n, at) => store.prices.match(a, n, at),
          ).catch((err: unknown) => {
            d.log.warn({ callSid: cdr.callSid, err: String(err) }, 'CDR not priced: rates not read');
            return cdr;
          }),
        ),
    },
    media: d.media,
    probeUdp: udpProbesFor(d.transport.boundListeners()),
    ...policies,
  };
}

/** Gateways, carrier registrations, quality and load for the metrics and the API; calls come to operations by the bus. */
function attachToOperations(
  d: TrunkingDeps,
  t: Omit<Trunking, 'setHeaderRules' | 'directory'>,
  load: GatewayLoad,
): void {
  const { directory } = d;
  const { b2bua, monitor, carrierRegistrations, quality, routingModule } = t;
  d.ops.attachTrunking({
    calls: () => b2bua.liveCalls(),
    hangUp: (sid) => b2bua.hangUp(sid),
    callIds: (sid) => b2bua.callIds(sid),
    legOwner: (callId, tag) => b2bua.legOwner(callId, tag),
    gateways: () =>
      [...directory.snapshot.carriers.values()].flatMap((c) =>
        c.gateways.map((g) => ({
          carrier: c.name,
          gateway: g,
          up: monitor?.isUp(g) ?? true,
          state: monitor?.health(g) ?? 'up',
        })),
      ),
    carrierRegistrations: () => carrierRegistrations.list(),
    onCarrierRegistrationChange: (fn) => carrierRegistrations.onChange(fn),
    unknownSources: () => b2bua.unknownSources(),
    quality: () => quality.snapshot(),
    carrierSettings: () => load.list(),
    routingModule: () => routingModule.current,
    load: () =>
      [...directory.snapshot.carriers.values()].flatMap((c) => [
        { carrier: c.name, gateway: null, calls: load.calls(c.name) },
        ...c.gateways.map((g) => ({ carrier: c.name, gateway: g, calls: load.calls(c.name, g) })),
      ]),
  });
}

/** Builds the trunking pieces (nothing runs yet) and attaches them to operations (metrics, HEP, the API). */
export function buildTrunking(d: TrunkingDeps): Trunking {
  const { config, store, env, directory } = d;
  let headerRules = headerRuleMap(config);
  const sessionTimers = new SessionTimerPolicy(config.trunking.sessionTimer);
  const load = new GatewayLoad(carrierSettings(config.routing));
  const transfers = new TransferPolicy(config.trunking.transfer);
  const b2buaEnv = b2buaEnvOf(d, { sessionTimers, transfers, load });
  const monitor = buildMonitor(d, b2buaEnv, directory);
  const limiter = buildLimiter(d);
  const quality = new QualityBoard(config.routing.quality, { log: d.log.child({ mod: 'quality' }) });
  env.bus.subscribe((e) => {
    if (e.type === 'call.attempt') quality.record((e as BusEvent<'call.attempt'>).data);
  });
  const routingModule: Trunking['routingModule'] = { current: null };
  const b2bua = new B2bua(b2buaEnv, {
    routingModule: () => routingModule.current,
    prices: (a, n, at) => store.prices.match(a, n, at),
    log: d.log,
    directory,
    limiter,
    ourHost: d.ourHost,
    inUse: () => directory.snapshot.trunks.size + directory.snapshot.carriers.size > 0,
    policy: new SecurityCallPolicy(d.security),
    headerRule: (kind, name) => headerRules.get(`${kind}:${name}`) ?? null,
    gatewayUp: (uri) => monitor?.isUp(uri) ?? true,
    gatewayOrder: (c, callId) => load.order(c.name, c.gateways, callId),
    quality,
    fingerprintOf: (flow) =>
      flow.connectionId === null ? null : (d.transport.connectionInfo(flow.connectionId)?.tlsFingerprint ?? null),
    contacts: {
      async contactsOf(aor) {
        const r = await d.location.lookup(parseUri(`sip:${aor}`));
        return r.kind === 'found' ? r.targets : [];
      },
    },
  });
  const carrierRegistrations = new CarrierRegistrations(b2buaEnv, carrierGate(d));
  attachToOperations(d, { b2bua, monitor, carrierRegistrations, quality, routingModule }, load);
  return {
    directory,
    b2bua,
    monitor,
    carrierRegistrations,
    quality,
    routingModule,
    setHeaderRules: (next) => {
      headerRules = headerRuleMap(next);
      sessionTimers.update(next.trunking.sessionTimer);
      transfers.update(next.trunking.transfer);
      load.update(carrierSettings(next.routing));
    },
  };
}

/** In a cluster, one node at a time keeps each carrier's registration: the holder of its lease. Alone: null. */
function carrierGate(d: TrunkingDeps): LeaseSet | null {
  const cluster = d.cluster;
  if (cluster === null) return null;
  return new LeaseSet(cluster.link, {
    node: cluster.id,
    incarnation: cluster.nodes.incarnation,
    keyOf: keys.carrierLease,
    tokenKeyOf: keys.carrierLeaseToken,
    log: d.log.child({ mod: 'cluster' }),
  });
}

/** Limits of this node alone, or of the cluster (in its Redis, src/cluster/shared-limits.ts). */
function buildLimiter(d: TrunkingDeps): Limiter {
  const cluster = d.cluster;
  if (cluster === null) return new CallLimiter();
  const limiter = new SharedLimiter({
    link: cluster.link,
    node: cluster.id,
    aliveCount: () => cluster.nodes.aliveCount(),
    onRedisDown: cluster.onRedisDown,
    log: d.log.child({ mod: 'cluster' }),
  });
  registerLimitMetrics(d.ops.metrics, limiter);
  return limiter;
}

/** The B2BUA: a reload replaces the header rules; at stop, the CDRs of the calls ended reach the store (CDR_WAIT_MS at most). */
export function b2buaPart(t: Trunking, log: Logger): Part {
  return {
    name: 'B2BUA',
    reload: (next) => t.setHeaderRules(next),
    async stop() {
      // The ended calls' CDRs reach the store (their media released first) before it closes.
      const written = await Promise.race([
        t.b2bua.cdrsWritten().then(() => true),
        new Promise<false>((r) => setTimeout(() => r(false), CDR_WAIT_MS).unref()),
      ]);
      if (!written) log.warn({ waitedMs: CDR_WAIT_MS }, 'shutting down: CDRs still not written');
      t.b2bua.limiter.close?.();
    },
  };
}

/** The directory's first load, then its polling; a ban never locks out a configured trunk or carrier (their addresses are trusted). */
export function directoryPart(t: Trunking, security: SecurityService): Part {
  return {
    name: 'trunking directory',
    async start() {
      await t.directory.start();
      const trustTrunking = (snap: typeof t.directory.snapshot): void =>
        security.trust.setExtra([
          ...[...snap.trunks.values()].flatMap((e) => e.trunk.ip),
          ...[...snap.carrierAddresses.values()].flat(),
        ]);
      trustTrunking(t.directory.snapshot);
      t.directory.onReload(trustTrunking);
    },
    stop: () => t.directory.stop(),
  };
}

/** Registrations with carriers that want them (carrier add --register), kept in line with the store; un-REGISTERed at stop. */
export function carrierRegistrationsPart(t: Trunking): Part {
  return {
    name: 'carrier registrations',
    start() {
      t.carrierRegistrations.sync(t.directory.snapshot.carriers.values());
      t.directory.onReload((snap) => t.carrierRegistrations.sync(snap.carriers.values()));
    },
    // Registrations end (Expires: 0); their answers are waited for by the in-flight step, bounded
    // (in a cluster, here: 2 s at most, then the carrier leases are released for another node).
    stop: () => t.carrierRegistrations.stop(),
  };
}

/** Carrier quality: demotions end on time, a history point a minute (a timer only while there is work), the thresholds follow a reload, removed carriers are forgotten. */
export function qualityPart(t: Trunking): Part {
  let timer: NodeJS.Timeout | null = null;
  let running = false;
  const retain = (): void =>
    t.quality.retain(new Map([...t.directory.snapshot.carriers.values()].map((c) => [c.name, c.gateways])));
  const arm = (): void => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    const at = running ? t.quality.nextSweepAt() : null;
    if (at === null) return;
    timer = setTimeout(
      () => {
        timer = null;
        t.quality.sweep();
        arm();
      },
      Math.max(0, at - Date.now()),
    );
    timer.unref();
  };
  return {
    name: 'carrier quality',
    start() {
      running = true;
      t.quality.onWake(arm);
      arm();
      t.directory.onReload(() => {
        retain();
        arm();
      });
    },
    reload: (next) => t.quality.configure(next.routing.quality),
    stop() {
      running = false;
      arm();
    },
  };
}

/**
 * The routing module (`routing.module`): loaded at start (one that does not
 * load stops the start, naming the key) and anew at each reload (one that
 * does not load fails the reload and the one before stays).
 */
export function routingModulePart(t: Trunking, config: TrunklineConfig, log: Logger): Part {
  const mlog = log.child({ mod: 'routing-module' });
  const load = async (c: TrunklineConfig): Promise<void> => {
    const file = c.routing.module;
    t.routingModule.current =
      file === undefined ? null : await RoutingModule.load(file, c.routing.moduleBudgetMs, mlog);
    if (file !== undefined) mlog.info({ module: file, budgetMs: c.routing.moduleBudgetMs }, 'routing module loaded');
  };
  return { name: 'routing module', start: () => load(config), reload: load };
}

/** OPTIONS pings of the carriers' gateways (`trunking.ping`); a gateway a reload adds is pinged at once. */
export function gatewayMonitorPart(t: Trunking): Part {
  let running = false;
  return {
    name: 'gateway monitor',
    start() {
      const monitor = t.monitor;
      if (monitor === null) return;
      monitor.start();
      running = true;
      t.directory.onReload(() => {
        if (running) monitor.sync();
      });
    },
    stop() {
      running = false;
      t.monitor?.stop();
    },
  };
}
