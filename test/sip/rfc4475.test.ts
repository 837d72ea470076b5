import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { parseMessage } from '../../src/sip/parser.js';
import { validateMessage } from '../../src/sip/validate.js';
import { serialize } from '../../src/sip/serializer.js';
import { parseUri, isSipUri, unescapeUriPart } from '../../src/sip/uri.js';
import type { SipMessage } from '../../src/sip/message.js';
import { viaBranch } from '../../src/sip/via.js';
import { RFC4475_DIR, RFC4475_INVALID as INVALID, loadRfc4475 as load } from '../helpers/rfc4475.js';

/** Parses and validates; returns the message, or the fault. */
function check(name: string): { msg: SipMessage | null; fault: string | null; status: number } {
  const r = parseMessage(load(name));
  if (!r.ok) return { msg: r.message, fault: r.error.reasonPhrase, status: r.error.status };
  const err = validateMessage(r.message);
  return { msg: r.message, fault: err === null ? null : err.reasonPhrase, status: err?.status ?? 0 };
}

function valid(name: string): SipMessage {
  const { msg, fault } = check(name);
  assert.equal(fault, null, `${name} must be valid, got: ${fault}`);
  return msg!;
}

const VALID = [
  'wsinv',
  'intmeth',
  'esc01',
  'escnull',
  'esc02',
  'lwsdisp',
  'longreq',
  'dblreq',
  'semiuri',
  'transports',
  'mpart01',
  'unreason',
  'noreason',
];
/** Parse cleanly; the answer (416, 420, 415, 483, ...) is the proxy's business. */
const SEMANTIC_PARSE = [
  'badbranch',
  'unkscm',
  'novelsc',
  'unksm2',
  'bext01',
  'invut',
  'regaut01',
  'bcast',
  'zeromf',
  'cparam01',
  'cparam02',
  'regescrt',
  'sdp01',
  'inv2543',
];
/** Semantic faults that are 400 by RFC 3261 all the same (missing or repeated single headers). */
const SEMANTIC_400 = ['insuf', 'multi01', 'mcl01'];

test('every file of the suite is classified by this test', () => {
  const files = readdirSync(RFC4475_DIR)
    .filter((f) => f.endsWith('.dat'))
    .map((f) => f.slice(0, -4))
    .sort();
  assert.deepEqual(files, [...VALID, ...INVALID, ...SEMANTIC_PARSE, ...SEMANTIC_400].sort());
});

for (const name of VALID) {
  test(`valid ${name} parses, validates and re-serializes byte for byte`, () => {
    const msg = valid(name);
    const raw = load(name);
    const out = serialize(msg);
    // dblreq: only the first message is kept (RFC 4475 3.1.1.8); the rest is identical.
    if (name !== 'dblreq' && name !== 'noreason' && name !== 'unreason') assert.deepEqual(out, raw);
    const again = parseMessage(out);
    assert.ok(again.ok);
  });
}

/** What each invalid message must be faulted for (the reason phrase names it). */
const INVALID_FIELD: Record<string, RegExp> = {
  badinv01: /Via|Contact/,
  clerr: /Content-Length/,
  ncl: /Content-Length/,
  scalar02: /CSeq|Max-Forwards|Expires/,
  scalarlg: /CSeq/,
  quotbal: /To/,
  ltgtruri: /Request-URI/,
  lwsruri: /request-line|Request-URI/,
  lwsstart: /request-line/,
  trws: /request-line|SIP-Version/,
  escruri: /Request-URI/,
  baddate: /Date/,
  regbadct: /Contact/,
  badaspec: /To/,
  baddn: /From|To/,
  badvers: /SIP-Version/,
  mismatch01: /CSeq/,
  mismatch02: /CSeq/,
  bigcode: /status-line/,
};

for (const name of INVALID) {
  test(`invalid ${name} is rejected with a reason naming the fault`, () => {
    const { fault } = check(name);
    assert.notEqual(fault, null, `${name} must be rejected`);
    assert.match(fault!, INVALID_FIELD[name]!);
  });
}

for (const name of SEMANTIC_PARSE) {
  test(`semantic ${name} parses and validates`, () => {
    valid(name);
  });
}

for (const name of SEMANTIC_400) {
  test(`semantic ${name} is refused with 400`, () => {
    const { fault, status } = check(name);
    assert.notEqual(fault, null);
    assert.equal(status, 400);
  });
}

test('wsinv: whitespace, folding, compact and mixed-case names (3.1.1.1)', () => {
  const m = valid('wsinv');
  assert.equal(m.method, 'INVITE');
  assert.equal(m.toTag, '1918181833n');
  assert.equal(m.fromTag, '98asjd8');
  assert.equal(m.from.displayName, 'J Rosenberg \\"');
  assert.equal(m.maxForwards, 68);
  assert.deepEqual(m.cseq, { seq: 9, method: 'INVITE' });
  assert.equal(m.callId, 'wsinv.ndaksdj@192.0.2.1');
  const vias = m.vias;
  assert.equal(vias.length, 3);
  assert.equal(vias[0]!.transport, 'UDP');
  assert.equal(vias[0]!.host, '192.0.2.2');
  assert.equal(viaBranch(vias[0]!), '390skdjuw');
  assert.equal(vias[1]!.transport, 'TCP');
  assert.equal(vias[1]!.host, 'spindle.example.com');
  assert.equal(viaBranch(vias[1]!), 'z9hG4bK9ikj8');
  assert.equal(vias[2]!.host, '192.168.255.111');
  assert.equal(viaBranch(vias[2]!), 'z9hG4bK30239');
  assert.equal(m.get('NewFangledHeader'), 'newfangled value continued newfangled value');
  assert.equal(m.get('UnknownHeaderWithUnusualValue'), ';;,,;;,;');
  assert.equal(m.get('Subject'), '');
  assert.equal(m.routes.length, 1);
  const contact = m.contacts[0]!;
  assert.equal(contact.displayName, 'Quoted string ""');
  assert.equal(contact.params.get('newparam'), 'newvalue');
  assert.equal(contact.params.get('secondparam'), null);
  assert.equal(contact.params.get('q'), '0.33');
  assert.equal(m.body.length, 150);
  assert.equal(m.contentType, 'application/sdp');
});

