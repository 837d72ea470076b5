/**
 * The B2BUA's CDR sink: the records of calls that end within a few
 * milliseconds of each other are written together (CdrRepo.insertMany), so
 * that SQLite commits once for them, not once a call. A record after a
 * quiet spell (no write in the last window) goes at once, on the next turn
 * of the event loop with whatever came in the same turn; the ones after it
 * wait for the end of the window: a lone call's CDR is not delayed, a busy
 * node commits once per window. Each write settles on its own record:
 * resolved once it is stored, rejected with the error of that record
 * alone. The timers keep the process up, so a shutdown that waits for the
 * CDRs gets them all.
 */
import type { CdrSink } from '../b2bua/env.js';
import type { Cdr } from '../trunking/model.js';

/** Writes records, answering null or the error for each, in order. */
export type WriteMany = (cdrs: Cdr[]) => Promise<Array<Error | null>>;

/** The shortest time between two writes of a busy node. */
export const CDR_BATCH_MS = 20;

interface Waiting {
  cdr: Cdr;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class CdrBatch implements CdrSink {
  readonly #writeMany: WriteMany;
  readonly #windowMs: number;
  #queue: Waiting[] = [];
  /** A write is scheduled (next turn, or the end of the window). */
  #scheduled = false;
  #lastFlush = 0;

  constructor(writeMany: WriteMany, windowMs = CDR_BATCH_MS) {
    this.#writeMany = writeMany;
    this.#windowMs = windowMs;
  }

  write(cdr: Cdr): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ cdr, resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      const wait = this.#lastFlush + this.#windowMs - Date.now();
      if (wait <= 0) setImmediate(() => void this.#flush());
      else setTimeout(() => void this.#flush(), wait);
    });
  }

  async #flush(): Promise<void> {
    this.#scheduled = false;
    this.#lastFlush = Date.now();
    const batch = this.#queue;
    this.#queue = [];
    let results: Array<Error | null>;
    try {
      results = await this.#writeMany(batch.map((w) => w.cdr));
    } catch (err) {
      for (const w of batch) w.reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    batch.forEach((w, i) => {
      const err = results[i];
      if (err === null || err === undefined) w.resolve();
      else w.reject(err);
    });
  }
}
