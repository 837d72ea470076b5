import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { NonceService } from '../../src/auth/nonce.js';
import { FakeClock } from './helpers.js';

const SECRET = Buffer.from('0123456789abcdef0123456789abcdef');
const OTHER = Buffer.from('fedcba9876543210fedcba9876543210');
const IP = '192.0.2.10';

function service(clock: FakeClock, extra: Partial<ConstructorParameters<typeof NonceService>[0]> = {}): NonceService {
  return new NonceService({ secret: SECRET, now: clock.now, ...extra });
}

test('a nonce is 72 base64url characters: timestamp | random | HMAC-SHA256 over them and the source IP', () => {
  const clock = new FakeClock();
  const n = service(clock).issue(IP);
  assert.match(n, /^[A-Za-z0-9_-]{72}$/);
  const raw = Buffer.from(n, 'base64url');
  assert.equal(raw.length, 54);
  assert.equal(raw.readUIntBE(0, 6), clock.t);
  const mac = createHmac('sha256', SECRET).update(raw.subarray(0, 22)).update(IP).digest();
  assert.deepEqual(raw.subarray(22), mac, 'the layout is as documented');
});

test('fresh nonces differ and check ok for their source', () => {
  const clock = new FakeClock();
  const s = service(clock);
  const a = s.issue(IP);
  const b = s.issue(IP);
  assert.notEqual(a, b);
  assert.equal(s.check(a, IP), 'ok');
  assert.equal(s.check(b, IP), 'ok');
});

test('no server state: another instance with the same secret checks it', () => {
  const clock = new FakeClock();
  const n = service(clock).issue(IP);
  assert.equal(service(clock).check(n, IP), 'ok');
  assert.equal(new NonceService({ secret: OTHER, now: clock.now }).check(n, IP), 'invalid');
});

test('expires after the lifetime (default 300 s): ok at 300 s, stale after; inspect gives the times', () => {
  const clock = new FakeClock();
  const s = service(clock);
  const t0 = clock.t;
  const n = s.issue(IP);
  clock.advance(300_000);
  assert.equal(s.check(n, IP), 'ok');
  clock.advance(1);
  assert.equal(s.check(n, IP), 'stale');
  assert.deepEqual(s.inspect(n, IP), { status: 'stale', issuedAtMs: t0, expiresAtMs: t0 + 300_000 });
  clock.advance(86_400_000);
  assert.equal(s.check(n, IP), 'stale', 'a genuine old nonce stays stale, not invalid');
});

test('lifetimeS is configurable', () => {
  const clock = new FakeClock();
  const s = service(clock, { lifetimeS: 30 });
  const n = s.issue(IP);
  clock.advance(30_001);
  assert.equal(s.check(n, IP), 'stale');
});

test('a clock stepped back: an issue time up to maxFutureMs ahead is ok, further is stale', () => {
  const clock = new FakeClock();
  const s = service(clock, { maxFutureMs: 5_000 });
  const n = s.issue(IP);
  clock.advance(-5_000);
  assert.equal(s.check(n, IP), 'ok');
  clock.advance(-1);
  assert.equal(s.check(n, IP), 'stale');
});

test('a nonce from another source IP is invalid; IPv4-mapped IPv6 is the same source', () => {
  const clock = new FakeClock();
  const s = service(clock);
  const n = s.issue(IP);
  assert.equal(s.check(n, '192.0.2.11'), 'invalid');
  assert.equal(s.check(n, '2001:db8::1'), 'invalid');
  assert.equal(s.check(n, `::ffff:${IP}`), 'ok');
  const v6 = s.issue('2001:DB8::1');
  assert.equal(s.check(v6, '2001:db8::1'), 'ok');
});

test('tampering with any byte (timestamp, random part, MAC) makes it invalid', () => {
  const clock = new FakeClock();
  const s = service(clock);
  const n = s.issue(IP);
  const raw = Buffer.from(n, 'base64url');
  for (let i = 0; i < raw.length; i++) {
    const t = Buffer.from(raw);
    t[i] = t[i]! ^ 0x01;
    assert.equal(s.check(t.toString('base64url'), IP), 'invalid', `byte ${i}`);
  }
});

test('an expired nonce made young again by rewriting its timestamp is invalid', () => {
  const clock = new FakeClock();
  const s = service(clock);
  const n = s.issue(IP);
  clock.advance(600_000);
  const raw = Buffer.from(n, 'base64url');
  raw.writeUIntBE(clock.t, 0, 6);
  assert.equal(s.check(raw.toString('base64url'), IP), 'invalid');
});

test('garbage is invalid, never an exception', () => {
  const clock = new FakeClock();
  const s = service(clock);
  const n = s.issue(IP);
  for (const bad of [
    '',
    'x',
    n.slice(1),
    `${n}A`,
    `${n.slice(0, 71)}=`,
    `${n.slice(0, 71)}+`,
    `${n.slice(0, 71)}/`,
    'dcd98b7102dd2f0e8b11d0f600bfb0c093',
    ' '.repeat(72),
    'é'.repeat(72),
  ]) {
    assert.equal(s.check(bad, IP), 'invalid', JSON.stringify(bad));
  }
});

test('rotation: nonces of the previous secret still check, those of the one before do not', () => {
  const clock = new FakeClock();
  const s = service(clock);
  const old = s.issue(IP);
  s.rotate(OTHER);
  const mid = s.issue(IP);
  assert.equal(s.check(old, IP), 'ok');
  assert.equal(s.check(mid, IP), 'ok');
  s.rotate(Buffer.from('a third secret, thirty-two bytes'));
  assert.equal(s.check(old, IP), 'invalid');
  assert.equal(s.check(mid, IP), 'ok');
});

test('previousSecret in the constructor (a restart right after a rotation)', () => {
  const clock = new FakeClock();
  const before = service(clock);
  const n = before.issue(IP);
  const after = new NonceService({ secret: OTHER, previousSecret: SECRET, now: clock.now });
  assert.equal(after.check(n, IP), 'ok');
});

test('weak configuration is refused', () => {
  assert.throws(() => new NonceService({ secret: Buffer.alloc(15) }), RangeError);
  assert.throws(() => new NonceService({ secret: SECRET, previousSecret: Buffer.alloc(4) }), RangeError);
  assert.throws(() => new NonceService({ secret: SECRET, lifetimeS: 0 }), RangeError);
  assert.throws(() => new NonceService({ secret: SECRET, lifetimeS: Number.NaN }), RangeError);
  assert.throws(() => service(new FakeClock()).rotate(Buffer.alloc(3)), RangeError);
});
