import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SipSyntaxError } from '../../src/sip/errors.js';
import {
  authScheme,
  findCredentials,
  parseAuthHeader,
  parseDigestCredentials,
  peekRealm,
  selectCredentials,
} from '../../src/auth/credentials.js';
import { request } from './helpers.js';

const MD5_RESP = '89eb0059246c02b2f6ee02c7961d5ea3';
const SHA_RESP = '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1';

/** draft-smith-sipping-auth-examples-01 3.3, as a UAC writes it. */
const BOB =
  'Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", ' +
  `qop=auth, nc=00000001, cnonce="0a4f113b", response="${MD5_RESP}", opaque="5ccc069c403ebaf9f0171e9517f40e41", algorithm=MD5`;

test('parses a full set of Digest credentials into the typed object', () => {
  assert.deepEqual(parseDigestCredentials(BOB), {
    scheme: 'Digest',
    username: 'bob',
    realm: 'biloxi.com',
    nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
    uri: 'sip:bob@biloxi.com',
    response: MD5_RESP,
    algorithm: 'MD5',
    qop: 'auth',
    nc: 1,
    ncText: '00000001',
    cnonce: '0a4f113b',
    opaque: '5ccc069c403ebaf9f0171e9517f40e41',
  });
});

test('any order, case-insensitive names and scheme, LWS and folding around separators, empty list elements', () => {
  const v =
    'digest   ALGORITHM = sha-256 ,Response="' +
    SHA_RESP +
    '",\r\n\tURI = "sip:bob@biloxi.com" , , NC=0000000a,QOP="auth",CNonce="x y",Nonce="n",Realm="biloxi.com",UserName="bob",';
  const c = parseDigestCredentials(v);
  assert.equal(c.algorithm, 'SHA-256');
  assert.equal(c.response, SHA_RESP);
  assert.equal(c.uri, 'sip:bob@biloxi.com');
  assert.equal(c.nc, 10);
  assert.equal(c.ncText, '0000000a');
  assert.equal(c.qop, 'auth', 'a quoted qop is tolerated');
  assert.equal(c.cnonce, 'x y');
  assert.equal(c.username, 'bob');
  assert.equal(c.opaque, null);
});

test('quoted-string escapes are resolved; a comma or "realm=" inside quotes is data', () => {
  const c = parseDigestCredentials(
    `Digest username="a\\"b\\\\c, realm=\\"x\\"", realm="r", nonce="n", uri="sip:x@y", response="${MD5_RESP}"`,
  );
  assert.equal(c.username, 'a"b\\c, realm="x"');
  assert.equal(c.realm, 'r');
});

test('without qop: MD5 by default, nc and cnonce null; upper-case hex response is normalised', () => {
  const c = parseDigestCredentials(
    `Digest username="u", realm="r", nonce="n", uri="sip:r", response="${MD5_RESP.toUpperCase()}"`,
  );
  assert.equal(c.algorithm, 'MD5');
  assert.equal(c.qop, null);
  assert.equal(c.nc, null);
  assert.equal(c.cnonce, null);
  assert.equal(c.response, MD5_RESP);
});

test('UTF-8 in a quoted username is kept', () => {
  const c = parseDigestCredentials(
    `Digest username="jürgen", realm="r", nonce="n", uri="sip:r", response="${MD5_RESP}"`,
  );
  assert.equal(c.username, 'jürgen');
});

