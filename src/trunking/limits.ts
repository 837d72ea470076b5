/**
 * Call limits of trunks and accounts: calls per minute over a sliding
 * window, and concurrent calls. A limiter is hierarchical: a call is
 * allowed only if every scope it belongs to (its account, its trunk)
 * allows it, and nothing is counted anywhere unless all allow it, so a
 * call refused by its account does not use up its trunk's minute.
 */

const WINDOW_MS = 60_000;

/**
 * Exact sliding-window count of the last 60 s: a ring of the start times of
 * the last `limit` calls. A call is allowed when fewer than `limit` started
 * within the window, i.e. the oldest of the last `limit` is older than it.
 * O(1) per call, memory O(limit).
 */
export class CpmWindow {
  private times: Float64Array;
  private head = 0;
  private size = 0;

  constructor(private limit: number) {
    this.times = new Float64Array(Math.max(1, limit));
  }

  setLimit(limit: number): void {
    if (limit === this.limit) return;
    // Keep the most recent starts that still fit.
    const kept: number[] = [];
    for (let i = 0; i < this.size; i++) kept.push(this.times[(this.head + i) % this.times.length]!);
    this.limit = limit;
    this.times = new Float64Array(Math.max(1, limit));
    const start = Math.max(0, kept.length - limit);
    this.head = 0;
    this.size = 0;
    for (let i = start; i < kept.length; i++) this.push(kept[i]!);
  }

  allows(now: number): boolean {
    if (this.limit <= 0) return false;
    if (this.size < this.limit) return true;
    return now - this.times[this.head]! >= WINDOW_MS;
  }

  /** Seconds until the window lets one more call in (for Retry-After). */
  retryAfter(now: number): number {
    if (this.size < this.limit || this.limit <= 0) return this.limit <= 0 ? 60 : 0;
    return Math.max(1, Math.ceil((WINDOW_MS - (now - this.times[this.head]!)) / 1000));
  }

  record(now: number): void {
    this.push(now);
  }

  /** Calls started within the last minute. */
  count(now: number): number {
    let n = 0;
    for (let i = 0; i < this.size; i++) if (now - this.times[(this.head + i) % this.times.length]! < WINDOW_MS) n++;
    return n;
  }

  private push(t: number): void {
    const cap = this.times.length;
    if (this.size < cap) {
      this.times[(this.head + this.size) % cap] = t;
      this.size++;
    } else {
      this.times[this.head] = t;
      this.head = (this.head + 1) % cap;
    }
  }
}

export interface ScopeLimits {
  /** e.g. `trunk:pbx`, `account:acme`. */
  key: string;
  /** Calls per minute; null = unlimited. */
  cpm: number | null;
  /** Concurrent calls; null = unlimited. */
  maxCalls: number | null;
}

/**
 * A call admitted (release() ends it, idempotent), or refused: by a scope's
 * limit, or (`unavailable`, a cluster's limiter only) because the shared
 * limits cannot be reached and `cluster.onRedisDown` is `reject`.
 */
export type LimitVerdict =
  | { ok: true; release: () => void }
  | { ok: false; key: string; kind: 'cpm' | 'concurrent' | 'unavailable'; retryAfter: number };

/** Live figures of a scope: concurrent calls and calls started in the last minute. */
export interface ScopeUsage {
  active: number;
  lastMinute: number;
}

/**
 * What the planner admits calls with: CallLimiter for a node alone, the
 * cluster's shared limiter (src/cluster/shared-limits.ts) for a node of a
 * cluster. `callSid` names the call in the shared limits (unique per call).
 */
export interface Limiter {
  tryStart(scopes: ScopeLimits[], callSid: string): LimitVerdict | Promise<LimitVerdict>;
  usage(key: string): ScopeUsage | Promise<ScopeUsage>;
  /** Stops its timers (the shared limiter renews leases); calls up are not released. */
  close?(): void;
}

interface ScopeState {
  window: CpmWindow | null;
  active: number;
}

export class CallLimiter implements Limiter {
  private readonly scopes = new Map<string, ScopeState>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Admits a call in all scopes (outermost first) or none; release() ends it (idempotent). */
  tryStart(scopes: ScopeLimits[]): LimitVerdict {
    const t = this.now();
    const states: ScopeState[] = [];
    for (const s of scopes) {
      const st = this.state(s);
      if (s.maxCalls !== null && st.active >= s.maxCalls)
        return { ok: false, key: s.key, kind: 'concurrent', retryAfter: 5 };
      if (st.window !== null && !st.window.allows(t))
        return { ok: false, key: s.key, kind: 'cpm', retryAfter: st.window.retryAfter(t) };
      states.push(st);
    }
    for (const st of states) {
      st.active++;
      st.window?.record(t);
    }
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        for (const st of states) st.active--;
      },
    };
  }

  /** Live figures of a scope: concurrent calls and calls in the last minute. */
  usage(key: string): ScopeUsage {
    const st = this.scopes.get(key);
    if (st === undefined) return { active: 0, lastMinute: 0 };
    return { active: st.active, lastMinute: st.window?.count(this.now()) ?? 0 };
  }

  private state(s: ScopeLimits): ScopeState {
    let st = this.scopes.get(s.key);
    if (st === undefined) {
      st = { window: s.cpm === null ? null : new CpmWindow(s.cpm), active: 0 };
      this.scopes.set(s.key, st);
      return st;
    }
    // Limits edited while running: the window keeps its history.
    if (s.cpm === null) st.window = null;
    else if (st.window === null) st.window = new CpmWindow(s.cpm);
    else st.window.setLimit(s.cpm);
    return st;
  }
}
