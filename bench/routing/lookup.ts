/**
 * The route lookup of a live outbound call, timed: what the planner
 * (src/b2bua/planner.ts planOutbound and its routeCarriers) does between
 * "the number is E.164" and "the carriers in the order to try": the route
 * of the number from the directory's snapshot, each of its carriers' rate
 * for the number from the store (directory.rates, the rate decks' longest
 * prefix in force now), the carriers ordered by rate (route-order.ts
 * orderRoute). `route explain` runs the same three steps.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Carrier } from '../../src/trunking/model.js';
import type { StoreTrunkingDirectory } from '../../src/trunking/directory.js';
import { orderRoute } from '../../src/trunking/route-order.js';
import { type LatencyStats, statsOf } from './stats.js';

/** The carriers of an lcr route for `number`, cheapest first, as a call gets them. */
export async function routeLookup(dir: StoreTrunkingDirectory, number: string, now: number): Promise<Carrier[]> {
  const route = dir.route(number);
  if (route === null || route.carriers.length === 0) return [];
  const rates = await dir.rates(
    route.carriers.map((c) => c.name),
    number,
    now,
  );
  return orderRoute(route, rates).ordered.map((o) => o.carrier);
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
  const now = Date.now();
  for (const n of numbers) await routeLookup(dir, n, now);
  await warm();
  const times = new Float64Array(numbers.length);
  const found = new Uint8Array(numbers.length);
  const orders: string[] = new Array<string>(numbers.length);
  for (let i = 0; i < numbers.length; i++) {
    const t0 = process.hrtime.bigint();
    const carriers = await routeLookup(dir, numbers[i]!, now);
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
    const carriers = await routeLookup(dir, numbers[i]!, Date.now());
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
