/**
 * The Lua of the shared call limits against a real redis-server of the
 * test's own: two limiters stand for two nodes (each its own connection).
 * A call is admitted in all its scopes or none; a release is set
 * membership (twice is once); leases lapse without renewal and hold with
 * it; the keys expire once idle; the CPM Retry-After counts down the oldest
 * start; with Redis gone, `reject` refuses at once with Retry-After.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { redisSkip, startRedis, type TestRedis } from '../helpers/redis.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { RedisLink, type LinkLog } from '../../src/cluster/redis-link.js';
import { SharedLimiter, type SharedLimiterOptions } from '../../src/cluster/shared-limits.js';
import type { LimitVerdict, ScopeLimits } from '../../src/trunking/limits.js';

const skip = redisSkip();
let redis: TestRedis;
const links: RedisLink[] = [];
const limiters: SharedLimiter[] = [];
const lines: string[] = [];
const log: LinkLog = {
  info: (_o, msg) => lines.push(msg),
  warn: (_o, msg) => lines.push(msg),
};

before(async () => {
  if (skip === false) redis = await startRedis();
});
after(async () => {
  for (const l of limiters) l.close();
  for (const l of links) await l.close();
  await redis?.stop();
});

let seq = 0;
async function node(id: string, o: Partial<SharedLimiterOptions> = {}): Promise<SharedLimiter> {
  const link = new RedisLink(redis.url, log);
  await link.start();
  links.push(link);
  const l = new SharedLimiter({ link, node: id, aliveCount: () => 1, onRedisDown: 'reject', log, ...o });
  limiters.push(l);
  return l;
}

const sid = (): string => `CA${(seq++).toString().padStart(8, '0')}`;

function scopes(account: string, trunk: string, a: Partial<ScopeLimits> = {}, t: Partial<ScopeLimits> = {}) {
  return [
    { key: `account:${account}`, cpm: null, maxCalls: null, ...a },
    { key: `trunk:${trunk}`, cpm: null, maxCalls: null, ...t },
  ];
}

async function zcard(key: string): Promise<number> {
  const r = await redis.command(`ZCARD ${key}`);
  return Number(/^:(\d+)/.exec(r)?.[1]);
}

async function pttl(key: string): Promise<number> {
  return Number(/^:(-?\d+)/.exec(await redis.command(`PTTL ${key}`))?.[1]);
}

function admitted(v: LimitVerdict): () => void {
  assert.ok(v.ok, `expected admitted, got ${JSON.stringify(v)}`);
  return v.release;
}

test('all scopes or none: a call refused by its account leaves nothing in its trunk', { skip }, async () => {
  const n1 = await node('n1');
  const n2 = await node('n2');
  const a = scopes('one', 'one-a', { maxCalls: 1 }, { cpm: 10 });
  const b = scopes('one', 'one-b', { maxCalls: 1 }, { cpm: 10 });
  admitted(await n1.tryStart(a, sid()));
  const refused = await n2.tryStart(b, sid());
  assert.deepEqual(refused, { ok: false, key: 'account:one', kind: 'concurrent', retryAfter: 5 });
  assert.equal(await zcard('tl:lease:trunk:one-b'), 0, 'no lease taken on the trunk');
  assert.equal(await zcard('tl:cpm:trunk:one-b'), 0, 'no start counted on the trunk');
  // Refused by the trunk (inner scope): the account is not charged either.
  const c = scopes('two', 'two-a', { cpm: 10 }, { maxCalls: 0 });
  const r2 = await n1.tryStart(c, sid());
  assert.equal(r2.ok, false);
  assert.equal(!r2.ok && r2.key, 'trunk:two-a');
  assert.equal(await zcard('tl:cpm:account:two'), 0);
  assert.equal(await zcard('tl:lease:account:two'), 0);
});

test('two nodes share the concurrent calls and the calls per minute of a scope', { skip }, async () => {
  const n1 = await node('n1');
  const n2 = await node('n2');
  const s = scopes('three', 'three', {}, { maxCalls: 2, cpm: 3 });
  const r1 = admitted(await n1.tryStart(s, sid()));
  admitted(await n2.tryStart(s, sid()));
  assert.deepEqual(await n1.tryStart(s, sid()), { ok: false, key: 'trunk:three', kind: 'concurrent', retryAfter: 5 });
  assert.deepEqual(await n1.usage('trunk:three'), { active: 2, lastMinute: 2 });
  r1();
  await waitFor(async () => (await zcard('tl:lease:trunk:three')) === 1, { timeoutMs: 2000, what: 'the release' });
  admitted(await n2.tryStart(s, sid()));
  // The 4th start within the minute: refused by the CPM window, Retry-After = until the oldest leaves it.
  await waitFor(async () => (await zcard('tl:lease:trunk:three')) === 2, { timeoutMs: 2000, what: 'the lease' });
  const lease = await n1.tryStart(s, sid());
  assert.equal(!lease.ok && lease.kind, 'concurrent', 'concurrent is checked before the window');
  const s4 = scopes('three', 'three', {}, { maxCalls: null, cpm: 3 });
  const v = await n1.tryStart(s4, sid());
  assert.equal(v.ok, false);
  assert.equal(!v.ok && v.kind, 'cpm');
  assert.ok(!v.ok && v.retryAfter >= 58 && v.retryAfter <= 60, `Retry-After ${JSON.stringify(v)}`);
  assert.equal(await zcard('tl:cpm:trunk:three'), 3, 'refusals are not counted as starts');
});

test('a release twice is once; a release never takes another call out', { skip }, async () => {
  const n1 = await node('n1');
  const n2 = await node('n2');
  const s = scopes('four', 'four', {}, { maxCalls: 2 });
  const r1 = admitted(await n1.tryStart(s, sid()));
  const r2 = admitted(await n2.tryStart(s, sid()));
  r1();
  r1();
  r1();
  await sleep(200);
  assert.equal(await zcard('tl:lease:trunk:four'), 1);
  assert.equal(await zcard('tl:lease:account:four'), 1);
  const r3 = admitted(await n1.tryStart(s, sid()));
  assert.equal((await n1.tryStart(s, sid())).ok, false, 'the double release freed one slot, not two');
  r2();
  r3();
  r3();
  r2();
  await waitFor(async () => (await zcard('tl:lease:trunk:four')) === 0, { timeoutMs: 2000, what: 'both released' });
  assert.deepEqual(await n2.usage('trunk:four'), { active: 0, lastMinute: 0 });
});

test('a lease not renewed lapses and its slot comes back; renewed, it holds; idle keys expire', { skip }, async () => {
  // n1 never renews (as a node that died); n2 renews every 100 ms.
  const dead = await node('dead', { leaseMs: 400, renewMs: 3_600_000 });
  const live = await node('live', { leaseMs: 400, renewMs: 100 });
  const s = scopes('five', 'five', {}, { maxCalls: 2, cpm: 100 });
  admitted(await dead.tryStart(s, sid()));
  const kept = admitted(await live.tryStart(s, sid()));
  assert.equal((await live.tryStart(s, sid())).ok, false);
  assert.ok((await pttl('tl:lease:trunk:five')) <= 1400, 'the lease key expires after its last lease');
  const cpmTtl = await pttl('tl:cpm:trunk:five');
  assert.ok(cpmTtl > 59_000 && cpmTtl <= 61_000, `cpm key PTTL ${cpmTtl}`);
  await sleep(700);
  // The dead node's lease lapsed; the renewed one holds.
  const again = admitted(await live.tryStart(s, sid()));
  assert.equal((await live.tryStart(s, sid())).ok, false, 'the renewed lease still counts');
  kept();
  again();
  await waitFor(async () => (await redis.command('EXISTS tl:lease:trunk:five')).startsWith(':0'), {
    timeoutMs: 3000,
    intervalMs: 50,
    what: 'the idle lease key to vanish',
  });
});

test(
  'Redis gone (reject): a new call is refused at once with Retry-After; back, calls up are asserted again',
  { skip, timeout: 20_000 },
  async () => {
    const n1 = await node('n1', { renewMs: 60_000 });
    const s = scopes('six', 'six', {}, { maxCalls: 5, cpm: 50 });
    const up = admitted(await n1.tryStart(s, sid()));
    const ended = admitted(await n1.tryStart(s, sid()));
    await redis.stop();
    await waitFor(() => !links[links.length - 1]!.up, { timeoutMs: 3000, what: 'the link down' });
    const t0 = Date.now();
    assert.deepEqual(await n1.tryStart(s, sid()), {
      ok: false,
      key: 'account:six',
      kind: 'unavailable',
      retryAfter: 5,
    });
    assert.ok(Date.now() - t0 < 100, 'refused without waiting');
    assert.equal(n1.fallbacks.reject, 1);
    ended(); // while Redis is down: told once it is back
    await redis.start();
    // An empty Redis (no persistence): the call up and the 2 starts of the minute come back, the ended call does not.
    await waitFor(async () => (await zcard('tl:lease:trunk:six')) === 1, {
      timeoutMs: 5000,
      intervalMs: 50,
      what: 'the call up asserted again',
    });
    assert.equal(await zcard('tl:cpm:trunk:six'), 2);
    assert.deepEqual(await n1.usage('trunk:six'), { active: 1, lastMinute: 2 });
    assert.ok(lines.includes('cluster limits: calls up asserted again'), lines.join('\n'));
    up();
  },
);

/** Keeps Redis busy for `ms` (a script looping on TIME: every other client waits meanwhile). */
function busy(ms: number): Promise<string> {
  const lua = `local t = redis.call('TIME') local e = t[1] * 1000000 + t[2] + ${ms * 1000} repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] >= e return 1`;
  return redis.command(`EVAL "${lua}" 0`).catch((err: unknown) => String(err));
}

test(
  'Redis not answering within 1 s: the call follows onRedisDown, and what Redis admitted late is taken out',
  { skip },
  async () => {
    const n1 = await node('n1', { renewMs: 60_000 });
    const s = scopes('seven', 'seven', {}, { maxCalls: 5, cpm: 10 });
    const stalled = busy(1500);
    await sleep(50);
    const t0 = Date.now();
    const v = await n1.tryStart(s, sid());
    const waited = Date.now() - t0;
    assert.deepEqual(v, { ok: false, key: 'account:seven', kind: 'unavailable', retryAfter: 5 });
    assert.ok(waited >= 900 && waited < 1400, `refused after ${waited} ms`);
    await stalled;
    await waitFor(
      async () => (await zcard('tl:lease:trunk:seven')) === 0 && (await zcard('tl:cpm:trunk:seven')) === 0,
      {
        timeoutMs: 2000,
        intervalMs: 50,
        what: 'the late admission taken out',
      },
    );
    admitted(await n1.tryStart(s, sid()));
  },
);
