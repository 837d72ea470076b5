/**
 * Latency figures of a set of timed calls: percentiles of the times in
 * microseconds, from the times themselves or from a histogram of whole
 * microseconds (Kamailio's benchmark module).
 */
export interface LatencyStats {
  count: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

function pick(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

export function statsOf(timesUs: ArrayLike<number>): LatencyStats {
  const sorted = Float64Array.from(timesUs).sort();
  let sum = 0;
  for (const t of sorted) sum += t;
  return {
    count: sorted.length,
    meanUs: sorted.length === 0 ? NaN : sum / sorted.length,
    p50Us: pick(sorted, 0.5),
    p99Us: pick(sorted, 0.99),
    p999Us: pick(sorted, 0.999),
    maxUs: sorted.length === 0 ? NaN : sorted[sorted.length - 1]!,
  };
}

/** From counts per whole microsecond. */
export function statsFromHistogram(hist: ReadonlyMap<number, number>): LatencyStats {
  const times: number[] = [];
  for (const [us, n] of hist) for (let i = 0; i < n; i++) times.push(us);
  return statsOf(times);
}

export function fmtUs(v: number): string {
  if (Number.isNaN(v)) return 'n/a';
  return v < 10 ? v.toFixed(2) : v < 1000 ? v.toFixed(1) : v.toFixed(0);
}
