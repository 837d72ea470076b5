import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseBest, allowsFailover } from '../../src/proxy/best-response.js';
import type { SipMessage } from '../../src/sip/message.js';
import { msg } from '../helpers/sip-messages.js';

function response(status: number): SipMessage {
  return msg([
    `SIP/2.0 ${status} Reason ${status}`,
    'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKp1.1',
    'From: <sip:alice@example.net>;tag=a1',
    `To: <sip:bob@example.org>;tag=t${status}`,
    'Call-ID: best@example.net',
    'CSeq: 1 INVITE',
  ]);
}

/** Statuses in arrival order → the status chooseBest picks. */
function best(...statuses: number[]): number | null {
  return chooseBest(statuses.map((s) => response(s)))?.status ?? null;
}

test('chooseBest: no final response at all gives null', () => {
  assert.equal(chooseBest([]), null);
});

test('chooseBest: a single response is chosen', () => {
  assert.equal(best(486), 486);
});

test('chooseBest: a 6xx wins over every other class, whatever the order (RFC 3261 16.7 step 6)', () => {
  assert.equal(best(486, 603, 404), 603);
  assert.equal(best(603, 302, 486), 603);
  assert.equal(best(302, 404, 500, 600), 600);
  assert.equal(best(407, 604), 604);
});

test('chooseBest: otherwise the lowest class wins (3xx over 4xx over 5xx)', () => {
  assert.equal(best(503, 404, 302), 302);
  assert.equal(best(500, 408), 408);
  assert.equal(best(502, 480), 480);
  assert.equal(best(301, 500), 301);
});

test('chooseBest: within 4xx, 401/407/415/420/484 are preferred over other 4xx', () => {
  assert.equal(best(486, 407, 404), 407);
  assert.equal(best(404, 484), 484);
  assert.equal(best(480, 415), 415);
  assert.equal(best(408, 420), 420);
  assert.equal(best(486, 401), 401);
  // A preferred 4xx still loses to a lower class.
  assert.equal(best(407, 302), 302);
});

test('chooseBest: within a class, the first one received stays when none is preferred', () => {
  assert.equal(best(486, 404), 486);
  assert.equal(best(404, 486), 404);
  assert.equal(best(503, 500), 503);
  // Two preferred ones: the first stays.
  assert.equal(best(401, 407), 401);
  assert.equal(best(407, 401), 407);
});

test('chooseBest returns the response object itself', () => {
  const rs = [response(486), response(407)];
  assert.equal(chooseBest(rs), rs[1]);
});

test('allowsFailover: only 408, 500, 502, 503 and 504 let a serial fork try the next target', () => {
  for (const s of [408, 500, 502, 503, 504]) assert.equal(allowsFailover(s), true, String(s));
  for (const s of [200, 302, 400, 401, 403, 404, 407, 480, 486, 487, 488, 501, 505, 513, 580, 600, 603, 604, 606]) {
    assert.equal(allowsFailover(s), false, String(s));
  }
});
