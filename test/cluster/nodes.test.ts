/**
 * The cluster's node table: three nodes on 127.0.0.1-3 sharing a Redis of
 * the test's own and a PostgreSQL schema; `trunkline cluster status`,
 * GET /api/v1/cluster and the metrics show them; a node killed (kill -9)
 * is shown gone within 4 s, one stopped cleanly at once; a node started
 * again is alive again. A cluster on SQLite refuses to start, naming why.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterSkip, startClusterRig, type ClusterRig } from '../helpers/cluster.js';
import { CLI } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const skip = await clusterSkip();
let rig: ClusterRig;

interface StatusNode {
  id: string;
  alive: boolean;
  sip: string[];
  self: boolean;
  version: string;
  calls: number;
}
interface Status {
  enabled: boolean;
  node: string | null;
  redis: { up: boolean } | null;
  nodes: StatusNode[];
}

before(async () => {
  if (skip === false) rig = await startClusterRig({ nodes: 3 });
});
after(async () => {
  await rig?.stop();
});

async function cliStatus(): Promise<Status> {
  const r = await rig.cli(['cluster', 'status', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Status;
}

test('every node is listed alive with its SIP address, by the CLI and by the API of any node', { skip }, async () => {
  const s = await cliStatus();
  assert.equal(s.enabled, true);
  assert.deepEqual(
    s.nodes.map((n) => [n.id, n.alive]),
    [
      ['n1', true],
      ['n2', true],
      ['n3', true],
    ],
  );
  const n2 = s.nodes.find((n) => n.id === 'n2')!;
  assert.ok(n2.sip.includes(`udp:127.0.0.2:${rig.node(2).sipPort}`), JSON.stringify(n2.sip));
  assert.match(n2.version, /^\d+\.\d+\.\d+/);
  const api = await rig.node(3).api('/api/v1/cluster');
  assert.equal(api.status, 200);
  const body = api.body as Status;
  assert.equal(body.node, 'n3');
  assert.equal(body.redis?.up, true);
  assert.deepEqual(
    body.nodes.filter((n) => n.self).map((n) => n.id),
    ['n3'],
  );
  const table = await rig.cli(['cluster', 'status']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^NODE\s+STATE\s+SIP/m);
  assert.match(table.stdout, /^n1 \(self\)\s+alive\s+udp:127\.0\.0\.1:/m);
});

test('the metrics of a node count the nodes alive and Redis up', { skip }, async () => {
  const res = await fetch(`http://127.0.0.1:${rig.node(1).apiPort}/metrics`);
  const text = await res.text();
  assert.match(text, /^trunkline_cluster_redis_up 1$/m);
  assert.match(text, /^trunkline_cluster_nodes_alive 3$/m);
});

test('a node killed with -9 is shown gone within 4 s; started again, alive', { skip, timeout: 60_000 }, async () => {
  await rig.node(3).kill9();
  const t0 = Date.now();
  await waitFor(async () => (await cliStatus()).nodes.find((n) => n.id === 'n3')?.alive === false, {
    timeoutMs: 6000,
    what: 'n3 shown gone',
    intervalMs: 100,
  });
  assert.ok(Date.now() - t0 <= 4500, `seen gone after ${Date.now() - t0} ms`);
  await rig.node(3).start();
  const s = await cliStatus();
  assert.equal(s.nodes.find((n) => n.id === 'n3')?.alive, true);
});

test('a node stopped cleanly is gone at once', { skip, timeout: 60_000 }, async () => {
  await rig.node(2).stop();
  const s = await cliStatus();
  assert.equal(s.nodes.find((n) => n.id === 'n2')?.alive, false);
  await rig.node(2).start();
  assert.equal((await cliStatus()).nodes.find((n) => n.id === 'n2')?.alive, true);
});

test('a cluster on SQLite refuses to start, naming why; cluster status without cluster: fails', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trunkline-cluster-sqlite-'));
  try {
    const cfg = join(dir, 't.yaml');
    writeFileSync(
      cfg,
      `data: ${JSON.stringify(join(dir, 'data'))}\nlisten: ["udp:127.0.0.1:0"]\ncluster: {redis: "redis://127.0.0.1:1/0"}\n`,
    );
    const env = { ...process.env };
    delete env['DATABASE_URL'];
    const r = spawnSync(process.execPath, [CLI, 'serve', '--config', cfg], { encoding: 'utf8', env, timeout: 20_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /cluster: a cluster needs a shared store: set database: postgres:\/\//);
    const alone = join(dir, 'alone.yaml');
    writeFileSync(alone, `data: ${JSON.stringify(join(dir, 'data'))}\n`);
    const s = spawnSync(process.execPath, [CLI, 'cluster', 'status', '--config', alone], { encoding: 'utf8', env });
    assert.equal(s.status, 1);
    assert.equal(s.stderr.trim(), 'not a cluster: the config has no cluster: key');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
