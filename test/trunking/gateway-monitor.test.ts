import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayMonitor, type PingResult } from '../../src/trunking/gateway-monitor.js';

function monitorWith(results: PingResult[]): { m: GatewayMonitor; changes: Array<[string, boolean]> } {
  const changes: Array<[string, boolean]> = [];
  let i = 0;
  const m = new GatewayMonitor({
    intervalMs: 1000,
    downAfter: 3,
    upAfter: 2,
    gateways: () => ['sip:gw1'],
    ping: (_uri, done) => done(results[i++] ?? 'ok'),
    onChange: (uri, up) => changes.push([uri, up]),
  });
  return { m, changes };
}

test('gateway monitor: down only after 3 failures in a row, up only after 2 good answers in a row', () => {
  const { m, changes } = monitorWith(['fail', 'fail', 'ok', 'fail', 'fail', 'fail', 'ok', 'fail', 'ok', 'ok']);
  const seen: boolean[] = [];
  for (let r = 0; r < 10; r++) {
    m.round();
    seen.push(m.isUp('sip:gw1'));
  }
  // fail fail ok: still up; fail fail fail: down at round 6; ok fail: still down; ok ok: up at round 10.
  assert.deepEqual(seen, [true, true, true, true, true, false, false, false, false, true]);
  assert.deepEqual(changes, [
    ['sip:gw1', false],
    ['sip:gw1', true],
  ]);
});

test('gateway monitor: a ping still in flight is not sent again; removed gateways are forgotten', () => {
  let sent = 0;
  let gws = ['sip:a', 'sip:b'];
  const m = new GatewayMonitor({ intervalMs: 1000, downAfter: 1, upAfter: 1, gateways: () => gws, ping: () => void sent++ });
  m.round();
  m.round();
  assert.equal(sent, 2);
  gws = ['sip:a'];
  m.round();
  assert.deepEqual(m.list().map((s) => s.uri), ['sip:a']);
  assert.equal(m.isUp('sip:unknown'), true);
});
