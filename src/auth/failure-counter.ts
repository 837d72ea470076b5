/**
 * Authentication failures per source IP and per username within a sliding
 * window, for the security edge's ban rules: when a key reaches the
 * threshold (default 3 failures within 60 s) the onThreshold callback runs
 * and that key starts counting afresh, so a client still failing after its
 * ban ends crosses again.
 *
 * A key keeps only its last `threshold` failure times (older ones cannot
 * matter), and each kind keeps at most `maxKeys` keys in least-recently-used
 * order, so an attacker cycling addresses or usernames cannot grow memory
 * without bound: the least recently failing key is forgotten first.
 */
import { normalizeIp } from './ip.js';

export type FailureKind = 'ip' | 'user';

export interface ThresholdEvent {
  kind: FailureKind;
  /** The source IP (normalised) or the username. */
  key: string;
  /** Failures within the window when it crossed (= the threshold). */
  count: number;
  windowS: number;
  /** Clock time of the failure that crossed. */
  atMs: number;
  /** Reason of that failure, as given to record(). */
  reason: string | null;
}

export interface FailureRule {
  threshold?: number;
  windowS?: number;
}

export interface FailureCounterOptions {
  /** Failures that trigger, for both kinds unless overridden (default 3). */
  threshold?: number;
  /** Sliding window in seconds, for both kinds unless overridden (default 60). */
  windowS?: number;
  ip?: FailureRule;
  user?: FailureRule;
  /** Most keys remembered per kind (default 100 000). */
  maxKeys?: number;
  /** Clock in ms since the epoch (default Date.now). */
  now?: () => number;
  /** Runs synchronously inside record() for each crossing; an exception propagates to the caller of record(). */
  onThreshold?: (e: ThresholdEvent) => void;
}

class Window {
  /** key -> failure times, oldest first, at most `threshold` of them. */
  private readonly keys = new Map<string, number[]>();

  constructor(
    readonly kind: FailureKind,
    readonly threshold: number,
    readonly windowMs: number,
    private readonly maxKeys: number,
  ) {}

  get size(): number {
    return this.keys.size;
  }

  /** Adds a failure; returns true when the key reached the threshold (and was reset). */
  add(key: string, now: number): boolean {
    let times = this.keys.get(key);
    if (times === undefined) {
      if (this.keys.size >= this.maxKeys) {
        const oldest = this.keys.keys().next();
        if (oldest.done !== true) this.keys.delete(oldest.value);
      }
      times = [];
    } else {
      this.keys.delete(key); // re-inserted last: most recently used
    }
    prune(times, now - this.windowMs);
    times.push(now);
    if (times.length >= this.threshold) return true; // key stays deleted: counting restarts
    this.keys.set(key, times);
    return false;
  }

  count(key: string, now: number): number {
    const times = this.keys.get(key);
    if (times === undefined) return 0;
    prune(times, now - this.windowMs);
    return times.length;
  }

  reset(key: string): void {
    this.keys.delete(key);
  }

  sweep(now: number): number {
    let n = 0;
    for (const [key, times] of this.keys) {
      prune(times, now - this.windowMs);
      if (times.length === 0) {
        this.keys.delete(key);
        n++;
      }
    }
    return n;
  }
}

/** Drops failure times at or before `cutoff` (the window is (now - window, now]). */
function prune(times: number[], cutoff: number): void {
  let drop = 0;
  while (drop < times.length && times[drop]! <= cutoff) drop++;
  if (drop > 0) times.splice(0, drop);
}

export class FailureCounter {
  private readonly ip: Window;
  private readonly user: Window;
  private readonly now: () => number;
  private readonly onThreshold: ((e: ThresholdEvent) => void) | null;

  constructor(opts: FailureCounterOptions = {}) {
    const maxKeys = opts.maxKeys ?? 100_000;
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError('maxKeys must be a positive integer');
    const make = (kind: FailureKind, rule: FailureRule | undefined): Window => {
      const threshold = rule?.threshold ?? opts.threshold ?? 3;
      const windowS = rule?.windowS ?? opts.windowS ?? 60;
      if (!Number.isInteger(threshold) || threshold < 1)
        throw new RangeError(`${kind} threshold must be a positive integer`);
      if (!(windowS > 0) || !Number.isFinite(windowS))
        throw new RangeError(`${kind} window must be a positive number of seconds`);
      return new Window(kind, threshold, windowS * 1000, maxKeys);
    };
    this.ip = make('ip', opts.ip);
    this.user = make('user', opts.user);
    this.now = opts.now ?? Date.now;
    this.onThreshold = opts.onThreshold ?? null;
  }

  /**
   * Counts one failure for the source IP and, when known, the username (an
   * unknown user's name counts too: it is what the client tried). Returns the
   * crossings it caused, after running onThreshold for each.
   */
  record(sourceIp: string, username: string | null, reason: string | null = null): ThresholdEvent[] {
    const now = this.now();
    const events: ThresholdEvent[] = [];
    const ipKey = normalizeIp(sourceIp);
    if (this.ip.add(ipKey, now)) events.push(this.event(this.ip, ipKey, now, reason));
    if (username !== null && this.user.add(username, now)) events.push(this.event(this.user, username, now, reason));
    if (this.onThreshold !== null) for (const e of events) this.onThreshold(e);
    return events;
  }

  /** Failures of a key within the window now, since its last crossing. */
  count(kind: FailureKind, key: string): number {
    return this.table(kind).count(kind === 'ip' ? normalizeIp(key) : key, this.now());
  }

  /** Forgets a key (after a successful authentication, or when a ban is lifted by hand). */
  reset(kind: FailureKind, key: string): void {
    this.table(kind).reset(kind === 'ip' ? normalizeIp(key) : key);
  }

  /** Keys remembered for a kind. */
  size(kind: FailureKind): number {
    return this.table(kind).size;
  }

  /** Drops keys with no failure left in their window; returns how many went. For a periodic timer. */
  sweep(): number {
    const now = this.now();
    return this.ip.sweep(now) + this.user.sweep(now);
  }

  private table(kind: FailureKind): Window {
    return kind === 'ip' ? this.ip : this.user;
  }

  private event(w: Window, key: string, now: number, reason: string | null): ThresholdEvent {
    return { kind: w.kind, key, count: w.threshold, windowS: w.windowMs / 1000, atMs: now, reason };
  }
}
