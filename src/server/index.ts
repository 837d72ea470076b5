import type { TrunklineConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { ensureTlsFiles, type TlsFiles as TlsFileSet } from '../tls/self-signed.js';
import { TransportLayer } from '../transport/transport-layer.js';
import type { ListenSpec, TransportProto, TlsFiles as TransportTlsFiles } from '../transport/types.js';
import { Ingress } from '../core/ingress.js';
import { Responder } from '../core/responder.js';
import { LocalIdentity } from '../core/local-identity.js';
import { Counters } from '../core/counters.js';
import type { ParseLimits } from '../sip/parser.js';
import { TimerWheel } from '../transaction/timer-wheel.js';
import { TransactionLayer } from '../transaction/transaction-layer.js';
import { SipLocator } from '../dns/resolver.js';
import { Proxy } from '../proxy/proxy.js';
import { Router } from '../proxy/router.js';
import { Interfaces } from '../dialog/interfaces.js';
import { DialogStamp } from '../proxy/dialog-stamp.js';
import { loadRouteKey } from '../proxy/route-key.js';
import { randomBytes } from 'node:crypto';
import { openStore } from '../store/index.js';
import { NonceService } from '../auth/nonce.js';
import type { ChallengeAlgorithm } from '../auth/digest.js';
import { Registrar } from '../registrar/registrar.js';
import { Location } from '../registrar/location.js';
import { KeepAlive } from '../registrar/keepalive.js';
import { StoreTrunkingDirectory } from '../trunking/directory.js';
import { CallLimiter } from '../trunking/limits.js';
import { GatewayMonitor } from '../trunking/gateway-monitor.js';
import { B2bua } from '../b2bua/b2bua.js';
import type { B2buaEnv } from '../b2bua/env.js';
import { pingGateway } from '../b2bua/options-ping.js';
import { udpProbesFor } from '../transport/udp-probe.js';
import { MediaLink } from '../b2bua/media-link.js';
import { createMediaEngine } from '../media/index.js';
import { CarrierRegistrations } from '../b2bua/carrier-registration.js';
import type { LegHeaderRule } from '../b2bua/headers.js';
import { ControlServer } from '../control/control-server.js';
import { controlSocketPath } from '../control/protocol.js';
import { parseUri } from '../sip/uri.js';
import { ProxyAuth } from '../auth/proxy-auth.js';
import { FailureCounter } from '../auth/failure-counter.js';
import { Operations } from '../api/operations.js';
import { SecurityService } from '../security/service.js';
import { SecurityCallPolicy } from '../security/call-policy.js';
import { Admission } from '../core/admission.js';
import { Drain, checkDrainTimeout, type DrainStatus } from '../core/drain.js';

/** Timer C of RFC 3261 16.6 step 11: greater than 3 minutes. */
const TIMER_C_MS = 181_000;
/** How long SIGTERM waits for proxied transactions in flight to finish. */
const DRAIN_MS = 5_000;
/** How long SIGTERM waits for the answers to its BYEs, CANCELs and un-REGISTERs when nothing is proxied. */
const ANSWER_WAIT_MS = 2_000;
/** How long SIGTERM waits for the CDRs of the calls it ended to reach the store. */
const CDR_WAIT_MS = 5_000;
/** How often expired bindings are removed from the store. */
const PURGE_MS = 60_000;

/**
 * The digest algorithms the registrar offers: `registrar.algorithms` of the
 * config, or TRUNKLINE_DIGEST_ALGORITHMS (e.g. `MD5`, `MD5,SHA-256`) when set,
 * which overrides it for one run (tests with SIPp 3.6, which answers only an
 * MD5 challenge offered first).
 */
function digestAlgorithms(env: Record<string, string | undefined>, configured: ChallengeAlgorithm[]): ChallengeAlgorithm[] {
  const v = env.TRUNKLINE_DIGEST_ALGORITHMS?.trim();
  if (v === undefined || v === '') return configured;
  const list = v.split(',').map((a) => a.trim().toUpperCase());
  for (const a of list) if (a !== 'MD5' && a !== 'SHA-256') throw new Error(`TRUNKLINE_DIGEST_ALGORITHMS: unknown algorithm ${a}`);
  return list as ChallengeAlgorithm[];
}

function headerRuleMap(config: TrunklineConfig): Map<string, LegHeaderRule> {
  const m = new Map<string, LegHeaderRule>();
  for (const r of config.trunking.headers) m.set(r.trunk !== undefined ? `trunk:${r.trunk}` : `carrier:${r.carrier!}`, { keep: r.keep, strip: r.strip, add: r.add });
  return m;
}

export interface RunningServer {
  /** Stops taking calls, ends the calls up (BYE both legs, CDR), lets transactions finish, closes; once (later calls: the same promise). */
  stop(): Promise<void>;
  /** Resolves (never rejects) once stop() ended, whoever called it (a drain does): undefined, or the error it failed with. */
  stopped: Promise<unknown>;
  /** Drain mode (src/core/drain.ts): no new calls, stop once the calls up ended (or at the timeout, seconds). */
  drain(timeoutS: number | null): DrainStatus;
  reload(config: TrunklineConfig): Promise<void>;
  counters: Counters;
  listeners(): Array<ListenSpec & { boundPort: number }>;
  /** Events, metrics, capture and the HTTP API. */
  ops: Operations;
}

function tlsOptions(files: TlsFileSet, config: TrunklineConfig): TransportTlsFiles {
  return {
    cert: files.cert,
    key: files.key,
    ...(files.ca ? { ca: files.ca } : {}),
    verifyClient: config.tls.verifyClient,
    minVersion: config.tls.minVersion,
    maxVersion: config.tls.maxVersion,
  };
}

const TLS_PROTOS: ReadonlySet<TransportProto> = new Set(['tls', 'wss']);

/**
 * Starts Trunkline: TLS files (configured or a generated localhost
 * certificate), the transports of `listen`, and the signalling core behind
 * them. Resolves once every listener is bound; rejects naming the listener
 * that could not be.
 */
export async function startServer(config: TrunklineConfig, log: Logger): Promise<RunningServer> {
  const needsTls = config.listen.some((l) => TLS_PROTOS.has(l.proto));
  const tls = needsTls ? await ensureTlsFiles(config) : undefined;
  if (tls?.generated) log.info({ cert: tls.certFile }, 'generated a self-signed TLS certificate for localhost');

  const algorithms = digestAlgorithms(process.env, config.registrar.algorithms);
  // Our Record-Route stamps: the key is kept in the data directory, since dialogs outlive a restart.
  const dialogStamp = new DialogStamp(await loadRouteKey(config.data));
  const store = await openStore(config.database, { log });
  const counters = new Counters();
  const ops = new Operations(config, log, counters);
  const transport = new TransportLayer({
    listen: config.listen.map((l) => ({ proto: l.proto, host: l.host, port: l.port, ...(l.networks !== undefined && { networks: l.networks }) })),
    ...(tls ? { tls: tlsOptions(tls, config) } : {}),
    limits: {
      maxStreamMessageBytes: config.sip.limits.maxMessageBytes,
      maxHeaderBytes: config.sip.limits.maxHeaderBytes,
      idleTimeoutMs: config.sip.limits.idleTimeoutMs,
      maxConnectionsPerIp: config.sip.limits.maxConnectionsPerIp,
    },
    log,
  });

  const limits: ParseLimits = {
    maxMessageBytes: config.sip.limits.maxMessageBytes,
    maxHeaders: config.sip.limits.maxHeaders,
    maxHeaderLineBytes: config.sip.limits.maxHeaderBytes,
  };
  // Addresses advertised per listener (listen entries of the object form) also name this server.
  const listenerAdvertised = config.listen.flatMap((l) => (l.advertise !== undefined ? [l.advertise] : []));
  const identity = new LocalIdentity(config.listen, config.advertise ?? null, listenerAdvertised);
  const serverHeader = config.sip.serverHeader === '' ? null : config.sip.serverHeader;
  const responder = new Responder(transport, counters, serverHeader);
  const wheel = new TimerWheel(10);
  const layer = new TransactionLayer({ transport, timers: config.sip.timers, log, wheel });
  // Open, draining or stopping: whether new calls are taken (src/core/admission.ts).
  const admission = new Admission();
  // The security edge (src/security): bans and flood before parsing, the pipeline before the transaction layer.
  const security = new SecurityService({
    config: config.security,
    store,
    counters,
    responder,
    log,
    selfAddresses: [...config.listen.map((l) => l.host), ...(config.advertise !== undefined ? [config.advertise] : []), ...listenerAdvertised],
    // Its keep-alive answer (200 to an OPTIONS for us) only while calls are taken: draining or stopping, the proxy answers 503.
    isForUs: (uri) => admission.open && (uri.port === null ? identity.isLocalHost(uri.host) : identity.isLocalHostPort(uri.host, uri.port)),
    closeConnection: (id) => void transport.closeConnection(id),
  });
  const ingress = new Ingress(
    limits,
    responder,
    counters,
    log,
    {
      onRequest: (req, flow) => layer.receiveRequest(req, flow),
      onResponse: (res, flow) => layer.receiveResponse(res, flow),
    },
    security,
  );
  transport.onMessage((m) => ingress.handle(m));
  transport.onFramingError((e) => ingress.handleFramingError(e));

  try {
    await security.start();
    await transport.start();
  } catch (err) {
    security.stop();
    await store.close();
    throw err;
  }
  const bound = transport.boundListeners();
  for (const l of bound) identity.addPort(l.boundPort);

  const locator = new SipLocator();
  // A fresh secret per start: nonces of a previous run are simply re-challenged.
  const nonces = new NonceService({ secret: randomBytes(32) });
  // Digest failures per source IP and user (bad password, unknown user, stale or forged nonce, replay):
  // the security edge's counter bans after N of them; without it they are still counted.
  const failures = security.failures ?? new FailureCounter();
  const proxyAuth = new ProxyAuth({
    store,
    nonces,
    algorithms,
    failures,
    checkFromUser: config.registrar.checkFromUser,
    // A registration trunk's PBX sends its callers' numbers as From user (the trunking stage checks those).
    fromUserExempt: (aor) => directory.trunkByRegistration(aor) !== null,
    opaque: randomBytes(8).toString('hex'),
    serverHeader,
    log,
  });
  const registrar = new Registrar({
    store,
    nonces,
    failures,
    algorithms,
    minExpires: config.registrar.minExpires,
    defaultExpires: config.registrar.defaultExpires,
    maxExpires: config.registrar.maxExpires,
    serverHeader,
    log,
    onRegistered: ops.onRegistered,
  });
  const location = new Location(store);
  const purge = setInterval(() => {
    store.location.purgeExpired().catch((err: unknown) => log.warn({ err: String(err) }, 'purging expired bindings failed'));
  }, PURGE_MS);
  purge.unref();
  // Each bound listener with its advertise and media address; the transport's kernel sources, so both choose alike.
  const interfaces = new Interfaces(
    bound.map((b, i) => {
      const c = config.listen[i];
      return c === undefined ? b : { ...b, ...(c.advertise !== undefined && { advertise: c.advertise }), ...(c.media !== undefined && { media: c.media }) };
    }),
    config.advertise ?? null,
    { sources: transport.sources, mediaPerListener: config.media.address === undefined && config.media.advertise === undefined },
  );

  // Trunking: the directory (a snapshot of the store, reloaded on change), the limits, the B2BUA.
  const directory = new StoreTrunkingDirectory({ store, log });
  await directory.start();
  // A ban never locks out a configured trunk or carrier: their addresses are trusted by the security edge.
  const trustTrunking = (snap: typeof directory.snapshot): void =>
    security.trust.setExtra([...[...snap.trunks.values()].flatMap((e) => e.trunk.ip), ...[...snap.carrierAddresses.values()].flat()]);
  trustTrunking(directory.snapshot);
  directory.onReload(trustTrunking);
  const ourHost = interfaces.forProto(bound[0]!.proto, bound[0]!.host)?.host ?? '127.0.0.1';
  // The media relay every trunk call's SDP goes through (built-in, or rtpengine).
  const mediaEngine = createMediaEngine(config.media, ourHost.replace(/^\[|\]$/g, ''), log);
  const b2buaEnv: B2buaEnv = {
    layer,
    wheel,
    transport,
    interfaces,
    locate: (uri) => locator.locate(uri),
    counters,
    log,
    agentName: serverHeader,
    bus: ops.bus,
    timers: {
      t1: layer.timers.t1,
      t2: layer.timers.t2,
      gatewayTimeoutMs: config.trunking.gatewayTimeout * 1000,
      ringTimeoutMs: config.trunking.ringTimeout * 1000,
    },
    cdrs: { write: (cdr) => store.cdrs.insert(cdr) },
    media: new MediaLink(mediaEngine),
    probeUdp: udpProbesFor(bound),
  };
  // Header rules per trunk / carrier (trunking.headers); replaced on reload.
  let headerRules = headerRuleMap(config);
  let monitor: GatewayMonitor | null = null;
  if (config.trunking.ping.interval > 0) {
    const ping = config.trunking.ping;
    monitor = new GatewayMonitor({
      intervalMs: ping.interval * 1000,
      downAfter: ping.downAfter,
      upAfter: ping.upAfter,
      gateways: () => [...directory.snapshot.carriers.values()].flatMap((c) => c.gateways),
      ping: (uri, done) => pingGateway(b2buaEnv, ourHost, uri, ping.timeout * 1000, done),
      onChange: (uri, up) => {
        // A gateway going down is the warning; coming up is news.
        if (up) log.info({ gateway: uri, up }, 'gateway up');
        else log.warn({ gateway: uri, up }, 'gateway down');
        ops.onGateway(uri, up);
      },
    });
    monitor.start();
    const m = monitor;
    directory.onReload(() => m.sync());
  }
  const gatewayMonitor = monitor;
  const b2bua = new B2bua(b2buaEnv, {
    directory,
    limiter: new CallLimiter(),
    ourHost,
    inUse: () => directory.snapshot.trunks.size + directory.snapshot.carriers.size > 0,
    policy: new SecurityCallPolicy(security),
    headerRule: (kind, name) => headerRules.get(`${kind}:${name}`) ?? null,
    gatewayUp: (uri) => gatewayMonitor?.isUp(uri) ?? true,
    fingerprintOf: (flow) => (flow.connectionId === null ? null : (transport.connectionInfo(flow.connectionId)?.tlsFingerprint ?? null)),
    contacts: {
      async contactsOf(aor) {
        const r = await location.lookup(parseUri(`sip:${aor}`));
        return r.kind === 'found' ? r.targets : [];
      },
    },
  });
  // Registrations with carriers that want them (carrier add --register), kept in line with the store.
  const carrierRegistrations = new CarrierRegistrations(b2buaEnv);
  carrierRegistrations.sync(directory.snapshot.carriers.values());
  directory.onReload((snap) => carrierRegistrations.sync(snap.carriers.values()));
  // Calls (from the bus), gateways and carrier registrations for the metrics, HEP and traces.
  ops.attachTrunking({
    calls: () => b2bua.liveCalls(),
    hangUp: (sid) => b2bua.hangUp(sid),
    callIds: (sid) => b2bua.callIds(sid),
    legOwner: (callId, tag) => b2bua.legOwner(callId, tag),
    gateways: () =>
      [...directory.snapshot.carriers.values()].flatMap((c) => c.gateways.map((g) => ({ carrier: c.name, gateway: g, up: gatewayMonitor?.isUp(g) ?? true, state: gatewayMonitor?.health(g) ?? 'up' }))),
    carrierRegistrations: () => carrierRegistrations.list(),
    unknownSources: () => b2bua.unknownSources(),
  });
  const drain = new Drain({
    admission,
    liveCalls: () => b2bua.liveCount,
    closeCalls: () => b2bua.stopTakingCalls('Server draining'),
    // A failed stop is reported through running.stopped.
    stop: () => void running.stop().catch(() => undefined),
    log,
  });
  const control = new ControlServer(controlSocketPath(config.data), (req) => {
    if (req.cmd === 'calls') return b2bua.liveCalls();
    if (req.cmd === 'drain') return running.drain(checkDrainTimeout(req.timeout));
    if (req.cmd === 'hangup') return b2bua.hangUp(req.callSid);
    if (req.cmd === 'trace') return ops.traces.trace(req.callSid);
    throw new Error('unknown command');
  });
  await control.start().catch((err: unknown) => log.warn({ err: String(err) }, 'control socket not available: `trunkline calls` will not see this server'));

  const proxy = new Proxy(
    {
      layer,
      wheel,
      transport,
      locate: (uri) => locator.locate(uri),
      interfaces,
      bus: ops.bus,
      isOurs: (host, port) => identity.isLocalHostPort(host, port),
      isLocalHost: (host) => identity.isLocalHost(host),
      isTrustedSource: security.trust.isTrusted,
      dialogStamp,
      counters,
      log,
      agentName: serverHeader,
      timerC: TIMER_C_MS,
      registrar,
      location,
      trunking: b2bua,
      proxyAuth,
      admission,
    },
    new Router(config.routes),
  );
  layer.setUser(proxy);
  // NATed contacts (a `received` binding) are pinged so that their NAT mapping stays open.
  let keepAlive: KeepAlive | null = null;
  if (config.registrar.keepAlive > 0) {
    const ka = new KeepAlive({
      location: store.location,
      transport,
      interfaceFor: (proto, host) => interfaces.forProto(proto, host),
      intervalMs: config.registrar.keepAlive * 1000,
      log,
    });
    proxy.setStrayResponseHook((res) => ka.consume(res));
    ka.start();
    keepAlive = ka;
  }
  try {
    await ops.start({
      store,
      transport,
      transactions: () => ({ server: layer.serverCount(), client: layer.clientCount() }),
      forwarding: () => proxy.activeContexts,
      apply: (next) => running.reload(next),
      admission,
      drain: (timeoutS) => running.drain(timeoutS),
      security,
    });
  } catch (err) {
    keepAlive?.stop();
    clearInterval(purge);
    layer.stop();
    wheel.stop();
    await transport.stop();
    await store.close();
    throw err;
  }
  log.info({ listen: bound.map((l) => `${l.proto}:${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.boundPort}`), routes: config.routes.length }, 'trunkline started');

  let stopping: Promise<void> | null = null;
  let settleStopped: (outcome: unknown) => void = () => undefined;
  const shutdown = async (): Promise<void> => {
    // New INVITEs get 503 at once; the calls up are ended (BYE both legs, CDR) before anything closes.
    admission.stop();
    drain.cancel();
    const ended = b2bua.hangUpAll('Server shutting down');
    log.info({ calls: ended }, `shutting down: ${ended} calls ended`);
    await ops.stop();
    keepAlive?.stop();
    gatewayMonitor?.stop();
    // Registrations with carriers end (Expires: 0); their answers are waited for below, bounded.
    carrierRegistrations.stop();
    directory.stop();
    await control.stop();
    // Proxied transactions in flight finish (DRAIN_MS at most); else only the answers to our BYEs, CANCELs and
    // un-REGISTERs are waited for (ANSWER_WAIT_MS at most). A client OPTIONS is a gateway ping nobody waits for,
    // or a proxied one whose server transaction keeps the wait.
    await layer.drain(proxy.activeContexts > 0 ? DRAIN_MS : ANSWER_WAIT_MS, (tx) => tx.request.method === 'OPTIONS');
    // The ended calls' CDRs reach the store (their media released first) before it closes.
    const written = await Promise.race([b2bua.cdrsWritten().then(() => true), new Promise<false>((r) => setTimeout(() => r(false), CDR_WAIT_MS).unref())]);
    if (!written) log.warn({ waitedMs: CDR_WAIT_MS }, 'shutting down: CDRs still not written');
    await mediaEngine?.close();
    layer.stop();
    wheel.stop();
    await transport.stop();
    clearInterval(purge);
    security.stop();
    await store.close();
  };
  const running: RunningServer = {
    counters,
    ops,
    listeners: () => transport.boundListeners(),
    stop() {
      stopping ??= shutdown().then(
        () => settleStopped(undefined),
        (err: unknown) => {
          settleStopped(err);
          throw err;
        },
      );
      return stopping;
    },
    stopped: new Promise<unknown>((resolve) => (settleStopped = resolve)),
    drain: (timeoutS) => drain.start(timeoutS),
    async reload(next: TrunklineConfig) {
      proxy.setRouter(new Router(next.routes));
      headerRules = headerRuleMap(next);
      security.configure(next.security);
      log.info({ routes: next.routes.length }, 'routing table reloaded');
      if (next.listen.some((l) => TLS_PROTOS.has(l.proto))) {
        const files = await ensureTlsFiles(next);
        transport.reloadTls(tlsOptions(files, next));
        log.info({ cert: files.certFile }, 'TLS certificate reloaded');
      }
      await ops.reload(next);
    },
  };
  return running;
}
