/**
 * webrtc/stun.ts against the RFC 5769 test vectors: the sample request
 * (2.1) passes the short-term credential check (MESSAGE-INTEGRITY with the
 * password, FINGERPRINT) and fails when altered or checked with other
 * credentials; the XOR-MAPPED-ADDRESS of our response matches the sample
 * IPv4 and IPv6 responses (2.2, 2.3).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bindingRequest,
  bindingSuccess,
  checkBindingRequest,
  looksLikeStun,
  successTransaction,
} from '../../src/media/webrtc/stun.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 5769 2.1: username "evtj:h6vY", password "VOkJxbRl1RmTxUk/WvJxBt".
const SAMPLE_REQUEST = hex(`
  0001 0058 2112a442 b7e7a701 bc34d686 fa87dfae
  8022 0010 5354554e 20746573 7420636c 69656e74
  0024 0004 6e0001ff
  8029 0008 932ff9b1 51263b36
  0006 0009 6576746a 3a683676 59202020
  0008 0014 9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2
  8028 0004 e57a3bcf`);
const PWD = 'VOkJxbRl1RmTxUk/WvJxBt';

test('RFC 5769 2.1 sample request passes; altered or with other credentials it does not', () => {
  assert.ok(looksLikeStun(SAMPLE_REQUEST));
  const v = checkBindingRequest(SAMPLE_REQUEST, 'evtj', PWD);
  assert.ok(v.ok, JSON.stringify(v));
  assert.equal(v.request.transactionId.toString('hex'), 'b7e7a701bc34d686fa87dfae');
  assert.equal(v.request.useCandidate, false);
  assert.deepEqual(checkBindingRequest(SAMPLE_REQUEST, 'evtj', 'wrong-password-123456'), {
    ok: false,
    reason: 'bad MESSAGE-INTEGRITY',
  });
  assert.deepEqual(checkBindingRequest(SAMPLE_REQUEST, 'h6vY', PWD), { ok: false, reason: 'unknown USERNAME' });
  const altered = Buffer.from(SAMPLE_REQUEST);
  altered[45] ^= 1; // the PRIORITY value
  assert.equal(checkBindingRequest(altered, 'evtj', PWD).ok, false);
  assert.equal(checkBindingRequest(SAMPLE_REQUEST.subarray(0, 60), 'evtj', PWD).ok, false);
  assert.equal(looksLikeStun(Buffer.from([0x80, 0x08, 0, 1])), false);
});

test('Binding success: XOR-MAPPED-ADDRESS as RFC 5769 2.2/2.3 (chromium checks the rest: test/media/webrtc.test.ts)', () => {
  const req = { transactionId: hex('b7e7a701bc34d686fa87dfae'), useCandidate: false };
  const v4 = bindingSuccess(req, '192.0.2.1', 32853, PWD);
  assert.equal(v4.readUInt16BE(0), 0x0101);
  assert.equal(v4.readUInt16BE(2), v4.length - 20);
  assert.ok(v4.includes(hex('0020 0008 0001 a147 e112a643')), v4.toString('hex'));
  const v6 = bindingSuccess(req, '2001:db8:1234:5678:11:2233:4455:6677', 32853, PWD);
  assert.ok(v6.includes(hex('0020 0014 0002 a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9')), v6.toString('hex'));
});

test('bindingRequest: what our check accepts, with USE-CANDIDATE; its success response is recognised', () => {
  const req = bindingRequest({
    username: 'relay:peer',
    pwd: 'relay-password-0123456789',
    priority: 2130706431,
    transactionId: Buffer.alloc(12, 7),
  });
  const v = checkBindingRequest(req, 'relay', 'relay-password-0123456789');
  assert.ok(v.ok, JSON.stringify(v));
  assert.equal(v.request.useCandidate, true);
  const res = bindingSuccess(v.request, '127.0.0.1', 4000, 'relay-password-0123456789');
  assert.deepEqual(successTransaction(res), Buffer.alloc(12, 7));
  assert.equal(successTransaction(req), null);
  assert.equal(checkBindingRequest(req, 'relay', 'another-password-0123456').ok, false);
});
