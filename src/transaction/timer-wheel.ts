import { performance } from 'node:perf_hooks';

/** Something a timer can call without a closure: `target.onTimer(id)`. */
export interface TimerTarget {
  onTimer(id: number): void;
}

const PENDING = 1;
const FIRING = 2;
const DONE = 3;

/**
 * One scheduled timer. Opaque to callers: keep it to cancel the timer.
 * Its fields belong to the wheel.
 */
export class TimerHandle {
  /** @internal absolute tick at which the timer is due */
  tick = 0;
  /** @internal slot index while pending, -1 otherwise */
  slot = -1;
  /** @internal */
  state = PENDING;
  /** @internal doubly linked slot list */
  prev: TimerHandle | null = null;
  /** @internal */
  next: TimerHandle | null = null;
  /** @internal */
  fn: (() => void) | null;
  /** @internal */
  target: TimerTarget | null;
  /** @internal */
  id: number;

  constructor(fn: (() => void) | null, target: TimerTarget | null, id: number) {
    this.fn = fn;
    this.target = target;
    this.id = id;
  }

  /** True until the timer fires or is cancelled. */
  get pending(): boolean {
    return this.state === PENDING || this.state === FIRING;
  }
}

const DEFAULT_SLOTS = 1024;

/**
 * A hashed timing wheel (Varghese and Lauck) driven by ONE Node timer: every
 * transaction timer of the process lives here, so thousands of live
 * transactions cost one libuv timer, not thousands. schedule() and cancel()
 * are O(1) (append to / unlink from a slot list); a timer due beyond one
 * revolution waits in its slot until its tick comes round.
 *
 * Accuracy: a timer never fires before its delay has passed, and fires at
 * most one resolution (plus event-loop latency) after; a long timer (16
 * resolutions or more) may fire up to 1/16 of its delay late: its due tick
 * is rounded up to a power-of-two grid, so that the many long timers of a
 * busy server (Timers J, K, L, M: 5 s, 32 s) come due together in few
 * wake-ups instead of one every tick. Timers due in the same tick fire in the
 * order they were scheduled; timers whose delays differ by at least the
 * resolution (and the grid) fire in delay order.
 *
 * The Node timer is armed only while timers are pending, for the next
 * non-empty slot (a scan of at most one revolution when re-arming), re-armed
 * earlier when a sooner timer is scheduled, and re-armed later when the
 * timers it was armed for are all cancelled (a 100 Trying delay or Timer A
 * stopped by the response costs no wake-up). It is not unref'd: pending
 * transactions keep the process alive until stop().
 */
export class TimerWheel {
  private readonly res: number;
  private readonly mask: number;
  private readonly heads: Array<TimerHandle | null>;
  private readonly tails: Array<TimerHandle | null>;
  private readonly origin: number;
  /** Last tick processed; ticks are counted from origin in units of res. */
  private current = 0;
  private count = 0;
  private node: NodeJS.Timeout | null = null;
  private armedTick = Number.POSITIVE_INFINITY;
  private processing = false;
  /** Times the Node timer fired (wake-ups), for tests and diagnostics. */
  wakeups = 0;
  /** Timers taken off their slots and about to fire (cancel() still stops them). */
  private batch: TimerHandle[] = [];
  private readonly onNodeTimer = (): void => this.advance();

  constructor(resolutionMs = 10, slots = DEFAULT_SLOTS) {
    if (!(resolutionMs > 0)) throw new RangeError('TimerWheel resolution must be > 0');
    let n = 1;
    while (n < slots) n <<= 1;
    this.res = resolutionMs;
    this.mask = n - 1;
    this.heads = new Array<TimerHandle | null>(n).fill(null);
    this.tails = new Array<TimerHandle | null>(n).fill(null);
    this.origin = performance.now();
  }

  /** Calls fn once after delayMs. */
  schedule(delayMs: number, fn: () => void): TimerHandle {
    const h = new TimerHandle(fn, null, 0);
    this.insert(h, delayMs);
    return h;
  }

  /** Calls target.onTimer(id) once after delayMs: no closure per timer. */
  scheduleFor(delayMs: number, target: TimerTarget, id: number): TimerHandle {
    const h = new TimerHandle(null, target, id);
    this.insert(h, delayMs);
    return h;
  }

  /**
   * cancel() for a field that may hold no timer; returns null so the caller
   * clears the field in the same statement: `this.t = wheel.cancelIfSet(this.t)`.
   */
  cancelIfSet(h: TimerHandle | null): null {
    if (h !== null) this.cancel(h);
    return null;
  }

  /** Stops a timer; harmless when it already fired or was cancelled. */
  cancel(h: TimerHandle): void {
    if (h.state === PENDING) {
      const tick = h.tick;
      const slot = h.slot;
      this.unlink(h);
      h.state = DONE;
      h.fn = null;
      h.target = null;
      this.count--;
      if (this.processing) return;
      if (this.count === 0) this.disarm();
      // Nothing pending is due before the armed tick: look for the next one after it.
      else if (tick === this.armedTick && !this.hasTick(slot, tick)) this.rearm(tick);
    } else if (h.state === FIRING) {
      h.state = DONE;
      h.fn = null;
      h.target = null;
    }
  }

  /** Number of pending timers. */
  size(): number {
    return this.count;
  }

