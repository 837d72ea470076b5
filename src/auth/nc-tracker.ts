/**
 * Nonce-count replay protection (RFC 7616 3.4 and 5.5, RFC 3261 22.4): with
 * qop the client numbers each request it authenticates with one nonce
 * (nc=00000001, 00000002, ...), so a server that remembers the counts it has
 * accepted rejects a captured request sent again.
 *
 * Per nonce: the highest nc accepted and a 32-bit window bitmap of the counts
 * just below it (bit k set: nc = highest - k was accepted). A higher nc is
 * accepted and slides the window; a lower one is accepted once if it lies
 * within the window (requests of one nonce may overtake each other on UDP or
 * across connections) and rejected if seen before or older than the window.
 *
 * Memory is bounded: at most `maxNonces` entries in least-recently-used order
 * (the oldest is dropped to make room), and an entry is dropped once its nonce
 * expires, since an expired nonce no longer checks 'ok' anyway. A nonce whose
 * entry was dropped for room starts afresh; callers record only requests whose
 * digest verified, so only authenticated clients can fill the table.
 */

/** Width of the out-of-order window, in nonce counts. */
export const NC_WINDOW = 32;

export type NcVerdict = 'ok' | 'replay' | 'out-of-window';

interface Entry {
  max: number;
  /** bit k: max - k seen (bit 0 is max itself). */
  bits: number;
  expiresAtMs: number;
}

export interface NcTrackerOptions {
  /** Most nonces remembered (default 100 000). */
  maxNonces?: number;
  /** Clock in ms since the epoch (default Date.now); the nonce service's clock. */
  now?: () => number;
}

export class NcTracker {
  private readonly entries = new Map<string, Entry>();
  readonly maxNonces: number;
  private readonly now: () => number;

  constructor(opts: NcTrackerOptions = {}) {
    const max = opts.maxNonces ?? 100_000;
    if (!Number.isInteger(max) || max < 1) throw new RangeError('maxNonces must be a positive integer');
    this.maxNonces = max;
    this.now = opts.now ?? Date.now;
  }

  /** Number of nonces remembered. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Records nonce-count `nc` of `nonce` (valid through expiresAtMs) if it is
   * new: 'ok'. A count seen before is 'replay'; one 32 or more below the
   * highest seen is 'out-of-window'.
   */
  accept(nonce: string, nc: number, expiresAtMs: number): NcVerdict {
    if (!Number.isInteger(nc) || nc < 1) return 'out-of-window';
    const now = this.now();
    this.sweepSome(now);
    let e = this.entries.get(nonce);
    if (e !== undefined && e.expiresAtMs < now) {
      this.entries.delete(nonce);
      e = undefined;
    }
    if (e === undefined) {
      if (this.entries.size >= this.maxNonces) this.dropOldest();
      this.entries.set(nonce, { max: nc, bits: 1, expiresAtMs });
      return 'ok';
    }
    // Most recently used goes last.
    this.entries.delete(nonce);
    this.entries.set(nonce, e);
    if (nc > e.max) {
      const shift = nc - e.max;
      e.bits = shift >= NC_WINDOW ? 1 : ((e.bits << shift) | 1) >>> 0;
      e.max = nc;
      return 'ok';
    }
    const back = e.max - nc;
    if (back >= NC_WINDOW) return 'out-of-window';
    const bit = (1 << back) >>> 0;
    if ((e.bits & bit) !== 0) return 'replay';
    e.bits = (e.bits | bit) >>> 0;
    return 'ok';
  }

  /** Whether a nonce has an entry (expired ones count until swept). */
  has(nonce: string): boolean {
    return this.entries.has(nonce);
  }

  /** Forgets a nonce. */
  forget(nonce: string): void {
    this.entries.delete(nonce);
  }

  /** Drops every expired entry; returns how many went. For a periodic timer. */
  sweep(): number {
    const now = this.now();
    let n = 0;
    for (const [k, e] of this.entries) {
      if (e.expiresAtMs < now) {
        this.entries.delete(k);
        n++;
      }
    }
    return n;
  }

  /** Amortised expiry: look at the two least recently used entries. */
  private sweepSome(now: number): void {
    let looked = 0;
    for (const [k, e] of this.entries) {
      if (looked++ >= 2) break;
      if (e.expiresAtMs < now) this.entries.delete(k);
    }
  }

  private dropOldest(): void {
    const first = this.entries.keys().next();
    if (first.done !== true) this.entries.delete(first.value);
  }
}
