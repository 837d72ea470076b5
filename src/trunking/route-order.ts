/**
 * The order a route's carriers are tried in for one call (model.ts
 * RouteMode), and why each is where it is: the planner
 * (src/b2bua/planner.ts planOutbound) takes the order, `route explain`
 * (explain.ts) the reasons too.
 *
 * - `priority`: as listed.
 * - `lcr`: by each carrier's rate for the number (its deck's longest
 *   matching prefix in force now), cheapest first; equal rates keep the
 *   list order; a carrier without a rate for the number is left out.
 * - `weighted`: drawn at random without replacement, each remaining
 *   carrier's chance its weight over the remaining weights; the first drawn
 *   takes the call, the others follow for failover.
 */
import type { Carrier, RateMatch, RouteMatch } from './model.js';
import { formatMicros, formatIncrements } from './money.js';

export interface PlacedCarrier {
  carrier: Carrier;
  /** Its rate for the number, when rates were looked up and it has one. */
  rate: RateMatch | null;
  /** Its weight in a weighted route, else null. */
  weight: number | null;
  /** Why it is placed here, in words. */
  why: string;
}

export interface LeftOutCarrier {
  carrier: Carrier;
  why: string;
}

export interface RouteOrder {
  ordered: PlacedCarrier[];
  leftOut: LeftOutCarrier[];
}

/** A rate in words: `0.0125/min for +44, 60/60, fee 0.01, from 2026-03-01`. */
export function rateText(r: RateMatch): string {
  const parts = [`${formatMicros(r.rate)}/min for ${r.prefix}`, formatIncrements(r)];
  if (r.fee !== 0) parts.push(`fee ${formatMicros(r.fee)}`);
  if (r.effectiveAt !== 0) parts.push(`from ${new Date(r.effectiveAt).toISOString().slice(0, 10)}`);
  return parts.join(', ');
}

/**
 * The carriers of `route` in the order a call tries them. `rates`: each
 * carrier's rate for the number (needed for `lcr`, shown when given).
 * `random`: a weighted route's draw (Math.random); null keeps the list
 * order and says each carrier's chance of going first (for explain).
 */
export function orderRoute(
  route: RouteMatch,
  rates: ReadonlyMap<string, RateMatch> | null,
  random: (() => number) | null = Math.random,
): RouteOrder {
  const rateOf = (c: Carrier): RateMatch | null => rates?.get(c.name) ?? null;
  if (route.mode === 'lcr') return byRate(route, rateOf);
  if (route.mode === 'weighted') return byWeight(route, rateOf, random);
  return {
    ordered: route.carriers.map((carrier, i) => ({
      carrier,
      rate: rateOf(carrier),
      weight: null,
      why: `number ${i + 1} of the route's list (mode priority)`,
    })),
    leftOut: [],
  };
}

function byRate(route: RouteMatch, rateOf: (c: Carrier) => RateMatch | null): RouteOrder {
  const leftOut: LeftOutCarrier[] = [];
  const rated: Array<{ carrier: Carrier; rate: RateMatch; listed: number }> = [];
  route.carriers.forEach((carrier, listed) => {
    const rate = rateOf(carrier);
    if (rate === null) leftOut.push({ carrier, why: 'no rate in its deck for this number (mode lcr skips it)' });
    else rated.push({ carrier, rate, listed });
  });
  // Array.prototype.sort is stable: equal rates keep the list order.
  rated.sort((a, b) => a.rate.rate - b.rate.rate);
  const ordered = rated.map((r, i): PlacedCarrier => {
    const prev = rated[i - 1];
    const why =
      i === 0
        ? `cheapest: ${rateText(r.rate)}`
        : prev!.rate.rate === r.rate.rate
          ? `${rateText(r.rate)}: the same rate as ${prev!.carrier.name}, listed after it`
          : `${rateText(r.rate)}: dearer than ${prev!.carrier.name}`;
    return { carrier: r.carrier, rate: r.rate, weight: null, why };
  });
  return { ordered, leftOut };
}

function byWeight(
  route: RouteMatch,
  rateOf: (c: Carrier) => RateMatch | null,
  random: (() => number) | null,
): RouteOrder {
  const pool = route.carriers.map((carrier, i) => ({ carrier, weight: route.weights?.[i] ?? 1 }));
  const total = pool.reduce((s, c) => s + c.weight, 0);
  if (random === null) {
    return {
      ordered: pool.map((c) => ({
        carrier: c.carrier,
        rate: rateOf(c.carrier),
        weight: c.weight,
        why: `weight ${c.weight} of ${total}: first for ${percent(c.weight, total)} of calls, else tried after the one drawn`,
      })),
      leftOut: [],
    };
  }
  const ordered: PlacedCarrier[] = [];
  while (pool.length > 0) {
    const left = pool.reduce((s, c) => s + c.weight, 0);
    let x = random() * left;
    let pick = pool.length - 1;
    for (let i = 0; i < pool.length; i++) {
      x -= pool[i]!.weight;
      if (x < 0) {
        pick = i;
        break;
      }
    }
    const [c] = pool.splice(pick, 1);
    ordered.push({
      carrier: c!.carrier,
      rate: rateOf(c!.carrier),
      weight: c!.weight,
      why: `drawn ${ordered.length + 1}: weight ${c!.weight} of ${left} left`,
    });
  }
  return { ordered, leftOut: [] };
}

function percent(part: number, whole: number): string {
  const p = (100 * part) / whole;
  return `${Number.isInteger(p) ? p : p.toFixed(1)}%`;
}
