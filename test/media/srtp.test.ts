import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { AesCm } from '../../src/media/srtp/aes-cm.js';
import { HmacSha1 } from '../../src/media/srtp/hmac-sha1.js';
import { deriveSessionKey, Srtp, SrtpContext } from '../../src/media/srtp/context.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('RFC 3711 B.2: AES-CM keystream', () => {
  const cm = new AesCm(hex('2B7E151628AED2A6ABF7158809CF4F3C'));
  const iv = hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000');
  const ks = cm.keystream(iv, 0x10000 * 16 > 0 ? 0xff02 * 16 : 0);
  assert.equal(ks.subarray(0, 16).toString('hex').toUpperCase(), 'E03EAD0935C95E80E166B16DD92B4EB4');
  assert.equal(ks.subarray(16, 32).toString('hex').toUpperCase(), 'D23513162B02D0F72A43A2FE4A5F97AB');
  assert.equal(ks.subarray(32, 48).toString('hex').toUpperCase(), '41E95B3BB0A2E8DD477901E4FCA894C0');
  // Blocks FEFF, FF00, FF01: the counter carries across the 128-block chunks of one call.
  assert.equal(
    ks
      .subarray(0xfeff * 16, 0xff00 * 16)
      .toString('hex')
      .toUpperCase(),
    'EC8CDF7398607CB0F2D21675EA9EA1E4',
  );
  assert.equal(
    ks
      .subarray(0xff00 * 16, 0xff01 * 16)
      .toString('hex')
      .toUpperCase(),
    '362B7C3C6773516318A077D7FC5073AE',
  );
  assert.equal(
    ks
      .subarray(0xff01 * 16, 0xff02 * 16)
      .toString('hex')
      .toUpperCase(),
    '6A2CC3787889374FBEB4C81B17BA6C44',
  );
});

test('RFC 3711 B.3: key derivation (cipher key, salt, auth key)', () => {
  const mk = hex('E1F97A0D3E018BE0D64FA32C06DE4139');
  const ms = hex('0EC675AD498AFEEBB6960B3AABE6');
  assert.equal(deriveSessionKey(mk, ms, 0, 16).toString('hex').toUpperCase(), 'C61E7A93744F39EE10734AFE3FF7A087');
  assert.equal(deriveSessionKey(mk, ms, 2, 14).toString('hex').toUpperCase(), '30CBBC08863D8C85D49DB34A9AE1');
  assert.equal(
    deriveSessionKey(mk, ms, 1, 94).toString('hex').toUpperCase(),
    'CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE' +
      'E049646C43D9327AD175578EF7227098' +
      '6371C10C9A369AC2F94A8C5FBCDDDC25' +
      '6D6E919A48B610EF17C2041E47403576' +
      '6B68642C59BBFC2F34DB60DBDFB2',
  );
});

test('HMAC-SHA1 matches node:crypto for every tail length, with and without the ROC word', () => {
  const key = randomBytes(20);
  const mac = new HmacSha1(key);
  const out = Buffer.alloc(20);
  for (let len = 0; len <= 200; len++) {
    const data = randomBytes(len);
    for (const extra of [false, true]) {
      const roc = Buffer.alloc(4);
      roc.writeUInt32BE(0x01020304);
      const ref = createHmac('sha1', key)
        .update(data)
        .update(extra ? roc : Buffer.alloc(0))
        .digest();
      mac.sign(data, 0, len, extra, 0x01020304, out, 0, 20);
      assert.deepEqual(out, ref, `len ${len} extra ${extra}`);
    }
  }
});

function rtp(seq: number, ssrc: number, payload: Buffer, ts = seq * 160): Buffer {
  const b = Buffer.alloc(12 + payload.length);
  b[0] = 0x80;
  b[1] = 8;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  payload.copy(b, 12);
  return b;
}

function pair(
  suite: 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32' = 'AES_CM_128_HMAC_SHA1_80',
): [SrtpContext, SrtpContext] {
  const k = randomBytes(16);
  const s = randomBytes(14);
  return [new SrtpContext(suite, k, s), new SrtpContext(suite, k, s)];
}

function protect(tx: SrtpContext, p: Buffer): Buffer {
  const out = Buffer.alloc(p.length + tx.rtpOverhead);
  const n = tx.protectRtp(p, p.length, out);
  assert.equal(n, out.length);
  return out;
}

for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'] as const) {
  test(`${suite}: protect then unprotect gives the packet back; the payload is encrypted; the tag length is right`, () => {
    const [tx, rx] = pair(suite);
    const payload = randomBytes(160);
    const p = rtp(1, 0x1234, payload);
    const s = protect(tx, p);
    assert.equal(s.length, p.length + (suite.endsWith('80') ? 10 : 4));
    assert.deepEqual(s.subarray(0, 12), p.subarray(0, 12));
    assert.notDeepEqual(s.subarray(12, 172), payload);
    const n = rx.unprotectRtp(s, s.length);
    assert.equal(n, p.length);
    assert.deepEqual(s.subarray(0, n), p);
  });
}

