/**
 * A set of leases kept by each node (src/cluster/lease-set.ts), against a
 * real redis-server: one holder per name among competing nodes, a takeover
 * once the holder leaves or is cut off, never two holders at once; while
 * Redis is down the holder keeps its lease until it runs out and nobody
 * takes it; when Redis is back (empty) the holder takes it again first.
 * Short timings (TTL 1 s, renew 250 ms) stand for the real ones (20 s, 5 s).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RedisLink } from '../../src/cluster/redis-link.js';
import { LeaseSet } from '../../src/cluster/lease-set.js';
import { redisSkip, startRedis, type TestRedis } from '../helpers/redis.js';
import { sleep, waitFor } from '../helpers/wait.js';

const skip = redisSkip();
const quiet = { info: () => undefined, warn: () => undefined };
let redis: TestRedis;
const open: Array<{ link: RedisLink; set: LeaseSet }> = [];

before(async () => {
  if (skip === false) redis = await startRedis();
});
/** Whether the test's Redis runs: after() starts it again if a failed test left it stopped (a close would wait). */
let redisUp = true;
async function redisDown(): Promise<void> {
  redisUp = false;
  await redis.stop();
}
async function redisBack(): Promise<void> {
  await redis.start();
  redisUp = true;
}

after(async () => {
  if (!redisUp) await redis.start();
  for (const o of open) {
    await o.set.stop().catch(() => undefined);
    await o.link.close();
  }
  await redis?.stop();
});

interface Member {
  id: string;
  link: RedisLink;
  set: LeaseSet;
  changes: Array<[string, boolean]>;
}

let group = 0;
/** Nodes competing for the leases of one test (keys of their own). */
async function members(count: number): Promise<Member[]> {
  group++;
  const out: Member[] = [];
  for (let i = 1; i <= count; i++) {
    const link = new RedisLink(redis.url, quiet);
    await link.start();
    const g = group;
    const set = new LeaseSet(link, {
      node: `n${i}`,
      incarnation: `inc${i}`,
      keyOf: (name) => `tl:test-set:${g}:${name}`,
      tokenKeyOf: (name) => `tl:test-set-token:${g}:${name}`,
      ttlMs: 1000,
      marginMs: 300,
      renewMs: 250,
      log: quiet,
    });
    const m: Member = { id: `n${i}`, link, set, changes: [] };
    set.onChange((name, held) => m.changes.push([name, held]));
    open.push({ link, set });
    out.push(m);
  }
  return out;
}

function holders(ms: Member[], name: string): string[] {
  return ms.filter((m) => m.set.holds(name)).map((m) => m.id);
}

/** Samples every 5 ms while `during` runs: fails if two members ever hold `name` at once. */
async function neverTwo<T>(ms: Member[], name: string, during: () => Promise<T>): Promise<T> {
  let worst: string[] = [];
  let running = true;
  const watch = (async () => {
    while (running) {
      const h = holders(ms, name);
      if (h.length > worst.length) worst = h;
      await sleep(5);
    }
  })();
  try {
    return await during();
  } finally {
    running = false;
    await watch;
    assert.ok(worst.length <= 1, `held at once by ${worst.join(', ')}`);
  }
}

test('three nodes wanting two names: each name has exactly one holder, told once', { skip }, async () => {
  const ms = await members(3);
  for (const m of ms) m.set.want(['x', 'y']);
  await waitFor(() => holders(ms, 'x').length === 1 && holders(ms, 'y').length === 1, {
    timeoutMs: 2000,
    what: 'one holder each',
    intervalMs: 10,
  });
  await sleep(1500); // renewals go on; still one each, told once
  for (const name of ['x', 'y']) {
    const h = holders(ms, name);
    assert.equal(h.length, 1, `${name}: ${h.join(',')}`);
    const told = ms.flatMap((m) => m.changes.filter(([n]) => n === name).map(([, held]) => `${m.id}:${held}`));
    assert.deepEqual(told, [`${h[0]}:true`]);
    assert.equal(ms.find((m) => m.id === h[0])!.set.holder(name), h[0]);
    for (const m of ms) assert.equal(m.set.holder(name), h[0], `${m.id} knows the holder of ${name}`);
  }
});

