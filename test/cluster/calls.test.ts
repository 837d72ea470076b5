/**
 * Live calls shared across a cluster of three nodes (127.0.0.1-3) with real
 * SIPp peers: the customer's PBX (trunk `pbx`, 127.0.0.32/29, one SIPp per
 * node on .33-.35) calls out through each node to the carrier's gateway
 * (SIPp at 127.0.0.40). Every node lists the whole cluster's calls with
 * their node (`trunkline calls`, GET /api/v1/calls); a call is hung up
 * through any node (its owner gets the order over the bus); an in-dialog
 * request that reaches the wrong node is carried to the node holding the
 * call; a node killed with -9 takes only its own calls: the others go on,
 * media included, to their normal BYE, and its calls leave the listing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { clusterSkip, startClusterRig, type ClusterRig } from '../helpers/cluster.js';
import { haveCommand, scenario, scenarioWith, sipp, sippBackground, type RunResult } from '../helpers/sipp.js';
import { freePort } from '../helpers/ports.js';
import { sleep, waitFor } from '../helpers/wait.js';

const skip = (await clusterSkip()) || (!haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)');

const CALLER = '+14155550100';
const DIALLED = '+15551230000';
const GW = '127.0.0.40';
/** The PBX's SIPp calling through node i (1-3). */
const pbxIp = (i: number): string => `127.0.0.${32 + i}`;
const OPERATOR = 'Hung up by operator';

let rig: ClusterRig;
let gwPort = 0;

interface CallJson {
  callSid: string;
  node: string | null;
  state: string;
  direction: string;
  trunk: string | null;
}

interface CdrJson {
  callSid: string;
  status: number;
  reason: string;
  hangupBy: string;
  extra: string | null;
}

