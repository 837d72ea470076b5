/**
 * Trunk calls through the B2bua's public API (handleInitial, claimInDialog,
 * cancel) over the real transaction layer, with no sockets (call-kit.ts):
 * failover between gateways, glare, late offer, and CANCEL races, each
 * checked on both legs and in the CDR.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, waitFor } from '../helpers/wait.js';
import {
  CALLER_HOST,
  GW1,
  GW2,
  SDP_ANSWER,
  SDP_OFFER,
  answer,
  callKit,
  callerInvite,
  cancelOf,
  fromCallerInDialog,
  fromGatewayInDialog,
  isRequest,
  isResponse,
  sdp,
  sentMatching,
  type CallKit,
} from './call-kit.js';
import type { Cdr } from '../../src/trunking/model.js';

async function onlyCdr(ck: CallKit): Promise<Cdr> {
  const cdrs = await waitFor(
    async () => {
      const c = await ck.cdrs();
      return c.length > 0 ? c : undefined;
    },
    { timeoutMs: 2000, what: 'the CDR' },
  );
  assert.equal(cdrs.length, 1, 'one CDR per call');
  return cdrs[0]!;
}

test('failover: a 503 from gateway 1 sends the call to gateway 2, which answers; BYE from the caller', async (t) => {
  const ck = await callKit();
  t.after(() => ck.close());
  const { invite, dialog } = callerInvite();
  ck.fromCaller(invite);

  const inv1 = await sentMatching(ck, GW1, 'INVITE', isRequest('INVITE'));
  assert.equal(inv1.body.toString(), SDP_OFFER, 'media none: the offer passes as is');
  ck.fromGateway(GW1, answer(inv1, 503, 'gw1'));
  const inv2 = await sentMatching(ck, GW2, 'INVITE', isRequest('INVITE'));
  assert.notEqual(inv2.callId, inv1.callId, 'each attempt is a new dialog');
  assert.equal(inv2.requestUri, inv1.requestUri.replace(GW1, GW2));

  ck.fromGateway(GW2, answer(inv2, 180, 'gw2'));
  await sentMatching(ck, CALLER_HOST, '180', isResponse(180));
  ck.fromGateway(GW2, answer(inv2, 200, 'gw2', SDP_ANSWER));
  const ok = await sentMatching(ck, CALLER_HOST, '200', isResponse(200));
  assert.equal(ok.body.toString(), SDP_ANSWER);
  assert.equal(
    ok.toTag,
    (await sentMatching(ck, CALLER_HOST, '180', isResponse(180))).toTag,
    'one dialog toward the caller',
  );
  await sentMatching(ck, GW2, 'ACK of the 200', isRequest('ACK'));
  ck.fromCaller(fromCallerInDialog(dialog, ok, 'ACK', 1));
  ck.fromCaller(fromCallerInDialog(dialog, ok, 'BYE', 2));
  const bye = await sentMatching(ck, GW2, 'BYE', isRequest('BYE'));
  ck.fromGateway(GW2, answer(bye, 200, 'gw2'));
  await sentMatching(ck, CALLER_HOST, '200 to BYE', isResponse(200, 'BYE'));

  assert.deepEqual(ck.trace(GW1), ['INVITE', 'ACK'], 'gateway 1: the 503 ACKed by its transaction, nothing more');
  assert.deepEqual(ck.trace(GW2), ['INVITE', 'ACK', 'BYE']);
  assert.deepEqual(ck.trace(CALLER_HOST), ['180 INVITE', '200 INVITE', '200 BYE'], 'the caller never sees the 503');
  const cdr = await onlyCdr(ck);
  assert.equal(cdr.status, 200);
  assert.equal(cdr.carrier, 'gw');
  assert.equal(cdr.hangupBy, 'caller');
  assert.ok(cdr.answerAt !== null);
  assert.equal(cdr.direction, 'outbound');
  assert.equal(ck.counters.get('b2bua_failovers'), 1);
  assert.equal(ck.b2bua.liveCount, 0);
});

test('failover: a 486 from gateway 1 is not retried; the caller gets it', async (t) => {
  const ck = await callKit();
  t.after(() => ck.close());
  ck.fromCaller(callerInvite().invite);
  const inv1 = await sentMatching(ck, GW1, 'INVITE', isRequest('INVITE'));
  ck.fromGateway(GW1, answer(inv1, 486, 'gw1'));
  const busy = await sentMatching(ck, CALLER_HOST, '486', isResponse(486));
  assert.equal(busy.reason, 'Busy Here');
  const cdr = await onlyCdr(ck);
  await sleep(100); // an attempt would start at once (no timer): time for it to show
  assert.deepEqual(ck.trace(GW2), [], 'gateway 2 never tried');
  assert.deepEqual(ck.trace(GW1), ['INVITE', 'ACK']);
  assert.deepEqual(ck.trace(CALLER_HOST), ['486 INVITE']);
  assert.equal(cdr.status, 486);
  assert.equal(cdr.reason, 'Busy Here');
  assert.equal(cdr.hangupBy, 'callee');
  assert.equal(cdr.answerAt, null);
  assert.equal(ck.counters.get('b2bua_failovers'), 0);
});

/** A call answered by gateway 1 and ACKed by the caller: what the tests of a confirmed call start from. */
async function answeredCall(ck: CallKit, offer: string | null = SDP_OFFER) {
  const { invite, dialog } = callerInvite(offer);
  ck.fromCaller(invite);
  const inv = await sentMatching(ck, GW1, 'INVITE', isRequest('INVITE'));
  ck.fromGateway(GW1, answer(inv, 200, 'gw1', SDP_ANSWER));
  const ok = await sentMatching(ck, CALLER_HOST, '200', isResponse(200));
  return { dialog, inv, ok };
}

