import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage, DEFAULT_PARSE_LIMITS } from '../../src/sip/parser.js';
import { serialize } from '../../src/sip/serializer.js';
import { createResponse } from '../../src/sip/response.js';
import { validateMessage } from '../../src/sip/validate.js';
import { SipSyntaxError } from '../../src/sip/errors.js';
import { ALL, INVITE, OK_200, REGISTER, BYE } from './fixtures.js';
import { parse } from '../helpers/sip-messages.js';

for (const [name, raw] of ALL) {
  test(`${name}: parses, validates, and serializes byte for byte when untouched`, () => {
    const m = parse(raw);
    assert.equal(validateMessage(m), null);
    assert.deepEqual(serialize(m), raw);
  });
}

test('typed accessors of an INVITE', () => {
  const m = parse(INVITE);
  assert.equal(m.isRequest, true);
  assert.equal(m.method, 'INVITE');
  assert.equal(m.requestUri, 'sip:+912240001234@trunk.example.com;transport=tls');
  assert.equal(m.topVia.transport, 'TLS');
  assert.equal(m.topVia.host, '203.0.113.10');
  assert.equal(m.topVia.port, 5061);
  assert.equal(m.topVia.params.get('branch'), 'z9hG4bK-524287-1---a0c1d2e3f4');
  assert.equal(m.topVia.params.get('rport'), null);
  assert.equal(m.maxForwards, 70);
  assert.equal(m.callId, '3848276298220188511@203.0.113.10');
  assert.deepEqual(m.cseq, { seq: 1, method: 'INVITE' });
  assert.equal(m.fromTag, '9fxced76sl');
  assert.equal(m.toTag, null);
  assert.equal(m.from.displayName, 'Carrier');
  assert.equal(m.recordRoutes.length, 1);
  assert.equal(m.contacts.length, 1);
  assert.deepEqual(m.optionTags('Supported'), ['replaces', 'timer', '100rel']);
  assert.equal(m.getAll('Allow').length, 7);
  assert.equal(m.contentType, 'application/sdp');
  assert.ok(m.body.toString().startsWith('v=0\r\n'));
  assert.equal(m.body.length, m.receivedContentLength);
});

test('a response: status, reason, two Vias', () => {
  const m = parse(OK_200);
  assert.equal(m.isRequest, false);
  assert.equal(m.status, 200);
  assert.equal(m.reason, 'OK');
  assert.equal(m.vias.length, 2);
  assert.equal(m.toTag, 'a6c85cf');
});

