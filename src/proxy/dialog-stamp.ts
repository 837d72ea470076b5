import { timingSafeEqual } from 'node:crypto';
import { HmacSha256 } from '../core/hmac-sha256.js';

/** The URI parameter of our Record-Route entries that carries the stamp: `sip:host:port;lr;dsig=...`. */
export const STAMP_PARAM = 'dsig';
/** Bytes of HMAC-SHA256 kept (96 bits); 16 characters of base64url, all of them legal in a URI parameter. */
const STAMP_BYTES = 12;
const STAMP_CHARS = 16;
/** Digests remembered (a dialog's INVITE makes it, its ACK and BYE check it); all forgotten when full. */
const CACHE_MAX = 8192;

/**
 * The stamp that makes our Record-Route entries verifiable: a keyed hash of
 * the dialog's Call-ID and the caller's tag (the From tag of the request
 * that made the dialog). An in-dialog request from either side carries that
 * tag: as its From tag from the caller, as its To tag from the callee. The
 * proxy relays a request with a To tag only along an entry of ours whose
 * stamp verifies (src/proxy/route-policy.ts): a forged in-dialog request
 * cannot make us send anything anywhere.
 */
export class DialogStamp {
  readonly #mac: HmacSha256;
  /** `callId\ntag` -> its digest: one HMAC per dialog rather than one per request of it. */
  readonly #digests = new Map<string, Buffer>();

  constructor(key: Buffer) {
    if (key.length < 16) throw new RangeError('dialog stamp key: expected at least 16 bytes');
    this.#mac = new HmacSha256(key);
  }

  /** The stamp of the dialog (callId, callerTag). One HMAC. */
  of(callId: string, callerTag: string): string {
    return this.digest(callId, callerTag).toString('base64url');
  }

  /**
   * Whether `stamp` was made by us for this request's dialog: the caller's
   * tag is its From tag or its To tag. Anything malformed is simply false.
   */
  verifies(stamp: string, callId: string, fromTag: string | null, toTag: string | null): boolean {
    if (stamp.length !== STAMP_CHARS) return false;
    const given = Buffer.from(stamp, 'base64url');
    if (given.length !== STAMP_BYTES) return false;
    if (fromTag !== null && timingSafeEqual(given, this.digest(callId, fromTag))) return true;
    return toTag !== null && timingSafeEqual(given, this.digest(callId, toTag));
  }

  private digest(callId: string, tag: string): Buffer {
    // The separator keeps ("ab", "c") and ("a", "bc") apart; a Call-ID has no LF.
    const k = `${callId}\n${tag}`;
    let d = this.#digests.get(k);
    if (d === undefined) {
      d = this.#mac.digest(k).subarray(0, STAMP_BYTES);
      if (this.#digests.size >= CACHE_MAX) this.#digests.clear();
      this.#digests.set(k, d);
    }
    return d;
  }
}
