import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { TimerWheel } from '../../src/transaction/timer-wheel.js';
import { TransactionLayer, type ServerTransaction } from '../../src/transaction/transaction-layer.js';
import type { Flow } from '../../src/transport/types.js';
import type { Target, TransactionTransport } from '../../src/transaction/types.js';
import { request, outgoing, responseTo, ackFor, flow, UDP_TARGET } from './helpers.js';
import { sleep, waitFor } from '../helpers/wait.js';

function nodeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

/** Counts sends by start line; keeps nothing. */
class CountingTransport implements TransactionTransport {
  byStart = new Map<string, number>();
  private readonly udp: Flow = flow('udp', UDP_TARGET.host, UDP_TARGET.port);
  private count(data: Buffer): void {
    const sp = data.indexOf(32);
    const key = data.subarray(0, data.indexOf(32, sp + 1)).toString('latin1');
    this.byStart.set(key, (this.byStart.get(key) ?? 0) + 1);
  }
  send(_f: Flow, data: Buffer): boolean {
    this.count(data);
    return true;
  }
  async sendTo(_t: Target, data: Buffer): Promise<Flow> {
    this.count(data);
    return this.udp;
  }
  n(start: string): number {
    return this.byStart.get(start) ?? 0;
  }
}

test('5,000 INVITE server + 5,000 INVITE client transactions (UDP, RFC timers) hold ONE Node timer', async () => {
  assert.equal(nodeTimers(), 0, 'test starts without Node timers');
  const N = 5000;
  const wheel = new TimerWheel(10);
  const transport = new CountingTransport();
  const layer = new TransactionLayer({ transport, wheel }); // T1 500 ms: nothing ends during the test
  const servers: ServerTransaction[] = [];
  layer.setUser({
    onRequest(_req, tx) {
      if (tx !== null) servers.push(tx);
    },
    onStrayResponse() {},
  });

  const invitesIn = Array.from({ length: N }, (_, i) => request({ callId: `in-${i}@scale` }));
  const invitesOut = Array.from({ length: N }, (_, i) =>
    outgoing({ branch: `z9hG4bK-scale-${i}`, callId: `out-${i}@scale` }),
  );
  const refusals = invitesIn.map((req, i) => (i % 2 === 0 ? responseTo(req, 486, { toTag: `t${i}` }) : null));
  const oks = invitesOut.map((req, i) => responseTo(req, 200, { toTag: `c${i}` }));
  const acks = invitesIn.map((req, i) =>
    i % 2 === 0 ? ackFor(req, refusals[i]!, req.topVia.params.get('branch') as string) : null,
  );
  const f = flow('udp');

  try {
    const t0 = performance.now();
    for (const req of invitesIn) layer.receiveRequest(req, f);
    // Half are refused at once (Completed: Timer G + H), half wait for the 100 Trying timer.
    for (let i = 0; i < N; i += 2) servers[i]!.respond(refusals[i]!);
    const clients = invitesOut.map((req) =>
      layer.sendRequest(req, UDP_TARGET, { onFinal() {}, onTimeout() {}, onTransportError() {} }),
    );
    const setupMs = performance.now() - t0;
    await sleep(0); // sendTo resolved: Timer A armed

    assert.equal(layer.serverCount(), N);
    assert.equal(layer.clientCount(), N);
    // Server: N/2 (G, H) + N/2 (100 Trying, unless already fired on a slow machine); client: N (A, B).
    assert.equal(wheel.size() + transport.n('SIP/2.0 100'), N + N / 2 + 2 * N);
    assert.equal(nodeTimers(), 1, 'one Node timer for 10,000 transactions and 17,500 transaction timers');

    // Let the timers work: the 100 Tryings (200 ms), Timer G (500 ms), Timer A (500 ms); the next G/A only at 1.5 s.
    await waitFor(
      () => transport.n('SIP/2.0 486') === N && transport.n('INVITE sip:+15551230000@trunk.example.com') === 2 * N,
      { timeoutMs: 1200, what: 'first Timer A and G retransmissions' },
    );
    assert.equal(nodeTimers(), 1);
    assert.equal(transport.n('SIP/2.0 100'), N / 2, 'a 100 Trying for each unanswered INVITE');

    // Every client gets its 200 (Accepted, Timer M); every refused server its ACK (Confirmed, Timer I).
    const t1 = performance.now();
    for (let i = 0; i < N; i++) layer.receiveResponse(oks[i]!, clients[i]!.flow!);
    for (let i = 0; i < N; i += 2) layer.receiveRequest(acks[i]!, f);
    const matchMs = performance.now() - t1;
    assert.ok(clients.every((c) => c.state === 'Accepted'));
    assert.ok(servers.every((s, i) => s.state === (i % 2 === 0 ? 'Confirmed' : 'Proceeding')));
    assert.equal(wheel.size(), N + N / 2, 'Timer M per client, Timer I per confirmed server; the rest cancelled');
    assert.equal(nodeTimers(), 1);
    assert.ok(setupMs < 3000, `setting up 10,000 transactions took ${setupMs.toFixed(0)} ms`);
    assert.ok(matchMs < 2000, `matching 7,500 messages took ${matchMs.toFixed(0)} ms`);
  } finally {
    layer.stop();
    wheel.stop();
  }
  assert.equal(wheel.size(), 0);
  assert.equal(nodeTimers(), 0);
});
