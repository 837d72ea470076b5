/**
 * RFC 4028 session timers per leg through the B2bua's public API over the
 * real transaction layer, no sockets (call-kit.ts; the SIPp tests at 90 s
 * are in session-timer-calls.test.ts): a 422 from the callee, each leg's
 * own headers on relayed re-INVITEs, a peer's refresh answered on its own
 * leg, a 491 to our refresh, and session timers off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createResponse } from '../../src/sip/response.js';
import type { SipMessage } from '../../src/sip/message.js';
import { SessionTimerPolicy } from '../../src/b2bua/timer-policy.js';
import { sleep, waitFor } from '../helpers/wait.js';
import {
  CALLER_HOST,
  GW1,
  SDP_ANSWER,
  SDP_OFFER,
  answer,
  callKit,
  callerInvite,
  fromCallerInDialog,
  fromGatewayInDialog,
  isRequest,
  isResponse,
  sdp,
  sentMatching,
  type CallKit,
} from './call-kit.js';

function policy(interval = 1800, minSE = 90, enabled = true): SessionTimerPolicy {
  return new SessionTimerPolicy({ enabled, interval, minSE, overrides: [] });
}

function withHeaders<T extends SipMessage>(m: T, headers: Array<[string, string]>): T {
  for (const [n, v] of headers) m.appendHeader(n, v);
  return m;
}

/** A call answered by gateway 1 (its 200 with `gwHeaders`) and ACKed by the caller (its INVITE with `callerHeaders`). */
async function answeredCall(
  ck: CallKit,
  callerHeaders: Array<[string, string]>,
  gwHeaders: Array<[string, string]> = [],
) {
  const { invite, dialog } = callerInvite();
  ck.fromCaller(withHeaders(invite, callerHeaders));
  const inv = await sentMatching(ck, GW1, 'INVITE', isRequest('INVITE'));
  ck.fromGateway(GW1, withHeaders(answer(inv, 200, 'gw1', SDP_ANSWER), gwHeaders));
  const ok = await sentMatching(ck, CALLER_HOST, '200', isResponse(200));
  ck.fromCaller(fromCallerInDialog(dialog, ok, 'ACK', 1));
  return { dialog, inv, ok };
}

test('a 422 from the callee: the INVITE again with the interval raised to its Min-SE (RFC 4028 7.3)', async (t) => {
  const ck = await callKit({ sessionTimers: policy() });
  t.after(() => ck.close());
  ck.fromCaller(callerInvite().invite);
  const inv1 = await sentMatching(ck, GW1, 'INVITE', isRequest('INVITE'));
  assert.equal(inv1.get('Session-Expires'), '1800', 'ours, no refresher: the callee may choose');
  assert.equal(inv1.get('Min-SE'), '90');
  assert.ok(inv1.optionTags('Supported').includes('timer'));
  ck.fromGateway(GW1, createResponse(inv1, 422, { toTag: 'gw1', headers: [['Min-SE', '3600']] }));
  const inv2 = await sentMatching(ck, GW1, 'INVITE again', isRequest('INVITE'), 1);
  assert.equal(inv2.get('Session-Expires'), '3600');
  assert.equal(inv2.get('Min-SE'), '3600');
  assert.equal(inv2.callId, inv1.callId, 'the same dialog attempt');
  assert.equal(inv2.cseq.seq, inv1.cseq.seq + 1);
  assert.equal(inv2.body.toString(), SDP_OFFER);
  ck.fromGateway(GW1, withHeaders(answer(inv2, 200, 'gw1', SDP_ANSWER), [['Session-Expires', '3600;refresher=uas']]));
  const ok = await sentMatching(ck, CALLER_HOST, '200', isResponse(200));
  // The caller sent no timer headers: its leg is ours to refresh, at our interval (RFC 4028 9).
  assert.equal(ok.get('Session-Expires'), '1800;refresher=uas');
  assert.equal(ok.has('Require'), false);
  assert.deepEqual(ck.trace(GW1), ['INVITE', 'ACK', 'INVITE', 'ACK']);
  assert.deepEqual(ck.trace(CALLER_HOST), ['200 INVITE'], 'the caller never sees the 422');
  assert.equal(ck.counters.get('b2bua_session_422_retries'), 1);
});

