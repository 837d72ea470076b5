/**
 * The trace ring buffer (capture/trace.ts) and the ladder (capture/ladder.ts)
 * on messages built here: the caller's INVITE parked until its call claims
 * it, a leg of ours claimed through the resolver, the oldest call evicted
 * past the size, traces off at 0, messages of other Call-IDs ignored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallTraces } from '../../src/capture/trace.js';
import { renderLadder } from '../../src/capture/ladder.js';
import type { Flow } from '../../src/transport/types.js';

const flow = (remoteHost: string, remotePort: number): Flow => ({
  proto: 'udp',
  localHost: '127.0.0.1',
  localPort: 5060,
  remoteHost,
  remotePort,
  connectionId: null,
});

function msg(first: string, callId: string, method: string, fromTag = 'x'): Buffer {
  return Buffer.from(
    `${first}\r\nVia: SIP/2.0/UDP 127.0.0.9;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=${fromTag}\r\nTo: <sip:c@d>\r\nCall-ID: ${callId}\r\nCSeq: 1 ${method}\r\nContent-Length: 0\r\n\r\n`,
  );
}

test('traces: parked INVITE claimed by correlate, our leg claimed by the resolver, both under the sid, ladder drawn', () => {
  const t = new CallTraces(2);
  const correlated: string[] = [];
  t.onCorrelate = (c, sid) => correlated.push(`${c}=${sid}`);
  t.setResolver((callId, tag) => (callId === 'b-1' && tag === 'ours' ? { callSid: 'CA1', side: 'b' } : null));
  t.tap('in', msg('INVITE sip:+4930@127.0.0.1 SIP/2.0', 'a-1', 'INVITE'), flow('127.0.0.5', 5080));
  t.tap('out', msg('SIP/2.0 100 Trying', 'a-1', 'INVITE'), flow('127.0.0.5', 5080));
  t.tap('in', msg('OPTIONS sip:x SIP/2.0', 'other', 'OPTIONS'), flow('127.0.0.9', 1));
  assert.equal(t.trace('CA1'), null);
  t.correlate('a-1', 'CA1', 'a');
  t.tap('out', msg('INVITE sip:+4930@127.0.0.2:5070 SIP/2.0', 'b-1', 'INVITE', 'ours'), flow('127.0.0.2', 5070));
  t.tap('in', msg('SIP/2.0 200 OK', 'b-1', 'INVITE', 'ours'), flow('127.0.0.2', 5070));
  t.tap('out', msg('SIP/2.0 200 OK', 'a-1', 'INVITE'), flow('127.0.0.5', 5080));
  const m = t.trace('CA1')!;
  assert.deepEqual(
    m.map((x) => [x.leg, x.direction, x.firstLine]),
    [
      ['a', 'in', 'INVITE sip:+4930@127.0.0.1 SIP/2.0'],
      ['a', 'out', 'SIP/2.0 100 Trying'],
      ['b', 'out', 'INVITE sip:+4930@127.0.0.2:5070 SIP/2.0'],
      ['b', 'in', 'SIP/2.0 200 OK'],
      ['a', 'out', 'SIP/2.0 200 OK'],
    ],
  );
  assert.deepEqual(
    [m[0]!.src, m[0]!.dst, m[2]!.src, m[2]!.dst],
    ['127.0.0.5:5080', '127.0.0.1:5060', '127.0.0.1:5060', '127.0.0.2:5070'],
  );
  assert.deepEqual(correlated, ['a-1=CA1', 'b-1=CA1']);
  const ladder = renderLadder(m).split('\n');
  assert.ok(
    ladder[0]!.includes('127.0.0.5:5080') &&
      ladder[0]!.indexOf('127.0.0.1:5060') > ladder[0]!.indexOf('127.0.0.5:5080') &&
      ladder[0]!.indexOf('127.0.0.2:5070') > ladder[0]!.indexOf('127.0.0.1:5060'),
  );
  assert.match(ladder[2]!, /INVITE sip:\+4930@127\.0\.0\.1/);
  assert.match(ladder[3]!, /^leg a udp\s+│─+>│/);
  assert.match(ladder[5]!, /^leg a udp\s+│<─+│/);

  // Ring of 2: a third call evicts the first; its Call-IDs are forgotten.
  t.correlate('c-2', 'CA2', 'a');
  t.correlate('c-3', 'CA3', 'a');
  assert.equal(t.trace('CA1'), null);
  assert.deepEqual(t.sids(), ['CA2', 'CA3']);
  t.tap('in', msg('BYE sip:x SIP/2.0', 'a-1', 'BYE'), flow('127.0.0.5', 5080));
  assert.equal(t.trace('CA1'), null);
  // Off: nothing kept.
  t.configure(0);
  assert.equal(t.size, 0);
  t.correlate('c-4', 'CA4', 'a');
  assert.equal(t.trace('CA4'), null);
});

test('traces: a dialog the proxy relays (our INVITE with the Call-ID that came in, no call owns it) is not kept', () => {
  const t = new CallTraces(2);
  t.setResolver(() => null);
  t.tap('in', msg('INVITE sip:svc@127.0.0.1 SIP/2.0', 'p-1', 'INVITE'), flow('127.0.0.5', 5080));
  t.tap('out', msg('INVITE sip:svc@127.0.0.2 SIP/2.0', 'p-1', 'INVITE'), flow('127.0.0.2', 5070));
  t.tap('in', msg('SIP/2.0 200 OK', 'p-1', 'INVITE'), flow('127.0.0.2', 5070));
  t.tap('out', msg('SIP/2.0 200 OK', 'p-1', 'INVITE'), flow('127.0.0.5', 5080));
  // Nothing of it waits for a call any more: a late claim finds no message.
  t.correlate('p-1', 'CA9', 'a');
  assert.deepEqual(t.trace('CA9'), []);
  // Without a resolver (no B2BUA) the same holds; a B2BUA call's INVITE still waits for its claim.
  const u = new CallTraces(2);
  u.tap('in', msg('INVITE sip:svc@127.0.0.1 SIP/2.0', 'p-2', 'INVITE'), flow('127.0.0.5', 5080));
  u.tap('out', msg('INVITE sip:svc@127.0.0.2 SIP/2.0', 'p-2', 'INVITE'), flow('127.0.0.2', 5070));
  u.tap('in', msg('INVITE sip:+4930@127.0.0.1 SIP/2.0', 'a-2', 'INVITE'), flow('127.0.0.5', 5080));
  u.tap('out', msg('INVITE sip:+4930@127.0.0.2 SIP/2.0', 'b-2', 'INVITE'), flow('127.0.0.2', 5070));
  u.correlate('p-2', 'CA2', 'a');
  assert.deepEqual(u.trace('CA2'), []);
  u.correlate('a-2', 'CA3', 'a');
  assert.equal(u.trace('CA3')!.length, 1);
});
