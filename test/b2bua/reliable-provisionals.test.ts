/**
 * Reliable provisionals (RFC 3262) and UPDATE before the answer (RFC 3311)
 * through the B2bua's public API over the real transaction layer, with no
 * sockets (call-kit.ts, T1 50 ms): what SIPp cannot easily make happen
 * (a PRACK that never comes, a wrong RAck, a retransmitted or out-of-order
 * RSeq, a late offer, an UPDATE too early), checked on both legs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, waitFor } from '../helpers/wait.js';
import type { SipMessage } from '../../src/sip/message.js';
import {
  CALLER_HOST,
  GW1,
  SDP_ANSWER,
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

/** The caller's INVITE with extra header lines (Supported, Require, Allow...). */
function inviteWith(headers: Array<[string, string]>, body: string | null = sdp(CALLER_HOST, 40000)) {
  const c = callerInvite(body);
  for (const [n, v] of headers) c.invite.appendHeader(n, v);
  return c;
}

/** A gateway's provisional sent reliably (RFC 3262 7.1). */
function reliable(inv: SipMessage, status: number, rseq: number, body?: string): SipMessage {
  const r = answer(inv, status, 'gw1', body);
  r.appendHeader('Require', '100rel');
  r.appendHeader('RSeq', String(rseq));
  return r;
}

function prackOf(c: ReturnType<typeof callerInvite>, prov: SipMessage, cseq: number, rack: string): SipMessage {
  const p = fromCallerInDialog(c.dialog, prov, 'PRACK', cseq);
  p.appendHeader('RAck', rack);
  return p;
}

async function started(ck: CallKit, headers: Array<[string, string]>, body?: string | null) {
  const c = inviteWith(headers, body);
  ck.fromCaller(c.invite);
  const inv = await sentMatching(ck, GW1, 'INVITE', isRequest('INVITE'));
  return { c, inv };
}

test('Require: 100rel is taken (no 420), Require: precondition still gets 420; 100rel is offered toward the callee', async (t) => {
  const ck = await callKit();
  t.after(() => ck.close());
  const { inv } = await started(ck, [
    ['Require', '100rel'],
    ['Supported', 'timer'],
  ]);
  assert.deepEqual(inv.optionTags('Supported'), ['timer', '100rel'], "our own 100rel, not the caller's Require");
  assert.deepEqual(inv.optionTags('Require'), []);

  const pre = inviteWith([['Require', 'precondition, 100rel']]);
  ck.fromCaller(pre.invite);
  const bad = await sentMatching(ck, CALLER_HOST, '420', isResponse(420));
  assert.equal(bad.get('Unsupported'), 'precondition');

  const late = inviteWith([], null);
  ck.fromCaller(late.invite);
  const inv2 = await sentMatching(ck, GW1, 'INVITE of the late offer', isRequest('INVITE'), 1);
  assert.deepEqual(
    inv2.optionTags('Supported'),
    [],
    'a late offer from a caller without 100rel: none toward the callee',
  );
});

