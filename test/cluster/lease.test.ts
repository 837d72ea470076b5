/**
 * Leases in Redis (src/cluster/lease.ts) against a real redis-server of the
 * test's own: one holder among concurrent acquirers, renew and release only
 * by the holder (compare), fencing tokens strictly increasing (over a Redis
 * restarted empty too), the local validity that lapses without a renew.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RedisLink } from '../../src/cluster/redis-link.js';
import { Lease, listLeases, parseLeaseValue } from '../../src/cluster/lease.js';
import { redisSkip, startRedis, type TestRedis } from '../helpers/redis.js';
import { sleep, waitFor } from '../helpers/wait.js';

const skip = redisSkip();
const quiet = { info: () => undefined, warn: () => undefined };
let redis: TestRedis;
const links: RedisLink[] = [];

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
  for (const l of links) await l.close();
  await redis?.stop();
});

async function link(): Promise<RedisLink> {
  const l = new RedisLink(redis.url, quiet);
  await l.start();
  links.push(l);
  return l;
}

let n = 0;
/** Keys of a lease of its own for each test. */
function names(): { key: string; tokenKey: string } {
  n++;
  return { key: `tl:test-lease:${n}`, tokenKey: `tl:test-lease-token:${n}` };
}

async function pttl(key: string): Promise<number> {
  return Number((await redis.command(`PTTL ${key}`)).replace(/^:/, ''));
}

test('of five nodes acquiring at once, exactly one holds; its value is node|incarnation|token', { skip }, async () => {
  const k = names();
  const leases = await Promise.all(
    [1, 2, 3, 4, 5].map(async (i) => new Lease(await link(), { ...k, node: `n${i}`, incarnation: `inc${i}` })),
  );
  const got = await Promise.all(leases.map((l) => l.acquire()));
  assert.equal(got.filter(Boolean).length, 1, JSON.stringify(got));
  const winner = leases[got.indexOf(true)]!;
  const stored = (await redis.command(`GET ${k.key}`)).split('\r\n')[1]!;
  assert.equal(stored, winner.value);
  const v = parseLeaseValue(stored);
  assert.equal(v?.node, winner.node);
  assert.equal(v?.token, winner.token);
  // SET NX PX: the key has its TTL from the start.
  const ttl = await pttl(k.key);
  assert.ok(ttl > 15_000 && ttl <= 20_000, `PTTL ${ttl}`);
  // The losers learned who holds it.
  for (const l of leases) if (l !== winner) assert.equal(l.holder?.node, winner.node);
  assert.equal(winner.valid(), true);
  for (const l of leases) if (l !== winner) assert.equal(l.valid(), false);
});

test(
  'only the holder renews (PEXPIRE if still its value); an old holder renewing changes nothing',
  {
    skip,
  },
  async () => {
    const k = names();
    const c = await link();
    const a = new Lease(c, { ...k, node: 'a', incarnation: '1', ttlMs: 2000, marginMs: 200 });
    const b = new Lease(c, { ...k, node: 'b', incarnation: '1', ttlMs: 300, marginMs: 100 });
    // b held it first; its key expired; a holds it now. b still has its old value.
    assert.equal(await b.acquire(), true);
    await waitFor(async () => (await a.acquire()) || undefined, {
      timeoutMs: 2000,
      what: 'a acquires',
      intervalMs: 50,
    });
    await sleep(600);
    const before = await pttl(k.key);
    const r = await b.renew();
    assert.equal(r.kind, 'lost');
    assert.equal(r.kind === 'lost' && r.holder?.node, 'a');
    assert.ok((await pttl(k.key)) <= before, 'a renew by b left the TTL alone');
    assert.equal(b.valid(), false);
    assert.equal(b.value, null);
    assert.equal((await a.renew()).kind, 'renewed');
    assert.ok((await pttl(k.key)) > 1800, 'renewed to the full TTL');
  },
);

test('release deletes only when the value is still ours', { skip }, async () => {
  const k = names();
  const c = await link();
  const a = new Lease(c, { ...k, node: 'a', incarnation: '1', ttlMs: 300, marginMs: 100 });
  const b = new Lease(c, { ...k, node: 'b', incarnation: '1' });
  assert.equal(await a.acquire(), true);
  // a's key expires in Redis; b takes it; a's release (its old value) must leave b's alone.
  await waitFor(async () => (await b.acquire()) || undefined, { timeoutMs: 2000, what: 'b acquires', intervalMs: 50 });
  assert.equal(await a.release(), false);
  assert.match(await redis.command(`GET ${k.key}`), /b\|1\|/);
  assert.equal(await b.release(), true);
  assert.equal(await redis.command(`EXISTS ${k.key}`), ':0\r\n');
  assert.equal(b.valid(), false);
});

