import type { TrunklineConfig } from './config/schema.js';
import type { Logger } from './log.js';
import { ensureTlsFiles, type TlsFiles as TlsFileSet } from './tls/self-signed.js';
import { TransportLayer } from './transport/transport-layer.js';
import type { ListenSpec, TransportProto, TlsFiles as TransportTlsFiles } from './transport/types.js';
import { Ingress } from './core/ingress.js';
import { Responder } from './core/responder.js';
import { LocalIdentity } from './core/local-identity.js';
import { Counters } from './core/counters.js';
import type { ParseLimits } from './sip/parser.js';
import { TimerWheel } from './transaction/timer-wheel.js';
import { TransactionLayer } from './transaction/transaction-layer.js';
import { SipLocator } from './dns/resolver.js';
import { Proxy } from './proxy/proxy.js';
import { Router } from './proxy/router.js';
import { Interfaces } from './proxy/interfaces.js';
import { randomBytes } from 'node:crypto';
import { openStore } from './store/index.js';
import { NonceService } from './auth/nonce.js';
import type { ChallengeAlgorithm } from './auth/digest.js';
import { Registrar } from './registrar/registrar.js';
import { Location } from './registrar/location.js';
import { KeepAlive } from './registrar/keepalive.js';
import { SecurityService } from './security/service.js';

/** Timer C of RFC 3261 16.6 step 11: greater than 3 minutes. */
const TIMER_C_MS = 181_000;
/** How long SIGTERM waits for transactions in flight to finish. */
const DRAIN_MS = 5_000;
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

export interface RunningServer {
  stop(): Promise<void>;
  reload(config: TrunklineConfig): Promise<void>;
  counters: Counters;
  listeners(): Array<ListenSpec & { boundPort: number }>;
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
  const store = await openStore(config.database, { log });
  const counters = new Counters();
  const transport = new TransportLayer({
    listen: config.listen.map((l) => ({ proto: l.proto, host: l.host, port: l.port })),
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
  const identity = new LocalIdentity(config.listen, config.advertise ?? null);
  const serverHeader = config.sip.serverHeader === '' ? null : config.sip.serverHeader;
  const responder = new Responder(transport, counters, serverHeader);
  const wheel = new TimerWheel(10);
  const layer = new TransactionLayer({ transport, timers: config.sip.timers, log, wheel });
  // The security edge (src/security): bans and flood before parsing, the pipeline before the transaction layer.
  const security = new SecurityService({
    config: config.security,
    store,
    counters,
    responder,
    log,
    selfAddresses: [...config.listen.map((l) => l.host), ...(config.advertise !== undefined ? [config.advertise] : [])],
    isForUs: (uri) => (uri.port === null ? identity.isLocalHost(uri.host) : identity.isLocalHostPort(uri.host, uri.port)),
    closeConnection: (id) => void transport.closeConnection(id),
  });
  const ingress = new Ingress(limits, responder, counters, log, {
    onRequest: (req, flow) => {
      if (security.admit(req, flow)) layer.receiveRequest(req, flow);
    },
    onResponse: (res, flow) => layer.receiveResponse(res, flow),
  });

  ingress.setGate(security.gate);
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
  const bound = transport.listeners();
  for (const l of bound) identity.addPort(l.boundPort);

  const locator = new SipLocator();
  const registrar = new Registrar({
    store,
    // A fresh secret per start: nonces of a previous run are simply re-challenged.
    nonces: new NonceService({ secret: randomBytes(32) }),
    algorithms,
    minExpires: config.registrar.minExpires,
    defaultExpires: config.registrar.defaultExpires,
    maxExpires: config.registrar.maxExpires,
    serverHeader,
    log,
    ...(security.failures !== null ? { failures: security.failures } : {}),
  });
  const location = new Location(store);
  const purge = setInterval(() => {
    store.location.purgeExpired().catch((err: unknown) => log.warn({ err: String(err) }, 'purging expired bindings failed'));
  }, PURGE_MS);
  purge.unref();
  const interfaces = new Interfaces(bound, config.advertise ?? null);
  const proxy = new Proxy(
    {
      layer,
      wheel,
      transport,
      locate: (uri) => locator.locate(uri),
      isOurs: (host, port) => identity.isLocalHostPort(host, port),
      isLocalHost: (host) => identity.isLocalHost(host),
      counters,
      log,
      serverHeader,
      timerC: TIMER_C_MS,
      registrar,
      location,
    },
    interfaces,
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
  log.info({ listen: bound.map((l) => `${l.proto}:${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.boundPort}`), routes: config.routes.length }, 'trunkline started');

  return {
    counters,
    listeners: () => transport.listeners(),
    async stop() {
      // In-flight transactions finish (or time out) before the sockets close.
      keepAlive?.stop();
      await layer.drain(DRAIN_MS);
      layer.stop();
      wheel.stop();
      await transport.stop();
      clearInterval(purge);
      security.stop();
      await store.close();
    },
    async reload(next: TrunklineConfig) {
      proxy.setRouter(new Router(next.routes));
      security.configure(next.security);
      ingress.setGate(security.gate);
      log.info({ routes: next.routes.length }, 'routing table reloaded');
      if (next.listen.some((l) => TLS_PROTOS.has(l.proto))) {
        const files = await ensureTlsFiles(next);
        transport.reloadTls(tlsOptions(files, next));
        log.info({ cert: files.certFile }, 'TLS certificate reloaded');
      }
    },
  };
}
