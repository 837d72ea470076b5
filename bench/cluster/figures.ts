/**
 * bench/cluster's arithmetic, apart from the processes: percentiles of the
 * probe's set-up times, the probe's pace, the ratios and shares of the report.
 */

/** The p-th percentile (0 < p <= 100) by nearest rank of values sorted ascending; NaN for none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface Latency {
  calls: number;
  p50: number;
  p99: number;
  mean: number;
}

export function latency(values: readonly number[]): Latency {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.length === 0 ? NaN : sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return { calls: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean };
}

/** a / b, or null when either is missing or b is 0. */
export function ratio(a: number | null, b: number | null): number | null {
  if (a === null || b === null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  return a / b;
}

/** Two shares of a rate that add up to it (the larger first): two UACs, one per node. */
export function split(rate: number): [number, number] {
  const a = Math.ceil(rate / 2);
  return [a, rate - a];
}

export function fmt(v: number | null | undefined, digits = 3): string {
  return v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits);
}

/** The probe's pause between calls (ms): about a tenth of the rate, at least 10 calls/s. */
export function probeInterval(rate: number): number {
  return Math.round(1000 / Math.max(10, rate / 10));
}
