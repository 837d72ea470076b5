import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router, type RouteDecision } from '../../src/proxy/router.js';
import type { RouteConfig, RouteMatch } from '../../src/config/schema.js';
import { parseUri } from '../../src/sip/uri.js';
import type { SipMessage } from '../../src/sip/message.js';
import { msg } from '../helpers/sip-messages.js';

function fwd(match: RouteMatch, forward: string[], extra: Partial<RouteConfig> = {}): RouteConfig {
  return { match, forward, mode: 'serial', stateless: false, ...extra };
}

function req(method: string, ruri: string): SipMessage {
  return msg([
    `${method} ${ruri} SIP/2.0`,
    'Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKr1',
    'Max-Forwards: 70',
    'From: <sip:alice@example.net>;tag=a1',
    `To: <${ruri}>`,
    'Call-ID: router@example.net',
    `CSeq: 1 ${method}`,
  ]);
}

function decide(router: Router, method: string, ruri: string, source = '198.51.100.7'): RouteDecision {
  const m = req(method, ruri);
  return router.decide(m, parseUri(m.requestUri), source);
}

function indexOf(d: RouteDecision): number | null {
  return d.kind === 'none' ? null : d.index;
}

test('an empty table decides none', () => {
  const r = new Router([]);
  assert.equal(r.size, 0);
  assert.deepEqual(decide(r, 'INVITE', 'sip:bob@example.org'), { kind: 'none' });
});

test('a rule with no condition matches everything', () => {
  const r = new Router([fwd({}, ['sip:gw.example.com'])]);
  assert.deepEqual(decide(r, 'OPTIONS', 'sip:example.org'), {
    kind: 'forward',
    targets: ['sip:gw.example.com'],
    mode: 'serial',
    stateless: false,
    index: 0,
  });
});

test('method matches exactly', () => {
  const r = new Router([fwd({ method: 'MESSAGE' }, ['sip:im.example.com'])]);
  assert.equal(decide(r, 'MESSAGE', 'sip:bob@example.org').kind, 'forward');
  assert.equal(decide(r, 'INVITE', 'sip:bob@example.org').kind, 'none');
});

test('user is a regular expression over the Request-URI user part', () => {
  const r = new Router([
    fwd({ user: '^\\+44' }, ['sip:uk.example.com']),
    fwd({ user: '^$' }, ['sip:nouser.example.com']),
  ]);
  assert.equal(indexOf(decide(r, 'INVITE', 'sip:+442071234567@example.org')), 0);
  assert.equal(indexOf(decide(r, 'INVITE', 'sip:+14155550100@example.org')), null);
  // No user part: the user is '' for matching.
  assert.equal(indexOf(decide(r, 'INVITE', 'sip:example.org')), 1);
});

test('user matches the number of a tel: URI', () => {
  const r = new Router([fwd({ user: '^\\+1415' }, ['sip:us.example.com'])]);
  assert.equal(indexOf(decide(r, 'INVITE', 'tel:+14155550100')), 0);
});

test('host is a case-insensitive regular expression over the Request-URI host', () => {
  const r = new Router([fwd({ host: '^trunk\\.example\\.com$' }, ['sip:gw.example.com'])]);
  assert.equal(indexOf(decide(r, 'INVITE', 'sip:bob@trunk.example.com')), 0);
  assert.equal(indexOf(decide(r, 'INVITE', 'sip:bob@TRUNK.Example.COM')), 0);
  assert.equal(indexOf(decide(r, 'INVITE', 'sip:bob@other.example.com')), null);
});

test('source matches an IP or a CIDR block (IPv4 and IPv6)', () => {
  const r = new Router([
    fwd({ source: '203.0.113.0/24' }, ['sip:a.example.com']),
    fwd({ source: '198.51.100.7' }, ['sip:b.example.com']),
    fwd({ source: '2001:db8::/32' }, ['sip:c.example.com']),
  ]);
  assert.equal(indexOf(decide(r, 'INVITE', 'sip:bob@example.org', '203.0.113.99')), 0);
  assert.equal(indexOf(decide(r, 'INVITE', 'sip:bob@example.org', '198.51.100.7')), 1);
  assert.equal(indexOf(decide(r, 'INVITE', 'sip:bob@example.org', '198.51.100.8')), null);
  assert.equal(indexOf(decide(r, 'INVITE', 'sip:bob@example.org', '2001:db8::5')), 2);
});