async function cli(args: string[], node = 1): Promise<string> {
  const r = await rig.cli(args, node);
  assert.equal(r.code, 0, `trunkline ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

before(async () => {
  if (skip !== false) return;
  rig = await startClusterRig({
    nodes: 3,
    extraYaml: () => 'trunking: {gatewayTimeout: 3, ping: {interval: 0}}',
  });
  gwPort = await freePort(GW);
  await cli(['account', 'add', 'acme']);
  await cli(['trunk', 'add', 'pbx', '--account', 'acme', '--ip', '127.0.0.32/29']);
  await cli(['did', 'add', CALLER, '--trunk', 'pbx']);
  await cli(['carrier', 'add', 'main', '--gateway', `sip:${GW}:${gwPort}`]);
  await cli(['route', 'add', '+', '--carrier', 'main']);
  // The nodes see store changes within 2 s (they poll every second).
  await sleep(2200);
});

after(async () => {
  await rig?.stop();
});

/** A call from the PBX through node i, SIPp running `scenarioFile`. */
async function callThrough(i: number, scenarioFile: string, timeoutS = 25): Promise<RunResult> {
  return sipp({
    scenario: scenarioFile,
    target: `127.0.0.${i}:${rig.node(i).sipPort}`,
    ip: pbxIp(i),
    localPort: await freePort(pbxIp(i)),
    timeoutS,
    extra: ['-s', DIALLED, '-mp', String(await freePort(pbxIp(i)))],
  });
}

async function apiCalls(node: number): Promise<CallJson[]> {
  const r = await rig.node(node).api('/api/v1/calls');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body as CallJson[];
}

/** Waits until node `via` lists `n` confirmed calls; returns them by node. */
async function confirmed(n: number, via = 1): Promise<Map<string, CallJson>> {
  const up = await waitFor(
    async () => {
      const list = (await apiCalls(via)).filter((c) => c.state === 'confirmed');
      return list.length === n && list;
    },
    {
      timeoutMs: 20_000,
      what: `${n} confirmed calls listed by node ${via}`,
      intervalMs: 200,
      detail: () => rig.nodes.map((x) => `--- ${x.id}:\n${x.output().slice(-1500)}`).join('\n'),
    },
  );
  return new Map(up.map((c) => [c.node ?? '?', c]));
}

async function cdrs(): Promise<CdrJson[]> {
  return JSON.parse(await cli(['cdr', 'list', '--json'])) as CdrJson[];
}

function passed(res: RunResult, what: string): void {
  assert.equal(res.code, 0, `${what} failed:\n${res.stdout.slice(-2500)}\n${res.stderr.slice(-1000)}`);
}

/** One field of a Redis HASH (null: none). */
async function hget(key: string, field: string): Promise<string | null> {
  const reply = await rig.redis.command(`HGET ${key} ${field}`);
  if (reply.startsWith('$-1')) return null;
  return reply.slice(reply.indexOf('\r\n') + 2, -2);
}

/** The Redis keys of live calls left (records, node sets, dialog index). */
async function callKeys(): Promise<string> {
  const reply = await rig.redis.command('KEYS tl:call*');
  const index = await rig.redis.command('KEYS tl:dialog:*');
  return (reply + index).replace(/\*0\r\n/g, '');
}

test(
  'calls on nodes 1, 2 and 3 are listed with their node by any node; each is hung up through another node',
  { skip, timeout: 90_000 },
  async (t) => {
    const gw = sippBackground(scenario('uas-call.xml'), gwPort, { ip: GW, calls: 3, timeoutS: 60 });
    // Failed or not, the gateway's port is free for the next test (a no-op once it ended by itself).
    t.after(() => gw.stop());
    const awaitBye = scenarioWith('shutdown-uac-await-bye.xml', { caller: CALLER, reason: OPERATOR });
    const uacs = [1, 2, 3].map((i) => callThrough(i, awaitBye, 60));
    const byNode = await confirmed(3);
    assert.deepEqual([...byNode.keys()].sort(), ['n1', 'n2', 'n3']);
    for (const c of byNode.values()) assert.deepEqual([c.direction, c.trunk], ['outbound', 'pbx']);
    const sids = new Map([...byNode].map(([node, c]) => [c.callSid, node]));

    // The CLI on node 2 and the API of node 3 list the same calls, each with its node.
    const listed = JSON.parse(await cli(['calls', '--json'], 2)) as CallJson[];
    assert.deepEqual(new Map(listed.map((c) => [c.callSid, c.node])), sids);
    const table = await cli(['calls'], 2);
    assert.match(table, /^CALL\s+NODE\s+DIRECTION/m);
    assert.deepEqual(new Map((await apiCalls(3)).map((c) => [c.callSid, c.node])), sids);
    assert.equal((await rig.node(3).api(`/api/v1/calls/${byNode.get('n1')!.callSid}`)).status, 200);

    // Node 1's call in Redis: what a takeover would need (both dialogs, the relay's addresses), both legs indexed.
    const sid1 = byNode.get('n1')!.callSid;
    const key = `tl:call:${sid1}`;
    assert.deepEqual(
      [await hget(key, 'node'), await hget(key, 'state'), await hget(key, 'trunk'), await hget(key, 'carrier')],
      ['n1', 'confirmed', 'pbx', 'main'],
    );
    assert.match((await hget(key, 'incarnation')) ?? '', /^\w+\.[0-9a-f]{8}$/);
    const a = JSON.parse((await hget(key, 'a')) ?? 'null') as Record<string, unknown>;
    const b = JSON.parse((await hget(key, 'b')) ?? 'null') as Record<string, unknown>;
    assert.equal(a['remoteSeq'], 1);
    assert.match(String(a['target']), new RegExp(`^udp:${pbxIp(1).replace(/\./g, '\\.')}:\\d+$`));
    assert.ok(typeof b['remoteTag'] === 'string' && b['localSeq'] === 1, JSON.stringify(b));
    const media = JSON.parse((await hget(key, 'media')) ?? '{}') as Record<string, string>;
    assert.match(media['a'] ?? '', /^127\.0\.0\.1:\d+$/);
    assert.match(media['b'] ?? '', /^127\.0\.0\.1:\d+$/);
    for (const [leg, side] of [
      [a, 'a'],
      [b, 'b'],
    ] as const) {
      assert.equal(await hget(`tl:dialog:${String(leg['callId'])}`, 'callSid'), sid1);
      assert.equal(await hget(`tl:dialog:${String(leg['callId'])}`, 'side'), side);
    }
    assert.equal(await rig.redis.command(`SISMEMBER tl:calls:n1 ${sid1}`), ':1\r\n');

    // Node 1's call hung up through node 3's API: its PBX side gets a BYE with the operator's reason.
    const del = await rig.node(3).api(`/api/v1/calls/${byNode.get('n1')!.callSid}`, { method: 'DELETE' });
    assert.equal(del.status, 204, JSON.stringify(del.body));
    passed(await uacs[0]!, "node 1's call (BYE from node 1 after node 3's DELETE)");
    // Node 2's call by the CLI on node 1; node 3's by its own API.
    await cli(['calls', 'hangup', byNode.get('n2')!.callSid], 1);
    passed(await uacs[1]!, "node 2's call (BYE after `calls hangup` on node 1)");
    assert.equal(
      (await rig.node(3).api(`/api/v1/calls/${byNode.get('n3')!.callSid}`, { method: 'DELETE' })).status,
      204,
    );
    passed(await uacs[2]!, "node 3's call");
    // The carrier's side got a BYE on every call.
    passed(await gw.done, "the gateway's side of the three calls");

    // A call known nowhere: 404 by the API, an error by the CLI.
    const unknown = await rig.node(2).api('/api/v1/calls/CA00000000000000000000', { method: 'DELETE' });
    assert.equal(unknown.status, 404);
    const r = await rig.cli(['calls', 'hangup', 'CA00000000000000000000'], 2);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unknown call CA00000000000000000000/);

    const written = await waitFor(
      async () => {
        const list = (await cdrs()).filter((c) => sids.has(c.callSid));
        return list.length === 3 && list;
      },
      { timeoutMs: 10_000, what: 'the three CDRs', intervalMs: 300 },
    );
    for (const c of written) assert.deepEqual([c.status, c.reason, c.hangupBy], [200, OPERATOR, 'system']);
    // Ended calls leave Redis: no record, no node set, no dialog index entry.
    await waitFor(async () => (await callKeys()) === '', { timeoutMs: 5000, what: 'no call keys in Redis' });
    assert.deepEqual(await apiCalls(2), []);
  },
);

test(
  'an INFO, a re-INVITE and a BYE of a call of node 1 sent to node 2 reach node 1 and are answered through node 2',
  { skip, timeout: 60_000 },
  async (t) => {
    const gw = sippBackground(scenario('cluster-uas-info.xml'), gwPort, { ip: GW, calls: 1, timeoutS: 30 });
    t.after(() => gw.stop());
    const uac = callThrough(1, scenarioWith('cluster-uac-wrong-node.xml', { caller: CALLER, wrong: '127.0.0.2' }));
    passed(await uac, 'the caller (INFO, re-INVITE, ACK and BYE sent to node 2)');
    passed(await gw.done, 'the callee (INFO and re-INVITE relayed from node 1, then BYE)');
    const cdr = await waitFor(
      async () => (await cdrs()).find((c) => c.hangupBy === 'caller' && c.reason === 'Normal Clearing'),
      { timeoutMs: 10_000, what: 'the CDR of the call ended by the caller', intervalMs: 300 },
    );
    assert.equal(cdr.status, 200);
    // Node 2 forwarded the INFO, the re-INVITE and the BYE to node 1 (statefully), and the ACK (statelessly).
    const metrics = await (await fetch(`http://127.0.0.1:${rig.node(2).apiPort}/metrics`)).text();
    assert.match(metrics, /^trunkline_proxy_cluster_forwarded_total 3$/m);
    assert.match(metrics, /^trunkline_proxy_cluster_acks_forwarded_total 1$/m);
  },
);

