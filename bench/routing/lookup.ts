/**
 * The route lookup of a live outbound call, timed: what the planner
 * (src/b2bua/planner.ts planOutbound) does between "the number is read"
 * and "the carriers in the order to try": decideRoute (src/trunking/
 * dialled.ts, which `route explain` calls too) with the planner's rate
 * reader, i.e. the route of the number from the directory's snapshot,
 * each of its carriers' rate for the number (directory.rates: the rate
 * decks' longest prefix in force now) and the carriers ordered by rate
 * (route-order.ts orderRoute).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Carrier, RateMatch } from '../../src/trunking/model.js';
import type { StoreTrunkingDirectory } from '../../src/trunking/directory.js';
import { decideRoute } from '../../src/trunking/dialled.js';
import { type LatencyStats, statsOf } from './stats.js';

/** The planner's rate reader (planner.ts readRates): the directory's rates now, null when they cannot be read. */
async function readRates(
  dir: StoreTrunkingDirectory,
  names: readonly string[],
  number: string,
): Promise<ReadonlyMap<string, RateMatch> | null> {
  try {
    return await dir.rates(names, number, Date.now());
  } catch {
    return null;
  }
}

/** The carriers of the route for `number` (E.164, not an emergency number) in the order a call tries them. */
export async function routeLookup(dir: StoreTrunkingDirectory, number: string): Promise<Carrier[]> {
  const decision = await decideRoute(
    dir,
    { number, emergency: false },
    (names, n) => readRates(dir, names, n),
    Math.random,
  );
  return decision.order.ordered.map((o) => o.carrier);
}

export interface LookupRun {
  stats: LatencyStats;
  /** Carriers found per number (in the order of the numbers; the last pass). */
  found: Uint8Array;
  /** Their order, joined, per number (to compare runs). */
  orders: string[];
}

/**
 * Every number once (a warm-up pass, not kept), then `warm` (the decks
 * loaded into memory), then every number once, each call timed alone.
 */
export async function timedLookups(
  dir: StoreTrunkingDirectory,
  numbers: readonly string[],
  warm: () => Promise<void>,
): Promise<LookupRun> {
  for (const n of numbers) await routeLookup(dir, n);
  await warm();
  const times = new Float64Array(numbers.length);
  const found = new Uint8Array(numbers.length);
  const orders: string[] = new Array<string>(numbers.length);
  for (let i = 0; i < numbers.length; i++) {
    const t0 = process.hrtime.bigint();
    const carriers = await routeLookup(dir, numbers[i]!);
    times[i] = Number(process.hrtime.bigint() - t0) / 1000;
    found[i] = carriers.length;
    orders[i] = carriers.map((c) => c.name).join(',');
  }
  return { stats: statsOf(times), found, orders };
}

export interface BesideRun {
  stats: LatencyStats;
  /** Lookups made while the other work ran. */
  lookups: number;
  /** Lookups whose carriers and order differ from the steady run's for the same number. */
  differing: number;
  /** The event loop's delay while it ran (a stall delays every call), µs. */
  loopP99Us: number;
  loopMaxUs: number;
  ms: number;
}

/**
 * Lookups one after another (each after a turn of the event loop, as
 * calls arrive) until `work` settles; each checked against the steady
 * run's carriers for its number. The event loop's delay is sampled too.
 */
export async function lookupsBeside(
  dir: StoreTrunkingDirectory,
  numbers: readonly string[],
  steady: LookupRun,
  work: Promise<unknown>,
): Promise<BesideRun> {
  let done = false;
  const settled = work.then(
    () => {
      done = true;
    },
    (err: unknown) => {
      done = true;
      throw err;
    },
  );
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const times: number[] = [];
  let differing = 0;
  const started = performance.now();
  for (let i = 0; !done; i = (i + 1) % numbers.length) {
    await yieldToLoop();
    const t0 = process.hrtime.bigint();
    const carriers = await routeLookup(dir, numbers[i]!);
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
    if (carriers.map((c) => c.name).join(',') !== steady.orders[i]) differing++;
  }
  const ms = performance.now() - started;
  loop.disable();
  await settled;
  return {
    stats: statsOf(times),
    lookups: times.length,
    differing,
    loopP99Us: loop.percentile(99) / 1000,
    loopMaxUs: loop.max / 1000,
    ms,
  };
}
