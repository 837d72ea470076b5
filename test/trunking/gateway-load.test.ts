/**
 * A carrier's gateways by priority group and weight, and capacities
 * (src/trunking/gateway-load.ts), without a network.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayLoad, type CarrierSetting } from '../../src/trunking/gateway-load.js';

const GWS = ['sip:a', 'sip:b', 'sip:c', 'sip:d'];

function setting(over: Partial<CarrierSetting> = {}): CarrierSetting {
  return {
    carrier: 'up',
    maxCalls: null,
    balance: 'weighted',
    gateways: [
      { uri: 'sip:b', priority: 1, weight: 3, maxCalls: null },
      { uri: 'sip:a', priority: 1, weight: 1, maxCalls: null },
      { uri: 'sip:c', priority: 2, weight: 1, maxCalls: null },
    ],
    ...over,
  };
}

test('weighted: 3:1 exactly over every 4 calls of 1000; the second priority group after; unlisted gateways last', () => {
  const load = new GatewayLoad([setting()]);
  const first = new Map<string, number>();
  for (let i = 0; i < 1000; i++) {
    const o = load.order('up', GWS, `call-${i}`);
    first.set(o[0]!, (first.get(o[0]!) ?? 0) + 1);
    assert.deepEqual(o.slice(2), ['sip:c', 'sip:d']);
    assert.deepEqual([...o.slice(0, 2)].sort(), ['sip:a', 'sip:b']);
  }
  assert.deepEqual(Object.fromEntries(first), { 'sip:b': 750, 'sip:a': 250 });
  // Smooth: never the light one twice in a row, the heavy one at most 3 times.
  const seq = Array.from({ length: 8 }, (_, i) => load.order('up', GWS, `x${i}`)[0]);
  assert.ok(!seq.join(' ').includes('sip:a sip:a'), seq.join(' '));
  // A carrier without an entry: its list order.
  assert.deepEqual(load.order('other', GWS, 'c'), GWS);
});

test('hash: the same Call-ID the same gateway; Call-IDs spread by weight', () => {
  const load = new GatewayLoad([setting({ balance: 'hash' })]);
  assert.deepEqual(load.order('up', GWS, 'abc@host'), load.order('up', GWS, 'abc@host'));
  let b = 0;
  for (let i = 0; i < 4000; i++) if (load.order('up', GWS, `${i}@h`)[0] === 'sip:b') b++;
  assert.ok(Math.abs(b / 4000 - 0.75) < 0.03, `sip:b first for ${b} of 4000`);
});

test('capacity: per gateway and per carrier; released once; a reload keeps the calls up', () => {
  const s = setting({ maxCalls: 3 });
  s.gateways[0]!.maxCalls = 2;
  const load = new GatewayLoad([s]);
  const r1 = load.tryAcquire('up', 'sip:b')!;
  const r2 = load.tryAcquire('up', 'sip:b')!;
  assert.equal(load.tryAcquire('up', 'sip:b'), null, 'sip:b full at 2');
  const r3 = load.tryAcquire('up', 'sip:a')!;
  assert.equal(load.tryAcquire('up', 'sip:c'), null, 'the carrier full at 3');
  assert.deepEqual([load.calls('up'), load.calls('up', 'sip:b')], [3, 2]);
  r1();
  r1();
  assert.deepEqual([load.calls('up'), load.calls('up', 'sip:b')], [2, 1], 'a release counts once');
  load.update([]);
  assert.equal(load.calls('up'), 2);
  assert.notEqual(load.tryAcquire('up', 'sip:b'), null, 'no limit any more');
  r2();
  r3();
  assert.equal(load.calls('other'), 0);
});
