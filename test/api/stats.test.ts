/**
 * GET /api/v1/stats/calls (the console's charts) on SQLite and PostgreSQL:
 * per-minute buckets of the last N minutes from the CDR store, oldest
 * first, answered = 2xx and failed = the rest, counted in the minute the
 * call started; records older than the window left out; 400 naming
 * `minutes` for a bad one, 401 without a token, listed in the OpenAPI
 * document. The clock is fixed so the buckets are known.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildApi, type Api } from '../../src/api/app.js';
import { Counters } from '../../src/core/counters.js';
import { EventBus } from '../../src/core/events.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { openStore, type Store } from '../../src/store/index.js';
import { TokenRepo } from '../../src/store/repos/tokens.js';
import type { Cdr } from '../../src/trunking/model.js';
import { postgresBackend, sqliteBackend, type Backend } from '../helpers/backends.js';

const NOW = Date.parse('2026-03-01T12:30:40Z');
const MIN = 60_000;
const base: Cdr = {
  callSid: '',
  account: 'acme',
  trunk: 'pbx',
  carrier: 'main',
  direction: 'inbound',
  from: '+15551230000',
  to: '+912240001234',
  startAt: 0,
  answerAt: null,
  endAt: 0,
  duration: 0,
  status: 200,
  reason: 'Normal Clearing',
  hangupBy: 'caller',
  extra: null,
};

function suite(backend: Backend): void {
  describe(`stats API on ${backend.label}`, async () => {
    const skip = await backend.skip();
    let store: Store;
    let api: Api;
    let token: string;
    before(async () => {
      if (skip !== false) return;
      store = await openStore(await backend.fresh(), { env: {} });
      const tokens = new TokenRepo(store.ctx);
      api = await buildApi({
        ctx: { store, tokens, bus: new EventBus(), now: () => NOW },
        log: createLogger('silent'),
        metrics: new Metrics(new Counters()),
        version: 'test',
        ready: async () => null,
        reload: async () => ({ config: null }),
      });
      token = (await tokens.add('reader', 'read')).token;
      // The current minute (12:30): 2 answered, 1 failed; 12:28: 1 failed; 12:00 (31 min back): 1 answered;
      // 11:20 (70 min back): outside a 60-minute window.
      const rows: Array<[string, number, number]> = [
        ['CA1', NOW - 10_000, 200],
        ['CA2', NOW - 40_000, 200],
        ['CA3', NOW - 5_000, 503],
        ['CA4', NOW - 2 * MIN, 486],
        ['CA5', Date.parse('2026-03-01T12:00:00Z'), 200],
        ['CA6', NOW - 70 * MIN, 200],
      ];
      for (const [callSid, startAt, status] of rows) {
        await store.cdrs.insert({
          ...base,
          callSid,
          startAt,
          endAt: startAt + 1000,
          status,
          answerAt: status === 200 ? startAt + 500 : null,
          duration: status === 200 ? 1 : 0,
        });
      }
    });
    after(async () => {
      if (skip !== false) return;
      await api.app.close();
      await store.close();
    });

    const get = async (url: string, auth = true) => {
      const res = await api.app.inject({
        method: 'GET',
        url,
        headers: auth ? { authorization: `Bearer ${token}` } : {},
      });
      return { status: res.statusCode, json: JSON.parse(res.body) };
    };

    test('per-minute buckets of the last hour: started, answered, failed, by start minute', { skip }, async () => {
      const r = await get('/api/v1/stats/calls?minutes=60');
      assert.equal(r.status, 200);
      assert.equal(r.json.length, 60);
      assert.equal(r.json[0].start, '2026-03-01T11:31:00.000Z');
      assert.equal(r.json[59].start, '2026-03-01T12:30:00.000Z');
      assert.deepEqual(r.json[59], { start: '2026-03-01T12:30:00.000Z', started: 3, answered: 2, failed: 1 });
      assert.deepEqual(r.json[57], { start: '2026-03-01T12:28:00.000Z', started: 1, answered: 0, failed: 1 });
      assert.deepEqual(r.json[29], { start: '2026-03-01T12:00:00.000Z', started: 1, answered: 1, failed: 0 });
      const total = r.json.reduce((n: number, b: { started: number }) => n + b.started, 0);
      assert.equal(total, 5, 'the call 70 minutes back is outside the window');
      // The default is 60; a longer window takes the older call in.
      assert.deepEqual((await get('/api/v1/stats/calls')).json, r.json);
      const day = await get('/api/v1/stats/calls?minutes=1440');
      assert.equal(day.json.length, 1440);
      assert.equal(
        day.json.reduce((n: number, b: { started: number }) => n + b.started, 0),
        6,
      );
      const one = await get('/api/v1/stats/calls?minutes=1');
      assert.deepEqual(one.json, [{ start: '2026-03-01T12:30:00.000Z', started: 3, answered: 2, failed: 1 }]);
    });

    test(
      'a bad minutes is a 400 naming it; no token is a 401; the route is in the OpenAPI document',
      { skip },
      async () => {
        for (const bad of ['0', '1441', 'abc', '1.5', '-3']) {
          const r = await get(`/api/v1/stats/calls?minutes=${bad}`);
          assert.equal(r.status, 400, bad);
          assert.match(r.json.error, /^minutes: /, bad);
        }
        const unknown = await get('/api/v1/stats/calls?minute=5');
        assert.equal(unknown.status, 400);
        assert.match(unknown.json.error, /minute/);
        assert.equal((await get('/api/v1/stats/calls', false)).status, 401);
        const doc = (await get('/api/v1/openapi.json', false)).json;
        assert.ok(doc.paths['/api/v1/stats/calls']?.get, 'listed in the OpenAPI document');
      },
    );
  });
}

const backends = [sqliteBackend('api'), postgresBackend('api')];
for (const b of backends) suite(b);
after(async () => {
  for (const b of backends) await b.cleanup();
});
