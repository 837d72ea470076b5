/**
 * The cluster part (src/cluster/): with `cluster:` in the config the node
 * joins once its SIP listeners are bound (the other nodes send to those),
 * and leaves last but the listeners and the store, once its calls ended.
 * Without `cluster:` nothing of it exists and the node runs alone.
 */
import type { TrunklineConfig } from '../config/schema.js';
import { ConfigError } from '../config/errors.js';
import type { Logger } from '../log.js';
import { resolveDatabaseConfig } from '../store/index.js';
import { Cluster } from '../cluster/cluster.js';
import { packageVersion } from '../api/version.js';
import type { TransportLayer } from '../transport/transport-layer.js';
import { SharedCalls } from '../b2bua/shared-calls.js';
import type { B2bua } from '../b2bua/b2bua.js';
import type { MediaLink } from '../b2bua/media-link.js';
import type { Operations } from '../api/operations.js';
import type { Part, PartList } from './parts.js';
import type { Store } from '../store/index.js';
import type { SecurityService } from '../security/service.js';
import { ClusterFlows } from '../registrar/cluster-flows.js';
import { clusterFlowsPart } from './registrar.js';

/** A cluster shares the store: refuses a config whose database is SQLite (one host's file). */
export function checkClusterStore(config: TrunklineConfig, env: NodeJS.ProcessEnv = process.env): void {
  if (config.cluster === undefined) return;
  if (resolveDatabaseConfig(config.database, env).kind !== 'postgres')
    throw new ConfigError(
      "cluster: a cluster needs a shared store: set database: postgres://... (SQLite is one node's file)",
      config.source,
    );
}

/** The node's membership, or null when it runs alone. Not connected yet: clusterPart does. */
export function buildCluster(config: TrunklineConfig, log: Logger): Cluster | null {
  if (config.cluster === undefined) return null;
  return new Cluster(
    config.cluster,
    {
      // Filled in at start, once the listeners are bound.
      sip: [],
      api: null,
      version: packageVersion(),
    },
    log.child({ mod: 'cluster', node: config.cluster.node }),
  );
}

/** Joins the cluster (Redis reachable at start, else the start fails naming it); leaves at stop. */
export function clusterPart(cluster: Cluster, transport: TransportLayer, config: TrunklineConfig): Part {
  return {
    name: 'cluster',
    async start() {
      const advertise = config.advertise;
      cluster.nodes.setSip(
        transport.boundListeners().map((l) => `${l.proto}:${formatHost(advertise ?? l.host)}:${l.boundPort}`),
      );
      await cluster.start();
    },
    stop: () => cluster.stop(),
  };
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * In a cluster, the node's live calls shared (src/b2bua/shared-calls.ts): written to Redis as they change; the
 * API, `trunkline calls` and the proxy see every node's. Started after the B2BUA; its stop (once the calls up
 * were ended) writes their end. Null alone.
 */
export async function startSharedCalls(
  cluster: Cluster | null,
  b2bua: B2bua,
  media: MediaLink,
  parts: PartList,
  ops: Operations,
  log: Logger,
): Promise<SharedCalls | null> {
  if (cluster === null) return null;
  const shared = new SharedCalls(cluster, b2bua, media, log.child({ mod: 'cluster' }));
  await parts.start({ name: 'shared calls', start: () => shared.start(), stop: () => shared.stop() });
  ops.attachCalls(shared);
  return shared;
}

/**
 * With `cluster:`: joins (the listeners are bound: the node table names
 * them), hands the cluster to operations and the security edge, and starts
 * the registrations' flows (bindings reached through the node holding
 * them). Alone: nulls.
 */
export async function joinCluster(
  config: TrunklineConfig,
  d: {
    store: Store;
    transport: TransportLayer;
    ops: Operations;
    security: SecurityService;
    parts: PartList;
    log: Logger;
  },
): Promise<{ cluster: Cluster | null; flows: ClusterFlows | null }> {
  const cluster = buildCluster(config, d.log);
  if (cluster === null) return { cluster: null, flows: null };
  await d.parts.start(clusterPart(cluster, d.transport, config));
  d.ops.attachCluster(cluster);
  d.security.attachCluster(cluster);
  const flows = new ClusterFlows({ cluster, store: d.store, transport: d.transport, log: d.log });
  await d.parts.start(clusterFlowsPart(flows));
  return { cluster, flows };
}
