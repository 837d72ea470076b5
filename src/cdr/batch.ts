/**
 * The B2BUA's CDR sink: the records of calls that end within a few
 * milliseconds of each other are written together (CdrRepo.insertMany), so
 * that SQLite commits once for them, not once a call. Each write still
 * settles on its own record: resolved once it is stored, rejected with the
 * error of that record alone. The window is short and its timer keeps the
 * process up, so a shutdown that waits for the CDRs gets them all.
 */
import type { CdrSink } from '../b2bua/env.js';
import type { Cdr } from '../trunking/model.js';

/** Writes records, answering null or the error for each, in order. */
export type WriteMany = (cdrs: Cdr[]) => Promise<Array<Error | null>>;

/** How long the first record of a batch waits for others. */
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
  #timer: NodeJS.Timeout | null = null;

  constructor(writeMany: WriteMany, windowMs = CDR_BATCH_MS) {
    this.#writeMany = writeMany;
    this.#windowMs = windowMs;
  }

  write(cdr: Cdr): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ cdr, resolve, reject });
      this.#timer ??= setTimeout(() => void this.#flush(), this.#windowMs);
    });
  }

  async #flush(): Promise<void> {
    this.#timer = null;
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