const BASE = `username="u", realm="r", nonce="n", uri="sip:r"`;
const MALFORMED: Array<[string, string, RegExp]> = [
  ['duplicate parameter', `Digest ${BASE}, response="${MD5_RESP}", Realm="r2"`, /duplicate parameter realm/],
  ['duplicate response', `Digest ${BASE}, response="${MD5_RESP}", response="${MD5_RESP}"`, /duplicate/],
  ['missing username', `Digest realm="r", nonce="n", uri="sip:r", response="${MD5_RESP}"`, /missing username/],
  ['missing realm', `Digest username="u", nonce="n", uri="sip:r", response="${MD5_RESP}"`, /missing realm/],
  ['missing nonce', `Digest username="u", realm="r", uri="sip:r", response="${MD5_RESP}"`, /missing nonce/],
  ['missing uri', `Digest username="u", realm="r", nonce="n", response="${MD5_RESP}"`, /missing uri/],
  ['missing response', `Digest ${BASE}`, /missing response/],
  ['nc not hex', `Digest ${BASE}, response="${MD5_RESP}", qop=auth, nc=0000000g, cnonce="c"`, /bad nc/],
  ['nc too short', `Digest ${BASE}, response="${MD5_RESP}", qop=auth, nc=1, cnonce="c"`, /bad nc/],
  ['nc too long', `Digest ${BASE}, response="${MD5_RESP}", qop=auth, nc=000000001, cnonce="c"`, /bad nc/],
  ['nc zero', `Digest ${BASE}, response="${MD5_RESP}", qop=auth, nc=00000000, cnonce="c"`, /bad nc/],
  ['qop without nc', `Digest ${BASE}, response="${MD5_RESP}", qop=auth, cnonce="c"`, /missing nc/],
  ['qop without cnonce', `Digest ${BASE}, response="${MD5_RESP}", qop=auth, nc=00000001`, /missing cnonce/],
  ['nc without qop', `Digest ${BASE}, response="${MD5_RESP}", nc=00000001, cnonce="c"`, /without qop/],
  ['qop auth-int', `Digest ${BASE}, response="${MD5_RESP}", qop=auth-int, nc=00000001, cnonce="c"`, /unsupported qop/],
  ['unknown algorithm', `Digest ${BASE}, response="${MD5_RESP}", algorithm=SHA-512-256`, /unsupported algorithm/],
  ['MD5 response of SHA-256 length', `Digest ${BASE}, response="${SHA_RESP}"`, /bad response/],
  ['SHA-256 response of MD5 length', `Digest ${BASE}, response="${MD5_RESP}", algorithm=SHA-256`, /bad response/],
  ['response not hex', `Digest ${BASE}, response="${'z'.repeat(32)}"`, /bad response/],
  ['userhash', `Digest ${BASE}, response="${MD5_RESP}", userhash=true`, /userhash/],
  ['another scheme', `Basic ${BASE}, response="${MD5_RESP}"`, /not Digest/],
  ['unterminated quote', `Digest username="u, realm="r"`, /unterminated|expected/],
  ['missing =', `Digest username "u", ${BASE}`, /expected '='/],
  ['missing comma', `Digest username="u" realm="r"`, /expected ','/],
  ['empty value', `Digest username=, realm="r"`, /bad value/],
  ['no parameters', 'Digest', /no auth parameters/],
  ['no whitespace after the scheme', `Digest,${BASE}`, /whitespace/],
  ['CR in a quoted-pair', `Digest username="a\\\rb", ${BASE.slice(14)}, response="${MD5_RESP}"`, /quoted-pair|control/],
];

for (const [name, value, re] of MALFORMED) {
  test(`malformed: ${name} throws SipSyntaxError('Authorization')`, () => {
    assert.throws(
      () => parseDigestCredentials(value),
      (err: unknown) =>
        err instanceof SipSyntaxError && err.field === 'Authorization' && err.status === 400 && re.test(err.message),
    );
  });
}

test('the error names the header it was given', () => {
  assert.throws(
    () => parseDigestCredentials('Digest realm="r"', 'Proxy-Authorization'),
    (err: unknown) => err instanceof SipSyntaxError && err.field === 'Proxy-Authorization',
  );
});

