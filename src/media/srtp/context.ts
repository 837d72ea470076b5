/**
 * An SRTP/SRTCP crypto context for one direction of one leg (RFC 3711):
 * session keys derived once from the SDES master key and salt (4.3, key
 * derivation rate 0), per-SSRC rollover counter and replay window (3.3.1,
 * 3.3.2), AES-CM encryption (4.1.1) and HMAC-SHA1 authentication (4.2).
 *
 * `unprotect*` work in place on the received buffer and return the plain
 * length; `protect*` write into a caller-supplied buffer with room for the
 * tag (and SRTCP index). Negative results are the Srtp.* error codes below.
 * Key material never leaves this object (no toString, no logging).
 */
import { AesCm } from './aes-cm.js';
import { HmacSha1 } from './hmac-sha1.js';
import { wordsOf, xorKeystream } from './xor.js';

export type SrtpSuiteName = 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32';

export interface SrtpSuite {
  name: SrtpSuiteName;
  /** SRTP auth tag bytes. */
  rtpTag: number;
  /** SRTCP auth tag bytes (80 bits for both suites, RFC 4568 6.2). */
  rtcpTag: number;
}

export const SRTP_SUITES: Readonly<Record<SrtpSuiteName, SrtpSuite>> = {
  AES_CM_128_HMAC_SHA1_80: { name: 'AES_CM_128_HMAC_SHA1_80', rtpTag: 10, rtcpTag: 10 },
  AES_CM_128_HMAC_SHA1_32: { name: 'AES_CM_128_HMAC_SHA1_32', rtpTag: 4, rtcpTag: 10 },
};

/** Master key and salt lengths of the AES_CM_128 suites (bytes). */
export const MASTER_KEY_LEN = 16;
export const MASTER_SALT_LEN = 14;

/** Error results of protect/unprotect. */
export const Srtp = {
  TOO_SHORT: -1,
  AUTH_FAILED: -2,
  REPLAY: -3,
} as const;

/** SSRCs whose state a context keeps (a trunk call has one per direction; more after re-INVITEs). */
const MAX_SSRCS = 16;

/** Replay window size in packets (RFC 3711 3.3.2 asks for at least 64); a power of two dividing 2^16. */
const WINDOW = 128;

/** RFC 3711 4.3.1: labels of the six session keys. */
const LABEL = { rtpKey: 0, rtpAuth: 1, rtpSalt: 2, rtcpKey: 3, rtcpAuth: 4, rtcpSalt: 5 } as const;

/** Session key derivation with key_derivation_rate 0: AES-CM(master key, (salt XOR label<<48) * 2^16). */
export function deriveSessionKey(masterKey: Uint8Array, masterSalt: Uint8Array, label: number, len: number): Buffer {
  const iv = new Uint8Array(16);
  iv.set(masterSalt.subarray(0, MASTER_SALT_LEN));
  iv[7]! ^= label;
  return new AesCm(masterKey).keystream(iv, len);
}

class SsrcState {
  /** Rollover counter. */
  roc = 0;
  /** Highest sequence number seen (s_l); -1 before the first packet. */
  sl = -1;
  /** Highest packet index authenticated, and the window of recent ones (slot = index mod WINDOW). */
  maxIndex = -1;
  readonly window = new Float64Array(WINDOW).fill(-1);
  /** SRTCP: next index to send; highest received and its window. */
  rtcpSendIndex = 0;
  rtcpMax = -1;
  readonly rtcpWindow = new Float64Array(WINDOW).fill(-1);
  /** Precomputed RTP keystream for packet indexes [ksBase, ksBase + ksCount), ksBlocks blocks each. */
  ks: Buffer | null = null;
  ksWords: Int32Array | null = null;
  ksBase = 0;
  ksCount = 0;
  ksBlocks = 0;
}

/** Packets of keystream computed per native call (RTP's next indexes are predictable). */
const KS_BATCH = 32;
/** Payloads longer than this many blocks are encrypted without the batch. */
const KS_MAX_BLOCKS = 64;

