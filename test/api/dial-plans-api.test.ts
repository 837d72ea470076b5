/**
 * /api/v1/dialplans through inject(), on SQLite and on PostgreSQL: a plan
 * takes its country's prefixes and emergency numbers, PATCH changes the
 * fields given, errors name the field, trunks and carriers name a plan
 * (404 for an unknown one), DELETE is refused while one does; the
 * `emergency` route; route explain reads by the trunk's plan.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { harness, injectCall, type Harness, type InjectOptions } from './helpers.js';
import { postgresBackend, sqliteBackend, type Backend } from '../helpers/backends.js';

function suite(backend: Backend): void {
  describe(`dial plans API on ${backend.label}`, async () => {
    const skip = await backend.skip();
    let h: Harness;
    before(async () => {
      if (skip === false) h = await harness(backend);
    });
    after(async () => {
      if (skip === false) await h.close();
    });
    const call = (method: string, url: string, opts: InjectOptions = {}) => injectCall(h, method, url, opts);

    test(
      'dial plans: defaults by country, PATCH, errors naming the field, use by trunks and carriers',
      { skip },
      async () => {
        let r = await call('POST', '/api/v1/dialplans', { body: { name: 'IN', country: '91' } });
        assert.equal(r.status, 201, JSON.stringify(r.json));
        assert.deepEqual(
          { ...r.json, createdAt: undefined },
          {
            name: 'IN',
            country: '91',
            nationalPrefix: '0',
            internationalPrefix: '00',
            format: 'e164',
            emergency: ['112', '100', '101', '102', '108'],
            rules: [],
            createdAt: undefined,
          },
        );
        assert.equal((await call('POST', '/api/v1/dialplans', { body: { name: 'IN', country: '91' } })).status, 409);
        for (const [body, field] of [
          [{ name: 'x', country: '0' }, 'country'],
          [{ name: 'x', country: '1', format: 'local' }, 'format'],
          [{ name: 'x', country: '1', emergency: ['9x1'] }, 'emergency'],
          [{ name: 'x', country: '1', rules: [{ match: '^(', replace: '1' }] }, 'rules[0].match'],
        ] as const) {
          r = await call('POST', '/api/v1/dialplans', { body });
          assert.equal(r.status, 400, JSON.stringify(body));
          assert.ok(String(r.json.error).startsWith(`${field}: `), `${r.json.error} names ${field}`);
        }
        r = await call('PATCH', '/api/v1/dialplans/IN', {
          body: {
            format: 'national',
            rules: [
              { match: '0800', replace: '+91800' },
              { match: '+44', replace: '0044', direction: 'out' },
            ],
          },
        });
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.deepEqual(
          [r.json.format, r.json.rules, r.json.emergency.length],
          [
            'national',
            [
              { match: '0800', replace: '+91800', direction: 'in' },
              { match: '+44', replace: '0044', direction: 'out' },
            ],
            5,
          ],
        );
        await call('POST', '/api/v1/accounts', { body: { name: 'acme' } });
        r = await call('POST', '/api/v1/trunks', {
          body: { name: 'pbx', account: 'acme', ip: ['127.0.0.2'], dialPlan: 'XX' },
        });
        assert.deepEqual([r.status, r.json.error], [404, 'unknown dial plan XX']);
        r = await call('POST', '/api/v1/trunks', {
          body: { name: 'pbx', account: 'acme', ip: ['127.0.0.2'], dialPlan: 'IN' },
        });
        assert.deepEqual([r.status, r.json.dialPlan], [201, 'IN']);
        r = await call('POST', '/api/v1/carriers', { body: { name: 'up', gateways: ['sip:127.0.0.5'] } });
        assert.deepEqual([r.status, r.json.dialPlan], [201, null]);
        r = await call('PATCH', '/api/v1/carriers/up', { body: { dialPlan: 'IN' } });
        assert.deepEqual([r.status, r.json.dialPlan], [200, 'IN']);
        r = await call('DELETE', '/api/v1/dialplans/IN');
        assert.deepEqual(
          [r.status, r.json.error],
          [409, 'dial plan IN is used by trunk pbx, carrier up (change them first)'],
        );
        assert.equal((await call('PATCH', '/api/v1/carriers/up', { body: { dialPlan: null } })).json.dialPlan, null);

        r = await call('POST', '/api/v1/routes', { body: { prefix: 'emergency', carriers: ['up'] } });
        assert.deepEqual([r.status, r.json.prefix], [201, 'emergency']);
        r = await call('GET', '/api/v1/route/explain?number=100&from=pbx');
        assert.deepEqual(
          [r.json.number, r.json.emergency, r.json.route, r.json.carriers[0].sends],
          ['100', true, 'emergency', '100'],
        );
        r = await call('GET', '/api/v1/route/explain?number=08001234&from=pbx');
        assert.deepEqual(
          [r.json.number, r.json.refused],
          ['+918001234', '404: No route (no route for +918001234 (add one, or a default route +))'],
        );
        assert.equal((await call('DELETE', '/api/v1/trunks/pbx')).status, 204);
        assert.equal((await call('DELETE', '/api/v1/dialplans/IN')).status, 204);
        assert.deepEqual((await call('GET', '/api/v1/dialplans')).json, []);
      },
    );
  });
}

const backends = [sqliteBackend('dialplans_api'), postgresBackend('dialplans_api')];
for (const b of backends) suite(b);
after(async () => {
  for (const b of backends) await b.cleanup();
});
