/**
 * The console's Cluster page (web/src/pages/Cluster.tsx) in headless
 * chromium:
 *
 * 1. a real 2-node cluster (startClusterRig: its own redis-server, a
 *    PostgreSQL schema): node 1's console lists both nodes alive with their
 *    SIP addresses, versions and figures as GET /api/v1/cluster has them;
 *    a SIPp call carrier -> node 2 -> PBX is counted on node 2's row of
 *    node 1's page while it is up, and no longer once node 2 hung it up;
 *    node 2 killed (-9) is shown gone; Redis stopped is shown down (no node
 *    table), started again up with node 1 back in the table.
 * 2. a node alone (no `cluster:`): the page says it is not a cluster.
 *
 * With TRUNKLINE_SCREENSHOTS=DIR the page is saved as console-cluster.png.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.js';
import { CLI, startTrunkline } from '../helpers/server.js';
import { clusterSkip, startClusterRig, type ClusterRig } from '../helpers/cluster.js';
import { run, scenario, sipp, sippBackground } from '../helpers/sipp.js';
import { browserSkip, openConsole, type ConsolePage } from './chromium.js';

// The functions handed to the page run in the browser; the root tsconfig has no DOM types.
declare const document: any;

const skip = browserSkip() || (await clusterSkip());
const PBX = '127.0.0.7';
const CARRIER = '127.0.0.5';
const DID = '+912240005678';

interface ApiNode {
  id: string;
  alive: boolean;
  sip: string[];
  version: string;
  calls: number;
  registrations: number;
  carrierRegistrations: number;
  self: boolean;
}

/** The node table of the page: one object per row, header -> cell text. */
function rows(c: ConsolePage): Promise<Array<Record<string, string>>> {
  return c.page.evaluate(() => {
    const heads = [...document.querySelectorAll('#cluster-nodes thead th')].map((th: any) => th.textContent);
    return [...document.querySelectorAll('#cluster-nodes tbody tr')].map((tr: any) =>
      Object.fromEntries([...tr.querySelectorAll('td')].map((td: any, i: number) => [heads[i], td.textContent])),
    );
  });
}

/** Waits until the row of node `id` has `cell` equal to `value`. */
async function waitCell(c: ConsolePage, id: string, cell: string, value: string, timeoutMs = 10_000): Promise<void> {
  await c.page.waitForFunction(
    ([id, cell, value]) => {
      const heads = [...document.querySelectorAll('#cluster-nodes thead th')].map((th: any) => th.textContent);
      const tr = document.querySelector(`#cluster-nodes tbody tr[data-key="${id}"]`);
      const td = tr?.querySelectorAll('td')[heads.indexOf(cell)];
      return td?.textContent === value;
    },
    [id, cell, value] as const,
    { timeout: timeoutMs },
  );
}

async function login(url: string, token: string): Promise<ConsolePage> {
  const c = await openConsole(url);
  try {
    await c.page.waitForFunction(() => document.body.dataset.ready === 'login');
    await c.page.fill('#token', token);
    await c.page.click('#login-form button[type=submit]');
    await c.page.waitForFunction(() => document.body.dataset.ready === 'dashboard');
    return c;
  } catch (err) {
    await c.close();
    throw err;
  }
}

