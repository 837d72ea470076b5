/**
 * Authentication failures counted in Redis (src/security/shared-failures.ts)
 * against a redis-server of the test's own, each "node" a RedisLink of its
 * own: the failure that reaches the threshold is told to exactly one node,
 * also when nodes count at once; failures older than the window do not
 * count; the brute-force counter bans once for failures spread over nodes,
 * and counts alone (logged once) while Redis is down.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RedisLink } from '../../src/cluster/redis-link.js';
import { SharedFailureCounter, authFailKey } from '../../src/security/shared-failures.js';
import { BanningFailureCounter } from '../../src/security/brute-force.js';
import { redisSkip, startRedis, type TestRedis } from '../helpers/redis.js';
import { sleep, waitFor } from '../helpers/wait.js';

const skip = redisSkip();
let redis: TestRedis;
const links: RedisLink[] = [];

class Log {
  readonly lines: Array<{ level: string; msg: string }> = [];
  info(_o: object, msg: string): void {
    this.lines.push({ level: 'info', msg });
  }
  warn(_o: object, msg: string): void {
    this.lines.push({ level: 'warn', msg });
  }
}

async function link(): Promise<RedisLink> {
  const l = new RedisLink(redis.url, new Log());
  await l.start();
  links.push(l);
  return l;
}

async function nodes(n: number, threshold: number, windowMs: number): Promise<SharedFailureCounter[]> {
  const out: SharedFailureCounter[] = [];
  for (let i = 0; i < n; i++) out.push(new SharedFailureCounter(await link(), { threshold, windowMs, node: `n${i}` }));
  return out;
}

before(async () => {
  if (skip === false) redis = await startRedis();
});
after(async () => {
  for (const l of links) await l.close();
  await redis?.stop();
});

test('3 failures from one address over 3 nodes: only the third node is told', { skip }, async () => {
  const [a, b, c] = await nodes(3, 3, 60_000);
  assert.deepEqual((await a!.record('192.0.2.1', null)).kinds, []);
  assert.deepEqual((await b!.record('192.0.2.1', null)).kinds, []);
  const third = await c!.record('192.0.2.1', null);
  assert.deepEqual(third.kinds, ['ip']);
  assert.ok(Math.abs(third.atMs - Date.now()) < 5000, 'Redis clock in ms');
  // Counting restarted: the key went with the crossing.
  assert.match(await redis.command(`EXISTS ${authFailKey('ip', '192.0.2.1')}`), /^:0/);
  assert.deepEqual((await a!.record('192.0.2.1', null)).kinds, []);
});

test('90 failures counted at once by 3 nodes: exactly 30 crossings, none lost or doubled', { skip }, async () => {
  const counters = await nodes(3, 3, 60_000);
  const replies = await Promise.all(
    Array.from({ length: 90 }, (_, i) => counters[i % 3]!.record('192.0.2.2', 'mallory')),
  );
  const ip = replies.filter((r) => r.kinds.includes('ip')).length;
  const user = replies.filter((r) => r.kinds.includes('user')).length;
  assert.equal(ip, 30);
  assert.equal(user, 30);
  assert.match(await redis.command(`EXISTS ${authFailKey('ip', '192.0.2.2')}`), /^:0/);
});

test('a user guessed at from 3 addresses: the user key crosses, no address does', { skip }, async () => {
  const [a, b, c] = await nodes(3, 3, 60_000);
  await a!.record('192.0.2.11', 'dave');
  await b!.record('192.0.2.12', 'dave');
  assert.deepEqual((await c!.record('192.0.2.13', 'dave')).kinds, ['user']);
  // IPv4-mapped IPv6 is the same source; a long username is kept by its hash.
  await a!.record('::ffff:192.0.2.14', null);
  await b!.record('192.0.2.14', null);
  assert.deepEqual((await c!.record('192.0.2.14', null)).kinds, ['ip']);
  const long = 'x'.repeat(5000);
  assert.ok(authFailKey('user', long).length < 100);
  await a!.record('192.0.2.15', long);
  await b!.record('192.0.2.16', long);
  assert.deepEqual((await c!.record('192.0.2.17', long)).kinds, ['user']);
});

test('failures older than the window do not count; keys expire with the window', { skip }, async () => {
  const [a, b] = await nodes(2, 3, 400);
  await a!.record('192.0.2.3', null);
  await b!.record('192.0.2.3', null);
  const ttl = Number(/^:(-?\d+)/.exec(await redis.command(`PTTL ${authFailKey('ip', '192.0.2.3')}`))![1]);
  assert.ok(ttl > 0 && ttl <= 400, `PTTL ${ttl}`);
  await sleep(500);
  assert.match(await redis.command(`EXISTS ${authFailKey('ip', '192.0.2.3')}`), /^:0/);
  assert.deepEqual((await a!.record('192.0.2.3', null)).kinds, []);
  assert.deepEqual((await b!.record('192.0.2.3', null)).kinds, []);
  await sleep(200);
  // Two within the window (the first is 200 ms old), one more: the third crosses.
  assert.deepEqual((await a!.record('192.0.2.3', null)).kinds, ['ip']);
});

test('brute force over 3 nodes bans once; Redis down: each node counts alone, said once', { skip }, async () => {
  const bans: Array<[string, string, string]> = [];
  const logs: Log[] = [];
  const counters: BanningFailureCounter[] = [];
  for (let i = 0; i < 3; i++) {
    const log = new Log();
    logs.push(log);
    const c = new BanningFailureCounter({ threshold: 3, window: 60, banSeconds: 300 }, (ip, reason) =>
      bans.push([`n${i}`, ip, reason]),
    );
    c.share(new SharedFailureCounter(await link(), { threshold: 3, windowMs: 60_000, node: `n${i}` }), log);
    counters.push(c);
  }
  for (const [i, c] of counters.entries()) assert.deepEqual(c.record('192.0.2.4', `user${i}`, 'wrong password'), []);
  await waitFor(() => bans.length === 1, { timeoutMs: 2000, what: 'the ban' });
  await sleep(100);
  // Which node's failure reached Redis third is the race's; one of them bans.
  assert.deepEqual(
    bans.map(([, ip, reason]) => [ip, reason]),
    [['192.0.2.4', 'brute force: 3 failed authentications from this address within 60 s']],
  );
  // Nothing counted on the nodes themselves meanwhile.
  assert.equal(counters[0]!.count('ip', '192.0.2.4'), 0);

  await redis.stop();
  await waitFor(() => links.every((l) => !l.up), { timeoutMs: 3000, what: 'the links down' });
  bans.length = 0;
  // Node 0 alone: its own 3 failures ban, as a node alone would; 2 on node 1 do not.
  for (let k = 0; k < 3; k++) counters[0]!.record('192.0.2.5', null, 'wrong password');
  counters[1]!.record('192.0.2.5', null, 'wrong password');
  counters[1]!.record('192.0.2.5', null, 'wrong password');
  assert.deepEqual(
    bans.map(([n, ip]) => [n, ip]),
    [['n0', '192.0.2.5']],
  );
  const said = (l: Log) => l.lines.filter((x) => x.msg.includes('counted on this node alone')).length;
  assert.equal(said(logs[0]!), 1);
  assert.equal(said(logs[1]!), 1);
  assert.equal(said(logs[2]!), 0);

  await redis.start();
  await waitFor(() => links.every((l) => l.up), { timeoutMs: 5000, what: 'the links up again' });
  bans.length = 0;
  for (const c of counters) c.record('192.0.2.6', null, 'wrong password');
  await waitFor(() => bans.length === 1, { timeoutMs: 2000, what: 'the ban once Redis is back' });
  assert.equal(bans[0]![1], '192.0.2.6');
  assert.ok(logs[0]!.lines.some((x) => x.msg.includes('counted with the other nodes again')));
});
