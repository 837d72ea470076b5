/**
 * Lets one log line through per key (e.g. source address and fault) per
 * window, counting what it held back, so a flood of bad packets costs a
 * counter each and not a log line each.
 */
export class LogThrottle {
  private readonly seen = new Map<string, { until: number; suppressed: number }>();

  constructor(
    private readonly windowMs = 60_000,
    private readonly maxKeys = 10_000,
  ) {}

  /** Returns -1 to hold the line back, else how many lines were held back for this key before it. */
  admit(key: string, now = Date.now()): number {
    const entry = this.seen.get(key);
    if (entry !== undefined && entry.until > now) {
      entry.suppressed++;
      return -1;
    }
    if (this.seen.size >= this.maxKeys) this.sweep(now);
    const suppressed = entry?.suppressed ?? 0;
    this.seen.set(key, { until: now + this.windowMs, suppressed: 0 });
    return suppressed;
  }

  private sweep(now: number): void {
    for (const [k, v] of this.seen) if (v.until <= now) this.seen.delete(k);
    // Still full of live keys: forget the oldest half rather than grow.
    if (this.seen.size >= this.maxKeys) {
      let n = this.seen.size / 2;
      for (const k of this.seen.keys()) {
        if (n-- <= 0) break;
        this.seen.delete(k);
      }
    }
  }
}
