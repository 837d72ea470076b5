import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ProxyAuth, type ProxyAuthOptions } from '../../src/auth/proxy-auth.js';
import { NonceService } from '../../src/auth/nonce.js';
import { FailureCounter } from '../../src/auth/failure-counter.js';
import { NcTracker } from '../../src/auth/nc-tracker.js';
import { Registrar } from '../../src/registrar/registrar.js';
import { serialize } from '../../src/sip/serializer.js';
import type { SipMessage } from '../../src/sip/message.js';
import { openStore, type Store } from '../../src/store/index.js';
import type { Flow } from '../../src/transport/types.js';
import { FakeClock, answer, challengeParams, request } from './helpers.js';

const DOMAIN = 'example.com';
const IP = '192.0.2.10';
const FLOW: Flow = {
  proto: 'udp',
  localHost: '127.0.0.1',
  localPort: 5060,
  remoteHost: IP,
  remotePort: 5062,
  connectionId: null,
};
const BOB = 'sip:bob@example.com';

let dir: string;
let store: Store;
const clock = new FakeClock();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'proxy-auth-test-'));
  store = await openStore({ kind: 'sqlite', file: join(dir, 'trunkline.db') }, { env: {}, now: clock.now });
  await store.domains.add(DOMAIN);
  await store.subscribers.add('alice', DOMAIN, 'secret');
  await store.subscribers.add('bob', DOMAIN, 'hunter2');
});

after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function proxyAuth(opts: Partial<ProxyAuthOptions> = {}): ProxyAuth {
  return new ProxyAuth({
    store,
    nonces: new NonceService({ secret: Buffer.alloc(32, 9), now: clock.now }),
    ncTracker: new NcTracker({ now: clock.now }),
    opaque: 'op4que',
    serverHeader: 'Trunkline',
    ...opts,
  });
}

/** The response an authenticate() call gave; fails the test when it let the request through. */
async function rejected(pa: ProxyAuth, req: SipMessage, flow: Flow = FLOW): Promise<SipMessage> {
  const r = await pa.authenticate(req, flow);
  assert.equal(r.ok, false, 'expected a response, got ok');
  return (r as { response: SipMessage }).response;
}

/** A challenge value of a 407 for one algorithm. */
function value(res: SipMessage, alg: 'MD5' | 'SHA-256' = 'SHA-256'): string {
  const v = res.getAll('Proxy-Authenticate').find((x) => challengeParams(x).algorithm === alg);
  assert.ok(v !== undefined, `no ${alg} challenge in:\n${serialize(res).toString()}`);
  return v;
}

function invite(credentials?: string, from = 'sip:alice@example.com'): SipMessage {
  return request('INVITE', BOB, credentials === undefined ? [] : [`Proxy-Authorization: ${credentials}`], from);
}

test('a local From without credentials gets 407: Proxy-Authenticate per algorithm, realm = the domain, qop=auth, opaque, a nonce', async () => {
  const res = await rejected(proxyAuth(), invite());
  assert.equal(res.status, 407);
  const values = res.getAll('Proxy-Authenticate');
  assert.deepEqual(
    values.map((v) => challengeParams(v).algorithm),
    ['SHA-256', 'MD5'],
  );
  for (const v of values) {
    const p = challengeParams(v);
    assert.equal(p.realm, DOMAIN);
    assert.equal(p.qop, 'auth');
    assert.equal(p.opaque, 'op4que');
    assert.equal(p.stale, undefined);
    assert.match(p.nonce!, /^[A-Za-z0-9_-]{72}$/);
  }
  assert.equal(res.get('Server'), 'Trunkline');
  assert.equal(res.get('WWW-Authenticate'), undefined);
  // registrar.algorithms: MD5 alone (SIPp 3.6).
  const md5 = await rejected(proxyAuth({ algorithms: ['MD5'] }), invite());
  assert.deepEqual(
    md5.getAll('Proxy-Authenticate').map((v) => challengeParams(v).algorithm),
    ['MD5'],
  );
});

