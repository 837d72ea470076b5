/**
 * What the relay reads from RTCP (RFC 3550 6.4): the report blocks of SR and
 * RR packets in a compound packet, for the CDR's loss and jitter. Only the
 * last block is kept (one stream per direction on a trunk call).
 */

export const RTCP_SR = 200;
export const RTCP_RR = 201;

export interface ReportBlock {
  /** Cumulative number of packets lost (signed 24 bits). */
  lost: number;
  /** Interarrival jitter in timestamp units. */
  jitter: number;
}

/** RFC 5761 4: with rtcp-mux, RTCP packet types 192-223 tell RTCP from RTP. */
export function isRtcp(buf: Uint8Array, len: number): boolean {
  if (len < 2) return false;
  const pt = buf[1]!;
  return pt >= 192 && pt <= 223;
}

/** The last report block of the compound packet buf[0, len), or null when it has none or is malformed. */
export function lastReportBlock(buf: Uint8Array, len: number): ReportBlock | null {
  let off = 0;
  let found: ReportBlock | null = null;
  while (off + 4 <= len) {
    if (buf[off]! >>> 6 !== 2) return found;
    const rc = buf[off]! & 0x1f;
    const pt = buf[off + 1]!;
    const words = (buf[off + 2]! << 8) | buf[off + 3]!;
    const end = off + 4 + words * 4;
    if (end > len) return found;
    const first = pt === RTCP_SR ? off + 28 : pt === RTCP_RR ? off + 8 : -1;
    if (first >= 0 && rc > 0 && first + rc * 24 <= end) {
      const b = first + (rc - 1) * 24;
      let lost = (buf[b + 5]! << 16) | (buf[b + 6]! << 8) | buf[b + 7]!;
      if (lost & 0x800000) lost -= 0x1000000;
      const jitter = ((buf[b + 12]! << 24) | (buf[b + 13]! << 16) | (buf[b + 14]! << 8) | buf[b + 15]!) >>> 0;
      found = { lost, jitter };
    }
    off = end;
  }
  return found;
}