test('the holder stopping releases: another takes over within a renew interval', { skip }, async () => {
  const ms = await members(3);
  for (const m of ms) m.set.want(['x']);
  const first = await waitFor(() => holders(ms, 'x')[0], { timeoutMs: 2000, what: 'a holder', intervalMs: 10 });
  const holder = ms.find((m) => m.id === first)!;
  await neverTwo(ms, 'x', async () => {
    const t0 = Date.now();
    await holder.set.stop();
    assert.equal(await redis.command(`EXISTS tl:test-set:${group}:x`), ':0\r\n');
    const next = await waitFor(() => holders(ms, 'x')[0], { timeoutMs: 2000, what: 'a new holder', intervalMs: 5 });
    assert.notEqual(next, first);
    assert.ok(Date.now() - t0 < 600, `taken over after ${Date.now() - t0} ms`);
  });
});

test('a holder cut off from Redis stops holding before another takes it', { skip }, async () => {
  const ms = await members(3);
  for (const m of ms) m.set.want(['x']);
  const first = await waitFor(() => holders(ms, 'x')[0], { timeoutMs: 2000, what: 'a holder', intervalMs: 10 });
  const holder = ms.find((m) => m.id === first)!;
  await neverTwo(ms, 'x', async () => {
    await holder.link.close(); // its renewals fail from now on
    await waitFor(() => holder.changes.some(([, held]) => !held), {
      timeoutMs: 2000,
      what: 'the cut-off holder gives up',
      intervalMs: 5,
    });
    const next = await waitFor(() => holders(ms, 'x')[0], { timeoutMs: 3000, what: 'a new holder', intervalMs: 5 });
    assert.notEqual(next, first);
  });
});

test('a name no longer wanted is released', { skip }, async () => {
  const ms = await members(1);
  ms[0]!.set.want(['x']);
  await waitFor(() => ms[0]!.set.holds('x'), { timeoutMs: 2000, what: 'held', intervalMs: 10 });
  ms[0]!.set.want([]);
  assert.equal(ms[0]!.set.holds('x'), false);
  await waitFor(async () => (await redis.command(`EXISTS tl:test-set:${group}:x`)) === ':0\r\n', {
    timeoutMs: 2000,
    what: 'the key deleted',
    intervalMs: 10,
  });
});

test(
  'Redis down: the holder keeps it until it runs out, nobody takes it; Redis back empty: the holder first',
  {
    skip,
    timeout: 20_000,
  },
  async () => {
    const ms = await members(3);
    for (const m of ms) m.set.want(['x']);
    const first = await waitFor(() => holders(ms, 'x')[0], { timeoutMs: 2000, what: 'a holder', intervalMs: 10 });
    const holder = ms.find((m) => m.id === first)!;
    await neverTwo(ms, 'x', async () => {
      await redisDown();
      const t0 = Date.now();
      await waitFor(() => holder.changes.at(-1)?.[1] === false, {
        timeoutMs: 3000,
        what: 'the holder gives up',
        intervalMs: 5,
      });
      assert.equal(holder.set.holds('x'), false);
      // TTL 1000 - margin 300 after the last renew (at most 250 ms before the outage).
      const kept = Date.now() - t0;
      assert.ok(kept >= 350 && kept <= 800, `kept ${kept} ms`);
      await sleep(1500);
      assert.deepEqual(holders(ms, 'x'), []);
      await redisBack();
      const next = await waitFor(() => holders(ms, 'x')[0], { timeoutMs: 5000, what: 'a holder again', intervalMs: 5 });
      assert.equal(next, first);
      assert.deepEqual(holder.changes.at(-1), ['x', true]);
    });
  },
);