class Keys {
  readonly cipher: AesCm;
  readonly mac: HmacSha1;
  readonly salt: Buffer;
  /** The salt as big-endian words for AesCm.batch (s3: bytes 12-13 in the high half). */
  readonly s0: number;
  readonly s1: number;
  readonly s2: number;
  readonly s3: number;
  constructor(masterKey: Uint8Array, masterSalt: Uint8Array, keyLabel: number, authLabel: number, saltLabel: number) {
    this.cipher = new AesCm(deriveSessionKey(masterKey, masterSalt, keyLabel, 16));
    this.mac = new HmacSha1(deriveSessionKey(masterKey, masterSalt, authLabel, 20));
    this.salt = deriveSessionKey(masterKey, masterSalt, saltLabel, 14);
    this.s0 = this.salt.readInt32BE(0);
    this.s1 = this.salt.readInt32BE(4);
    this.s2 = this.salt.readInt32BE(8);
    this.s3 = (this.salt.readUInt16BE(12) << 16) | 0;
  }
}

export class SrtpContext {
  readonly suite: SrtpSuite;
  private readonly rtp: Keys;
  private readonly rtcp: Keys;
  private readonly ssrcs = new Map<number, SsrcState>();
  private lastSsrc = -1;
  private lastState: SsrcState | null = null;
  private readonly iv = new Uint8Array(16);

  constructor(suite: SrtpSuiteName, masterKey: Uint8Array, masterSalt: Uint8Array) {
    if (masterKey.length !== MASTER_KEY_LEN || masterSalt.length !== MASTER_SALT_LEN) {
      throw new RangeError(`${suite} needs a ${MASTER_KEY_LEN}-byte key and a ${MASTER_SALT_LEN}-byte salt`);
    }
    this.suite = SRTP_SUITES[suite];
    this.rtp = new Keys(masterKey, masterSalt, LABEL.rtpKey, LABEL.rtpAuth, LABEL.rtpSalt);
    this.rtcp = new Keys(masterKey, masterSalt, LABEL.rtcpKey, LABEL.rtcpAuth, LABEL.rtcpSalt);
  }

  /** Bytes SRTP adds to an RTP packet. */
  get rtpOverhead(): number {
    return this.suite.rtpTag;
  }

  /** Bytes SRTCP adds to an RTCP packet (E flag + index, tag). */
  get rtcpOverhead(): number {
    return 4 + this.suite.rtcpTag;
  }

  /**
   * The state of an SSRC. A receiver does not keep the state of an SSRC until
   * one of its packets authenticates (`keep`), so forged packets with random
   * SSRCs cannot grow the map; at most MAX_SSRCS are kept.
   */
  private state(ssrc: number, create = true): SsrcState {
    if (ssrc === this.lastSsrc && this.lastState !== null) return this.lastState;
    let st = this.ssrcs.get(ssrc);
    if (st === undefined) {
      st = new SsrcState();
      if (!create) return st;
      this.keep(ssrc, st);
    }
    this.lastSsrc = ssrc;
    this.lastState = st;
    return st;
  }

  private keep(ssrc: number, st: SsrcState): void {
    if (st === this.lastState && ssrc === this.lastSsrc) return; // the per-packet case
    if (this.ssrcs.get(ssrc) === st) return;
    if (this.ssrcs.size >= MAX_SSRCS) {
      const oldest = this.ssrcs.keys().next().value as number;
      this.ssrcs.delete(oldest);
      if (this.lastSsrc === oldest) this.lastState = null;
    }
    this.ssrcs.set(ssrc, st);
    this.lastSsrc = ssrc;
    this.lastState = st;
  }

  /** IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16), RFC 3711 4.1.1. */
  private setIv(salt: Buffer, ssrc: number, index: number): Uint8Array {
    const iv = this.iv;
    for (let i = 0; i < 14; i++) iv[i] = salt[i]!;
    iv[14] = 0;
    iv[15] = 0;
    iv[4]! ^= ssrc >>> 24;
    iv[5]! ^= (ssrc >>> 16) & 0xff;
    iv[6]! ^= (ssrc >>> 8) & 0xff;
    iv[7]! ^= ssrc & 0xff;
    const hi = Math.floor(index / 0x100000000);
    iv[8]! ^= (hi >>> 8) & 0xff;
    iv[9]! ^= hi & 0xff;
    iv[10]! ^= index >>> 24;
    iv[11]! ^= (index >>> 16) & 0xff;
    iv[12]! ^= (index >>> 8) & 0xff;
    iv[13]! ^= index & 0xff;
    return iv;
  }

