/**
 * Step 2: flood detection per source IP, after Kamailio's pike: requests
 * are counted per source within a sampling unit (default 2 s); a source
 * with more than `density` requests (default 20) in one unit is reported,
 * once, and the caller bans it (default 300 s).
 *
 * Run before parsing, so it counts requests by their first bytes (a
 * response starts with "SIP/"). Each source's unit starts at its first
 * request (and again at its first request after the unit ran out): a burst
 * is never split in two by a boundary the clock put inside it, so "more
 * than `density` in a unit" holds for every burst. (One table swapped for
 * an empty one every unit let a burst that straddled the swap pass with up
 * to twice the density: a live test saw 21 of 40 answered.) The count is
 * one Map get and a field update per request; windows that ran out are
 * swept once per unit, so memory holds the sources of two units at most,
 * and at most `maxSources` of them: past that a new source is not counted
 * (counted as `untracked`) until a sweep makes room.
 *
 * Trusted sources are asked for only at the moment a source crosses, so the
 * predicate costs nothing per request.
 */
export interface FloodConfig {
  /** Requests allowed per unit; one more is a flood (pike's reqs_density_per_unit). */
  density: number;
  /** Sampling unit in seconds (pike's sampling_time_unit). */
  unit: number;
}

export interface FloodOptions extends FloodConfig {
  isTrusted?: (ip: string) => boolean;
  now?: () => number;
  maxSources?: number;
}

/** One source's unit: when it started, and the requests counted in it. */
interface SourceWindow {
  start: number;
  n: number;
}

export class FloodDetector {
  private sources = new Map<string, SourceWindow>();
  private sweepAt: number;
  private readonly unitMs: number;
  private readonly density: number;
  private readonly maxSources: number;
  private readonly now: () => number;
  private isTrusted: (ip: string) => boolean;
  /** Sources that crossed (reported). */
  floods = 0;
  /** Crossings of trusted sources (not reported). */
  trustedOver = 0;
  /** Requests of sources not counted because the table was full. */
  untracked = 0;

  constructor(opts: FloodOptions) {
    if (!(opts.density >= 1) || !(opts.unit > 0)) throw new RangeError('flood: density and unit must be positive');
    this.density = opts.density;
    this.unitMs = opts.unit * 1000;
    this.maxSources = opts.maxSources ?? 200_000;
    this.now = opts.now ?? Date.now;
    this.isTrusted = opts.isTrusted ?? (() => false);
    this.sweepAt = this.now() + this.unitMs;
  }

  setTrusted(isTrusted: (ip: string) => boolean): void {
    this.isTrusted = isTrusted;
  }

  /**
   * Counts one request from `ip`; returns true exactly when this request
   * makes the source a flood (the caller bans it).
   */
  hit(ip: string): boolean {
    const now = this.now();
    if (now >= this.sweepAt) this.sweep(now);
    const w = this.sources.get(ip);
    if (w === undefined) {
      if (this.sources.size >= this.maxSources) {
        this.untracked++;
        return false;
      }
      this.sources.set(ip, { start: now, n: 1 });
      return this.density < 1;
    }
    if (now - w.start >= this.unitMs) {
      // Its unit ran out: this request starts the next one.
      w.start = now;
      w.n = 1;
      return this.density < 1;
    }
    const n = w.n;
    w.n = n + 1;
    if (n !== this.density) return false;
    if (this.isTrusted(ip)) {
      this.trustedOver++;
      return false;
    }
    this.floods++;
    return true;
  }

  /** Forgets a source (its ban was lifted by hand). */
  forget(ip: string): void {
    this.sources.delete(ip);
  }

  /** Drops the windows that ran out (once per unit). */
  private sweep(now: number): void {
    for (const [ip, w] of this.sources) if (now - w.start >= this.unitMs) this.sources.delete(ip);
    this.sweepAt = now + this.unitMs;
  }
}

/** True when a datagram/stream message is a response ("SIP/2.0 ..."), from its first bytes. */
export function looksLikeResponse(data: Buffer): boolean {
  return data.length > 4 && data[0] === 0x53 && data[1] === 0x49 && data[2] === 0x50 && data[3] === 0x2f;
}
