/**
 * A route's order as carrier quality changes it (src/trunking/quality.ts),
 * for `route explain`: each carrier with its figures, the demoted ones
 * moved after the others (as src/b2bua/planner.ts tries them), saying until
 * when and why; a demoted gateway of a carrier is named with it (its calls
 * try it after every other gateway).
 */
import type { EntityQuality, QualitySnapshot } from './quality.js';
import type { PlacedCarrier, RouteOrder } from './route-order.js';

/** A carrier's figures as explain shows them. */
export interface QualityOut {
  attempts: number;
  asr: number | null;
  ner: number | null;
  acd: number | null;
  pdd: number | null;
  mos: number | null;
  demotedUntil: string | null;
  demotedFor: string | null;
}

export interface QualityPlaced extends PlacedCarrier {
  /** Null when the carrier has no attempts yet, or no figures were at hand (no server running). */
  quality: QualityOut | null;
  demotedGateways: Array<{ gateway: string; until: string; why: string }>;
}

function demotedNow(q: EntityQuality | undefined, now: number): q is EntityQuality & { demotedUntil: number } {
  return q !== undefined && q.demotedUntil !== null && q.demotedUntil > now;
}

function out(q: EntityQuality | undefined, now: number): QualityOut | null {
  if (q === undefined) return null;
  const demoted = demotedNow(q, now);
  return {
    attempts: q.attempts,
    asr: q.asr,
    ner: q.ner,
    acd: q.acd,
    pdd: q.pdd,
    mos: q.mos,
    demotedUntil: demoted ? new Date(q.demotedUntil!).toISOString() : null,
    demotedFor: demoted ? q.demotedFor : null,
  };
}

/** The order with each carrier's figures; demoted carriers after the others (stable), their `why` saying so. */
export function orderWithQuality(order: RouteOrder, quality: QualitySnapshot | null, now: number): QualityPlaced[] {
  const carriers = new Map((quality?.carriers ?? []).map((q) => [q.carrier, q]));
  const gateways = quality?.gateways ?? [];
  const kept: QualityPlaced[] = [];
  const demoted: QualityPlaced[] = [];
  for (const o of order.ordered) {
    const q = carriers.get(o.carrier.name);
    const demotedGateways = gateways
      .filter((g) => g.carrier === o.carrier.name && o.carrier.gateways.includes(g.gateway!) && demotedNow(g, now))
      .map((g) => ({ gateway: g.gateway!, until: new Date(g.demotedUntil!).toISOString(), why: g.demotedFor ?? '' }));
    const placed: QualityPlaced = { ...o, quality: out(q, now), demotedGateways };
    if (!demotedNow(q, now)) {
      kept.push(placed);
      continue;
    }
    const until = new Date(q.demotedUntil).toISOString();
    placed.why = `${o.why}; demoted until ${until} (${q.demotedFor ?? 'below the thresholds'}): tried after the others`;
    demoted.push(placed);
  }
  return [...kept, ...demoted];
}

/** A carrier's figures in words: `ASR 40% NER 100% ACD 12.5 s PDD 180 ms MOS 4.3 over 20 attempts`. */
export function qualityText(q: QualityOut): string {
  const parts = [
    q.asr === null ? null : `ASR ${q.asr}%`,
    q.ner === null ? null : `NER ${q.ner}%`,
    q.acd === null ? null : `ACD ${q.acd} s`,
    q.pdd === null ? null : `PDD ${q.pdd} ms`,
    q.mos === null ? null : `MOS ${q.mos}`,
  ].filter((p) => p !== null);
  return `${parts.join(' ')} over ${q.attempts} attempts`;
}