test('proxy changes: Via on top, Max-Forwards decremented, Route removed, rest byte for byte', () => {
  const m = parse(BYE);
  m.prependHeader('Via', 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKproxy1');
  m.setHeader('Max-Forwards', String(m.maxForwards! - 1));
  assert.equal(m.removeFirstValue('Route'), '<sip:203.0.113.1:5061;transport=tls;lr>');
  const out = serialize(m).toString();
  const lines = out.split('\r\n');
  assert.equal(lines[0], 'BYE sip:pbx@198.51.100.7:5060 SIP/2.0');
  assert.equal(lines[1], 'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKproxy1');
  assert.equal(lines[2], 'Via: SIP/2.0/TLS 203.0.113.10:5061;branch=z9hG4bK-524287-1---b1;rport');
  assert.ok(out.includes('\r\nMax-Forwards: 69\r\n'));
  assert.ok(!out.includes('Route:'));
  const again = parse(out);
  assert.equal(again.vias.length, 2);
  assert.equal(again.topVia.params.get('branch'), 'z9hG4bKproxy1');
  assert.equal(again.maxForwards, 69);
  // Accessors see the change before serialization, too.
  assert.equal(m.vias.length, 2);
  assert.equal(m.routes.length, 0);
});

test('removing the top Via of a response keeps the others, also within one comma list', () => {
  const m = parse(
    'SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n' +
      'Via: SIP/2.0/UDP c.example.com;branch=z9hG4bK3\r\nTo: <sip:a@b>;tag=1\r\nFrom: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n',
  );
  m.removeFirstValue('Via');
  assert.deepEqual(
    m.vias.map((v) => v.host),
    ['b.example.com', 'c.example.com'],
  );
  const out = parse(serialize(m));
  assert.deepEqual(
    out.vias.map((v) => v.host),
    ['b.example.com', 'c.example.com'],
  );
});

test('setBody rewrites Content-Length and keeps headers', () => {
  const m = parse(INVITE);
  m.setBody(Buffer.from('v=0\r\n'), 'application/sdp');
  const out = parse(serialize(m));
  assert.equal(out.receivedContentLength, 5);
  assert.equal(out.body.toString(), 'v=0\r\n');
  assert.equal(out.count('Content-Length'), 1);
});

test('Request-URI change rebuilds only the start line', () => {
  const m = parse(INVITE);
  m.requestUri = 'sip:pbx@198.51.100.7:5060';
  const out = serialize(m).toString();
  assert.ok(out.startsWith('INVITE sip:pbx@198.51.100.7:5060 SIP/2.0\r\nVia: SIP/2.0/TLS'));
});

test('a message without Content-Length (UDP) gets one when serialized', () => {
  const m = parse(
    'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: q\r\nCSeq: 1 OPTIONS\r\n\r\n',
  );
  assert.equal(m.receivedContentLength, null);
  assert.ok(serialize(m).toString().endsWith('Content-Length: 0\r\n\r\n'));
});

test('createResponse copies Via, From, Call-ID, CSeq and tags To (RFC 3261 8.2.6.2)', () => {
  const req = parse(REGISTER);
  const res = createResponse(req, 401, { headers: [['WWW-Authenticate', 'Digest realm="x", nonce="y"']] });
  const out = parse(serialize(res));
  assert.equal(out.status, 401);
  assert.equal(out.reason, 'Unauthorized');
  assert.equal(out.get('Via'), req.get('Via'));
  assert.equal(out.callId, req.callId);
  assert.deepEqual(out.cseq, req.cseq);
  assert.equal(out.fromTag, req.fromTag);
  assert.ok(out.toTag !== null && out.toTag.length >= 8);
  assert.equal(out.get('WWW-Authenticate'), 'Digest realm="x", nonce="y"');
  // 100 Trying gets no To tag.
  assert.equal(parse(serialize(createResponse(req, 100))).toTag, null);
  // A reason can never break the status line.
  const bad = serialize(createResponse(req, 400, { reason: 'Bad\r\nInjected: yes' })).toString();
  assert.ok(bad.startsWith('SIP/2.0 400 Bad Injected: yes\r\n'));
});

test('start line faults name the fault', () => {
  const cases: Array<[string, RegExp]> = [
    ['INVITE  sip:a@b SIP/2.0\r\n\r\n', /Request-URI|SP/],
    ['INVITE sip:a@b SIP/2.0 \r\n\r\n', /SIP-Version/],
    ['INVITE <sip:a@b> SIP/2.0\r\n\r\n', /<>/],
    ['SIP/2.0 1000 Big\r\n\r\n', /3 digits/],
    ['SIP/2.0 099 Low\r\n\r\n', /range/],
    ['INV ITE\r\n\r\n', /.+/],
    ['\r\n\r\n', /empty/],
  ];
  for (const [text, re] of cases) {
    const r = parseMessage(Buffer.from(text));
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.match(r.error.message, re, text);
  }
});

test('a request with a bad start line still has its headers, for the 400', () => {
  const r = parseMessage(
    Buffer.from('OPTIONS  sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: q\r\n\r\n'),
  );
  assert.equal(r.ok, false);
  assert.ok(r.message !== null && r.message.isRequest && r.message.has('Via'));
});

test('SIP/3.0 is answered 505', () => {
  const r = parseMessage(Buffer.from('OPTIONS sip:a@b SIP/3.0\r\nVia: SIP/2.0/UDP h\r\n\r\n'));
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.error.status, 505);
});

