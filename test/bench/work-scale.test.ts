/**
 * bench/proxy's work scale (work-scale.ts): a CPU per call placed between
 * relay runs of known busy work a datagram, by interpolation inside them and
 * by the nearest slope outside; null without a rising scale.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatWork, workEquivalent } from '../../bench/proxy/work-scale.js';

const POINTS = [
  { workUs: 40, msPerCall: 0.58 },
  { workUs: 0, msPerCall: 0.16 },
  { workUs: 20, msPerCall: 0.33 },
];

test('a figure between two runs is interpolated on their segment', () => {
  const e = workEquivalent(POINTS, 0.245);
  assert.ok(e !== null);
  assert.equal(e.extrapolated, false);
  assert.ok(Math.abs(e.workUs - 10) < 1e-9, String(e.workUs));
  const upper = workEquivalent(POINTS, 0.455);
  assert.ok(upper !== null && Math.abs(upper.workUs - 30) < 1e-9, String(upper?.workUs));
});

test('a figure beyond the runs follows the slope of the nearest segment, marked extrapolated', () => {
  const above = workEquivalent(POINTS, 0.705);
  assert.ok(above !== null);
  assert.equal(above.extrapolated, true);
  assert.ok(Math.abs(above.workUs - 50) < 1e-9, String(above.workUs));
  const below = workEquivalent(POINTS, 0.143);
  assert.ok(below !== null && below.extrapolated);
  assert.ok(Math.abs(below.workUs + 2) < 1e-9, String(below.workUs));
  assert.equal(formatWork(below), '0 us (extrapolated)');
  assert.equal(formatWork(above), '50 us (extrapolated)');
});

test('no scale: one run, or runs that do not rise', () => {
  assert.equal(workEquivalent([{ workUs: 0, msPerCall: 0.2 }], 0.3), null);
  assert.equal(
    workEquivalent(
      [
        { workUs: 0, msPerCall: 0.3 },
        { workUs: 20, msPerCall: 0.2 },
      ],
      0.25,
    ),
    null,
  );
  assert.equal(formatWork(null), 'n/a');
});