test('every condition of a rule must hold', () => {
  const r = new Router([
    fwd({ method: 'INVITE', user: '^bob$', host: 'example\\.org', source: '198.51.100.0/24' }, ['sip:gw.example.com']),
  ]);
  assert.equal(indexOf(decide(r, 'INVITE', 'sip:bob@example.org')), 0);
  assert.equal(indexOf(decide(r, 'MESSAGE', 'sip:bob@example.org')), null);
  assert.equal(indexOf(decide(r, 'INVITE', 'sip:carol@example.org')), null);
  assert.equal(indexOf(decide(r, 'INVITE', 'sip:bob@example.com')), null);
  assert.equal(indexOf(decide(r, 'INVITE', 'sip:bob@example.org', '203.0.113.1')), null);
});

test('the first matching rule wins', () => {
  const r = new Router([
    fwd({ user: '^911$' }, ['sip:psap.example.com']),
    { match: { method: 'MESSAGE' }, reply: 405, mode: 'serial', stateless: false },
    fwd({ user: '^9' }, ['sip:nine.example.com']),
    fwd({}, ['sip:default.example.com']),
  ]);
  assert.equal(indexOf(decide(r, 'INVITE', 'sip:911@example.org')), 0);
  assert.equal(indexOf(decide(r, 'MESSAGE', 'sip:911@example.org')), 0);
  assert.equal(indexOf(decide(r, 'MESSAGE', 'sip:912@example.org')), 1);
  assert.equal(indexOf(decide(r, 'INVITE', 'sip:912@example.org')), 2);
  assert.equal(indexOf(decide(r, 'INVITE', 'sip:bob@example.org')), 3);
});

test('decisions: forward (targets, mode, stateless), reply, stage', () => {
  const r = new Router([
    fwd({ user: '^par$' }, ['sip:a.example.com', 'sip:b.example.com;transport=tcp'], { mode: 'parallel' }),
    fwd({ user: '^sl$' }, ['sip:c.example.com'], { stateless: true }),
    { match: { user: '^busy$' }, reply: 486, mode: 'serial', stateless: false },
    { match: { user: '^reg$' }, then: 'location', mode: 'serial', stateless: false },
    { match: { user: '^pstn$' }, then: 'trunking', mode: 'serial', stateless: false },
  ]);
  assert.deepEqual(decide(r, 'INVITE', 'sip:par@example.org'), {
    kind: 'forward',
    targets: ['sip:a.example.com', 'sip:b.example.com;transport=tcp'],
    mode: 'parallel',
    stateless: false,
    index: 0,
  });
  assert.deepEqual(decide(r, 'INVITE', 'sip:sl@example.org'), {
    kind: 'forward',
    targets: ['sip:c.example.com'],
    mode: 'serial',
    stateless: true,
    index: 1,
  });
  assert.deepEqual(decide(r, 'INVITE', 'sip:busy@example.org'), { kind: 'reply', status: 486, index: 2 });
  assert.deepEqual(decide(r, 'INVITE', 'sip:reg@example.org'), { kind: 'stage', stage: 'location', index: 3 });
  assert.deepEqual(decide(r, 'INVITE', 'sip:pstn@example.org'), { kind: 'stage', stage: 'trunking', index: 4 });
  assert.deepEqual(decide(r, 'INVITE', 'sip:other@example.org'), { kind: 'none' });
});

test('a regex is compiled once and gives the same answer on every call (no lastIndex state)', () => {
  const r = new Router([fwd({ user: 'bob' }, ['sip:gw.example.com'])]);
  for (let i = 0; i < 5; i++) assert.equal(indexOf(decide(r, 'INVITE', 'sip:bob@example.org')), 0);
});

test("trustRoute: a rule with only trustRoute has no action (the search goes on); trustsRoute asks every such rule's conditions", () => {
  const r = new Router([
    { match: { source: '10.0.0.0/8', method: 'INVITE' }, mode: 'serial', stateless: false, trustRoute: true },
    fwd({ user: '^\\+44' }, ['sip:gw.example.com'], { trustRoute: true }),
    fwd({}, ['sip:other.example.com']),
  ]);
  assert.equal(indexOf(decide(r, 'INVITE', 'sip:bob@example.org', '10.1.2.3')), 2);
  const m = (method: string, ruri: string): [SipMessage, ReturnType<typeof parseUri>] => {
    const x = req(method, ruri);
    return [x, parseUri(x.requestUri)];
  };
  assert.equal(r.trustsRoute(...m('INVITE', 'sip:bob@example.org'), '10.1.2.3'), true);
  assert.equal(r.trustsRoute(...m('MESSAGE', 'sip:bob@example.org'), '10.1.2.3'), false);
  assert.equal(r.trustsRoute(...m('INVITE', 'sip:bob@example.org'), '198.51.100.7'), false);
  assert.equal(r.trustsRoute(...m('MESSAGE', 'sip:+441234@example.org'), '198.51.100.7'), true);
  assert.equal(new Router([fwd({}, ['sip:gw.example.com'])]).trustsRoute(...m('INVITE', 'sip:x@y'), '10.1.2.3'), false);
});
