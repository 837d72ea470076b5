/**
 * Bans and authentication failures shared by three nodes (127.0.0.1-3, one
 * Redis, one PostgreSQL schema), with real peers: SIPp floods and
 * registers, raw UDP sockets probe. Every address below stands for a host
 * of its own; each "dropped" is paired with a control source the same node
 * still answers.
 *
 *   127.0.0.49  control: never banned
 *   127.0.0.50  floods node 1 -> banned by node 1, dropped by 2 and 3 (bus)
 *   127.0.0.51  one bad password at each node -> banned everywhere
 *   127.0.0.52  floods node 2 while Redis is down -> the store carries the ban
 *   127.0.0.53  3 bad passwords at node 1 while Redis is down -> counted there alone
 *   127.0.0.54  banned and lifted with the CLI
 *   127.0.0.60  a carrier gateway: a ban of it is never enforced
 *   127.0.0.61  the PBX of trunk pbx (answers 486)
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { clusterSkip, startClusterRig, type ClusterRig } from '../helpers/cluster.js';
import { freePort } from '../helpers/ports.js';
import { haveCommand, scenarioWith, sipp } from '../helpers/sipp.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { UdpPeer, cli, securityScenario } from '../security/helpers.js';
import { UdpPeer as RawPeer, rand, request, response, sdp } from '../helpers/raw-sip.js';
import { parseMessage } from '../../src/sip/parser.js';

const skip = (await clusterSkip()) || (!haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)');

const CONTROL = '127.0.0.49';
const FLOODER = '127.0.0.50';
const GUESSER = '127.0.0.51';
const FLOODER_DOWN = '127.0.0.52';
const GUESSER_DOWN = '127.0.0.53';
const MANUAL = '127.0.0.54';
const CARRIER = '127.0.0.60';
const PBX = '127.0.0.61';
const DID = '+912240001234';
const ALL = [1, 2, 3];

let rig: ClusterRig;
const peers = new Map<string, UdpPeer>();
let carrier: RawPeer | null = null;
let pbx: RawPeer | null = null;
/** Node addresses the PBX received an INVITE from. */
const pbxInvites: string[] = [];

before(async () => {
  if (skip !== false) return;
  rig = await startClusterRig({
    nodes: 3,
    extraYaml: () =>
      [
        // SIPp 3.6 answers only an MD5 challenge.
        'registrar: {algorithms: MD5}',
        'security: {flood: {density: 20, unit: 2, banSeconds: 300}, bruteForce: {threshold: 3, window: 60, banSeconds: 300}}',
        // No OPTIONS pings to the carrier's raw socket.
        'trunking: {ping: {interval: 0}}',
      ].join('\n'),
  });
});

after(async () => {
  for (const p of peers.values()) p.close();
  carrier?.close();
  pbx?.close();
  await rig?.stop();
});

/** Whether node i answers an OPTIONS from `ip` within `ms`. */
async function answers(ip: string, i: number, ms = 400): Promise<boolean> {
  const key = `${ip}>${i}`;
  let p = peers.get(key);
  if (p === undefined) {
    p = await new UdpPeer(ip).open();
    peers.set(key, p);
  }
  const n = rig.node(i);
  return (await p.ask(n.sipPort, { ruri: `sip:${n.host}:${n.sipPort}` }, ms, n.host)) !== null;
}

/**
 * Probes each node every 200 ms (under the flood density) until it stops
 * answering `ip` (or answers again, `until: 'answered'`); the time of the
 * first probe that saw it, per node. Fails after `timeoutMs`.
 */
async function whenEach(ip: string, nodes: number[], until: 'dropped' | 'answered', timeoutMs = 5000) {
  const out = new Map<number, number>();
  await Promise.all(
    nodes.map(async (i) => {
      const end = Date.now() + timeoutMs;
      while (Date.now() < end) {
        const t = Date.now();
        if ((await answers(ip, i, 300)) === (until === 'answered')) {
          out.set(i, t);
          return;
        }
        await sleep(Math.max(0, 200 - (Date.now() - t)));
      }
      throw new Error(`node ${i} never ${until} ${ip} in ${timeoutMs} ms:\n${rig.node(i).output().slice(-2000)}`);
    }),
  );
  return out;
}

interface LogLine {
  time: number;
  msg: string;
  ip?: string;
  source?: string;
  from?: string;
}

