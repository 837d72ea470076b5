/**
 * The STUN a lite ICE agent needs (RFC 8445 2.5): reading a Binding request
 * that reached a relay port, checking it with the short-term credentials of
 * the session (RFC 5389 10.1: MESSAGE-INTEGRITY keyed with our ice-pwd,
 * USERNAME "ourUfrag:theirUfrag", FINGERPRINT), and the success response
 * carrying XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY and FINGERPRINT.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { crc32 } from 'node:zlib';

const MAGIC = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const ATTR = {
  username: 0x0006,
  messageIntegrity: 0x0008,
  xorMappedAddress: 0x0020,
  priority: 0x0024,
  useCandidate: 0x0025,
  iceControlling: 0x802a,
  fingerprint: 0x8028,
} as const;
/** RFC 5389 15.5: the CRC-32 is XORed with "STUN". */
const FINGERPRINT_XOR = 0x5354554e;

/** A Binding request that passed the checks. */
export interface BindingRequest {
  transactionId: Buffer;
  /** USE-CANDIDATE present: the controlling agent nominates this pair (RFC 8445 7.3.1.5). */
  useCandidate: boolean;
}

export type StunVerdict = { ok: true; request: BindingRequest } | { ok: false; reason: string };

/** RFC 7983: a datagram whose first byte is 0-3 is STUN. */
export function looksLikeStun(msg: Buffer): boolean {
  return msg.length >= 20 && msg[0]! < 4 && msg.readUInt32BE(4) === MAGIC;
}

/**
 * Checks a Binding request against our credentials: its USERNAME must start
 * with `localUfrag:`, MESSAGE-INTEGRITY must be the HMAC-SHA1 of the message
 * keyed with `localPwd`, and a FINGERPRINT, when present, must match.
 */
export function checkBindingRequest(msg: Buffer, localUfrag: string, localPwd: string): StunVerdict {
  if (!looksLikeStun(msg)) return { ok: false, reason: 'not STUN' };
  if (msg.readUInt16BE(0) !== BINDING_REQUEST) return { ok: false, reason: 'not a Binding request' };
  const total = 20 + msg.readUInt16BE(2);
  if (total > msg.length || total % 4 !== 0) return { ok: false, reason: 'bad STUN length' };
  let username: string | null = null;
  let integrityAt = -1;
  let useCandidate = false;
  for (let off = 20; off + 4 <= total;) {
    const type = msg.readUInt16BE(off);
    const len = msg.readUInt16BE(off + 2);
    if (off + 4 + len > total) return { ok: false, reason: 'STUN attribute past the end' };
    // RFC 5389 15.4: attributes after MESSAGE-INTEGRITY (but FINGERPRINT) are ignored.
    if (integrityAt < 0) {
      if (type === ATTR.username) username = msg.toString('utf8', off + 4, off + 4 + len);
      else if (type === ATTR.useCandidate) useCandidate = true;
      else if (type === ATTR.messageIntegrity) integrityAt = off;
    }
    if (type === ATTR.fingerprint) {
      if (len !== 4 || msg.readUInt32BE(off + 4) !== fingerprintOf(msg, off))
        return { ok: false, reason: 'bad FINGERPRINT' };
    }
    off += 4 + ((len + 3) & ~3);
  }
  if (username === null || !username.startsWith(`${localUfrag}:`)) return { ok: false, reason: 'unknown USERNAME' };
  if (integrityAt < 0 || msg.readUInt16BE(integrityAt + 2) !== 20) return { ok: false, reason: 'no MESSAGE-INTEGRITY' };
  const expected = integrityOf(msg, integrityAt, localPwd);
  if (!timingSafeEqual(expected, msg.subarray(integrityAt + 4, integrityAt + 24)))
    return { ok: false, reason: 'bad MESSAGE-INTEGRITY' };
  return { ok: true, request: { transactionId: Buffer.from(msg.subarray(8, 20)), useCandidate } };
}

/** The Binding success response to `req` from `address:port` (what we saw as its source). */
export function bindingSuccess(req: BindingRequest, address: string, port: number, localPwd: string): Buffer {
  const xma = xorMappedAddress(req.transactionId, address, port);
  const out = Buffer.alloc(20 + xma.length + 24 + 8);
  out.writeUInt16BE(BINDING_SUCCESS, 0);
  out.writeUInt32BE(MAGIC, 4);
  req.transactionId.copy(out, 8);
  xma.copy(out, 20);
  const miAt = 20 + xma.length;
  out.writeUInt16BE(ATTR.messageIntegrity, miAt);
  out.writeUInt16BE(20, miAt + 2);
  integrityOf(out, miAt, localPwd).copy(out, miAt + 4);
  const fpAt = miAt + 24;
  out.writeUInt16BE(ATTR.fingerprint, fpAt);
  out.writeUInt16BE(4, fpAt + 2);
  out.writeUInt32BE(fingerprintOf(out, fpAt), fpAt + 4);
  out.writeUInt16BE(out.length - 20, 2);
  return out;
}

