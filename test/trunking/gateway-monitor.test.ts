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

test('gateway monitor: once known, down only after 3 failures in a row, up only after 2 good answers in a row', () => {
  const { m, changes } = monitorWith(['ok', 'fail', 'fail', 'ok', 'fail', 'fail', 'fail', 'ok', 'fail', 'ok', 'ok']);
  const seen: boolean[] = [];
  for (let r = 0; r < 11; r++) {
    m.round();
    seen.push(m.isUp('sip:gw1'));
  }
  // ok: up at once; fail fail ok: still up; fail fail fail: down at round 7; ok fail: still down; ok ok: up at round 11.
  assert.deepEqual(seen, [true, true, true, true, true, true, false, false, false, false, true]);
  assert.deepEqual(changes, [
    ['sip:gw1', true],
    ['sip:gw1', false],
    ['sip:gw1', true],
  ]);
});

test('gateway monitor: a gateway starts unknown (usable), and its first answer decides: one failed ping and it is down', () => {
  const pending: Array<(r: PingResult) => void> = [];
  const changes: Array<[string, boolean]> = [];
  const m = new GatewayMonitor({
    intervalMs: 60_000,
    downAfter: 3,
    upAfter: 2,
    gateways: () => ['sip:dead', 'sip:live'],
    ping: (_u, done) => void pending.push(done),
    onChange: (u, up) => changes.push([u, up]),
  });
  m.start();
  m.stop();
  // start() pinged both at once; nothing answered yet.
  assert.equal(pending.length, 2);
  assert.deepEqual([m.health('sip:dead'), m.health('sip:live')], ['unknown', 'unknown']);
  assert.equal(m.isUp('sip:dead'), true, 'unknown gateways are tried');
  pending[0]!('fail');
  pending[1]!('ok');
  assert.deepEqual([m.health('sip:dead'), m.health('sip:live')], ['down', 'up']);
  assert.equal(m.isUp('sip:dead'), false);
  assert.deepEqual(changes, [
    ['sip:dead', false],
    ['sip:live', true],
  ]);
  assert.deepEqual(
    m.list().map((s) => [s.uri, s.state, s.lastResult]),
    [
      ['sip:dead', 'down', 'fail'],
      ['sip:live', 'up', 'ok'],
    ],
  );
});

test('gateway monitor: sync() pings only the gateways it has not seen (a carrier added live), at once', () => {
  let gws = ['sip:a'];
  const sent: string[] = [];
  const m = new GatewayMonitor({
    intervalMs: 60_000,
    downAfter: 1,
    upAfter: 1,
    gateways: () => gws,
    ping: (u, done) => {
      sent.push(u);
      done('ok');
    },
  });
  m.round();
  gws = ['sip:a', 'sip:b'];
  m.sync();
  assert.deepEqual(sent, ['sip:a', 'sip:b']);
  assert.equal(m.health('sip:b'), 'up');
});

test('gateway monitor: a ping still in flight is not sent again; removed gateways are forgotten', () => {
  let sent = 0;
  let gws = ['sip:a', 'sip:b'];
  const m = new GatewayMonitor({
    intervalMs: 1000,
    downAfter: 1,
    upAfter: 1,
    gateways: () => gws,
    ping: () => void sent++,
  });
  m.round();
  m.round();
  assert.equal(sent, 2);
  gws = ['sip:a'];
  m.round();
  assert.deepEqual(
    m.list().map((s) => s.uri),
    ['sip:a'],
  );
  assert.equal(m.isUp('sip:unknown'), true);
  assert.equal(m.health('sip:unknown'), 'unknown');
});
