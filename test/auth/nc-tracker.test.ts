import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NcTracker, NC_WINDOW } from '../../src/auth/nc-tracker.js';
import { FakeClock } from './helpers.js';

function tracker(clock = new FakeClock(), maxNonces?: number): { t: NcTracker; clock: FakeClock; exp: number } {
  return {
    t: new NcTracker({ now: clock.now, ...(maxNonces !== undefined ? { maxNonces } : {}) }),
    clock,
    exp: clock.t + 300_000,
  };
}

test('counts going up are accepted; each only once', () => {
  const { t, exp } = tracker();
  for (let nc = 1; nc <= 100; nc++) assert.equal(t.accept('n', nc, exp), 'ok');
  assert.equal(t.accept('n', 100, exp), 'replay');
  assert.equal(t.accept('n', 99, exp), 'replay');
  assert.equal(t.accept('n', 1, exp), 'out-of-window');
});

test('nonces are independent', () => {
  const { t, exp } = tracker();
  assert.equal(t.accept('a', 1, exp), 'ok');
  assert.equal(t.accept('b', 1, exp), 'ok');
  assert.equal(t.accept('a', 1, exp), 'replay');
});

test('out of order within the window: accepted once', () => {
  const { t, exp } = tracker();
  assert.equal(t.accept('n', 5, exp), 'ok');
  assert.equal(t.accept('n', 3, exp), 'ok');
  assert.equal(t.accept('n', 4, exp), 'ok');
  assert.equal(t.accept('n', 3, exp), 'replay');
  assert.equal(t.accept('n', 1, exp), 'ok');
  assert.equal(t.accept('n', 2, exp), 'ok');
  assert.equal(t.accept('n', 2, exp), 'replay');
  assert.equal(t.accept('n', 5, exp), 'replay');
  assert.equal(t.accept('n', 6, exp), 'ok');
});

test(`the window is ${NC_WINDOW} counts: max-31 is accepted, max-32 is not`, () => {
  const { t, exp } = tracker();
  assert.equal(t.accept('n', 100, exp), 'ok');
  assert.equal(t.accept('n', 100 - (NC_WINDOW - 1), exp), 'ok');
  assert.equal(t.accept('n', 100 - NC_WINDOW, exp), 'out-of-window');
  assert.equal(t.accept('n', 100 - (NC_WINDOW - 1), exp), 'replay');
});

test('a jump forward slides the window; bits of counts left behind are gone', () => {
  const { t, exp } = tracker();
  assert.equal(t.accept('n', 1, exp), 'ok');
  assert.equal(t.accept('n', 2, exp), 'ok');
  assert.equal(t.accept('n', 40, exp), 'ok');
  assert.equal(t.accept('n', 2, exp), 'out-of-window');
  assert.equal(t.accept('n', 9, exp), 'ok');
  assert.equal(t.accept('n', 9, exp), 'replay');
  assert.equal(t.accept('n', 1000, exp), 'ok');
  assert.equal(t.accept('n', 999, exp), 'ok');
  assert.equal(t.accept('n', 0xffffffff, exp), 'ok', 'the largest nc');
  assert.equal(t.accept('n', 0xffffffff, exp), 'replay');
  assert.equal(t.accept('n', 0xffffffff - 31, exp), 'ok');
});

test('nc below 1 is never accepted', () => {
  const { t, exp } = tracker();
  assert.equal(t.accept('n', 0, exp), 'out-of-window');
  assert.equal(t.accept('n', -1, exp), 'out-of-window');
  assert.equal(t.accept('n', 1.5, exp), 'out-of-window');
});

test('an entry is dropped once its nonce expires (lazily, or by sweep)', () => {
  const { t, clock, exp } = tracker();
  t.accept('a', 1, exp);
  t.accept('b', 1, exp + 60_000);
  clock.advance(300_000);
  assert.equal(t.sweep(), 0, 'a nonce is still ok at its expiry time (NonceService: age <= lifetime)');
  clock.advance(1);
  assert.equal(t.sweep(), 1);
  assert.equal(t.has('a'), false);
  assert.equal(t.has('b'), true);
  clock.advance(60_000);
  t.accept('c', 1, clock.t + 300_000); // looks at the least recently used entries on the way
  assert.equal(t.has('b'), false);
  assert.equal(t.size, 1);
});

test('memory is bounded: least recently used nonces go first', () => {
  const { t, exp } = tracker(new FakeClock(), 1000);
  for (let i = 0; i < 5000; i++) t.accept(`n${i}`, 1, exp);
  assert.equal(t.size, 1000);
  assert.equal(t.has('n0'), false);
  assert.equal(t.has('n3999'), false);
  assert.equal(t.has('n4000'), true);
  // Using an entry keeps it.
  t.accept('n4000', 2, exp);
  for (let i = 5000; i < 5999; i++) t.accept(`n${i}`, 1, exp);
  assert.equal(t.has('n4000'), true);
  assert.equal(t.has('n4001'), false);
  assert.equal(t.size, 1000);
});

test('default bound is 100 000 nonces', () => {
  const { t, exp } = tracker();
  assert.equal(t.maxNonces, 100_000);
  for (let i = 0; i < 120_000; i++) t.accept(`nonce-${i}`, 1, exp);
  assert.equal(t.size, 100_000);
});

test('bad configuration is refused', () => {
  assert.throws(() => new NcTracker({ maxNonces: 0 }), RangeError);
  assert.throws(() => new NcTracker({ maxNonces: 1.5 }), RangeError);
});