test('a datagram ending after a complete header line parses without the empty line', () => {
  const r = parseMessage(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nCall-ID: x\r\n'));
  assert.ok(r.ok);
  assert.equal(r.message.callId, 'x');
  assert.equal(r.message.body.length, 0);
});

test('header faults: no colon, continuation first, unterminated line', () => {
  for (const text of [
    'OPTIONS sip:a@b SIP/2.0\r\nVia SIP/2.0/UDP h\r\n\r\n',
    'OPTIONS sip:a@b SIP/2.0\r\n continued\r\n\r\n',
    'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h',
  ]) {
    const r = parseMessage(Buffer.from(text));
    assert.equal(r.ok, false, text);
  }
});

test('limits: message size (513), header count (513), header line length', () => {
  const big = Buffer.alloc(DEFAULT_PARSE_LIMITS.maxMessageBytes + 1, 0x41);
  const r1 = parseMessage(big);
  assert.ok(!r1.ok && r1.error.status === 513);
  let many = 'OPTIONS sip:a@b SIP/2.0\r\n';
  for (let i = 0; i < 150; i++) many += `X-H${i}: v\r\n`;
  const r2 = parseMessage(Buffer.from(`${many}\r\n`));
  assert.ok(!r2.ok && r2.error.status === 513);
  const long = `OPTIONS sip:a@b SIP/2.0\r\nX-Long: ${'a'.repeat(9000)}\r\n\r\n`;
  const r3 = parseMessage(Buffer.from(long));
  assert.ok(!r3.ok && /too long/.test(r3.error.message));
  const r4 = parseMessage(Buffer.from(long), { ...DEFAULT_PARSE_LIMITS, maxHeaderLineBytes: 10000 });
  assert.ok(r4.ok);
});

test('Content-Length: larger than the datagram, negative, conflicting', () => {
  const base = 'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n';
  for (const cl of [
    'Content-Length: 10\r\n',
    'Content-Length: -1\r\n',
    'Content-Length: 1\r\nl: 2\r\n',
    'Content-Length: x\r\n',
  ]) {
    const r = parseMessage(Buffer.from(`${base}${cl}\r\nab`));
    assert.equal(r.ok, false, cl);
    if (!r.ok) {
      assert.equal(r.error.field, 'Content-Length');
      assert.ok(r.message !== null, 'headers are kept for the 400');
    }
  }
});

test('bare LF line endings are tolerated', () => {
  const m = parse(
    'OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nTo: <sip:a@b>\nFrom: <sip:c@d>;tag=1\nCall-ID: q\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n',
  );
  assert.equal(validateMessage(m), null);
  assert.equal(m.callId, 'q');
});

test('typed accessors throw SipSyntaxError on malformed values', () => {
  const m = parse(
    'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP\r\nMax-Forwards: many\r\nCSeq: x OPTIONS\r\nTo: "open <sip:a@b>\r\n\r\n',
  );
  assert.throws(() => m.topVia, SipSyntaxError);
  assert.throws(() => m.maxForwards, SipSyntaxError);
  assert.throws(() => m.cseq, SipSyntaxError);
  assert.throws(() => m.to, SipSyntaxError);
  assert.throws(() => m.callId, SipSyntaxError);
});

test('a CSeq whose number is not a decimal number says so (RFC 3261 20.16)', () => {
  const cases: Array<[string, RegExp]> = [
    ['abc INVITE', /Bad CSeq: sequence number is not a decimal number/],
    ['-1 INVITE', /Bad CSeq: sequence number is not a decimal number/],
    ['1x INVITE', /Bad CSeq: sequence number is not a decimal number/],
    ['4294967296 INVITE', /Bad CSeq: sequence number not below 2\^31/],
    ['2147483648 INVITE', /Bad CSeq: sequence number not below 2\^31/],
    ['1', /Bad CSeq: missing method/],
  ];
  for (const [value, phrase] of cases) {
    const m = parse(
      `INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: q\r\nCSeq: ${value}\r\nContent-Length: 0\r\n\r\n`,
    );
    const err = validateMessage(m);
    assert.ok(err, value);
    assert.match(err.reasonPhrase, phrase, value);
  }
  const ok = parse(
    'INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: q\r\nCSeq: 2147483647 INVITE\r\nContent-Length: 0\r\n\r\n',
  );
  assert.equal(validateMessage(ok), null);
});

test('RFC 5118 4.10: a request written with either IPv6 reference form is valid', () => {
  for (const ref of ['[2001:db8::192.0.2.1]', '[2001:db8:::192.0.2.1]']) {
    const m = parse(
      `OPTIONS sip:${ref} SIP/2.0\r\nTo: sip:${ref}\r\nFrom: sip:user@example.com;tag=810x2\r\n` +
        `Via: SIP/2.0/UDP ${ref}:5060;branch=z9hG4bKas3-111\r\nCall-ID: G9559905523997077@hlau_4100\r\n` +
        `CSeq: 689 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`,
    );
    assert.equal(validateMessage(m), null, ref);
    const uri = m.requestUriParsed;
    assert.ok('host' in uri);
    assert.equal(uri.host, '[2001:db8::192.0.2.1]', ref);
    assert.equal(m.topVia.host, '[2001:db8::192.0.2.1]', ref);
  }
});
