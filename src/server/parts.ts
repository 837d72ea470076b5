/**
 * The parts of a running server, kept in the order they started
 * (src/server/index.ts starts them one by one). The one list gives:
 *
 *   start   in order; a part whose start fails cleans up after itself,
 *           and the composition root then stops every part started before
 *           it (stop()), so a failed start leaves nothing running;
 *   stop    the reverse order, once (later calls get the same promise);
 *           a part that fails to stop is logged and the others still stop;
 *   reload  in start order (SIGHUP, POST /api/v1/reload); the first part
 *           that fails ends the reload (the parts after it keep their
 *           config) and its error is the reload's.
 *
 * A part may have only a stop (a step of the shutdown, such as waiting for
 * the CDRs) or only a start; where it sits in the list decides when it runs.
 */
import type { TrunklineConfig } from '../config/schema.js';

export interface Part {
  /** For the log and errors: `store`, `SIP listeners`, ... */
  readonly name: string;
  /** Starts it; rejects when it cannot (having cleaned up after itself). Absent: nothing to start. */
  start?(): Promise<void> | void;
  /** Stops it. Absent: nothing to stop. */
  stop?(): Promise<void> | void;
  /** Applies a new config. Absent: nothing of it changes live. */
  reload?(next: TrunklineConfig): Promise<void> | void;
}

export interface PartsLog {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** A part asked to start once the server is stopping (a drain that ended during the start). */
export class StoppedWhileStartingError extends Error {
  constructor(part: string) {
    super(`the server stopped while starting (before ${part})`);
    this.name = 'StoppedWhileStartingError';
  }
}

export class PartList {
  readonly #started: Part[] = [];
  readonly #log: PartsLog;
  /** The start under way, waited for by stop() (it stops what that start made too). */
  #starting: Promise<void> | null = null;
  #stopping: Promise<void> | null = null;
  #settle: (outcome: unknown) => void = () => undefined;
  /** Resolves (never rejects) once stop() ended, whoever called it: undefined, or the error it failed with. */
  readonly stopped: Promise<unknown>;

  constructor(log: PartsLog) {
    this.#log = log;
    this.stopped = new Promise<unknown>((resolve) => (this.#settle = resolve));
  }

  /** Starts a part and keeps it in the list; rejects as its start does. */
  async start(part: Part): Promise<void> {
    if (this.#stopping !== null) throw new StoppedWhileStartingError(part.name);
    const starting = Promise.resolve(part.start?.());
    this.#starting = starting.then(
      () => undefined,
      () => undefined,
    );
    await starting;
    this.#started.push(part);
    this.#log.debug({ part: part.name }, 'part started');
  }

  /** Stops every part started, last first; once. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stopAll().then(
      () => this.#settle(undefined),
      (err: unknown) => {
        this.#settle(err);
        throw err;
      },
    );
    return this.#stopping;
  }

  async reload(next: TrunklineConfig): Promise<void> {
    for (const part of [...this.#started]) await part.reload?.(next);
  }

  async #stopAll(): Promise<void> {
    await this.#starting;
    let failure: { err: unknown } | null = null;
    while (this.#started.length > 0) {
      const part = this.#started.pop()!;
      try {
        await part.stop?.();
        this.#log.debug({ part: part.name }, 'part stopped');
      } catch (err) {
        this.#log.warn({ part: part.name, err: String(err) }, 'a part failed to stop');
        failure ??= { err };
      }
    }
    if (failure !== null) throw failure.err;
  }
}
