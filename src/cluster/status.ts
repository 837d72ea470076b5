/**
 * The cluster as `trunkline cluster status`, GET /api/v1/cluster and the
 * console show it: the Redis it shares, and every node that joined.
 * It imports types only from node-info.ts: the console's build reads it.
 */
import type { NodeInfo } from './node-info.js';

export interface ClusterNodeJson extends Omit<NodeInfo, 'upSince' | 'lastHeartbeat'> {
  upSince: string;
  lastHeartbeat: string;
  /** Whether this is the node that answered. */
  self: boolean;
}

export interface ClusterStatusJson {
  /** False for a node alone (no `cluster:` in its config); the rest is then empty. */
  enabled: boolean;
  /** The node that answered, or null alone. */
  node: string | null;
  redis: { target: string; up: boolean } | null;
  onRedisDown: 'reject' | 'local' | null;
  nodes: ClusterNodeJson[];
  /** The node that keeps each carrier's registration (the holder of its lease) and its fencing token. */
  carrierLeases: CarrierLeaseJson[];
}

export interface CarrierLeaseJson {
  carrier: string;
  node: string;
  token: number;
}

export const ALONE: ClusterStatusJson = {
  enabled: false,
  node: null,
  redis: null,
  onRedisDown: null,
  nodes: [],
  carrierLeases: [],
};

export function nodeJson(n: NodeInfo, self: string | null): ClusterNodeJson {
  return {
    ...n,
    upSince: new Date(n.upSince).toISOString(),
    lastHeartbeat: new Date(n.lastHeartbeat).toISOString(),
    self: n.id === self,
  };
}
