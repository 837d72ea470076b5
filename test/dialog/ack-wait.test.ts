import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Dialog } from '../../src/dialog/dialog.js';
import type { RetransmitClock } from '../../src/dialog/ack-wait.js';
import type { SipMessage } from '../../src/sip/message.js';
import { ackFor, flow, kit, request, responseTo, type Kit } from '../transaction/helpers.js';
import { sleep, waitFor } from '../helpers/wait.js';

/** The caller's INVITE received over `proto`, its server transaction, and the dialog we answer it in. */
function inviteIn(k: Kit, proto: 'udp' | 'tcp' = 'udp') {
  const f = flow(proto);
  const req = request({ transport: proto.toUpperCase() });
  k.layer.receiveRequest(req, f);
  const tx = k.tu.requests.at(-1)!.tx!;
  const d = new Dialog({
    callId: req.callId,
    localTag: 'ours',
    localUri: '<sip:+15551230000@trunk.example.com>',
    remoteUri: '<sip:+14155550100@carrier.example.net>',
    remoteTag: req.fromTag,
    remoteTarget: 'sip:+14155550100@203.0.113.10:5060',
    iface: { proto, host: '192.0.2.1', port: 5060 },
    target: { proto, host: f.remoteHost, port: f.remotePort },
    remoteSeq: req.cseq.seq,
  });
  const ok = responseTo(req, 200, { toTag: 'ours' });
  return { req, tx, d, ok };
}

function clockOf(k: Kit): RetransmitClock {
  return { wheel: k.wheel, t1: 10, t2: 40 };
}

test('a 2xx over UDP is sent again, doubling from T1 to T2, until its ACK; the ACK runs onAck once', async () => {
  const k = kit();
  try {
    const { req, tx, d, ok } = inviteIn(k);
    const acks: SipMessage[] = [];
    let timeouts = 0;
    d.answerInvite(ok, tx, clockOf(k), { onAck: (a) => acks.push(a), onTimeout: () => timeouts++ });
    assert.equal(k.transport.responses(200).length, 1, 'sent at once');
    await sleep(150);
    const sent = k.transport.responses(200);
    assert.ok(sent.length >= 4, `retransmitted: ${sent.length}`);
    const gaps = sent.slice(1).map((s, i) => s.at - sent[i]!.at);
    assert.ok(gaps[1]! > gaps[0]!, `the interval grows: ${gaps.map(Math.round).join(', ')}`);
    // An ACK of another INVITE (other CSeq) is not this 2xx's.
    const other = ackFor(request({ callId: req.callId, cseq: 9 }), ok, 'z9hG4bK-ack-other');
    assert.equal(d.takeAck(other), false);
    assert.equal(d.takeAck(ackFor(req, ok, 'z9hG4bK-ack-1')), true);
    assert.equal(acks.length, 1);
    assert.equal(d.takeAck(ackFor(req, ok, 'z9hG4bK-ack-2')), false, 'a repeated ACK is not run again');
    const after = k.transport.responses(200).length;
    await sleep(120);
    assert.equal(k.transport.responses(200).length, after, 'no retransmission after the ACK');
    assert.equal(timeouts, 0);
  } finally {
    k.close();
  }
});

test('a 2xx over UDP without an ACK: onTimeout once after 64*T1', async () => {
  const k = kit();
  try {
    const { tx, d, ok } = inviteIn(k);
    let timeouts = 0;
    const start = performance.now();
    let at = 0;
    d.answerInvite(ok, tx, clockOf(k), {
      onAck: () => assert.fail('no ACK came'),
      onTimeout: () => {
        timeouts++;
        at = performance.now() - start;
      },
    });
    await waitFor(() => timeouts > 0, { timeoutMs: 2000, what: 'the timeout' });
    assert.ok(at >= 600 && at < 1200, `after ${Math.round(at)} ms`);
    const count = k.transport.responses(200).length;
    assert.ok(count >= 10, `sent ${count} times`);
    await sleep(100);
    assert.equal(timeouts, 1);
    assert.equal(k.transport.responses(200).length, count, 'no retransmission after the timeout');
  } finally {
    k.close();
  }
});

test('endAfterAck: what ends the dialog replaces what was to follow the ACK; false when no 2xx waits', () => {
  const k = kit();
  try {
    const { req, tx, d, ok } = inviteIn(k);
    assert.equal(d.endAfterAck({ onAck() {}, onTimeout() {} }), false);
    const ran: string[] = [];
    d.answerInvite(ok, tx, clockOf(k), {
      onAck: () => ran.push('answer'),
      onTimeout: () => ran.push('answer timeout'),
    });
    assert.equal(d.endsAfterAck, false);
    assert.equal(d.endAfterAck({ onAck: () => ran.push('bye'), onTimeout: () => ran.push('bye timeout') }), true);
    assert.equal(d.endsAfterAck, true);
    d.takeAck(ackFor(req, ok, 'z9hG4bK-ack-3'));
    assert.deepEqual(ran, ['bye']);
    assert.equal(d.endsAfterAck, false);
  } finally {
    k.close();
  }
});

test('stopAckWait and a new answer let the earlier 2xx go', async () => {
  const k = kit();
  try {
    const { tx, d, ok } = inviteIn(k);
    let timeouts = 0;
    d.answerInvite(ok, tx, clockOf(k), { onAck() {}, onTimeout: () => timeouts++ });
    d.stopAckWait();
    const sent = k.transport.responses(200).length;
    await sleep(100);
    assert.equal(k.transport.responses(200).length, sent);
    d.answerInvite(ok, tx, clockOf(k), { onAck() {}, onTimeout: () => timeouts++ });
    d.answerInvite(ok, tx, clockOf(k), { onAck() {}, onTimeout: () => timeouts++ });
    await waitFor(() => timeouts > 0, { timeoutMs: 2000, what: 'the timeout' });
    await sleep(100);
    assert.equal(timeouts, 1, 'only the last answer times out');
  } finally {
    k.close();
  }
});

test('a 2xx over TCP is sent once, and without an ACK onTimeout runs after 64*T1', async () => {
  const k = kit();
  try {
    const { tx, d, ok } = inviteIn(k, 'tcp');
    let at = 0;
    const start = performance.now();
    d.answerInvite(ok, tx, clockOf(k), {
      onAck: () => assert.fail('no ACK came'),
      onTimeout: () => (at = performance.now() - start),
    });
    await waitFor(() => at > 0, { timeoutMs: 3000, what: 'the timeout' });
    assert.ok(at >= 600 && at < 1200, `after ${Math.round(at)} ms`);
    assert.equal(k.transport.responses(200).length, 1, 'a reliable transport carries it once');
  } finally {
    k.close();
  }
});
