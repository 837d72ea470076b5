/**
 * Call limits held in the cluster's Redis: three nodes on 127.0.0.1-3 take
 * inbound calls (SIPp as the carrier gateway, from 127.0.0.5) for DIDs of
 * trunks with limits, and a SIPp on 127.0.0.2x as each trunk's PBX. The
 * limits hold over the nodes together: max-calls 10 admits exactly 10 of
 * 60 simultaneous calls, CPM 30 exactly 30 of 45 in ~15 s; the slots of a
 * node killed with -9 come back within 15 s (its leases lapse); with Redis
 * stopped new calls follow `onRedisDown` (reject: 503; local: the limit
 * divided by the nodes alive) while the calls up go on, and once Redis is
 * back the leases equal the live calls within 5 s.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { clusterSkip, startClusterRig, type ClusterRig } from '../helpers/cluster.js';
import { freePort } from '../helpers/ports.js';
import { haveCommand, sippBackground, scenarioWith, type BackgroundSipp, type RunResult } from '../helpers/sipp.js';
import { elapsedUntil, sleep, waitFor } from '../helpers/wait.js';

const skip = (await clusterSkip()) || (!haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)');
const CARRIER = '127.0.0.5';
const EXTRA = (): string => 'trunking: {ping: {interval: 0}}';

interface CdrRow {
  trunk: string | null;
  status: number;
  reason: string;
  startAt: string;
  hangupBy: string;
}

/** A trunk of its own per test (its own limits and keys), a DID and a PBX address for it. */
interface TestTrunk {
  name: string;
  did: string;
  pbx: string;
  pbxPort: number;
}

let rig: ClusterRig;

before(async () => {
  if (skip !== false) return;
  rig = await startClusterRig({ nodes: 3, extraYaml: EXTRA });
  await provisionCommon(rig);
});
after(async () => {
  await rig?.stop();
});

async function cli(r: ClusterRig, args: string[]): Promise<string> {
  const out = await r.cli(args);
  assert.equal(out.code, 0, `trunkline ${args.join(' ')}: ${out.stderr}`);
  return out.stdout;
}

async function provisionCommon(r: ClusterRig): Promise<void> {
  await cli(r, ['account', 'add', 'acme']);
  await cli(r, ['carrier', 'add', 'gw', '--gateway', `sip:${CARRIER}:5060`]);
}

let nextDid = 1000;
async function addTrunk(
  r: ClusterRig,
  name: string,
  pbx: string,
  limits: { maxCalls?: number; cpm?: number },
): Promise<TestTrunk> {
  const pbxPort = await freePort(pbx);
  const did = `+9122400${nextDid++}`;
  await cli(r, [
    'trunk',
    'add',
    name,
    '--account',
    'acme',
    '--ip',
    pbx,
    '--dest',
    `sip:${pbx}:${pbxPort}`,
    ...(limits.maxCalls === undefined ? [] : ['--max-calls', String(limits.maxCalls)]),
    ...(limits.cpm === undefined ? [] : ['--cpm', String(limits.cpm)]),
  ]);
  await cli(r, ['did', 'add', did, '--trunk', name]);
  return { name, did, pbx, pbxPort };
}

/** The nodes poll the store every second: a trunk added is seen by all within 2 s. */
const storeSeen = (): Promise<void> => sleep(2200);

/** The trunk's PBX: answers each call and waits for the BYE (`calls` at most, bounded in time). */
function pbxFor(t: TestTrunk, calls: number, timeoutS: number): BackgroundSipp {
  const scn = scenarioWith('trunk-uas-expect.xml', {
    must: `X-Trunk-Sid: ${t.name}`,
    hidden: 'sipp@',
    hiddenAddr: 'xx-none',
  });
  return sippBackground(scn, t.pbxPort, { ip: t.pbx, calls, timeoutS });
}

/** `calls` calls from the carrier to node i for the trunk's DID, each held `holdMs` once answered (or refused 503). */
async function carrierCalls(
  r: ClusterRig,
  i: number,
  t: TestTrunk,
  o: { calls: number; holdMs: number; rate: number; timeoutS: number },
): Promise<BackgroundSipp> {
  const node = r.node(i);
  const scn = scenarioWith('trunk-uac-or-refused.xml', { caller: '+15550001111', hold: String(o.holdMs) });
  return sippBackground(scn, await freePort(CARRIER), {
    ip: CARRIER,
    calls: o.calls,
    timeoutS: o.timeoutS,
    extra: [`${node.host}:${node.sipPort}`, '-s', t.did, '-r', String(o.rate), '-l', '200', '-timeout_error'],
  });
}

