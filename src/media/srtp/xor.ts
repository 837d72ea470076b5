/**
 * The inner loop of AES-CM (RFC 3711 4.1.1): a keystream XORed over a
 * payload. Word by word through Int32Array views when the three ranges are
 * 4-byte aligned in their ArrayBuffers, which is the usual case (received
 * datagrams, pooled Buffers and cipher output start on an 8-byte boundary,
 * RTP headers are whole words); byte by byte otherwise. XOR does not care
 * about byte order, so the platform's is used. On 160-byte payloads the
 * word loop takes about a third of the byte loop's time.
 */

/** A 32-bit view of all whole words of b, or null when b does not start on a word boundary. */
export function wordsOf(b: Uint8Array): Int32Array | null {
  return (b.byteOffset & 3) === 0 ? new Int32Array(b.buffer, b.byteOffset, b.length >>> 2) : null;
}

/**
 * dst[dstOff, +len) = src[srcOff, +len) XOR ks[ksOff, +len); `ksWords` is
 * wordsOf(ks). src and dst may be the same buffer at the same offset.
 */
export function xorKeystream(
  dst: Uint8Array,
  dstOff: number,
  src: Uint8Array,
  srcOff: number,
  ks: Uint8Array,
  ksWords: Int32Array | null,
  ksOff: number,
  len: number,
): void {
  const n = len >>> 2;
  const sa = src.byteOffset + srcOff;
  const da = dst.byteOffset + dstOff;
  let i = 0;
  if (ksWords !== null && n > 0 && ((sa | da | ksOff) & 3) === 0) {
    const s = new Int32Array(src.buffer, sa, n);
    const d = dst.buffer === src.buffer && da === sa ? s : new Int32Array(dst.buffer, da, n);
    const k = ksOff >>> 2;
    for (let w = 0; w < n; w++) d[w] = s[w]! ^ ksWords[k + w]!;
    i = n * 4;
  }
  for (; i < len; i++) dst[dstOff + i] = src[srcOff + i]! ^ ks[ksOff + i]!;
}