test(
  'Redis lost and back empty: the calls go on, each node lists its own meanwhile, and all are written again',
  { skip, timeout: 90_000 },
  async (t) => {
    const gw = sippBackground(scenario('uas-call.xml'), gwPort, { ip: GW, calls: 2, timeoutS: 60 });
    t.after(() => gw.stop());
    const awaitBye = scenarioWith('shutdown-uac-await-bye.xml', { caller: CALLER, reason: OPERATOR });
    const uacs = [1, 2].map((i) => callThrough(i, awaitBye, 60));
    const byNode = await confirmed(2);
    await rig.redis.stop();
    try {
      // Node 1 still answers, with its own call; a call of another node cannot be reached now (503, not 404).
      const own = await waitFor(
        async () => {
          const list = await apiCalls(1);
          return list.length === 1 && list;
        },
        { timeoutMs: 5000, what: 'node 1 listing its own call alone', intervalMs: 200 },
      );
      assert.equal(own[0]!.callSid, byNode.get('n1')!.callSid);
      const del = await rig.node(1).api(`/api/v1/calls/${byNode.get('n2')!.callSid}`, { method: 'DELETE' });
      assert.equal(del.status, 503, JSON.stringify(del.body));
      await sleep(1000);
    } finally {
      await rig.redis.start();
    }
    const back = Date.now();
    // The new Redis is empty: each node writes its calls again once its heartbeat is back.
    await waitFor(async () => (await apiCalls(3)).length === 2, {
      timeoutMs: 8000,
      what: 'both calls listed by node 3 after Redis came back',
      intervalMs: 100,
    });
    const rewrittenMs = Date.now() - back;
    assert.ok(rewrittenMs <= 5000, `calls written again ${rewrittenMs} ms after Redis came back`);
    assert.equal(
      (await rig.node(3).api(`/api/v1/calls/${byNode.get('n1')!.callSid}`, { method: 'DELETE' })).status,
      204,
    );
    assert.equal(
      (await rig.node(3).api(`/api/v1/calls/${byNode.get('n2')!.callSid}`, { method: 'DELETE' })).status,
      204,
    );
    // The calls went on through the outage: both sides get the operator's BYE.
    passed(await uacs[0]!, "node 1's call");
    passed(await uacs[1]!, "node 2's call");
    passed(await gw.done, "the gateway's side");
    await waitFor(async () => (await callKeys()) === '', { timeoutMs: 5000, what: 'no call keys in Redis' });
    t.diagnostic(`calls written again ${rewrittenMs} ms after Redis came back`);
  },
);

