/**
 * `trunkline cluster status [--json]`: the cluster's nodes as Redis has
 * them (read from the `cluster.redis` of the config, so it answers on any
 * host that has the config, with or without a node running there): id,
 * alive, SIP address, version, up since, last heartbeat, calls,
 * registrations and carrier registrations held. The node named by the
 * config is marked `self`. Then which node keeps each carrier's
 * registration (the holder of its lease, with its fencing token).
 */
import type { Command } from 'commander';
import type { ClusterStatusJson } from '../cluster/status.js';
import { errorMessage, fail, loadConfigOrExit, withConfigOption } from './common.js';
import { printJson, printTable, say } from './output.js';

const quiet = { info: () => undefined, warn: () => undefined };

export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description("the nodes sharing this config's Redis (`cluster status`)");
  withConfigOption(
    cluster
      .command('status')
      .description("the cluster's nodes, alive or gone, with their figures")
      .option('--json', 'print a JSON object'),
  ).action(async (opts: { json?: boolean }, cmd: Command) => {
    const config = await loadConfigOrExit(cmd);
    const c = config.cluster;
    if (c === undefined) fail('not a cluster: the config has no cluster: key');
    // Loaded here: the Redis client costs every other command ~0.1 s of CPU at start.
    const [{ RedisLink }, { listNodes }, { nodeJson }, { listCarrierLeases }] = await Promise.all([
      import('../cluster/redis-link.js'),
      import('../cluster/nodes.js'),
      import('../cluster/status.js'),
      import('../cluster/lease.js'),
    ]);
    const link = new RedisLink(c.redis, quiet);
    let status: ClusterStatusJson;
    try {
      await link.start();
      const nodes = await listNodes(link);
      status = {
        enabled: true,
        node: c.node,
        redis: { target: link.where, up: true },
        onRedisDown: c.onRedisDown,
        nodes: nodes.map((n) => nodeJson(n, c.node)),
        carrierLeases: await listCarrierLeases(link),
      };
    } catch (err) {
      fail(`cluster: ${errorMessage(err)}`);
    } finally {
      await link.close();
    }
    if (opts.json) return printJson(status);
    printTable(
      ['node', 'state', 'sip', 'version', 'up since', 'last heartbeat', 'calls', 'registrations', 'carrier regs'],
      status.nodes.map((n) => [
        n.self ? `${n.id} (self)` : n.id,
        n.alive ? 'alive' : 'gone',
        n.sip[0] ?? '',
        n.version,
        n.upSince,
        n.lastHeartbeat,
        n.calls,
        n.registrations,
        n.carrierRegistrations,
      ]),
    );
    if (status.carrierLeases.length > 0) {
      say('');
      printTable(
        ['carrier', 'registered by', 'token'],
        status.carrierLeases.map((l) => [l.carrier, l.node, l.token]),
      );
    }
  });
}
