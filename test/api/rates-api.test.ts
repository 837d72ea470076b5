/**
 * /api/v1/rates through inject(), on SQLite and on PostgreSQL: a CSV upload
 * (text/csv body, carrier and replace in the query), the rows listed by
 * carrier and prefix with cursor pages, DELETE of a prefix or of a deck;
 * errors naming the line and column (nothing imported), 403 for a read
 * token, 404, 415. Routes with a mode, route explain with the rates, and a
 * CDR's cost as the API shows it.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { harness, injectCall, type Harness, type InjectOptions } from './helpers.js';
import { postgresBackend, sqliteBackend, type Backend } from '../helpers/backends.js';

type Json = any;

const DECK = [
  'prefix,rate,increment,fee,effective',
  '44,0.0200,60/60,,',
  '4420,0.0100,30/6,0.05,',
  '4420,0.0080,30/6,0.05,2020-01-01',
  '4420,0.0010,1/1,,2999-01-01',
  '33,0.0300,1/1,,',
].join('\r\n');

function suite(backend: Backend): void {
  describe(`rates API on ${backend.label}`, async () => {
    const skip = await backend.skip();
    let h: Harness;
    before(async () => {
      if (skip !== false) return;
      h = await harness(backend);
      await h.store.accounts.add({ name: 'acme' });
      await h.store.trunks.add({ name: 'office', account: 'acme', ip: ['127.0.0.2/32'] });
      await h.store.carriers.add({ name: 'cheap', gateways: ['sip:127.0.0.5:5060'] });
      await h.store.carriers.add({ name: 'dear', gateways: ['sip:127.0.0.6:5060'] });
      await h.store.carriers.add({ name: 'none', gateways: ['sip:127.0.0.7:5060'] });
    });
    after(async () => {
      if (skip === false) await h.close();
    });

    const call = (method: string, url: string, opts: InjectOptions = {}) => injectCall(h, method, url, opts);
    const upload = (query: string, csv: string, opts: InjectOptions = {}) =>
      call('POST', `/api/v1/rates?${query}`, {
        body: csv,
        ...opts,
        headers: { 'content-type': 'text/csv', ...opts.headers },
      });

    test('upload: 201 with the counts; rows listed by carrier, money as exact decimals', { skip }, async () => {
      let r = await upload('carrier=cheap', DECK);
      assert.equal(r.status, 201, JSON.stringify(r.json));
      assert.deepEqual(r.json, { carrier: 'cheap', imported: 5, total: 5, replaced: false, ignored: [] });
      r = await call('GET', '/api/v1/rates?carrier=cheap', { token: h.reader });
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, [
        { carrier: 'cheap', prefix: '+33', rate: '0.03', increment: '1/1', fee: '0.00', effective: null },
        { carrier: 'cheap', prefix: '+44', rate: '0.02', increment: '60/60', fee: '0.00', effective: null },
        { carrier: 'cheap', prefix: '+4420', rate: '0.01', increment: '30/6', fee: '0.05', effective: null },
        {
          carrier: 'cheap',
          prefix: '+4420',
          rate: '0.008',
          increment: '30/6',
          fee: '0.05',
          effective: '2020-01-01T00:00:00.000Z',
        },
        {
          carrier: 'cheap',
          prefix: '+4420',
          rate: '0.001',
          increment: '1/1',
          fee: '0.00',
          effective: '2999-01-01T00:00:00.000Z',
        },
      ]);
      // A page of 2, then the next from the cursor; a prefix filter.
      r = await call('GET', '/api/v1/rates?carrier=cheap&limit=2');
      assert.deepEqual(
        r.json.map((x: Json) => x.prefix),
        ['+33', '+44'],
      );
      const next = r.headers['next-cursor'] as string;
      assert.ok(next !== undefined);
      r = await call('GET', `/api/v1/rates?carrier=cheap&limit=2&cursor=${next}`);
      assert.deepEqual(
        r.json.map((x: Json) => [x.prefix, x.rate]),
        [
          ['+4420', '0.01'],
          ['+4420', '0.008'],
        ],
      );
      r = await call('GET', '/api/v1/rates?carrier=cheap&prefix=%2B442');
      assert.deepEqual(r.json.length, 3);
    });

    test('a bad file: 400 naming the line and column, nothing imported', { skip }, async () => {
      const before = (await call('GET', '/api/v1/rates?carrier=cheap')).json;
      let r = await upload('carrier=cheap&replace=true', 'prefix,rate\n49,0.01\n49x,0.02\n');
      assert.deepEqual(r.status, 400);
      assert.equal(
        r.json.error,
        'line 3, column 1 (prefix): expected a dialling prefix like 44 or +4420 (1 to 15 digits, the first not 0), got "49x"',
      );
      r = await upload('carrier=cheap', 'prefix,rate\n49,0.01\n49,0.02\n');
      assert.deepEqual(
        [r.status, r.json.error],
        [400, 'line 3: prefix +49 with no effective date is in the file twice'],
      );
      r = await upload('carrier=cheap', 'prefix,price\n49,0.01\n');
      assert.equal(r.status, 400);
      assert.match(r.json.error, /^line 1: the header row has no rate column/);
      assert.deepEqual((await call('GET', '/api/v1/rates?carrier=cheap')).json, before);
    });

    test('--replace swaps the deck; 403 for a read token, 404 unknown carrier, 415 not CSV', { skip }, async () => {
      let r = await upload('carrier=dear&replace=true', 'Prefix,Rate,Note\n44,0.05,x\n4420,0.04,y\n');
      assert.deepEqual(r.json, { carrier: 'dear', imported: 2, total: 2, replaced: true, ignored: ['Note'] });
      r = await upload('carrier=dear&replace=true', 'prefix,rate\n4420,0.03\n');
      assert.deepEqual([r.status, r.json.total], [201, 1]);
      assert.deepEqual(
        (await call('GET', '/api/v1/rates?carrier=dear')).json.map((x: Json) => [x.prefix, x.rate]),
        [['+4420', '0.03']],
      );
      r = await upload('carrier=dear', 'prefix,rate\n44,0.06\n');
      assert.deepEqual([r.status, r.json.total], [201, 2]);
      assert.equal((await upload('carrier=dear', 'prefix,rate\n1,1\n', { token: h.reader })).status, 403);
      r = await upload('carrier=ghost', 'prefix,rate\n1,1\n');
      assert.deepEqual([r.status, r.json.error], [404, 'unknown carrier ghost']);
      r = await call('POST', '/api/v1/rates?carrier=dear', { body: { prefix: '1' } });
      assert.equal(r.status, 415);
      r = await upload('', 'prefix,rate\n1,1\n');
      assert.equal(r.status, 400);
      assert.match(r.json.error, /carrier/);
    });

    test('DELETE a prefix, then the whole deck; 404 after', { skip }, async () => {
      let r = await call('DELETE', '/api/v1/rates/dear?prefix=%2B44');
      assert.equal(r.status, 204);
      assert.deepEqual(
        (await call('GET', '/api/v1/rates?carrier=dear')).json.map((x: Json) => x.prefix),
        ['+4420'],
      );
      assert.equal((await call('DELETE', '/api/v1/rates/dear?prefix=%2B44')).status, 404);
      assert.equal((await call('DELETE', '/api/v1/rates/dear', { token: h.reader })).status, 403);
      assert.equal((await call('DELETE', '/api/v1/rates/dear')).status, 204);
      r = await call('GET', '/api/v1/rates?carrier=dear');
      assert.deepEqual([r.status, r.json], [200, []]);
      r = await call('DELETE', '/api/v1/rates/dear');
      assert.deepEqual([r.status, r.json.error], [404, 'carrier dear has no rates']);
      await upload('carrier=dear', 'prefix,rate\n44,0.015\n4420,0.02\n');
    });

    test('routes take a mode; route explain shows each carrier rate and why', { skip }, async () => {
      let r = await call('POST', '/api/v1/routes', {
        body: { prefix: '+44', carriers: ['dear', 'none', 'cheap'], mode: 'lcr' },
      });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      assert.deepEqual([r.json.mode, r.json.weights], ['lcr', null]);
      r = await call('POST', '/api/v1/routes', { body: { prefix: '+33', carriers: ['dear'], mode: 'cheapest' } });
      assert.equal(r.status, 400);
      assert.match(r.json.error, /^mode: /);
      r = await call('GET', '/api/v1/route/explain?number=%2B442071234567&from=office', { token: h.reader });
      assert.equal(r.status, 200);
      assert.deepEqual([r.json.route, r.json.mode, r.json.refused], ['+44', 'lcr', null]);
      assert.deepEqual(
        r.json.carriers.map((c: Json) => [c.name, c.rate.prefix, c.rate.rate]),
        [
          ['cheap', '+4420', '0.008'],
          ['dear', '+4420', '0.02'],
        ],
      );
      assert.match(r.json.carriers[0].why, /^cheapest: 0\.008\/min for \+4420, 30\/6, fee 0\.05, from 2020-01-01/);
      assert.match(r.json.carriers[1].why, /dearer than cheap/);
      assert.deepEqual(r.json.leftOut, [
        { name: 'none', why: 'no rate in its deck for this number (mode lcr skips it)' },
      ]);
      // Weighted: weights kept; PATCH to priority drops them.
      r = await call('POST', '/api/v1/routes', {
        body: { prefix: '+33', carriers: ['dear', 'cheap'], mode: 'weighted', weights: [3, 1] },
      });
      assert.deepEqual([r.status, r.json.weights], [201, [3, 1]]);
      r = await call('PATCH', '/api/v1/routes/%2B33', { body: { carriers: ['cheap'], mode: 'priority' } });
      assert.deepEqual([r.status, r.json.mode, r.json.weights], [200, 'priority', null]);
    });

    test('a CDR shows its cost, rate, prefix and seconds billed', { skip }, async () => {
      const t = Date.now();
      await h.store.cdrs.insert({
        callSid: 'CArated',
        account: 'acme',
        trunk: 'office',
        carrier: 'cheap',
        direction: 'outbound',
        from: '+14155550100',
        to: '+442071234567',
        startAt: t - 9000,
        answerAt: t - 7000,
        endAt: t,
        duration: 7,
        status: 200,
        reason: 'Normal',
        hangupBy: 'caller',
        extra: null,
        cost: 54_000,
        rate: 8000,
        ratePrefix: '+4420',
        billed: 30,
      });
      const r = await call('GET', '/api/v1/cdrs/CArated');
      assert.deepEqual([r.json.cost, r.json.rate, r.json.ratePrefix, r.json.billed], ['0.054', '0.008', '+4420', 30]);
    });
  });
}

const backends = [sqliteBackend('rates-api'), postgresBackend('rates_api')];
for (const b of backends) suite(b);
after(async () => {
  for (const b of backends) await b.cleanup();
});
