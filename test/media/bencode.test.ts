import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bdecode, bencode, BencodeError } from '../../src/media/bencode.js';

test('bencode: strings (byte length of UTF-8), integers, lists, dictionaries with sorted keys', () => {
  assert.equal(bencode('spam').toString(), '4:spam');
  assert.equal(bencode('é').toString(), '2:é');
  assert.equal(bencode(-42).toString(), 'i-42e');
  assert.equal(bencode(['a', 1]).toString(), 'l1:ai1ee');
  assert.equal(
    bencode({ sdp: 'v=0', command: 'offer', flags: ['trust-address'] }).toString(),
    'd7:command5:offer5:flagsl13:trust-addresse3:sdp3:v=0e',
  );
});

test('bdecode: round trip, and malformed input throws BencodeError', () => {
  const v = { 'call-id': 'x', result: 'ok', tags: { a: { medias: [{ streams: [{ 'last packet': 1795473475 }] }] } } };
  assert.deepEqual(bdecode(bencode(v)), v);
  assert.deepEqual(bdecode(Buffer.from('abc d6:result2:oke'), 4), { result: 'ok' });
  for (const bad of ['', 'i12', 'ix2e', '5:abc', 'l1:a', 'd1:ai1e', 'di1ei2ee', 'x', '4:spamtrail']) {
    assert.throws(() => bdecode(Buffer.from(bad)), BencodeError, bad);
  }
  assert.throws(() => bencode(1.5), BencodeError);
});