test('glare: a re-INVITE crossing one in progress gets 491 and the call stays up', async (t) => {
  const ck = await callKit();
  t.after(() => ck.close());
  const { dialog, inv, ok } = await answeredCall(ck);
  ck.fromCaller(fromCallerInDialog(dialog, ok, 'ACK', 1));

  // The caller puts the call on hold: relayed to the gateway.
  const hold = sdp(CALLER_HOST, 40000).replace('a=rtpmap:0 PCMU/8000', 'a=rtpmap:0 PCMU/8000\r\na=sendonly');
  ck.fromCaller(fromCallerInDialog(dialog, ok, 'INVITE', 2, hold));
  const reinv = await sentMatching(ck, GW1, 're-INVITE', isRequest('INVITE'), 1);
  assert.equal(reinv.callId, inv.callId);
  assert.equal(reinv.toTag, 'gw1');
  // The gateway's own re-INVITE crosses it (RFC 3261 14.2): 491.
  ck.fromGateway(GW1, fromGatewayInDialog(inv, GW1, 'gw1', 'INVITE', 1, SDP_ANSWER));
  await sentMatching(ck, GW1, '491', isResponse(491));
  assert.equal(ck.counters.get('b2bua_glare'), 1);

  // The caller's re-INVITE completes.
  ck.fromGateway(GW1, answer(reinv, 200, 'gw1', SDP_ANSWER));
  const ok2 = await sentMatching(
    ck,
    CALLER_HOST,
    '200 to the re-INVITE',
    (m) => isResponse(200)(m) && m.cseq.seq === 2,
  );
  assert.equal(ok2.body.toString(), SDP_ANSWER);
  await waitFor(
    () => ck.sentTo(GW1).filter((s) => isRequest('ACK')(s.msg) && s.msg.cseq.seq === reinv.cseq.seq).length > 0,
    { timeoutMs: 2000, what: 'ACK of the re-INVITE' },
  );
  ck.fromCaller(fromCallerInDialog(dialog, ok, 'ACK', 2));

  // The call is up, and the gateway's retry now goes through to the caller.
  assert.deepEqual(
    ck.b2bua.liveCalls().map((c) => c.state),
    ['confirmed'],
  );
  ck.fromGateway(GW1, fromGatewayInDialog(inv, GW1, 'gw1', 'INVITE', 2, SDP_ANSWER));
  const relayed = await sentMatching(ck, CALLER_HOST, "the gateway's re-INVITE", isRequest('INVITE'));
  assert.equal(relayed.callId, dialog.callId);
  assert.equal(relayed.toTag, dialog.fromTag);

  assert.deepEqual(ck.trace(GW1), ['INVITE', 'ACK', 'INVITE', '491 INVITE', 'ACK']);
  assert.deepEqual(ck.trace(CALLER_HOST), ['200 INVITE', '200 INVITE', 'INVITE']);
  assert.equal((await ck.cdrs()).length, 0, 'no CDR while the call is up');
});

