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
  /** Ties messages of one call together (both legs of a B2BUA call); bytes as they are, or a string as UTF-8. */
  correlationId?: string | Buffer | null;
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
    v4 = ip
      .slice(i + 1)
      .split('.')
      .map(Number);
    ip = `${ip.slice(0, i)}:0:0`;
  }
  const halves = ip.split('::');
  const parse = (s: string | undefined): number[] =>
    s === undefined || s === '' ? [] : s.split(':').map((g) => parseInt(g, 16));
  const head = parse(halves[0]);
  const tail = parse(halves[1]);
  const groups =
    halves.length === 2 ? [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
  const b = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) b.writeUInt16BE(groups[i] ?? 0, i * 2);
  if (v4 !== null) for (let i = 0; i < 4; i++) b[12 + i] = v4[i]! & 0xff;
  return b;
}

/** A chunk header (generic vendor) at `o`; returns the offset of its value. */
function chunk(b: Buffer, o: number, type: number, len: number): number {
  b[o] = 0;
  b[o + 1] = 0;
  b[o + 2] = type >>> 8;
  b[o + 3] = type & 0xff;
  const n = 6 + len;
  b[o + 4] = n >>> 8;
  b[o + 5] = n & 0xff;
  return o + 6;
}

/** Encodes one packet into a buffer of its own. */
export function encodeHep(p: HepPacket): Buffer {
  const b = Buffer.allocUnsafe(-encodeHepInto(p, EMPTY, 0));
  encodeHepInto(p, b, 0);
  return b;
}

const EMPTY = Buffer.alloc(0);

/**
 * Encodes one packet into `b` at `at` and returns its length; when it does
 * not fit there, writes nothing and returns minus its length. No allocation
 * but the correlation id or key given as a string (it runs for every SIP
 * message while capture is on: the capture encodes a batch into one buffer).
 */
export function encodeHepInto(p: HepPacket, b: Buffer, at: number): number {
  const src = ipBytes(p.srcIp, p.family);
  const dst = ipBytes(p.dstIp, p.family);
  const c = p.correlationId;
  const corr = c === undefined || c === null ? null : typeof c === 'string' ? Buffer.from(c, 'utf8') : c;
  const auth = p.authKey !== undefined ? Buffer.from(p.authKey, 'utf8') : null;
  // Fixed part: header 6; family 7, proto 7, src 6+n, dst 6+n, ports 8+8, times 10+10, type 7, id 10.
  const fixed = 6 + 7 + 7 + (6 + src.length) + (6 + dst.length) + 8 + 8 + 10 + 10 + 7 + 10;
  const extra = (corr !== null ? 6 + corr.length : 0) + (auth !== null ? 6 + auth.length : 0);
  const room = HEP_MAX - fixed - extra - 6;
  const payload = p.payload.length > room ? p.payload.subarray(0, Math.max(0, room)) : p.payload;
  const total = fixed + extra + 6 + payload.length;
  if (at + total > b.length) return -total;
  b.writeUInt32BE(0x48455033, at); // 'HEP3'
  b.writeUInt16BE(total, at + 4);
  let o = chunk(b, at + 6, 1, 1);
  b[o++] = p.family === 4 ? 2 : 10;
  o = chunk(b, o, 2, 1);
  b[o++] = p.ipProto;
  o = chunk(b, o, p.family === 4 ? 3 : 5, src.length);
  b.set(src, o);
  o = chunk(b, o + src.length, p.family === 4 ? 4 : 6, dst.length);
  b.set(dst, o);
  o = chunk(b, o + dst.length, 7, 2);
  b.writeUInt16BE(p.srcPort, o);
  o = chunk(b, o + 2, 8, 2);
  b.writeUInt16BE(p.dstPort, o);
  const sec = Math.floor(p.timeUs / 1e6);
  o = chunk(b, o + 2, 9, 4);
  b.writeUInt32BE(sec >>> 0, o);
  o = chunk(b, o + 4, 10, 4);
  b.writeUInt32BE(Math.floor(p.timeUs - sec * 1e6) >>> 0, o);
  o = chunk(b, o + 4, 11, 1);
  b[o++] = HEP_PROTO_SIP;
  o = chunk(b, o, 12, 4);
  b.writeUInt32BE(p.captureId >>> 0, o);
  o += 4;
  if (auth !== null) {
    o = chunk(b, o, 14, auth.length);
    b.set(auth, o);
    o += auth.length;
  }
  o = chunk(b, o, 15, payload.length);
  b.set(payload, o);
  o += payload.length;
  if (corr !== null) {
    o = chunk(b, o, 17, corr.length);
    b.set(corr, o);
  }
  return total;
}
