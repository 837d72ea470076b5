/**
 * tryParseUri and parsedOrNull: null for text that does not parse (a
 * SipSyntaxError), the value otherwise; any other error is a bug and is
 * not hidden.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SipSyntaxError, parsedOrNull } from '../../src/sip/errors.js';
import { isSipUri, tryParseUri } from '../../src/sip/uri.js';
import { parseNameAddr } from '../../src/sip/name-addr.js';

test('tryParseUri: a URI, or null when it does not parse', () => {
  const u = tryParseUri('sip:alice@192.0.2.1:5080;transport=tcp');
  assert.ok(u !== null && isSipUri(u));
  assert.equal(u.port, 5080);
  assert.equal(tryParseUri('tel:+15551230000')?.scheme, 'tel');
  for (const bad of ['', 'sip:', 'sip:127.0.0.1:99999', 'sip:a b@host', 'no-scheme'])
    assert.equal(tryParseUri(bad), null, bad);
});

test('parsedOrNull: the value, null for a SipSyntaxError, any other error thrown on', () => {
  assert.equal(
    parsedOrNull(() => parseNameAddr('"Bob" <sip:bob@example.org>').displayName),
    'Bob',
  );
  assert.equal(
    parsedOrNull(() => parseNameAddr('<sip:bob@example.org')),
    null,
  );
  assert.equal(
    parsedOrNull(() => {
      throw new SipSyntaxError('To', 'missing');
    }),
    null,
  );
  assert.throws(
    () =>
      parsedOrNull(() => {
        throw new TypeError('a bug');
      }),
    TypeError,
  );
  assert.throws(
    () =>
      parsedOrNull(() => {
        throw new RangeError('another');
      }),
    /another/,
  );
});
