import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalIdentity } from '../../src/core/local-identity.js';
import { preprocessRoutes } from '../../src/proxy/route-set.js';
import type { SipMessage } from '../../src/sip/message.js';
import { msg } from '../helpers/sip-messages.js';

/**
 * Route preprocessing (RFC 3261 16.4) with the server's own notion of "us"
 * (src/core/local-identity.ts, the isOurs of src/server/pipeline.ts): Trunkline on
 * 127.0.0.1:5070 only, another proxy on the same host.
 */
function bye(routes: string[]): SipMessage {
  return msg([
    'BYE sip:bob@127.0.0.1:5090 SIP/2.0',
    'Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKbye1',
    'Max-Forwards: 70',
    'From: <sip:alice@example.net>;tag=a1',
    'To: <sip:bob@example.org>;tag=b1',
    'Call-ID: ours@example.net',
    'CSeq: 2 BYE',
    ...routes.map((r) => `Route: ${r}`),
  ]);
}

function identity(): LocalIdentity {
  const id = new LocalIdentity([{ host: '127.0.0.1', port: 5070 }]);
  id.addPort(5070);
  return id;
}

test('our Route value (our port) is removed; a proxy on another port of the same host keeps its value', () => {
  const id = identity();
  const req = bye(['<sip:127.0.0.1:5070;lr>', '<sip:127.0.0.1:5062;lr;ftag=a1>']);
  preprocessRoutes(req, (h, p) => id.isLocalHostPort(h, p));
  assert.deepEqual(req.getAll('Route'), ['<sip:127.0.0.1:5062;lr;ftag=a1>']);
});

test(
  'a Route without a port means port 5060: not ours when we do not listen there (another proxy on the default port keeps its value)',
  {},
  () => {
    const id = identity();
    const req = bye(['<sip:127.0.0.1:5070;lr>', '<sip:127.0.0.1;lr;ftag=a1>']);
    preprocessRoutes(req, (h, p) => id.isLocalHostPort(h, p));
    assert.deepEqual(req.getAll('Route'), ['<sip:127.0.0.1;lr;ftag=a1>']);
    assert.equal(id.isLocalHostPort('127.0.0.1', null), false);
  },
);
