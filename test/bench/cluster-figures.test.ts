/**
 * bench/cluster's arithmetic (no processes here): nearest-rank percentiles
 * of the probe's set-up times, the probe's pace, the two UACs' shares of a
 * rate, and ratios that are absent rather than infinite.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { latency, percentile, probeInterval, ratio, split } from '../../bench/cluster/figures.js';

test('percentiles by nearest rank: p50 and p99 of 1..100, one value, none', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(hundred, 50), 50);
  assert.equal(percentile(hundred, 99), 99);
  assert.equal(percentile(hundred, 100), 100);
  assert.equal(percentile([7], 99), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
  // p99 of 10 values is the largest: too few calls say nothing finer.
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99), 10);
});

test('latency sorts what the probe measured and averages it', () => {
  const l = latency([3.5, 0.5, 1.5, 2.5]);
  assert.deepEqual(l, { calls: 4, p50: 1.5, p99: 3.5, mean: 2 });
  const none = latency([]);
  assert.equal(none.calls, 0);
  assert.ok(Number.isNaN(none.p50) && Number.isNaN(none.mean));
});

test('the probe calls at a tenth of the rate, at least 10 per second', () => {
  assert.equal(probeInterval(50), 100);
  assert.equal(probeInterval(100), 100);
  assert.equal(probeInterval(300), 33);
});

test('two shares of a rate add up to it; ratios of nothing are null', () => {
  assert.deepEqual(split(300), [150, 150]);
  assert.deepEqual(split(51), [26, 25]);
  assert.deepEqual(split(1), [1, 0]);
  assert.equal(ratio(3, 2), 1.5);
  assert.equal(ratio(1, 0), null);
  assert.equal(ratio(null, 2), null);
  assert.equal(ratio(NaN, 2), null);
});
