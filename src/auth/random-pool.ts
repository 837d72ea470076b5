/**
 * Random bytes for the hot path from a pool refilled 4 KiB at a time: one
 * CSPRNG call instead of one per nonce or tag (each call costs far more than
 * the bytes). Bytes are zeroed in the pool once handed out.
 */
import { randomFillSync } from 'node:crypto';

const POOL = Buffer.allocUnsafe(4096);
let at = POOL.length;

/** Copies `n` (at most 256) fresh random bytes into `into` at `offset`. */
export function takeRandom(into: Buffer, offset: number, n: number): void {
  if (n > 256) throw new RangeError('takeRandom: at most 256 bytes at a time');
  if (at + n > POOL.length) {
    randomFillSync(POOL);
    at = 0;
  }
  POOL.copy(into, offset, at, at + n);
  POOL.fill(0, at, at + n);
  at += n;
}

const TAG = Buffer.alloc(6);

/** A To tag (RFC 3261 19.3: at least 32 random bits): 48 bits, 12 hex digits, as sip/response.ts newTag makes. */
export function randomTag(): string {
  takeRandom(TAG, 0, 6);
  return TAG.toString('hex');
}
