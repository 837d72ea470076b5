/**
 * The rules of call transfer without I/O: reading Refer-To (RFC 3515),
 * Refer-Sub (RFC 4488) and Replaces (RFC 3891), the sipfrag NOTIFY, the
 * CDR notes, and `trunking.transfer` in the config.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  referNotify,
  referTargetOf,
  replacesInUriHeaders,
  replacesOf,
  TransferHeaderError,
  wantsNoSubscription,
} from '../../src/b2bua/transfer-headers.js';
import { TransferPolicy } from '../../src/b2bua/transfer-policy.js';
import { transferLegCdr, withNotes } from '../../src/b2bua/transfer-cdr.js';
import type { CallPlan } from '../../src/b2bua/plan.js';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { parse } from '../helpers/sip-messages.js';

/** A request with these extra header lines. */
function request(method: string, ...lines: string[]) {
  return parse(
    [
      `${method} sip:trunkline@192.0.2.1 SIP/2.0`,
      'Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK-1',
      'Max-Forwards: 70',
      'From: <sip:+14155550100@203.0.113.10>;tag=a',
      'To: <sip:+15551230000@192.0.2.1>;tag=b',
      'Call-ID: c1@203.0.113.10',
      `CSeq: 7 ${method}`,
      ...lines,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );
}

function headerError(read: () => unknown): TransferHeaderError {
  try {
    read();
  } catch (err) {
    assert.ok(err instanceof TransferHeaderError, String(err));
    return err;
  }
  return assert.fail('expected a TransferHeaderError');
}

describe('Refer-To (RFC 3515 2.1, 2.4.2)', () => {
  test('a SIP or tel URI gives its user or number', () => {
    assert.deepEqual(referTargetOf(request('REFER', 'Refer-To: <sip:+15550001111@pbx.example;user=phone>')), {
      user: '+15550001111',
      method: 'INVITE',
      headers: null,
    });
    assert.equal(referTargetOf(request('REFER', 'r: <tel:+15550001111>')).user, '+15550001111', 'compact form');
    assert.equal(referTargetOf(request('REFER', 'Refer-To: sip:%2B15550001111@pbx.example')).user, '+15550001111');
    assert.equal(referTargetOf(request('REFER', 'Refer-To: <sip:pbx.example>')).user, null);
  });

  test('the method and embedded headers an attended transfer writes are read', () => {
    const t = referTargetOf(
      request('REFER', 'Refer-To: <sip:+15550001111@pbx.example?Replaces=x%40y%3Bto-tag%3D1%3Bfrom-tag%3D2>'),
    );
    assert.equal(t.headers, 'Replaces=x%40y%3Bto-tag%3D1%3Bfrom-tag%3D2');
    assert.equal(referTargetOf(request('REFER', 'Refer-To: <sip:x@pbx.example;method=bye>')).method, 'BYE');
  });

  test('the Replaces among the Refer-To headers is read, unescaped (RFC 3891 6.1)', () => {
    assert.deepEqual(replacesInUriHeaders('Require=replaces&Replaces=x%40y%3Bto-tag%3D1%3Bfrom-tag%3D2'), {
      callId: 'x@y',
      toTag: '1',
      fromTag: '2',
      earlyOnly: false,
    });
    assert.equal(replacesInUriHeaders('Accept-Contact=%2A'), null);
    assert.equal(headerError(() => replacesInUriHeaders('Replaces=x%3Bto-tag%3D1')).status, 400);
    assert.equal(
      headerError(() => replacesInUriHeaders('Replaces=a%3Bto-tag%3D1%3Bfrom-tag%3D2&replaces=b')).status,
      400,
    );
    assert.equal(headerError(() => replacesInUriHeaders('Replaces=%zz')).status, 400);
  });

  test('none, two, or an unreadable one: 400; a scheme we cannot call: 501', () => {
    assert.equal(headerError(() => referTargetOf(request('REFER'))).status, 400);
    const two = headerError(() => referTargetOf(request('REFER', 'Refer-To: <sip:a@x>', 'Refer-To: <sip:b@x>')));
    assert.equal(two.status, 400);
    assert.equal(two.reasonPhrase, 'Bad Refer-To');
    assert.equal(headerError(() => referTargetOf(request('REFER', 'Refer-To: <sip:a@x'))).status, 400);
    assert.equal(headerError(() => referTargetOf(request('REFER', 'Refer-To: <mailto:a@x>'))).status, 501);
  });

  test('Refer-Sub: false asks for no subscription (RFC 4488 4)', () => {
    assert.equal(wantsNoSubscription(request('REFER', 'Refer-Sub: false')), true);
    assert.equal(wantsNoSubscription(request('REFER', 'Refer-Sub: FALSE;x=1')), true);
    assert.equal(wantsNoSubscription(request('REFER', 'Refer-Sub: true')), false);
    assert.equal(wantsNoSubscription(request('REFER')), false);
  });

  test('the NOTIFY of the subscription: Event with the REFER CSeq, its state, a sipfrag', () => {
    const first = referNotify(7, 100, 'Trying', false);
    assert.deepEqual(first.headers, [
      ['Event', 'refer;id=7'],
      ['Subscription-State', 'active;expires=60'],
      ['Content-Type', 'message/sipfrag;version=2.0'],
    ]);
    assert.equal(first.body.toString(), 'SIP/2.0 100 Trying\r\n');
    const last = referNotify(7, 486, 'Busy\r\nHere', true);
    assert.deepEqual(last.headers[1], ['Subscription-State', 'terminated;reason=noresource']);
    assert.equal(last.body.toString(), 'SIP/2.0 486 Busy Here\r\n', 'a reason cannot break the sipfrag');
  });
});

describe('Replaces (RFC 3891 6.1)', () => {
  test('Call-ID and tags as the receiver sees them, early-only', () => {
    assert.deepEqual(
      replacesOf(request('INVITE', 'Replaces: 98732@sip.example.com;from-tag=r33th4x0r;to-tag=ff87ff')),
      {
        callId: '98732@sip.example.com',
        toTag: 'ff87ff',
        fromTag: 'r33th4x0r',
        earlyOnly: false,
      },
    );
    assert.equal(replacesOf(request('INVITE', 'Replaces: a;to-tag=1;from-tag=2;early-only'))?.earlyOnly, true);
    assert.equal(replacesOf(request('INVITE')), null);
  });

  test('two of them, a missing tag or Call-ID: 400', () => {
    for (const lines of [
      ['Replaces: a;to-tag=1;from-tag=2', 'Replaces: b;to-tag=1;from-tag=2'],
      ['Replaces: a;to-tag=1'],
      ['Replaces: ;to-tag=1;from-tag=2'],
      ['Replaces: a;to-tag=1;from-tag'],
      ['Replaces: a;to-tag=1;;'],
    ]) {
      const err = headerError(() => replacesOf(request('INVITE', ...lines)));
      assert.equal(err.status, 400, lines.join(' | '));
    }
  });
});

describe('CDR notes', () => {
  const plan: CallPlan = {
    callSid: 'CAleg',
    direction: 'outbound',
    account: 'acme',
    trunk: 'pbx',
    from: '+14155550100',
    to: '+16660001111',
    received: { from: '+14155550100', to: '+16660001111' },
    emergency: false,
    attempts: [],
    release: () => {},
    legSidHeader: false,
    mediaA: { profile: 'as-offered', codecs: [] },
  };

  test("a new leg's CDR: its own SID, numbers, carrier, the call it joined", () => {
    const cdr = transferLegCdr(
      { plan, transferOf: 'CAcall', startAt: 1000, answerAt: 3000, carrier: 'c2' },
      { endAt: 13_400, status: 200, reason: 'Normal Clearing', hangupBy: 'caller' },
    );
    assert.equal(cdr.callSid, 'CAleg');
    assert.equal(cdr.to, '+16660001111');
    assert.equal(cdr.carrier, 'c2');
    assert.equal(cdr.duration, 10);
    assert.deepEqual(JSON.parse(cdr.extra!), { transferOf: 'CAcall' });
    const busy = transferLegCdr(
      { plan, transferOf: 'CAcall', startAt: 1000, answerAt: null, carrier: 'c3' },
      { endAt: 2000, status: 486, reason: 'Busy Here', hangupBy: 'callee' },
    );
    assert.equal(busy.answerAt, null);
    assert.equal(busy.duration, 0);
  });

  test("the call's extra keeps what it had", () => {
    assert.deepEqual(JSON.parse(withNotes('{"media":{"a":1}}', { replaced: 1 })), { media: { a: 1 }, replaced: 1 });
    assert.deepEqual(JSON.parse(withNotes(null, { replaced: 2 })), { replaced: 2 });
    assert.deepEqual(JSON.parse(withNotes('not json', { replaced: 2 })), { value: 'not json', replaced: 2 });
  });
});

describe('trunking.transfer', () => {
  test('default: relay (as before transfers were handled)', () => {
    const c = parseConfig('', '/srv/trunkline');
    assert.deepEqual(c.trunking.transfer, { policy: 'relay', overrides: [] });
    assert.equal(new TransferPolicy(c.trunking.transfer).forParty('trunk', 'pbx'), 'relay');
  });

  test('overrides per trunk or carrier, the rest the global policy; a reload replaces them', () => {
    const c = parseConfig(
      [
        'trunking:',
        '  transfer:',
        '    policy: perform',
        '    overrides: [{trunk: old-pbx, policy: refuse}, {carrier: c1, policy: relay}]',
      ].join('\n'),
      '/srv/trunkline',
    );
    const p = new TransferPolicy(c.trunking.transfer);
    assert.equal(p.forParty('trunk', 'old-pbx'), 'refuse');
    assert.equal(p.forParty('carrier', 'c1'), 'relay');
    assert.equal(p.forParty('carrier', 'old-pbx'), 'perform', 'a trunk override is not a carrier one');
    assert.equal(p.forParty('trunk', null), 'perform');
    p.update({ policy: 'refuse', overrides: [] });
    assert.equal(p.forParty('trunk', 'old-pbx'), 'refuse');
    assert.equal(p.forParty('carrier', 'c1'), 'refuse');
  });

  test('bad values are refused naming the key', () => {
    const error = (yaml: string): string => {
      try {
        parseConfig(yaml, '/srv/trunkline');
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        return err.message;
      }
      return assert.fail(`expected a ConfigError for ${yaml}`);
    };
    assert.match(
      error('trunking: {transfer: {policy: blind}}'),
      /trunking\.transfer\.policy: expected refuse\|relay\|perform/,
    );
    assert.match(
      error('trunking: {transfer: {overrides: [{trunk: a, carrier: b, policy: refuse}]}}'),
      /trunking\.transfer\.overrides\[0\]\.trunk: expected exactly one of trunk or carrier/,
    );
    assert.match(
      error('trunking: {transfer: {overrides: [{trunk: a}]}}'),
      /trunking\.transfer\.overrides\[0\]\.policy/,
    );
    assert.match(error('trunking: {transfer: {mode: perform}}'), /trunking\.transfer/);
  });
});
