import { test } from 'node:test';
import assert from 'node:assert/strict';
import { preprocessRoutes, nextHopUri, RouteScan } from '../../src/proxy/route-set.js';
import type { SipMessage } from '../../src/sip/message.js';
import { formatUri } from '../../src/sip/uri.js';
import { serialize } from '../../src/sip/serializer.js';
import { msg } from '../helpers/sip-messages.js';

/** We are p1.example.com, on 5060 (UDP/TCP) and 5061 (TLS); a port left out means 5060. */
const isOurs = (host: string, port: number | null): boolean =>
  host.toLowerCase() === 'p1.example.com' && (port === null || port === 5060 || port === 5061);

function bye(ruri: string, routes: string[]): SipMessage {
  return msg([
    `BYE ${ruri} SIP/2.0`,
    'Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKbye1',
    'Max-Forwards: 70',
    'From: <sip:alice@example.net>;tag=a1',
    'To: <sip:bob@example.org>;tag=b1',
    'Call-ID: routes@example.net',
    'CSeq: 2 BYE',
    ...routes.map((r) => `Route: ${r}`),
  ]);
}

test('preprocessRoutes: our Route value at the top is removed; the Request-URI is kept', () => {
  const req = bye('sip:bob@203.0.113.5:5060', ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
  const uri = preprocessRoutes(req, isOurs);
  assert.equal(formatUri(uri), 'sip:bob@203.0.113.5:5060');
  assert.equal(req.requestUri, 'sip:bob@203.0.113.5:5060');
  assert.deepEqual(req.getAll('Route'), ['<sip:p2.example.com;lr>']);
});

test('preprocessRoutes: both of our Route values (double Record-Route) are removed, on separate lines', () => {
  const req = bye('sip:bob@203.0.113.5', [
    '<sip:p1.example.com:5060;lr>',
    '<sip:p1.example.com:5061;transport=tls;lr>',
    '<sip:p2.example.com;lr>',
  ]);
  preprocessRoutes(req, isOurs);
  assert.deepEqual(req.getAll('Route'), ['<sip:p2.example.com;lr>']);
});

test('preprocessRoutes: both of our Route values are removed when on one comma-separated line', () => {
  const req = bye('sip:bob@203.0.113.5', [
    '<sip:p1.example.com:5060;lr>, <sip:p1.example.com:5061;transport=tls;lr>, <sip:p2.example.com;lr>',
  ]);
  preprocessRoutes(req, isOurs);
  assert.deepEqual(req.getAll('Route'), ['<sip:p2.example.com;lr>']);
});

test('preprocessRoutes: only our values go; all of them when the set is only ours', () => {
  const req = bye('sip:bob@203.0.113.5', ['<sip:p1.example.com;lr>', '<sip:p1.example.com:5061;transport=tls;lr>']);
  preprocessRoutes(req, isOurs);
  assert.equal(req.has('Route'), false);
});

test('preprocessRoutes: a top Route that is not ours is left alone (also when ours comes later)', () => {
  const req = bye('sip:bob@203.0.113.5', ['<sip:p0.example.com;lr>', '<sip:p1.example.com;lr>']);
  preprocessRoutes(req, isOurs);
  assert.deepEqual(req.getAll('Route'), ['<sip:p0.example.com;lr>', '<sip:p1.example.com;lr>']);
});

test('preprocessRoutes: a strict router put our Record-Route URI in the Request-URI: it is replaced by the last Route (RFC 3261 16.4)', () => {
  const req = bye('sip:p1.example.com;lr', ['<sip:p2.example.com;lr>', '<sip:bob@203.0.113.5:5070>']);
  const uri = preprocessRoutes(req, isOurs);
  assert.equal(req.requestUri, 'sip:bob@203.0.113.5:5070');
  assert.equal(formatUri(uri), 'sip:bob@203.0.113.5:5070');
  assert.deepEqual(req.getAll('Route'), ['<sip:p2.example.com;lr>']);
  assert.match(serialize(req).toString(), /^BYE sip:bob@203\.0\.113\.5:5070 SIP\/2\.0\r\n/);
});

test('preprocessRoutes: the strict-router case with a single Route value leaves no Route', () => {
  const req = bye('sip:p1.example.com:5061;transport=tls;lr', ['<sip:bob@203.0.113.5:5070>']);
  preprocessRoutes(req, isOurs);
  assert.equal(req.requestUri, 'sip:bob@203.0.113.5:5070');
  assert.equal(req.has('Route'), false);
});

test('preprocessRoutes: a Request-URI naming us with a user part is an ordinary request, not the strict-router case', () => {
  const req = bye('sip:bob@p1.example.com;lr', ['<sip:p2.example.com;lr>', '<sip:carol@203.0.113.5>']);
  preprocessRoutes(req, isOurs);
  assert.equal(req.requestUri, 'sip:bob@p1.example.com;lr');
  assert.deepEqual(req.getAll('Route'), ['<sip:p2.example.com;lr>', '<sip:carol@203.0.113.5>']);
});

test('nextHopUri: a loose-routing top Route is the next hop; nothing is rewritten', () => {
  const req = bye('sip:bob@203.0.113.5', ['<sip:p2.example.com;lr>', '<sip:p3.example.com;lr>']);
  const hop = nextHopUri(req);
  assert.ok(hop !== null);
  assert.equal(hop.host, 'p2.example.com');
  assert.equal(req.requestUri, 'sip:bob@203.0.113.5');
  assert.deepEqual(req.getAll('Route'), ['<sip:p2.example.com;lr>', '<sip:p3.example.com;lr>']);
});

test('nextHopUri: a strict router (no lr) at the top becomes the Request-URI, the old Request-URI the last Route (16.6 step 6)', () => {
  const req = bye('sip:bob@203.0.113.5', ['<sip:strict.example.net>', '<sip:p3.example.com;lr>']);
  const hop = nextHopUri(req);
  assert.ok(hop !== null);
  assert.equal(hop.host, 'strict.example.net');
  assert.equal(req.requestUri, 'sip:strict.example.net');
  assert.deepEqual(req.getAll('Route'), ['<sip:p3.example.com;lr>', '<sip:bob@203.0.113.5>']);
  assert.match(serialize(req).toString(), /^BYE sip:strict\.example\.net SIP\/2\.0\r\n/);
});

test('nextHopUri: a single strict Route: the Route set is then just the old Request-URI', () => {
  const req = bye('sip:bob@203.0.113.5:5070', ['<sip:strict.example.net:5080>']);
  const hop = nextHopUri(req);
  assert.equal(hop?.port, 5080);
  assert.equal(req.requestUri, 'sip:strict.example.net:5080');
  assert.deepEqual(req.getAll('Route'), ['<sip:bob@203.0.113.5:5070>']);
});

test('nextHopUri: no Route: the Request-URI; null for a non-SIP Request-URI', () => {
  const req = bye('sip:bob@203.0.113.5:5070', []);
  const hop = nextHopUri(req);
  assert.equal(hop?.host, '203.0.113.5');
  assert.equal(hop?.port, 5070);
  assert.equal(nextHopUri(bye('tel:+14155550100', [])), null);
});

test('preprocessRoutes then nextHopUri: an in-dialog request through a double-record-routing proxy goes to the next proxy', () => {
  const req = bye('sip:bob@203.0.113.5', [
    '<sip:p1.example.com;lr>',
    '<sip:p1.example.com:5061;transport=tls;lr>',
    '<sip:p2.example.com:5061;transport=tls;lr>',
  ]);
  preprocessRoutes(req, isOurs);
  const hop = nextHopUri(req);
  assert.equal(hop?.host, 'p2.example.com');
  assert.equal(hop?.params.get('transport'), 'tls');
  assert.equal(req.requestUri, 'sip:bob@203.0.113.5');
});

test('RouteScan: preprocessRoutes notes how many entries of ours came off and the first stamp among them', () => {
  const scan = new RouteScan();
  const req = bye('sip:bob@203.0.113.5', [
    '<sip:p1.example.com;lr>',
    '<sip:p1.example.com:5061;transport=tls;lr;dsig=BBBBBBBBBBBBBBBB>',
    '<sip:p2.example.com;lr;dsig=CCCCCCCCCCCCCCCC>',
  ]);
  preprocessRoutes(req, isOurs, scan);
  assert.equal(scan.ours, 2);
  assert.equal(scan.stamp, 'BBBBBBBBBBBBBBBB');
  // Another proxy's parameter of the same name is not ours to read.
  const other = bye('sip:bob@203.0.113.5', ['<sip:p2.example.com;lr;dsig=CCCCCCCCCCCCCCCC>']);
  preprocessRoutes(other, isOurs, scan.reset());
  assert.equal(scan.ours, 0);
  assert.equal(scan.stamp, null);
});

test("RouteScan: a strict router's Request-URI of ours counts, with its stamp", () => {
  const scan = new RouteScan();
  const req = bye('sip:p1.example.com;lr;dsig=AAAAAAAAAAAAAAAA', ['<sip:bob@203.0.113.5:5070>']);
  preprocessRoutes(req, isOurs, scan);
  assert.equal(req.requestUri, 'sip:bob@203.0.113.5:5070');
  assert.equal(scan.ours, 1);
  assert.equal(scan.stamp, 'AAAAAAAAAAAAAAAA');
});
