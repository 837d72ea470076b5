/**
 * Performed transfers (policy `perform`) through the B2bua's public API over
 * the real transaction layer, no sockets (call-kit.ts): the cases a SIPp
 * peer does not easily play. A referrer that hangs up once it has the 202
 * (blind transfer), with the transfer done or failed; Refer-Sub: false
 * (RFC 4488); REFERs refused for what they ask; an attended REFER whose
 * Replaces names no other call of ours (NOTIFY 481).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SipMessage } from '../../src/sip/message.js';
import { TransferPolicy } from '../../src/b2bua/transfer-policy.js';
import type { Cdr } from '../../src/trunking/model.js';
import { sleep, waitFor } from '../helpers/wait.js';
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

const TARGET = '+15557770000';
const SDP_TARGET = sdp('198.51.100.77', 52000);
const SDP_AGAIN = sdp('198.51.100.50', 50002);

async function performKit(): Promise<CallKit> {
  return callKit({ transfers: new TransferPolicy({ policy: 'perform', overrides: [] }) });
}

/** A call answered by gateway 1 and ACKed by the caller. */
async function answeredCall(ck: CallKit) {
  const { invite, dialog } = callerInvite();
  ck.fromCaller(invite);
  const inv = await sentMatching(ck, GW1, 'INVITE', isRequest('INVITE'));
  ck.fromGateway(GW1, answer(inv, 200, 'gw1', SDP_ANSWER));
  const ok = await sentMatching(ck, CALLER_HOST, '200', isResponse(200));
  ck.fromCaller(fromCallerInDialog(dialog, ok, 'ACK', 1));
  return { dialog, inv, ok };
}

/** The caller's REFER (CSeq `cseq`) with these header lines. */
function refer(
  call: Awaited<ReturnType<typeof answeredCall>>,
  cseq: number,
  headers: Array<[string, string]>,
): SipMessage {
  const r = fromCallerInDialog(call.dialog, call.ok, 'REFER', cseq);
  for (const [n, v] of headers) r.appendHeader(n, v);
  return r;
}

const referTo = (user: string, extra = ''): [string, string] => ['Refer-To', `<sip:${user}@pbx.internal${extra}>`];

/** The n-th request `method` the B2BUA sent toward the gateway in the dialog of Call-ID `callId`. */
function toGateway(ck: CallKit, method: string, callId: string, n = 0): Promise<SipMessage> {
  return sentMatching(ck, GW1, `${method} in ${callId}`, (m) => isRequest(method)(m) && m.callId === callId, n);
}

/** The target answers the new leg's INVITE (without offer) with its offer; the transferee gets it by re-INVITE. */
async function targetAnswers(
  ck: CallKit,
  transfereeCallId: string,
): Promise<{ legInvite: SipMessage; reinvite: SipMessage }> {
  const legInvite = await sentMatching(
    ck,
    GW1,
    "the new leg's INVITE",
    (m) => isRequest('INVITE')(m) && m.callId !== transfereeCallId,
  );
  assert.equal(legInvite.body.length, 0, 'no offer: the target makes it (RFC 3725 flow I)');
  assert.match(legInvite.requestUri, /^sip:\+15557770000@/);
  assert.match(legInvite.get('Referred-By') ?? '', /^<sip:\+14155550100@192\.0\.2\.1>$/);
  ck.fromGateway(GW1, answer(legInvite, 200, 'target', SDP_TARGET));
  const reinvite = await toGateway(ck, 'INVITE', transfereeCallId, 1);
  assert.equal(reinvite.body.toString(), SDP_TARGET, "the transferee gets the target's offer (media none: as is)");
  return { legInvite, reinvite };
}

async function cdrsOf(ck: CallKit, n: number): Promise<Cdr[]> {
  return waitFor(
    async () => {
      const c = await ck.cdrs();
      return c.length >= n ? c : undefined;
    },
    { timeoutMs: 3000, what: `${n} CDRs` },
  );
}

const notifies = (ck: CallKit): SipMessage[] =>
  ck
    .sentTo(CALLER_HOST)
    .map((s) => s.msg)
    .filter(isRequest('NOTIFY'))
    .filter((m, i, all) => all.findIndex((x) => x.cseq.seq === m.cseq.seq) === i);

