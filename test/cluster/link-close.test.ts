/**
 * A node's membership ends promptly even while Redis is unreachable: a
 * SIGTERM during an outage must not hang the shutdown on a QUIT that waits
 * for a reconnect, nor on a goodbye Redis never answers; and a Redis that
 * is not there fails the start instead of holding it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from '../../src/cluster/cluster.js';
import { redisSkip, startRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { freePort } from '../helpers/ports.js';
import { RedisLink } from '../../src/cluster/redis-link.js';
import { RedisUnavailableError } from '../../src/cluster/errors.js';

const skip = redisSkip();
const quiet = { info: () => undefined, warn: () => undefined };

test(
  'cluster.stop() resolves within 2 s with Redis down, and at once with it up',
  { skip, timeout: 20_000 },
  async () => {
    const redis = await startRedis();
    try {
      const self = { sip: ['udp:127.0.0.1:5060'], api: null, version: '0' };
      const a = new Cluster({ redis: redis.url, node: 'close-a', onRedisDown: 'reject' }, self, quiet);
      await a.start();
      await redis.stop();
      await waitFor(() => !a.link.up, { timeoutMs: 3000, what: 'the link to see Redis down', intervalMs: 50 });
      const t0 = Date.now();
      await a.stop();
      assert.ok(Date.now() - t0 < 2000, `stop took ${Date.now() - t0} ms with Redis down`);

      await redis.start();
      const b = new Cluster({ redis: redis.url, node: 'close-b', onRedisDown: 'reject' }, self, quiet);
      await b.start();
      const t1 = Date.now();
      await b.stop();
      assert.ok(Date.now() - t1 < 1500, `stop took ${Date.now() - t1} ms with Redis up`);
      // A clean stop deletes its alive key: the others see it gone at once.
      assert.match(await redis.command('EXISTS tl:alive:close-b'), /^:0/);
    } finally {
      await redis.stop();
    }
  },
);

test(
  'cluster.stop() resolves within 4 s while Redis takes the connection and answers nothing (a master gone behind Sentinel)',
  { skip, timeout: 30_000 },
  async () => {
    const redis = await startRedis();
    try {
      const self = { sip: ['udp:127.0.0.1:5060'], api: null, version: '0' };
      const a = new Cluster({ redis: redis.url, node: 'close-paused', onRedisDown: 'reject' }, self, quiet);
      await a.start();
      // Writes wait 10 s: the alive key's DEL of the goodbye would hold the shutdown that long.
      assert.match(await redis.command('CLIENT PAUSE 10000 WRITE'), /^\+OK/);
      const t0 = Date.now();
      await a.stop();
      assert.ok(Date.now() - t0 < 4000, `stop took ${Date.now() - t0} ms with Redis not answering`);
    } finally {
      await redis.stop();
    }
  },
);

test(
  'link.start() fails within its bound, naming the target, when nothing takes the connection',
  { timeout: 20_000 },
  async () => {
    const port = await freePort();
    const link = new RedisLink(`redis://127.0.0.1:${port}/0`, quiet);
    const t0 = Date.now();
    await assert.rejects(link.start(1500), (err: unknown) => {
      assert.ok(err instanceof RedisUnavailableError, String(err));
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      return true;
    });
    assert.ok(Date.now() - t0 < 4000, `start took ${Date.now() - t0} ms to fail`);
  },
);