test('intmeth: unusual legal characters, unknown method (3.1.1.2)', () => {
  const m = valid('intmeth');
  assert.equal(m.method, "!interesting-Method0123456789_*+`.%indeed'~");
  assert.equal(m.cseq.method, m.method);
  assert.equal(m.maxForwards, 255);
  assert.equal(m.callId, 'intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{');
  assert.equal(m.get("extensionHeader-!.%*+_`'~"), '\uFEFF大停電');
  const uri = parseUri(m.requestUri);
  assert.ok(isSipUri(uri));
  assert.equal(uri.host, 'example.com');
  assert.equal(m.fromTag, "_token~1'+`*%!-.");
});

test('esc01: %-escapes in URIs (3.1.1.3)', () => {
  const m = valid('esc01');
  const uri = parseUri(m.requestUri);
  assert.ok(isSipUri(uri));
  assert.equal(unescapeUriPart(uri.user!), 'sips:user@example.com');
  assert.equal(m.contentType, 'application/sdp');
  assert.equal(m.callId, 'esc01.239409asdfakjkn23onasd0-3234');
});

test('escnull: escaped NUL in a user part (3.1.1.4)', () => {
  const m = valid('escnull');
  assert.equal(m.contacts.length, 2);
  const u = m.contacts[1]!.uri;
  assert.ok(isSipUri(u));
  assert.equal(unescapeUriPart(u.user!), '\0\0');
});

test('esc02: % that is not an escape outside URIs (3.1.1.5)', () => {
  const m = valid('esc02');
  assert.equal(m.method, 'RE%47IST%45R');
  assert.equal(m.count('Contact'), 2);
  assert.equal(m.get('C%6Fntact'), '<sip:alias2@host2.example.com>');
  assert.equal(m.from.displayName, '%Z%45');
});

test('lwsdisp: no LWS between display name and < (3.1.1.6)', () => {
  const m = valid('lwsdisp');
  assert.equal(m.from.displayName, 'caller');
  assert.equal(m.fromTag, '323');
});

test('longreq: long values and many headers (3.1.1.7)', () => {
  const m = valid('longreq');
  assert.equal(m.vias.length, 34);
  assert.ok(m.fromTag!.length > 100);
  assert.equal(m.toTag, null);
  assert.ok(m.to.displayName!.startsWith('I have a user name of extremeextreme'));
  assert.equal(m.body.length, m.receivedContentLength);
});

test('dblreq: bytes after Content-Length in a datagram are discarded (3.1.1.8)', () => {
  const m = valid('dblreq');
  assert.equal(m.method, 'REGISTER');
  assert.equal(m.body.length, 0);
  assert.ok(!serialize(m).includes('INVITE sip:joe'));
});

test('semiuri: ; in the user part of a Request-URI (3.1.1.9)', () => {
  const m = valid('semiuri');
  const uri = parseUri(m.requestUri);
  assert.ok(isSipUri(uri));
  assert.equal(uri.user, 'user;par=u%40example.net');
  assert.equal(uri.host, 'example.com');
  assert.equal(uri.params.size, 0);
  assert.equal(m.getAll('Accept').length, 6);
});

test('transports: several Via transports (3.1.1.10)', () => {
  const m = valid('transports');
  assert.deepEqual(
    m.vias.map((v) => v.transport),
    ['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP'],
  );
});

test('mpart01: binary multipart body kept intact (3.1.1.11)', () => {
  const m = valid('mpart01');
  assert.equal(m.contentType, 'multipart/mixed');
  assert.equal(m.body.length, m.receivedContentLength);
  assert.deepEqual(serialize(m), load('mpart01'));
});

test('unreason and noreason: UTF-8 and empty reason phrases (3.1.1.12, 3.1.1.13)', () => {
  const u = valid('unreason');
  assert.equal(u.status, 200);
  assert.equal(u.reason, '= 2**3 * 5**2 но сто девяносто девять - простое');
  const n = valid('noreason');
  assert.equal(n.status, 100);
  assert.equal(n.reason, '');
});

test('badvers is refused with 505, bigcode is a bad response', () => {
  assert.equal(check('badvers').status, 505);
  const big = check('bigcode');
  assert.notEqual(big.fault, null);
});

test('inv2543: RFC 2543 message without branch, tag or Max-Forwards parses', () => {
  const m = valid('inv2543');
  assert.equal(viaBranch(m.topVia), null);
  assert.equal(m.fromTag, null);
  assert.equal(m.maxForwards, null);
  assert.equal(m.receivedContentLength, null);
  assert.ok(m.body.length > 0);
});

test('zeromf parses with Max-Forwards 0', () => {
  assert.equal(valid('zeromf').maxForwards, 0);
});

test('unkscm: unknown Request-URI scheme parses for a 416 later', () => {
  const m = valid('unkscm');
  const uri = parseUri(m.requestUri);
  assert.equal(uri.scheme, 'nobodyknowsthisscheme');
});