test('blind transfer: the referrer hangs up after the 202, the transfer goes on, no NOTIFY after', async (t) => {
  const ck = await performKit();
  t.after(() => ck.close());
  const call = await answeredCall(ck);
  ck.fromCaller(refer(call, 2, [referTo(TARGET)]));
  const accepted = await sentMatching(ck, CALLER_HOST, '202', isResponse(202, 'REFER'));
  assert.equal(accepted.get('Refer-Sub'), undefined);
  const trying = await sentMatching(ck, CALLER_HOST, 'NOTIFY', isRequest('NOTIFY'));
  assert.equal(trying.body.toString(), 'SIP/2.0 100 Trying\r\n');
  assert.equal(trying.get('Event'), 'refer;id=2');
  ck.fromCaller(answer(trying, 200, call.dialog.fromTag));
  ck.fromCaller(fromCallerInDialog(call.dialog, call.ok, 'BYE', 3));
  await sentMatching(ck, CALLER_HOST, '200 to BYE', isResponse(200, 'BYE'));

  const { legInvite, reinvite } = await targetAnswers(ck, call.inv.callId);
  ck.fromGateway(GW1, answer(reinvite, 200, 'gw1', SDP_AGAIN));
  await toGateway(ck, 'ACK', call.inv.callId, 1);
  const ack = await toGateway(ck, 'ACK', legInvite.callId);
  assert.equal(ack.body.toString(), SDP_AGAIN, "the transferee's answer reaches the target in the ACK");
  await sleep(100);
  assert.equal(notifies(ck).length, 1, 'no NOTIFY to a referrer that left');
  assert.deepEqual(
    ck.trace(CALLER_HOST).filter((m) => m === 'BYE'),
    [],
    'no BYE to a referrer that left',
  );
  assert.equal(ck.b2bua.liveCount, 1);

  // The transferee hangs up: the target gets BYE; two CDRs.
  ck.fromGateway(GW1, fromGatewayInDialog(call.inv, GW1, 'gw1', 'BYE', 2));
  const bye = await toGateway(ck, 'BYE', legInvite.callId);
  ck.fromGateway(GW1, answer(bye, 200, 'target'));
  const cdrs = await cdrsOf(ck, 2);
  const original = cdrs.find((c) => c.to === '+15551230000')!;
  const leg = cdrs.find((c) => c.to === TARGET)!;
  assert.equal(original.reason, `Transferred to ${TARGET}`);
  assert.equal(leg.status, 200);
  assert.equal(leg.hangupBy, 'caller');
  assert.equal(JSON.parse(leg.extra!).transferOf, original.callSid);
  assert.equal(ck.counters.get('b2bua_transfers_done'), 1);
});

test('blind transfer that fails: the transferee, alone, is hung up', async (t) => {
  const ck = await performKit();
  t.after(() => ck.close());
  const call = await answeredCall(ck);
  ck.fromCaller(refer(call, 2, [referTo(TARGET)]));
  const trying = await sentMatching(ck, CALLER_HOST, 'NOTIFY', isRequest('NOTIFY'));
  ck.fromCaller(answer(trying, 200, call.dialog.fromTag));
  ck.fromCaller(fromCallerInDialog(call.dialog, call.ok, 'BYE', 3));
  await sentMatching(ck, CALLER_HOST, '200 to BYE', isResponse(200, 'BYE'));
  const legInvite = await sentMatching(
    ck,
    GW1,
    "the new leg's INVITE",
    (m) => isRequest('INVITE')(m) && m.callId !== call.inv.callId,
  );
  ck.fromGateway(GW1, answer(legInvite, 486, 'target'));
  const bye = await toGateway(ck, 'BYE', call.inv.callId);
  assert.match(bye.get('Reason') ?? '', /Transfer failed: 486 Busy Here/);
  ck.fromGateway(GW1, answer(bye, 200, 'gw1'));
  const cdrs = await cdrsOf(ck, 2);
  assert.equal(cdrs.find((c) => c.to === TARGET)!.status, 486);
  assert.equal(cdrs.find((c) => c.to === '+15551230000')!.reason, 'Transfer failed: 486 Busy Here');
});

test('Refer-Sub: false (RFC 4488): 202 says so, and no NOTIFY at all', async (t) => {
  const ck = await performKit();
  t.after(() => ck.close());
  const call = await answeredCall(ck);
  ck.fromCaller(refer(call, 2, [referTo(TARGET), ['Refer-Sub', 'false'], ['Supported', 'norefersub']]));
  const accepted = await sentMatching(ck, CALLER_HOST, '202', isResponse(202, 'REFER'));
  assert.equal(accepted.get('Refer-Sub'), 'false');
  const { reinvite } = await targetAnswers(ck, call.inv.callId);
  ck.fromGateway(GW1, answer(reinvite, 200, 'gw1', SDP_AGAIN));
  // The referrer's leg is hung up once the transfer is done.
  const bye = await sentMatching(ck, CALLER_HOST, 'BYE', isRequest('BYE'));
  assert.match(bye.get('Reason') ?? '', /Call transferred/);
  assert.equal(notifies(ck).length, 0);
});