/** Log lines of node i about `ip` whose message contains `msg`. */
function lines(i: number, ip: string, msg: string): LogLine[] {
  const out: LogLine[] = [];
  for (const l of rig.node(i).output().split('\n')) {
    if (!l.includes(`"ip":"${ip}"`) || !l.includes(msg)) continue;
    const j = JSON.parse(l) as Omit<LogLine, 'time'> & { time: string };
    out.push({ ...j, time: Date.parse(j.time) });
  }
  return out;
}

async function authBans(i: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${rig.node(i).apiPort}/metrics`)).text();
  return Number(/^trunkline_security_bans_total\{reason="auth"\} (\d+)$/m.exec(text)?.[1] ?? NaN);
}

async function ok(args: string[], input?: string): Promise<string> {
  const r = await cli(rig.node(1).configFile, args, input);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** One REGISTER answered with a wrong password, from `ip` to node i (SIPp: 401, credentials, 401 again). */
async function badPassword(ip: string, i: number): Promise<void> {
  const n = rig.node(i);
  const r = await sipp({
    scenario: scenarioWith('registrar-register.xml', { domain: 'cluster.test', expect: '401' }),
    target: `${n.host}:${n.sipPort}`,
    ip,
    localPort: await freePort(ip),
    calls: 1,
    timeoutS: 10,
    extra: ['-s', '1000', '-au', '1000', '-ap', 'wrong-password', '-auth_uri', 'cluster.test'],
  });
  assert.equal(r.code, 0, `REGISTER from ${ip} to n${i}:\n${r.stdout.slice(-1500)}\n${n.output().slice(-1500)}`);
}

/** An OPTIONS flood from `ip` to node i: 800 requests at 400 per second (the density is 20 per 2 s). */
async function flood(ip: string, i: number): Promise<void> {
  const n = rig.node(i);
  const child = spawn(
    'sipp',
    [
      '-sf',
      securityScenario('flood-options.xml'),
      `${n.host}:${n.sipPort}`,
      '-i',
      ip,
      '-p',
      String(await freePort(ip)),
      '-t',
      'u1',
      '-m',
      '800',
      '-r',
      '400',
      '-timeout',
      '10s',
      '-nostdin',
      '-nr',
    ],
    { stdio: 'ignore' },
  );
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await new Promise<void>((resolve) => child.on('close', () => resolve()));
  clearTimeout(killer);
}

test(
  'a flood at node 1 is banned there; nodes 2 and 3 drop the source within 2 s (the bus)',
  { skip, timeout: 60_000 },
  async (t) => {
    for (const i of ALL) assert.ok(await answers(FLOODER, i), `n${i} answers ${FLOODER} before`);
    const [dropped] = await Promise.all([whenEach(FLOODER, [2, 3], 'dropped', 8000), flood(FLOODER, 1)]);
    const own = lines(1, FLOODER, '"msg":"ban added"').filter((l) => l.source === 'flood' && l.from === undefined);
    assert.equal(own.length, 1, rig.node(1).output().slice(-2000));
    const bannedAt = own[0]!.time;
    for (const i of [2, 3]) {
      const got = lines(i, FLOODER, '"msg":"ban added"');
      assert.deepEqual(
        got.map((l) => [l.source, l.from]),
        [['flood', 'cluster']],
        `n${i} holds node 1's ban, by the bus:\n${rig.node(i).output().slice(-2000)}`,
      );
      const applied = got[0]!.time - bannedAt;
      const seen = dropped.get(i)! - bannedAt;
      t.diagnostic(`n${i}: ban applied ${applied} ms after node 1 banned; first probe dropped at +${seen} ms`);
      assert.ok(applied <= 2000, `n${i} applied the ban after ${applied} ms`);
      assert.ok(seen <= 2000, `n${i} still answered ${seen} ms after the ban`);
      assert.ok(await answers(CONTROL, i), `n${i} answers others`);
    }
    assert.equal(await answers(FLOODER, 1), false);
  },
);

test(
  "another node's address is never flood-counted nor banned (nodes forward calls to each other)",
  { skip, timeout: 60_000 },
  async () => {
    const peer = rig.node(2).host;
    // The same burst that gets a stranger banned, from node 2's address (another port than its SIP one).
    await flood(peer, 1);
    assert.ok(await answers(peer, 1), "n1 still answers n2's address after its burst");
    assert.deepEqual(lines(1, peer, '"msg":"ban added"'), [], rig.node(1).output().slice(-2000));
  },
);

test('the ban survives a node restart (stop, start: read from the store)', { skip, timeout: 60_000 }, async () => {
  await rig.node(2).stop();
  await rig.node(2).start();
  assert.ok(await answers(CONTROL, 2), 'n2 answers others after its restart');
  assert.equal(await answers(FLOODER, 2), false, 'n2 drops the flooder after its restart');
  assert.equal(lines(2, FLOODER, '"msg":"ban added"')[0]?.source, 'store');
});

