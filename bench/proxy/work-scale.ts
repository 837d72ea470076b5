/**
 * The relay's work scale: bench/proxy/run.js --floor-work runs the Node.js
 * relay busy for several amounts of CPU a datagram, which gives CPU per call
 * as a function of a proxy's own work per message. A server's CPU per call
 * (Trunkline's, or a target such as 2x Kamailio's) is placed on that scale
 * by linear interpolation between the two runs around it, or by the nearest
 * segment's slope beyond the ends (then marked extrapolated).
 */

/** One relay run at one rate: us of work a datagram, and the CPU per call measured. */
export interface WorkPoint {
  workUs: number;
  msPerCall: number;
}

export interface WorkEquivalent {
  /** us of a proxy's own work a datagram that costs msPerCall. */
  workUs: number;
  /** Outside the measured runs: read from the slope of the nearest two. */
  extrapolated: boolean;
}

/**
 * The work a datagram at which the relay would cost msPerCall, or null with
 * fewer than two points or a scale that does not rise.
 */
export function workEquivalent(points: readonly WorkPoint[], msPerCall: number): WorkEquivalent | null {
  const p = [...points].sort((a, b) => a.workUs - b.workUs);
  if (p.length < 2) return null;
  let i = 0;
  while (i < p.length - 2 && msPerCall > p[i + 1]!.msPerCall) i++;
  const a = p[i]!;
  const b = p[i + 1]!;
  const slope = (b.msPerCall - a.msPerCall) / (b.workUs - a.workUs);
  if (!(slope > 0)) return null;
  const workUs = a.workUs + (msPerCall - a.msPerCall) / slope;
  return { workUs, extrapolated: msPerCall < p[0]!.msPerCall || msPerCall > p[p.length - 1]!.msPerCall };
}

/** "47 us", or "120 us (extrapolated)" outside the runs; "n/a" when there is no scale. */
export function formatWork(e: WorkEquivalent | null): string {
  if (e === null) return 'n/a';
  const us = Math.max(0, Math.round(e.workUs));
  return e.extrapolated ? `${us} us (extrapolated)` : `${us} us`;
}
