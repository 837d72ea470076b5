/**
 * A bounded TTL cache for DNS answers: entries expire on their own clock
 * (`now`, ms) and, when the bound is reached, the oldest inserted entry is
 * evicted first (a Map keeps insertion order, and a refreshed entry is
 * re-inserted at the end).
 */
export class TtlCache<V> {
  private readonly map = new Map<string, { value: V; expires: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number,
  ) {}

  /** The live value for key, or undefined (an expired entry is dropped). */
  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    if (e.expires <= this.now()) {
      this.map.delete(key);
      return undefined;
    }
    return e.value;
  }

  /** Stores value for ttlMs; a TTL of 0 (or less) is not cached at all. */
  set(key: string, value: V, ttlMs: number): void {
    if (ttlMs <= 0 || this.maxEntries <= 0) return;
    this.map.delete(key);
    this.map.set(key, { value, expires: this.now() + ttlMs });
    while (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next();
      if (oldest.done === true) break;
      this.map.delete(oldest.value);
    }
  }

  /** Live entries (expired ones are swept first). */
  size(): number {
    const t = this.now();
    for (const [key, e] of this.map) if (e.expires <= t) this.map.delete(key);
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
  }
}