  /** Drops every pending timer and the Node timer. The wheel stays usable. */
  stop(): void {
    for (let s = 0; s <= this.mask; s++) {
      let h = this.heads[s] ?? null;
      while (h !== null) {
        const next: TimerHandle | null = h.next;
        h.state = DONE;
        h.prev = h.next = null;
        h.slot = -1;
        h.fn = null;
        h.target = null;
        h = next;
      }
      this.heads[s] = null;
      this.tails[s] = null;
    }
    for (const h of this.batch) {
      h.state = DONE;
      h.fn = null;
      h.target = null;
    }
    this.count = 0;
    this.disarm();
  }

  // ---- internals -------------------------------------------------------------

  private nowTick(): number {
    return Math.floor((performance.now() - this.origin) / this.res);
  }

  private insert(h: TimerHandle, delayMs: number): void {
    const delay = delayMs > 0 ? delayMs : 0;
    const due = performance.now() - this.origin + delay;
    let tick = Math.ceil(due / this.res);
    // Long timers: round up to a grid of at most delay/16 (a power of two of ticks, so grids nest).
    const spread = delay / (16 * this.res);
    if (spread >= 2) {
      let grid = 2;
      while (grid * 2 <= spread) grid *= 2;
      tick = Math.ceil(tick / grid) * grid;
    }
    if (tick <= this.current) tick = this.current + 1;
    h.tick = tick;
    const slot = tick & this.mask;
    h.slot = slot;
    const tail = this.tails[slot] ?? null;
    if (tail === null) this.heads[slot] = h;
    else {
      tail.next = h;
      h.prev = tail;
    }
    this.tails[slot] = h;
    this.count++;
    if (!this.processing && tick < this.armedTick) this.arm(tick);
  }

  private unlink(h: TimerHandle): void {
    const slot = h.slot;
    if (h.prev === null) this.heads[slot] = h.next;
    else h.prev.next = h.next;
    if (h.next === null) this.tails[slot] = h.prev;
    else h.next.prev = h.prev;
    h.prev = h.next = null;
    h.slot = -1;
  }

  /** Whether a slot holds a pending timer due at exactly this tick. */
  private hasTick(slot: number, tick: number): boolean {
    for (let h = this.heads[slot] ?? null; h !== null; h = h.next) if (h.tick === tick) return true;
    return false;
  }

  private arm(tick: number): void {
    if (this.node !== null) clearTimeout(this.node);
    const delay = this.origin + tick * this.res - performance.now();
    this.armedTick = tick;
    this.node = setTimeout(this.onNodeTimer, delay > 0 ? Math.ceil(delay) : 0);
  }

  private disarm(): void {
    if (this.node !== null) clearTimeout(this.node);
    this.node = null;
    this.armedTick = Number.POSITIVE_INFINITY;
  }

  /** The Node timer fired: run every timer due by now, then re-arm. */
  private advance(): void {
    this.wakeups++;
    this.node = null;
    this.armedTick = Number.POSITIVE_INFINITY;
    const target = this.nowTick();
    const batch = this.batch;
    if (target > this.current) {
      const lag = target - this.current;
      const n = this.mask + 1;
      // With lag <= n every slot holds at most one tick value <= target, so
      // walking slots from current+1 collects timers in tick order.
      const steps = lag < n ? lag : n;
      for (let i = 1; i <= steps; i++) this.collect((this.current + i) & this.mask, target, batch);
      if (lag > n) batch.sort((a, b) => a.tick - b.tick); // stalled for over a revolution: rare
      this.current = target;
    }
    this.processing = true;
    let failure: unknown = null;
    let failed = false;
    try {
      for (let i = 0; i < batch.length; i++) {
        const h = batch[i]!;
        if (h.state !== FIRING) continue;
        h.state = DONE;
        const fn = h.fn;
        const t = h.target;
        h.fn = null;
        h.target = null;
        try {
          if (t !== null) t.onTimer(h.id);
          else if (fn !== null) fn();
        } catch (err) {
          // Like a throwing setTimeout callback, but only after the wheel is consistent again.
          if (!failed) {
            failed = true;
            failure = err;
          }
        }
      }
    } finally {
      batch.length = 0;
      this.processing = false;
      this.rearm();
    }
    if (failed) throw failure;
  }

  /** Moves the timers of one slot due by `limit` into the batch. */
  private collect(slot: number, limit: number, batch: TimerHandle[]): void {
    let h = this.heads[slot] ?? null;
    while (h !== null) {
      const next: TimerHandle | null = h.next;
      if (h.tick <= limit) {
        this.unlink(h);
        h.state = FIRING;
        this.count--;
        batch.push(h);
      }
      h = next;
    }
  }

  /** Arms the Node timer for the first non-empty slot after tick `from` (default: the last processed tick). */
  private rearm(from = this.current): void {
    if (this.count === 0) {
      this.disarm();
      return;
    }
    const n = this.mask + 1;
    for (let i = 1; i <= n; i++) {
      const tick = from + i;
      const head = this.heads[tick & this.mask];
      if (head !== null && head !== undefined) {
        // A slot may hold only timers of later revolutions: waking for it is harmless.
        this.arm(tick);
        return;
      }
    }
    this.arm(from + 1);
  }
}
