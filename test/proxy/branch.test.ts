import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loopHash, loopHashOf, newBranch, statelessBranch } from '../../src/proxy/branch.js';
import type { SipMessage } from '../../src/sip/message.js';
import { msg } from '../helpers/sip-messages.js';

interface Fields {
  ruri?: string;
  fromTag?: string;
  toTag?: string | null;
  callId?: string;
  cseq?: number;
  mf?: number;
  vias?: string[];
  proxyRequire?: string;
}

function invite(f: Fields = {}): SipMessage {
  return msg([
    `INVITE ${f.ruri ?? 'sip:bob@example.org'} SIP/2.0`,
    ...(f.vias ?? ['SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKcaller1']).map((v) => `Via: ${v}`),
    `Max-Forwards: ${f.mf ?? 70}`,
    `From: <sip:alice@example.net>;tag=${f.fromTag ?? 'a1'}`,
    `To: <sip:bob@example.org>${f.toTag ? `;tag=${f.toTag}` : ''}`,
    `Call-ID: ${f.callId ?? 'branch@example.net'}`,
    `CSeq: ${f.cseq ?? 1} INVITE`,
    ...(f.proxyRequire !== undefined ? [`Proxy-Require: ${f.proxyRequire}`] : []),
  ]);
}

test('loopHash is stable: the same request parsed twice, and a clone, hash the same', () => {
  const a = invite();
  assert.equal(loopHash(a), loopHash(invite()));
  assert.equal(loopHash(a), loopHash(a.clone()));
  assert.equal(loopHash(a), loopHash(a));
  assert.match(loopHash(a), /^[0-9a-z]+$/);
});

test('loopHash ignores what changes hop by hop: Vias (another element in the loop) and Max-Forwards', () => {
  const a = invite();
  const b = invite({
    mf: 65,
    vias: ['SIP/2.0/TCP 192.0.2.50:5060;branch=z9hG4bKother', 'SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKcaller1'],
  });
  assert.equal(loopHash(a), loopHash(b));
});

test('loopHash differs when the Request-URI differs (a spiral, not a loop)', () => {
  assert.notEqual(loopHash(invite()), loopHash(invite({ ruri: 'sip:bob@pbx.example.org' })));
  assert.notEqual(loopHash(invite()), loopHash(invite({ ruri: 'sip:carol@example.org' })));
});

test('loopHash covers the other fields of RFC 3261 16.6 step 8: tags, Call-ID, CSeq number, Proxy-Require', () => {
  const base = loopHash(invite());
  assert.notEqual(loopHash(invite({ fromTag: 'a2' })), base);
  assert.notEqual(loopHash(invite({ toTag: 'b1' })), base);
  assert.notEqual(loopHash(invite({ callId: 'other@example.net' })), base);
  assert.notEqual(loopHash(invite({ cseq: 2 })), base);
  assert.notEqual(loopHash(invite({ proxyRequire: 'foo' })), base);
});

test('newBranch: the magic cookie, the loop hash, a counter; unique per call', () => {
  const req = invite();
  const b1 = newBranch(req);
  const b2 = newBranch(req);
  assert.ok(b1.startsWith('z9hG4bK'), b1);
  assert.notEqual(b1, b2);
  assert.equal(loopHashOf(b1), loopHash(req));
  assert.equal(loopHashOf(b2), loopHash(req));
});

test('loopHashOf: null for a branch that is not ours', () => {
  assert.equal(loopHashOf('z9hG4bKcaller1'), null); // no dot
  assert.equal(loopHashOf('abc.def'), null); // no magic cookie
  assert.equal(loopHashOf(''), null);
  assert.equal(loopHashOf('z9hG4bKabc.1'), 'abc');
});

test('statelessBranch: the same for a retransmission, different for another request', () => {
  const a = invite();
  assert.equal(statelessBranch(a), statelessBranch(invite()));
  assert.ok(statelessBranch(a).startsWith('z9hG4bK'));
  assert.notEqual(
    statelessBranch(a),
    statelessBranch(invite({ vias: ['SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKcaller2'] })),
  );
  assert.notEqual(statelessBranch(a), statelessBranch(invite({ ruri: 'sip:carol@example.org' })));
});
