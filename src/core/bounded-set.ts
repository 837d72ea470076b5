/**
 * A set of at most `max` strings that forgets its oldest member first.
 *
 * A ring of the members in arrival order says which is oldest. A Map's first
 * key would say it too, but V8 finds that key by scanning past every entry
 * deleted before it, until the table is next rebuilt: on a full set that
 * takes one in and lets one go per insert, that scan costs microseconds each
 * time.
 */
export class BoundedSet {
  readonly #members = new Set<string>();
  readonly #ring: Array<string | undefined>;
  #next = 0;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`BoundedSet: max must be a positive integer, not ${max}`);
    this.#ring = new Array<string | undefined>(max).fill(undefined);
  }

  get size(): number {
    return this.#members.size;
  }

  has(value: string): boolean {
    return this.#members.has(value);
  }

  /** Adds `value` (a member already keeps its place); the oldest member goes when the set is full. */
  add(value: string): void {
    if (this.#members.has(value)) return;
    const oldest = this.#ring[this.#next];
    if (oldest !== undefined) this.#members.delete(oldest);
    this.#ring[this.#next] = value;
    this.#next = (this.#next + 1) % this.max;
    this.#members.add(value);
  }

  clear(): void {
    this.#members.clear();
    this.#ring.fill(undefined);
    this.#next = 0;
  }
}