function ok(res: RunResult, what: string): void {
  assert.equal(res.code, 0, `${what} failed:\n${res.stdout.slice(-3000)}\n${res.stderr.slice(-1500)}`);
}

async function cdrs(r: ClusterRig, trunk: string): Promise<CdrRow[]> {
  return JSON.parse(await cli(r, ['cdr', 'list', '--json', '--trunk', trunk, '--limit', '1000'])) as CdrRow[];
}

/** The CDRs of a trunk once there are `n` (they are written as calls end). */
async function cdrsOnce(r: ClusterRig, trunk: string, n: number): Promise<CdrRow[]> {
  return waitFor(
    async () => {
      const rows = await cdrs(r, trunk);
      return rows.length >= n ? rows : false;
    },
    { timeoutMs: 15_000, intervalMs: 500, what: `${n} CDRs of trunk ${trunk}` },
  );
}

/** One command on a connection of its own (Redis may have been restarted meanwhile). */
async function redis<T>(r: ClusterRig, fn: (c: ReturnType<typeof createClient>) => Promise<T>): Promise<T> {
  const c = createClient({ url: r.redis.url, socket: { reconnectStrategy: false, connectTimeout: 1000 } });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.quit().catch(() => undefined);
  }
}

/** Leases of a scope that have not lapsed (score = expiry on Redis's clock). */
const LIVE_LEASES = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')`;

function liveLeases(r: ClusterRig, trunk: string): Promise<number> {
  return redis(r, async (c) => Number(await c.eval(LIVE_LEASES, { keys: [`tl:lease:trunk:${trunk}`] })));
}

