import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkProxyRequest } from '../../src/proxy/request-checks.js';
import { newBranch } from '../../src/proxy/branch.js';
import type { SipMessage } from '../../src/sip/message.js';
import { parseUri } from '../../src/sip/uri.js';
import { msg } from '../helpers/sip-messages.js';

/** We are 192.0.2.1 on port 5060 (a port left out means 5060). */
const isOurs = (host: string, port: number | null): boolean => host === '192.0.2.1' && (port === null || port === 5060);

function check(req: SipMessage) {
  return checkProxyRequest(req, parseUri(req.requestUri), isOurs);
}

function invite(o: { ruri?: string; mf?: number; vias?: string[]; extra?: string[] } = {}): SipMessage {
  return msg([
    `INVITE ${o.ruri ?? 'sip:bob@example.org'} SIP/2.0`,
    ...(o.vias ?? ['SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKcaller1']).map((v) => `Via: ${v}`),
    `Max-Forwards: ${o.mf ?? 70}`,
    'From: <sip:alice@example.net>;tag=a1',
    'To: <sip:bob@example.org>',
    'Call-ID: checks@example.net',
    'CSeq: 1 INVITE',
    ...(o.extra ?? []),
  ]);
}

test('a plain request passes every check', () => {
  assert.equal(check(invite()), null);
  assert.equal(check(invite({ ruri: 'sips:bob@example.org' })), null);
  assert.equal(check(invite({ ruri: 'tel:+14155550100' })), null);
});

test('416 for a Request-URI scheme the proxy cannot route (RFC 4475 unkscm-like)', () => {
  const req = msg([
    'OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0',
    'To: sip:j.user@example.com',
    'From: sip:caller@example.net;tag=384',
    'Max-Forwards: 3',
    'Call-ID: unkscm.nasdfasser0q239nwsdfasdkl34',
    'CSeq: 3923423 OPTIONS',
    'Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw380234',
  ]);
  assert.deepEqual(check(req), { status: 416 });
  assert.deepEqual(check(invite({ ruri: 'http://example.org/bob' })), { status: 416 });
});

test('483 for Max-Forwards 0; 1 still passes; a missing Max-Forwards is not refused here', () => {
  assert.deepEqual(check(invite({ mf: 0 })), { status: 483 });
  assert.equal(check(invite({ mf: 1 })), null);
  const noMf = msg([
    'OPTIONS sip:bob@example.org SIP/2.0',
    'Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKnomf',
    'From: <sip:alice@example.net>;tag=a1',
    'To: <sip:bob@example.org>',
    'Call-ID: nomf@example.net',
    'CSeq: 1 OPTIONS',
  ]);
  assert.equal(check(noMf), null);
});

test('420 with Unsupported listing every unknown Proxy-Require tag (RFC 4475 bext01-like)', () => {
  const req = msg([
    'OPTIONS sip:user@example.com SIP/2.0',
    'To: sip:j_user@example.com',
    'From: sip:caller@example.net;tag=242etr',
    'Max-Forwards: 6',
    'Call-ID: bext01.0ha0isndaksdj',
    'Require: nothere',
    'Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bK3sd5',
    'Proxy-Require: noway, nohow',
    'CSeq: 8 OPTIONS',
  ]);
  const r = check(req);
  assert.equal(r?.status, 420);
  assert.deepEqual(r?.headers, [['Unsupported', 'noway, nohow']]);
});

test('Proxy-Require over two lines: every tag is listed', () => {
  const r = check(invite({ extra: ['Proxy-Require: foo', 'Proxy-Require: bar'] }));
  assert.equal(r?.status, 420);
  assert.deepEqual(r?.headers, [['Unsupported', 'foo, bar']]);
});

test("Require (for the UAS) is not the proxy's business", () => {
  assert.equal(check(invite({ extra: ['Require: nothere'] })), null);
});

test('482: the request comes back with our Via and the same loop hash (a loop)', () => {
  const first = invite();
  const ours = `SIP/2.0/UDP 192.0.2.1:5060;branch=${newBranch(first)}`;
  const back = invite({ mf: 69, vias: [ours, 'SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKcaller1'] });
  assert.deepEqual(check(back), { status: 482 });
});

test('482 also when another element is in the loop (our Via is not the top one)', () => {
  const first = invite();
  const back = invite({
    mf: 68,
    vias: [
      'SIP/2.0/UDP 203.0.113.9:5060;branch=z9hG4bKother',
      `SIP/2.0/UDP 192.0.2.1;branch=${newBranch(first)}`,
      'SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKcaller1',
    ],
  });
  assert.deepEqual(check(back), { status: 482 });
});

test('no 482 for a spiral: our Via is there but the Request-URI changed', () => {
  const first = invite();
  const spiral = invite({
    ruri: 'sip:bob@pbx.example.org',
    vias: [
      `SIP/2.0/UDP 192.0.2.1:5060;branch=${newBranch(first)}`,
      'SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKcaller1',
    ],
  });
  assert.equal(check(spiral), null);
});

test('no 482 when the matching branch is in a Via that is not ours', () => {
  const first = invite();
  const other = invite({
    vias: [
      `SIP/2.0/UDP 203.0.113.9:5060;branch=${newBranch(first)}`,
      'SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKcaller1',
    ],
  });
  assert.equal(check(other), null);
});

test('order of 16.3: the scheme (416) before Max-Forwards (483) before the loop (482) before Proxy-Require (420)', () => {
  const first = invite();
  const loopVia = `SIP/2.0/UDP 192.0.2.1:5060;branch=${newBranch(first)}`;
  assert.equal(check(invite({ ruri: 'http://example.org/x', mf: 0 }))?.status, 416);
  assert.equal(check(invite({ mf: 0, vias: [loopVia], extra: ['Proxy-Require: x'] }))?.status, 483);
  assert.equal(check(invite({ vias: [loopVia], extra: [] }))?.status, 482);
  assert.equal(check(invite({ extra: ['Proxy-Require: x'] }))?.status, 420);
});
