import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { kit, request, outgoing, responseTo, ackFor, clientLog, flow, UDP_TARGET } from './helpers.js';
import { sleep } from '../helpers/wait.js';
import { TransactionLayer } from '../../src/transaction/transaction-layer.js';
import { isReliable } from '../../src/transaction/types.js';
import { parse } from '../helpers/sip-messages.js';
import { branchWithin, clientKey, serverKey3261 } from '../../src/transaction/keys.js';

// ---- server matching, RFC 3261 branch (17.2.3) -----------------------------------------------

test('17.2.3: same branch but another sent-by, or another method, is another transaction', () => {
  const k = kit();
  try {
    const f = flow();
    const a = request({ branch: 'z9hG4bK-same', sentBy: '203.0.113.10:5060' });
    const b = request({ branch: 'z9hG4bK-same', sentBy: '203.0.113.11:5060' });
    const c = request({ branch: 'z9hG4bK-same', sentBy: '203.0.113.10:5060', method: 'OPTIONS' });
    const d = request({ branch: 'z9hG4bK-same', sentBy: '203.0.113.10' }); // no port: not the same sent-by text
    for (const m of [a, b, c, d]) k.layer.receiveRequest(m, f);
    assert.equal(k.tu.requests.length, 4);
    assert.equal(k.layer.serverCount(), 4);
    // A retransmission of a (received/rport stamped by the ingress do not change the key).
    const a2 = request({ branch: 'z9hG4bK-same', sentBy: '203.0.113.10:5060' });
    a2.setFirstValue('Via', 'SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK-same;received=198.18.0.1;rport=4000');
    k.layer.receiveRequest(a2, f);
    assert.equal(k.tu.requests.length, 4);
  } finally {
    k.close();
  }
});

test('CANCEL: its own non-INVITE transaction, not answered by the layer; findInviteServerTransaction (9.2)', () => {
  const k = kit();
  try {
    const f = flow();
    const inv = request({ branch: 'z9hG4bK-inv-c' });
    k.layer.receiveRequest(inv, f);
    const itx = k.tu.requests[0]!.tx!;
    const cancel = request({ method: 'CANCEL', branch: 'z9hG4bK-inv-c', callId: inv.callId });
    k.layer.receiveRequest(cancel, f);
    const ctx = k.tu.requests[1]!.tx!;
    assert.notEqual(ctx, itx);
    assert.equal(ctx.isInvite, false);
    assert.equal(ctx.state, 'Trying');
    assert.equal(k.transport.sent.length, 0, 'the layer answers nothing for CANCEL');
    assert.equal(k.layer.findInviteServerTransaction(cancel), itx);
    // A CANCEL retransmission goes to the CANCEL transaction, not the TU.
    k.layer.receiveRequest(cancel, f);
    assert.equal(k.tu.requests.length, 2);
    // The TU answers: 200 to the CANCEL, 487 to the INVITE.
    ctx.respond(responseTo(cancel, 200));
    itx.respond(responseTo(inv, 487));
    assert.deepEqual(
      k.transport.sent.map((s) => [s.msg.status, s.msg.cseq.method]),
      [
        [200, 'CANCEL'],
        [487, 'INVITE'],
      ],
    );
    // No INVITE with that branch / sent-by.
    assert.equal(
      k.layer.findInviteServerTransaction(request({ method: 'CANCEL', branch: 'z9hG4bK-nothing' })),
      undefined,
    );
    assert.equal(
      k.layer.findInviteServerTransaction(
        request({ method: 'CANCEL', branch: 'z9hG4bK-inv-c', sentBy: '198.51.100.99:5060' }),
      ),
      undefined,
    );
    // A non-INVITE transaction is never returned.
    const opt = request({ method: 'OPTIONS', branch: 'z9hG4bK-opt' });
    k.layer.receiveRequest(opt, f);
    assert.equal(k.layer.findInviteServerTransaction(request({ method: 'CANCEL', branch: 'z9hG4bK-opt' })), undefined);
  } finally {
    k.close();
  }
});

// ---- server matching, RFC 2543 (17.2.3 last paragraphs) ------------------------------------------

