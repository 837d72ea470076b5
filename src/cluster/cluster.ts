/**
 * A node's membership of the cluster: the Redis link, the node table with
 * its heartbeat, and the bus. The pieces that share state (limits, bans,
 * registrations, carrier registrations, calls) each take this and keep
 * their own keys.
 *
 *   const cluster = new Cluster(config.cluster, self, log);
 *   await cluster.start();     // rejects when Redis cannot be reached at start
 *   cluster.setFigures(() => ({calls, registrations, carrierRegistrations}));
 *   await cluster.stop();      // leaves: the others see this node gone at once
 */
import type { ClusterConfig, OnRedisDown } from './config.js';
import { ClusterBus } from './bus.js';
import { NodeRegistry, listNodes, type NodeFigures, type NodeInfo, type SelfDescription } from './nodes.js';
import { RedisUnavailableError } from './errors.js';
import { RedisLink, type LinkLog } from './redis-link.js';
import { nodeJson, type ClusterStatusJson, type CarrierLeaseJson } from './status.js';
import { listCarrierLeases } from './lease.js';

const NO_FIGURES: NodeFigures = { calls: 0, registrations: 0, carrierRegistrations: 0 };

export class Cluster {
  readonly link: RedisLink;
  readonly nodes: NodeRegistry;
  readonly bus: ClusterBus;
  readonly onRedisDown: OnRedisDown;
  #figures: () => NodeFigures = () => NO_FIGURES;

  constructor(config: ClusterConfig, self: Omit<SelfDescription, 'id'>, log: LinkLog) {
    this.link = new RedisLink(config.redis, log);
    this.nodes = new NodeRegistry(this.link, { ...self, id: config.node }, () => this.#figures());
    this.bus = new ClusterBus(this.link, config.node, log);
    this.onRedisDown = config.onRedisDown;
  }

  get id(): string {
    return this.nodes.id;
  }

  setFigures(fn: () => NodeFigures): void {
    this.#figures = fn;
  }

  async start(): Promise<void> {
    await this.link.start();
    try {
      await this.nodes.start();
      await this.bus.start();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.nodes.stop();
    await this.bus.stop();
    await this.link.close();
  }

  /** The node table as Redis has it; Redis down (also when it goes while read): up false, no nodes. */
  async status(): Promise<ClusterStatusJson> {
    let up = this.link.up;
    let nodes: NodeInfo[] = [];
    let carrierLeases: CarrierLeaseJson[] = [];
    if (up)
      try {
        nodes = await listNodes(this.link);
        carrierLeases = await listCarrierLeases(this.link);
      } catch (err) {
        if (!(err instanceof RedisUnavailableError)) throw err;
        up = false;
      }
    return {
      enabled: true,
      node: this.id,
      redis: { target: this.link.where, up },
      onRedisDown: this.onRedisDown,
      nodes: nodes.map((n) => nodeJson(n, this.id)),
      carrierLeases,
    };
  }
}
