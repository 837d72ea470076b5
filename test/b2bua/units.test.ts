import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withoutTag } from '../../src/dialog/dialog.js';
import { answerChallenge } from '../../src/b2bua/uac-auth.js';
import { parseAuthHeader } from '../../src/auth/credentials.js';
import { digestResponse, ha1 } from '../../src/auth/digest.js';
import { relayedRequestHeaders } from '../../src/b2bua/headers.js';
import { msgText } from '../helpers/sip-messages.js';

test('withoutTag removes the tag parameter only', () => {
  assert.equal(withoutTag('"A" <sip:a@b;tag=x>;tag=123;foo=1'), '"A" <sip:a@b;tag=x>;foo=1');
  assert.equal(withoutTag('<sip:a@b>;TAG=9'), '<sip:a@b>');
  assert.equal(withoutTag('sip:a@b'), 'sip:a@b');
});

test('answerChallenge: a 407 answered so that the challenger verifies it (MD5, qop=auth, opaque)', () => {
  const res = msgText(
    'SIP/2.0 407 Proxy Authentication Required\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@b>;tag=1\nTo: <sip:c@d>;tag=2\nCall-ID: x\nCSeq: 1 INVITE\nProxy-Authenticate: Digest realm="carrier", nonce="abc123", qop="auth,auth-int", opaque="op", algorithm=MD5\nContent-Length: 0\n\n',
  );
  const a = answerChallenge(res, 'INVITE', 'sip:+1555@gw', { username: 'trunk1', password: 's3cret' });
  assert.ok(a !== null);
  assert.equal(a[0], 'Proxy-Authorization');
  const p = parseAuthHeader(a[1]).params;
  const v = (k: string): string => p.get(k)!.value;
  assert.equal(v('opaque'), 'op');
  assert.equal(v('qop'), 'auth');
  const expected = digestResponse({
    algorithm: 'MD5',
    ha1: ha1('MD5', 'trunk1', 'carrier', 's3cret'),
    nonce: 'abc123',
    method: 'INVITE',
    uri: 'sip:+1555@gw',
    qop: 'auth',
    ncText: v('nc'),
    cnonce: v('cnonce'),
  });
  assert.equal(v('response'), expected);
});

test('answerChallenge: no Digest challenge we support gives null', () => {
  const res = msgText(
    'SIP/2.0 401 Unauthorized\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@b>;tag=1\nTo: <sip:c@d>;tag=2\nCall-ID: x\nCSeq: 1 INVITE\nWWW-Authenticate: Digest realm="r", nonce="n", algorithm=SHA-512-256\nContent-Length: 0\n\n',
  );
  assert.equal(answerChallenge(res, 'INVITE', 'sip:x', { username: 'u', password: 'p' }), null);
});

test('topology hiding: only allow-listed headers cross, 100rel filtered', () => {
  const req = msgText(
    'INVITE sip:x@y SIP/2.0\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\nFrom: <sip:a@10.0.0.1>;tag=1\nTo: <sip:c@d>\nCall-ID: x\nCSeq: 1 INVITE\nContact: <sip:a@10.0.0.1>\nRecord-Route: <sip:10.0.0.9;lr>\nX-Secret: 1\nUser-Agent: PBX 1.0\nSupported: 100rel, timer\nContent-Type: application/sdp\nContent-Length: 0\n\n',
  );
  assert.deepEqual(relayedRequestHeaders(req), [
    ['Content-Type', 'application/sdp'],
    ['Supported', 'timer'],
  ]);
});
