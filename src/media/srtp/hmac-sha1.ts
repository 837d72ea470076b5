/**
 * HMAC-SHA1 (RFC 2104, FIPS 180-4) for the SRTP per-packet authentication tag,
 * without allocation: the inner and outer states after the key blocks are
 * computed once per key, and each tag costs the message's compression rounds
 * plus one for the outer hash. node:crypto's createHmac() builds an object and
 * re-hashes both key blocks on every packet, which is 2-3x slower here.
 *
 * Checked against node:crypto in test/media/srtp.test.ts.
 */

/**
 * Scratch blocks are Buffers like the packets, so compress() sees one kind
 * of array (a second one made its loads polymorphic, about 4% of a tag).
 */
const TAIL = Buffer.alloc(128);

/** The big-endian 32-bit word at buf[i, i+4). */
function word(buf: Uint8Array, i: number): number {
  return (buf[i]! << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!;
}

/**
 * One SHA-1 compression (FIPS 180-4 6.1.2) of buf[off, off+64) into state,
 * written out round by round. The message schedule lives in sixteen locals,
 * w0..w15, each W[t] for t >= 16 computed on the line before its round and
 * replacing W[t - 16] (the alternate method of FIPS 180-4 6.1.3). The working
 * variables a..e trade names instead of being shifted: round t computes
 * T = ROTL5(a) + f_t(b, c, d) + e + K_t + W[t] into e and ROTL30(b) into b,
 * and round t+1 reads (e, a, b, c, d) as its (a, b, c, d, e). In this form V8
 * keeps all of it in registers: about 1,600 instructions per block against
 * 4,200 for the loop form over an Int32Array(80), 150 ns against 290.
 */
// prettier-ignore
function compress(state: Int32Array, buf: Uint8Array, off: number): void {
  let w0 = word(buf, off + 0), w1 = word(buf, off + 4);
  let w2 = word(buf, off + 8), w3 = word(buf, off + 12);
  let w4 = word(buf, off + 16), w5 = word(buf, off + 20);
  let w6 = word(buf, off + 24), w7 = word(buf, off + 28);
  let w8 = word(buf, off + 32), w9 = word(buf, off + 36);
  let w10 = word(buf, off + 40), w11 = word(buf, off + 44);
  let w12 = word(buf, off + 48), w13 = word(buf, off + 52);
  let w14 = word(buf, off + 56), w15 = word(buf, off + 60);
  let a = state[0]!, b = state[1]!, c = state[2]!, d = state[3]!, e = state[4]!, x = 0;
  // rounds 0-19: Ch(b, c, d), K = 0x5a827999
  e = ((((a << 5) | (a >>> 27)) + (d ^ (b & (c ^ d))) + e + 0x5a827999 + w0) | 0); b = (b << 30) | (b >>> 2);
  d = ((((e << 5) | (e >>> 27)) + (c ^ (a & (b ^ c))) + d + 0x5a827999 + w1) | 0); a = (a << 30) | (a >>> 2);
  c = ((((d << 5) | (d >>> 27)) + (b ^ (e & (a ^ b))) + c + 0x5a827999 + w2) | 0); e = (e << 30) | (e >>> 2);
  b = ((((c << 5) | (c >>> 27)) + (a ^ (d & (e ^ a))) + b + 0x5a827999 + w3) | 0); d = (d << 30) | (d >>> 2);
  a = ((((b << 5) | (b >>> 27)) + (e ^ (c & (d ^ e))) + a + 0x5a827999 + w4) | 0); c = (c << 30) | (c >>> 2);
  e = ((((a << 5) | (a >>> 27)) + (d ^ (b & (c ^ d))) + e + 0x5a827999 + w5) | 0); b = (b << 30) | (b >>> 2);
  d = ((((e << 5) | (e >>> 27)) + (c ^ (a & (b ^ c))) + d + 0x5a827999 + w6) | 0); a = (a << 30) | (a >>> 2);
  c = ((((d << 5) | (d >>> 27)) + (b ^ (e & (a ^ b))) + c + 0x5a827999 + w7) | 0); e = (e << 30) | (e >>> 2);
  b = ((((c << 5) | (c >>> 27)) + (a ^ (d & (e ^ a))) + b + 0x5a827999 + w8) | 0); d = (d << 30) | (d >>> 2);
  a = ((((b << 5) | (b >>> 27)) + (e ^ (c & (d ^ e))) + a + 0x5a827999 + w9) | 0); c = (c << 30) | (c >>> 2);
  e = ((((a << 5) | (a >>> 27)) + (d ^ (b & (c ^ d))) + e + 0x5a827999 + w10) | 0); b = (b << 30) | (b >>> 2);
  d = ((((e << 5) | (e >>> 27)) + (c ^ (a & (b ^ c))) + d + 0x5a827999 + w11) | 0); a = (a << 30) | (a >>> 2);
  c = ((((d << 5) | (d >>> 27)) + (b ^ (e & (a ^ b))) + c + 0x5a827999 + w12) | 0); e = (e << 30) | (e >>> 2);
  b = ((((c << 5) | (c >>> 27)) + (a ^ (d & (e ^ a))) + b + 0x5a827999 + w13) | 0); d = (d << 30) | (d >>> 2);
  a = ((((b << 5) | (b >>> 27)) + (e ^ (c & (d ^ e))) + a + 0x5a827999 + w14) | 0); c = (c << 30) | (c >>> 2);
  e = ((((a << 5) | (a >>> 27)) + (d ^ (b & (c ^ d))) + e + 0x5a827999 + w15) | 0); b = (b << 30) | (b >>> 2);
  x = w13 ^ w8 ^ w2 ^ w0; w0 = (x << 1) | (x >>> 31);
  d = ((((e << 5) | (e >>> 27)) + (c ^ (a & (b ^ c))) + d + 0x5a827999 + w0) | 0); a = (a << 30) | (a >>> 2);
  x = w14 ^ w9 ^ w3 ^ w1; w1 = (x << 1) | (x >>> 31);
  c = ((((d << 5) | (d >>> 27)) + (b ^ (e & (a ^ b))) + c + 0x5a827999 + w1) | 0); e = (e << 30) | (e >>> 2);
  x = w15 ^ w10 ^ w4 ^ w2; w2 = (x << 1) | (x >>> 31);
  b = ((((c << 5) | (c >>> 27)) + (a ^ (d & (e ^ a))) + b + 0x5a827999 + w2) | 0); d = (d << 30) | (d >>> 2);
  x = w0 ^ w11 ^ w5 ^ w3; w3 = (x << 1) | (x >>> 31);
  a = ((((b << 5) | (b >>> 27)) + (e ^ (c & (d ^ e))) + a + 0x5a827999 + w3) | 0); c = (c << 30) | (c >>> 2);
  // rounds 20-39: Parity(b, c, d), K = 0x6ed9eba1
  x = w1 ^ w12 ^ w6 ^ w4; w4 = (x << 1) | (x >>> 31);
  e = ((((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w4) | 0); b = (b << 30) | (b >>> 2);
  x = w2 ^ w13 ^ w7 ^ w5; w5 = (x << 1) | (x >>> 31);
  d = ((((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + 0x6ed9eba1 + w5) | 0); a = (a << 30) | (a >>> 2);
  x = w3 ^ w14 ^ w8 ^ w6; w6 = (x << 1) | (x >>> 31);
  c = ((((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + 0x6ed9eba1 + w6) | 0); e = (e << 30) | (e >>> 2);
  x = w4 ^ w15 ^ w9 ^ w7; w7 = (x << 1) | (x >>> 31);
  b = ((((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + 0x6ed9eba1 + w7) | 0); d = (d << 30) | (d >>> 2);
  x = w5 ^ w0 ^ w10 ^ w8; w8 = (x << 1) | (x >>> 31);
  a = ((((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + 0x6ed9eba1 + w8) | 0); c = (c << 30) | (c >>> 2);
  x = w6 ^ w1 ^ w11 ^ w9; w9 = (x << 1) | (x >>> 31);
  e = ((((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w9) | 0); b = (b << 30) | (b >>> 2);
  x = w7 ^ w2 ^ w12 ^ w10; w10 = (x << 1) | (x >>> 31);
  d = ((((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + 0x6ed9eba1 + w10) | 0); a = (a << 30) | (a >>> 2);
  x = w8 ^ w3 ^ w13 ^ w11; w11 = (x << 1) | (x >>> 31);
  c = ((((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + 0x6ed9eba1 + w11) | 0); e = (e << 30) | (e >>> 2);
  x = w9 ^ w4 ^ w14 ^ w12; w12 = (x << 1) | (x >>> 31);
  b = ((((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + 0x6ed9eba1 + w12) | 0); d = (d << 30) | (d >>> 2);
  x = w10 ^ w5 ^ w15 ^ w13; w13 = (x << 1) | (x >>> 31);
  a = ((((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + 0x6ed9eba1 + w13) | 0); c = (c << 30) | (c >>> 2);
  x = w11 ^ w6 ^ w0 ^ w14; w14 = (x << 1) | (x >>> 31);
  e = ((((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w14) | 0); b = (b << 30) | (b >>> 2);
  x = w12 ^ w7 ^ w1 ^ w15; w15 = (x << 1) | (x >>> 31);
  d = ((((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + 0x6ed9eba1 + w15) | 0); a = (a << 30) | (a >>> 2);
  x = w13 ^ w8 ^ w2 ^ w0; w0 = (x << 1) | (x >>> 31);
  c = ((((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + 0x6ed9eba1 + w0) | 0); e = (e << 30) | (e >>> 2);
  x = w14 ^ w9 ^ w3 ^ w1; w1 = (x << 1) | (x >>> 31);
  b = ((((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + 0x6ed9eba1 + w1) | 0); d = (d << 30) | (d >>> 2);
  x = w15 ^ w10 ^ w4 ^ w2; w2 = (x << 1) | (x >>> 31);
  a = ((((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + 0x6ed9eba1 + w2) | 0); c = (c << 30) | (c >>> 2);
  x = w0 ^ w11 ^ w5 ^ w3; w3 = (x << 1) | (x >>> 31);
  e = ((((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w3) | 0); b = (b << 30) | (b >>> 2);
  x = w1 ^ w12 ^ w6 ^ w4; w4 = (x << 1) | (x >>> 31);
  d = ((((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + 0x6ed9eba1 + w4) | 0); a = (a << 30) | (a >>> 2);
  x = w2 ^ w13 ^ w7 ^ w5; w5 = (x << 1) | (x >>> 31);
  c = ((((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + 0x6ed9eba1 + w5) | 0); e = (e << 30) | (e >>> 2);
  x = w3 ^ w14 ^ w8 ^ w6; w6 = (x << 1) | (x >>> 31);
  b = ((((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + 0x6ed9eba1 + w6) | 0); d = (d << 30) | (d >>> 2);
  x = w4 ^ w15 ^ w9 ^ w7; w7 = (x << 1) | (x >>> 31);
  a = ((((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + 0x6ed9eba1 + w7) | 0); c = (c << 30) | (c >>> 2);
  // rounds 40-59: Maj(b, c, d), K = 0x8f1bbcdc
  x = w5 ^ w0 ^ w10 ^ w8; w8 = (x << 1) | (x >>> 31);
  e = ((((a << 5) | (a >>> 27)) + ((b & c) | (d & (b | c))) + e + 0x8f1bbcdc + w8) | 0); b = (b << 30) | (b >>> 2);
  x = w6 ^ w1 ^ w11 ^ w9; w9 = (x << 1) | (x >>> 31);
  d = ((((e << 5) | (e >>> 27)) + ((a & b) | (c & (a | b))) + d + 0x8f1bbcdc + w9) | 0); a = (a << 30) | (a >>> 2);
  x = w7 ^ w2 ^ w12 ^ w10; w10 = (x << 1) | (x >>> 31);
  c = ((((d << 5) | (d >>> 27)) + ((e & a) | (b & (e | a))) + c + 0x8f1bbcdc + w10) | 0); e = (e << 30) | (e >>> 2);
  x = w8 ^ w3 ^ w13 ^ w11; w11 = (x << 1) | (x >>> 31);
  b = ((((c << 5) | (c >>> 27)) + ((d & e) | (a & (d | e))) + b + 0x8f1bbcdc + w11) | 0); d = (d << 30) | (d >>> 2);
  x = w9 ^ w4 ^ w14 ^ w12; w12 = (x << 1) | (x >>> 31);
  a = ((((b << 5) | (b >>> 27)) + ((c & d) | (e & (c | d))) + a + 0x8f1bbcdc + w12) | 0); c = (c << 30) | (c >>> 2);
  x = w10 ^ w5 ^ w15 ^ w13; w13 = (x << 1) | (x >>> 31);
  e = ((((a << 5) | (a >>> 27)) + ((b & c) | (d & (b | c))) + e + 0x8f1bbcdc + w13) | 0); b = (b << 30) | (b >>> 2);
  x = w11 ^ w6 ^ w0 ^ w14; w14 = (x << 1) | (x >>> 31);
  d = ((((e << 5) | (e >>> 27)) + ((a & b) | (c & (a | b))) + d + 0x8f1bbcdc + w14) | 0); a = (a << 30) | (a >>> 2);
  x = w12 ^ w7 ^ w1 ^ w15; w15 = (x << 1) | (x >>> 31);
  c = ((((d << 5) | (d >>> 27)) + ((e & a) | (b & (e | a))) + c + 0x8f1bbcdc + w15) | 0); e = (e << 30) | (e >>> 2);
  x = w13 ^ w8 ^ w2 ^ w0; w0 = (x << 1) | (x >>> 31);
  b = ((((c << 5) | (c >>> 27)) + ((d & e) | (a & (d | e))) + b + 0x8f1bbcdc + w0) | 0); d = (d << 30) | (d >>> 2);
  x = w14 ^ w9 ^ w3 ^ w1; w1 = (x << 1) | (x >>> 31);
  a = ((((b << 5) | (b >>> 27)) + ((c & d) | (e & (c | d))) + a + 0x8f1bbcdc + w1) | 0); c = (c << 30) | (c >>> 2);
  x = w15 ^ w10 ^ w4 ^ w2; w2 = (x << 1) | (x >>> 31);
  e = ((((a << 5) | (a >>> 27)) + ((b & c) | (d & (b | c))) + e + 0x8f1bbcdc + w2) | 0); b = (b << 30) | (b >>> 2);
  x = w0 ^ w11 ^ w5 ^ w3; w3 = (x << 1) | (x >>> 31);
  d = ((((e << 5) | (e >>> 27)) + ((a & b) | (c & (a | b))) + d + 0x8f1bbcdc + w3) | 0); a = (a << 30) | (a >>> 2);
  x = w1 ^ w12 ^ w6 ^ w4; w4 = (x << 1) | (x >>> 31);
  c = ((((d << 5) | (d >>> 27)) + ((e & a) | (b & (e | a))) + c + 0x8f1bbcdc + w4) | 0); e = (e << 30) | (e >>> 2);
  x = w2 ^ w13 ^ w7 ^ w5; w5 = (x << 1) | (x >>> 31);
  b = ((((c << 5) | (c >>> 27)) + ((d & e) | (a & (d | e))) + b + 0x8f1bbcdc + w5) | 0); d = (d << 30) | (d >>> 2);
  x = w3 ^ w14 ^ w8 ^ w6; w6 = (x << 1) | (x >>> 31);
  a = ((((b << 5) | (b >>> 27)) + ((c & d) | (e & (c | d))) + a + 0x8f1bbcdc + w6) | 0); c = (c << 30) | (c >>> 2);
  x = w4 ^ w15 ^ w9 ^ w7; w7 = (x << 1) | (x >>> 31);
  e = ((((a << 5) | (a >>> 27)) + ((b & c) | (d & (b | c))) + e + 0x8f1bbcdc + w7) | 0); b = (b << 30) | (b >>> 2);
  x = w5 ^ w0 ^ w10 ^ w8; w8 = (x << 1) | (x >>> 31);
  d = ((((e << 5) | (e >>> 27)) + ((a & b) | (c & (a | b))) + d + 0x8f1bbcdc + w8) | 0); a = (a << 30) | (a >>> 2);
  x = w6 ^ w1 ^ w11 ^ w9; w9 = (x << 1) | (x >>> 31);
  c = ((((d << 5) | (d >>> 27)) + ((e & a) | (b & (e | a))) + c + 0x8f1bbcdc + w9) | 0); e = (e << 30) | (e >>> 2);
  x = w7 ^ w2 ^ w12 ^ w10; w10 = (x << 1) | (x >>> 31);
  b = ((((c << 5) | (c >>> 27)) + ((d & e) | (a & (d | e))) + b + 0x8f1bbcdc + w10) | 0); d = (d << 30) | (d >>> 2);
  x = w8 ^ w3 ^ w13 ^ w11; w11 = (x << 1) | (x >>> 31);
  a = ((((b << 5) | (b >>> 27)) + ((c & d) | (e & (c | d))) + a + 0x8f1bbcdc + w11) | 0); c = (c << 30) | (c >>> 2);
  // rounds 60-79: Parity(b, c, d), K = 0xca62c1d6
  x = w9 ^ w4 ^ w14 ^ w12; w12 = (x << 1) | (x >>> 31);
  e = ((((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0xca62c1d6 + w12) | 0); b = (b << 30) | (b >>> 2);
  x = w10 ^ w5 ^ w15 ^ w13; w13 = (x << 1) | (x >>> 31);
  d = ((((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + 0xca62c1d6 + w13) | 0); a = (a << 30) | (a >>> 2);
  x = w11 ^ w6 ^ w0 ^ w14; w14 = (x << 1) | (x >>> 31);
  c = ((((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + 0xca62c1d6 + w14) | 0); e = (e << 30) | (e >>> 2);
  x = w12 ^ w7 ^ w1 ^ w15; w15 = (x << 1) | (x >>> 31);
  b = ((((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + 0xca62c1d6 + w15) | 0); d = (d << 30) | (d >>> 2);
  x = w13 ^ w8 ^ w2 ^ w0; w0 = (x << 1) | (x >>> 31);
  a = ((((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + 0xca62c1d6 + w0) | 0); c = (c << 30) | (c >>> 2);
  x = w14 ^ w9 ^ w3 ^ w1; w1 = (x << 1) | (x >>> 31);
  e = ((((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0xca62c1d6 + w1) | 0); b = (b << 30) | (b >>> 2);
  x = w15 ^ w10 ^ w4 ^ w2; w2 = (x << 1) | (x >>> 31);
  d = ((((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + 0xca62c1d6 + w2) | 0); a = (a << 30) | (a >>> 2);
  x = w0 ^ w11 ^ w5 ^ w3; w3 = (x << 1) | (x >>> 31);
  c = ((((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + 0xca62c1d6 + w3) | 0); e = (e << 30) | (e >>> 2);
  x = w1 ^ w12 ^ w6 ^ w4; w4 = (x << 1) | (x >>> 31);
  b = ((((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + 0xca62c1d6 + w4) | 0); d = (d << 30) | (d >>> 2);
  x = w2 ^ w13 ^ w7 ^ w5; w5 = (x << 1) | (x >>> 31);
  a = ((((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + 0xca62c1d6 + w5) | 0); c = (c << 30) | (c >>> 2);
  x = w3 ^ w14 ^ w8 ^ w6; w6 = (x << 1) | (x >>> 31);
  e = ((((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0xca62c1d6 + w6) | 0); b = (b << 30) | (b >>> 2);
  x = w4 ^ w15 ^ w9 ^ w7; w7 = (x << 1) | (x >>> 31);
  d = ((((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + 0xca62c1d6 + w7) | 0); a = (a << 30) | (a >>> 2);
  x = w5 ^ w0 ^ w10 ^ w8; w8 = (x << 1) | (x >>> 31);
  c = ((((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + 0xca62c1d6 + w8) | 0); e = (e << 30) | (e >>> 2);
  x = w6 ^ w1 ^ w11 ^ w9; w9 = (x << 1) | (x >>> 31);
  b = ((((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + 0xca62c1d6 + w9) | 0); d = (d << 30) | (d >>> 2);
  x = w7 ^ w2 ^ w12 ^ w10; w10 = (x << 1) | (x >>> 31);
  a = ((((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + 0xca62c1d6 + w10) | 0); c = (c << 30) | (c >>> 2);
  x = w8 ^ w3 ^ w13 ^ w11; w11 = (x << 1) | (x >>> 31);
  e = ((((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0xca62c1d6 + w11) | 0); b = (b << 30) | (b >>> 2);
  x = w9 ^ w4 ^ w14 ^ w12; w12 = (x << 1) | (x >>> 31);
  d = ((((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + 0xca62c1d6 + w12) | 0); a = (a << 30) | (a >>> 2);
  x = w10 ^ w5 ^ w15 ^ w13; w13 = (x << 1) | (x >>> 31);
  c = ((((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + 0xca62c1d6 + w13) | 0); e = (e << 30) | (e >>> 2);
  x = w11 ^ w6 ^ w0 ^ w14; w14 = (x << 1) | (x >>> 31);
  b = ((((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + 0xca62c1d6 + w14) | 0); d = (d << 30) | (d >>> 2);
  x = w12 ^ w7 ^ w1 ^ w15; w15 = (x << 1) | (x >>> 31);
  a = ((((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + 0xca62c1d6 + w15) | 0); c = (c << 30) | (c >>> 2);
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
}

/** The five state words (not TypedArray.prototype.set, a builtin call costing 10% of a tag here). */
function copyState(to: Int32Array, from: Int32Array): void {
  to[0] = from[0]!;
  to[1] = from[1]!;
  to[2] = from[2]!;
  to[3] = from[3]!;
  to[4] = from[4]!;
}

const INIT = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476, 0xc3d2e1f0 | 0];

export class HmacSha1 {
  private readonly inner = new Int32Array(5);
  private readonly outer = new Int32Array(5);
  private readonly work = new Int32Array(5);
  private readonly outerBlock = Buffer.alloc(64);

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
    copyState(st, this.inner);
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
    copyState(st, this.outer);
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