test("a late offer with 100rel: the callee's offer in a reliable 183 reaches the caller reliably, its answer comes back in our PRACK", async (t) => {
  const ck = await callKit();
  t.after(() => ck.close());
  const { c, inv } = await started(ck, [['Supported', '100rel']], null);
  assert.deepEqual(inv.optionTags('Supported'), ['100rel'], 'the callee may offer reliably');
  ck.fromGateway(GW1, reliable(inv, 183, 7, SDP_ANSWER));
  const r183 = await sentMatching(ck, CALLER_HOST, '183', isResponse(183));
  assert.deepEqual(r183.optionTags('Require'), ['100rel']);
  assert.equal(r183.body.toString(), SDP_ANSWER, "the callee's offer, for the caller to answer in its PRACK");
  await sleep(150);
  assert.ok(!ck.trace(GW1).includes('PRACK'), 'no PRACK toward the callee before the answer');
  const answerSdp = sdp(CALLER_HOST, 40000);
  const prack = prackOf(c, r183, 2, `${r183.get('RSeq')} 1 INVITE`);
  prack.setBody(Buffer.from(answerSdp), 'application/sdp');
  ck.fromCaller(prack);
  await sentMatching(ck, CALLER_HOST, '200 to PRACK', isResponse(200, 'PRACK'));
  const ours = await sentMatching(ck, GW1, 'PRACK', isRequest('PRACK'));
  assert.equal(ours.get('RAck'), '7 1 INVITE');
  assert.equal(ours.body.toString(), answerSdp, "the caller's answer, in our PRACK (RFC 3262 5)");
  ck.fromGateway(GW1, answer(ours, 200, 'gw1'));
  // RFC 6337 3.1.1: the offer/answer was done in the early dialog; the 2xx carries no SDP.
  ck.fromGateway(GW1, answer(inv, 200, 'gw1'));
  const ok = await sentMatching(ck, CALLER_HOST, '200', isResponse(200));
  assert.equal(ok.body.length, 0, 'offer and answer were done: none in the 2xx');
  ck.fromCaller(fromCallerInDialog(c.dialog, ok, 'ACK', 1));
  const ack = await sentMatching(ck, GW1, 'ACK', isRequest('ACK'));
  assert.equal(ack.body.length, 0);
  assert.deepEqual(ck.trace(GW1), ['INVITE', 'PRACK', 'ACK']);
});

test('an answer in a reliable 183 to a caller that supports 100rel: sent again until PRACKed, the 200 held until then', async (t) => {
  const ck = await callKit();
  t.after(() => ck.close());
  const { c, inv } = await started(ck, [['Supported', '100rel']]);
  // An unreliable 180 without SDP goes as before; the 183 with SDP goes reliably.
  ck.fromGateway(GW1, answer(inv, 180, 'gw1'));
  const r180 = await sentMatching(ck, CALLER_HOST, '180', isResponse(180));
  assert.equal(r180.get('RSeq'), undefined);
  ck.fromGateway(GW1, answer(inv, 183, 'gw1', SDP_ANSWER));
  const r183 = await sentMatching(ck, CALLER_HOST, '183', isResponse(183));
  assert.deepEqual(r183.optionTags('Require'), ['100rel']);
  const rseq = Number(r183.get('RSeq'));
  await sentMatching(ck, CALLER_HOST, '183 sent again', isResponse(183), 2);

  // The callee answers: the 200 waits for the PRACK of the 183 (RFC 3262 3).
  ck.fromGateway(GW1, answer(inv, 200, 'gw1', SDP_ANSWER));
  await sentMatching(ck, GW1, 'ACK', isRequest('ACK'));
  await sleep(150);
  assert.ok(!ck.trace(CALLER_HOST).includes('200 INVITE'), 'no 200 before the PRACK');

  // A PRACK naming another RSeq acknowledges nothing: 481.
  ck.fromCaller(prackOf(c, r183, 2, `${rseq + 1} 1 INVITE`));
  await sentMatching(ck, CALLER_HOST, '481 to PRACK', isResponse(481, 'PRACK'));
  ck.fromCaller(prackOf(c, r183, 3, `${rseq} 1 INVITE`));
  await sentMatching(ck, CALLER_HOST, '200 to PRACK', isResponse(200, 'PRACK'));
  const ok = await sentMatching(ck, CALLER_HOST, '200', isResponse(200));
  assert.equal(
    ok.body.toString(),
    SDP_ANSWER,
    "the callee's answer came unreliably: its 2xx's SDP repeated (RFC 6337 3.1.1)",
  );
  const sent = ck.sentTo(CALLER_HOST).filter((s) => isResponse(183)(s.msg)).length;
  await sleep(300);
  assert.equal(ck.sentTo(CALLER_HOST).filter((s) => isResponse(183)(s.msg)).length, sent, 'no 183 after its PRACK');
  assert.deepEqual(ck.trace(CALLER_HOST), ['180 INVITE', '183 INVITE', '481 PRACK', '200 PRACK', '200 INVITE']);
  ck.fromCaller(fromCallerInDialog(c.dialog, ok, 'ACK', 1));
});