test('REFERs refused for what they ask; the call goes on', async (t) => {
  const ck = await performKit();
  t.after(() => ck.close());
  const call = await answeredCall(ck);
  const refusal = async (cseq: number, headers: Array<[string, string]>): Promise<SipMessage> => {
    ck.fromCaller(refer(call, cseq, headers));
    return sentMatching(ck, CALLER_HOST, `answer to REFER ${cseq}`, (m) => !m.isRequest && m.cseq.seq === cseq);
  };
  assert.equal((await refusal(2, [])).status, 400, 'no Refer-To (RFC 3515 2.4.2)');
  assert.equal((await refusal(3, [referTo('a'), referTo('b')])).status, 400, 'two Refer-To');
  const other = await refusal(4, [referTo(TARGET, '?Accept-Contact=%2A')]);
  assert.equal(other.status, 501, 'headers other than Replaces in the Refer-To: nothing we would send');
  const unreadable = await refusal(5, [referTo(TARGET, '?Replaces=x%40y%3Bto-tag%3D1')]);
  assert.equal(unreadable.status, 400, 'a Replaces without from-tag (RFC 3891 6.1)');
  // A transfer in progress: a second REFER waits.
  ck.fromCaller(refer(call, 6, [referTo(TARGET)]));
  await sentMatching(ck, CALLER_HOST, '202', isResponse(202, 'REFER'));
  const second = await refusal(7, [referTo(TARGET)]);
  assert.equal(second.status, 500);
  assert.equal(second.get('Retry-After'), '5');
  assert.deepEqual(
    ck.b2bua.liveCalls().map((c) => c.state),
    ['confirmed'],
  );
  assert.equal(ck.trace(GW1).filter((m) => m === 'BYE').length, 0, 'the call goes on');
});

test('a Refer-To that is not a number: 202, then NOTIFY 484 (terminated), and the call goes on', async (t) => {
  const ck = await performKit();
  t.after(() => ck.close());
  const call = await answeredCall(ck);
  ck.fromCaller(refer(call, 2, [referTo('reception')]));
  await sentMatching(ck, CALLER_HOST, '202', isResponse(202, 'REFER'));
  const trying = await sentMatching(ck, CALLER_HOST, 'NOTIFY 100', isRequest('NOTIFY'));
  ck.fromCaller(answer(trying, 200, call.dialog.fromTag));
  const final = await sentMatching(ck, CALLER_HOST, 'NOTIFY 484', isRequest('NOTIFY'), 1);
  assert.equal(final.body.toString(), 'SIP/2.0 484 Address Incomplete\r\n');
  assert.match(final.get('Subscription-State') ?? '', /^terminated/);
  ck.fromCaller(answer(final, 200, call.dialog.fromTag));
  await sleep(100);
  assert.deepEqual(ck.trace(GW1), ['INVITE', 'ACK'], 'no new leg; the transferee heard nothing');
  assert.equal(ck.b2bua.liveCount, 1);
});

test('attended REFER naming no call of ours, or its own call: 202, NOTIFY 481 (terminated), the call goes on', async (t) => {
  const ck = await performKit();
  t.after(() => ck.close());
  const call = await answeredCall(ck);
  const own = `${call.dialog.callId};to-tag=${call.ok.toTag ?? ''};from-tag=${call.dialog.fromTag}`;
  for (const [cseq, replaces] of [
    [2, 'nosuchcall@pbx;to-tag=1;from-tag=2'],
    [3, own],
  ] as const) {
    ck.fromCaller(refer(call, cseq, [referTo(TARGET, `?Replaces=${encodeURIComponent(replaces)}`)]));
    await sentMatching(
      ck,
      CALLER_HOST,
      `202 to REFER ${cseq}`,
      (m) => isResponse(202, 'REFER')(m) && m.cseq.seq === cseq,
    );
    const final = await waitFor(() => notifies(ck).find((m) => m.body.toString().startsWith('SIP/2.0 481')), {
      timeoutMs: 2000,
      what: `NOTIFY 481 for REFER ${cseq}`,
    });
    assert.match(final.get('Subscription-State') ?? '', /^terminated/);
    assert.equal(final.get('Event'), `refer;id=${cseq}`);
    for (const n of notifies(ck)) ck.fromCaller(answer(n, 200, call.dialog.fromTag));
    await sleep(50);
    // The next REFER's NOTIFYs are told apart by their Event id.
    ck.tk.transport.sent.length = 0;
  }
  assert.deepEqual(ck.trace(GW1), [], 'the transferee heard nothing');
  assert.equal(ck.b2bua.liveCount, 1);
});
