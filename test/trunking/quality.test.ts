/**
 * Carrier quality without a network: the rolling figures (ASR, NER, ACD,
 * PDD, MOS), the E-model's MOS (ITU-T G.107 simplified), the Q.850 cause of
 * a CDR, and demotion with its cool-down on a clock run by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { figuresOf, isEffective, QualityWindow } from '../../src/trunking/quality-window.js';
import { QualityBoard, DEFAULT_QUALITY, type QualityConfig } from '../../src/trunking/quality.js';
import { callMos, mosOf, mosOfR, rFactor } from '../../src/trunking/mos.js';
import { q850FromReason, q850Of } from '../../src/b2bua/q850.js';
import { orderWithQuality } from '../../src/trunking/quality-order.js';
import { orderRoute } from '../../src/trunking/route-order.js';
import { emptyStats } from '../../src/media/engine.js';
import type { Carrier } from '../../src/trunking/model.js';

const sample = (
  answered: boolean,
  status: number,
  pddMs: number | null,
  durationMs: number | null,
  mos: number | null,
) => ({
  at: 0,
  answered,
  effective: isEffective(status),
  pddMs,
  durationMs,
  mos,
});

test('figures: ASR, NER, ACD, PDD and MOS of a window', () => {
  const f = figuresOf([
    sample(true, 200, 100, 30_000, 4.2),
    sample(true, 200, 300, 90_000, 4.0),
    sample(false, 486, 200, null, null),
    sample(false, 503, null, null, null),
  ]);
  assert.deepEqual(f, { attempts: 4, answered: 2, asr: 50, ner: 75, acd: 60, pdd: 200, mos: 4.1 });
  assert.deepEqual(figuresOf([]), { attempts: 0, answered: 0, asr: null, ner: null, acd: null, pdd: null, mos: null });
  // The window keeps the last N.
  const w = new QualityWindow(3);
  for (let i = 0; i < 5; i++) w.add({ ...sample(i >= 3, 200, null, null, null), at: i });
  assert.deepEqual(
    w.since(0).map((s) => s.at),
    [2, 3, 4],
  );
  assert.deepEqual(
    w.since(3).map((s) => s.at),
    [3, 4],
  );
});

test('MOS by the E-model: clean G.711 about 4.4, falling with loss and jitter; G.107 Annex B bounds', () => {
  assert.equal(mosOfR(0), 1);
  assert.equal(mosOfR(100), 4.5);
  // R = 93.2 at no loss and no delay: 4.41 by Annex B.
  assert.equal(Math.round(mosOfR(rFactor(0, 0)) * 100) / 100, 4.41);
  const clean = mosOf(0, 0);
  const lossy = mosOf(5, 0);
  const jittery = mosOf(0, 120);
  assert.ok(clean > 4.3 && clean < 4.45, `clean ${clean}`);
  assert.ok(lossy < clean - 0.4, `5% loss ${lossy}`);
  assert.ok(jittery < clean - 0.2, `120 ms jitter ${jittery}`);
  assert.ok(mosOf(30, 200) < 2.6, 'a bad call');
  // A call's: the worse direction that has RTCP figures; none: null.
  const stats = emptyStats();
  assert.equal(callMos(stats), null);
  stats.aToB = { ...stats.aToB, packets: 950, lost: 50, jitterMs: 10 };
  stats.bToA = { ...stats.bToA, packets: 1000, lost: 0, jitterMs: 2 };
  assert.equal(callMos(stats), mosOf(5, 10));
});

test('Q.850 cause: the Reason header first (RFC 3326), else the status (RFC 3398)', () => {
  assert.equal(q850FromReason('Q.850;cause=16;text="Normal call clearing"'), 16);
  assert.equal(q850FromReason('SIP;cause=200;text="x", Q.850 ; cause=34'), 34);
  assert.equal(q850FromReason('SIP;cause=487'), null);
  assert.equal(q850FromReason('Q.850;cause=999'), null);
  assert.equal(q850Of(200, null), 16);
  assert.equal(q850Of(486, null), 17);
  assert.equal(q850Of(404, null), 1);
  assert.equal(q850Of(503, null), 41);
  assert.equal(q850Of(480, 'Q.850;cause=19'), 19);
  assert.equal(q850Of(499, null), 31);
});

const CONFIG: QualityConfig = { ...DEFAULT_QUALITY, minCalls: 4, minAsr: 50, coolDown: 60, windowMinutes: 0 };

function board(config: QualityConfig = CONFIG) {
  const clock = { t: 1_000_000 };
  const lines: Array<[string, Record<string, unknown>]> = [];
  const log = {
    info: (o: object, m: string) => lines.push([m, o as Record<string, unknown>]),
    warn: (o: object, m: string) => lines.push([m, o as Record<string, unknown>]),
  };
  return { b: new QualityBoard(config, { now: () => clock.t, log }), clock, lines };
}

test('demotion: judged after minCalls, logged once, ends after the cool-down (logged), judged afresh after', () => {
  const { b, clock, lines } = board();
  const fail = () => b.record({ carrier: 'a', gateway: 'sip:gw1', status: 503, pddMs: null });
  for (let i = 0; i < 3; i++) fail();
  assert.equal(b.isDemoted('a', 'sip:gw1'), false, 'not judged before 4 attempts');
  fail();
  assert.equal(b.isDemoted('a', null), true);
  assert.equal(b.isDemoted('a', 'sip:gw2'), true, 'the whole carrier');
  // Carrier and gateway each logged once, not again for further failures.
  fail();
  fail();
  assert.deepEqual(
    lines.map(([m]) => m),
    ['carrier demoted', 'gateway demoted'],
  );
  assert.equal(lines[0]![1]['why'], 'ASR 0% below 50%');
  assert.equal(lines[0]![1]['until'], new Date(1_000_000 + 60_000).toISOString());
  const snap = b.snapshot();
  assert.equal(snap.carriers[0]!.demotedUntil, 1_060_000);
  assert.equal(snap.gateways[0]!.gateway, 'sip:gw1');
  clock.t += 59_999;
  assert.equal(b.isDemoted('a', null), true);
  clock.t += 1;
  b.sweep();
  assert.equal(b.isDemoted('a', 'sip:gw1'), false);
  assert.deepEqual(
    lines.slice(2).map(([m]) => m),
    ['carrier demotion ended', 'gateway demotion ended'],
  );
  // Judged on the attempts after the cool-down only: 3 answered then 1 failure is 75% (kept).
  for (let i = 0; i < 3; i++) b.record({ carrier: 'a', gateway: 'sip:gw1', status: 200, pddMs: 50, durationMs: 1000 });
  fail();
  assert.equal(b.isDemoted('a', null), false);
  // The figures shown are the whole window's (6 failures + 3 answers + 1 failure).
  assert.equal(b.snapshot().carriers[0]!.attempts, 10);
  assert.equal(b.snapshot().carriers[0]!.asr, 30);
});

test('thresholds: NER, PDD, MOS; 0 leaves a figure unjudged; the age limit drops old attempts', () => {
  const { b } = board({ ...DEFAULT_QUALITY, minCalls: 2, maxPdd: 1000, windowMinutes: 1 });
  b.record({ carrier: 'slow', gateway: 'g', status: 200, pddMs: 1500 });
  b.record({ carrier: 'slow', gateway: 'g', status: 200, pddMs: 1700 });
  assert.equal(b.snapshot().carriers[0]!.demotedFor, 'PDD 1600 ms above 1000 ms');
  const n = board({ ...DEFAULT_QUALITY, minCalls: 2, minNer: 90, minMos: 3.5, windowMinutes: 1 });
  // 486 and 487 are the user's: NER 100%, ASR 0% (not judged): kept.
  n.b.record({ carrier: 'busy', gateway: 'g', status: 486 });
  n.b.record({ carrier: 'busy', gateway: 'g', status: 487 });
  assert.equal(n.b.isDemoted('busy', null), false);
  n.b.record({ carrier: 'poor', gateway: 'g', status: 200, mos: 3.1 });
  n.b.record({ carrier: 'poor', gateway: 'g', status: 200, mos: 3.3 });
  assert.equal(n.b.isDemoted('poor', null), true);
  // A minute later the window is empty.
  n.clock.t += 61_000;
  assert.equal(n.b.snapshot().carriers.find((c) => c.carrier === 'busy')!.attempts, 0);
});

test('explain: a demoted carrier placed last with its figures and until when; others keep their order', () => {
  const { b } = board();
  const carrier = (name: string): Carrier => ({
    name,
    gateways: [`sip:${name}`],
    username: null,
    password: null,
    register: false,
    prefix: null,
    plus: true,
    media: 'any',
    codecs: [],
    dialPlan: null,
    createdAt: 0,
  });
  for (let i = 0; i < 4; i++) b.record({ carrier: 'a', gateway: 'sip:a', status: 503 });
  b.record({ carrier: 'b', gateway: 'sip:b', status: 200, pddMs: 120, durationMs: 4000 });
  const order = orderRoute(
    { prefix: '+', mode: 'priority', carriers: ['a', 'b', 'c'].map(carrier), weights: null },
    null,
  );
  const placed = orderWithQuality(order, b.snapshot(), 1_000_000);
  assert.deepEqual(
    placed.map((p) => p.carrier.name),
    ['b', 'c', 'a'],
  );
  assert.match(
    placed[2]!.why,
    /^number 1 of the route's list \(mode priority\); demoted until .* \(ASR 0% below 50%\)/,
  );
  assert.deepEqual(placed[0]!.quality, {
    attempts: 1,
    asr: 100,
    ner: 100,
    acd: 4,
    pdd: 120,
    mos: null,
    demotedUntil: null,
    demotedFor: null,
  });
  assert.equal(placed[1]!.quality, null);
  assert.equal(placed[2]!.demotedGateways[0]!.gateway, 'sip:a');
  // Without figures (no server running): the route's own order.
  assert.deepEqual(
    orderWithQuality(order, null, 0).map((p) => p.carrier.name),
    ['a', 'b', 'c'],
  );
});

test('sweep schedule: none with nothing seen; a history point a minute; a demotion ends on time; woken by a first carrier and a demotion', () => {
  const { b, clock } = board();
  let wakes = 0;
  b.onWake(() => wakes++);
  assert.equal(b.nextSweepAt(), null, 'nothing seen: no timer needed');
  b.record({ carrier: 'a', gateway: 'sip:gw1', status: 200, pddMs: 50, durationMs: 1000 });
  assert.equal(wakes, 1, 'the first carrier wakes the sweep');
  assert.ok(b.nextSweepAt()! <= clock.t, 'the first history point is due at once');
  b.sweep();
  assert.equal(b.nextSweepAt(), clock.t + 60_000, 'then one a minute');
  for (let i = 0; i < 4; i++) b.record({ carrier: 'a', gateway: 'sip:gw1', status: 503, pddMs: null });
  assert.ok(b.isDemoted('a', null));
  assert.ok(wakes >= 2, 'a demotion wakes the sweep');
  clock.t += 30_000;
  b.record({ carrier: 'a', gateway: 'sip:gw1', status: 503, pddMs: null });
  assert.equal(b.nextSweepAt(), clock.t - 30_000 + 60_000, 'the next point (the cool-down ends at the same time)');
  b.retain(new Map());
  assert.equal(b.nextSweepAt(), null, 'carriers all removed: no timer again');
});
