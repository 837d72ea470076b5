/**
 * The HTTP API through fastify's inject(), on SQLite and on PostgreSQL: every
 * live resource round-tripped with its errors (400 naming the field, 401,
 * 403, 404, 405, 409), token roles, a store never half-written, the
 * OpenAPI document made from the same schemas.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { harness, injectCall, type Harness, type InjectOptions } from './helpers.js';
import { postgresBackend, sqliteBackend, type Backend } from '../helpers/backends.js';
import { upsertBinding } from '../../src/registrar/bindings.js';

type Json = any;

function suite(backend: Backend): void {
  describe(`API on ${backend.label}`, async () => {
    const skip = await backend.skip();
    let h: Harness;
    before(async () => {
      if (skip === false) h = await harness(backend);
    });
    after(async () => {
      if (skip === false) await h.close();
    });

    const call = (method: string, url: string, opts: InjectOptions = {}) => injectCall(h, method, url, opts);

    test('no token, a malformed header or an unknown token: 401 with WWW-Authenticate', { skip }, async () => {
      let r = await call('GET', '/api/v1/domains', { token: null });
      assert.equal(r.status, 401);
      assert.match(r.json.error, /missing bearer token/);
      assert.match(String(r.headers['www-authenticate']), /^Bearer realm="trunkline"/);
      r = await call('GET', '/api/v1/domains', { token: null, headers: { authorization: 'Basic Zm9vOmJhcg==' } });
      assert.equal(r.status, 401);
      assert.match(r.json.error, /Bearer TOKEN/);
      r = await call('GET', '/api/v1/domains', { token: 'tl_not-a-token' });
      assert.deepEqual([r.status, r.json], [401, { error: 'invalid token' }]);
      // An unknown path under /api/v1 needs a token too.
      assert.equal((await call('GET', '/api/v1/nothing', { token: null })).status, 401);
      assert.equal((await call('GET', '/api/v1/nothing')).status, 404);
    });

    test(
      'a read token reads (200) and may not write (403); health, readiness and the OpenAPI document need no token',
      { skip },
      async () => {
        assert.equal((await call('GET', '/api/v1/domains', { token: h.reader })).status, 200);
        const w = await call('POST', '/api/v1/domains', { token: h.reader, body: { domain: 'read.example' } });
        assert.equal(w.status, 403);
        assert.equal(w.json.error, 'token reader has role read: POST needs an admin token');
        assert.equal((await call('DELETE', '/api/v1/tokens/admin', { token: h.reader })).status, 403);
        assert.deepEqual(await h.store.domains.list(), [], 'the refused write wrote nothing');
        assert.deepEqual((await call('GET', '/healthz', { token: null })).json, { status: 'alive' });
        assert.deepEqual((await call('GET', '/readyz', { token: null })).json, { status: 'ready' });
        assert.equal((await call('GET', '/api/v1/openapi.json', { token: null })).status, 200);
      },
    );

    test(
      'domains: create 201, list, get, duplicate 409, bad and unknown fields 400 naming them, 404, 405, delete 204',
      { skip },
      async () => {
        let r = await call('POST', '/api/v1/domains', { body: { domain: 'Example.ORG' } });
        assert.equal(r.status, 201);
        assert.equal(r.json.domain, 'example.org');
        assert.match(r.json.createdAt, /^\d{4}-\d\d-\d\dT/);
        r = await call('GET', '/api/v1/domains');
        assert.deepEqual(
          r.json.map((d: Json) => d.domain),
          ['example.org'],
        );
        assert.equal((await call('GET', '/api/v1/domains/example.org')).json.domain, 'example.org');
        r = await call('POST', '/api/v1/domains', { body: { domain: 'example.org' } });
        assert.deepEqual([r.status, r.json], [409, { error: 'domain example.org exists' }]);
        r = await call('POST', '/api/v1/domains', { body: { domain: 'a b' } });
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^domain: expected a host name or IP address, got "a b"$/);
        r = await call('POST', '/api/v1/domains', { body: { domain: 7, colour: 'red' } });
        assert.equal(r.status, 400);
        assert.match(r.json.error, /domain: expected string, got 7/);
        assert.match(r.json.error, /unknown field "colour"/);
        r = await call('POST', '/api/v1/domains', { body: { createdAt: '2020-01-01T00:00:00Z', domain: 'x.example' } });
        assert.equal(r.status, 400, 'a read-only field is refused');
        assert.match(r.json.error, /unknown field "createdAt"/);
        r = await call('POST', '/api/v1/domains', { body: {} });
        assert.deepEqual([r.status, r.json], [400, { error: 'domain: required' }]);
        r = await call('POST', '/api/v1/domains', { body: '[1,2]', headers: { 'content-type': 'application/json' } });
        assert.equal(r.status, 400);
        assert.match(r.json.error, /expected a JSON object as the body/);
        r = await call('POST', '/api/v1/domains', {
          body: '{"domain":',
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(r.status, 400, 'malformed JSON');
        r = await call('POST', '/api/v1/domains', {
          body: '<domain/>',
          headers: { 'content-type': 'application/xml' },
        });
        assert.equal(r.status, 415);
        assert.equal(typeof r.json.error, 'string');
        r = await call('GET', '/api/v1/domains/nowhere.example');
        assert.deepEqual([r.status, r.json], [404, { error: 'unknown domain nowhere.example' }]);
        r = await call('PATCH', '/api/v1/domains/example.org', { body: {} });
        assert.equal(r.status, 405);
        assert.equal(r.headers.allow, 'GET, DELETE');
        r = await call('DELETE', '/api/v1/domains/example.org');
        assert.equal(r.status, 204);
        assert.equal((await call('DELETE', '/api/v1/domains/example.org')).status, 404);
        assert.deepEqual(await h.store.domains.list(), []);
      },
    );

    test(
      'subscribers: the password goes in, only HA1s are stored, it never comes out; PATCH changes it; 400/404/409',
      { skip },
      async () => {
        await call('POST', '/api/v1/domains', { body: { domain: 'sub.example' } });
        let r = await call('POST', '/api/v1/subscribers', {
          body: { subscriber: 'alice@sub.example', password: 's3cret-one' },
        });
        assert.equal(r.status, 201);
        assert.deepEqual(Object.keys(r.json).sort(), ['createdAt', 'domain', 'subscriber', 'updatedAt', 'username']);
        const auth = await h.store.subscribers.get('alice', 'sub.example');
        assert.equal(auth?.ha1Md5, createHash('md5').update('alice:sub.example:s3cret-one').digest('hex'));
        const rows = await h.store.db.selectFrom('subscribers').selectAll().execute();
        assert.ok(!JSON.stringify(rows).includes('s3cret-one'), 'the password is not stored');
        r = await call('GET', '/api/v1/subscribers/alice@sub.example');
        assert.equal(r.json.subscriber, 'alice@sub.example');
        assert.ok(!JSON.stringify(r.json).includes('s3cret'), 'never returned');
        assert.ok(!('password' in r.json));
        r = await call('POST', '/api/v1/subscribers', { body: { subscriber: 'alice@sub.example', password: 'x' } });
        assert.deepEqual([r.status, r.json], [409, { error: 'subscriber alice@sub.example exists' }]);
        r = await call('POST', '/api/v1/subscribers', { body: { subscriber: 'bob@nowhere.example', password: 'x' } });
        assert.deepEqual([r.status, r.json], [404, { error: 'unknown domain nowhere.example' }]);
        r = await call('POST', '/api/v1/subscribers', { body: { subscriber: 'bob@sub.example' } });
        assert.deepEqual([r.status, r.json], [400, { error: 'password: required' }]);
        r = await call('POST', '/api/v1/subscribers', {
          body: { subscriber: 'bob@sub.example', password: 'two\nlines' },
        });
        assert.deepEqual([r.status, r.json], [400, { error: 'password: must be one line' }]);
        r = await call('POST', '/api/v1/subscribers', { body: { subscriber: 'no-at-sign', password: 'x' } });
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^subscriber: expected USER@DOMAIN/);
        assert.equal((await h.store.subscribers.list()).length, 1, 'refused requests wrote nothing');
        r = await call('PATCH', '/api/v1/subscribers/alice@sub.example', { body: { password: 's3cret-two' } });
        assert.equal(r.status, 200);
        assert.equal(
          (await h.store.subscribers.get('alice', 'sub.example'))?.ha1Md5,
          createHash('md5').update('alice:sub.example:s3cret-two').digest('hex'),
        );
        r = await call('PATCH', '/api/v1/subscribers/alice@sub.example', { body: { subscriber: 'eve@sub.example' } });
        assert.equal(r.status, 400, 'the key cannot be patched');
        assert.match(r.json.error, /unknown field "subscriber"/);
        r = await call('PATCH', '/api/v1/subscribers/zed@sub.example', { body: { password: 'x' } });
        assert.equal(r.status, 404);
        r = await call('GET', '/api/v1/subscribers?domain=sub.example');
        assert.deepEqual(
          r.json.map((s: Json) => s.subscriber),
          ['alice@sub.example'],
        );
        r = await call('GET', '/api/v1/subscribers?domain=nowhere.example');
        assert.equal(r.status, 404);
        r = await call('GET', '/api/v1/subscribers?colour=red');
        assert.deepEqual([r.status, r.json], [400, { error: 'unknown field "colour"' }]);
        // A domain with a subscriber is not removed without cascade, and nothing of it goes.
        r = await call('DELETE', '/api/v1/domains/sub.example');
        assert.equal(r.status, 409);
        assert.equal((await h.store.subscribers.list()).length, 1);
        assert.equal((await call('DELETE', '/api/v1/subscribers/alice@sub.example')).status, 204);
        assert.equal((await call('GET', '/api/v1/subscribers/alice@sub.example')).status, 404);
        assert.equal((await call('DELETE', '/api/v1/domains/sub.example?cascade=true')).status, 204);
        r = await call('DELETE', '/api/v1/domains/sub.example?cascade=yes');
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^cascade: /);
      },
    );

    test(
      'aliases: numbers, prefixes and names with + and * in the URL; 404 for an unknown subscriber, 409 duplicate',
      { skip },
      async () => {
        await h.store.domains.add('al.example');
        await h.store.subscribers.add('bob', 'al.example', 'pw');
        let r = await call('POST', '/api/v1/aliases', { body: { alias: '+15550100', subscriber: 'bob@al.example' } });
        assert.equal(r.status, 201);
        assert.deepEqual([r.json.alias, r.json.subscriber], ['+15550100', 'bob@al.example']);
        assert.equal(
          (await call('POST', '/api/v1/aliases', { body: { alias: '+1555010*', subscriber: 'bob@al.example' } }))
            .status,
          201,
        );
        r = await call('POST', '/api/v1/aliases', { body: { alias: '+15550100', subscriber: 'bob@al.example' } });
        assert.deepEqual([r.status, r.json], [409, { error: 'alias +15550100 exists' }]);
        r = await call('POST', '/api/v1/aliases', { body: { alias: 'sales', subscriber: 'nobody@al.example' } });
        assert.deepEqual([r.status, r.json], [404, { error: 'unknown subscriber nobody@al.example' }]);
        r = await call('POST', '/api/v1/aliases', { body: { alias: '+12ab', subscriber: 'bob@al.example' } });
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^alias: expected an E\.164 number/);
        assert.equal((await call('GET', '/api/v1/aliases/+15550100')).json.subscriber, 'bob@al.example');
        assert.equal((await call('GET', '/api/v1/aliases/%2B1555010*')).json.alias, '+1555010*');
        assert.deepEqual(
          (await call('GET', '/api/v1/aliases?subscriber=bob@al.example')).json.map((a: Json) => a.alias),
          ['+1555010*', '+15550100'],
          'code point order',
        );
        assert.equal((await call('DELETE', '/api/v1/aliases/+1555010*')).status, 204);
        assert.equal((await call('GET', '/api/v1/aliases/+1555010*')).status, 404);
        assert.equal((await call('DELETE', '/api/v1/aliases/+1555010*')).status, 404);
        assert.equal((await call('PATCH', '/api/v1/aliases/+15550100', { body: {} })).status, 405);
      },
    );

    test(
      'location: list (all, or ?aor=), DELETE by AOR 204 then 404; POST 405 (bindings come from REGISTER)',
      { skip },
      async () => {
        const now = Date.now();
        await upsertBinding(h.store.location, {
          aor: 'carol@loc.example',
          contact: 'sip:carol@127.0.0.1:5099',
          expiresAt: now + 60_000,
          callId: 'c1',
          cseq: 1,
          proto: 'udp',
          localHost: '127.0.0.1',
          localPort: 5060,
          remoteHost: '127.0.0.1',
          remotePort: 5099,
        });
        let r = await call('GET', '/api/v1/location', { token: h.reader });
        assert.equal(r.status, 200);
        assert.equal(r.json.length, 1);
        assert.equal(r.json[0].aor, 'carol@loc.example');
        assert.equal(r.json[0].remote, '127.0.0.1:5099');
        assert.ok(r.json[0].expires > 50 && r.json[0].expires <= 60);
        assert.equal((await call('GET', '/api/v1/location?aor=sip:carol@LOC.example')).json.length, 1);
        assert.equal((await call('GET', '/api/v1/location?aor=dave@loc.example')).json.length, 0);
        assert.equal((await call('GET', '/api/v1/location?aor=nope')).status, 400);
        assert.equal((await call('POST', '/api/v1/location', { body: { aor: 'x@y' } })).status, 405);
        assert.equal((await call('DELETE', '/api/v1/location/carol@loc.example', { token: h.reader })).status, 403);
        assert.equal((await call('DELETE', '/api/v1/location/carol@loc.example')).status, 204);
        r = await call('DELETE', '/api/v1/location/carol@loc.example');
        assert.deepEqual([r.status, r.json], [404, { error: 'no registrations for carol@loc.example' }]);
      },
    );

    test(
      'tokens: POST shows the token once (the store keeps its sha-256); it works; DELETE revokes it at once',
      { skip },
      async () => {
        let r = await call('POST', '/api/v1/tokens', { body: { name: 'ci', role: 'read' } });
        assert.equal(r.status, 201);
        const token: string = r.json.token;
        assert.match(token, /^tl_[A-Za-z0-9_-]{43}$/);
        const row = await h.store.db
          .selectFrom('api_tokens')
          .selectAll()
          .where('name', '=', 'ci')
          .executeTakeFirstOrThrow();
        assert.equal(row.token_hash, createHash('sha256').update(token).digest('hex'));
        assert.ok(!JSON.stringify(await h.store.db.selectFrom('api_tokens').selectAll().execute()).includes(token));
        r = await call('GET', '/api/v1/tokens');
        assert.deepEqual(
          r.json.map((t: Json) => [t.name, t.role]),
          [
            ['admin', 'admin'],
            ['ci', 'read'],
            ['reader', 'read'],
          ],
        );
        assert.ok(
          r.json.every((t: Json) => !('token' in t)),
          'a list never shows tokens',
        );
        assert.equal((await call('GET', '/api/v1/domains', { token })).status, 200);
        assert.equal((await call('POST', '/api/v1/domains', { token, body: { domain: 'ci.example' } })).status, 403);
        r = await call('POST', '/api/v1/tokens', { body: { name: 'ci', role: 'admin' } });
        assert.deepEqual([r.status, r.json], [409, { error: 'token ci exists' }]);
        r = await call('POST', '/api/v1/tokens', { body: { name: 'x', role: 'root' } });
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^role: /);
        assert.equal((await call('DELETE', '/api/v1/tokens/ci')).status, 204);
        assert.equal((await call('GET', '/api/v1/domains', { token })).status, 401);
      },
    );

    test(
      'OpenAPI 3.1 from the same schemas: every resource, the password in the create body only',
      { skip },
      async () => {
        const doc = (await call('GET', '/api/v1/openapi.json', { token: null })).json;
        assert.equal(doc.openapi, '3.1.0');
        for (const p of [
          '/api/v1/domains',
          '/api/v1/domains/{domain}',
          '/api/v1/subscribers/{subscriber}',
          '/api/v1/aliases',
          '/api/v1/location',
          '/api/v1/location/{aor}',
          '/api/v1/tokens',
          '/api/v1/events',
          '/api/v1/reload',
        ]) {
          assert.ok(doc.paths[p], `${p} in the document`);
        }
        assert.ok(doc.paths['/api/v1/subscribers'].post.requestBody);
        assert.equal(doc.paths['/api/v1/location'].post, undefined);
        const s = doc.components.schemas;
        assert.ok(!('password' in s.subscribers.properties));
        assert.ok('password' in s['subscribers.create'].properties);
        assert.deepEqual(s['subscribers.create'].required.sort(), ['password', 'subscriber']);
        assert.equal(s['subscribers.create'].additionalProperties, false);
        assert.deepEqual(Object.keys(s['subscribers.patch'].properties), ['password']);
      },
    );

    test(
      'log level: read with any token, changed by an admin, a bad level 400 naming the field',
      { skip },
      async () => {
        assert.deepEqual((await call('GET', '/api/v1/log', { token: h.reader })).json, { level: 'silent' });
        assert.equal((await call('PATCH', '/api/v1/log', { token: h.reader, body: { level: 'debug' } })).status, 403);
        let r = await call('PATCH', '/api/v1/log', { body: { level: 'loud' } });
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^level: /);
        r = await call('PATCH', '/api/v1/log', { body: { level: 'error' } });
        assert.deepEqual([r.status, r.json], [200, { level: 'error' }]);
        r = await call('PATCH', '/api/v1/log', { body: { level: 'silent' } });
        assert.deepEqual(r.json, { level: 'silent' });
      },
    );

    test(
      'the console is served at / without a token, with a content security policy; its data needs the token',
      { skip },
      async () => {
        const r = await call('GET', '/', { token: null });
        assert.equal(r.status, 200);
        assert.match(String(r.headers['content-type']), /^text\/html/);
        assert.match(String(r.headers['content-security-policy']), /default-src 'self'/);
        const script = /<script type="module" crossorigin src="(\/console\/assets\/[^"]+\.js)">/.exec(r.json)?.[1];
        assert.ok(script !== undefined, 'the built index names its script under /console/assets/');
        const js = await call('GET', script, { token: null });
        assert.equal(js.status, 200);
        assert.match(String(js.headers['content-type']), /^text\/javascript/);
        assert.equal((await call('GET', '/console/nothing.js', { token: null })).status, 404);
      },
    );

    test('/readyz answers 503 with the reason once the store is closed', { skip }, async () => {
      const other = await harness(backend);
      await other.store.close();
      const res = await other.api.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(res.statusCode, 503);
      assert.match(JSON.parse(res.body).error, /closed/);
      await other.close();
    });
  });
}

const backends = [sqliteBackend('api'), postgresBackend('api')];
for (const b of backends) suite(b);
after(async () => {
  for (const b of backends) await b.cleanup();
});
