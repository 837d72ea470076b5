/**
 * HMAC-SHA256 (RFC 2104, FIPS 180-4) of short messages under one key, in JS:
 * the states after the inner and outer key blocks are computed once, so a
 * MAC costs the message's compression rounds plus one for the outer hash.
 * node:crypto's createHmac() sets up an OpenSSL context (digest lookup, key
 * copy) per call, which costs more than the hashing of the short messages
 * here: the proxy's dialog stamps (src/proxy/dialog-stamp.ts) and the
 * digest nonces (src/auth/nonce.ts).
 *
 * Checked against node:crypto in test/core/hmac-sha256.test.ts.
 */
import { createHash } from 'node:crypto';

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);
const IV = Int32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
const W = new Int32Array(64);

/** One 64-byte block of buf at off into state (FIPS 180-4 6.2.2). */
function compress(state: Int32Array, buf: Uint8Array, off: number): void {
  for (let t = 0; t < 16; t++) {
    const i = off + t * 4;
    W[t] = (buf[i]! << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!;
  }
  for (let t = 16; t < 64; t++) {
    const x = W[t - 15]!;
    const y = W[t - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[t] = (W[t - 16]! + s0 + W[t - 7]! + s1) | 0;
  }
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  let f = state[5]!;
  let g = state[6]!;
  let h = state[7]!;
  for (let t = 0; t < 64; t++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[t]! + W[t]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}

/** Hashes `len` bytes of buf (already holding room for the padding) after `prefixBlocks` blocks were hashed into state. */
function finish(state: Int32Array, buf: Buffer, len: number, prefixBlocks: number): void {
  // Padding: 0x80, zeros, the bit length in the last 8 bytes of a block (FIPS 180-4 5.1.1).
  const total = (len + 9 + 63) & ~63;
  buf[len] = 0x80;
  buf.fill(0, len + 1, total - 8);
  const bits = (prefixBlocks * 64 + len) * 8;
  buf.writeUInt32BE(Math.floor(bits / 0x100000000), total - 8);
  buf.writeUInt32BE(bits >>> 0, total - 4);
  for (let off = 0; off < total; off += 64) compress(state, buf, off);
}

export class HmacSha256 {
  readonly #inner = new Int32Array(8);
  readonly #outer = new Int32Array(8);
  readonly #state = new Int32Array(8);
  #scratch = Buffer.alloc(256);

  constructor(secret: Uint8Array) {
    // RFC 2104 2: a key longer than the block is hashed first.
    const key = secret.length > 64 ? createHash('sha256').update(secret).digest() : secret;
    const pad = Buffer.alloc(64);
    this.#inner.set(IV);
    pad.fill(0x36);
    for (let i = 0; i < key.length; i++) pad[i]! ^= key[i]!;
    compress(this.#inner, pad, 0);
    this.#outer.set(IV);
    pad.fill(0x5c);
    for (let i = 0; i < key.length; i++) pad[i]! ^= key[i]!;
    compress(this.#outer, pad, 0);
  }

  /** The 32-byte MAC of the message's UTF-8 bytes, into `out` (a new buffer by default). */
  digest(message: string, out: Buffer = Buffer.allocUnsafe(32)): Buffer {
    const buf = this.#room(Buffer.byteLength(message, 'utf8'));
    return this.#mac(buf.write(message, 0, 'utf8'), out);
  }

  /** The 32-byte MAC of `head` followed by the UTF-8 bytes of `tail`, into `out` (a new buffer by default). */
  digestParts(head: Uint8Array, tail: string, out: Buffer = Buffer.allocUnsafe(32)): Buffer {
    const buf = this.#room(head.length + Buffer.byteLength(tail, 'utf8'));
    buf.set(head, 0);
    return this.#mac(head.length + buf.write(tail, head.length, 'utf8'), out);
  }

  /** The scratch buffer with room for a message of `len` bytes and its padding. */
  #room(len: number): Buffer {
    if (this.#scratch.length < len + 72) this.#scratch = Buffer.alloc((len + 72) * 2);
    return this.#scratch;
  }

  /** The MAC of the first `len` bytes of the scratch buffer. */
  #mac(len: number, out: Buffer): Buffer {
    const buf = this.#scratch;
    const st = this.#state;
    st.set(this.#inner);
    finish(st, buf, len, 1);
    for (let i = 0; i < 8; i++) buf.writeInt32BE(st[i]!, i * 4);
    st.set(this.#outer);
    finish(st, buf, 32, 1);
    for (let i = 0; i < 8; i++) out.writeInt32BE(st[i]!, i * 4);
    return out;
  }
}
