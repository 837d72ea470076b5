/**
 * Rows read on a hot path (a domain's existence, a subscriber's HA1s), kept
 * while the store's change counter (StoreContext.changesNow) stays where it
 * was when they were read: any provisioning write of this process, and any
 * commit of another connection (the CLI), moves it and empties the cache.
 * SQLite only; on PostgreSQL every call reads (changesNow is undefined).
 * Bounded: when full it starts again empty, so names sent by a flood of
 * requests cannot grow it.
 */
import type { StoreContext } from './context.js';

export class ChangeCache<V> {
  readonly #ctx: StoreContext;
  readonly #max: number;
  readonly #values = new Map<string, V>();
  #changes: number | undefined;

  constructor(ctx: StoreContext, max = 10_000) {
    this.#ctx = ctx;
    this.#max = max;
  }

  /**
   * The value kept for `key` at the current change count, else `read()`'s,
   * kept when `read` returns `{ value }` (it returns undefined when it could
   * not read synchronously: the caller reads its own way then, uncached).
   */
  get(key: string, read: () => { value: V } | undefined): { value: V } | undefined {
    const changes = this.#ctx.changesNow();
    if (changes === undefined) return undefined;
    if (changes !== this.#changes) {
      this.#values.clear();
      this.#changes = changes;
    }
    if (this.#values.has(key)) return { value: this.#values.get(key) as V };
    const r = read();
    if (r === undefined) return undefined;
    if (this.#values.size >= this.#max) this.#values.clear();
    this.#values.set(key, r.value);
    return r;
  }
}