async function metric(r: ClusterRig, i: number, re: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${r.node(i).apiPort}/metrics`)).text();
  const m = re.exec(text);
  return m === null ? 0 : Number(m[1]);
}

const answered = (rows: CdrRow[]): CdrRow[] => rows.filter((c) => c.status === 200);
const refusedWith = (rows: CdrRow[], reason: RegExp): CdrRow[] =>
  rows.filter((c) => c.status === 503 && reason.test(c.reason));

test(
  'max-calls 10 over 3 nodes: of 60 simultaneous calls exactly 10 are taken, the others 503',
  { skip, timeout: 60_000 },
  async () => {
    const t = await addTrunk(rig, 'conc', '127.0.0.20', { maxCalls: 10 });
    await storeSeen();
    const pbx = pbxFor(t, 60, 40);
    try {
      // 20 calls to each node at 40/s: all within half a second, each held 4 s once answered.
      const uacs = await Promise.all(
        [1, 2, 3].map((i) => carrierCalls(rig, i, t, { calls: 20, holdMs: 4000, rate: 40, timeoutS: 30 })),
      );
      const results = await Promise.all(uacs.map((u) => u.done));
      results.forEach((res, k) => ok(res, `carrier calls to n${k + 1}`));
      const rows = await cdrsOnce(rig, 'conc', 60);
      assert.equal(rows.length, 60);
      assert.equal(answered(rows).length, 10, JSON.stringify(rows.map((c) => [c.status, c.reason])));
      assert.equal(refusedWith(rows, /^Concurrent calls limit reached$/).length, 50);
      // Every call ended: no lease is left behind.
      await waitFor(async () => (await liveLeases(rig, 'conc')) === 0, {
        timeoutMs: 3000,
        intervalMs: 200,
        what: 'no lease left on trunk:conc',
      });
    } finally {
      await pbx.stop();
    }
  },
);

test(
  'CPM 30 over 3 nodes: of 45 calls within ~15 s exactly 30 are taken, no minute holds more',
  { skip, timeout: 60_000 },
  async () => {
    const t = await addTrunk(rig, 'cpm', '127.0.0.21', { cpm: 30 });
    await storeSeen();
    const pbx = pbxFor(t, 45, 40);
    try {
      const uacs = await Promise.all(
        [1, 2, 3].map((i) => carrierCalls(rig, i, t, { calls: 15, holdMs: 0, rate: 1, timeoutS: 30 })),
      );
      const results = await Promise.all(uacs.map((u) => u.done));
      results.forEach((res, k) => ok(res, `carrier calls to n${k + 1}`));
      const rows = await cdrsOnce(rig, 'cpm', 45);
      const taken = answered(rows);
      assert.equal(taken.length, 30, JSON.stringify(rows.map((c) => [c.status, c.reason])));
      assert.equal(refusedWith(rows, /^Calls per minute limit reached$/).length, 15);
      const starts = taken.map((c) => Date.parse(c.startAt)).sort((a, b) => a - b);
      for (const s of starts) assert.ok(starts.filter((x) => x >= s && x < s + 60_000).length <= 30);
      // The calls came from all three nodes' sides: the window is shared, not one node's.
      assert.ok(starts[starts.length - 1]! - starts[0]! < 60_000);
    } finally {
      await pbx.stop();
    }
  },
);

test(
  'Redis stopped with calls up (reject): they go on to a normal BYE, new calls get 503; back, leases = live calls within 5 s',
  { skip, timeout: 90_000 },
  async (tc) => {
    const t = await addTrunk(rig, 'down', '127.0.0.22', { maxCalls: 10 });
    await storeSeen();
    const pbx = pbxFor(t, 10, 60);
    try {
      // One call up on each node, held 12 s.
      const up = await Promise.all(
        [1, 2, 3].map((i) => carrierCalls(rig, i, t, { calls: 1, holdMs: 12_000, rate: 1, timeoutS: 30 })),
      );
      await waitFor(async () => (await liveLeases(rig, 'down')) === 3, {
        timeoutMs: 5000,
        intervalMs: 100,
        what: '3 leases on trunk:down',
      });
      await rig.redis.stop();
      await sleep(300);
      const refused = await Promise.all(
        [1, 2, 3].map((i) => carrierCalls(rig, i, t, { calls: 1, holdMs: 0, rate: 1, timeoutS: 10 })),
      );
      for (const [k, u] of refused.entries()) ok(await u.done, `a call to n${k + 1} while Redis is down`);
      await rig.redis.start();
      const ms = await elapsedUntil(async () => (await liveLeases(rig, 'down').catch(() => -1)) === 3, {
        timeoutMs: 8000,
        intervalMs: 100,
      });
      assert.ok(ms >= 0 && ms <= 5000, `leases re-asserted after ${ms} ms (-1: never)`);
      tc.diagnostic(`reject: leases equal the calls up ${ms} ms after Redis started`);
      for (const [k, u] of up.entries()) ok(await u.done, `the call up on n${k + 1}`);
      const rows = await cdrsOnce(rig, 'down', 6);
      assert.equal(answered(rows).length, 3);
      assert.ok(
        answered(rows).every((c) => c.hangupBy === 'caller'),
        'the calls up ended by their BYE',
      );
      assert.equal(refusedWith(rows, /^Cluster limits unavailable$/).length, 3, JSON.stringify(rows));
      for (const i of [1, 2, 3])
        assert.ok(
          (await metric(rig, i, /^trunkline_cluster_limit_fallbacks_total\{mode="reject"\} (\d+)$/m)) >= 1,
          `n${i} counted its fallback`,
        );
      await waitFor(async () => (await liveLeases(rig, 'down')) === 0, {
        timeoutMs: 3000,
        intervalMs: 200,
        what: 'no lease left once the calls ended',
      });
    } finally {
      await pbx.stop();
    }
  },
);

test(
  'kill -9 of a node with calls up: the others end normally, its slots come back within 15 s, exactly those',
  { skip, timeout: 90_000 },
  async (tc) => {
    const t = await addTrunk(rig, 'kill', '127.0.0.23', { maxCalls: 10 });
    await storeSeen();
    const pbx = pbxFor(t, 20, 60);
    try {
      // 4 + 3 + 3 calls: the trunk is full. Those of n1 and n2 are held 22 s, n3's until it dies.
      const plan: Array<[number, number]> = [
        [1, 4],
        [2, 3],
        [3, 3],
      ];
      const up = await Promise.all(
        plan.map(([i, n]) => carrierCalls(rig, i, t, { calls: n, holdMs: 22_000, rate: 20, timeoutS: 40 })),
      );
      await waitFor(async () => (await liveLeases(rig, 'kill')) === 10, {
        timeoutMs: 5000,
        intervalMs: 100,
        what: '10 leases on trunk:kill',
      });
      await rig.node(3).kill9();
      const killedAt = Date.now();
      await up[2]!.stop();
      const ms = await elapsedUntil(async () => (await liveLeases(rig, 'kill')) === 7, {
        timeoutMs: 18_000,
        intervalMs: 100,
      });
      const lapsed = ms < 0 ? -1 : Date.now() - killedAt;
      assert.ok(lapsed >= 0 && lapsed <= 15_500, `n3's 3 leases lapsed ${lapsed} ms after its death (-1: never)`);
      tc.diagnostic(`kill -9: the dead node's leases lapsed ${lapsed} ms after`);
      // 5 more calls to n1: exactly the 3 freed slots are taken.
      const more = await carrierCalls(rig, 1, t, { calls: 5, holdMs: 1000, rate: 20, timeoutS: 20 });
      ok(await more.done, 'the 5 calls after the lapse');
      assert.ok(Date.now() - killedAt < 21_000, 'the 7 calls were still up when the 5 came');
      ok(await up[0]!.done, 'the calls up on n1');
      ok(await up[1]!.done, 'the calls up on n2');
      const rows = await cdrsOnce(rig, 'kill', 12);
      // n3 died with its calls: no CDR of them. 7 calls of n1/n2 + 3 taken of the 5, 2 refused.
      assert.equal(answered(rows).length, 10, JSON.stringify(rows.map((c) => [c.status, c.reason])));
      assert.equal(refusedWith(rows, /^Concurrent calls limit reached$/).length, 2);
    } finally {
      await pbx.stop();
      await rig.node(3).start();
    }
  },
);