test(
  "a node killed with -9: the others' calls go on, media included, to a normal BYE; its calls leave the listing",
  { skip, timeout: 90_000 },
  async (t) => {
    const gw = sippBackground(scenario('uas-call.xml'), gwPort, { ip: GW, calls: 3, timeoutS: 40 });
    t.after(() => gw.stop());
    // Each PBX plays 7 s of G.711 and a digit to the relay of its node, then hangs up (BYE, 200).
    const play = scenarioWith('media-uac-play.xml', { caller: CALLER });
    const uacs = [1, 2, 3].map((i) => callThrough(i, play, 18));
    const byNode = await confirmed(3);
    await sleep(1000);
    await rig.node(3).kill9();
    const killedAt = Date.now();
    const gone = byNode.get('n3')!.callSid;
    for (const via of [1, 2])
      await waitFor(async () => !(await apiCalls(via)).some((c) => c.callSid === gone), {
        timeoutMs: 8000,
        what: `node 3's call gone from node ${via}'s listing`,
        intervalMs: 100,
      });
    const vanishedMs = Date.now() - killedAt;
    assert.ok(vanishedMs <= 6000, `node 3's call left the listing after ${vanishedMs} ms`);
    // The survivors removed the dead node's records from Redis.
    await waitFor(async () => (await rig.redis.command(`EXISTS tl:call:${gone}`)).startsWith(':0'), {
      timeoutMs: 3000,
      what: "node 3's call record removed",
    });
    assert.equal(await rig.redis.command('SCARD tl:calls:n3'), ':0\r\n');
    const left = new Set((await apiCalls(2)).map((c) => c.node));
    assert.deepEqual([...left].sort(), ['n1', 'n2']);

    passed(await uacs[0]!, "node 1's call");
    passed(await uacs[1]!, "node 2's call");
    const kept = [byNode.get('n1')!.callSid, byNode.get('n2')!.callSid];
    const written = await waitFor(
      async () => {
        const list = (await cdrs()).filter((c) => kept.includes(c.callSid));
        return list.length === 2 && list;
      },
      { timeoutMs: 10_000, what: 'the CDRs of the calls of nodes 1 and 2', intervalMs: 300 },
    );
    for (const c of written) {
      assert.deepEqual([c.status, c.hangupBy], [200, 'caller']);
      // The whole recording (236 packets over 7 s) and the digit played after it went through the relay, not only
      // the ~35 packets played before the kill.
      const media = (JSON.parse(c.extra ?? '{}') as { media?: { aToB?: { packets?: number; dtmfEvents?: number } } })
        .media;
      assert.ok((media?.aToB?.packets ?? 0) >= 236, `relayed: ${c.extra}`);
      assert.equal(media?.aToB?.dtmfEvents, 1, `relayed: ${c.extra}`);
    }
    await gw.stop();
    await uacs[2];
    t.diagnostic(`node 3's call left the listing ${vanishedMs} ms after the kill`);
  },
);