test('right credentials (SHA-256 or MD5): ok with the authenticated subscriber', async () => {
  const pa = proxyAuth();
  for (const alg of ['SHA-256', 'MD5'] as const) {
    const v = value(await rejected(pa, invite()), alg);
    const r = await pa.authenticate(
      invite(answer(v, { user: 'alice', password: 'secret', method: 'INVITE', uri: BOB })),
      FLOW,
    );
    assert.deepEqual(r, { ok: true, subscriber: { username: 'alice', domain: DOMAIN } });
  }
  // The From host is matched case-insensitively to the domain (realm in lower case).
  const v = value(await rejected(pa, invite(undefined, 'sip:alice@EXAMPLE.com')));
  assert.equal(challengeParams(v).realm, DOMAIN);
});

test('a From outside the local domains, a tel: From, ACK, CANCEL and REGISTER are not challenged here', async () => {
  const pa = proxyAuth();
  assert.deepEqual(await pa.authenticate(invite(undefined, 'sip:carrier@198.51.100.7'), FLOW), {
    ok: true,
    subscriber: null,
  });
  assert.deepEqual(await pa.authenticate(invite(undefined, 'sip:alice@elsewhere.org'), FLOW), {
    ok: true,
    subscriber: null,
  });
  assert.deepEqual(await pa.authenticate(invite(undefined, 'tel:+15551234'), FLOW), { ok: true, subscriber: null });
  for (const m of ['ACK', 'CANCEL', 'REGISTER']) {
    assert.deepEqual(await pa.authenticate(request(m, BOB), FLOW), { ok: true, subscriber: null }, m);
  }
  // Other methods are: MESSAGE, SUBSCRIBE, OPTIONS.
  for (const m of ['MESSAGE', 'SUBSCRIBE', 'OPTIONS'])
    assert.equal((await rejected(pa, request(m, BOB))).status, 407, m);
});

test('unknown user and wrong password: the same 407 byte for byte (To tag and nonce aside), both counted per IP and per user', async () => {
  const failures = new FailureCounter({ threshold: 100, now: clock.now });
  const pa = proxyAuth({ failures });
  const v = value(await rejected(pa, invite()));
  const wrong = await rejected(pa, invite(answer(v, { user: 'alice', password: 'guess', method: 'INVITE', uri: BOB })));
  const ghost = await rejected(pa, invite(answer(v, { user: 'ghost', password: 'guess', method: 'INVITE', uri: BOB })));
  const mask = (res: SipMessage): string =>
    serialize(res)
      .toString()
      .replace(/;tag=[^\r\n;>,]+/g, ';tag=X')
      .replace(/nonce="[^"]+"/g, 'nonce="N"');
  assert.equal(wrong.status, 407);
  assert.equal(mask(wrong), mask(ghost));
  assert.equal(failures.count('ip', IP), 2);
  assert.equal(failures.count('user', 'alice'), 1);
  assert.equal(failures.count('user', 'ghost'), 1);
});

