/**
 * AES in counter mode as SRTP defines it (RFC 3711 4.1.1): the keystream is
 * AES_k(IV), AES_k(IV+1), ... where the block counter occupies the low 16
 * bits of the IV. One AES-128-ECB cipher is kept per key and fed the counter
 * blocks, so a packet costs one native call instead of a cipher setup.
 */
import { createCipheriv, type Cipher } from 'node:crypto';
import { wordsOf, xorKeystream } from './xor.js';

/** Counter blocks per native call (2 KiB of keystream). */
const CHUNK_BLOCKS = 128;

export class AesCm {
  private readonly ecb: Cipher;
  private readonly counters = Buffer.alloc(CHUNK_BLOCKS * 16);

  constructor(key: Uint8Array) {
    if (key.length !== 16) throw new RangeError('AES-128 key must be 16 bytes');
    this.ecb = createCipheriv('aes-128-ecb', key, null);
    this.ecb.setAutoPadding(false);
  }

  /**
   * XORs the keystream for `iv` (16 bytes, low 16 bits zero) over src[srcOff, srcOff+len)
   * into dst[dstOff...] (src and dst may be the same buffer at the same offset).
   */
  xor(iv: Uint8Array, src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, len: number): void {
    const ctr = this.counters;
    let block = 0;
    let done = 0;
    while (done < len) {
      const n = Math.min(CHUNK_BLOCKS, Math.ceil((len - done) / 16));
      for (let j = 0; j < n; j++) {
        const o = j * 16;
        for (let k = 0; k < 14; k++) ctr[o + k] = iv[k]!;
        const c = block + j;
        ctr[o + 14] = iv[14]! ^ (c >>> 8);
        ctr[o + 15] = iv[15]! ^ (c & 0xff);
      }
      const ks = this.ecb.update(ctr.subarray(0, n * 16));
      const m = Math.min(len - done, n * 16);
      xorKeystream(dst, dstOff + done, src, srcOff + done, ks, wordsOf(ks), 0, m);
      done += m;
      block += n;
    }
  }

  private batchBuf = Buffer.alloc(0);
  private batchView = new DataView(this.batchBuf.buffer);

  /**
   * Keystream for `count` consecutive SRTP packet indexes of one SSRC from
   * `index`, `blocks` blocks each, in one native call: packet p's blocks start
   * at (p * blocks * 16). `salt` is the session salt as three big-endian words
   * and the last two bytes shifted up (s3 = bytes 12-13 << 16). IVs as in
   * RFC 3711 4.1.1: salt XOR SSRC (bytes 4-7) XOR index (bytes 8-13), counter
   * in bytes 14-15.
   */
  batch(
    s0: number,
    s1: number,
    s2: number,
    s3: number,
    ssrc: number,
    index: number,
    count: number,
    blocks: number,
  ): Buffer {
    const need = count * blocks * 16;
    if (this.batchBuf.length < need) {
      this.batchBuf = Buffer.alloc(need);
      this.batchView = new DataView(this.batchBuf.buffer, this.batchBuf.byteOffset, need);
    }
    const dv = this.batchView;
    const w1 = s1 ^ ssrc;
    let o = 0;
    for (let p = 0; p < count; p++) {
      const idx = index + p;
      const w2 = s2 ^ Math.floor(idx / 65536);
      const w3 = s3 ^ ((idx & 0xffff) << 16);
      for (let j = 0; j < blocks; j++) {
        dv.setInt32(o, s0);
        dv.setInt32(o + 4, w1);
        dv.setInt32(o + 8, w2);
        dv.setInt32(o + 12, w3 ^ j);
        o += 16;
      }
    }
    return this.ecb.update(this.batchBuf.subarray(0, need));
  }

  /** The first `len` bytes of keystream for `iv` (key derivation, tests). */
  keystream(iv: Uint8Array, len: number): Buffer {
    const out = Buffer.alloc(len);
    this.xor(iv, out, 0, out, 0, len);
    return out;
  }
}