test(
  'a lease not renewed lapses locally before Redis expires it; another takes it; the old holder lost it',
  {
    skip,
  },
  async () => {
    const k = names();
    const c = await link();
    const a = new Lease(c, { ...k, node: 'a', incarnation: '1', ttlMs: 800, marginMs: 300 });
    const b = new Lease(c, { ...k, node: 'b', incarnation: '1', ttlMs: 800, marginMs: 300 });
    assert.equal(await a.acquire(), true);
    const t0 = Date.now();
    await waitFor(() => !a.valid(), { timeoutMs: 2000, what: 'a lapsed', intervalMs: 10 });
    const lapsed = Date.now() - t0;
    assert.ok(lapsed <= 550, `valid for ${lapsed} ms (TTL 800 - margin 300)`);
    // Still in Redis: nobody else may take it yet.
    assert.equal(await b.acquire(), false);
    await waitFor(async () => (await b.acquire()) || undefined, {
      timeoutMs: 2000,
      what: 'b acquires',
      intervalMs: 50,
    });
    assert.equal((await a.renew()).kind, 'lost');
    assert.equal(a.value, null);
  },
);

test(
  'the holder re-asserts: its own key kept (same token), a key gone taken again (a new token)',
  {
    skip,
  },
  async () => {
    const k = names();
    const c = await link();
    const a = new Lease(c, { ...k, node: 'a', incarnation: '1' });
    assert.equal(await a.acquire(), true);
    const t1 = a.token!;
    assert.equal(await a.acquire(), true);
    assert.equal(a.token, t1);
    // Another incarnation of the same node is another holder.
    const again = new Lease(c, { ...k, node: 'a', incarnation: '2' });
    assert.equal(await again.acquire(), false);
    await redis.command(`DEL ${k.key}`);
    assert.equal((await a.renew()).kind, 'gone');
    assert.equal(await a.acquire(), true);
    assert.ok(a.token! > t1);
  },
);

test('fencing tokens strictly increase, across holders and over a Redis restarted empty', { skip }, async () => {
  const k = names();
  const c = await link();
  const ls = ['a', 'b', 'c'].map((node) => new Lease(c, { ...k, node, incarnation: '1' }));
  const tokens: number[] = [];
  for (let round = 0; round < 6; round++) {
    const l = ls[round % 3]!;
    assert.equal(await l.acquire(), true);
    tokens.push(l.token!);
    assert.equal(await l.release(), true);
  }
  await redisDown();
  await redisBack();
  await waitFor(() => c.up, { timeoutMs: 5000, what: 'link back', intervalMs: 20 });
  assert.equal(await ls[0]!.acquire(), true);
  tokens.push(ls[0]!.token!);
  for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i]! > tokens[i - 1]!, tokens.join(' '));
});

test(
  'while Redis is down acquire and renew reject; the holder stays valid for its TTL minus the margin',
  {
    skip,
    timeout: 20_000,
  },
  async () => {
    const k = names();
    const c = await link();
    const a = new Lease(c, { ...k, node: 'a', incarnation: '1', ttlMs: 1500, marginMs: 300 });
    assert.equal(await a.acquire(), true);
    await redisDown();
    await waitFor(() => !c.up, { timeoutMs: 3000, what: 'link down', intervalMs: 10 });
    await assert.rejects(a.renew(), { name: 'RedisUnavailableError' });
    assert.equal(a.valid(), true);
    await waitFor(() => !a.valid(), { timeoutMs: 2000, what: 'a lapsed', intervalMs: 10 });
    await redisBack();
    await waitFor(() => c.up, { timeoutMs: 5000, what: 'link back', intervalMs: 20 });
    assert.equal(await a.acquire(), true);
    assert.equal(a.valid(), true);
  },
);

test('listLeases: the leases held under a prefix, by name, a value not ours left out', { skip }, async () => {
  const c = await link();
  const prefix = 'tl:test-list:';
  for (const [name, node] of [
    ['b', 'n2'],
    ['a', 'n1'],
  ] as const)
    assert.equal(
      await new Lease(c, {
        key: `${prefix}${name}`,
        tokenKey: `tl:test-list-token:${name}`,
        node,
        incarnation: 'i',
      }).acquire(),
      true,
    );
  await redis.command(`SET ${prefix}junk hello`);
  const got = await listLeases(c, prefix);
  assert.deepEqual(
    got.map((l) => [l.name, l.node, l.incarnation]),
    [
      ['a', 'n1', 'i'],
      ['b', 'n2', 'i'],
    ],
  );
});