test('late offer: INVITE without SDP, the offer in the 200, the answer in the ACK', async (t) => {
  const ck = await callKit();
  t.after(() => ck.close());
  const { dialog, inv, ok } = await answeredCall(ck, null);
  assert.equal(inv.body.length, 0, 'no offer toward the gateway');
  assert.equal(ok.body.toString(), SDP_ANSWER, "the gateway's offer reaches the caller in the 200");
  assert.equal(ok.contentType, 'application/sdp');
  await sleep(50);
  assert.deepEqual(ck.trace(GW1), ['INVITE'], 'the gateway is ACKed only with the answer');

  const callerAnswer = sdp(CALLER_HOST, 40002);
  ck.fromCaller(fromCallerInDialog(dialog, ok, 'ACK', 1, callerAnswer));
  const ack = await sentMatching(ck, GW1, 'ACK', isRequest('ACK'));
  assert.equal(ack.body.toString(), callerAnswer);
  assert.equal(ack.contentType, 'application/sdp');
  assert.equal(ack.cseq.seq, inv.cseq.seq);

  // The gateway hangs up.
  ck.fromGateway(GW1, fromGatewayInDialog(inv, GW1, 'gw1', 'BYE', 2));
  await sentMatching(ck, GW1, '200 to BYE', isResponse(200, 'BYE'));
  const bye = await sentMatching(ck, CALLER_HOST, 'BYE', isRequest('BYE'));
  ck.fromCaller(answer(bye, 200, dialog.fromTag));
  assert.deepEqual(ck.trace(GW1), ['INVITE', 'ACK', '200 BYE']);
  assert.deepEqual(ck.trace(CALLER_HOST), ['200 INVITE', 'BYE']);
  const cdr = await onlyCdr(ck);
  assert.equal(cdr.status, 200);
  assert.equal(cdr.hangupBy, 'callee');
  assert.ok(cdr.answerAt !== null);
});

test('CANCEL before the first provisional: 487 to the caller; the gateway is cancelled once it sends one', async (t) => {
  const ck = await callKit();
  t.after(() => ck.close());
  const { invite } = callerInvite();
  ck.fromCaller(invite);
  const inv = await sentMatching(ck, GW1, 'INVITE', isRequest('INVITE'));
  ck.fromCaller(cancelOf(invite));
  await sentMatching(ck, CALLER_HOST, '200 to CANCEL', isResponse(200, 'CANCEL'));
  await sentMatching(ck, CALLER_HOST, '487', isResponse(487));
  await sleep(50);
  assert.deepEqual(ck.trace(GW1), ['INVITE'], 'RFC 3261 9.1: no CANCEL before a provisional');

  ck.fromGateway(GW1, answer(inv, 180, 'gw1'));
  const cancel = await sentMatching(ck, GW1, 'CANCEL', isRequest('CANCEL'));
  assert.equal(cancel.topVia.params.get('branch'), inv.topVia.params.get('branch'), 'the INVITE branch (9.1)');
  ck.fromGateway(GW1, answer(cancel, 200, 'gw1'));
  ck.fromGateway(GW1, answer(inv, 487, 'gw1'));
  await sentMatching(ck, GW1, 'ACK of the 487', isRequest('ACK'));

  assert.deepEqual(ck.trace(GW1), ['INVITE', 'CANCEL', 'ACK']);
  assert.deepEqual(ck.trace(CALLER_HOST), ['200 CANCEL', '487 INVITE'], 'no 180 after the CANCEL');
  assert.deepEqual(ck.trace(GW2), []);
  const cdr = await onlyCdr(ck);
  assert.equal(cdr.status, 487);
  assert.equal(cdr.hangupBy, 'caller');
  assert.equal(cdr.answerAt, null);
  assert.equal(cdr.carrier, 'gw');
  assert.equal(ck.b2bua.liveCount, 0);
});

