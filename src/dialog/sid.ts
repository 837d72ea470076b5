import { randomBytes } from 'node:crypto';

/**
 * Identifiers of calls and legs (X-Call-Sid, X-Leg-Sid), and the Call-IDs,
 * tags and branches the B2BUA writes: a random per-process prefix and a
 * counter, so they are unique across restarts and cost no crypto call each.
 */
const PREFIX = randomBytes(6).toString('hex');
let counter = 0;

function next(): string {
  counter = (counter + 1) % 0x1_0000_0000;
  return counter.toString(16).padStart(8, '0');
}

/** `CA` + 20 hex digits: one per call. */
export function newCallSid(): string {
  return `CA${PREFIX}${next()}`;
}

/** `LG` + 20 hex digits: one per leg. */
export function newLegSid(): string {
  return `LG${PREFIX}${next()}`;
}

/** A Call-ID for a leg we originate (RFC 3261 8.1.1.4: globally unique). */
export function newCallId(): string {
  return `tl-${PREFIX}-${next()}`;
}

/** A From/To tag (RFC 3261 19.3). */
export function newTagValue(): string {
  return `${PREFIX.slice(0, 4)}${next()}`;
}

/** A branch with the RFC 3261 magic cookie (8.1.1.7). */
export function newBranchValue(): string {
  return `z9hG4bK-tl${PREFIX}${next()}`;
}
