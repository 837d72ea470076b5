import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { RoutePolicy, type RoutePolicyEnv, type RouteVerdict } from '../../src/proxy/route-policy.js';
import { DialogStamp } from '../../src/proxy/dialog-stamp.js';
import { Router } from '../../src/proxy/router.js';
import { LocalIdentity } from '../../src/core/local-identity.js';
import { Counters } from '../../src/core/counters.js';
import { TrustedAddresses } from '../../src/security/trust.js';
import type { SipMessage } from '../../src/sip/message.js';
import type { Flow } from '../../src/transport/types.js';
import type { RouteConfig } from '../../src/config/schema.js';
import { parse } from '../helpers/sip-messages.js';

/**
 * The Route policy (src/proxy/route-policy.ts) with the server's real parts:
 * its identity (127.0.0.1:5070), the security edge's trusted addresses
 * (security.trusted 192.0.2.0/24, trustSelf), a routes: table, a stamp key.
 * A stranger is 198.51.100.7; the carrier gateway 203.0.113.9.
 */
const stamp = new DialogStamp(randomBytes(32));
const identity = new LocalIdentity([{ host: '127.0.0.1', port: 5070 }]);
identity.addPort(5070);
const trust = new TrustedAddresses(['192.0.2.0/24'], ['127.0.0.1'], true);
const counters = new Counters();
const lines: string[] = [];
const env: RoutePolicyEnv = {
  isOurs: (h, p) => identity.isLocalHostPort(h, p),
  isLocalHost: (h) => identity.isLocalHost(h),
  isTrustedSource: trust.isTrusted,
  dialogStamp: stamp,
  counters,
  log: { warn: (_o, m) => void lines.push(m), info: () => undefined, debug: () => undefined },
};
const rule: RouteConfig = { match: { source: '10.9.0.0/16' }, mode: 'serial', stateless: false, trustRoute: true };
const router = new Router([rule, { match: {}, then: 'location', mode: 'serial', stateless: false }]);

