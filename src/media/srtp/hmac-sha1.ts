/**
 * HMAC-SHA1 (RFC 2104, FIPS 180-4) for the SRTP per-packet authentication tag,
 * without allocation: the inner and outer states after the key blocks are
 * computed once per key, and each tag costs the message's compression rounds
 * plus one for the outer hash. node:crypto's createHmac() builds an object and
 * re-hashes both key blocks on every packet, which is 2-3x slower here.
 *
 * Checked against node:crypto in test/media/srtp.test.ts.
 */

const W = new Int32Array(80);
const TAIL = new Uint8Array(128);

function compress(state: Int32Array, buf: Uint8Array, off: number): void {
  for (let t = 0; t < 16; t++) {
    const i = off + t * 4;
    W[t] = (buf[i]! << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!;
  }
  for (let t = 16; t < 80; t++) {
    const x = W[t - 3]! ^ W[t - 8]! ^ W[t - 14]! ^ W[t - 16]!;
    W[t] = (x << 1) | (x >>> 31);
  }
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  // Four loops of 20 rounds (no branch per round).
  for (let t = 0; t < 20; t++) {
    const tmp = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + 0x5a827999 + W[t]!) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = tmp;
  }
  for (let t = 20; t < 40; t++) {
    const tmp = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + W[t]!) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = tmp;
  }
  for (let t = 40; t < 60; t++) {
    const tmp = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + 0x8f1bbcdc + W[t]!) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = tmp;
  }
  for (let t = 60; t < 80; t++) {
    const tmp = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0xca62c1d6 + W[t]!) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = tmp;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
}

const INIT = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476, 0xc3d2e1f0 | 0];

export class HmacSha1 {
  private readonly inner = new Int32Array(5);
  private readonly outer = new Int32Array(5);
  private readonly work = new Int32Array(5);
  private readonly outerBlock = new Uint8Array(64);

  constructor(key: Uint8Array) {
    if (key.length > 64) throw new RangeError('HMAC-SHA1 key longer than 64 bytes');
    const ipad = new Uint8Array(64).fill(0x36);
    const opad = new Uint8Array(64).fill(0x5c);
    for (let i = 0; i < key.length; i++) {
      ipad[i]! ^= key[i]!;
      opad[i]! ^= key[i]!;
    }
    this.inner.set(INIT);
    compress(this.inner, ipad, 0);
    this.outer.set(INIT);
    compress(this.outer, opad, 0);
    // Outer message: 20-byte inner digest, then padding for 64 + 20 bytes = 672 bits.
    this.outerBlock[20] = 0x80;
    this.outerBlock[62] = 672 >>> 8;
    this.outerBlock[63] = 672 & 0xff;
  }

  /**
   * Writes the first `tagLen` bytes of HMAC(key, buf[off, off+len) || extra)
   * to out[outOff...], where `extra` is a 32-bit big-endian word (the SRTP ROC)
   * when `withExtra` is true.
   */
  sign(
    buf: Uint8Array,
    off: number,
    len: number,
    withExtra: boolean,
    extra: number,
    out: Uint8Array,
    outOff: number,
    tagLen: number,
  ): void {
    const st = this.work;
    st.set(this.inner);
    const end = off + len;
    let p = off;
    while (end - p >= 64) {
      compress(st, buf, p);
      p += 64;
    }
    // The tail: remaining bytes, the extra word, 0x80, zeros, bit length (64 for the ipad block).
    let n = 0;
    while (p < end) TAIL[n++] = buf[p++]!;
    let total = len;
    if (withExtra) {
      TAIL[n++] = extra >>> 24;
      TAIL[n++] = (extra >>> 16) & 0xff;
      TAIL[n++] = (extra >>> 8) & 0xff;
      TAIL[n++] = extra & 0xff;
      total += 4;
    }
    TAIL[n++] = 0x80;
    const blocks = n + 8 <= 64 ? 1 : 2;
    const last = blocks * 64;
    while (n < last - 8) TAIL[n++] = 0;
    const bits = (total + 64) * 8;
    TAIL[last - 8] = 0;
    TAIL[last - 7] = 0;
    TAIL[last - 6] = 0;
    TAIL[last - 5] = Math.floor(bits / 0x100000000) & 0xff;
    TAIL[last - 4] = bits >>> 24;
    TAIL[last - 3] = (bits >>> 16) & 0xff;
    TAIL[last - 2] = (bits >>> 8) & 0xff;
    TAIL[last - 1] = bits & 0xff;
    compress(st, TAIL, 0);
    if (blocks === 2) compress(st, TAIL, 64);
    // Outer hash over the inner digest.
    const ob = this.outerBlock;
    for (let i = 0; i < 5; i++) {
      const v = st[i]!;
      ob[i * 4] = v >>> 24;
      ob[i * 4 + 1] = (v >>> 16) & 0xff;
      ob[i * 4 + 2] = (v >>> 8) & 0xff;
      ob[i * 4 + 3] = v & 0xff;
    }
    st.set(this.outer);
    compress(st, ob, 0);
    for (let i = 0; i < tagLen; i++) {
      const v = st[i >>> 2]!;
      out[outOff + i] = (v >>> (24 - 8 * (i & 3))) & 0xff;
    }
  }

  /** Constant-time check of the tag at buf[tagOff...] against the HMAC of buf[off, off+len) || extra. */
  verify(
    buf: Uint8Array,
    off: number,
    len: number,
    withExtra: boolean,
    extra: number,
    tagOff: number,
    tagLen: number,
  ): boolean {
    this.sign(buf, off, len, withExtra, extra, CHECK, 0, tagLen);
    let diff = 0;
    for (let i = 0; i < tagLen; i++) diff |= CHECK[i]! ^ buf[tagOff + i]!;
    return diff === 0;
  }
}

const CHECK = new Uint8Array(20);