test('parseAuthHeader reads challenges too; authScheme; peekRealm on a malformed value', () => {
  const h = parseAuthHeader(
    'Digest realm="atlanta.com", qop="auth,auth-int", nonce="abc", stale=FALSE, algorithm=MD5',
    'WWW-Authenticate',
  );
  assert.equal(h.scheme, 'Digest');
  assert.deepEqual(h.params.get('qop'), { value: 'auth,auth-int', quoted: true });
  assert.deepEqual(h.params.get('stale'), { value: 'FALSE', quoted: false });
  assert.equal(authScheme('  Bearer abc'), 'Bearer');
  assert.equal(authScheme('"x"'), null);
  assert.equal(peekRealm('Digest realm="a\\"b", nonce='), 'a"b');
  assert.equal(peekRealm('Digest realm=plain, x'), 'plain');
  assert.equal(peekRealm('Digest myrealm="x"'), null);
});

function creds(realm: string, alg: 'MD5' | 'SHA-256' = 'MD5', user = 'u'): string {
  return `Digest username="${user}", realm="${realm}", nonce="n", uri="sip:r", algorithm=${alg}, response="${alg === 'MD5' ? MD5_RESP : SHA_RESP}"`;
}

test('selectCredentials: the one for our realm among several; null when none is for us', () => {
  const values = [
    creds('other.example', 'MD5', 'x'),
    'Bearer abc.def',
    creds('biloxi.com', 'MD5', 'bob'),
    creds('third.example'),
  ];
  assert.equal(selectCredentials(values, 'biloxi.com')?.username, 'bob');
  assert.equal(selectCredentials(values, 'nobody.example'), null);
  assert.equal(selectCredentials([], 'biloxi.com'), null);
});

test('selectCredentials: realms compare exactly (case-sensitive)', () => {
  assert.equal(selectCredentials([creds('Biloxi.com')], 'biloxi.com'), null);
});

test('selectCredentials: prefers the algorithm listed first when a client sent several for one realm', () => {
  const values = [creds('r', 'MD5', 'md5-user'), creds('r', 'SHA-256', 'sha-user')];
  assert.equal(selectCredentials(values, 'r', 'Authorization', ['SHA-256', 'MD5'])?.username, 'sha-user');
  assert.equal(selectCredentials(values, 'r', 'Authorization', ['MD5', 'SHA-256'])?.username, 'md5-user');
  assert.equal(selectCredentials(values, 'r')?.username, 'md5-user');
});

test('selectCredentials: a malformed value for another realm is ignored; one that may be ours throws', () => {
  const badOther = 'Digest realm="other", username="u"';
  assert.equal(selectCredentials([badOther, creds('r')], 'r')?.username, 'u');
  assert.equal(selectCredentials([badOther], 'r'), null);
  assert.throws(() => selectCredentials(['Digest realm="r", username="u"'], 'r'), SipSyntaxError);
  assert.throws(
    () => selectCredentials(['Digest username="u" nonce'], 'r'),
    SipSyntaxError,
    'no realm to tell: may be ours',
  );
  // A valid one for us wins over a malformed one that might be.
  assert.equal(selectCredentials(['Digest realm="r", junk', creds('r')], 'r')?.username, 'u');
});

test('findCredentials reads every Authorization line of a request, or Proxy-Authorization', () => {
  const req = request('INVITE', 'sip:bob@biloxi.com', [
    `Proxy-Authorization: ${creds('proxy1.example', 'MD5', 'p1')}`,
    `Authorization: ${creds('biloxi.com', 'MD5', 'ua')}`,
    `Proxy-Authorization: ${creds('proxy2.example', 'SHA-256', 'p2')}`,
  ]);
  assert.equal(findCredentials(req, 'Proxy-Authorization', 'proxy2.example')?.username, 'p2');
  assert.equal(findCredentials(req, 'Proxy-Authorization', 'proxy1.example')?.username, 'p1');
  assert.equal(findCredentials(req, 'Proxy-Authorization', 'biloxi.com'), null);
  assert.equal(findCredentials(req, 'Authorization', 'biloxi.com')?.username, 'ua');
});