test(
  'one bad password at each of the 3 nodes bans the source on every node; one node decides',
  { skip, timeout: 60_000 },
  async (t) => {
    await ok(['domain', 'add', 'cluster.test']);
    await ok(['subscriber', 'add', '1000@cluster.test', '--password-stdin'], 'right-password-1\n');
    await badPassword(GUESSER, 1);
    await badPassword(GUESSER, 2);
    for (const i of ALL) assert.ok(await answers(GUESSER, i), `2 failures: n${i} still answers`);
    await badPassword(GUESSER, 3);
    const dropped = await whenEach(GUESSER, ALL, 'dropped', 4000);
    const own = lines(3, GUESSER, '"msg":"ban added"').filter((l) => l.from === undefined);
    assert.deepEqual(
      own.map((l) => l.source),
      ['brute-force'],
      `node 3 took the third failure:\n${rig.node(3).output().slice(-2000)}`,
    );
    for (const i of [1, 2]) {
      const got = lines(i, GUESSER, '"msg":"ban added"');
      assert.deepEqual(
        got.map((l) => [l.source, l.from]),
        [['brute-force', 'cluster']],
      );
      t.diagnostic(`n${i}: brute-force ban applied ${got[0]!.time - own[0]!.time} ms after node 3 banned`);
      assert.ok(dropped.get(i)! - own[0]!.time <= 2000);
      assert.ok(await answers(CONTROL, i));
    }
    assert.deepEqual(await Promise.all(ALL.map(authBans)), [0, 0, 1]);
  },
);

test(
  'ban add with the CLI is enforced by all 3 within 2 s; ban rm lifts it everywhere',
  { skip, timeout: 60_000 },
  async (t) => {
    for (const i of ALL) assert.ok(await answers(MANUAL, i));
    await ok(['ban', 'add', MANUAL, '--reason', 'cluster test']);
    const listed = JSON.parse(await ok(['ban', 'list', '--json'])) as Array<{ ip: string; createdAt: string }>;
    const createdAt = Date.parse(listed.find((b) => b.ip === MANUAL)!.createdAt);
    const dropped = await whenEach(MANUAL, ALL, 'dropped', 4000);
    for (const i of ALL) {
      t.diagnostic(`n${i}: manual ban enforced ${dropped.get(i)! - createdAt} ms after it was written`);
      assert.ok(dropped.get(i)! - createdAt <= 2000, `n${i} after ${dropped.get(i)! - createdAt} ms`);
    }
    await ok(['ban', 'rm', MANUAL]);
    const liftedAt = Date.now();
    const back = await whenEach(MANUAL, ALL, 'answered', 4000);
    for (const i of ALL) {
      t.diagnostic(`n${i}: lift seen ${back.get(i)! - liftedAt} ms after ban rm exited`);
      assert.ok(back.get(i)! - liftedAt <= 2000);
      assert.equal(lines(i, MANUAL, '"msg":"ban lifted by hand"').length, 1);
    }
  },
);

/** An INVITE from the carrier to DID at node i; its final status (ACKed). */
async function callDid(i: number): Promise<number> {
  const n = rig.node(i);
  const c = carrier!;
  const callId = `${rand()}@${CARRIER}`;
  const uri = `sip:${DID}@${n.host}:${n.sipPort}`;
  const via = `SIP/2.0/UDP ${CARRIER}:${c.port};branch=z9hG4bK${rand()};rport`;
  const from = `<sip:+15551230000@${CARRIER}>;tag=${rand()}`;
  const base = { uri, via, from, callId, cseq: 1 };
  c.send(
    request({
      ...base,
      method: 'INVITE',
      to: `<sip:${DID}@${n.host}>`,
      contact: `<sip:carrier@${CARRIER}:${c.port}>`,
      body: sdp(CARRIER, 40000),
    }),
    n.host,
    n.sipPort,
  );
  const final = await c.next(
    (r) => !r.msg.isRequest && r.msg.callId === callId && (r.msg.status ?? 0) >= 200,
    `final answer of n${i}`,
    5000,
  );
  c.send(request({ ...base, method: 'ACK', to: final.msg.get('To') ?? '' }), n.host, n.sipPort);
  return final.msg.status!;
}

