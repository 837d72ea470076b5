/**
 * The trunking resources of the HTTP API through inject(), on SQLite and on
 * PostgreSQL: accounts, trunks, DIDs, carriers (the password accepted, never
 * returned), routes, CDRs (filters, cursor pages, CSV) and route explain,
 * each with its errors (400 naming the field, 403, 404, 409) and a store
 * never half-written.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { harness, injectCall, type Harness, type InjectOptions } from './helpers.js';
import { postgresBackend, sqliteBackend, type Backend } from '../helpers/backends.js';
import type { Cdr } from '../../src/trunking/model.js';

type Json = any;

function suite(backend: Backend): void {
  describe(`trunking API on ${backend.label}`, async () => {
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
      'accounts: 201, list, get, PATCH limits (null clears), 400 naming the field, 409, 404, DELETE refused with trunks unless cascade',
      { skip },
      async () => {
        let r = await call('POST', '/api/v1/accounts', { body: { name: 'acme', cpm: 60 } });
        assert.equal(r.status, 201);
        assert.deepEqual(
          { ...r.json, createdAt: undefined },
          { name: 'acme', cpm: 60, maxCalls: null, sellBelowCost: false, createdAt: undefined },
        );
        // An account that may sell below cost (sell prices): set and cleared by PATCH.
        r = await call('PATCH', '/api/v1/accounts/acme', { body: { sellBelowCost: true } });
        assert.deepEqual([r.status, (r.json as { sellBelowCost: boolean }).sellBelowCost], [200, true]);
        r = await call('PATCH', '/api/v1/accounts/acme', { body: { sellBelowCost: false } });
        assert.equal((r.json as { sellBelowCost: boolean }).sellBelowCost, false);
        assert.equal((await call('POST', '/api/v1/accounts', { body: { name: 'acme' } })).status, 409);
        r = await call('POST', '/api/v1/accounts', { body: { name: 'bad name' } });
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^name: /);
        r = await call('POST', '/api/v1/accounts', { body: { name: 'x', maxCalls: 0 } });
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^maxCalls: /);
        r = await call('POST', '/api/v1/accounts', { body: { name: 'x', maxcalls: 3 } });
        assert.deepEqual([r.status, r.json.error], [400, 'unknown field "maxcalls"']);
        assert.equal((await call('POST', '/api/v1/accounts', { token: h.reader, body: { name: 'y' } })).status, 403);
        r = await call('PATCH', '/api/v1/accounts/acme', { body: { maxCalls: 5, cpm: null } });
        assert.deepEqual([r.status, r.json.cpm, r.json.maxCalls], [200, null, 5]);
        assert.equal((await call('GET', '/api/v1/accounts/acme', { token: h.reader })).json.maxCalls, 5);
        assert.deepEqual(
          (await call('GET', '/api/v1/accounts')).json.map((a: Json) => a.name),
          ['acme'],
        );
        r = await call('GET', '/api/v1/accounts/nobody');
        assert.deepEqual([r.status, r.json], [404, { error: 'unknown account nobody' }]);
        assert.equal(
          (await call('PATCH', '/api/v1/accounts/acme', { body: { name: 'other' } })).status,
          400,
          'the key cannot be patched',
        );
      },
    );

    test(
      'trunks: static and registering, camelCase fields, lists as arrays; PATCH keeps the rest; errors name the field; DELETE with DIDs 409 unless cascade',
      { skip },
      async () => {
        let r = await call('POST', '/api/v1/trunks', {
          body: {
            name: 'pbx',
            account: 'acme',
            ip: ['127.0.0.2/32'],
            dest: 'sip:127.0.0.2:5070',
            cpm: 200,
            maxCalls: 30,
          },
        });
        assert.equal(r.status, 201, JSON.stringify(r.json));
        assert.deepEqual(
          { ...r.json, createdAt: undefined },
          {
            name: 'pbx',
            account: 'acme',
            ip: ['127.0.0.2/32'],
            register: null,
            transport: null,
            tlsFingerprint: null,
            dest: 'sip:127.0.0.2:5070',
            cpm: 200,
            maxCalls: 30,
            media: 'any',
            codecs: [],
            dialPlan: null,
            createdAt: undefined,
          },
        );
        r = await call('POST', '/api/v1/trunks', { body: { name: 'pbx2', account: 'nobody', ip: ['127.0.0.3'] } });
        assert.deepEqual([r.status, r.json], [404, { error: 'unknown account nobody' }]);
        r = await call('POST', '/api/v1/trunks', { body: { name: 'pbx2', account: 'acme', ip: ['127.0.0.999'] } });
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^ip: /);
        r = await call('POST', '/api/v1/trunks', { body: { name: 'pbx2', account: 'acme' } });
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^ip: .*exactly one/);
        r = await call('POST', '/api/v1/trunks', {
          body: { name: 'pbx2', account: 'acme', ip: ['127.0.0.3'], media: 'zrtp' },
        });
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^media: /);
        assert.equal(
          (await call('POST', '/api/v1/trunks', { body: { name: 'pbx', account: 'acme', ip: ['127.0.0.4'] } })).status,
          409,
        );
        r = await call('POST', '/api/v1/trunks', {
          body: {
            name: 'reg',
            account: 'acme',
            register: 'PBX@Example.org',
            transport: 'tcp',
            codecs: ['PCMA', 'telephone-event'],
          },
        });
        assert.equal(r.status, 201);
        assert.deepEqual(
          [r.json.register, r.json.ip, r.json.transport, r.json.codecs],
          ['PBX@example.org', [], 'tcp', ['PCMA', 'telephone-event']],
        );
        r = await call('POST', '/api/v1/trunks', {
          body: { name: 'pbx2', account: 'acme', ip: ['127.0.0.3'], codecs: ['PCMA', 'PCMX'] },
        });
        assert.deepEqual(
          [r.status, r.json.error],
          [400, 'codecs: unknown codec "PCMX": expected names like PCMA,PCMU,G722,G729,opus,telephone-event'],
        );
        r = await call('PATCH', '/api/v1/trunks/pbx', { body: { codecs: ['G.711'] } });
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^codecs: unknown codec "G\.711"/);
        r = await call('PATCH', '/api/v1/trunks/pbx', {
          body: { maxCalls: null, codecs: ['pcmu', 'Telephone-Event'] },
        });
        assert.deepEqual(
          [r.status, r.json.maxCalls, r.json.codecs, r.json.ip, r.json.dest],
          [200, null, ['PCMU', 'telephone-event'], ['127.0.0.2/32'], 'sip:127.0.0.2:5070'],
        );
        r = await call('PATCH', '/api/v1/trunks/pbx', { body: { codecs: ['PCMU'] } });
        assert.deepEqual([r.status, r.json.codecs], [200, ['PCMU']]);
        r = await call('PATCH', '/api/v1/trunks/pbx', { body: { dest: 'not a uri' } });
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^dest: /);
        assert.equal(
          (await call('GET', '/api/v1/trunks/pbx')).json.dest,
          'sip:127.0.0.2:5070',
          'a refused PATCH changed nothing',
        );
        r = await call('PATCH', '/api/v1/trunks/reg', { body: { ip: ['127.0.0.9'] } });
        assert.deepEqual(
          [r.status, r.json.register, r.json.ip],
          [200, null, ['127.0.0.9/32']],
          'giving ip makes it a static trunk',
        );
        assert.equal((await call('PATCH', '/api/v1/trunks/nope', { body: { cpm: 3 } })).status, 404);
        assert.deepEqual(
          (await call('GET', '/api/v1/trunks?account=acme')).json.map((t: Json) => t.name),
          ['pbx', 'reg'],
        );
        assert.equal((await call('GET', '/api/v1/trunks?account=nobody')).status, 404);
        // DIDs
        r = await call('POST', '/api/v1/dids', { body: { number: '+912240001234', trunk: 'pbx' } });
        assert.equal(r.status, 201);
        assert.deepEqual(
          { ...r.json, createdAt: undefined },
          { number: '+912240001234', trunk: 'pbx', account: 'acme', createdAt: undefined },
        );
        assert.equal(
          (await call('POST', '/api/v1/dids', { body: { number: '+9122400012*', trunk: 'pbx' } })).status,
          201,
        );
        r = await call('POST', '/api/v1/dids', { body: { number: '+912240001234', trunk: 'reg' } });
        assert.deepEqual([r.status, r.json.error], [409, 'DID +912240001234 exists (trunk pbx)']);
        r = await call('POST', '/api/v1/dids', { body: { number: '12ab', trunk: 'pbx' } });
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^number: /);
        assert.equal((await call('POST', '/api/v1/dids', { body: { number: '+4930123', trunk: 'nope' } })).status, 404);
        assert.equal((await call('GET', '/api/v1/dids/+912240001234')).json.trunk, 'pbx');
        assert.equal((await call('GET', '/api/v1/dids/%2B9122400012*')).json.number, '+9122400012*');
        assert.deepEqual(
          (await call('GET', '/api/v1/dids?trunk=pbx')).json.map((d: Json) => d.number).sort(),
          ['+912240001234', '+9122400012*'].sort(),
        );
        assert.equal((await call('GET', '/api/v1/dids/+4930999')).status, 404);
        // PATCH moves a DID to another trunk (`trunkline did set`); the account is the trunk's.
        r = await call('PATCH', '/api/v1/dids/+912240001234', { body: { trunk: 'reg' } });
        assert.deepEqual([r.status, r.json.trunk, r.json.account], [200, 'reg', 'acme']);
        assert.equal((await call('PATCH', '/api/v1/dids/+912240001234', { body: { trunk: 'nope' } })).status, 404);
        assert.equal((await call('PATCH', '/api/v1/dids/+4930999', { body: { trunk: 'pbx' } })).status, 404);
        r = await call('PATCH', '/api/v1/dids/+912240001234', { body: { account: 'acme' } });
        assert.deepEqual([r.status, r.json.error], [400, 'unknown field "account"']);
        assert.equal((await call('PATCH', '/api/v1/dids/+912240001234', { body: { trunk: 'pbx' } })).json.trunk, 'pbx');
        // Removal: 409 with DIDs, then cascade; the account with trunks likewise.
        r = await call('DELETE', '/api/v1/trunks/pbx');
        assert.equal(r.status, 409);
        assert.match(r.json.error, /has 2 DIDs/);
        assert.equal((await call('GET', '/api/v1/dids')).json.length, 2, 'a refused DELETE removed nothing');
        assert.equal((await call('DELETE', '/api/v1/dids/+9122400012*')).status, 204);
        assert.equal((await call('DELETE', '/api/v1/dids/+9122400012*')).status, 404);
        assert.equal((await call('DELETE', '/api/v1/trunks/pbx?cascade=true')).status, 204);
        assert.deepEqual((await call('GET', '/api/v1/dids')).json, []);
        assert.equal((await call('DELETE', '/api/v1/accounts/acme')).status, 409);
        assert.equal((await call('DELETE', '/api/v1/trunks/reg?cascade=maybe')).status, 400);
      },
    );

    test(
      'trunks and DIDs: whole without limit, else pages by name along Next-Cursor (every row once, in order); a bad limit or cursor is a 400 naming it',
      { skip },
      async () => {
        assert.equal((await call('POST', '/api/v1/accounts', { body: { name: 'paged' } })).status, 201);
        for (let i = 0; i < 23; i++) {
          assert.equal(
            (
              await call('POST', '/api/v1/trunks', {
                body: { name: `pg-${String(i).padStart(2, '0')}`, account: 'paged', ip: [`127.0.9.${i + 1}`] },
              })
            ).status,
            201,
          );
          assert.equal(
            (
              await call('POST', '/api/v1/dids', {
                body: { number: `+4930555${String(i).padStart(3, '0')}`, trunk: `pg-${String(i).padStart(2, '0')}` },
              })
            ).status,
            201,
          );
        }
        const whole = (await call('GET', '/api/v1/trunks?account=paged')).json.map((t: Json) => t.name);
        assert.equal(whole.length, 23);
        for (const [url, key] of [
          ['/api/v1/trunks?account=paged&limit=10', 'name'],
          ['/api/v1/dids?account=paged&limit=10', 'number'],
        ] as const) {
          const seen: string[] = [];
          const sizes: number[] = [];
          let next: string | undefined = url;
          while (next !== undefined) {
            const r = await call('GET', next);
            assert.equal(r.status, 200);
            sizes.push(r.json.length);
            seen.push(...r.json.map((o: Json) => o[key]));
            const cursor = r.headers['next-cursor'];
            assert.equal(typeof r.headers.link === 'string', cursor !== undefined, 'Link with Next-Cursor');
            next = cursor === undefined ? undefined : `${url}&cursor=${String(cursor)}`;
          }
          assert.deepEqual(sizes, [10, 10, 3]);
          assert.deepEqual(seen, [...seen].sort(), `${key}s in order`);
          assert.equal(new Set(seen).size, 23, 'every row once');
        }
        assert.deepEqual(
          (await call('GET', '/api/v1/trunks?account=paged&limit=100')).json.map((t: Json) => t.name),
          whole,
        );
        assert.equal((await call('GET', '/api/v1/trunks?limit=5')).json.length, 5, 'without a filter too');
        let r = await call('GET', '/api/v1/trunks?limit=0');
        assert.equal(r.status, 400);
        assert.match(r.json.error, /limit/);
        r = await call('GET', '/api/v1/dids?cursor=bm90LW91cnM');
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^cursor: /);
        assert.equal((await call('GET', '/api/v1/dids/+4930555007')).json.trunk, 'pg-07');
        assert.equal((await call('DELETE', '/api/v1/accounts/paged?cascade=true')).status, 204);
      },
    );

    test(
      'carriers: the password is accepted and never returned (hasPassword), kept by a PATCH that leaves it out; routes: 201, PATCH, 404 naming the carrier, 409',
      { skip },
      async () => {
        let r = await call('POST', '/api/v1/carriers', {
          body: {
            name: 'upstream',
            gateways: ['sip:127.0.0.5:5080', 'sip:127.0.0.6:5080'],
            username: 'tl',
            password: 's3cret-pw',
            prefix: '99',
            plus: false,
          },
        });
        assert.equal(r.status, 201, JSON.stringify(r.json));
        assert.deepEqual(
          { ...r.json, createdAt: undefined },
          {
            name: 'upstream',
            gateways: ['sip:127.0.0.5:5080', 'sip:127.0.0.6:5080'],
            username: 'tl',
            hasPassword: true,
            register: false,
            prefix: '99',
            plus: false,
            media: 'any',
            codecs: [],
            dialPlan: null,
            createdAt: undefined,
          },
        );
        const everything = JSON.stringify([
          (await call('GET', '/api/v1/carriers')).json,
          (await call('GET', '/api/v1/carriers/upstream')).json,
        ]);
        assert.ok(!everything.includes('s3cret-pw'), 'the password never leaves');
        r = await call('POST', '/api/v1/carriers', {
          body: { name: 'c2', gateways: ['sip:127.0.0.7'], codecs: ['PCMX'] },
        });
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^codecs: unknown codec "PCMX"/);
        assert.equal((await call('GET', '/api/v1/carriers/c2')).status, 404, 'nothing written');
        r = await call('POST', '/api/v1/carriers', { body: { name: 'c2', gateways: [] } });
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^gateways: /);
        r = await call('POST', '/api/v1/carriers', {
          body: { name: 'c2', gateways: ['sip:127.0.0.7'], username: 'u' },
        });
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^password: /);
        assert.equal(
          (await call('POST', '/api/v1/carriers', { body: { name: 'upstream', gateways: ['sip:127.0.0.8'] } })).status,
          409,
        );
        r = await call('PATCH', '/api/v1/carriers/upstream', { body: { gateways: ['sip:127.0.0.6:5080'] } });
        assert.deepEqual([r.status, r.json.gateways, r.json.hasPassword], [200, ['sip:127.0.0.6:5080'], true]);
        assert.equal((await h.store.carriers.withSecret('upstream')).password, 's3cret-pw', 'kept');
        r = await call('PATCH', '/api/v1/carriers/upstream', { body: { password: 'n3w-secret' } });
        assert.equal(r.status, 200);
        assert.equal((await h.store.carriers.withSecret('upstream')).password, 'n3w-secret');
        assert.ok(!JSON.stringify(r.json).includes('n3w-secret'));
        // Routes.
        r = await call('POST', '/api/v1/routes', { body: { prefix: '+', carriers: ['upstream'] } });
        assert.equal(r.status, 201);
        assert.deepEqual([r.json.prefix, r.json.carriers], ['+', ['upstream']]);
        assert.equal(
          (await call('POST', '/api/v1/carriers', { body: { name: 'backup', gateways: ['sip:127.0.0.9:5080'] } }))
            .status,
          201,
        );
        r = await call('POST', '/api/v1/routes', { body: { prefix: '+91', carriers: ['backup', 'nope'] } });
        assert.deepEqual([r.status, r.json], [404, { error: 'unknown carrier nope' }]);
        assert.equal((await call('GET', '/api/v1/routes/+91')).status, 404, 'nothing half-written');
        r = await call('POST', '/api/v1/routes', { body: { prefix: '91', carriers: ['backup'] } });
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^prefix: /);
        assert.equal(
          (await call('POST', '/api/v1/routes', { body: { prefix: '+91', carriers: ['backup', 'upstream'] } })).status,
          201,
        );
        assert.equal(
          (await call('POST', '/api/v1/routes', { body: { prefix: '+91', carriers: ['backup'] } })).status,
          409,
        );
        r = await call('PATCH', '/api/v1/routes/%2B91', { body: { carriers: ['upstream'] } });
        assert.deepEqual([r.status, r.json.carriers], [200, ['upstream']]);
        assert.deepEqual(
          (await call('GET', '/api/v1/routes')).json.map((x: Json) => [x.prefix, x.carriers]),
          [
            ['+', ['upstream']],
            ['+91', ['upstream']],
          ],
        );
        r = await call('DELETE', '/api/v1/carriers/upstream');
        assert.equal(r.status, 409);
        assert.match(r.json.error, /used by routes \+, \+91/);
      },
    );

    test(
      'route explain: the twin of `trunkline route explain` (same function), 400 naming the parameter, 404 for an unknown trunk',
      { skip },
      async () => {
        await call('POST', '/api/v1/accounts', { body: { name: 'beta' } });
        await call('POST', '/api/v1/trunks', { body: { name: 'office', account: 'beta', ip: ['127.0.0.20'] } });
        let r = await call('GET', '/api/v1/route/explain?number=%2B919876543210&from=office', { token: h.reader });
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.equal(r.json.number, '+919876543210');
        assert.equal(r.json.route, '+91');
        assert.deepEqual(
          r.json.carriers.map((c: Json) => [c.name, c.sends]),
          [['upstream', '99919876543210']],
        );
        assert.equal(r.json.refused, null);
        r = await call('GET', '/api/v1/route/explain?number=+919876543210&from=office');
        assert.equal(r.json.number, '+919876543210', 'an unencoded + (a space once decoded) is read as +');
        r = await call('GET', '/api/v1/route/explain?number=hello&from=office');
        assert.match(r.json.refused, /^484: Address Incomplete \(not a phone number/);
        r = await call('GET', '/api/v1/route/explain?number=%2B44&from=ghost');
        assert.deepEqual([r.status, r.json], [404, { error: 'unknown trunk ghost' }]);
        r = await call('GET', '/api/v1/route/explain?from=office');
        assert.deepEqual([r.status, r.json.error], [400, 'number: required']);
        assert.equal((await call('GET', '/api/v1/route/explain?number=1&from=office', { token: null })).status, 401);
      },
    );

    test(
      'trunk ranges: 409 over a carrier gateway or every address unless "force": true (POST and PATCH); route explain fromIp names the rule',
      { skip },
      async () => {
        // upstream's gateway is sip:127.0.0.6:5080 here (PATCHed above), backup's 127.0.0.9; office has 127.0.0.20.
        let r = await call('POST', '/api/v1/trunks', { body: { name: 'wide', account: 'beta', ip: ['127.0.0.6/31'] } });
        assert.deepEqual(
          [r.status, r.json.error],
          [
            409,
            'ip: 127.0.0.6/31 holds 127.0.0.6, the address of carrier upstream\'s gateway sip:127.0.0.6:5080 (its requests stay the carrier\'s); "force": true adds it anyway',
          ],
        );
        r = await call('POST', '/api/v1/trunks', { body: { name: 'wide', account: 'beta', ip: ['0.0.0.0/0'] } });
        assert.equal(r.status, 409);
        assert.match(r.json.error, /^ip: 0\.0\.0\.0\/0 holds every address/);
        assert.equal((await call('GET', '/api/v1/trunks/wide')).status, 404, 'nothing written');
        r = await call('PATCH', '/api/v1/trunks/office', { body: { ip: ['127.0.0.6/31'] } });
        assert.equal(r.status, 409);
        assert.deepEqual(
          (await call('GET', '/api/v1/trunks/office')).json.ip,
          ['127.0.0.20/32'],
          'a refused PATCH changed nothing',
        );
        r = await call('PATCH', '/api/v1/trunks/office', { body: { ip: ['127.0.0.6/31'], force: true } });
        assert.deepEqual([r.status, r.json.ip, 'force' in r.json], [200, ['127.0.0.6/31'], false]);
        r = await call('POST', '/api/v1/trunks', {
          body: { name: 'wide', account: 'beta', ip: ['0.0.0.0/0'], force: true },
        });
        assert.equal(r.status, 201);
        assert.equal(
          (
            await call('POST', '/api/v1/trunks', {
              body: { name: 'x', account: 'beta', ip: ['10.9.0.0/16'], force: 'yes' },
            })
          ).status,
          400,
        );

        r = await call('GET', '/api/v1/route/explain?number=%2B919876543210&fromIp=127.0.0.6', { token: h.reader });
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.deepEqual(
          [r.json.source.kind, r.json.source.carrier, r.json.direction],
          ['carrier', 'upstream', 'inbound'],
        );
        r = await call('GET', '/api/v1/route/explain?number=%2B919876543210&fromIp=127.0.0.7&transport=tcp');
        assert.deepEqual(
          [r.json.source.kind, r.json.source.trunk, r.json.source.cidr, r.json.direction, r.json.route],
          ['trunk', 'office', '127.0.0.6/31', 'outbound', '+91'],
        );
        assert.match(
          r.json.source.rule,
          /^trunk office: 127\.0\.0\.6\/31 is the most specific trunk range holding 127\.0\.0\.7 that allows tcp/,
        );
        r = await call('GET', '/api/v1/route/explain?number=%2B919876543210&fromIp=198.51.100.1');
        assert.deepEqual(
          [r.json.source.kind, r.json.source.trunk],
          ['trunk', 'wide'],
          '0.0.0.0/0 (forced) takes strangers',
        );
        r = await call('GET', '/api/v1/route/explain?number=%2B91&fromIp=bogus');
        assert.deepEqual([r.status, r.json.error], [400, 'fromIp: expected an IP address, got "bogus"']);
        r = await call('GET', '/api/v1/route/explain?number=%2B91&from=office&fromIp=127.0.0.7');
        assert.deepEqual([r.status, r.json.error], [400, 'from: give from=TRUNK or fromIp=IP']);
        // Back as the other tests expect.
        assert.equal((await call('DELETE', '/api/v1/trunks/wide')).status, 204);
        assert.equal((await call('PATCH', '/api/v1/trunks/office', { body: { ip: ['127.0.0.20'] } })).status, 200);
      },
    );

    test(
      'cdrs: newest first, filters, cursor pages (Next-Cursor, Link), CSV by Accept or ?format=csv, 400 naming the filter, 404',
      { skip },
      async () => {
        const t0 = Date.parse('2026-01-10T10:00:00Z');
        const base: Cdr = {
          callSid: '',
          account: 'acme',
          trunk: 'pbx',
          carrier: 'upstream',
          direction: 'outbound',
          from: '+912240001234',
          to: '+441234567',
          startAt: 0,
          answerAt: null,
          endAt: 0,
          duration: 0,
          status: 200,
          reason: 'Normal Clearing',
          hangupBy: 'caller',
          extra: null,
        };
        for (let i = 0; i < 5; i++) {
          const startAt = t0 + i * 60_000;
          const answered = i % 2 === 0;
          await h.store.cdrs.insert({
            ...base,
            callSid: `CA${i}`,
            startAt,
            endAt: startAt + 30_000,
            answerAt: answered ? startAt + 5000 : null,
            duration: answered ? 25 : 0,
            status: answered ? 200 : 486,
            reason: answered ? 'Normal Clearing' : 'Busy, "here"',
            direction: i === 4 ? 'inbound' : 'outbound',
            trunk: i === 3 ? 'other' : 'pbx',
          });
        }
        let r = await call('GET', '/api/v1/cdrs', { token: h.reader });
        assert.equal(r.status, 200);
        assert.deepEqual(
          r.json.map((c: Json) => c.callSid),
          ['CA4', 'CA3', 'CA2', 'CA1', 'CA0'],
        );
        assert.equal(r.json[4].startAt, '2026-01-10T10:00:00.000Z');
        assert.equal(r.json[4].answerAt, '2026-01-10T10:00:05.000Z');
        assert.deepEqual(
          (await call('GET', '/api/v1/cdrs?disposition=failed')).json.map((c: Json) => c.callSid),
          ['CA3', 'CA1'],
        );
        assert.deepEqual(
          (await call('GET', '/api/v1/cdrs?direction=inbound')).json.map((c: Json) => c.callSid),
          ['CA4'],
        );
        assert.deepEqual(
          (await call('GET', '/api/v1/cdrs?trunk=other')).json.map((c: Json) => c.callSid),
          ['CA3'],
        );
        assert.deepEqual((await call('GET', '/api/v1/cdrs?account=nobody')).json, []);
        assert.deepEqual(
          (await call('GET', '/api/v1/cdrs?since=2026-01-10T10:01:00Z&until=2026-01-10T10:03:00Z')).json.map(
            (c: Json) => c.callSid,
          ),
          ['CA2', 'CA1'],
        );
        // Pages of two.
        const seen: string[] = [];
        let url = '/api/v1/cdrs?limit=2&direction=outbound';
        for (let pages = 0; pages < 5; pages++) {
          r = await call('GET', url);
          seen.push(...r.json.map((c: Json) => c.callSid));
          const next = r.headers['next-cursor'];
          if (next === undefined) break;
          assert.match(String(r.headers.link), /rel="next"/);
          url = `/api/v1/cdrs?limit=2&direction=outbound&cursor=${String(next)}`;
        }
        assert.deepEqual(seen, ['CA3', 'CA2', 'CA1', 'CA0']);
        // CSV.
        r = await call('GET', '/api/v1/cdrs?disposition=failed', { headers: { accept: 'text/csv' } });
        assert.equal(r.status, 200);
        assert.match(String(r.headers['content-type']), /^text\/csv/);
        const lines = String(r.json).trimEnd().split('\r\n');
        assert.equal(
          lines[0],
          'callSid,account,trunk,carrier,direction,from,to,startAt,answerAt,endAt,duration,status,reason,hangupBy,extra,cost,rate,ratePrefix,billed,fromReceived,toReceived,emergency,gateway,pddMs,q850,mos,price,aCallId,bCallId,ringMs,durationMs',
        );
        assert.equal(lines.length, 3);
        assert.equal(
          lines[1],
          'CA3,acme,other,upstream,outbound,+912240001234,+441234567,2026-01-10T10:03:00.000Z,,2026-01-10T10:03:30.000Z,0,486,"Busy, ""here""",caller,,,,,,,,false,,,,,,,,,',
        );
        r = await call('GET', '/api/v1/cdrs?format=csv&limit=1');
        assert.equal(String(r.json).trimEnd().split('\r\n').length, 2);
        assert.ok(r.headers['next-cursor'] !== undefined, 'CSV pages too');
        // Errors.
        r = await call('GET', '/api/v1/cdrs?since=yesterday');
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^since: expected an ISO 8601 time/);
        r = await call('GET', '/api/v1/cdrs?direction=sideways');
        assert.match(r.json.error, /^direction: /);
        r = await call('GET', '/api/v1/cdrs?cursor=nonsense!');
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^cursor: /);
        assert.equal((await call('GET', '/api/v1/cdrs?colour=red')).status, 400);
        assert.equal((await call('GET', '/api/v1/cdrs/CA2')).json.status, 200);
        assert.deepEqual((await call('GET', '/api/v1/cdrs/CA9')).status, 404);
        assert.equal((await call('DELETE', '/api/v1/cdrs/CA2')).status, 405);
      },
    );

    test(
      'OpenAPI: the trunking resources, the carrier password in its create body only; calls absent without a B2BUA',
      { skip },
      async () => {
        const doc = (await call('GET', '/api/v1/openapi.json', { token: null })).json;
        for (const p of [
          '/api/v1/accounts',
          '/api/v1/trunks/{name}',
          '/api/v1/dids/{number}',
          '/api/v1/carriers',
          '/api/v1/routes/{prefix}',
          '/api/v1/cdrs',
          '/api/v1/route/explain',
        ]) {
          assert.ok(doc.paths[p], `${p} in the document`);
        }
        const s = doc.components.schemas;
        assert.ok(!('password' in s.carriers.properties));
        assert.ok('password' in s['carriers.create'].properties);
        assert.equal(doc.paths['/api/v1/calls'], undefined);
        assert.equal((await call('GET', '/api/v1/calls')).status, 404);
      },
    );
  });
}

const backends = [sqliteBackend('api'), postgresBackend('api')];
for (const b of backends) suite(b);
after(async () => {
  for (const b of backends) await b.cleanup();
});