test('a tampered packet or a wrong key fails authentication', () => {
  const [tx, rx] = pair();
  const s = protect(tx, rtp(5, 7, randomBytes(160)));
  const bad = Buffer.from(s);
  bad[20]! ^= 1;
  assert.equal(rx.unprotectRtp(bad, bad.length), Srtp.AUTH_FAILED);
  const other = new SrtpContext('AES_CM_128_HMAC_SHA1_80', randomBytes(16), randomBytes(14));
  assert.equal(other.unprotectRtp(Buffer.from(s), s.length), Srtp.AUTH_FAILED);
  assert.equal(rx.unprotectRtp(s, s.length), 172);
});

test('replay protection: a packet seen before, or older than the window, is refused; reordering inside the window is accepted', () => {
  const [tx, rx] = pair();
  const pkts = Array.from({ length: 300 }, (_, i) => protect(tx, rtp(i + 100, 9, randomBytes(20))));
  const copy = (b: Buffer): Buffer => Buffer.from(b);
  assert.ok(rx.unprotectRtp(copy(pkts[0]!), pkts[0]!.length) > 0);
  assert.equal(rx.unprotectRtp(copy(pkts[0]!), pkts[0]!.length), Srtp.REPLAY);
  assert.ok(rx.unprotectRtp(copy(pkts[5]!), pkts[5]!.length) > 0);
  assert.ok(rx.unprotectRtp(copy(pkts[3]!), pkts[3]!.length) > 0, 'late packet within the window');
  assert.equal(rx.unprotectRtp(copy(pkts[3]!), pkts[3]!.length), Srtp.REPLAY);
  assert.ok(rx.unprotectRtp(copy(pkts[299]!), pkts[299]!.length) > 0);
  assert.equal(rx.unprotectRtp(copy(pkts[10]!), pkts[10]!.length), Srtp.REPLAY, 'older than the window');
});

test('rollover counter: sequence numbers wrap at 65535 and both ends keep the same ROC', () => {
  const [tx, rx] = pair();
  let seq = 65530;
  for (let i = 0; i < 20; i++, seq++) {
    const p = rtp(seq, 42, Buffer.from([i, i, i, i]));
    const s = protect(tx, p);
    assert.equal(rx.unprotectRtp(s, s.length), p.length, `packet ${i}`);
    assert.deepEqual(s.subarray(0, p.length), p);
  }
  assert.equal(tx.rolloverCounter(42), 1);
  assert.equal(rx.rolloverCounter(42), 1);
  // A late packet from before the wrap (ROC 0) still decrypts.
  const [tx2, rx2] = pair();
  const first = protect(tx2, rtp(65534, 1, Buffer.from('frst')));
  const before = protect(tx2, rtp(65535, 1, Buffer.from('late')));
  const after = protect(tx2, rtp(0, 1, Buffer.from('next')));
  assert.equal(rx2.unprotectRtp(first, first.length), 16);
  assert.equal(rx2.unprotectRtp(after, after.length), 16);
  assert.equal(rx2.rolloverCounter(1), 1);
  assert.equal(rx2.unprotectRtp(before, before.length), 16);
  assert.equal(before.subarray(12, 16).toString(), 'late');
});

test('SRTCP: protect adds E flag + index and an 80-bit tag for both suites; unprotect restores; replays refused', () => {
  for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'] as const) {
    const [tx, rx] = pair(suite);
    // An RR with one report block.
    const rr = Buffer.alloc(32);
    rr[0] = 0x81;
    rr[1] = 201;
    rr.writeUInt16BE(7, 2);
    rr.writeUInt32BE(0xabcdef, 4);
    randomBytes(24).copy(rr, 8);
    const out = Buffer.alloc(32 + 14);
    assert.equal(tx.protectRtcp(rr, 32, out), 46);
    assert.equal(out.readUInt32BE(32), 0x80000000);
    assert.notDeepEqual(out.subarray(8, 32), rr.subarray(8));
    const keep = Buffer.from(out);
    assert.equal(rx.unprotectRtcp(out, 46), 32);
    assert.deepEqual(out.subarray(0, 32), rr);
    assert.equal(rx.unprotectRtcp(keep, 46), Srtp.REPLAY);
    const second = Buffer.alloc(46);
    tx.protectRtcp(rr, 32, second);
    assert.equal(second.readUInt32BE(32), 0x80000001);
    second[10]! ^= 0xff;
    assert.equal(rx.unprotectRtcp(second, 46), Srtp.AUTH_FAILED);
  }
});

test('a key of the wrong size is refused when the context is made', () => {
  assert.throws(() => new SrtpContext('AES_CM_128_HMAC_SHA1_80', randomBytes(15), randomBytes(14)), RangeError);
});

test('forged packets with random SSRCs do not grow the receiver state; at most 16 SSRCs are kept', () => {
  const [tx, rx] = pair();
  for (let i = 0; i < 1000; i++) {
    const p = rtp(i, (Math.random() * 0xffffffff) >>> 0, randomBytes(40));
    const forged = Buffer.concat([p, randomBytes(10)]);
    assert.equal(rx.unprotectRtp(forged, forged.length), Srtp.AUTH_FAILED);
  }
  assert.equal(rx.ssrcCount, 0);
  for (let ssrc = 1; ssrc <= 40; ssrc++) {
    const s = protect(tx, rtp(1, ssrc, randomBytes(40)));
    assert.ok(rx.unprotectRtp(s, s.length) > 0);
  }
  assert.equal(rx.ssrcCount, 16);
});
