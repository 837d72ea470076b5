import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  DigestAuthenticator,
  authHeadersFor,
  canChallenge,
  digestResponse,
  ha1,
  type AuthOutcome,
  type ChallengeAlgorithm,
  type DigestAuthenticatorOptions,
} from '../../src/auth/digest.js';
import { NonceService } from '../../src/auth/nonce.js';
import { NcTracker } from '../../src/auth/nc-tracker.js';
import { FailureCounter, type ThresholdEvent } from '../../src/auth/failure-counter.js';
import type { SipMessage } from '../../src/sip/message.js';
import { FakeClock, answer, challengeParams, hash, request, type ClientOptions } from './helpers.js';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

// ---------------------------------------------------------------------------
// Known answers

test('known answer: RFC 2617 3.5 (Mufasa, qop=auth), computed here and published', () => {
  const nonce = 'dcd98b7102dd2f0e8b11d0f600bfb0c093';
  const h1 = md5('Mufasa:testrealm@host.com:Circle Of Life');
  const independent = md5(`${h1}:${nonce}:00000001:0a4f113b:auth:${md5('GET:/dir/index.html')}`);
  assert.equal(independent, '6629fae49393a05397450978507c4ef1', 'RFC 2617 3.5');
  assert.equal(ha1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life'), h1);
  const got = digestResponse({
    algorithm: 'MD5',
    ha1: h1,
    nonce,
    method: 'GET',
    uri: '/dir/index.html',
    qop: 'auth',
    ncText: '00000001',
    cnonce: '0a4f113b',
  });
  assert.equal(got, independent);
});

test('known answer: RFC 7616 3.9.1, MD5 and SHA-256', () => {
  const p = {
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
    method: 'GET',
    uri: '/dir/index.html',
    qop: 'auth' as const,
    ncText: '00000001',
  };
  const user = ['Mufasa', 'http-auth@example.org', 'Circle of Life'] as const;
  const m = digestResponse({ ...p, algorithm: 'MD5', ha1: ha1('MD5', ...user) });
  const s = digestResponse({ ...p, algorithm: 'SHA-256', ha1: ha1('SHA-256', ...user) });
  assert.equal(m, '8ca523f5e9506fed4657c9700eebdbec');
  assert.equal(s, '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
  const h1 = sha256(user.join(':'));
  assert.equal(
    s,
    sha256(`${h1}:${p.nonce}:00000001:${p.cnonce}:auth:${sha256('GET:/dir/index.html')}`),
    'and computed here',
  );
});

test('known answer: SIP worked examples (draft-smith-sipping-auth-examples-01 3.1, 3.3, 3.4: bob@biloxi.com, INVITE)', () => {
  const nonce = 'dcd98b7102dd2f0e8b11d0f600bfb0c093';
  const h1 = ha1('MD5', 'bob', 'biloxi.com', 'zanzibar');
  assert.equal(h1, md5('bob:biloxi.com:zanzibar'));
  const base = { ha1: h1, nonce, method: 'INVITE', uri: 'sip:bob@biloxi.com' };
  // 3.1: neither algorithm nor qop (RFC 2069 form).
  const noQop = digestResponse({ ...base, algorithm: 'MD5', qop: null, ncText: null, cnonce: null });
  assert.equal(noQop, 'bf57e4e0d0bffc0fbaedce64d59add5e');
  assert.equal(noQop, md5(`${h1}:${nonce}:${md5('INVITE:sip:bob@biloxi.com')}`));
  // 3.3: qop=auth, MD5.
  assert.equal(
    digestResponse({ ...base, algorithm: 'MD5', qop: 'auth', ncText: '00000001', cnonce: '0a4f113b' }),
    '89eb0059246c02b2f6ee02c7961d5ea3',
  );
  // 3.4: qop=auth, MD5-sess.
  assert.equal(
    digestResponse({ ...base, algorithm: 'MD5-sess', qop: 'auth', ncText: '00000001', cnonce: '0a4f113b' }),
    'e4e4ea61d186d07a92c9e1f6919902e9',
  );
});

test('ha1 for SHA-256 (RFC 8760) is SHA-256 of user:realm:password', () => {
  assert.equal(ha1('SHA-256', 'alice', 'example.com', 'pw'), sha256('alice:example.com:pw'));
});

// ---------------------------------------------------------------------------
// Challenge / verify round trips

const REALM = 'example.com';
const IP = '192.0.2.10';
const PASSWORDS: Record<string, string> = { alice: 'secret', 'j\u00fcrgen': 'p\u00e4ss' };

interface Fixture {
  auth: DigestAuthenticator;
  clock: FakeClock;
  nonces: NonceService;
  lookups: Array<[string, string, ChallengeAlgorithm]>;
  lookup: (user: string, realm: string, alg: ChallengeAlgorithm) => Promise<string | null>;
}

function fixture(opts: Partial<DigestAuthenticatorOptions> = {}, clock = new FakeClock()): Fixture {
  const nonces = new NonceService({ secret: Buffer.from('digest-test-secret-0123456789abc'), now: clock.now });
  const auth = new DigestAuthenticator({ nonces, ncTracker: new NcTracker({ now: clock.now }), ...opts });
  const lookups: Fixture['lookups'] = [];
  const lookup = async (user: string, realm: string, alg: ChallengeAlgorithm): Promise<string | null> => {
    lookups.push([user, realm, alg]);
    const pw = PASSWORDS[user];
    return pw === undefined ? null : hash(alg, `${user}:${realm}:${pw}`);
  };
  return { auth, clock, nonces, lookups, lookup };
}

/** The challenge value for an algorithm from a fresh 401/407 for req. */
function challengeValue(
  f: Fixture,
  req: SipMessage,
  alg: ChallengeAlgorithm = 'SHA-256',
  ip = IP,
  realm = REALM,
): string {
  const c = f.auth.challenge(req, realm, ip);
  const v = c.values.find((x) => challengeParams(x).algorithm === alg);
  assert.ok(v !== undefined, `no ${alg} challenge in ${JSON.stringify(c.values)}`);
  return v;
}

/** REGISTER answering a challenge with the given client options. */
function authedRegister(value: string, o: Partial<ClientOptions> = {}, uri = 'sip:example.com'): SipMessage {
  const a = answer(value, { user: 'alice', password: 'secret', method: 'REGISTER', uri, ...o });
  return request('REGISTER', uri, [`Authorization: ${a}`]);
}

test('challenge: 401 WWW-Authenticate for REGISTER, 407 Proxy-Authenticate otherwise; SHA-256 first, then MD5', () => {
  const f = fixture({ opaque: 'op"aque' });
  const reg = f.auth.challenge(request('REGISTER', 'sip:example.com'), REALM, IP);
  assert.equal(reg.status, 401);
  assert.equal(reg.header, 'WWW-Authenticate');
  assert.equal(reg.values.length, 2);
  const [sha, md] = reg.values.map(challengeParams);
  assert.equal(sha!.algorithm, 'SHA-256');
  assert.equal(md!.algorithm, 'MD5');
  for (const p of [sha!, md!]) {
    assert.equal(p.realm, REALM);
    assert.equal(p.qop, 'auth');
    assert.equal(p.opaque, 'op\\"aque', 'opaque is quoted with escapes');
    assert.equal(p.stale, undefined);
    assert.equal(f.nonces.check(p.nonce!, IP), 'ok');
  }
  assert.equal(sha!.nonce, md!.nonce, 'one nonce for both algorithms');
  assert.match(
    reg.values[0]!,
    /^Digest realm="example\.com", qop="auth", algorithm=SHA-256, opaque="op\\"aque", nonce="[A-Za-z0-9_-]{72}"$/,
  );

  const inv = f.auth.challenge(request('INVITE', 'sip:bob@example.com'), REALM, IP, true);
  assert.equal(inv.status, 407);
  assert.equal(inv.header, 'Proxy-Authenticate');
  assert.ok(inv.values.every((v) => /, stale=true, nonce="/.test(v)));

  assert.deepEqual(authHeadersFor('REGISTER'), {
    status: 401,
    challengeHeader: 'WWW-Authenticate',
    credentialsHeader: 'Authorization',
  });
  assert.deepEqual(authHeadersFor('MESSAGE'), {
    status: 407,
    challengeHeader: 'Proxy-Authenticate',
    credentialsHeader: 'Proxy-Authorization',
  });
  assert.equal(canChallenge('ACK'), false);
  assert.equal(canChallenge('CANCEL'), false);
  assert.equal(canChallenge('INVITE'), true);
});

test('challenge: offered algorithms are configurable; a realm with a control character is refused', () => {
  const f = fixture({ algorithms: ['MD5'] });
  const c = f.auth.challenge(request('REGISTER', 'sip:example.com'), REALM, IP);
  assert.deepEqual(
    c.values.map((v) => challengeParams(v).algorithm),
    ['MD5'],
  );
  assert.throws(() => f.auth.challenge(request('REGISTER', 'sip:example.com'), 'bad\r\nrealm', IP), RangeError);
  const nonces = new NonceService({ secret: Buffer.alloc(32, 7) });
  assert.throws(() => new DigestAuthenticator({ nonces, algorithms: [] }), RangeError);
  assert.throws(() => new DigestAuthenticator({ nonces, algorithms: ['MD5', 'MD5'] }), RangeError);
  assert.throws(() => new DigestAuthenticator({ nonces, algorithms: ['SHA-512' as ChallengeAlgorithm] }), RangeError);
});

for (const alg of ['SHA-256', 'MD5'] as const) {
  for (const noQop of [false, true]) {
    test(`verify ok: ${alg}, ${noQop ? 'no qop (RFC 2617 compatibility)' : 'qop=auth'}`, async () => {
      const f = fixture();
      const req0 = request('REGISTER', 'sip:example.com');
      const req = authedRegister(challengeValue(f, req0, alg), { noQop });
      assert.deepEqual(await f.auth.verify(req, REALM, IP, f.lookup), { kind: 'ok', username: 'alice' });
      assert.deepEqual(f.lookups, [['alice', REALM, alg]]);
    });
  }
}

test('verify ok: a UTF-8 username and password', async () => {
  const f = fixture();
  const v = challengeValue(f, request('REGISTER', 'sip:example.com'));
  const req = request(
    'REGISTER',
    'sip:example.com',
    [
      `Authorization: ${answer(v, { user: 'j\u00fcrgen', password: 'p\u00e4ss', method: 'REGISTER', uri: 'sip:example.com' })}`,
    ],
    'sip:j%C3%BCrgen@example.com',
  );
  assert.deepEqual(await f.auth.verify(req, REALM, IP, f.lookup), { kind: 'ok', username: 'j\u00fcrgen' });
});

test('verify: INVITE is checked from Proxy-Authorization (407 flow); Authorization alone is missing', async () => {
  const f = fixture();
  const uri = 'sip:bob@example.com';
  const inv = request('INVITE', uri);
  const v = challengeValue(f, inv, 'MD5');
  const a = answer(v, { user: 'alice', password: 'secret', method: 'INVITE', uri });
  assert.deepEqual(await f.auth.verify(request('INVITE', uri, [`Proxy-Authorization: ${a}`]), REALM, IP, f.lookup), {
    kind: 'ok',
    username: 'alice',
  });
  assert.deepEqual(await f.auth.verify(request('INVITE', uri, [`Authorization: ${a}`]), REALM, IP, f.lookup), {
    kind: 'missing',
  });
});

test('verify: no credentials, or credentials for another realm only: missing (no lookup)', async () => {
  const f = fixture();
  assert.deepEqual(await f.auth.verify(request('REGISTER', 'sip:example.com'), REALM, IP, f.lookup), {
    kind: 'missing',
  });
  const v = challengeValue(f, request('REGISTER', 'sip:example.com'), 'SHA-256', IP, 'other.example');
  assert.deepEqual(await f.auth.verify(authedRegister(v), REALM, IP, f.lookup), { kind: 'missing' });
  assert.equal(f.lookups.length, 0);
});

test('verify: several Authorization headers for different realms: the one for the expected realm is used', async () => {
  const f = fixture();
  const r0 = request('REGISTER', 'sip:example.com');
  const ours = answer(challengeValue(f, r0, 'MD5'), {
    user: 'alice',
    password: 'secret',
    method: 'REGISTER',
    uri: 'sip:example.com',
  });
  const theirs = answer(challengeValue(f, r0, 'SHA-256', IP, 'upstream.example'), {
    user: 'bob',
    password: 'x',
    method: 'REGISTER',
    uri: 'sip:example.com',
  });
  const junkOther = 'Digest realm="third.example", username="zed", nonce=';
  const req = request('REGISTER', 'sip:example.com', [
    `Authorization: ${theirs}`,
    `Authorization: ${junkOther}`,
    'Authorization: Bearer eyJ0',
    `Authorization: ${ours}`,
  ]);
  assert.deepEqual(await f.auth.verify(req, REALM, IP, f.lookup), { kind: 'ok', username: 'alice' });
  assert.deepEqual(await f.auth.verify(req, 'upstream.example', IP, f.lookup), {
    kind: 'fail',
    username: 'bob',
    reason: 'unknown user',
  });
});

test('verify: replayed nc is rejected; a new nc on the same nonce is accepted', async () => {
  const f = fixture();
  const v = challengeValue(f, request('REGISTER', 'sip:example.com'));
  assert.equal((await f.auth.verify(authedRegister(v, { nc: 1 }), REALM, IP, f.lookup)).kind, 'ok');
  assert.deepEqual(await f.auth.verify(authedRegister(v, { nc: 1 }), REALM, IP, f.lookup), {
    kind: 'fail',
    username: 'alice',
    reason: 'nonce-count replay',
  });
  assert.equal((await f.auth.verify(authedRegister(v, { nc: 2 }), REALM, IP, f.lookup)).kind, 'ok');
  assert.equal(
    (await f.auth.verify(authedRegister(v, { nc: 2, cnonce: 'other' }), REALM, IP, f.lookup)).kind,
    'fail',
    'a new cnonce does not make an nc new',
  );
});

test('verify: out-of-order nc within 32 accepted once; outside the window rejected', async () => {
  const f = fixture();
  const v = challengeValue(f, request('REGISTER', 'sip:example.com'));
  const go = async (nc: number): Promise<AuthOutcome> => f.auth.verify(authedRegister(v, { nc }), REALM, IP, f.lookup);
  assert.equal((await go(40)).kind, 'ok');
  assert.equal((await go(20)).kind, 'ok');
  assert.deepEqual(await go(20), { kind: 'fail', username: 'alice', reason: 'nonce-count replay' });
  assert.deepEqual(await go(8), { kind: 'fail', username: 'alice', reason: 'nonce-count out-of-window' });
});

test('verify: a wrong response does not use up its nc', async () => {
  const f = fixture();
  const v = challengeValue(f, request('REGISTER', 'sip:example.com'));
  assert.equal((await f.auth.verify(authedRegister(v, { nc: 1, password: 'bad' }), REALM, IP, f.lookup)).kind, 'fail');
  assert.equal((await f.auth.verify(authedRegister(v, { nc: 1 }), REALM, IP, f.lookup)).kind, 'ok');
});

test('verify: expired nonce with the right password is stale (re-challenge with stale=true); with a wrong one, fail', async () => {
  const f = fixture();
  const r0 = request('REGISTER', 'sip:example.com');
  const v = challengeValue(f, r0);
  f.clock.advance(300_001);
  assert.deepEqual(await f.auth.verify(authedRegister(v), REALM, IP, f.lookup), { kind: 'stale', username: 'alice' });
  assert.deepEqual(await f.auth.verify(authedRegister(v, { nc: 2, password: 'nope' }), REALM, IP, f.lookup), {
    kind: 'fail',
    username: 'alice',
    reason: 'wrong password',
  });
  assert.deepEqual(await f.auth.verify(authedRegister(v, { user: 'ghost' }), REALM, IP, f.lookup), {
    kind: 'fail',
    username: 'ghost',
    reason: 'unknown user',
  });
  const rej = f.auth.rejection(r0, { kind: 'stale', username: 'alice' }, REALM, IP);
  assert.equal(rej?.status, 401);
  assert.ok(rej!.headers.every(([name, value]) => name === 'WWW-Authenticate' && /stale=true/.test(value)));
  // The fresh nonce of the stale challenge works.
  const fresh = rej!.headers.find(([, value]) => challengeParams(value).algorithm === 'SHA-256')![1];
  assert.equal((await f.auth.verify(authedRegister(fresh), REALM, IP, f.lookup)).kind, 'ok');
});

test('verify: a nonce issued to another source IP is invalid: fail, and no user lookup', async () => {
  const f = fixture();
  const v = challengeValue(f, request('REGISTER', 'sip:example.com'), 'SHA-256', '198.51.100.7');
  assert.deepEqual(await f.auth.verify(authedRegister(v), REALM, IP, f.lookup), {
    kind: 'fail',
    username: 'alice',
    reason: 'nonce invalid',
  });
  assert.equal(f.lookups.length, 0);
});

test('verify: a tampered or made-up nonce is invalid', async () => {
  const f = fixture();
  const v = challengeValue(f, request('REGISTER', 'sip:example.com'));
  const nonce = challengeParams(v).nonce!;
  const raw = Buffer.from(nonce, 'base64url');
  raw.writeUIntBE(raw.readUIntBE(0, 6) + 1000, 0, 6);
  for (const bad of [raw.toString('base64url'), 'dcd98b7102dd2f0e8b11d0f600bfb0c093']) {
    const out = await f.auth.verify(authedRegister(v, { nonce: bad }), REALM, IP, f.lookup);
    assert.deepEqual(out, { kind: 'fail', username: 'alice', reason: 'nonce invalid' });
  }
});

test('verify: unknown user and wrong password give the same outcome kind and the same challenge shape', async () => {
  const f = fixture({ opaque: 'o1' });
  const r0 = request('REGISTER', 'sip:example.com');
  const wrong = await f.auth.verify(authedRegister(challengeValue(f, r0), { password: 'guess' }), REALM, IP, f.lookup);
  const unknown = await f.auth.verify(
    authedRegister(challengeValue(f, r0), { user: 'mallory', password: 'guess' }),
    REALM,
    IP,
    f.lookup,
  );
  assert.equal(wrong.kind, 'fail');
  assert.equal(unknown.kind, 'fail');
  assert.notEqual(
    (wrong as { reason: string }).reason,
    (unknown as { reason: string }).reason,
    'the reasons (logs only) differ',
  );
  const missing = f.auth.rejection(r0, { kind: 'missing' }, REALM, IP)!;
  const shape = (o: AuthOutcome): unknown => {
    const rej = f.auth.rejection(r0, o, REALM, IP)!;
    return { ...rej, headers: rej.headers.map(([n, v]) => [n, v.replace(/nonce="[^"]*"/, 'nonce=""')]) };
  };
  assert.deepEqual(shape(wrong), shape(unknown));
  assert.deepEqual(shape(wrong), shape({ kind: 'missing' }));
  assert.equal(missing.status, 401);
  assert.equal(missing.reason, undefined, 'default reason phrase, nothing about why');
  // A store that has the user under a broken HA1 looks the same from outside.
  const broken = await f.auth.verify(authedRegister(challengeValue(f, r0)), REALM, IP, async () => 'not-a-hash');
  assert.deepEqual(broken, { kind: 'fail', username: 'alice', reason: 'stored HA1 malformed' });
});

test('verify: an unknown user is checked against a decoy HA1 (the lookup runs, a guessed decoy cannot pass)', async () => {
  const f = fixture();
  const v = challengeValue(f, request('REGISTER', 'sip:example.com'), 'MD5');
  // Whatever password: fail, and the store was asked once.
  for (const password of ['', 'secret', 'x']) {
    f.lookups.length = 0;
    const out = await f.auth.verify(authedRegister(v, { user: 'nobody', password }), REALM, IP, f.lookup);
    assert.equal(out.kind, 'fail');
    assert.deepEqual(f.lookups, [['nobody', REALM, 'MD5']]);
  }
});

test('verify: malformed credentials are malformed (400 naming the header)', async () => {
  const f = fixture();
  const bad = [
    'Digest username="alice", realm="example.com", nonce="n", uri="sip:example.com", response="00", qop=auth, nc=1, cnonce="c"',
    'Digest username="alice", realm="example.com", realm="example.com"',
    'Digest username="alice", realm="example.com", nonce="n", uri="sip:example.com", response="' +
      '0'.repeat(32) +
      '", nc=00000001',
  ];
  for (const value of bad) {
    const req = request('REGISTER', 'sip:example.com', [`Authorization: ${value}`]);
    const out = await f.auth.verify(req, REALM, IP, f.lookup);
    assert.equal(out.kind, 'malformed', value);
    const rej = f.auth.rejection(req, out, REALM, IP)!;
    assert.equal(rej.status, 400);
    assert.match(rej.reason!, /^Bad Authorization: /);
  }
  assert.equal(f.lookups.length, 0);
});

test('verify: the digest uri must match the Request-URI (equal text, or equal by RFC 3261 19.1.4)', async () => {
  const f = fixture();
  const v = challengeValue(f, request('REGISTER', 'sip:example.com'));
  const a1 = answer(v, {
    user: 'alice',
    password: 'secret',
    method: 'REGISTER',
    uri: 'sip:EXAMPLE.com;transport=udp',
    nc: 1,
  });
  assert.equal(
    (
      await f.auth.verify(
        request('REGISTER', 'sip:example.com;Transport=UDP', [`Authorization: ${a1}`]),
        REALM,
        IP,
        f.lookup,
      )
    ).kind,
    'ok',
  );
  const a2 = answer(v, { user: 'alice', password: 'secret', method: 'REGISTER', uri: 'sip:evil.example', nc: 2 });
  // RFC 2617 3.2.2.5: 400, not a fresh challenge (the client would answer it over the same uri again).
  const req2 = request('REGISTER', 'sip:example.com', [`Authorization: ${a2}`]);
  const out2 = await f.auth.verify(req2, REALM, IP, f.lookup);
  assert.deepEqual(out2, { kind: 'malformed', reason: 'digest uri does not match the Request-URI' });
  assert.deepEqual(f.auth.rejection(req2, out2, REALM, IP), {
    status: 400,
    reason: 'Bad Authorization: digest uri does not match the Request-URI',
    headers: [],
  });
  const a3 = answer(v, { user: 'alice', password: 'secret', method: 'REGISTER', uri: 'sip:example.com:5060', nc: 3 });
  assert.equal(
    (await f.auth.verify(request('REGISTER', 'sip:example.com', [`Authorization: ${a3}`]), REALM, IP, f.lookup)).kind,
    'malformed',
    'an explicit port differs (19.1.4)',
  );
});

test('verify: the response covers the method (a REGISTER answer does not authorise an INVITE)', async () => {
  const f = fixture();
  const v = challengeValue(f, request('INVITE', 'sip:bob@example.com'));
  const a = answer(v, { user: 'alice', password: 'secret', method: 'REGISTER', uri: 'sip:bob@example.com' });
  const out = await f.auth.verify(
    request('INVITE', 'sip:bob@example.com', [`Proxy-Authorization: ${a}`]),
    REALM,
    IP,
    f.lookup,
  );
  assert.deepEqual(out, { kind: 'fail', username: 'alice', reason: 'wrong password' });
});

test('verify: algorithm not offered, opaque not returned, qop required: fail', async () => {
  const f = fixture({ algorithms: ['SHA-256'], opaque: 'abc', allowNoQop: false });
  const v = challengeValue(f, request('REGISTER', 'sip:example.com'));
  assert.deepEqual(await f.auth.verify(authedRegister(v, { algorithm: 'MD5' }), REALM, IP, f.lookup), {
    kind: 'fail',
    username: 'alice',
    reason: 'algorithm MD5 not offered',
  });
  assert.deepEqual(await f.auth.verify(authedRegister(v, { opaque: null }), REALM, IP, f.lookup), {
    kind: 'fail',
    username: 'alice',
    reason: 'opaque mismatch',
  });
  assert.deepEqual(await f.auth.verify(authedRegister(v, { opaque: 'abd' }), REALM, IP, f.lookup), {
    kind: 'fail',
    username: 'alice',
    reason: 'opaque mismatch',
  });
  assert.deepEqual(await f.auth.verify(authedRegister(v, { noQop: true }), REALM, IP, f.lookup), {
    kind: 'fail',
    username: 'alice',
    reason: 'qop required',
  });
  assert.equal((await f.auth.verify(authedRegister(v), REALM, IP, f.lookup)).kind, 'ok');
  assert.equal(f.lookups.length, 1);
  const sess =
    'Digest username="alice", realm="example.com", nonce="n", uri="sip:example.com", algorithm=MD5-sess, qop=auth, nc=00000001, cnonce="c", response="' +
    '0'.repeat(32) +
    '"';
  const out = await f.auth.verify(
    request('REGISTER', 'sip:example.com', [`Authorization: ${sess}`]),
    REALM,
    IP,
    f.lookup,
  );
  assert.deepEqual(out, { kind: 'fail', username: 'alice', reason: 'algorithm MD5-sess not offered' });
});

test('verify: From user must be the authenticated user (403), unless configured otherwise', async () => {
  const f = fixture();
  const v = challengeValue(f, request('INVITE', 'sip:bob@example.com'));
  const a = (nc: number): string =>
    answer(v, { user: 'alice', password: 'secret', method: 'INVITE', uri: 'sip:bob@example.com', nc });
  const spoof = (nc: number): SipMessage =>
    request('INVITE', 'sip:bob@example.com', [`Proxy-Authorization: ${a(nc)}`], 'sip:ceo@example.com');
  const out = await f.auth.verify(spoof(1), REALM, IP, f.lookup);
  assert.deepEqual(out, { kind: 'forbidden', username: 'alice', reason: 'From user is not the authenticated user' });
  assert.deepEqual(f.auth.rejection(spoof(99), out, REALM, IP), { status: 403, headers: [] });
  assert.deepEqual(await f.auth.verify(spoof(2), REALM, IP, f.lookup, { matchFromUser: false }), {
    kind: 'ok',
    username: 'alice',
  });
  const lax = fixture({ matchFromUser: false });
  const lv = challengeValue(lax, request('INVITE', 'sip:bob@example.com'));
  const la = answer(lv, { user: 'alice', password: 'secret', method: 'INVITE', uri: 'sip:bob@example.com' });
  assert.equal(
    (
      await lax.auth.verify(
        request('INVITE', 'sip:bob@example.com', [`Proxy-Authorization: ${la}`], 'sip:ceo@example.com'),
        REALM,
        IP,
        lax.lookup,
      )
    ).kind,
    'ok',
  );
  // An escaped From user equal after unescaping matches; a tel: From compares its number.
  assert.equal(
    (
      await f.auth.verify(
        request('INVITE', 'sip:bob@example.com', [`Proxy-Authorization: ${a(3)}`], 'sip:%61lice@example.com'),
        REALM,
        IP,
        f.lookup,
      )
    ).kind,
    'ok',
  );
  assert.equal(
    (
      await f.auth.verify(
        request('INVITE', 'sip:bob@example.com', [`Proxy-Authorization: ${a(4)}`], 'tel:+15551234'),
        REALM,
        IP,
        f.lookup,
      )
    ).kind,
    'forbidden',
  );
});

test('every failure is counted per source IP and per user; the third within 60 s crosses', async () => {
  const clock = new FakeClock();
  const events: ThresholdEvent[] = [];
  const failures = new FailureCounter({ now: clock.now, onThreshold: (e) => events.push(e) });
  const f = fixture({ failures }, clock);
  const r0 = request('REGISTER', 'sip:example.com');
  await f.auth.verify(authedRegister(challengeValue(f, r0), { password: 'a' }), REALM, IP, f.lookup);
  await f.auth.verify(authedRegister(challengeValue(f, r0), { user: 'mallory' }), REALM, IP, f.lookup);
  await f.auth.verify(
    request('REGISTER', 'sip:example.com', ['Authorization: Digest username="alice", realm="example.com"']),
    REALM,
    IP,
    f.lookup,
  );
  assert.deepEqual(
    events.map((e) => `${e.kind}:${e.key}`),
    ['ip:192.0.2.10'],
  );
  assert.equal(failures.count('user', 'mallory'), 1);
  assert.equal(failures.count('user', 'alice'), 2, 'the malformed one counted under the username it named');
  // Not failures: missing credentials, ok.
  await f.auth.verify(r0, REALM, '192.0.2.99', f.lookup);
  const ok = challengeValue(f, r0, 'SHA-256', '192.0.2.99');
  assert.equal((await f.auth.verify(authedRegister(ok), REALM, '192.0.2.99', f.lookup)).kind, 'ok');
  assert.equal(failures.count('ip', '192.0.2.99'), 0);
  // A stale nonce is one (old credentials replayed look the same), under the user it named.
  const v = challengeValue(f, r0, 'SHA-256', '192.0.2.99');
  clock.advance(300_001);
  assert.equal((await f.auth.verify(authedRegister(v), REALM, '192.0.2.99', f.lookup)).kind, 'stale');
  assert.equal(failures.count('ip', '192.0.2.99'), 1);
});

test('verify: a failing user store rejects verify (the caller answers 500), counting nothing', async () => {
  const failures = new FailureCounter();
  const f = fixture({ failures });
  const v = challengeValue(f, request('REGISTER', 'sip:example.com'));
  await assert.rejects(
    f.auth.verify(authedRegister(v), REALM, IP, async () => Promise.reject(new Error('db down'))),
    /db down/,
  );
  assert.equal(failures.count('ip', IP), 0);
});