test('no PRACK within 64*T1: the caller gets 500, the callee that answered meanwhile is hung up', async (t) => {
  const ck = await callKit();
  t.after(() => ck.close());
  const { inv } = await started(ck, [['Require', '100rel']]);
  ck.fromGateway(GW1, answer(inv, 183, 'gw1', SDP_ANSWER));
  await sentMatching(ck, CALLER_HOST, '183', isResponse(183));
  ck.fromGateway(GW1, answer(inv, 200, 'gw1', SDP_ANSWER));
  // 64*T1 = 3.2 s.
  const bye = await waitFor(() => ck.sentTo(GW1).find((s) => isRequest('BYE')(s.msg))?.msg, {
    timeoutMs: 6000,
    what: 'BYE toward the gateway',
  });
  ck.fromGateway(GW1, answer(bye, 200, 'gw1'));
  const fail = await sentMatching(ck, CALLER_HOST, '500', isResponse(500));
  assert.equal(fail.reason, 'No PRACK');
  assert.ok(!ck.trace(CALLER_HOST).includes('200 INVITE'));
  // Sent, then again after T1, 2T1 ... 32T1 (63*T1 in all); at 64*T1 it is over.
  assert.equal(ck.sentTo(CALLER_HOST).filter((s) => isResponse(183)(s.msg)).length, 7);
  const cdrs = await ck.cdrs();
  assert.deepEqual(
    cdrs.map((c) => [c.status, c.answerAt]),
    [[500, null]],
  );
  assert.equal(ck.counters.get('b2bua_prack_timeouts'), 1);
});

test("the callee's reliable provisionals are PRACKed once each; a retransmission or a gap in RSeq goes no further", async (t) => {
  const ck = await callKit();
  t.after(() => ck.close());
  const { inv } = await started(ck, []);
  ck.fromGateway(GW1, reliable(inv, 180, 77));
  const prack = await sentMatching(ck, GW1, 'PRACK', isRequest('PRACK'));
  assert.equal(prack.get('RAck'), `77 ${inv.cseq.seq} INVITE`);
  assert.equal(prack.toTag, 'gw1', 'in the early dialog of the 180');
  assert.equal(prack.cseq.seq, inv.cseq.seq + 1);
  assert.equal(prack.requestUri, `sip:gw@${GW1}:5060`, "to the 180's Contact");
  ck.fromGateway(GW1, answer(prack, 200, 'gw1'));
  ck.fromGateway(GW1, reliable(inv, 180, 77)); // sent again: already PRACKed
  ck.fromGateway(GW1, reliable(inv, 183, 79, SDP_ANSWER)); // RSeq 78 missing: not processed (RFC 3262 4)
  await sleep(100);
  assert.deepEqual(ck.trace(GW1), ['INVITE', 'PRACK'], 'one PRACK');
  assert.deepEqual(ck.trace(CALLER_HOST), ['180 INVITE'], 'the caller (no 100rel) got the 180 once, unreliably');
  ck.fromGateway(GW1, reliable(inv, 183, 78, SDP_ANSWER));
  const prack2 = await sentMatching(ck, GW1, 'second PRACK', isRequest('PRACK'), 1);
  assert.equal(prack2.get('RAck'), `78 ${inv.cseq.seq} INVITE`);
  assert.equal(prack2.cseq.seq, inv.cseq.seq + 2);
  ck.fromGateway(GW1, answer(prack2, 200, 'gw1'));
  await sentMatching(ck, CALLER_HOST, '183', isResponse(183));
  // The dialog goes on counting after the early requests (RFC 3261 12.2.1.1).
  ck.fromGateway(GW1, answer(inv, 200, 'gw1', SDP_ANSWER));
  const ok = await sentMatching(ck, CALLER_HOST, '200', isResponse(200));
  assert.equal(ok.body.toString(), SDP_ANSWER, 'the caller had no reliable answer: the 200 carries it');
  ck.b2bua.hangUpAll('test');
  const bye = await sentMatching(ck, GW1, 'BYE', isRequest('BYE'));
  assert.equal(bye.cseq.seq, inv.cseq.seq + 3);
});