test('replayed nonce-count, forged nonce, nonce of another address: 407 and counted; an expired nonce: 407 stale=true, counted', async () => {
  const failures = new FailureCounter({ threshold: 100, now: clock.now });
  const pa = proxyAuth({ failures });
  const v = value(await rejected(pa, invite()));
  const good = answer(v, { user: 'alice', password: 'secret', method: 'INVITE', uri: BOB, nc: 1 });
  assert.equal((await pa.authenticate(invite(good), FLOW)).ok, true);
  assert.equal((await rejected(pa, invite(good))).status, 407, 'replay of nc=1');
  assert.equal(failures.count('user', 'alice'), 1);
  // nc=2 of the same nonce is fine.
  assert.equal(
    (
      await pa.authenticate(
        invite(answer(v, { user: 'alice', password: 'secret', method: 'INVITE', uri: BOB, nc: 2 })),
        FLOW,
      )
    ).ok,
    true,
  );
  // A made-up nonce.
  const forged = answer(v, { user: 'alice', password: 'secret', method: 'INVITE', uri: BOB, nonce: 'A'.repeat(72) });
  assert.equal((await rejected(pa, invite(forged))).status, 407);
  // The nonce was issued to another address.
  const other: Flow = { ...FLOW, remoteHost: '192.0.2.99' };
  assert.equal(
    (
      await rejected(
        pa,
        invite(answer(v, { user: 'alice', password: 'secret', method: 'INVITE', uri: BOB, nc: 3 })),
        other,
      )
    ).status,
    407,
  );
  assert.equal(failures.count('ip', IP), 2);
  assert.equal(failures.count('ip', '192.0.2.99'), 1);
  // Expired: stale=true on every value, and the fresh nonce works.
  clock.advance(301_000);
  const stale = await rejected(
    pa,
    invite(answer(v, { user: 'alice', password: 'secret', method: 'INVITE', uri: BOB, nc: 4 })),
  );
  assert.equal(stale.status, 407);
  assert.ok(stale.getAll('Proxy-Authenticate').every((x) => challengeParams(x).stale === 'true'));
  assert.equal(failures.count('ip', IP), 1, 'the stale one (the others left the 60 s window)');
  const fresh = answer(value(stale), { user: 'alice', password: 'secret', method: 'INVITE', uri: BOB });
  assert.equal((await pa.authenticate(invite(fresh), FLOW)).ok, true);
});

test('From user other than the authenticated one: 403 (counted); allowed with checkFromUser false', async () => {
  const failures = new FailureCounter({ threshold: 100, now: clock.now });
  const strict = proxyAuth({ failures });
  const v = value(await rejected(strict, invite(undefined, 'sip:bob@example.com')));
  // alice's credentials on a request From bob.
  const creds = (nc: number): string =>
    answer(v, { user: 'alice', password: 'secret', method: 'INVITE', uri: BOB, nc });
  const res = await rejected(strict, invite(creds(1), 'sip:bob@example.com'));
  assert.equal(res.status, 403);
  assert.equal(failures.count('user', 'alice'), 1);
  const lax = proxyAuth({ checkFromUser: false });
  const lv = value(await rejected(lax, invite(undefined, 'sip:bob@example.com')));
  const ok = await lax.authenticate(
    invite(answer(lv, { user: 'alice', password: 'secret', method: 'INVITE', uri: BOB }), 'sip:bob@example.com'),
    FLOW,
  );
  assert.deepEqual(ok, { ok: true, subscriber: { username: 'alice', domain: DOMAIN } });
});

test('malformed Proxy-Authorization for the realm: 400 naming the header, counted', async () => {
  const failures = new FailureCounter({ threshold: 100, now: clock.now });
  const pa = proxyAuth({ failures });
  const res = await rejected(pa, invite('Digest username="alice", realm="example.com", nonce="x"'));
  assert.equal(res.status, 400);
  assert.match(res.reason, /Proxy-Authorization/);
  assert.equal(failures.count('user', 'alice'), 1);
});

test('the registrar records its failures too: wrong password and unknown user, per IP and per user', async () => {
  const failures = new FailureCounter({ threshold: 100, now: clock.now });
  const registrar = new Registrar({
    store,
    nonces: new NonceService({ secret: Buffer.alloc(32, 9), now: clock.now }),
    failures,
    now: clock.now,
  });
  const reg = (auth?: string): SipMessage =>
    request('REGISTER', 'sip:example.com', [
      'Contact: <sip:alice@192.0.2.10:5062>',
      ...(auth === undefined ? [] : [`Authorization: ${auth}`]),
    ]);
  const first = await registrar.process(reg(), FLOW);
  assert.equal(first.status, 401);
  const v = first.getAll('WWW-Authenticate')[0]!;
  for (const user of ['alice', 'ghost']) {
    const res = await registrar.process(
      reg(answer(v, { user, password: 'guess', method: 'REGISTER', uri: 'sip:example.com' })),
      FLOW,
    );
    assert.equal(res.status, 401);
  }
  assert.equal(failures.count('ip', IP), 2);
  assert.equal(failures.count('user', 'alice'), 1);
  assert.equal(failures.count('user', 'ghost'), 1);
});