test(
  'a DID added with the CLI is used by every node within 2 s; a ban never locks out the carrier',
  { skip, timeout: 90_000 },
  async (t) => {
    carrier = await RawPeer.open(CARRIER, await freePort(CARRIER));
    pbx = await RawPeer.open(PBX, await freePort(PBX));
    const p = pbx;
    p.sock.on('message', (data, rinfo) => {
      const r = parseMessage(data);
      if (!r.ok || !r.message.isRequest || r.message.method !== 'INVITE') return;
      pbxInvites.push(rinfo.address);
      p.send(response(r.message, 486, 'Busy Here', { toTag: rand() }), rinfo.address, rinfo.port);
    });
    await ok(['account', 'add', 'acme']);
    await ok(['carrier', 'add', 'up', '--gateway', `sip:${CARRIER}:${carrier.port}`]);
    await ok(['trunk', 'add', 'pbx', '--account', 'acme', '--ip', PBX, '--dest', `sip:${PBX}:${p.port}`]);
    // The carrier is known everywhere (its calls to an unknown DID: 404) before the DID is added.
    await waitFor(async () => (await Promise.all(ALL.map(callDid))).every((s) => s === 404), {
      timeoutMs: 5000,
      intervalMs: 200,
      what: 'the carrier known to every node',
    });
    await ok(['did', 'add', DID, '--trunk', 'pbx']);
    const row = (JSON.parse(await ok(['did', 'list', '--json'])) as Array<{ number: string; createdAt: string }>)[0]!;
    const createdAt = Date.parse(row.createdAt);
    await Promise.all(
      ALL.map(async (i) => {
        const usedAt = await waitFor(
          async () => {
            const at = Date.now();
            return (await callDid(i)) === 486 ? at : false;
          },
          { timeoutMs: 5000, intervalMs: 150, what: `n${i} routing ${DID} to the PBX` },
        );
        t.diagnostic(`n${i}: DID used ${usedAt - createdAt} ms after it was written`);
        assert.ok(usedAt - createdAt <= 2000, `n${i} after ${usedAt - createdAt} ms`);
        assert.ok(pbxInvites.includes(rig.node(i).host), `the PBX got n${i}'s INVITE`);
      }),
    );

    // Bad passwords from the carrier's address: node 3 decides a ban, every node holds it, none enforces it.
    await badPassword(CARRIER, 1);
    await badPassword(CARRIER, 2);
    await badPassword(CARRIER, 3);
    await waitFor(() => ALL.every((i) => lines(i, CARRIER, 'ban of a trusted address not enforced').length === 1), {
      timeoutMs: 3000,
      what: 'the ban of the carrier held (not enforced) by every node',
    });
    for (const i of [1, 2]) assert.equal(lines(i, CARRIER, 'not enforced')[0]!.from, 'cluster');
    for (const i of ALL) assert.equal(await callDid(i), 486, `n${i} still takes the carrier's calls`);
  },
);

test(
  'Redis down: bans still reach every node through the store within 2 s; auth failures counted alone',
  { skip, timeout: 90_000 },
  async (t) => {
    await rig.redis.stop();
    await sleep(500);
    const [dropped] = await Promise.all([whenEach(FLOODER_DOWN, [1, 3], 'dropped', 8000), flood(FLOODER_DOWN, 2)]);
    const own = lines(2, FLOODER_DOWN, '"msg":"ban added"').filter((l) => l.from === undefined);
    assert.deepEqual(
      own.map((l) => l.source),
      ['flood'],
    );
    assert.match(rig.node(2).output(), /a ban could not be published; the other nodes read it from the store/);
    for (const i of [1, 3]) {
      const got = lines(i, FLOODER_DOWN, '"msg":"ban added"');
      assert.deepEqual(
        got.map((l) => l.source),
        ['store'],
      );
      const applied = got[0]!.time - own[0]!.time;
      t.diagnostic(`n${i}: ban read from the store ${applied} ms after node 2 banned (no bus)`);
      assert.ok(applied <= 2000 && dropped.get(i)! - own[0]!.time <= 2000, `n${i} after ${applied} ms`);
    }

    for (let k = 0; k < 3; k++) await badPassword(GUESSER_DOWN, 1);
    await whenEach(GUESSER_DOWN, ALL, 'dropped', 4000);
    assert.equal(lines(1, GUESSER_DOWN, '"msg":"ban added"')[0]?.source, 'brute-force');
    const alone = rig
      .node(1)
      .output()
      .split('\n')
      .filter((l) => l.includes('auth failures: counted on this node alone'));
    assert.equal(alone.length, 1, 'said once');
    await rig.redis.start();
  },
);