test('RFC 2543 (no magic cookie): Request-URI, tags, Call-ID, CSeq and top Via match; ACK matched by the response To tag', () => {
  const k = kit();
  try {
    const f = flow();
    const base = { branch: null, callId: 'old-ua-1@203.0.113.20', sentBy: '203.0.113.20:5060', cseq: 7 } as const;
    const inv = request(base);
    k.layer.receiveRequest(inv, f);
    const tx = k.tu.requests[0]!.tx!;
    assert.equal(tx.branch, '');
    // Retransmission (identical): absorbed, the 100 Trying at once.
    k.layer.receiveRequest(request(base), f);
    assert.equal(k.tu.requests.length, 1);
    // Any one of the fields differing: a new transaction.
    const variants = [
      request({ ...base, cseq: 8 }),
      request({ ...base, callId: 'old-ua-2@203.0.113.20' }),
      request({ ...base, fromTag: 'other' }),
      request({ ...base, ruri: 'sip:other@trunk.example.com' }),
      request({ ...base, sentBy: '203.0.113.21:5060' }),
      request({ ...base, toTag: 'dialog' }),
      request({ ...base, branch: 'abc123' }), // an old-style branch is part of the top Via
    ];
    for (const v of variants) k.layer.receiveRequest(v, f);
    assert.equal(k.tu.requests.length, 8);
    // An old-style branch without the cookie is still RFC 2543 matching: its retransmission matches.
    k.layer.receiveRequest(request({ ...base, branch: 'abc123' }), f);
    assert.equal(k.tu.requests.length, 8);

    const busy = responseTo(inv, 486, { toTag: 'srv-tag' });
    tx.respond(busy);
    // ACK with the To tag of the response: matches, Confirmed, absorbed.
    k.layer.receiveRequest(ackFor(inv, busy, null), f);
    assert.equal(tx.state, 'Confirmed');
    assert.equal(k.tu.requests.length, 8);
    // An ACK with another To tag does not match: it goes to the TU as an ACK without transaction.
    const stray = request({ ...base, method: 'ACK', toTag: 'wrong' });
    k.layer.receiveRequest(stray, f);
    assert.equal(k.tu.requests.length, 9);
    assert.equal(k.tu.requests[8]!.tx, null);

    // CANCEL lookup for an RFC 2543 INVITE.
    const inv2 = request({ ...base, cseq: 20, callId: 'old-ua-3@203.0.113.20' });
    k.layer.receiveRequest(inv2, f);
    const tx2 = k.tu.requests.at(-1)!.tx!;
    const cancel2 = request({ ...base, method: 'CANCEL', cseq: 20, callId: 'old-ua-3@203.0.113.20' });
    assert.equal(k.layer.findInviteServerTransaction(cancel2), tx2);
    k.layer.receiveRequest(cancel2, f);
    assert.notEqual(k.tu.requests.at(-1)!.tx, tx2, 'the CANCEL has its own transaction');
  } finally {
    k.close();
  }
});

test('RFC 2543 re-INVITE (To tag present): the ACK with that To tag matches', () => {
  const k = kit();
  try {
    const f = flow();
    const base = { branch: null, callId: 'old-re@203.0.113.20', toTag: 'dlg', cseq: 3 } as const;
    const inv = request(base);
    k.layer.receiveRequest(inv, f);
    const tx = k.tu.requests[0]!.tx!;
    const res = responseTo(inv, 488);
    assert.equal(res.toTag, 'dlg');
    tx.respond(res);
    k.layer.receiveRequest(request({ ...base, method: 'ACK' }), f);
    assert.equal(tx.state, 'Confirmed');
    assert.equal(k.tu.requests.length, 1);
  } finally {
    k.close();
  }
});

// ---- client matching (17.1.3), stray responses -------------------------------------------------------

test('responses: branch + CSeq method select the client transaction; the rest is stray (to the TU)', async () => {
  const k = kit();
  try {
    const cl = clientLog();
    const req = outgoing({ branch: 'z9hG4bK-cli-1' });
    const tx = k.layer.sendRequest(req, UDP_TARGET, cl.handlers);
    await sleep(0);
    const f = flow('udp', '198.51.100.7');
    // Unknown branch.
    k.layer.receiveResponse(responseTo(outgoing({ branch: 'z9hG4bK-unknown' }), 200), f);
    // Same branch, other CSeq method (the CANCEL's response when no CANCEL transaction exists).
    k.layer.receiveResponse(
      responseTo(outgoing({ branch: 'z9hG4bK-cli-1', method: 'CANCEL', callId: req.callId }), 200),
      f,
    );
    // No branch at all.
    k.layer.receiveResponse(
      parse(
        'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n',
      ),
      f,
    );
    assert.equal(k.tu.strays.length, 3);
    assert.equal(k.tu.strays[0]!.flow, f);
    assert.equal(cl.finals.length + cl.provisional.length, 0);
    k.layer.receiveResponse(responseTo(req, 404), f);
    assert.equal(cl.finals.length, 1);
    assert.equal(tx.state, 'Completed');
  } finally {
    k.close();
  }
});

test('a stray-response handler that throws is logged', () => {
  const k = kit();
  try {
    k.tu.onStrayResponse = () => {
      throw new Error('TU bug');
    };
    k.layer.receiveResponse(responseTo(outgoing({ branch: 'z9hG4bK-x' }), 200), flow());
    assert.equal(k.log.warns.length, 1);
  } finally {
    k.close();
  }
});