test("CANCEL crossing the gateway's 200: the gateway gets ACK and BYE, the caller 487", async (t) => {
  const ck = await callKit();
  t.after(() => ck.close());
  const { invite } = callerInvite();
  ck.fromCaller(invite);
  const inv = await sentMatching(ck, GW1, 'INVITE', isRequest('INVITE'));
  ck.fromGateway(GW1, answer(inv, 180, 'gw1'));
  await sentMatching(ck, CALLER_HOST, '180', isResponse(180));
  ck.fromCaller(cancelOf(invite));
  const cancel = await sentMatching(ck, GW1, 'CANCEL', isRequest('CANCEL'));
  // The gateway answered before it saw the CANCEL: its 200 crosses it.
  ck.fromGateway(GW1, answer(inv, 200, 'gw1', SDP_ANSWER));
  ck.fromGateway(GW1, answer(cancel, 200, 'gw1'));
  const bye = await sentMatching(ck, GW1, 'BYE', isRequest('BYE'));
  assert.equal(bye.callId, inv.callId);
  assert.equal(bye.toTag, 'gw1');
  ck.fromGateway(GW1, answer(bye, 200, 'gw1'));

  assert.deepEqual(ck.trace(GW1), ['INVITE', 'CANCEL', 'ACK', 'BYE']);
  assert.deepEqual(ck.trace(CALLER_HOST), ['180 INVITE', '200 CANCEL', '487 INVITE'], 'the caller never gets the 200');
  const cdr = await onlyCdr(ck);
  assert.equal(cdr.status, 487);
  assert.equal(cdr.hangupBy, 'caller');
  assert.equal(cdr.answerAt, null);
  assert.equal(ck.b2bua.liveCount, 0);
});

test('CANCEL after the 200 reached the caller: no effect, the call completes', async (t) => {
  const ck = await callKit();
  t.after(() => ck.close());
  const { invite, dialog } = callerInvite();
  ck.fromCaller(invite);
  const inv = await sentMatching(ck, GW1, 'INVITE', isRequest('INVITE'));
  ck.fromGateway(GW1, answer(inv, 200, 'gw1', SDP_ANSWER));
  const ok = await sentMatching(ck, CALLER_HOST, '200', isResponse(200));
  ck.fromCaller(cancelOf(invite));
  await sentMatching(ck, CALLER_HOST, '200 to CANCEL', isResponse(200, 'CANCEL'));
  ck.fromCaller(fromCallerInDialog(dialog, ok, 'ACK', 1));
  assert.deepEqual(
    ck.b2bua.liveCalls().map((c) => c.state),
    ['confirmed'],
  );
  ck.fromCaller(fromCallerInDialog(dialog, ok, 'BYE', 2));
  const bye = await sentMatching(ck, GW1, 'BYE', isRequest('BYE'));
  ck.fromGateway(GW1, answer(bye, 200, 'gw1'));

  assert.deepEqual(ck.trace(GW1), ['INVITE', 'ACK', 'BYE'], 'no CANCEL toward the gateway');
  assert.deepEqual(ck.trace(CALLER_HOST), ['200 INVITE', '200 CANCEL', '200 BYE'], 'no 487');
  const cdr = await onlyCdr(ck);
  assert.equal(cdr.status, 200);
  assert.equal(cdr.hangupBy, 'caller');
  assert.ok(cdr.answerAt !== null);
});

/** The ACKs and BYEs sent toward `host` within the dialog of To tag `tag`, each send counted. */
function acksAndByes(ck: CallKit, host: string, tag: string): { acks: number; byes: number } {
  const inDialog = ck.sentTo(host).filter((s) => s.msg.isRequest && s.msg.toTag === tag);
  return {
    acks: inDialog.filter((s) => s.msg.method === 'ACK').length,
    byes: inDialog.filter((s) => s.msg.method === 'BYE').length,
  };
}

