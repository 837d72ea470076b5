import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  kit,
  outgoing,
  responseTo,
  clientLog,
  flow,
  gaps,
  assertGaps,
  loopWatch,
  uniq,
  UDP_TARGET,
  TCP_TARGET,
} from './helpers.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { TransportError } from '../../src/transport/transport-error.js';

// Independent tests, each with its own layer and wheel: run side by side to keep the suite short.
describe('client transactions (17.1, RFC 6026)', { concurrency: true }, () => {
  const branch = (): string => `z9hG4bK-out-${uniq()}`;

  // ---- INVITE client transaction (17.1.1, RFC 6026) -----------------------------------------

  test('INVITE over UDP: Timer A retransmits at T1, 2*T1, 4*T1... (no T2 cap); Timer B → onTimeout', async () => {
    const k = kit();
    try {
      await sleep(40); // let the other tests' start-up burst pass: this one measures intervals
      const cl = clientLog();
      const req = outgoing({ branch: branch() });
      const loop = loopWatch();
      const tx = k.layer.sendRequest(req, UDP_TARGET, cl.handlers);
      assert.equal(tx.state, 'Calling');
      assert.equal(tx.isInvite, true);
      assert.equal(tx.branch, req.topVia.params.get('branch'));
      await sleep(600);
      loop.stop();
      const sends = k.transport.requests('INVITE');
      // 0, 10, 30, 70, 150, 310 ms (and 630 soon).
      assert.ok(sends.length >= 6, `${sends.length} sends`);
      assert.ok(sends[0]!.target === UDP_TARGET, 'first send through sendTo(target)');
      assert.ok(
        sends.slice(1).every((s) => s.flow === tx.flow),
        'retransmissions on the flow',
      );
      assert.ok(
        sends.every((s) => s.data.equals(sends[0]!.data)),
        'same bytes',
      );
      assertGaps(gaps(sends.slice(0, 6)), [10, 20, 40, 80, 160], loop.maxLateMs());
      assert.equal(cl.timeouts, 0);
      await waitFor(() => cl.timeouts === 1, { timeoutMs: 300, what: 'Timer B' });
      assert.equal(tx.state, 'Terminated');
      assert.equal(k.layer.clientCount(), 0);
      const n = k.transport.sent.length;
      await sleep(50);
      assert.equal(k.transport.sent.length, n, 'Timer A cancelled');
    } finally {
      k.close();
    }
  });

  test('INVITE over TCP: no retransmission, Timer B still fires', async () => {
    const k = kit();
    try {
      const cl = clientLog();
      const tx = k.layer.sendRequest(outgoing({ branch: branch(), transport: 'TCP' }), TCP_TARGET, cl.handlers);
      await waitFor(() => cl.timeouts === 1, { timeoutMs: 900, what: 'Timer B' });
      assert.equal(k.transport.sent.length, 1);
      assert.equal(tx.state, 'Terminated');
    } finally {
      k.close();
    }
  });

  test('INVITE provisional: Proceeding, Timer A and B stop, onProvisional, lastProvisional', async () => {
    const k = kit();
    try {
      const cl = clientLog();
      const req = outgoing({ branch: branch() });
      const tx = k.layer.sendRequest(req, UDP_TARGET, cl.handlers);
      assert.equal(tx.lastProvisional, 0);
      await sleep(15);
      k.layer.receiveResponse(responseTo(req, 100), flow('udp', '198.51.100.7'));
      assert.equal(tx.state, 'Proceeding');
      const n = k.transport.sent.length;
      k.layer.receiveResponse(responseTo(req, 180, { toTag: 'b1' }), flow('udp', '198.51.100.7'));
      assert.deepEqual(
        cl.provisional.map((r) => r.status),
        [100, 180],
      );
      assert.equal(tx.lastProvisional, 180);
      await sleep(750);
      assert.equal(k.transport.sent.length, n, 'no retransmission in Proceeding');
      assert.equal(cl.timeouts, 0, "Timer B does not run in Proceeding (Timer C is the TU's)");
      assert.equal(tx.state, 'Proceeding');
    } finally {
      k.close();
    }
  });

  test('INVITE 3xx-6xx: the layer builds and sends the ACK (17.1.1.3), re-ACKs retransmissions, Timer D ends it', async () => {
    const k = kit();
    try {
      const cl = clientLog();
      const req = outgoing({
        branch: branch(),
        routes: ['<sip:198.51.100.7;lr>', '<sip:pbx.example.com;lr>'],
        ruri: 'sip:+15551230000@pbx.example.com;user=phone',
        cseq: 4711,
      });
      const tx = k.layer.sendRequest(req, UDP_TARGET, cl.handlers);
      await waitFor(() => tx.flow !== null, { timeoutMs: 100, what: 'sent' });
      const busy = responseTo(req, 486, { toTag: 'busy-tag' });
      k.layer.receiveResponse(busy, tx.flow!);
      assert.equal(tx.state, 'Completed');
      assert.equal(cl.finals.length, 1);
      assert.equal(cl.finals[0], busy);

      const acks = k.transport.requests('ACK');
      assert.equal(acks.length, 1);
      assert.equal(acks[0]!.flow, tx.flow, 'on the INVITE flow');
      const ack = acks[0]!.msg;
      assert.equal(ack.requestUri, req.requestUri);
      assert.equal(ack.vias.length, 1, 'top Via only');
      assert.equal(ack.topVia.params.get('branch'), tx.branch);
      assert.equal(ack.topVia.host, '192.0.2.1');
      assert.equal(ack.callId, req.callId);
      assert.equal(ack.get('From'), req.get('From'));
      assert.equal(ack.get('To'), busy.get('To'));
      assert.equal(ack.toTag, 'busy-tag');
      assert.deepEqual(ack.cseq, { seq: 4711, method: 'ACK' });
      assert.deepEqual(ack.getAll('Route'), ['<sip:198.51.100.7;lr>', '<sip:pbx.example.com;lr>']);
      assert.equal(ack.maxForwards, 69);
      assert.equal(ack.receivedContentLength, 0);
      assert.equal(ack.has('Contact'), false);

      // A retransmitted 486: the same ACK again, nothing to the TU.
      k.layer.receiveResponse(responseTo(req, 486, { toTag: 'busy-tag' }), tx.flow!);
      const acks2 = k.transport.requests('ACK');
      assert.equal(acks2.length, 2);
      assert.ok(acks2[1]!.data.equals(acks2[0]!.data));
      assert.equal(cl.finals.length, 1);
      // A 2xx after the 486 is not ACKed here; it goes to the TU as stray (a proxy forwards every 2xx).
      k.layer.receiveResponse(responseTo(req, 200, { toTag: 'late' }), tx.flow!);
      assert.equal(k.tu.strays.length, 1);
      assert.equal(k.transport.requests('ACK').length, 2);
      assert.equal(cl.finals.length, 1);
      const invites = k.transport.requests('INVITE').length;
      await sleep(60);
      assert.equal(k.transport.requests('INVITE').length, invites, 'Timer A stopped');
      assert.equal(tx.state, 'Completed', 'Timer D = 100 ms here');
      await waitFor(() => tx.state === 'Terminated', { timeoutMs: 200, what: 'Timer D' });
      assert.equal(k.layer.clientCount(), 0);
      assert.equal(cl.timeouts, 0);
    } finally {
      k.close();
    }
  });

  test('INVITE 3xx-6xx over TCP: ACK sent, Timer D = 0', async () => {
    const k = kit();
    try {
      const cl = clientLog();
      const req = outgoing({ branch: branch(), transport: 'TCP' });
      const tx = k.layer.sendRequest(req, TCP_TARGET, cl.handlers);
      await waitFor(() => tx.flow !== null, { timeoutMs: 100, what: 'sent' });
      k.layer.receiveResponse(responseTo(req, 603), tx.flow!);
      assert.equal(k.transport.requests('ACK').length, 1);
      assert.equal(tx.state, 'Terminated');
      assert.equal(cl.finals.length, 1);
    } finally {
      k.close();
    }
  });

  test('INVITE 2xx: Accepted, to the TU and never ACKed here; further 2xx to onRetransmitted2xx; Timer M; then stray', async () => {
    const k = kit();
    try {
      const cl = clientLog();
      const req = outgoing({ branch: branch() });
      const tx = k.layer.sendRequest(req, UDP_TARGET, cl.handlers);
      await waitFor(() => tx.flow !== null, { timeoutMs: 100, what: 'sent' });
      k.layer.receiveResponse(responseTo(req, 180, { toTag: 'a' }), tx.flow!);
      const ok = responseTo(req, 200, { toTag: 'a' });
      k.layer.receiveResponse(ok, tx.flow!);
      assert.equal(tx.state, 'Accepted');
      assert.deepEqual(cl.finals, [ok]);
      const okFork = responseTo(req, 200, { toTag: 'fork2' });
      k.layer.receiveResponse(ok, tx.flow!);
      k.layer.receiveResponse(okFork, tx.flow!);
      k.layer.receiveResponse(responseTo(req, 180, { toTag: 'a' }), tx.flow!); // absorbed
      assert.deepEqual(cl.retrans2xx, [ok, okFork]);
      assert.equal(cl.finals.length, 1);
      assert.equal(k.transport.requests('ACK').length, 0, 'a 2xx is ACKed by the UAC, not the transaction');
      await sleep(500);
      assert.equal(tx.state, 'Accepted', 'Timer M = 64*T1 = 640 ms');
      await waitFor(() => tx.state === 'Terminated', { timeoutMs: 400, what: 'Timer M' });
      assert.equal(k.layer.clientCount(), 0);
      k.layer.receiveResponse(ok, tx.flow!);
      assert.equal(k.tu.strays.length, 1, 'after Timer M a 2xx is stray (forwarded statelessly)');
      assert.equal(cl.retrans2xx.length, 2);
    } finally {
      k.close();
    }
  });

  // ---- non-INVITE client transaction (17.1.2) -------------------------------------------------------

  test('non-INVITE over UDP: Timer E doubles from T1 to T2 (then T2), Timer F → onTimeout', async () => {
    const k = kit();
    try {
      await sleep(40); // let the other tests' start-up burst pass: this one measures intervals
      const cl = clientLog();
      const req = outgoing({ branch: branch(), method: 'OPTIONS' });
      const loop = loopWatch();
      const tx = k.layer.sendRequest(req, UDP_TARGET, cl.handlers);
      assert.equal(tx.state, 'Trying');
      await sleep(250);
      loop.stop();
      const sends = k.transport.requests('OPTIONS');
      // 0, 10, 30, 70, 110, 150, 190, 230
      assertGaps(gaps(sends.slice(0, 7)), [10, 20, 40, 40, 40, 40], loop.maxLateMs());
      await waitFor(() => cl.timeouts === 1, { timeoutMs: 600, what: 'Timer F' });
      assert.equal(tx.state, 'Terminated');
      assert.equal(k.layer.clientCount(), 0);
    } finally {
      k.close();
    }
  });

  test('non-INVITE provisional: Proceeding keeps Timer E at T2; final → Completed, retransmissions absorbed, Timer K', async () => {
    const k = kit({ t2: 60 });
    try {
      await sleep(40); // let the other tests' start-up burst pass: this one measures intervals
      const cl = clientLog();
      const req = outgoing({ branch: branch(), method: 'REGISTER' });
      const tx = k.layer.sendRequest(req, UDP_TARGET, cl.handlers);
      await waitFor(() => tx.flow !== null, { timeoutMs: 100, what: 'sent' });
      k.layer.receiveResponse(responseTo(req, 100), tx.flow!);
      assert.equal(tx.state, 'Proceeding');
      assert.equal(tx.lastProvisional, 100);
      k.transport.clear();
      const loop = loopWatch();
      await sleep(200);
      loop.stop();
      const sends = k.transport.requests('REGISTER');
      assert.ok(sends.length >= 2, `${sends.length} retransmissions in Proceeding`);
      const g = gaps(sends);
      const t2 = 60;
      assertGaps(
        g,
        g.map(() => t2),
        loop.maxLateMs(),
        12,
      );

      const ok = responseTo(req, 200);
      k.layer.receiveResponse(ok, tx.flow!);
      assert.equal(tx.state, 'Completed');
      k.layer.receiveResponse(responseTo(req, 200), tx.flow!); // absorbed
      assert.deepEqual(cl.finals, [ok]);
      const n = k.transport.sent.length;
      await sleep(30);
      assert.equal(tx.state, 'Completed', 'Timer K = T4 = 50 ms');
      await waitFor(() => tx.state === 'Terminated', { timeoutMs: 200, what: 'Timer K' });
      assert.equal(k.transport.sent.length, n, 'Timer E stopped');
      assert.equal(cl.timeouts, 0, 'Timer F cancelled');
      assert.equal(k.layer.clientCount(), 0);
    } finally {
      k.close();
    }
  });

  test('after the final response the request is let go (Accepted, Completed): the handlers still get further 2xx', async () => {
    const k = kit();
    try {
      const cl = clientLog();
      const req = outgoing({ branch: branch() });
      const tx = k.layer.sendRequest(req, UDP_TARGET, cl.handlers);
      await waitFor(() => tx.flow !== null, { timeoutMs: 100, what: 'sent' });
      assert.equal(tx.request, req, 'kept while it may be retransmitted or cancelled');
      const ok = responseTo(req, 200, { toTag: 'callee' });
      k.layer.receiveResponse(ok, tx.flow!);
      assert.equal(tx.state, 'Accepted');
      assert.notEqual(tx.request, req, 'released in Accepted');
      assert.equal(tx.request.method, 'INVITE', 'the stand-in keeps the method');
      k.layer.receiveResponse(ok, tx.flow!);
      assert.equal(cl.retrans2xx.length, 1, 'Timer M: the TU still hears of further 2xx');

      const cl2 = clientLog();
      const bye = outgoing({ branch: branch(), method: 'BYE' });
      const tx2 = k.layer.sendRequest(bye, UDP_TARGET, cl2.handlers);
      await waitFor(() => tx2.flow !== null, { timeoutMs: 100, what: 'sent' });
      k.layer.receiveResponse(responseTo(bye, 200), tx2.flow!);
      assert.equal(tx2.state, 'Completed');
      assert.equal(tx2.request.method, 'BYE');
      assert.notEqual(tx2.request, bye, 'released in Completed (Timer K)');
      assert.equal(cl2.finals.length, 1);
    } finally {
      k.close();
    }
  });

  test('non-INVITE over TCP: no Timer E; final ends it at once (Timer K = 0)', async () => {
    const k = kit();
    try {
      const cl = clientLog();
      const req = outgoing({ branch: branch(), method: 'BYE', transport: 'TCP' });
      const tx = k.layer.sendRequest(req, TCP_TARGET, cl.handlers);
      await sleep(50);
      assert.equal(k.transport.sent.length, 1);
      k.layer.receiveResponse(responseTo(req, 200), tx.flow!);
      assert.equal(tx.state, 'Terminated');
      assert.equal(cl.finals.length, 1);
    } finally {
      k.close();
    }
  });

  test('sendRequest on a given flow uses send(), not sendTo(); a CANCEL is its own transaction on the INVITE branch', async () => {
    const k = kit();
    try {
      const f = flow('tcp', '198.51.100.7', 5060);
      const cl = clientLog();
      const b = branch();
      const inv = outgoing({ branch: b, transport: 'TCP' });
      const itx = k.layer.sendRequest(inv, TCP_TARGET, cl.handlers, f);
      assert.equal(itx.flow, f);
      assert.equal(k.transport.sent[0]!.flow, f);
      assert.equal(k.transport.sent[0]!.target, null);
      k.layer.receiveResponse(responseTo(inv, 180, { toTag: 'x' }), f);

      const ccl = clientLog();
      const cancel = outgoing({ branch: b, transport: 'TCP', method: 'CANCEL', callId: inv.callId });
      const ctx = k.layer.sendRequest(cancel, TCP_TARGET, ccl.handlers, f);
      assert.equal(k.layer.clientCount(), 2);
      k.layer.receiveResponse(responseTo(cancel, 200), f);
      assert.equal(ccl.finals.length, 1, 'the CANCEL 200 goes to the CANCEL transaction');
      assert.equal(ctx.state, 'Terminated');
      assert.equal(itx.state, 'Proceeding');
      k.layer.receiveResponse(responseTo(inv, 487, { toTag: 'x' }), f);
      assert.equal(cl.finals[0]!.status, 487);
      assert.equal(itx.state, 'Terminated');
      assert.throws(
        () => k.layer.sendRequest(outgoing({ branch: null as unknown as string }), UDP_TARGET, cl.handlers),
        /branch/,
      );
      const dup = outgoing({ branch: b });
      k.layer.sendRequest(dup, UDP_TARGET, clientLog().handlers);
      assert.throws(() => k.layer.sendRequest(dup, UDP_TARGET, clientLog().handlers), /exists/);
    } finally {
      k.close();
    }
  });

  // ---- transport errors, TU faults --------------------------------------------------------------------

  test('transport errors: sendTo rejecting, send on a flow failing, a failed retransmission → onTransportError once, with a TransportError', async () => {
    const k = kit();
    try {
      // sendTo rejects (connection refused): reported after sendRequest returned, the transport's error as is.
      const refused = new TransportError('connect-refused', TCP_TARGET, 'connection refused');
      k.transport.failSendTo = refused;
      const a = clientLog();
      const txA = k.layer.sendRequest(outgoing({ branch: branch(), transport: 'TCP' }), TCP_TARGET, a.handlers);
      assert.equal(a.transportErrors.length, 0, 'not synchronously');
      await waitFor(() => a.transportErrors.length === 1, { timeoutMs: 100, what: 'onTransportError' });
      assert.equal(a.transportErrors[0], refused);
      assert.equal(txA.state, 'Terminated');

      // Another error from a transport: a TransportError toward the target, the error as its cause.
      const odd = new Error('EMFILE');
      k.transport.failSendTo = odd;
      const a2 = clientLog();
      k.layer.sendRequest(outgoing({ branch: branch(), transport: 'TCP' }), TCP_TARGET, a2.handlers);
      await waitFor(() => a2.transportErrors.length === 1, { timeoutMs: 100, what: 'onTransportError' });
      const wrapped = a2.transportErrors[0]!;
      assert.ok(wrapped instanceof TransportError);
      assert.equal(wrapped.code, 'failed');
      assert.equal(wrapped.target, TCP_TARGET);
      assert.equal(wrapped.cause, odd);
      k.transport.failSendTo = null;

      // send on a flow fails.
      k.transport.failSend = true;
      const b = clientLog();
      const txB = k.layer.sendRequest(outgoing({ branch: branch(), method: 'BYE' }), UDP_TARGET, b.handlers, flow());
      assert.equal(b.transportErrors.length, 0);
      await sleep(0);
      assert.equal(b.transportErrors.length, 1);
      assert.ok(b.transportErrors[0] instanceof TransportError);
      assert.equal(b.transportErrors[0].code, 'closed');
      assert.equal(txB.state, 'Terminated');
      k.transport.failSend = false;

      // The first send works, a Timer A retransmission fails.
      const c = clientLog();
      const txC = k.layer.sendRequest(outgoing({ branch: branch() }), UDP_TARGET, c.handlers);
      await waitFor(() => txC.flow !== null, { timeoutMs: 100, what: 'sent' });
      k.transport.failSend = true;
      await waitFor(() => c.transportErrors.length === 1, { timeoutMs: 200, what: 'retransmission error' });
      assert.equal((c.transportErrors[0] as TransportError).code, 'closed');
      assert.equal(txC.state, 'Terminated');
      await sleep(30);
      assert.equal(c.transportErrors.length, 1);
      assert.equal(c.timeouts, 0);
      assert.equal(k.layer.clientCount(), 0);
    } finally {
      k.close();
    }
  });

  test('a connection that takes longer than Timer B: onTimeout, and the late connect is ignored', async () => {
    const k = kit({ t1: 2 }); // Timer B = 128 ms
    try {
      k.transport.connectDelayMs = 200;
      const cl = clientLog();
      const tx = k.layer.sendRequest(outgoing({ branch: branch(), transport: 'TCP' }), TCP_TARGET, cl.handlers);
      await waitFor(() => cl.timeouts === 1, { timeoutMs: 400, what: 'Timer B' });
      await sleep(120);
      assert.equal(tx.flow, null);
      assert.equal(cl.transportErrors.length, 0);
    } finally {
      k.close();
    }
  });

  test('TU handlers that throw are logged; the transaction carries on', async () => {
    const k = kit();
    try {
      const boom = (): never => {
        throw new Error('TU bug');
      };
      const req = outgoing({ branch: branch() });
      const tx = k.layer.sendRequest(req, UDP_TARGET, {
        onProvisional: boom,
        onFinal: boom,
        onRetransmitted2xx: boom,
        onTimeout: boom,
        onTransportError: boom,
      });
      await waitFor(() => tx.flow !== null, { timeoutMs: 100, what: 'sent' });
      k.layer.receiveResponse(responseTo(req, 180, { toTag: 't' }), tx.flow!);
      k.layer.receiveResponse(responseTo(req, 200, { toTag: 't' }), tx.flow!);
      k.layer.receiveResponse(responseTo(req, 200, { toTag: 't' }), tx.flow!);
      assert.equal(tx.state, 'Accepted');
      assert.equal(k.log.warns.length, 3);
      tx.terminate();
      assert.equal(tx.state, 'Terminated');
      assert.equal(k.layer.clientCount(), 0);
    } finally {
      k.close();
    }
  });
});