test('UPDATE before the answer: refused 500 with Retry-After until both early offer/answers are done, or toward a caller without Allow: UPDATE', async (t) => {
  const ck = await callKit();
  t.after(() => ck.close());
  const { c, inv } = await started(ck, [['Supported', '100rel']]);
  ck.fromGateway(GW1, reliable(inv, 183, 5, SDP_ANSWER));
  const prack = await sentMatching(ck, GW1, 'PRACK', isRequest('PRACK'));
  ck.fromGateway(GW1, answer(prack, 200, 'gw1'));
  const r183 = await sentMatching(ck, CALLER_HOST, '183', isResponse(183));
  // The caller has not PRACKed our 183: its UPDATE is too early.
  ck.fromCaller(fromCallerInDialog(c.dialog, r183, 'UPDATE', 2, sdp(CALLER_HOST, 40010)));
  const early = await sentMatching(ck, CALLER_HOST, '500 to UPDATE', isResponse(500, 'UPDATE'));
  assert.ok(Number(early.get('Retry-After')) >= 1);
  ck.fromCaller(prackOf(c, r183, 3, `${r183.get('RSeq')} 1 INVITE`));
  await sentMatching(ck, CALLER_HOST, '200 to PRACK', isResponse(200, 'PRACK'));
  // The callee's UPDATE: the caller's INVITE had no Allow naming UPDATE (RFC 3311 5.1).
  ck.fromGateway(GW1, fromGatewayInDialog(inv, GW1, 'gw1', 'UPDATE', 1, sdp('198.51.100.50', 50002)));
  const refused = await sentMatching(ck, GW1, '500 to UPDATE', isResponse(500, 'UPDATE'));
  assert.equal(refused.get('Retry-After'), undefined);
  // The caller's UPDATE now crosses into the callee's early dialog, and the answer comes back.
  ck.fromCaller(fromCallerInDialog(c.dialog, r183, 'UPDATE', 4, sdp(CALLER_HOST, 40012)));
  const upd = await sentMatching(ck, GW1, 'UPDATE', isRequest('UPDATE'));
  assert.equal(upd.toTag, 'gw1');
  assert.equal(upd.body.toString(), sdp(CALLER_HOST, 40012), 'media none: the offer as is');
  ck.fromGateway(GW1, answer(upd, 200, 'gw1', sdp('198.51.100.50', 50004)));
  const ok = await sentMatching(ck, CALLER_HOST, '200 to UPDATE', isResponse(200, 'UPDATE'));
  assert.equal(ok.body.toString(), sdp('198.51.100.50', 50004));
  assert.equal(ck.counters.get('b2bua_early_updates_relayed'), 1);
});

test("a new offer in the caller's PRACK (RFC 3262 5): carried to the callee as an UPDATE, its answer in the 200 to the PRACK", async (t) => {
  const ck = await callKit();
  t.after(() => ck.close());
  const { c, inv } = await started(ck, [['Supported', '100rel']]);
  ck.fromGateway(GW1, reliable(inv, 183, 11, SDP_ANSWER));
  const r183 = await sentMatching(ck, CALLER_HOST, '183', isResponse(183));
  await sentMatching(ck, GW1, 'our PRACK', isRequest('PRACK'));
  const newOffer = sdp(CALLER_HOST, 40100);
  const prack = prackOf(c, r183, 2, `${r183.get('RSeq')} 1 INVITE`);
  prack.setBody(Buffer.from(newOffer), 'application/sdp');
  ck.fromCaller(prack);
  const update = await sentMatching(ck, GW1, 'UPDATE', isRequest('UPDATE'));
  assert.equal(update.body.toString(), newOffer);
  assert.equal(update.get('RAck'), undefined, 'a request of its own, not the PRACK');
  assert.ok(!ck.trace(CALLER_HOST).includes('200 PRACK'), 'the 200 to the PRACK waits for the answer');
  const newAnswer = sdp('198.51.100.50', 50100);
  ck.fromGateway(GW1, answer(update, 200, 'gw1', newAnswer));
  const ok = await sentMatching(ck, CALLER_HOST, '200 to PRACK', isResponse(200, 'PRACK'));
  assert.equal(ok.body.toString(), newAnswer, 'the answer, in the 200 to the PRACK');
  await sleep(300);
  assert.equal(ck.sentTo(CALLER_HOST).filter((s) => isResponse(183)(s.msg)).length, 1, 'the 183 is acknowledged');
});
