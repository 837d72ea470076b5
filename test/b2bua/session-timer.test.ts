/**
 * RFC 4028 session timers, the rules alone (src/b2bua/session-timer.ts),
 * the per-leg policy (timer-policy.ts) and the config keys.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  after422,
  answerAsUas,
  expiryDelayMs,
  outcomeAsUac,
  parseMinSE,
  parseSessionExpires,
  refreshDelayMs,
  requestTimerHeaders,
  responseTimerHeaders,
  sdpOrigin,
  SessionTimerHeaderError,
  timerHeadersOf,
  timerHeadersOfResponse,
  withoutTimerHeaders,
  type TimerHeaders,
} from '../../src/b2bua/session-timer.js';
import { SessionTimerPolicy } from '../../src/b2bua/timer-policy.js';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { parse } from '../helpers/sip-messages.js';
import { sdp } from './call-kit.js';

const OURS = { interval: 1800, minSE: 90 };

function req(o: Partial<TimerHeaders>): TimerHeaders {
  return { supported: false, se: null, minSE: null, ...o };
}

function invite(headers: string[]): ReturnType<typeof parse> {
  return parse(
    [
      'INVITE sip:x@192.0.2.1 SIP/2.0',
      'Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK-1',
      'From: <sip:a@203.0.113.10>;tag=1',
      'To: <sip:x@192.0.2.1>',
      'Call-ID: st-1',
      'CSeq: 1 INVITE',
      ...headers,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );
}

describe('Session-Expires and Min-SE (RFC 4028 4, 5)', () => {
  test('read with and without refresher, compact form x', () => {
    assert.deepEqual(parseSessionExpires('1800'), { seconds: 1800, refresher: null });
    assert.deepEqual(parseSessionExpires(' 90 ; refresher=UAS'), { seconds: 90, refresher: 'uas' });
    assert.deepEqual(parseSessionExpires('4000;foo=bar;refresher=uac'), { seconds: 4000, refresher: 'uac' });
    assert.equal(parseMinSE('120;x=1'), 120);
    const h = timerHeadersOf(invite(['x: 600;refresher=uac', 'k: 100rel, timer', 'Min-SE: 300']));
    assert.deepEqual(h, { supported: true, se: { seconds: 600, refresher: 'uac' }, minSE: 300 });
  });

  test('a value that does not read is a typed error naming the header; in a response it counts as absent', () => {
    for (const bad of ['', 'abc', '-5', '90;refresher=proxy', '12345678901']) {
      assert.throws(
        () => parseSessionExpires(bad),
        (e) => e instanceof SessionTimerHeaderError && e.header === 'Session-Expires',
        bad,
      );
    }
    assert.throws(() => parseMinSE('soon'), SessionTimerHeaderError);
    assert.throws(() => timerHeadersOf(invite(['Session-Expires: never'])), SessionTimerHeaderError);
    assert.deepEqual(timerHeadersOfResponse(invite(['Supported: timer', 'Session-Expires: never'])), {
      supported: true,
      se: null,
      minSE: null,
    });
  });
});

describe('our answer as UAS (RFC 4028 9)', () => {
  test('below our Min-SE from a peer that supports timers: 422 with the larger of both minimums', () => {
    assert.deepEqual(answerAsUas(req({ supported: true, se: { seconds: 60, refresher: null } }), OURS), {
      kind: 'too-small',
      minSE: 90,
    });
    assert.deepEqual(
      answerAsUas(req({ supported: true, se: { seconds: 100, refresher: null } }), { interval: 1800, minSE: 120 }),
      { kind: 'too-small', minSE: 120 },
    );
  });

  test('below our Min-SE from a peer without support (a proxy wrote it): raised to our minimum, we refresh', () => {
    assert.deepEqual(answerAsUas(req({ se: { seconds: 60, refresher: null } }), OURS), {
      kind: 'accept',
      interval: 90,
      refresher: 'uas',
      weRefresh: true,
    });
  });

  test('the refresher table: the peer chooses; it refreshes when it left us the choice; we do when it lacks support', () => {
    const se = (refresher: 'uac' | 'uas' | null) => ({ seconds: 90, refresher });
    const r = (h: TimerHeaders) => {
      const a = answerAsUas(h, OURS);
      return a.kind === 'accept' ? [a.refresher, a.weRefresh] : a.kind;
    };
    assert.deepEqual(r(req({ supported: true, se: se('uac') })), ['uac', false]);
    assert.deepEqual(r(req({ supported: true, se: se('uas') })), ['uas', true]);
    assert.deepEqual(r(req({ supported: true, se: se(null) })), ['uac', false]);
    assert.deepEqual(r(req({ supported: true })), ['uac', false]);
    assert.deepEqual(r(req({})), ['uas', true]);
    assert.deepEqual(r(req({ se: se(null) })), ['uas', true]);
  });

  test('the interval: never raised for a supporting peer, lowered to ours but not below its Min-SE', () => {
    const interval = (h: TimerHeaders, s = OURS) => {
      const a = answerAsUas(h, s);
      return a.kind === 'accept' ? a.interval : a.kind;
    };
    assert.equal(interval(req({ supported: true, se: { seconds: 90, refresher: null } })), 90);
    assert.equal(interval(req({ supported: true, se: { seconds: 7200, refresher: null } })), 1800);
    assert.equal(interval(req({ supported: true, se: { seconds: 7200, refresher: null }, minSE: 3600 })), 3600);
    assert.equal(interval(req({ supported: true })), 1800);
    assert.equal(interval(req({ supported: true, minSE: 2000 })), 2000);
    assert.equal(interval(req({})), 1800);
  });
});

describe('the 2xx to our request (RFC 4028 7.2) and a 422 (7.3)', () => {
  const asked = { interval: 1800, minSE: 90 };
  test('refresher=uac in a 2xx to our request: we refresh; uas: the peer does', () => {
    assert.deepEqual(outcomeAsUac(req({ se: { seconds: 900, refresher: 'uac' } }), asked), {
      interval: 900,
      weRefresh: true,
    });
    assert.deepEqual(outcomeAsUac(req({ se: { seconds: 900, refresher: 'uas' } }), asked), {
      interval: 900,
      weRefresh: false,
    });
    assert.deepEqual(outcomeAsUac(req({ se: { seconds: 900, refresher: null } }), asked), {
      interval: 900,
      weRefresh: true,
    });
  });

  test('no Session-Expires in the 2xx (the peer runs no timer): we refresh at the interval we asked', () => {
    assert.deepEqual(outcomeAsUac(req({ supported: true }), asked), { interval: 1800, weRefresh: true });
  });

  test('an interval below our Min-SE in a 2xx is read as our minimum', () => {
    assert.deepEqual(outcomeAsUac(req({ se: { seconds: 30, refresher: 'uas' } }), asked), {
      interval: 90,
      weRefresh: false,
    });
  });

  test('a 422 raises the interval and our Min-SE to its Min-SE; one that changes nothing is not retried', () => {
    assert.deepEqual(after422({ interval: 90, minSE: 90 }, 300), { interval: 300, minSE: 300 });
    assert.equal(after422({ interval: 300, minSE: 90 }, 300), null);
    assert.equal(after422({ interval: 300, minSE: 90 }, 120), null);
    assert.equal(after422({ interval: 300, minSE: 90 }, null), null);
  });
});

describe('timing (RFC 4028 10)', () => {
  test('refresh at half the interval; expiry min(32 s, interval/3) before its end', () => {
    assert.equal(refreshDelayMs(90), 45_000);
    assert.equal(refreshDelayMs(1800), 900_000);
    assert.equal(expiryDelayMs(90), 60_000);
    assert.equal(expiryDelayMs(1800), 1_768_000);
    assert.equal(expiryDelayMs(96), 64_000);
  });
});

describe('headers', () => {
  test('requests: Supported, Session-Expires with the refresher in the words of the transaction, Min-SE', () => {
    assert.deepEqual(requestTimerHeaders(1800, 90, null), [
      ['Supported', 'timer'],
      ['Session-Expires', '1800'],
      ['Min-SE', '90'],
    ]);
    assert.deepEqual(requestTimerHeaders(90, 120, true)[1], ['Session-Expires', '90;refresher=uac']);
    assert.deepEqual(requestTimerHeaders(90, 120, false)[1], ['Session-Expires', '90;refresher=uas']);
  });

  test('our 2xx: Require: timer when the peer is to refresh', () => {
    assert.deepEqual(responseTimerHeaders({ interval: 90, refresher: 'uac' }), [
      ['Supported', 'timer'],
      ['Session-Expires', '90;refresher=uac'],
      ['Require', 'timer'],
    ]);
    assert.deepEqual(responseTimerHeaders({ interval: 90, refresher: 'uas' }), [
      ['Supported', 'timer'],
      ['Session-Expires', '90;refresher=uas'],
    ]);
  });

  test('nothing of one leg session timer crosses to the other; other option tags do', () => {
    assert.deepEqual(
      withoutTimerHeaders([
        ['Session-Expires', '90;refresher=uac'],
        ['Min-SE', '90'],
        ['Supported', 'timer, replaces'],
        ['Require', 'timer'],
        ['Allow', 'INVITE, UPDATE'],
        ['Content-Type', 'application/sdp'],
      ]),
      [
        ['Supported', 'replaces'],
        ['Allow', 'INVITE, UPDATE'],
        ['Content-Type', 'application/sdp'],
      ],
    );
  });

  test('the SDP origin tells an unchanged session description (RFC 3264 8)', () => {
    const one = Buffer.from(sdp('203.0.113.10', 40000));
    assert.equal(sdpOrigin(one), '- 1 1 IN IP4 203.0.113.10');
    assert.equal(sdpOrigin(Buffer.from(sdp('203.0.113.10', 40002))), sdpOrigin(one), 'same o= line');
    assert.notEqual(sdpOrigin(Buffer.from(sdp('203.0.113.10', 40000).replace('o=- 1 1', 'o=- 1 2'))), sdpOrigin(one));
    assert.equal(sdpOrigin(Buffer.from('v=0\r\ns=-\r\n')), null);
  });
});

describe('policy and config', () => {
  test('defaults: on, 1800 s, Min-SE 90', () => {
    const c = parseConfig('', '/srv/trunkline');
    assert.deepEqual(c.trunking.sessionTimer, { enabled: true, interval: 1800, minSE: 90, overrides: [] });
  });

  test('overrides per trunk or carrier, the rest from the server-wide values', () => {
    const c = parseConfig(
      [
        'trunking:',
        '  sessionTimer:',
        '    interval: 600',
        '    overrides:',
        '      - {carrier: slow, interval: 3600, minSE: 300}',
        '      - {trunk: old-pbx, enabled: false}',
      ].join('\n'),
      '/srv/trunkline',
    );
    const p = new SessionTimerPolicy(c.trunking.sessionTimer);
    assert.deepEqual(p.forLeg('carrier', 'slow'), { interval: 3600, minSE: 300 });
    assert.equal(p.forLeg('trunk', 'old-pbx'), null);
    assert.deepEqual(p.forLeg('trunk', 'slow'), { interval: 600, minSE: 90 }, 'a carrier override is not a trunk one');
    assert.deepEqual(p.forLeg('carrier', null), { interval: 600, minSE: 90 });
    assert.equal(p.anyEnabled, true);
    p.update({ enabled: false, interval: 1800, minSE: 90, overrides: [] });
    assert.equal(p.anyEnabled, false);
    assert.equal(p.forLeg('carrier', 'slow'), null);
    p.update({ enabled: false, interval: 1800, minSE: 90, overrides: [{ carrier: 'slow', enabled: true }] });
    assert.equal(p.anyEnabled, true);
    assert.deepEqual(p.forLeg('carrier', 'slow'), { interval: 1800, minSE: 90 });
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
    assert.match(error('trunking: {sessionTimer: {minSE: 30}}'), /trunking\.sessionTimer\.minSE: .*at least 90/);
    assert.match(error('trunking: {sessionTimer: {interval: 60}}'), /trunking\.sessionTimer\.interval: .*90/);
    assert.match(
      error('trunking: {sessionTimer: {interval: 100, minSE: 200}}'),
      /trunking\.sessionTimer\.interval: expected interval >= minSE \(200\), got 100/,
    );
    assert.match(
      error('trunking: {sessionTimer: {overrides: [{carrier: c, interval: 95}], minSE: 120}}'),
      /trunking\.sessionTimer\.overrides\[0\]\.interval: expected interval >= minSE \(120\), got 95/,
    );
    assert.match(
      error('trunking: {sessionTimer: {overrides: [{interval: 95}]}}'),
      /trunking\.sessionTimer\.overrides\[0\]\.trunk: expected exactly one of trunk or carrier/,
    );
    assert.match(error('trunking: {sessionTimer: {enabled: yes please}}'), /trunking\.sessionTimer\.enabled: /);
    assert.match(error('trunking: {sessionTimer: {refresh: 10}}'), /trunking\.sessionTimer/);
  });
});
