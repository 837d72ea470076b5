/** /api/v1/bans through inject() on SQLite and PostgreSQL: the same bans `trunkline ban` and the server's own steps write. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { harness, injectCall, type Harness, type InjectOptions } from './helpers.js';
import { postgresBackend, sqliteBackend, type Backend } from '../helpers/backends.js';

type Json = any;

function suite(backend: Backend): void {
  describe(`bans API on ${backend.label}`, async () => {
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
      'ban add with an end, list, get, bad address 400 naming ip, read token 403, lift 204 then 404',
      { skip },
      async () => {
        let r = await call('POST', '/api/v1/bans', { body: { ip: '192.0.2.7', for: 600, reason: 'scanner' } });
        assert.equal(r.status, 201);
        assert.deepEqual([r.json.ip, r.json.reason, r.json.source], ['192.0.2.7', 'scanner', 'manual']);
        const ends = Date.parse(r.json.expiresAt) - Date.now();
        assert.ok(ends > 590_000 && ends <= 600_000, `ends in ${ends} ms`);
        assert.equal((await call('POST', '/api/v1/bans', { body: { ip: '2001:DB8::1' } })).json.expiresAt, null);
        r = await call('GET', '/api/v1/bans');
        assert.deepEqual(r.json.map((b: Json) => b.ip).sort(), ['192.0.2.7', '2001:db8::1']);
        assert.equal((await call('GET', '/api/v1/bans/192.0.2.7')).json.reason, 'scanner');
        r = await call('POST', '/api/v1/bans', { body: { ip: 'not-an-ip' } });
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^ip: /);
        assert.equal((await call('POST', '/api/v1/bans', { token: h.reader, body: { ip: '192.0.2.8' } })).status, 403);
        assert.equal((await call('DELETE', '/api/v1/bans/192.0.2.7')).status, 204);
        assert.equal((await call('DELETE', '/api/v1/bans/192.0.2.7')).status, 404);
        assert.equal((await call('GET', '/api/v1/bans/192.0.2.7')).status, 404);
      },
    );
  });
}

const backends = [sqliteBackend('api'), postgresBackend('api')];
for (const b of backends) suite(b);
after(async () => {
  for (const b of backends) await b.cleanup();
});