  /**
   * XORs the RTP keystream of (ssrc, index) over src into dst, from the SSRC's
   * precomputed batch when the index falls in it (the common in-order case),
   * else refilling the batch from this index; late packets and very long
   * payloads take the one-packet path.
   */
  private rtpXor(
    st: SsrcState,
    ssrc: number,
    index: number,
    src: Uint8Array,
    srcOff: number,
    dst: Uint8Array,
    dstOff: number,
    len: number,
  ): void {
    const blocks = (len + 15) >>> 4;
    const k = this.rtp;
    if (st.ks === null || index < st.ksBase || index >= st.ksBase + st.ksCount || blocks > st.ksBlocks) {
      if (blocks > KS_MAX_BLOCKS || (st.ks !== null && index < st.ksBase)) {
        k.cipher.xor(this.setIv(k.salt, ssrc, index), src, srcOff, dst, dstOff, len);
        return;
      }
      st.ksBlocks = Math.max(blocks, 1);
      st.ksBase = index;
      st.ksCount = KS_BATCH;
      st.ks = k.cipher.batch(k.s0, k.s1, k.s2, k.s3, ssrc, index, KS_BATCH, st.ksBlocks);
      st.ksWords = wordsOf(st.ks);
    }
    xorKeystream(dst, dstOff, src, srcOff, st.ks, st.ksWords, (index - st.ksBase) * st.ksBlocks * 16, len);
  }

  /** RFC 3711 3.3.1: the ROC guess v for SEQ given s_l and ROC. */
  private static guessRoc(st: SsrcState, seq: number): number {
    if (st.sl < 0) return st.roc;
    if (st.sl < 32768) return seq - st.sl > 32768 ? st.roc - 1 : st.roc;
    return st.sl - 32768 > seq ? st.roc + 1 : st.roc;
  }

  private static advance(st: SsrcState, v: number, seq: number): void {
    if (st.sl < 0 || v > st.roc) {
      st.roc = v;
      st.sl = seq;
    } else if (v === st.roc && seq > st.sl) {
      st.sl = seq;
    }
  }

  /** Encrypts and signs the RTP packet src[0, len) into out; returns the SRTP length or a negative error. */
  protectRtp(src: Uint8Array, len: number, out: Uint8Array): number {
    const hl = rtpHeaderLength(src, len);
    if (hl < 0 || out.length < len + this.suite.rtpTag) return Srtp.TOO_SHORT;
    const seq = (src[2]! << 8) | src[3]!;
    const ssrc = ((src[8]! << 24) | (src[9]! << 16) | (src[10]! << 8) | src[11]!) >>> 0;
    const st = this.state(ssrc);
    const v = SrtpContext.guessRoc(st, seq);
    const index = v * 65536 + seq;
    if (out !== src) for (let i = 0; i < hl; i++) out[i] = src[i]!;
    this.rtpXor(st, ssrc, index, src, hl, out, hl, len - hl);
    this.rtp.mac.sign(out, 0, len, true, v >>> 0, out, len, this.suite.rtpTag);
    SrtpContext.advance(st, v, seq);
    return len + this.suite.rtpTag;
  }

  /** Checks and decrypts the SRTP packet buf[0, len) in place; returns the RTP length or a negative error. */
  unprotectRtp(buf: Uint8Array, len: number): number {
    const tag = this.suite.rtpTag;
    const plainLen = len - tag;
    const hl = rtpHeaderLength(buf, plainLen);
    if (hl < 0) return Srtp.TOO_SHORT;
    const seq = (buf[2]! << 8) | buf[3]!;
    const ssrc = ((buf[8]! << 24) | (buf[9]! << 16) | (buf[10]! << 8) | buf[11]!) >>> 0;
    const st = this.state(ssrc, false);
    const v = SrtpContext.guessRoc(st, seq);
    const index = v * 65536 + seq;
    // The index's window slot is index mod WINDOW = seq mod WINDOW (WINDOW divides 2^16): an int32 mask, not a float modulo.
    const slot = seq & (WINDOW - 1);
    if (index < 0 || index <= st.maxIndex - WINDOW || st.window[slot] === index) return Srtp.REPLAY;
    if (!this.rtp.mac.verify(buf, 0, plainLen, true, v >>> 0, plainLen, tag)) return Srtp.AUTH_FAILED;
    this.keep(ssrc, st);
    this.rtpXor(st, ssrc, index, buf, hl, buf, hl, plainLen - hl);
    st.window[slot] = index;
    if (index > st.maxIndex) st.maxIndex = index;
    SrtpContext.advance(st, v, seq);
    return plainLen;
  }