test("a gateway's 2xx after its attempt was given up: an ACK for each copy of it, one BYE", async (t) => {
  const ck = await callKit();
  t.after(() => ck.close());
  const { invite, dialog } = callerInvite();
  ck.fromCaller(invite);
  const inv1 = await sentMatching(ck, GW1, 'INVITE', isRequest('INVITE'));
  // Gateway 1 stays silent past the gateway timeout (2 s in the kit): the call moves on.
  const inv2 = await waitFor(() => ck.sentTo(GW2).find((s) => s.msg.isRequest && s.msg.method === 'INVITE')?.msg, {
    timeoutMs: 5000,
    what: 'the INVITE to gateway 2 after the gateway timeout',
  });
  ck.fromGateway(GW2, answer(inv2, 200, 'gw2', SDP_ANSWER));
  const ok = await sentMatching(ck, CALLER_HOST, '200', isResponse(200));
  ck.fromCaller(fromCallerInDialog(dialog, ok, 'ACK', 1));

  // Gateway 1 answers now, and sends its 200 twice more (as if our ACK were lost each time).
  const late = answer(inv1, 200, 'gw1', SDP_ANSWER);
  ck.fromGateway(GW1, late);
  const bye = await sentMatching(ck, GW1, 'BYE of the late answer', (m) => m.isRequest && m.method === 'BYE');
  ck.fromGateway(GW1, late);
  ck.fromGateway(GW1, late);
  await waitFor(() => acksAndByes(ck, GW1, 'gw1').acks === 3, { timeoutMs: 2000, what: 'three ACKs of the late 200' });
  ck.fromGateway(GW1, answer(bye, 200, 'gw1'));
  await sleep(100); // a second BYE would leave at once: time for it to show
  assert.deepEqual(acksAndByes(ck, GW1, 'gw1'), { acks: 3, byes: 1 }, 'every copy ACKed, the dialog hung up once');
  assert.equal(ck.counters.get('b2bua_stray_answers_hung_up'), 1);
  assert.deepEqual(acksAndByes(ck, GW2, 'gw2'), { acks: 1, byes: 0 }, 'the call on gateway 2 stays up');
  assert.equal(ck.b2bua.liveCount, 1);
});

test('a second dialog forked from the answered INVITE: ACKed and hung up once; the answered one only ACKed again', async (t) => {
  const ck = await callKit();
  t.after(() => ck.close());
  const { invite, dialog } = callerInvite();
  ck.fromCaller(invite);
  const inv = await sentMatching(ck, GW1, 'INVITE', isRequest('INVITE'));
  const answered = answer(inv, 200, 'gw1', SDP_ANSWER);
  ck.fromGateway(GW1, answered);
  const ok = await sentMatching(ck, CALLER_HOST, '200', isResponse(200));
  ck.fromCaller(fromCallerInDialog(dialog, ok, 'ACK', 1));

  // RFC 3261 13.2.2.4: a 2xx of another dialog on the same transaction is ACKed, then hung up.
  const forked = answer(inv, 200, 'gw1-fork', SDP_ANSWER);
  ck.fromGateway(GW1, forked);
  const bye = await sentMatching(ck, GW1, 'BYE of the forked dialog', (m) => m.isRequest && m.method === 'BYE');
  assert.equal(bye.toTag, 'gw1-fork');
  ck.fromGateway(GW1, forked);
  ck.fromGateway(GW1, answered);
  await waitFor(() => acksAndByes(ck, GW1, 'gw1-fork').acks === 2 && acksAndByes(ck, GW1, 'gw1').acks === 2, {
    timeoutMs: 2000,
    what: 'the ACKs of both dialogs sent again',
  });
  ck.fromGateway(GW1, answer(bye, 200, 'gw1-fork'));
  await sleep(100);
  assert.deepEqual(acksAndByes(ck, GW1, 'gw1-fork'), { acks: 2, byes: 1 });
  assert.deepEqual(acksAndByes(ck, GW1, 'gw1'), { acks: 2, byes: 0 }, 'the answered dialog stays up');
  assert.deepEqual(ck.trace(CALLER_HOST), ['200 INVITE'], 'the caller sees one answer');
  assert.equal(ck.b2bua.liveCount, 1);
});
