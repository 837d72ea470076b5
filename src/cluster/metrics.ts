/**
 * The cluster's figures at /metrics:
 *
 *   trunkline_cluster_redis_up            1 while this node reaches Redis
 *   trunkline_cluster_nodes_alive         nodes alive at the last heartbeat (this one included)
 *   trunkline_cluster_redis_outages_total outages seen by this node
 *
 * The pieces that share state add their own (limits: admissions refused or
 * taken locally while Redis is down).
 */
import type { Metrics } from '../metrics/metrics.js';
import type { Cluster } from './cluster.js';

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
