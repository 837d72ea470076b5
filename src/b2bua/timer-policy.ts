import type { TimerSettings } from './session-timer.js';

/** One override of `trunking.sessionTimer.overrides`: for legs toward (or from) one trunk or carrier. */
export interface SessionTimerOverride {
  trunk?: string | undefined;
  carrier?: string | undefined;
  enabled?: boolean | undefined;
  interval?: number | undefined;
  minSE?: number | undefined;
}

/** `trunking.sessionTimer` as the config gives it (src/config/schema.ts checks the bounds). */
export interface SessionTimerConfig {
  enabled: boolean;
  interval: number;
  minSE: number;
  overrides: SessionTimerOverride[];
}

/**
 * Which session timer each leg of a trunk call runs (RFC 4028, per leg):
 * the server-wide settings, or those of the leg's trunk or carrier when an
 * override names it; null for a leg without one. A config reload replaces
 * them for the calls to come.
 */
export class SessionTimerPolicy {
  private base!: SessionTimerConfig;
  private readonly byName = new Map<string, SessionTimerOverride>();

  constructor(config: SessionTimerConfig) {
    this.update(config);
  }

  update(config: SessionTimerConfig): void {
    this.base = config;
    this.byName.clear();
    for (const o of config.overrides)
      this.byName.set(o.trunk !== undefined ? `trunk:${o.trunk}` : `carrier:${o.carrier ?? ''}`, o);
  }

  /** Whether any leg may run a timer (false: calls behave as without session timers). */
  get anyEnabled(): boolean {
    return this.base.enabled || this.base.overrides.some((o) => o.enabled === true);
  }

  /** The settings of a leg toward or from a trunk or carrier (`name` null: unknown, the server-wide ones). */
  forLeg(kind: 'trunk' | 'carrier', name: string | null): TimerSettings | null {
    const o = name === null ? undefined : this.byName.get(`${kind}:${name}`);
    if (!(o?.enabled ?? this.base.enabled)) return null;
    return { interval: o?.interval ?? this.base.interval, minSE: o?.minSE ?? this.base.minSE };
  }
}