test(
  'Redis stopped (local): each node takes the limit divided by the nodes alive; back, leases = live calls within 5 s',
  { skip, timeout: 120_000 },
  async (tc) => {
    const local = await startClusterRig({ nodes: 3, extraYaml: EXTRA, onRedisDown: 'local' });
    try {
      await provisionCommon(local);
      // 6 over 3 nodes: 2 per node while Redis is down.
      const t = await addTrunk(local, 'loc', '127.0.0.24', { maxCalls: 6 });
      await storeSeen();
      const pbx = pbxFor(t, 20, 60);
      try {
        const before = await carrierCalls(local, 1, t, { calls: 1, holdMs: 14_000, rate: 1, timeoutS: 30 });
        await waitFor(async () => (await liveLeases(local, 'loc')) === 1, {
          timeoutMs: 5000,
          intervalMs: 100,
          what: 'the lease of the call up',
        });
        await local.redis.stop();
        await sleep(300);
        // n1 holds one call already: 1 more of 3; n2 none: 2 of 3.
        const during = await Promise.all(
          [1, 2].map((i) => carrierCalls(local, i, t, { calls: 3, holdMs: 9000, rate: 20, timeoutS: 30 })),
        );
        await waitFor(async () => (await cdrs(local, 'loc')).length >= 3, {
          timeoutMs: 5000,
          intervalMs: 200,
          what: 'the 3 refusals',
        });
        await local.redis.start();
        const ms = await elapsedUntil(async () => (await liveLeases(local, 'loc').catch(() => -1)) === 4, {
          timeoutMs: 8000,
          intervalMs: 100,
        });
        assert.ok(ms >= 0 && ms <= 5000, `leases of the 4 live calls re-asserted after ${ms} ms (-1: never)`);
        tc.diagnostic(`local: leases equal the calls up ${ms} ms after Redis started`);
        ok(await before.done, 'the call up before the outage');
        for (const [k, u] of during.entries()) ok(await u.done, `the calls to n${k + 1} during the outage`);
        const rows = await cdrsOnce(local, 'loc', 7);
        assert.equal(answered(rows).length, 4, JSON.stringify(rows.map((c) => [c.status, c.reason])));
        assert.equal(refusedWith(rows, /^Concurrent calls limit reached$/).length, 3);
        assert.ok((await metric(local, 1, /^trunkline_cluster_limit_fallbacks_total\{mode="local"\} (\d+)$/m)) >= 3);
        await waitFor(async () => (await liveLeases(local, 'loc')) === 0, {
          timeoutMs: 3000,
          intervalMs: 200,
          what: 'no lease left once the calls ended',
        });
      } finally {
        await pbx.stop();
      }
    } finally {
      await local.stop();
    }
  },
);
