import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FailureCounter, type ThresholdEvent } from '../../src/auth/failure-counter.js';
import { FakeClock } from './helpers.js';

function counter(opts: ConstructorParameters<typeof FailureCounter>[0] = {}): {
  c: FailureCounter;
  clock: FakeClock;
  events: ThresholdEvent[];
} {
  const clock = new FakeClock();
  const events: ThresholdEvent[] = [];
  const c = new FailureCounter({ now: clock.now, onThreshold: (e) => events.push(e), ...opts });
  return { c, clock, events };
}

test('default: the third failure within 60 s crosses, for the IP and for the user', () => {
  const { c, clock, events } = counter();
  c.record('192.0.2.1', 'alice', 'wrong password');
  clock.advance(20_000);
  c.record('192.0.2.1', 'alice', 'wrong password');
  assert.equal(events.length, 0);
  assert.equal(c.count('ip', '192.0.2.1'), 2);
  assert.equal(c.count('user', 'alice'), 2);
  clock.advance(39_999);
  const fired = c.record('192.0.2.1', 'alice', 'unknown user');
  assert.deepEqual(events, fired);
  assert.deepEqual(events, [
    { kind: 'ip', key: '192.0.2.1', count: 3, windowS: 60, atMs: clock.t, reason: 'unknown user' },
    { kind: 'user', key: 'alice', count: 3, windowS: 60, atMs: clock.t, reason: 'unknown user' },
  ]);
});

test('the window slides: failures older than 60 s no longer count', () => {
  const { c, clock, events } = counter();
  c.record('192.0.2.1', null); // t=0
  clock.advance(31_000);
  c.record('192.0.2.1', null); // t=31
  clock.advance(29_000);
  c.record('192.0.2.1', null); // t=60: the one at t=0 just left the window (now-60 s, now]
  assert.equal(events.length, 0);
  assert.equal(c.count('ip', '192.0.2.1'), 2);
  clock.advance(30_999);
  assert.equal(c.count('ip', '192.0.2.1'), 2, 't=90.999: t=31 is still inside');
  clock.advance(1);
  assert.equal(c.count('ip', '192.0.2.1'), 1, 't=91: only t=60 is left');
  c.record('192.0.2.1', null);
  assert.equal(events.length, 0);
  c.record('192.0.2.1', null);
  assert.equal(events.length, 1);
});

test('after crossing, a key counts afresh: every further 3 failures cross again', () => {
  const { c, events } = counter();
  for (let i = 0; i < 9; i++) c.record('192.0.2.1', null);
  assert.equal(events.length, 3);
  assert.equal(c.count('ip', '192.0.2.1'), 0);
});

test('IPs and users are counted apart; a null username counts only the IP', () => {
  const { c, events } = counter();
  c.record('192.0.2.1', 'alice');
  c.record('192.0.2.2', 'alice');
  c.record('192.0.2.3', 'alice');
  assert.deepEqual(
    events.map((e) => `${e.kind}:${e.key}`),
    ['user:alice'],
  );
  c.record('192.0.2.9', null);
  c.record('192.0.2.9', 'bob');
  c.record('192.0.2.9', 'carol');
  assert.deepEqual(
    events.map((e) => `${e.kind}:${e.key}`),
    ['user:alice', 'ip:192.0.2.9'],
  );
  assert.equal(c.count('user', 'bob'), 1);
});

test('IPv4-mapped IPv6 counts as the IPv4 address', () => {
  const { c } = counter();
  c.record('::ffff:192.0.2.1', null);
  c.record('192.0.2.1', null);
  assert.equal(c.count('ip', '192.0.2.1'), 2);
  assert.equal(c.count('ip', '::FFFF:192.0.2.1'), 2);
});

test('threshold and window are configurable, per kind too', () => {
  const { c, clock, events } = counter({ threshold: 5, windowS: 10, user: { threshold: 2, windowS: 600 } });
  c.record('192.0.2.1', 'alice');
  clock.advance(300_000);
  c.record('192.0.2.1', 'alice');
  assert.deepEqual(
    events.map((e) => `${e.kind}:${e.key}:${e.count}:${e.windowS}`),
    ['user:alice:2:600'],
  );
  for (let i = 0; i < 3; i++) c.record('192.0.2.1', null);
  assert.equal(events.length, 1, 'ip: 4 within 10 s');
  c.record('192.0.2.1', null);
  assert.equal(events.length, 2);
  assert.equal(events[1]!.kind, 'ip');
});

test('reset forgets a key (a successful login, a ban lifted by hand)', () => {
  const { c, events } = counter();
  c.record('192.0.2.1', 'alice');
  c.record('192.0.2.1', 'alice');
  c.reset('user', 'alice');
  c.reset('ip', '192.0.2.1');
  c.record('192.0.2.1', 'alice');
  assert.equal(events.length, 0);
});

test('memory is bounded per kind; the least recently failing key goes first; sweep drops idle keys', () => {
  const { c, clock, events } = counter({ maxKeys: 1000 });
  for (let i = 0; i < 10_000; i++) c.record(`10.0.${i >> 8}.${i & 255}`, `user${i}`);
  assert.equal(c.size('ip'), 1000);
  assert.equal(c.size('user'), 1000);
  assert.equal(c.count('user', 'user0'), 0);
  assert.equal(c.count('user', 'user9999'), 1);
  assert.equal(events.length, 0);
  clock.advance(60_001);
  assert.equal(c.sweep(), 2000);
  assert.equal(c.size('ip'), 0);
  assert.equal(c.size('user'), 0);
});

test('a key keeps at most `threshold` failure times', () => {
  const { c, clock } = counter({ threshold: 1000, windowS: 1 });
  // 100 000 failures, each out of the last one's window: the list never grows.
  for (let i = 0; i < 100_000; i++) {
    c.record('192.0.2.1', null);
    clock.advance(1001);
  }
  assert.equal(c.count('ip', '192.0.2.1'), 0);
  assert.equal(c.size('ip'), 1);
});

test('bad configuration is refused', () => {
  assert.throws(() => new FailureCounter({ threshold: 0 }), RangeError);
  assert.throws(() => new FailureCounter({ windowS: -1 }), RangeError);
  assert.throws(() => new FailureCounter({ maxKeys: 0 }), RangeError);
  assert.throws(() => new FailureCounter({ user: { threshold: 2.5 } }), RangeError);
});