test('a Session-Expires that does not read: 400 naming it, no leg tried', async (t) => {
  const ck = await callKit({ sessionTimers: policy() });
  t.after(() => ck.close());
  ck.fromCaller(withHeaders(callerInvite().invite, [['Session-Expires', 'soon']]));
  const bad = await sentMatching(ck, CALLER_HOST, '400', isResponse(400));
  assert.equal(bad.reason, 'Bad Session-Expires');
  await sleep(50);
  assert.deepEqual(ck.trace(GW1), []);
  const cdrs = await ck.cdrs();
  assert.equal(cdrs[0]?.status, 400);
});

test('each leg its own: a relayed re-INVITE carries the far leg headers; a refresh is answered on its own leg', async (t) => {
  const ck = await callKit({ sessionTimers: policy() });
  t.after(() => ck.close());
  const { dialog, inv, ok } = await answeredCall(ck, [
    ['Supported', 'timer'],
    ['Session-Expires', '3600;refresher=uac'],
  ]);
  // RFC 4028 9: lowered to our 1800, the caller refreshes as it offered to.
  assert.equal(ok.get('Session-Expires'), '1800;refresher=uac');
  assert.equal(ok.get('Require'), 'timer');

  // A hold from the caller (new SDP version): relayed, with the callee leg's own timer headers.
  const hold = sdp(CALLER_HOST, 40000).replace('o=- 1 1', 'o=- 1 2').replace('t=0 0', 't=0 0\r\na=sendonly');
  ck.fromCaller(
    withHeaders(fromCallerInDialog(dialog, ok, 'INVITE', 2, hold), [
      ['Supported', 'timer'],
      ['Session-Expires', '3000;refresher=uac'],
    ]),
  );
  const reinv = await sentMatching(ck, GW1, 're-INVITE', isRequest('INVITE'), 1);
  assert.equal(reinv.body.toString(), hold);
  // The callee's 200 had no Session-Expires: its leg is ours to refresh, at the interval we asked.
  assert.equal(reinv.get('Session-Expires'), '1800;refresher=uac', "the callee leg's, not the caller's 3000");
  assert.equal(reinv.get('Min-SE'), '90');
  ck.fromGateway(GW1, answer(reinv, 200, 'gw1', SDP_ANSWER));
  const ok2 = await sentMatching(
    ck,
    CALLER_HOST,
    '200 to the re-INVITE',
    (m) => isResponse(200)(m) && m.cseq.seq === 2,
  );
  assert.equal(ok2.get('Session-Expires'), '1800;refresher=uac');
  assert.equal(ok2.get('Require'), 'timer');
  ck.fromCaller(fromCallerInDialog(dialog, ok, 'ACK', 2));

  // The gateway refreshes with its SDP unchanged: answered here, with the SDP it last got from us (the hold).
  const before = ck.trace(CALLER_HOST).length;
  ck.fromGateway(
    GW1,
    withHeaders(fromGatewayInDialog(inv, GW1, 'gw1', 'INVITE', 1, SDP_ANSWER), [
      ['Supported', 'timer'],
      ['Session-Expires', '1800;refresher=uac'],
    ]),
  );
  const local = await sentMatching(ck, GW1, '200 to its refresh', (m) => isResponse(200)(m) && m.cseq.seq === 1);
  assert.equal(local.body.toString(), hold, 'our SDP of that leg, unchanged');
  assert.equal(local.get('Session-Expires'), '1800;refresher=uac');
  assert.equal(local.get('Require'), 'timer');
  ck.fromGateway(GW1, fromGatewayInDialog(inv, GW1, 'gw1', 'ACK', 1));
  // An UPDATE without SDP: answered here too.
  ck.fromGateway(GW1, fromGatewayInDialog(inv, GW1, 'gw1', 'UPDATE', 2));
  const upd = await sentMatching(ck, GW1, '200 to its UPDATE', isResponse(200, 'UPDATE'));
  assert.equal(upd.body.length, 0);
  assert.equal(upd.get('Session-Expires'), '1800;refresher=uas', 'no timer support in its UPDATE: we refresh');
  await sleep(50);
  assert.equal(ck.trace(CALLER_HOST).length, before, 'the caller sees none of the callee leg refreshes');
  assert.equal(ck.counters.get('b2bua_session_refreshes_answered'), 2);

  // New SDP from the gateway: relayed to the caller as before.
  ck.fromGateway(GW1, fromGatewayInDialog(inv, GW1, 'gw1', 'INVITE', 3, SDP_ANSWER.replace('o=- 1 1', 'o=- 1 2')));
  const toCaller = await sentMatching(ck, CALLER_HOST, "the gateway's re-INVITE", isRequest('INVITE'));
  assert.equal(toCaller.get('Session-Expires'), '1800;refresher=uas', "the caller leg's: the caller refreshes");
});

