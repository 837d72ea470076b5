/**
 * Drain mode (`trunkline drain [--timeout S]`, POST /api/v1/drain), for
 * upgrades: the server stops taking new calls (Admission: 503 with
 * Retry-After, its OPTIONS answer 503 too), lets the calls up end by
 * themselves, then stops as at SIGTERM. With a timeout, the calls still up
 * then are ended by that stop (BYE to both legs, CDR "Server shutting
 * down"). A later request may set another timeout (or none); SIGTERM
 * during a drain stops at once.
 */
import type { Admission } from './admission.js';

/** How often the live calls are counted while draining, ms. */
const CHECK_MS = 100;
/** The longest --timeout, seconds (a day). */
export const MAX_DRAIN_TIMEOUT_S = 86_400;

/** What a drain request answers: the state, the calls still up, when the server stops at the latest. */
export interface DrainStatus {
  state: 'draining' | 'stopping';
  calls: number;
  /** ISO 8601, or null: no timeout (the server stops when the last call ends). */
  deadline: string | null;
}

export class DrainTimeoutError extends Error {
  constructor(got: unknown) {
    super(`timeout: expected seconds from 0 to ${MAX_DRAIN_TIMEOUT_S}, got ${JSON.stringify(got)}`);
    this.name = 'DrainTimeoutError';
  }
}

/** A drain timeout as given (a number of seconds, null or undefined for none); throws DrainTimeoutError. */
export function checkDrainTimeout(v: unknown): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_DRAIN_TIMEOUT_S) throw new DrainTimeoutError(v);
  return v;
}

export interface DrainOptions {
  admission: Admission;
  /** Trunk calls up now. */
  liveCalls(): number;
  /** Stops the server (as SIGTERM does); called once. */
  stop(): void;
  /** Stops new calls from starting in the B2BUA (one planned while the drain began is refused). */
  closeCalls(): void;
  log: { info(obj: object, msg: string): void };
}

export class Drain {
  #timer: NodeJS.Timeout | null = null;
  #deadline: number | null = null;
  #stopped = false;

  constructor(private readonly o: DrainOptions) {}

  /** Starts draining (or changes the timeout of the drain under way); `timeoutS` null: none. */
  start(timeoutS: number | null): DrainStatus {
    const a = this.o.admission;
    if (a.state === 'stopping' || this.#stopped) return this.status();
    this.#deadline = timeoutS === null ? null : Date.now() + timeoutS * 1000;
    if (a.state === 'open') {
      a.drain();
      this.o.closeCalls();
      this.o.log.info({ calls: this.o.liveCalls(), timeout: timeoutS }, 'draining');
      this.#timer = setInterval(() => this.#check(), CHECK_MS);
    } else {
      this.o.log.info({ calls: this.o.liveCalls(), timeout: timeoutS }, 'draining: timeout changed');
    }
    return this.status();
  }

  status(): DrainStatus {
    const stopping = this.#stopped || this.o.admission.state === 'stopping';
    return {
      state: stopping ? 'stopping' : 'draining',
      calls: this.o.liveCalls(),
      deadline: this.#deadline === null ? null : new Date(this.#deadline).toISOString(),
    };
  }

  /** No more checks (the server stops for another reason). */
  cancel(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  #check(): void {
    const calls = this.o.liveCalls();
    if (calls > 0 && (this.#deadline === null || Date.now() < this.#deadline)) return;
    this.cancel();
    this.#stopped = true;
    if (calls > 0) this.o.log.info({ calls }, 'drain timeout: ending the calls still up');
    this.o.stop();
  }
}