function req(o: {
  method?: string;
  ruri: string;
  routes?: string[];
  fromTag?: string;
  toTag?: string;
  callId?: string;
}): SipMessage {
  const method = o.method ?? 'INVITE';
  const text = [
    `${method} ${o.ruri} SIP/2.0`,
    'Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKp1',
    'Max-Forwards: 70',
    `From: <sip:alice@example.net>;tag=${o.fromTag ?? 'a1'}`,
    `To: <sip:bob@example.org>${o.toTag !== undefined ? `;tag=${o.toTag}` : ''}`,
    `Call-ID: ${o.callId ?? 'policy@example.net'}`,
    `CSeq: 1 ${method}`,
    ...(o.routes ?? []).map((r) => `Route: ${r}`),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  return parse(text);
}

const from = (ip: string): Flow => ({
  proto: 'udp',
  localHost: '127.0.0.1',
  localPort: 5070,
  remoteHost: ip,
  remotePort: 5060,
  connectionId: null,
});

function verdict(m: SipMessage, ip = '198.51.100.7'): RouteVerdict {
  const policy = new RoutePolicy(env);
  const target = policy.preprocess(m);
  return policy.verdict(m, from(ip), target, router);
}

const GW = '<sip:203.0.113.9;lr>';
const OURS = '<sip:127.0.0.1:5070;lr>';

test('an initial request with no Route, or a Route of only ours (an outbound proxy), goes to the routing table', () => {
  assert.equal(verdict(req({ ruri: 'sip:+15551234@127.0.0.1' })), 'route');
  assert.equal(verdict(req({ ruri: 'sip:+15551234@203.0.113.9', routes: [OURS] })), 'route');
  assert.equal(
    verdict(req({ ruri: 'sip:+15551234@203.0.113.9', routes: [`${OURS}, <sip:localhost:5070;lr>`] })),
    'route',
  );
});

test('an initial request from a stranger with a Route naming another host: foreign-route, whatever its place and form', () => {
  for (const routes of [
    [GW],
    [OURS, GW],
    [`${OURS}, ${GW}`],
    ['<sip:203.0.113.9>'],
    ['<sips:203.0.113.9;lr>'],
    ['<sip:[2001:db8::9];lr>'],
    [`<sip:127.0.0.1:5070;lr;dsig=${stamp.of('policy@example.net', 'a1')}>`, GW],
  ]) {
    assert.equal(verdict(req({ ruri: 'sip:+15551234@127.0.0.1', routes })), 'foreign-route', routes.join(' | '));
  }
  // 127.0.0.1 on another port is another host's proxy, not us.
  assert.equal(verdict(req({ ruri: 'sip:+15551234@127.0.0.1', routes: ['<sip:127.0.0.1:5080;lr>'] })), 'foreign-route');
});

test("trusted sources follow their Route: security.trusted, the server's own address, a trustRoute rule", () => {
  const m = (): SipMessage => req({ ruri: 'sip:+15551234@127.0.0.1', routes: [GW] });
  assert.equal(verdict(m(), '192.0.2.44'), 'follow');
  assert.equal(verdict(m(), '127.0.0.1'), 'follow');
  assert.equal(verdict(m(), '10.9.8.7'), 'follow');
  assert.equal(verdict(m(), '10.8.8.7'), 'foreign-route');
});

test('an in-dialog request along our stamped Record-Route follows, from the caller and from the callee', () => {
  const s = stamp.of('policy@example.net', 'a1');
  const rr = `<sip:127.0.0.1:5070;lr;dsig=${s}>`;
  assert.equal(
    verdict(req({ method: 'BYE', ruri: 'sip:bob@203.0.113.20', routes: [rr], fromTag: 'a1', toTag: 'b1' })),
    'follow',
  );
  assert.equal(
    verdict(
      req({
        method: 'BYE',
        ruri: 'sip:alice@203.0.113.30',
        routes: [rr, '<sip:203.0.113.40;lr>'],
        fromTag: 'b1',
        toTag: 'a1',
      }),
    ),
    'follow',
  );
  // A strict router before us: our stamped URI as Request-URI.
  assert.equal(
    verdict(
      req({ method: 'ACK', ruri: `sip:127.0.0.1:5070;lr;dsig=${s}`, routes: ['<sip:bob@203.0.113.20>'], toTag: 'b1' }),
    ),
    'follow',
  );
});

test('an in-dialog request from a stranger not along a verified entry of ours: forged-dialog', () => {
  const s = stamp.of('policy@example.net', 'a1');
  const cases: Array<[string, SipMessage]> = [
    ['no Route, foreign Request-URI', req({ method: 'BYE', ruri: 'sip:bob@203.0.113.9', toTag: 'b1' })],
    ['our Route without a stamp', req({ method: 'BYE', ruri: 'sip:bob@203.0.113.9', routes: [OURS], toTag: 'b1' })],
    [
      'the stamp of another Call-ID',
      req({
        method: 'BYE',
        ruri: 'sip:bob@203.0.113.9',
        routes: [`<sip:127.0.0.1:5070;lr;dsig=${s}>`],
        toTag: 'b1',
        callId: 'other@example.net',
      }),
    ],
    [
      'the stamp with other tags',
      req({
        method: 'BYE',
        ruri: 'sip:bob@203.0.113.9',
        routes: [`<sip:127.0.0.1:5070;lr;dsig=${s}>`],
        fromTag: 'x',
        toTag: 'y',
      }),
    ],
    [
      'a foreign Route, us as Request-URI',
      req({ method: 'INFO', ruri: 'sip:bob@127.0.0.1:5070', routes: [GW], toTag: 'b1' }),
    ],
    [
      "a stamp on another host's entry",
      req({ method: 'BYE', ruri: 'sip:bob@203.0.113.9', routes: [`<sip:203.0.113.9;lr;dsig=${s}>`], toTag: 'b1' }),
    ],
  ];
  for (const [what, m] of cases) assert.equal(verdict(m), 'forged-dialog', what);
  // The same from a trusted source is followed (a dialog that did not record-route through us, a PBX's outbound proxy).
  assert.equal(verdict(req({ method: 'BYE', ruri: 'sip:bob@203.0.113.9', toTag: 'b1' }), '192.0.2.1'), 'follow');
});

test('an in-dialog request addressed to us (any user part) with no Route left: for-us (481), from anyone', () => {
  for (const ruri of [
    'sip:test@127.0.0.1',
    'sip:test@127.0.0.1:5070',
    'sip:test@localhost:5070',
    'sip:127.0.0.1:5070',
    'sips:test@127.0.0.1',
  ]) {
    assert.equal(verdict(req({ method: 'BYE', ruri, toTag: 'b1' })), 'for-us', ruri);
    assert.equal(
      verdict(req({ method: 'BYE', ruri, toTag: 'b1', routes: [OURS] }), '127.0.0.1'),
      'for-us',
      `${ruri} via our Route`,
    );
  }
  // Our host on a port we do not listen on is not us.
  assert.equal(verdict(req({ method: 'BYE', ruri: 'sip:test@127.0.0.1:5999', toTag: 'b1' })), 'forged-dialog');
});

test('refusals count in the security counters and log one line per source and verdict', () => {
  const policy = new RoutePolicy(env);
  const m = req({ ruri: 'sip:x@127.0.0.1', routes: [GW] });
  const before = lines.length;
  for (let i = 0; i < 3; i++) policy.refused(m, from('198.51.100.99'), 'foreign-route');
  policy.refused(m, from('198.51.100.99'), 'forged-dialog');
  assert.equal(counters.get('security_route_foreign'), 3);
  assert.equal(counters.get('security_route_forged'), 1);
  assert.equal(lines.length - before, 2);
});
