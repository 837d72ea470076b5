// The cluster as this node sees it (GET /cluster, every 2 s): the Redis the
// nodes share, up or down, and every node that joined, alive or gone, with
// the figures of its last heartbeat. A node alone says it is not a cluster.
import { useEffect } from 'preact/hooks';
import { api } from '../api';
import { Card, Figure } from '../components/Card';
import { Table, txt, when } from '../components/Table';
import { useLoad } from '../load';
import type { ClusterNode, ClusterStatus } from '../types';

/** Nodes heartbeat every second and a dead one is gone 3 s after its last beat. */
const REFRESH_MS = 2000;

const ON_REDIS_DOWN = {
  reject: 'new calls are refused; calls up go on',
  local: 'each node admits new calls by itself, within its share of each limit (limit / nodes alive)',
} as const;

export function Cluster() {
  const { data, reload } = useLoad('cluster', () => api<ClusterStatus>('GET', '/cluster'));
  useEffect(() => {
    const t = setInterval(() => void reload(), REFRESH_MS);
    return () => clearInterval(t);
  }, [reload]);
  return (
    <div class="page">
      <h2>Cluster</h2>
      {data !== undefined && !data.enabled && (
        <p class="empty" id="cluster-alone">
          Not a cluster: this node runs alone (its config has no cluster: key).
        </p>
      )}
      {data?.enabled === true && <Nodes status={data} />}
    </div>
  );
}

function Nodes({ status }: { status: ClusterStatus }) {
  const up = status.redis?.up === true;
  const alive = status.nodes.filter((n) => n.alive).length;
  const mode = status.onRedisDown;
  return (
    <>
      <p class="hint">
        Nodes share limits, bans, registrations, carrier registrations and live calls through Redis, and provisioning
        through the store. A gone node's figures are those of its last heartbeat.
      </p>
      <div class="figures">
        <Figure id="fig-cluster-self" label="this node" value={status.node ?? '-'} />
        <Figure id="fig-cluster-alive" label="nodes alive" value={up ? `${alive} / ${status.nodes.length}` : '-'} />
        <Figure id="fig-cluster-redis" label="Redis" value={up ? 'up' : 'down'} tone={up ? 'good' : 'bad'} />
        <Figure id="fig-cluster-redis-down" label="when Redis is down" value={mode ?? '-'} />
      </div>
      <Card title="Nodes">
        <p
          id="cluster-redis"
          class={up ? 'good' : 'bad'}
        >{`Redis ${status.redis?.target ?? '?'}: ${up ? 'up' : 'down'}`}</p>
        {mode !== null && <p class="hint">{`When Redis is down (onRedisDown: ${mode}): ${ON_REDIS_DOWN[mode]}.`}</p>}
        <Table<ClusterNode>
          id="cluster-nodes"
          rows={status.nodes}
          rowKey={(n) => n.id}
          empty={up ? 'No node has joined.' : 'Redis cannot be reached: the node table is unknown until it is back.'}
          emptyId="cluster-nodes-empty"
          columns={[
            { head: 'Node', cell: (n) => (n.self ? `${n.id} (this node)` : n.id), cls: 'mono' },
            {
              head: 'State',
              cell: (n) => <span class={`state ${n.alive ? 'alive' : 'gone'}`}>{n.alive ? 'alive' : 'gone'}</span>,
            },
            { head: 'SIP', cell: (n) => (n.sip.length === 0 ? '-' : n.sip.join(' ')), cls: 'mono' },
            { head: 'API', cell: (n) => txt(n.api), cls: 'mono' },
            { head: 'Version', cell: (n) => n.version },
            { head: 'Up since', cell: (n) => when(n.upSince) },
            { head: 'Last heartbeat', cell: (n) => when(n.lastHeartbeat) },
            { head: 'Calls', cell: (n) => String(n.calls), cls: 'num' },
            { head: 'Registrations', cell: (n) => String(n.registrations), cls: 'num' },
            { head: 'Carrier registrations', cell: (n) => String(n.carrierRegistrations), cls: 'num' },
          ]}
        />
      </Card>
    </>
  );
}
