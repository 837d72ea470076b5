/**
 * Named event counters of the signalling core (messages in, parse errors,
 * drops by reason). A plain map now; the metrics endpoint exports them.
 */
export class Counters {
  private readonly values = new Map<string, number>();

  inc(name: string, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by);
  }

  get(name: string): number {
    return this.values.get(name) ?? 0;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.values);
  }
}