  /** Encrypts and signs the RTCP compound packet src[0, len) into out (RFC 3711 3.4); returns the SRTCP length. */
  protectRtcp(src: Uint8Array, len: number, out: Uint8Array): number {
    if (len < 8 || out.length < len + this.rtcpOverhead) return Srtp.TOO_SHORT;
    const ssrc = ((src[4]! << 24) | (src[5]! << 16) | (src[6]! << 8) | src[7]!) >>> 0;
    const st = this.state(ssrc);
    const index = st.rtcpSendIndex;
    st.rtcpSendIndex = (index + 1) & 0x7fffffff;
    if (out !== src) for (let i = 0; i < 8; i++) out[i] = src[i]!;
    this.rtcp.cipher.xor(this.setIv(this.rtcp.salt, ssrc, index), src, 8, out, 8, len - 8);
    const e = (0x80000000 | index) >>> 0;
    out[len] = e >>> 24;
    out[len + 1] = (e >>> 16) & 0xff;
    out[len + 2] = (e >>> 8) & 0xff;
    out[len + 3] = e & 0xff;
    this.rtcp.mac.sign(out, 0, len + 4, false, 0, out, len + 4, this.suite.rtcpTag);
    return len + this.rtcpOverhead;
  }

  /** Checks and decrypts the SRTCP packet buf[0, len) in place; returns the RTCP length or a negative error. */
  unprotectRtcp(buf: Uint8Array, len: number): number {
    const tag = this.suite.rtcpTag;
    const plainLen = len - 4 - tag;
    if (plainLen < 8) return Srtp.TOO_SHORT;
    const ssrc = ((buf[4]! << 24) | (buf[5]! << 16) | (buf[6]! << 8) | buf[7]!) >>> 0;
    const e =
      ((buf[plainLen]! << 24) | (buf[plainLen + 1]! << 16) | (buf[plainLen + 2]! << 8) | buf[plainLen + 3]!) >>> 0;
    const index = e & 0x7fffffff;
    const st = this.state(ssrc, false);
    if (index <= st.rtcpMax - WINDOW || st.rtcpWindow[index % WINDOW] === index) return Srtp.REPLAY;
    if (!this.rtcp.mac.verify(buf, 0, plainLen + 4, false, 0, plainLen + 4, tag)) return Srtp.AUTH_FAILED;
    this.keep(ssrc, st);
    if (e >>> 31 === 1) this.rtcp.cipher.xor(this.setIv(this.rtcp.salt, ssrc, index), buf, 8, buf, 8, plainLen - 8);
    st.rtcpWindow[index % WINDOW] = index;
    if (index > st.rtcpMax) st.rtcpMax = index;
    return plainLen;
  }

  /** The rollover counter of an SSRC (tests, diagnostics). */
  rolloverCounter(ssrc: number): number {
    return this.ssrcs.get(ssrc >>> 0)?.roc ?? 0;
  }

  /** SSRCs with kept state (tests). */
  get ssrcCount(): number {
    return this.ssrcs.size;
  }

  /** Sets the sender's/receiver's starting ROC and highest sequence for an SSRC (RFC 3711 3.3.1 initial state). */
  setRolloverCounter(ssrc: number, roc: number, highestSeq = -1): void {
    const st = this.state(ssrc >>> 0);
    st.roc = roc;
    st.sl = highestSeq;
  }

  toJSON(): unknown {
    return { suite: this.suite.name };
  }
}

/** RTP header length (12 + CSRCs + extension), or -1 when the packet is shorter or not RTP version 2. */
export function rtpHeaderLength(buf: Uint8Array, len: number): number {
  if (len < 12 || buf[0]! >>> 6 !== 2) return -1;
  let hl = 12 + (buf[0]! & 0x0f) * 4;
  if ((buf[0]! & 0x10) !== 0) {
    if (len < hl + 4) return -1;
    hl += 4 + ((buf[hl + 2]! << 8) | buf[hl + 3]!) * 4;
  }
  return hl <= len ? hl : -1;
}