// ---- drain, stop, misc ------------------------------------------------------------------------------------

test('drain(): resolves at once when idle, when the last pending transaction got its final response, or after maxMs', async () => {
  const k = kit();
  try {
    await k.layer.drain(1000); // idle
    const f = flow();
    const opt = request({ method: 'OPTIONS' });
    k.layer.receiveRequest(opt, f);
    const stx = k.tu.requests[0]!.tx!;
    const req = outgoing({ branch: 'z9hG4bK-drain' });
    const ctx = k.layer.sendRequest(req, UDP_TARGET, clientLog().handlers);
    let drained = false;
    const t0 = performance.now();
    const p = k.layer.drain(5000).then(() => (drained = true));
    await sleep(20);
    stx.respond(responseTo(opt, 200));
    await sleep(10);
    assert.equal(drained, false, 'one transaction left');
    k.layer.receiveResponse(responseTo(req, 500), ctx.flow!);
    // Both now only absorb retransmissions (Completed): nothing is owed, so no waiting out Timers J and K.
    await p;
    const took = performance.now() - t0;
    assert.ok(took < 300, `drained after ${took.toFixed(0)} ms`);
    assert.equal(stx.state, 'Completed');

    // Bounded: an INVITE nobody answers.
    k.layer.receiveRequest(request(), f);
    const t1 = performance.now();
    await k.layer.drain(80);
    const waited = performance.now() - t1;
    assert.ok(waited >= 79 && waited < 200, `waited ${waited.toFixed(0)} ms`);
    // The unanswered INVITE, and the OPTIONS transaction still absorbing retransmissions in Completed.
    assert.equal(k.layer.serverCount(), 2);
  } finally {
    k.close();
  }
});

test('stop(): ends every transaction and timer without callbacks; pending drains resolve', async () => {
  const k = kit();
  const cl = clientLog();
  k.layer.receiveRequest(request(), flow());
  const tx = k.layer.sendRequest(outgoing({ branch: 'z9hG4bK-stop' }), UDP_TARGET, cl.handlers);
  await sleep(0);
  const d = k.layer.drain(60_000);
  assert.ok(k.wheel.size() > 0);
  k.layer.stop();
  await d;
  assert.equal(k.wheel.size(), 0);
  assert.equal(k.layer.serverCount() + k.layer.clientCount(), 0);
  assert.equal(tx.state, 'Terminated');
  const n = k.transport.sent.length;
  await sleep(250);
  assert.equal(k.transport.sent.length, n, 'no 100 Trying, no retransmission after stop');
  assert.equal(cl.timeouts, 0);
  k.close();
});

test('defaults and options: T1 500 / T2 4000 / T4 5000, isReliable, bad timers refused, own wheel', async () => {
  const t = { send: () => true, sendTo: async () => flow() };
  const layer = new TransactionLayer({ transport: t });
  assert.deepEqual(
    { t1: layer.timers.t1, t2: layer.timers.t2, t4: layer.timers.t4, d: layer.timers.d, trying: layer.timers.trying },
    { t1: 500, t2: 4000, t4: 5000, d: 32000, trying: 200 },
  );
  const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  layer.setUser({ onRequest() {}, onStrayResponse() {} });
  layer.receiveRequest(request(), flow());
  assert.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, before + 1);
  layer.stop();
  assert.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, before);
  assert.throws(() => new TransactionLayer({ transport: t, timers: { t1: 0 } }), RangeError);
  assert.throws(() => new TransactionLayer({ transport: t, timers: { t2: Number.NaN } }), RangeError);
  assert.equal(isReliable('udp'), false);
  for (const p of ['tcp', 'tls', 'ws', 'wss'] as const) assert.equal(isReliable(p), true);
  // A request without TU set is logged, not thrown.
  const lone = new TransactionLayer({ transport: t });
  lone.receiveRequest(request(), flow());
  lone.stop();
});

test('keys: flat strings; a transaction keeps its branch within its key, else as given', () => {
  const via = parse(
    'OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK-abcdefghij\r\nCSeq: 1 OPTIONS\r\n\r\n',
  ).topVia;
  const key = serverKey3261('z9hG4bK-abcdefghij', via, 'ACK');
  assert.equal(key, 'z9hG4bK-abcdefghij|192.0.2.1:5070|INVITE', 'ACK keyed as its INVITE');
  assert.equal(clientKey('z9hG4bK-abcdefghij', 'BYE'), 'z9hG4bK-abcdefghij|BYE');
  assert.equal(branchWithin(key, 'z9hG4bK-abcdefghij'), 'z9hG4bK-abcdefghij');
  assert.equal(branchWithin('\n2543\nsip:a@example.com', 'old-branch'), 'old-branch', 'not the start of the key');
  assert.equal(branchWithin('\n2543\nsip:a@example.com', ''), '');
});
