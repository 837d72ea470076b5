import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { FlowTokens, FLOW_PARAM } from '../../src/proxy/flow-token.js';
import { parseUri, isSipUri } from '../../src/sip/uri.js';

/**
 * Flow tokens (src/proxy/flow-token.ts): a Route to the cluster node that
 * holds a binding names the binding; only a token made with the cluster's
 * key, for the holder's current run, in the last minute or two, verifies.
 */

const key = randomBytes(32);
const NOW = 1_700_000_000_000;

test('a token names its binding, for the run it was made for, and sits in a Route URI as a parameter', () => {
  const t = new FlowTokens(key);
  const token = t.make(42, 'run-a', NOW);
  assert.match(token, /^42\.\d+\.[A-Za-z0-9_-]{16}$/);
  assert.equal(t.verify(token, 'run-a', NOW), 42);
  assert.equal(t.verify(token, 'run-a', NOW + 60_000), 42);
  const u = parseUri(`sip:127.0.0.1:5060;transport=tcp;lr;${FLOW_PARAM}=${token}`);
  assert.ok(isSipUri(u));
  assert.equal(u.params.get(FLOW_PARAM), token);
});

test('a token opens nothing else: another run, another key, another id, a changed character, too old', () => {
  const t = new FlowTokens(key);
  const token = t.make(42, 'run-a', NOW);
  assert.equal(t.verify(token, 'run-b', NOW), null);
  assert.equal(new FlowTokens(randomBytes(32)).verify(token, 'run-a', NOW), null);
  assert.equal(t.verify(token.replace(/^42\./, '43.'), 'run-a', NOW), null);
  const last = token.at(-1) === 'A' ? 'B' : 'A';
  assert.equal(t.verify(`${token.slice(0, -1)}${last}`, 'run-a', NOW), null);
  assert.equal(t.verify(token, 'run-a', NOW + 3 * 60_000), null);
  for (const bad of ['', '42', '42..', 'x.1.AAAAAAAAAAAAAAAA', `42.1.${'A'.repeat(17)}`, `${'9'.repeat(16)}.1.x`])
    assert.equal(t.verify(bad, 'run-a', NOW), null, bad);
  assert.throws(() => new FlowTokens(Buffer.alloc(8)), RangeError);
});
