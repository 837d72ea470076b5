/**
 * The JS HMAC-SHA256 of the dialog stamps and the digest nonces
 * (src/core/hmac-sha256.ts) against node:crypto: RFC 4231 test case 2, then
 * random keys of every length around the block size and messages around
 * the padding edges (55, 56, 63, 64 bytes...), ASCII and UTF-8, as one
 * string and as bytes followed by a string.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { HmacSha256 } from '../../src/core/hmac-sha256.js';

test('HMAC-SHA256: RFC 4231 test case 2', () => {
  const mac = new HmacSha256(Buffer.from('Jefe')).digest('what do ya want for nothing?');
  assert.equal(mac.toString('hex'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
});

test('HMAC-SHA256: equal to node:crypto for keys of 1-100 bytes and messages of 0-200 characters', () => {
  for (let keyLen = 1; keyLen <= 100; keyLen += 3) {
    const key = randomBytes(keyLen);
    const mac = new HmacSha256(key);
    for (let n = 0; n <= 200; n += keyLen % 7 === 0 ? 1 : 5) {
      const ascii = randomBytes(n).toString('base64').slice(0, n);
      const utf8 = `${ascii.slice(0, n >> 1)}é€😀`;
      for (const m of [ascii, utf8]) {
        assert.equal(
          mac.digest(m).toString('hex'),
          createHmac('sha256', key).update(m).digest('hex'),
          `key ${keyLen} bytes, message ${JSON.stringify(m)}`,
        );
      }
    }
  }
});

test('HMAC-SHA256: a long message grows the scratch buffer and later short ones stay right', () => {
  const key = randomBytes(32);
  const mac = new HmacSha256(key);
  const long = 'x'.repeat(5000);
  assert.equal(mac.digest(long).toString('hex'), createHmac('sha256', key).update(long).digest('hex'));
  assert.equal(mac.digest('a\nb').toString('hex'), createHmac('sha256', key).update('a\nb').digest('hex'));
});

test('HMAC-SHA256: bytes then a string, equal to node:crypto fed both in turn, into a given buffer', () => {
  for (let keyLen = 16; keyLen <= 80; keyLen += 16) {
    const key = randomBytes(keyLen);
    const mac = new HmacSha256(key);
    for (let headLen = 0; headLen <= 70; headLen += 7) {
      const head = randomBytes(headLen);
      for (const tail of ['', '192.0.2.1', '2001:db8::1', 'é€😀'.repeat(headLen % 5)]) {
        const want = createHmac('sha256', key).update(head).update(tail, 'utf8').digest('hex');
        assert.equal(mac.digestParts(head, tail).toString('hex'), want, `key ${keyLen}, head ${headLen}, ${tail}`);
        const out = Buffer.alloc(40, 0xaa);
        mac.digestParts(head, tail, out.subarray(4, 36));
        assert.equal(out.subarray(4, 36).toString('hex'), want);
        assert.equal(out[3], 0xaa, 'nothing written before out');
        assert.equal(out[36], 0xaa, 'nothing written after out');
      }
    }
  }
});
