import { isKnownStatus } from '../sip/status.js';

/**
 * Named event counters of the signalling core (messages in, parse errors,
 * drops by reason). A plain map; the metrics endpoint exports them, one
 * metric per name, or as one labelled metric per family of names
 * (src/metrics/families.ts: `proxy_replies_<status>` and the like).
 * A value in a name must come from a fixed set: `statusLabel` and
 * `statusClassLabel` make a status one.
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

/** A status as a counter name's part: the code when it is a known one (src/sip/status.ts), else `other`. */
export function statusLabel(status: number): string {
  return isKnownStatus(status) ? String(status) : 'other';
}

/** A status's class as a counter name's part: `1xx`..`6xx`, else `other`. */
export function statusClassLabel(status: number): string {
  return status >= 100 && status <= 699 && Number.isInteger(status) ? `${Math.floor(status / 100)}xx` : 'other';
}