async function cli(rig: ClusterRig, args: string[]): Promise<string> {
  const r = await rig.cli(args);
  assert.equal(r.code, 0, `trunkline ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

test(
  'console Cluster page on a 2-node cluster: nodes as the API has them, a call counted on its node, a node killed, Redis down and back',
  { skip, timeout: 180_000 },
  async () => {
    const rig = await startClusterRig({ nodes: 2, extraYaml: () => 'trunking: {ping: {interval: 0}}' });
    let c: ConsolePage | undefined;
    try {
      const pbxPort = await freePort(PBX);
      const token = await cli(rig, ['token', 'add', 'browser', '--role', 'admin']);
      await cli(rig, ['account', 'add', 'acme']);
      await cli(rig, [
        'trunk',
        'add',
        'pbx',
        '--account',
        'acme',
        '--ip',
        `${PBX}/32`,
        '--dest',
        `sip:${PBX}:${pbxPort}`,
      ]);
      await cli(rig, ['did', 'add', DID, '--trunk', 'pbx']);
      await cli(rig, ['carrier', 'add', 'main', '--gateway', `sip:${CARRIER}:5060`]);

      c = await login(`http://127.0.0.1:${rig.node(1).apiPort}/`, token);
      const { page } = c;
      await page.click('#nav a[data-page=cluster]');
      await page.waitForFunction(() => document.body.dataset.ready === 'cluster');
      await waitCell(c, 'n2', 'State', 'alive');
      const api = (await rig.node(1).api('/api/v1/cluster')).body as { nodes: ApiNode[] };
      const shown = await rows(c);
      assert.deepEqual(
        shown.map((r) => [r['Node'], r['State'], r['SIP'], r['Version']]),
        api.nodes.map((n) => [n.self ? `${n.id} (this node)` : n.id, 'alive', n.sip.join(' '), n.version]),
      );
      const { sipPort } = rig.node(1);
      assert.deepEqual(
        shown.map((r) => r['SIP']),
        [`udp:127.0.0.1:${sipPort} tcp:127.0.0.1:${sipPort}`, `udp:127.0.0.2:${sipPort} tcp:127.0.0.2:${sipPort}`],
      );
      assert.match(shown[0]!['Version']!, /^\d+\.\d+\.\d+/);
      assert.equal(await page.textContent('#cluster-redis'), `Redis redis://127.0.0.1:${rig.redis.port}/0: up`);
      assert.equal(await page.textContent('#fig-cluster-alive b'), '2 / 2');
      assert.equal(await page.textContent('#fig-cluster-self b'), 'n1');
      assert.equal(await page.textContent('#fig-cluster-redis-down b'), 'reject');

      // A call through node 2, held up by both SIPps: node 1's page counts it on node 2's row.
      await new Promise((r) => setTimeout(r, 2500)); // the nodes read store changes within 2 s
      const pbx = sippBackground(scenario('uas-call.xml'), pbxPort, { ip: PBX, timeoutS: 60 });
      const caller = sipp({
        scenario: scenario('uac-call-bye-in.xml'),
        target: `127.0.0.2:${sipPort}`,
        ip: CARRIER,
        localPort: await freePort(CARRIER),
        timeoutS: 60,
        extra: ['-s', DID],
      });
      await waitCell(c, 'n2', 'Calls', '1');
      await waitCell(c, 'n1', 'Calls', '0', 1000);
      await c.shot('cluster');
      const calls = (await rig.node(2).api('/api/v1/calls')).body as Array<{ callSid: string }>;
      assert.equal(calls.length, 1, JSON.stringify(calls));
      assert.equal((await rig.node(2).api(`/api/v1/calls/${calls[0]!.callSid}`, { method: 'DELETE' })).status, 204);
      const [uac, uas] = await Promise.all([caller, pbx.done]);
      assert.equal(uac.code, 0, uac.stdout.slice(-1500));
      assert.equal(uas.code, 0, uas.stdout.slice(-1500));
      await waitCell(c, 'n2', 'Calls', '0');

      // Node 2 killed: gone once its alive key expired (3 s) and the page refreshed.
      await rig.node(2).kill9();
      await waitCell(c, 'n2', 'State', 'gone', 10_000);
      assert.equal(await page.textContent('#fig-cluster-alive b'), '1 / 2');

      // Redis down: said so, no node table; back: node 1 heartbeats into the new Redis.
      await rig.redis.stop();
      await page.waitForFunction(() => document.querySelector('#cluster-redis')?.textContent?.endsWith(': down'));
      assert.equal(await page.locator('#cluster-nodes tbody tr').count(), 0);
      assert.match((await page.textContent('#cluster-nodes-empty')) ?? '', /Redis cannot be reached/);
      await rig.redis.start();
      await page.waitForFunction(() => document.querySelector('#cluster-redis')?.textContent?.endsWith(': up'));
      await waitCell(c, 'n1', 'State', 'alive');
      assert.deepEqual(c.errors, []);
    } finally {
      await c?.close();
      await rig.stop();
    }
  },
);

test('console Cluster page on a node alone: not a cluster', { skip: browserSkip() }, async () => {
  const server = await startTrunkline(`listen: [udp:127.0.0.1:${await freePort()}]\n`);
  let c: ConsolePage | undefined;
  try {
    const api = /"api":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(server.output())![1]!;
    const made = await run(
      process.execPath,
      [CLI, 'token', 'add', 'browser', '--role', 'admin', '--config', server.configFile],
      15_000,
    );
    assert.equal(made.code, 0, made.stderr);
    c = await login(`${api}/`, made.stdout.trim());
    await c.go('cluster');
    assert.equal(
      await c.page.textContent('#cluster-alone'),
      'Not a cluster: this node runs alone (its config has no cluster: key).',
    );
    assert.equal(await c.page.locator('#cluster-nodes').count(), 0);
    assert.deepEqual(c.errors, []);
  } finally {
    await c?.close();
    assert.equal(await server.stop(), 0);
  }
});
