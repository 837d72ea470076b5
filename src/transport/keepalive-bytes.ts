/**
 * Keep-alives a peer sends between SIP messages (RFC 5626 3.5.1: CRLF and
 * STUN), recognised without allocating: these checks run per datagram.
 */

/** The pong to a CRLFCRLF ping on a stream (RFC 5626 3.5.1). */
export const CRLF = Buffer.from('\r\n', 'latin1');

const STUN_MAGIC_COOKIE = 0x2112a442;

/** Only CR, LF, space and tab: a CRLF keep-alive, not a message. */
export function isBlank(data: Buffer): boolean {
  for (let i = 0; i < data.length; i++) {
    const b = data[i];
    if (b !== 0x0d && b !== 0x0a && b !== 0x20 && b !== 0x09) return false;
  }
  return true;
}

/** A STUN request (RFC 5389 6: top two bits zero, the magic cookie): a keep-alive over UDP. */
export function isStunRequest(data: Buffer): boolean {
  return data.length >= 20 && (data[0]! & 0xc0) === 0 && data.readUInt32BE(4) === STUN_MAGIC_COOKIE;
}

/** Exactly CRLFCRLF: a ping that wants a CRLF pong. */
export function isCrlfPing(data: Buffer): boolean {
  return data.length === 4 && data[0] === 0x0d && data[1] === 0x0a && data[2] === 0x0d && data[3] === 0x0a;
}
