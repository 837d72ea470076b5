/**
 * Waiting in tests: one signature for every poll. `waitFor` polls a probe
 * until it gives a value (anything but undefined, null or false) and
 * returns it, or fails naming what it waited for; `elapsedUntil` is the
 * same poll for tests that measure how long something took (or check that
 * it never happened), returning -1 instead of failing.
 */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface WaitOptions {
  /** Give up after this long. */
  timeoutMs: number;
  /** What is waited for, for the failure message ("timed out waiting for <what>"). */
  what: string;
  /** Time between two probes (default 2 ms: timer tests measure intervals while they wait). */
  intervalMs?: number;
  /** More to say when it times out (server output, what was seen). */
  detail?: () => string;
}

type Probe<T> = () => T | undefined | null | false | Promise<T | undefined | null | false>;

/** Polls `probe` until it gives a value; returns it. Throws "timed out waiting for <what>" after timeoutMs. */
export async function waitFor<T>(probe: Probe<T>, opts: WaitOptions): Promise<T> {
  const step = opts.intervalMs ?? 2;
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) {
      const detail = opts.detail?.() ?? '';
      throw new Error(`timed out waiting for ${opts.what}${detail === '' ? '' : `\n${detail}`}`);
    }
    await sleep(step);
  }
}

/** Polls `cond` (every intervalMs, default 100) for at most timeoutMs: the ms it took to hold, or -1 when it never did. */
export async function elapsedUntil(
  cond: () => boolean | Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number },
): Promise<number> {
  const step = opts.intervalMs ?? 100;
  const start = Date.now();
  for (let i = 0; i < Math.ceil(opts.timeoutMs / step) + 1; i++) {
    if (await cond()) return Date.now() - start;
    if (Date.now() - start >= opts.timeoutMs) break;
    await sleep(step);
  }
  return -1;
}
