import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { kit, request, responseTo, ackFor, flow, gaps, assertGaps, loopWatch, type Kit } from './helpers.js';
import { sleep, waitFor } from '../helpers/wait.js';
import type { ServerTransaction } from '../../src/transaction/transaction-layer.js';

// Independent tests, each with its own layer and wheel: run side by side to keep the suite short.
describe('server transactions (17.2, RFC 6026)', { concurrency: true }, () => {
  /** Receives an INVITE on a flow and returns its server transaction. */
  function inviteIn(k: Kit, proto: 'udp' | 'tcp' = 'udp', extra: string[] = []) {
    const f = flow(proto);
    const req = request({ transport: proto.toUpperCase(), extra });
    k.layer.receiveRequest(req, f);
    const got = k.tu.requests.at(-1)!;
    assert.equal(got.req, req);
    assert.ok(got.tx !== null);
    return { req, f, tx: got.tx };
  }

  // ---- INVITE server transaction (17.2.1, RFC 6026) ------------------------------------------

  test('INVITE: 100 Trying goes out after 200 ms when the TU has not answered (17.2.1), Timestamp copied', async () => {
    const k = kit();
    try {
      const { tx, f } = inviteIn(k, 'udp', ['Timestamp: 54']);
      assert.equal(tx.state, 'Proceeding');
      assert.equal(tx.isInvite, true);
      await sleep(150);
      assert.equal(k.transport.sent.length, 0, 'nothing before 200 ms');
      await waitFor(() => k.transport.sent.length === 1, { timeoutMs: 500, what: '100 Trying' });
      const trying = k.transport.sent[0]!;
      assert.equal(trying.msg.status, 100);
      assert.equal(trying.flow, f, 'on the request flow');
      assert.equal(trying.msg.toTag, null, '8.2.6.2: no To tag on a 100');
      assert.equal(trying.msg.get('Timestamp'), '54');
      assert.equal(trying.msg.topVia.params.get('branch'), tx.branch);
      await sleep(50);
      assert.equal(k.transport.sent.length, 1, 'one 100 only');
    } finally {
      k.close();
    }
  });

  test('INVITE: no 100 Trying when the TU answers within 200 ms', async () => {
    const k = kit();
    try {
      k.tu.onReq = (req, tx) => tx!.respond(responseTo(req, 180));
      inviteIn(k);
      await sleep(260);
      assert.deepEqual(
        k.transport.sent.map((s) => s.msg.status),
        [180],
      );
    } finally {
      k.close();
    }
  });

  test('INVITE Proceeding: a retransmitted INVITE re-sends the last provisional and is not passed to the TU', () => {
    const k = kit();
    try {
      const { req, f, tx } = inviteIn(k);
      tx.respond(responseTo(req, 100));
      tx.respond(responseTo(req, 183, { toTag: 'tt' }));
      k.transport.clear();
      k.layer.receiveRequest(req, f);
      k.layer.receiveRequest(request({ branch: tx.branch, callId: req.callId }), f); // same branch+sent-by: same tx
      assert.equal(k.tu.requests.length, 1);
      assert.deepEqual(
        k.transport.sent.map((s) => s.msg.status),
        [183, 183],
      );
      assert.equal(tx.lastResponse?.status, 183);
    } finally {
      k.close();
    }
  });

  test('INVITE Proceeding: a retransmission before any provisional gets a 100 Trying at once', () => {
    const k = kit();
    try {
      const { req, f } = inviteIn(k);
      k.layer.receiveRequest(req, f);
      assert.deepEqual(
        k.transport.sent.map((s) => s.msg.status),
        [100],
      );
    } finally {
      k.close();
    }
  });

  test('INVITE 2xx: Accepted (RFC 6026); retransmitted INVITE absorbed; TU 2xx retransmissions sent; ACKs to the TU; Timer L ends it', async () => {
    const k = kit();
    try {
      const { req, f, tx } = inviteIn(k);
      const ok = responseTo(req, 200, { toTag: 'uas1' });
      tx.respond(ok);
      assert.equal(tx.state, 'Accepted');
      k.layer.receiveRequest(req, f); // absorbed
      assert.equal(k.transport.sent.length, 1);
      tx.respond(ok); // TU retransmits its 2xx (13.3.1.4)
      assert.equal(k.transport.sent.length, 2);
      tx.respond(responseTo(req, 486)); // no non-2xx after a 2xx
      assert.equal(k.transport.sent.length, 2);

      // The ACK for a 2xx is its own transaction (new branch): to the TU with tx null.
      const ack = ackFor(req, ok, 'z9hG4bK-ack-2xx');
      k.layer.receiveRequest(ack, f);
      // An ACK reusing the INVITE branch (matches while Accepted) also goes to the TU (RFC 6026 7.1).
      const ackSame = ackFor(req, ok, tx.branch);
      k.layer.receiveRequest(ackSame, f);
      assert.deepEqual(
        k.tu.requests.slice(1).map((r) => [r.req.method, r.tx]),
        [
          ['ACK', null],
          ['ACK', null],
        ],
      );
      assert.equal(tx.state, 'Accepted', 'ACK does not end Accepted');

      await sleep(500);
      assert.equal(tx.state, 'Accepted', 'Timer L is 64*T1 = 640 ms');
      assert.equal(k.layer.serverCount(), 1);
      await waitFor(() => tx.state === 'Terminated', { timeoutMs: 400, what: 'Timer L' });
      assert.equal(k.layer.serverCount(), 0, 'removed from the map');
      // After Timer L a 2xx retransmission from the TU is still sent (statelessly).
      tx.respond(ok);
      assert.equal(k.transport.sent.length, 3);
      // A late INVITE retransmission is a new request now.
      k.layer.receiveRequest(req, f);
      assert.equal(k.tu.requests.length, 4);
    } finally {
      k.close();
    }
  });

  test('INVITE 3xx-6xx over UDP: Timer G doubles T1 up to T2, re-answers INVITE retransmissions; ACK → Confirmed, Timer I', async () => {
    const k = kit();
    try {
      await sleep(40); // let the other tests' start-up burst pass: this one measures intervals
      const { req, f, tx } = inviteIn(k);
      let errors = 0;
      tx.onError = () => errors++;
      const busy = responseTo(req, 486, { toTag: 'uas2' });
      const loop = loopWatch();
      tx.respond(busy);
      assert.equal(tx.state, 'Completed');
      // G at 10, 30, 70, 110, 150 ms (intervals 10, 20, 40, 40 capped at T2=40, 40).
      await waitFor(() => k.transport.sent.length >= 6, { timeoutMs: 1000, what: 'Timer G' });
      loop.stop();
      assertGaps(gaps(k.transport.sent.slice(0, 6)), [10, 20, 40, 40, 40], loop.maxLateMs());
      assert.ok(k.transport.sent.every((s) => s.msg.status === 486 && s.flow === f));

      const before = k.transport.sent.length;
      k.layer.receiveRequest(req, f); // retransmitted INVITE: the final again
      assert.equal(k.transport.sent.length, before + 1);
      assert.equal(k.tu.requests.length, 1);

      // The ACK for a non-2xx carries the INVITE branch (17.1.1.3): absorbed, not for the TU.
      k.layer.receiveRequest(ackFor(req, busy, tx.branch), f);
      assert.equal(tx.state, 'Confirmed');
      assert.equal(k.tu.requests.length, 1);
      const confirmedAt = k.transport.sent.length;
      k.layer.receiveRequest(ackFor(req, busy, tx.branch), f); // ACK retransmission absorbed
      k.layer.receiveRequest(req, f); // INVITE retransmission absorbed in Confirmed
      assert.equal(k.tu.requests.length, 1);
      await sleep(30);
      assert.equal(tx.state, 'Confirmed', 'Timer I is T4 = 50 ms');
      await waitFor(() => tx.state === 'Terminated', { timeoutMs: 200, what: 'Timer I' });
      assert.equal(k.transport.sent.length, confirmedAt, 'Timer G stopped at the ACK');
      assert.equal(k.layer.serverCount(), 0);
      assert.equal(errors, 0);
    } finally {
      k.close();
    }
  });

  test('INVITE 3xx-6xx, no ACK: Timer H ends the transaction and onError("timeout") fires once', async () => {
    const k = kit();
    try {
      const { req, tx } = inviteIn(k);
      const errors: string[] = [];
      tx.onError = (r) => errors.push(r);
      tx.respond(responseTo(req, 503));
      await sleep(550);
      assert.equal(tx.state, 'Completed');
      await waitFor(() => tx.state === 'Terminated', { timeoutMs: 300, what: 'Timer H' });
      assert.deepEqual(errors, ['timeout']);
      // 1 + G retransmissions up to 640 ms: 10, 30, 70, then every 40 ms: about 16 in all.
      const n = k.transport.sent.length;
      assert.ok(n >= 12 && n <= 18, `${n} sends`);
      await sleep(60);
      assert.equal(k.transport.sent.length, n, 'Timer G cancelled with the transaction');
      assert.equal(k.layer.serverCount(), 0);
    } finally {
      k.close();
    }
  });

  test('INVITE 3xx-6xx over TCP: no Timer G; ACK ends it at once (Timer I = 0); Timer H still runs', async () => {
    const k = kit();
    try {
      const a = inviteIn(k, 'tcp');
      const busy = responseTo(a.req, 486);
      a.tx.respond(busy);
      const b = inviteIn(k, 'tcp');
      let err = '';
      b.tx.onError = (r) => (err = r);
      b.tx.respond(responseTo(b.req, 480));
      await sleep(80);
      assert.equal(k.transport.sent.length, 2, 'no retransmission on a reliable transport');
      k.layer.receiveRequest(ackFor(a.req, busy, a.tx.branch), a.f);
      assert.equal(a.tx.state, 'Terminated');
      await waitFor(() => b.tx.state === 'Terminated', { timeoutMs: 800, what: 'Timer H on TCP' });
      assert.equal(err, 'timeout');
      assert.equal(k.layer.serverCount(), 0);
    } finally {
      k.close();
    }
  });

  test('INVITE: an ACK in Proceeding acknowledges nothing and is dropped', () => {
    const k = kit();
    try {
      const { req, f, tx } = inviteIn(k);
      k.layer.receiveRequest(ackFor(req, req, tx.branch), f);
      assert.equal(k.tu.requests.length, 1);
      assert.equal(tx.state, 'Proceeding');
    } finally {
      k.close();
    }
  });

  // ---- non-INVITE server transaction (17.2.2) --------------------------------------------------

  test('non-INVITE over UDP: Trying absorbs, Proceeding re-sends the provisional, Completed re-sends the final, Timer J', async () => {
    const k = kit();
    try {
      const f = flow('udp');
      const req = request({ method: 'OPTIONS' });
      k.layer.receiveRequest(req, f);
      const tx = k.tu.requests[0]!.tx!;
      assert.equal(tx.state, 'Trying');
      assert.equal(tx.isInvite, false);
      await sleep(250);
      assert.equal(k.transport.sent.length, 0, 'no automatic 100 for non-INVITE');
      k.layer.receiveRequest(req, f); // Trying: absorbed
      assert.equal(k.transport.sent.length, 0);
      tx.respond(responseTo(req, 100));
      assert.equal(tx.state, 'Proceeding');
      k.layer.receiveRequest(req, f);
      assert.deepEqual(
        k.transport.sent.map((s) => s.msg.status),
        [100, 100],
      );
      tx.respond(responseTo(req, 200));
      assert.equal(tx.state, 'Completed');
      tx.respond(responseTo(req, 500)); // 17.2.2: further finals discarded
      k.layer.receiveRequest(req, f);
      assert.deepEqual(
        k.transport.sent.map((s) => s.msg.status),
        [100, 100, 200, 200],
      );
      assert.equal(k.tu.requests.length, 1);
      await sleep(500);
      assert.equal(tx.state, 'Completed', 'Timer J is 64*T1 = 640 ms');
      await waitFor(() => tx.state === 'Terminated', { timeoutMs: 400, what: 'Timer J' });
      assert.equal(k.layer.serverCount(), 0);
    } finally {
      k.close();
    }
  });

  test('a transaction that only waits out its timers lets its messages go: same bytes re-sent, status kept, the To tag only for RFC 2543 matching', async () => {
    const k = kit();
    try {
      const f = flow('udp');
      // non-INVITE Completed (Timer J): the request and response objects are released, the bytes stay.
      const req = request({ method: 'BYE', toTag: 'callee' });
      k.layer.receiveRequest(req, f);
      const tx = k.tu.requests[0]!.tx!;
      assert.equal(tx.request, req, 'kept while the TU may still answer');
      const ok = responseTo(req, 200);
      tx.respond(ok);
      assert.equal(tx.state, 'Completed');
      assert.notEqual(tx.request, req, 'released in Completed');
      assert.equal(tx.request.method, 'BYE', 'the stand-in keeps the method');
      assert.notEqual(tx.lastResponse, ok);
      assert.equal(tx.lastResponse!.status, 200, 'the stand-in keeps the status');
      k.layer.receiveRequest(req, f);
      const finals = k.transport.responses(200);
      assert.equal(finals.length, 2);
      assert.ok(finals[1]!.data.equals(finals[0]!.data), 'the retransmission answered with the same bytes');
      assert.ok(
        finals[0]!.data.buffer.byteLength === finals[0]!.data.length,
        'kept bytes in a buffer of their own, not a pool slab',
      );

      // INVITE Accepted (Timer L): released too; 2xx retransmissions from the TU still go out. An RFC 3261
      // transaction matches its ACK by branch: the To tag goes with the response.
      const { req: inv, tx: itx } = inviteIn(k);
      const ok2 = responseTo(inv, 200, { toTag: 'ua-tag' });
      itx.respond(ok2);
      assert.equal(itx.state, 'Accepted');
      assert.equal(itx.request.method, 'INVITE');
      assert.equal(itx.lastResponse!.status, 200);
      assert.equal(itx.responseToTag(), null, 'nothing of the response kept but status and reason');
      itx.respond(ok2);
      assert.equal(k.transport.responses(200).length, 4);

      // An RFC 2543 INVITE (no branch) keeps the To tag through the release: its ACK is matched by it (17.2.3).
      const old = request({ branch: null });
      k.layer.receiveRequest(old, f);
      const otx = k.tu.requests.at(-1)!.tx!;
      otx.respond(responseTo(old, 200, { toTag: 'old-tag' }));
      assert.equal(otx.state, 'Accepted');
      assert.equal(otx.lastResponse!.status, 200, 'released: a stand-in');
      assert.equal(otx.responseToTag(), 'old-tag');
    } finally {
      k.close();
    }
  });

  test('non-INVITE over TCP: Completed ends at once (Timer J = 0)', () => {
    const k = kit();
    try {
      const req = request({ method: 'REGISTER', transport: 'TCP' });
      k.layer.receiveRequest(req, flow('tcp'));
      const tx = k.tu.requests[0]!.tx!;
      tx.respond(responseTo(req, 200));
      assert.equal(tx.state, 'Terminated');
      assert.equal(k.layer.serverCount(), 0);
    } finally {
      k.close();
    }
  });

  // ---- errors ---------------------------------------------------------------------------------------

  test('a transport error on responding ends the transaction and fires onError("transport") once', () => {
    const k = kit();
    try {
      const { req, tx } = inviteIn(k);
      const errors: string[] = [];
      tx.onError = (r) => errors.push(r);
      k.transport.failSend = true;
      tx.respond(responseTo(req, 180));
      assert.equal(tx.state, 'Terminated');
      tx.respond(responseTo(req, 486));
      assert.deepEqual(errors, ['transport']);
      assert.equal(k.layer.serverCount(), 0);

      const bye = request({ method: 'BYE' });
      k.layer.receiveRequest(bye, flow());
      const tx2: ServerTransaction = k.tu.requests.at(-1)!.tx!;
      let e2 = '';
      tx2.onError = (r) => (e2 = r);
      tx2.respond(responseTo(bye, 200));
      assert.equal(e2, 'transport');
      assert.equal(k.layer.serverCount(), 0);
    } finally {
      k.close();
    }
  });

  test('a TU that throws (onRequest, onError) is logged and does not break the layer', async () => {
    const k = kit();
    try {
      k.tu.onReq = () => {
        throw new Error('TU bug');
      };
      const { req, f, tx } = inviteIn(k);
      assert.equal(k.log.warns.length, 1);
      assert.equal(k.layer.serverCount(), 1);
      tx.onError = () => {
        throw new Error('TU bug 2');
      };
      tx.respond(responseTo(req, 404));
      k.layer.receiveRequest(req, f);
      await waitFor(() => tx.state === 'Terminated', { timeoutMs: 1000, what: 'Timer H' });
      assert.equal(k.log.warns.length, 2);
    } finally {
      k.close();
    }
  });
});
