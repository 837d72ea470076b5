/**
 * The cluster's figures at /metrics:
 *
 *   trunkline_cluster_redis_up            1 while this node reaches Redis
 *   trunkline_cluster_nodes_alive         nodes alive at the last heartbeat (this one included)
 *   trunkline_cluster_redis_outages_total outages seen by this node
 *
 * The pieces that share state add their own:
 *
 *   trunkline_cluster_limit_fallbacks_total{mode}  new calls that followed onRedisDown (reject | local)
 */
import type { Metrics } from '../metrics/metrics.js';
import type { Cluster } from './cluster.js';
import type { SharedLimiter } from './shared-limits.js';

export function registerClusterMetrics(m: Metrics, cluster: Cluster): void {
  let outages = 0;
  cluster.link.onChange((up) => {
    if (!up) outages++;
  });
  m.gauge('trunkline_cluster_redis_up', '1 while this node reaches the cluster Redis, else 0', () =>
    cluster.link.up ? 1 : 0,
  );
  m.gauge('trunkline_cluster_nodes_alive', 'cluster nodes alive at the last heartbeat (this one included)', () =>
    cluster.nodes.aliveCount(),
  );
  m.counter('trunkline_cluster_redis_outages_total', 'times this node lost the cluster Redis', [], function collect() {
    this.reset();
    this.inc(outages);
  });
}

export function registerLimitMetrics(m: Metrics, limiter: SharedLimiter): void {
  m.counter(
    'trunkline_cluster_limit_fallbacks_total',
    'new trunk calls decided without the shared limits (Redis unreachable), by cluster.onRedisDown mode',
    ['mode'],
    function collect() {
      this.reset();
      for (const [mode, n] of Object.entries(limiter.fallbacks)) this.inc({ mode }, n);
    },
  );
}
