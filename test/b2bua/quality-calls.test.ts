/**
 * Carrier quality and gateway load inside the B2BUA, no sockets
 * (call-kit.ts: carrier gw with gateways 1 and 2):
 *
 * - a demoted gateway is tried after the carrier's other gateway, and the
 *   attempts of a real call (180 then 486) reach the quality board with
 *   their PDD;
 * - a gateway at its capacity (1 call) overflows the next call to the
 *   other gateway; the place is freed when the call ends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/wait.js';
import { GW1, GW2, answer, callKit, callerInvite, cancelOf, isRequest, sentMatching } from './call-kit.js';
import { DEFAULT_QUALITY, QualityBoard } from '../../src/trunking/quality.js';
import { GatewayLoad } from '../../src/trunking/gateway-load.js';

const URI1 = `sip:${GW1}:5060`;
const URI2 = `sip:${GW2}:5060`;

test("a demoted gateway is tried after the other; a call's attempts reach the board with their PDD", async (t) => {
  const quality = new QualityBoard({ ...DEFAULT_QUALITY, minCalls: 2, minAsr: 50 });
  // Gateway 1 failed twice, gateway 2 answered twice: the carrier at 50% is kept, gateway 1 at 0% is demoted.
  for (const [gateway, status] of [
    [URI2, 200],
    [URI1, 503],
    [URI2, 200],
    [URI1, 503],
  ] as const)
    quality.record({ carrier: 'gw', gateway, status });
  assert.deepEqual([quality.isDemoted('gw', null), quality.isDemoted('gw', URI1)], [false, true]);
  const ck = await callKit({ quality });
  t.after(() => ck.close());
  ck.fromCaller(callerInvite().invite);
  const inv = await sentMatching(ck, GW2, 'INVITE to gateway 2 first', isRequest('INVITE'));
  assert.deepEqual(ck.trace(GW1), [], 'gateway 1 not tried first');
  ck.fromGateway(GW2, answer(inv, 180, 'g2'));
  await new Promise((r) => setTimeout(r, 30));
  ck.fromGateway(GW2, answer(inv, 486, 'g2'));
  const g2 = await waitFor(() => quality.snapshot().gateways.find((g) => g.gateway === URI2 && g.attempts === 3), {
    timeoutMs: 2000,
    what: 'the 486 on the board',
  });
  // 486 is the user's: NER 100%, ASR 2 of 3; the PDD of the 180 (about 0 ms here, as the 180 came at once).
  assert.deepEqual([g2.asr, g2.ner], [66.7, 100]);
  assert.ok(g2.pdd !== null && g2.pdd >= 0 && g2.pdd < 1000, `pdd ${g2.pdd}`);
  const [cdr] = await ck.cdrs();
  assert.deepEqual([cdr!.status, cdr!.gateway, cdr!.q850], [486, URI2, 17]);
  const pdd = cdr!.pddMs ?? null;
  assert.ok(pdd !== null && pdd >= 0, 'the CDR has the PDD of the 180');
});

test('a gateway at its capacity overflows the next call to the other; the place is freed with the call', async (t) => {
  const load = new GatewayLoad([
    {
      carrier: 'gw',
      maxCalls: null,
      balance: 'weighted',
      gateways: [{ uri: URI1, priority: 1, weight: 1, maxCalls: 1 }],
    },
  ]);
  const ck = await callKit({ load });
  t.after(() => ck.close());
  const first = callerInvite();
  ck.fromCaller(first.invite);
  const inv1 = await sentMatching(ck, GW1, 'INVITE of call 1', isRequest('INVITE'));
  ck.fromGateway(GW1, answer(inv1, 180, 'g1'));
  assert.equal(load.calls('gw', URI1), 1);
  ck.fromCaller(callerInvite().invite);
  await sentMatching(ck, GW2, 'INVITE of call 2 to gateway 2', isRequest('INVITE'));
  assert.equal(ck.counters.get('b2bua_capacity_overflows'), 1);
  assert.deepEqual([load.calls('gw'), load.calls('gw', URI2)], [2, 1]);
  // Call 1 cancelled by its caller: its place on gateway 1 is free again.
  ck.fromCaller(cancelOf(first.invite));
  await waitFor(() => (load.calls('gw', URI1) === 0 ? true : undefined), { timeoutMs: 2000, what: 'the place freed' });
});
