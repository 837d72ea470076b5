/**
 * The registrar/auth stage and the location stage: REGISTER for local
 * domains, digest authentication of local users' other initial requests
 * (RFC 3261 22.3), the location table; the purge of expired bindings and
 * the NAT keep-alive as parts.
 */
import { randomBytes } from 'node:crypto';
import type { TrunklineConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { BindingOwner, Store } from '../store/index.js';
import { NonceService } from '../auth/nonce.js';
import type { ChallengeAlgorithm } from '../auth/digest.js';
import { ProxyAuth } from '../auth/proxy-auth.js';
import { FailureCounter } from '../auth/failure-counter.js';
import { Registrar } from '../registrar/registrar.js';
import { Location } from '../registrar/location.js';
import { KeepAlive } from '../registrar/keepalive.js';
import type { ClusterFlows } from '../registrar/cluster-flows.js';
import type { SecurityService } from '../security/service.js';
import type { Operations } from '../api/operations.js';
import type { StageEnv } from '../core/stage-env.js';
import type { Proxy } from '../proxy/proxy.js';
import type { Part } from './parts.js';

/** How often expired bindings are removed from the store. */
const PURGE_MS = 60_000;

export interface Subscribers {
  registrar: Registrar;
  proxyAuth: ProxyAuth;
  location: Location;
}

/**
 * The digest algorithms the registrar offers: `registrar.algorithms` of the
 * config, or TRUNKLINE_DIGEST_ALGORITHMS (e.g. `MD5`, `MD5,SHA-256`) when set,
 * which overrides it for one run (tests with SIPp 3.6, which answers only an
 * MD5 challenge offered first).
 */
export function digestAlgorithms(
  env: Record<string, string | undefined>,
  configured: ChallengeAlgorithm[],
): ChallengeAlgorithm[] {
  const v = env.TRUNKLINE_DIGEST_ALGORITHMS?.trim();
  if (v === undefined || v === '') return configured;
  const list = v.split(',').map((a) => a.trim().toUpperCase());
  for (const a of list)
    if (a !== 'MD5' && a !== 'SHA-256') throw new Error(`TRUNKLINE_DIGEST_ALGORITHMS: unknown algorithm ${a}`);
  return list as ChallengeAlgorithm[];
}

export interface SubscriberDeps {
  config: TrunklineConfig;
  store: Store;
  security: SecurityService;
  ops: Operations;
  algorithms: ChallengeAlgorithm[];
  agentName: string | null;
  log: Logger;
  /** A registration trunk's PBX sends its callers' numbers as From user (the trunking stage checks those). */
  fromUserExempt(aor: string): boolean;
  /** In a cluster: the bindings' flows by node (src/registrar/cluster-flows.ts); null alone. */
  flows: ClusterFlows | null;
}

export function buildSubscribers(d: SubscriberDeps): Subscribers {
  const { config, store, log, algorithms } = d;
  // A fresh secret per start: nonces of a previous run are simply re-challenged.
  const nonces = new NonceService({ secret: randomBytes(32) });
  // Digest failures per source IP and user (bad password, unknown user, stale or forged nonce, replay):
  // the security edge's counter bans after N of them; without it they are still counted.
  const failures = d.security.failures ?? new FailureCounter();
  const proxyAuth = new ProxyAuth({
    store,
    nonces,
    algorithms,
    failures,
    checkFromUser: config.registrar.checkFromUser,
    fromUserExempt: d.fromUserExempt,
    opaque: randomBytes(8).toString('hex'),
    serverHeader: d.agentName,
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
    serverHeader: d.agentName,
    log,
    onRegistered: d.ops.onRegistered,
    owner: d.flows?.self ?? null,
  });
  return { registrar, proxyAuth, location: new Location(store, d.flows) };
}

/** Expired bindings removed from the store every minute. */
export function purgePart(store: Store, log: Logger): Part {
  let purge: NodeJS.Timeout | null = null;
  return {
    name: 'expired bindings purge',
    start() {
      purge = setInterval(() => {
        store.location
          .purgeExpired()
          .catch((err: unknown) => log.warn({ err: String(err) }, 'purging expired bindings failed'));
      }, PURGE_MS);
      purge.unref();
    },
    stop() {
      if (purge !== null) clearInterval(purge);
    },
  };
}

/** In a cluster: the token key read, bindings of nodes gone dropped, this node's registrations counted. */
export function clusterFlowsPart(flows: ClusterFlows): Part {
  return { name: 'cluster registrations', start: () => flows.start(), stop: () => flows.stop() };
}

/**
 * NATed contacts (a `received` binding) pinged so that their NAT mapping stays open (`registrar.keepAlive` seconds;
 * 0: off); in a cluster only those this node took (`owner`): no other node could reach them.
 */
export function keepAlivePart(
  config: TrunklineConfig,
  store: Store,
  env: StageEnv,
  proxy: Proxy,
  log: Logger,
  owner: BindingOwner | null = null,
): Part {
  let keepAlive: KeepAlive | null = null;
  return {
    name: 'NAT keep-alive',
    start() {
      if (config.registrar.keepAlive <= 0) return;
      const ka = new KeepAlive({
        location: {
          listLiveReceived: (afterId, limit) => store.location.listLiveReceived(afterId, limit, undefined, owner),
        },
        transport: env.transport,
        interfaceFor: (proto, host) => env.interfaces.forProto(proto, host),
        intervalMs: config.registrar.keepAlive * 1000,
        log,
      });
      proxy.setStrayResponseHook((res) => ka.consume(res));
      ka.start();
      keepAlive = ka;
    },
    stop() {
      keepAlive?.stop();
    },
  };
}
