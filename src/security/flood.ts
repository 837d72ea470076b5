/**
 * Step 2: flood detection per source IP, after Kamailio's pike: requests
 * are counted per source within a sampling unit (default 2 s); a source
 * with more than `density` requests (default 20) in one unit is reported,
 * once, and the caller bans it (default 300 s).
 *
 * Run before parsing, so it counts requests by their first bytes (a
 * response starts with "SIP/"). The count is one Map get/set per request;
 * the table is swapped for an empty one at each unit boundary (a fixed
 * window, as pike's per-unit counters), so memory holds the sources of one
 * unit at most, and at most `maxSources` of them: past that a new source is
 * not counted (counted as `untracked`) until the next unit.
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

export class FloodDetector {
  private counts = new Map<string, number>();
  private unitEnds: number;
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
    this.unitEnds = this.now() + this.unitMs;
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
    if (now >= this.unitEnds) {
      this.counts = new Map();
      this.unitEnds = now + this.unitMs;
    }
    const n = this.counts.get(ip);
    if (n === undefined) {
      if (this.counts.size >= this.maxSources) {
        this.untracked++;
        return false;
      }
      this.counts.set(ip, 1);
      return this.density < 1;
    }
    this.counts.set(ip, n + 1);
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
    this.counts.delete(ip);
  }
}

/** True when a datagram/stream message is a response ("SIP/2.0 ..."), from its first bytes. */
export function looksLikeResponse(data: Buffer): boolean {
  return data.length > 4 && data[0] === 0x53 && data[1] === 0x49 && data[2] === 0x50 && data[3] === 0x2f;
}