test('our refresh answered 491 is sent again after the RFC 3261 14.1 wait, then re-armed (short interval)', async (t) => {
  // 15 s: refresh at 7.5 s, expiry at 10 s (a test of the machinery; the config refuses less than 90).
  const ck = await callKit({ sessionTimers: policy(15, 15) });
  t.after(() => ck.close());
  const { dialog, ok } = await answeredCall(ck, []);
  assert.equal(ok.get('Session-Expires'), '15;refresher=uas');
  const r1 = await waitFor(() => ck.sentTo(CALLER_HOST).find((s) => isRequest('INVITE')(s.msg))?.msg, {
    timeoutMs: 10_000,
    what: 'our refresh toward the caller',
  });
  assert.equal(r1.get('Session-Expires'), '15;refresher=uac');
  assert.equal(r1.body.toString(), SDP_ANSWER, 'the SDP the caller got in the 200, unchanged');
  assert.equal(r1.toTag, dialog.fromTag);
  // The callee leg is ours to refresh too (its 200 had no Session-Expires): it answers at once.
  const g1 = await sentMatching(ck, GW1, 'our refresh toward the gateway', isRequest('INVITE'), 1);
  assert.equal(g1.get('Session-Expires'), '15;refresher=uac');
  ck.fromGateway(GW1, answer(g1, 200, 'gw1', SDP_ANSWER));
  ck.fromCaller(answer(r1, 491, dialog.fromTag));
  const r2 = await waitFor(
    () => ck.sentTo(CALLER_HOST).find((s) => isRequest('INVITE')(s.msg) && s.msg.cseq.seq > r1.cseq.seq)?.msg,
    { timeoutMs: 3000, what: 'the refresh sent again (0-2 s: the caller chose the Call-ID)' },
  );
  ck.fromCaller(answer(r2, 200, dialog.fromTag, SDP_OFFER));
  await waitFor(() => ck.sentTo(CALLER_HOST).find((s) => isRequest('ACK')(s.msg) && s.msg.cseq.seq === r2.cseq.seq), {
    timeoutMs: 2000,
    what: 'the ACK of the refresh',
  });
  // Re-armed: the call outlives the first expiry (10 s after the answer).
  await sleep(3000);
  assert.deepEqual(
    ck.b2bua.liveCalls().map((c) => c.state),
    ['confirmed'],
  );
  assert.equal(ck.counters.get('b2bua_session_timer_expired'), 0);
  assert.ok(ck.counters.get('b2bua_session_refreshes_ok') >= 1);
});

test('session timers off: Session-Expires crosses as before, nothing refreshes', async (t) => {
  const ck = await callKit({ sessionTimers: policy(1800, 90, false) });
  t.after(() => ck.close());
  const { ok } = await answeredCall(
    ck,
    [
      ['Supported', 'timer'],
      ['Session-Expires', '600;refresher=uac'],
    ],
    [['Session-Expires', '600;refresher=uac']],
  );
  const inv = await sentMatching(ck, GW1, 'INVITE', isRequest('INVITE'));
  assert.equal(inv.get('Session-Expires'), '600;refresher=uac', "the caller's, copied");
  assert.equal(inv.has('Min-SE'), false);
  assert.equal(ok.get('Session-Expires'), '600;refresher=uac', "the callee's, copied");
});
