/**
 * HEPv3 encoding (the Homer Encapsulation Protocol, "HEP3"): a packet is the
 * magic `HEP3`, its total length (uint16), then chunks, each
 * vendor (uint16, 0 = generic), type (uint16), length (uint16, with the
 * 6-byte chunk header) and value. All integers big-endian.
 *
 * Chunk types written here (generic vendor):
 *    1 IP family (uint8: 2 IPv4, 10 IPv6)   2 IP protocol (uint8: 17 UDP, 6 TCP)
 *    3/4 IPv4 source/destination            5/6 IPv6 source/destination
 *    7/8 source/destination port (uint16)   9/10 time: seconds, microseconds (uint32)
 *   11 protocol type (uint8: 1 = SIP)       12 capture agent id (uint32)
 *   14 authentication key (optional)        15 payload (the SIP message)
 *   17 correlation id (optional)
 */
import { isIPv6 } from 'node:net';

export const HEP_PROTO_SIP = 1;

export interface HepPacket {
  /** 4 or 6. */
  family: 4 | 6;
  /** 17 (UDP) or 6 (TCP: also TLS and WebSocket, carried over TCP). */
  ipProto: 17 | 6;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  /** Microseconds since the epoch. */
  timeUs: number;
  captureId: number;
  payload: Buffer;
  /** Ties messages of one call together (both legs of a B2BUA call). */
  correlationId?: string;
  /** The collector's password, when it asks for one. */
  authKey?: string;
}

/** Largest HEP packet (its length field is 16 bits); a longer payload is cut. */
export const HEP_MAX = 0xffff;

/** Addresses seen recently, as bytes: a server talks to few peers, and the split is the dearest part of an encoding. */
const IP_CACHE = new Map<string, Buffer>();
const IP_CACHE_MAX = 4096;

function ipBytes(ip: string, family: 4 | 6): Buffer {
  let b = IP_CACHE.get(ip);
  if (b === undefined) {
    b = parseIp(ip, family);
    if (IP_CACHE.size >= IP_CACHE_MAX) IP_CACHE.clear();
    IP_CACHE.set(ip, b);
  }
  return b;
}

function parseIp(ip: string, family: 4 | 6): Buffer {
  if (family === 4) {
    const b = Buffer.allocUnsafe(4);
    const parts = ip.split('.');
    for (let i = 0; i < 4; i++) b[i] = Number(parts[i]) & 0xff;
    return b;
  }
  return ipv6Bytes(ip);
}

/** An IPv6 literal (with `::`, an embedded IPv4 tail, brackets or a zone) as 16 bytes. */
export function ipv6Bytes(text: string): Buffer {
  let ip = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const zone = ip.indexOf('%');
  if (zone >= 0) ip = ip.slice(0, zone);
  if (!isIPv6(ip)) throw new RangeError(`not an IPv6 address: ${text}`);
  let v4: number[] | null = null;
  if (ip.includes('.')) {
    const i = ip.lastIndexOf(':');
    v4 = ip.slice(i + 1).split('.').map(Number);
    ip = `${ip.slice(0, i)}:0:0`;
  }
  const halves = ip.split('::');
  const parse = (s: string | undefined): number[] => (s === undefined || s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const head = parse(halves[0]);
  const tail = parse(halves[1]);
  const groups = halves.length === 2 ? [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
  const b = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) b.writeUInt16BE(groups[i] ?? 0, i * 2);
  if (v4 !== null) for (let i = 0; i < 4; i++) b[12 + i] = v4[i]! & 0xff;
  return b;
}

/** Encodes one packet. */
export function encodeHep(p: HepPacket): Buffer {
  const src = ipBytes(p.srcIp, p.family);
  const dst = ipBytes(p.dstIp, p.family);
  const corr = p.correlationId !== undefined ? Buffer.from(p.correlationId, 'utf8') : null;
  const auth = p.authKey !== undefined ? Buffer.from(p.authKey, 'utf8') : null;
  // Fixed part: header 6; family 7, proto 7, src 6+n, dst 6+n, ports 8+8, times 10+10, type 7, id 10.
  const fixed = 6 + 7 + 7 + (6 + src.length) + (6 + dst.length) + 8 + 8 + 10 + 10 + 7 + 10;
  const extra = (corr !== null ? 6 + corr.length : 0) + (auth !== null ? 6 + auth.length : 0);
  const room = HEP_MAX - fixed - extra - 6;
  const payload = p.payload.length > room ? p.payload.subarray(0, Math.max(0, room)) : p.payload;
  const total = fixed + extra + 6 + payload.length;
  const b = Buffer.allocUnsafe(total);
  let o = b.writeUInt32BE(0x48455033, 0); // 'HEP3'
  o = b.writeUInt16BE(total, o);
  const chunk = (type: number, len: number): void => {
    o = b.writeUInt16BE(0, o);
    o = b.writeUInt16BE(type, o);
    o = b.writeUInt16BE(6 + len, o);
  };
  chunk(1, 1);
  o = b.writeUInt8(p.family === 4 ? 2 : 10, o);
  chunk(2, 1);
  o = b.writeUInt8(p.ipProto, o);
  chunk(p.family === 4 ? 3 : 5, src.length);
  o += src.copy(b, o);
  chunk(p.family === 4 ? 4 : 6, dst.length);
  o += dst.copy(b, o);
  chunk(7, 2);
  o = b.writeUInt16BE(p.srcPort, o);
  chunk(8, 2);
  o = b.writeUInt16BE(p.dstPort, o);
  const sec = Math.floor(p.timeUs / 1e6);
  chunk(9, 4);
  o = b.writeUInt32BE(sec >>> 0, o);
  chunk(10, 4);
  o = b.writeUInt32BE(Math.floor(p.timeUs - sec * 1e6) >>> 0, o);
  chunk(11, 1);
  o = b.writeUInt8(HEP_PROTO_SIP, o);
  chunk(12, 4);
  o = b.writeUInt32BE(p.captureId >>> 0, o);
  if (auth !== null) {
    chunk(14, auth.length);
    o += auth.copy(b, o);
  }
  chunk(15, payload.length);
  o += payload.copy(b, o);
  if (corr !== null) {
    chunk(17, corr.length);
    o += corr.copy(b, o);
  }
  return b;
}
