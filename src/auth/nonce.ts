/**
 * Stateless nonces (RFC 7616 3.3 and 5.4, RFC 3261 22.4): a nonce carries its
 * own issue time and a MAC binding it to the client's source address, so any
 * process holding the secret can check it without a table of issued nonces:
 *
 *   nonce = base64url( timestamp(6 bytes, ms) | random(16) | HMAC-SHA256(secret, timestamp | random | sourceIp) )
 *
 * 54 bytes, 72 characters, no padding. A nonce whose MAC does not verify under
 * the current or the previous secret (tampered, made up, issued to another
 * source address, or older than two rotations) is 'invalid'; a genuine one
 * older than the lifetime is 'stale' (the client retries with stale=true,
 * RFC 7616 3.3, without asking the user again).
 */
import { timingSafeEqual } from 'node:crypto';
import { HmacSha256 } from '../core/hmac-sha256.js';
import { takeRandom } from './random-pool.js';
import { normalizeIp } from './ip.js';

const TS_BYTES = 6;
const RANDOM_BYTES = 16;
const MAC_BYTES = 32;
const BODY_BYTES = TS_BYTES + RANDOM_BYTES;
const NONCE_BYTES = BODY_BYTES + MAC_BYTES;
const NONCE_CHARS = (NONCE_BYTES / 3) * 4;
const NONCE_RE = new RegExp(`^[A-Za-z0-9_-]{${NONCE_CHARS}}$`);

/** Shortest secret accepted (HMAC-SHA256 keys under 128 bits are weak). */
export const MIN_SECRET_BYTES = 16;

export type NonceStatus = 'ok' | 'stale' | 'invalid';

export interface NonceCheck {
  status: NonceStatus;
  /** When the nonce was issued (ms since the epoch, the service's clock); NaN when invalid. */
  issuedAtMs: number;
  /** The last instant it checks 'ok' (issue time + lifetime); NaN when invalid. */
  expiresAtMs: number;
}

export interface NonceServiceOptions {
  secret: Buffer;
  /** The secret before the last rotation: nonces made with it still verify. */
  previousSecret?: Buffer;
  /** Seconds a nonce stays 'ok' (default 300). */
  lifetimeS?: number;
  /** Clock in ms since the epoch (default Date.now). */
  now?: () => number;
  /**
   * How far in the future an issue time may lie (a clock stepped back) and
   * still be 'ok', in ms (default 60 000); further is 'stale'.
   */
  maxFutureMs?: number;
}

export class NonceService {
  /** HMAC-SHA256 under the current secret, and under the one before the last rotation. */
  private secret: HmacSha256;
  private previousSecret: HmacSha256 | null;
  readonly lifetimeMs: number;
  private readonly now: () => number;
  private readonly maxFutureMs: number;

  constructor(opts: NonceServiceOptions) {
    checkSecret(opts.secret);
    if (opts.previousSecret !== undefined) checkSecret(opts.previousSecret);
    const lifetimeS = opts.lifetimeS ?? 300;
    if (!(lifetimeS > 0) || !Number.isFinite(lifetimeS))
      throw new RangeError('nonce lifetime must be a positive number of seconds');
    this.secret = new HmacSha256(opts.secret);
    this.previousSecret = opts.previousSecret === undefined ? null : new HmacSha256(opts.previousSecret);
    this.lifetimeMs = Math.round(lifetimeS * 1000);
    this.now = opts.now ?? Date.now;
    this.maxFutureMs = opts.maxFutureMs ?? 60_000;
  }

  /** Makes the current secret the previous one and starts issuing with `secret`. */
  rotate(secret: Buffer): void {
    checkSecret(secret);
    this.previousSecret = this.secret;
    this.secret = new HmacSha256(secret);
  }

  /** A fresh nonce for a client at sourceIp. */
  issue(sourceIp: string): string {
    const buf = Buffer.allocUnsafe(NONCE_BYTES);
    buf.writeUIntBE(Math.max(0, Math.floor(this.now())), 0, TS_BYTES);
    takeRandom(buf, TS_BYTES, RANDOM_BYTES);
    mac(this.secret, buf.subarray(0, BODY_BYTES), sourceIp, buf.subarray(BODY_BYTES));
    return buf.toString('base64url');
  }

  check(nonce: string, sourceIp: string): NonceStatus {
    return this.inspect(nonce, sourceIp).status;
  }

  /** check() with the nonce's issue and expiry times (for the nonce-count tracker). */
  inspect(nonce: string, sourceIp: string): NonceCheck {
    const invalid: NonceCheck = { status: 'invalid', issuedAtMs: Number.NaN, expiresAtMs: Number.NaN };
    if (nonce.length !== NONCE_CHARS || !NONCE_RE.test(nonce)) return invalid;
    const buf = Buffer.from(nonce, 'base64url');
    if (buf.length !== NONCE_BYTES) return invalid;
    const body = buf.subarray(0, BODY_BYTES);
    const given = buf.subarray(BODY_BYTES);
    let genuine = timingSafeEqual(given, mac(this.secret, body, sourceIp));
    if (!genuine && this.previousSecret !== null)
      genuine = timingSafeEqual(given, mac(this.previousSecret, body, sourceIp));
    if (!genuine) return invalid;
    const issuedAtMs = buf.readUIntBE(0, TS_BYTES);
    const expiresAtMs = issuedAtMs + this.lifetimeMs;
    const age = this.now() - issuedAtMs;
    const fresh = age <= this.lifetimeMs && age >= -this.maxFutureMs;
    return { status: fresh ? 'ok' : 'stale', issuedAtMs, expiresAtMs };
  }
}

function mac(secret: HmacSha256, body: Buffer, sourceIp: string, out?: Buffer): Buffer {
  // body has a fixed length, so body | ip is unambiguous.
  return secret.digestParts(body, normalizeIp(sourceIp), out);
}

function checkSecret(secret: Buffer): void {
  if (!Buffer.isBuffer(secret) || secret.length < MIN_SECRET_BYTES) {
    throw new RangeError(`nonce secret must be a Buffer of at least ${MIN_SECRET_BYTES} bytes`);
  }
}