/**
 * A Binding request as a controlling ICE agent sends it (RFC 8445 7.1.1):
 * USERNAME "theirUfrag:ourUfrag", PRIORITY, ICE-CONTROLLING, USE-CANDIDATE
 * (nomination), MESSAGE-INTEGRITY keyed with the peer's ice-pwd,
 * FINGERPRINT. For test and bench peers of the relay.
 */
export function bindingRequest(o: { username: string; pwd: string; priority: number; transactionId: Buffer }): Buffer {
  const user = Buffer.from(o.username, 'utf8');
  const userLen = (user.length + 3) & ~3;
  const attrs = Buffer.alloc(4 + userLen + 8 + 12 + 4);
  let off = 0;
  attrs.writeUInt16BE(ATTR.username, off);
  attrs.writeUInt16BE(user.length, off + 2);
  user.copy(attrs, off + 4);
  off += 4 + userLen;
  attrs.writeUInt16BE(ATTR.priority, off);
  attrs.writeUInt16BE(4, off + 2);
  attrs.writeUInt32BE(o.priority >>> 0, off + 4);
  off += 8;
  attrs.writeUInt16BE(ATTR.iceControlling, off);
  attrs.writeUInt16BE(8, off + 2);
  o.transactionId.copy(attrs, off + 4, 0, 8);
  off += 12;
  attrs.writeUInt16BE(ATTR.useCandidate, off);
  const out = Buffer.alloc(20 + attrs.length + 24 + 8);
  out.writeUInt16BE(BINDING_REQUEST, 0);
  out.writeUInt32BE(MAGIC, 4);
  o.transactionId.copy(out, 8, 0, 12);
  attrs.copy(out, 20);
  const miAt = 20 + attrs.length;
  out.writeUInt16BE(ATTR.messageIntegrity, miAt);
  out.writeUInt16BE(20, miAt + 2);
  integrityOf(out, miAt, o.pwd).copy(out, miAt + 4);
  const fpAt = miAt + 24;
  out.writeUInt16BE(ATTR.fingerprint, fpAt);
  out.writeUInt16BE(4, fpAt + 2);
  out.writeUInt32BE(fingerprintOf(out, fpAt), fpAt + 4);
  out.writeUInt16BE(out.length - 20, 2);
  return out;
}

/** A Binding success response (RFC 5389 6): its transaction ID, else null. */
export function successTransaction(msg: Buffer): Buffer | null {
  return looksLikeStun(msg) && msg.readUInt16BE(0) === BINDING_SUCCESS ? msg.subarray(8, 20) : null;
}

/** RFC 5389 15.4: HMAC-SHA1 over the message up to the attribute, with the header length covering it. */
function integrityOf(msg: Buffer, at: number, pwd: string): Buffer {
  const head = Buffer.from(msg.subarray(0, at));
  head.writeUInt16BE(at + 24 - 20, 2);
  return createHmac('sha1', pwd).update(head).digest();
}

/** RFC 5389 15.5: CRC-32 over the message up to the attribute, with the header length covering it. */
function fingerprintOf(msg: Buffer, at: number): number {
  const head = Buffer.from(msg.subarray(0, at));
  head.writeUInt16BE(at + 8 - 20, 2);
  return (crc32(head) ^ FINGERPRINT_XOR) >>> 0;
}

/** RFC 5389 15.2. */
function xorMappedAddress(txid: Buffer, address0: string, port: number): Buffer {
  const address = address0.startsWith('::ffff:') && isIPv4(address0.slice(7)) ? address0.slice(7) : address0;
  const v6 = isIPv6(address);
  const out = Buffer.alloc(v6 ? 24 : 12);
  out.writeUInt16BE(ATTR.xorMappedAddress, 0);
  out.writeUInt16BE(v6 ? 20 : 8, 2);
  out[5] = v6 ? 2 : 1;
  out.writeUInt16BE(port ^ (MAGIC >>> 16), 6);
  const mask = Buffer.alloc(16);
  mask.writeUInt32BE(MAGIC, 0);
  txid.copy(mask, 4);
  const raw = v6 ? ipv6Bytes(address) : Buffer.from(address.split('.').map(Number));
  for (let i = 0; i < raw.length; i++) out[8 + i] = raw[i]! ^ mask[i]!;
  return out;
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail] = address.split('::') as [string, string | undefined];
  const parts = (s: string | undefined): number[] => (s ? s.split(':').map((h) => parseInt(h, 16)) : []);
  const h = parts(head);
  const t = parts(tail);
  const words = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = Buffer.alloc(16);
  words.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}
