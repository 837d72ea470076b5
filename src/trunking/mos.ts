/**
 * A call's MOS estimate from what the media relay saw: the ITU-T G.107
 * E-model, simplified as is usual for VoIP monitoring.
 *
 * - R = R0 - Is - Id - Ie,eff + A with G.107's default values for
 *   everything that is not measured: R0 - Is = 93.2 (G.107 7.1-7.2 with the
 *   defaults of its Table 3), A = 0.
 * - Id (delay) from the one-way delay Ta, in the usual approximation of
 *   G.107's Idd (7.3): 0.024 Ta, plus 0.11 (Ta - 177.3) above 177.3 ms. Ta
 *   is not measured here: it is taken as a jitter buffer of twice the jitter
 *   plus a 20 ms packet.
 * - Ie,eff (equipment and packet loss, G.107 7.4 formula 7-29) =
 *   Ie + (95 - Ie) Ppl / (Ppl / BurstR + Bpl), for G.711 with packet loss
 *   concealment: Ie = 0, Bpl = 25.1 (ITU-T G.113 Appendix I), random loss
 *   (BurstR = 1).
 * - MOS from R by G.107 Annex B (B-4): 1 for R < 0, 4.5 for R > 100, else
 *   1 + 0.035 R + R (R - 60) (100 - R) 7e-6.
 */
import type { CallMediaStats, FlowStats } from '../media/engine.js';

/** R0 - Is with G.107's default values (Table 3). */
const R_DEFAULT = 93.2;
const BPL_G711_PLC = 25.1;
const PACKET_MS = 20;

/** The E-model's R from the loss (percent of packets) and the one-way delay (ms). */
export function rFactor(lossPercent: number, delayMs: number): number {
  const ppl = Math.min(100, Math.max(0, lossPercent));
  const ta = Math.max(0, delayMs);
  const id = 0.024 * ta + (ta > 177.3 ? 0.11 * (ta - 177.3) : 0);
  const ieEff = (95 * ppl) / (ppl + BPL_G711_PLC);
  return R_DEFAULT - id - ieEff;
}

/** G.107 Annex B: MOS (conversational quality, estimated) from R. */
export function mosOfR(r: number): number {
  if (r <= 0) return 1;
  if (r >= 100) return 4.5;
  return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
}

/** MOS for one direction: its loss (percent) and jitter (ms), two decimals. */
export function mosOf(lossPercent: number, jitterMs: number): number {
  return Math.round(mosOfR(rFactor(lossPercent, 2 * jitterMs + PACKET_MS)) * 100) / 100;
}

/** One direction's MOS when its receiver sent RTCP reports (RFC 3550 6.4.1), else null. */
export function flowMos(f: FlowStats): number | null {
  if (f.lost === null && f.jitterMs === null) return null;
  const lost = Math.max(0, f.lost ?? 0);
  const expected = f.packets + lost;
  const loss = expected === 0 ? 0 : (100 * lost) / expected;
  return mosOf(loss, Math.max(0, f.jitterMs ?? 0));
}

/** A call's MOS: the worse of its two directions that have RTCP figures; null when neither has. */
export function callMos(stats: CallMediaStats): number | null {
  const both = [flowMos(stats.aToB), flowMos(stats.bToA)].filter((m): m is number => m !== null);
  return both.length === 0 ? null : Math.min(...both);
}
