/**
 * The one path a dialled number takes from a trunk to its carriers: read by
 * the trunk's dial plan (dial-plan.ts), then the route (longest prefix, or
 * the emergency route) and the order of its carriers (route-order.ts), or
 * the refusal and why. The live call (src/b2bua/planner.ts planOutbound)
 * and `route explain` (explain.ts) both call these, so they always agree;
 * what only a call has (its caller ID, the limits, barring) stays the
 * planner's.
 */
import { NumberError } from './e164.js';
import { receiveNumber, sendNumber } from './dial-plan.js';
import type { Account, Carrier, DialPlan, RateMatch, RouteMatch, Trunk } from './model.js';
import { orderRoute, type PlacedCarrier, type RouteOrder } from './route-order.js';
import { formatMicros } from './money.js';
import { runModule, type ModuleEffect, type ModuleHook } from './routing-hook.js';

/** What the path needs of the trunking data (the directory and a snapshot both have it). */
export interface NumberRouting {
  route(number: string): RouteMatch | null;
  emergencyRoute(): RouteMatch | null;
  dialPlan(name: string): DialPlan | null;
}

/** A call refused on its number or route: the SIP answer, the CDR's cause, and why in words. */
export interface NumberRefusal {
  status: number;
  reason: string;
  cause: 'number' | 'no-route' | 'routing-module' | 'not-profitable';
  detail: string;
}

/** A dialled number read: E.164, or an emergency number as dialled. */
export interface DialledNumber {
  number: string;
  emergency: boolean;
}

/** The plan named by a trunk or carrier (null when it names none, or one removed meanwhile). */
export function planOf(dir: Pick<NumberRouting, 'dialPlan'>, party: Pick<Trunk, 'dialPlan'>): DialPlan | null {
  return party.dialPlan === null ? null : dir.dialPlan(party.dialPlan);
}

/** The callee a trunk sent (a Request-URI user), read by its dial plan; 484 when it is no number (RFC 3261 21.4.22). */
export function readDialled(dir: NumberRouting, trunk: Trunk, raw: string | null): DialledNumber | NumberRefusal {
  if (raw === null || raw === '')
    return { status: 484, reason: 'Address Incomplete', cause: 'number', detail: 'the Request-URI has no number' };
  try {
    const r = receiveNumber(raw, planOf(dir, trunk), true);
    return { number: r.number, emergency: r.kind === 'emergency' };
  } catch (err) {
    if (!(err instanceof NumberError)) throw err;
    const plan = trunk.dialPlan === null ? ' (the trunk has no dial plan)' : ` (dial plan ${trunk.dialPlan})`;
    return { status: 484, reason: 'Address Incomplete', cause: 'number', detail: `${err.message}${plan}` };
  }
}

/** A caller number a trunk or carrier sent, read by its dial plan: E.164, or null when it is none. */
export function readCaller(
  dir: Pick<NumberRouting, 'dialPlan'>,
  party: Pick<Trunk, 'dialPlan'>,
  raw: string | null,
): string | null {
  if (raw === null || raw === '') return null;
  try {
    return receiveNumber(raw, planOf(dir, party), false).number;
  } catch (err) {
    if (err instanceof NumberError) return null;
    throw err;
  }
}

/** The route a call to `d` takes and its carriers in order, or the refusal. */
export interface RouteDecision {
  route: RouteMatch | null;
  order: RouteOrder;
  refusal: NumberRefusal | null;
  /** What the routing module did (null: none configured, or an emergency call, or the table refused). */
  module: ModuleEffect | null;
}

/**
 * Each carrier's rate for the number, or null when it could not be read
 * (the planner then keeps the list order rather than lose the call).
 */
export type RatesOf = (carriers: readonly string[], number: string) => Promise<ReadonlyMap<string, RateMatch> | null>;

const EMPTY: RouteOrder = { ordered: [], leftOut: [] };

function noRoute(detail: string, reason = 'No route'): NumberRefusal {
  return { status: 404, reason, cause: 'no-route', detail };
}

/**
 * The route of `d` and the order of its carriers. An emergency number takes
 * the emergency route (else the default route) with its carriers in the
 * listed order, never priced. `random`: a weighted route's draw, null to
 * keep the list order (explain). `hook`: the routing module (routing-hook.ts)
 * and the call's facts; it changes the table's decision for a call the
 * table routes (never an emergency call).
 */
export async function decideRoute(
  dir: NumberRouting,
  d: DialledNumber,
  rates: RatesOf,
  random: (() => number) | null,
  hook: ModuleHook | null = null,
  wantRates = false,
): Promise<RouteDecision> {
  // With a module or a sell price, a priority route's rates are looked up too: the module is shown them, the price checked.
  const table = await tableRoute(dir, d, rates, random, hook !== null || wantRates);
  if (hook === null || d.emergency || table.refusal !== null || table.route === null) return table;
  const m = await runModule(hook, d.number, table.route, table.order);
  const refusal = m.refusal ?? null;
  return { route: table.route, order: m.order, refusal, module: m.effect };
}

async function tableRoute(
  dir: NumberRouting,
  d: DialledNumber,
  rates: RatesOf,
  random: (() => number) | null,
  wantRates: boolean,
): Promise<RouteDecision> {
  if (d.emergency) {
    const route = dir.emergencyRoute();
    if (route === null || route.carriers.length === 0)
      return {
        route,
        order: EMPTY,
        refusal: noRoute(`no emergency route and no default route + for ${d.number}`),
        module: null,
      };
    return {
      route,
      order: orderRoute({ ...route, mode: 'priority', weights: null }, null),
      refusal: null,
      module: null,
    };
  }
  const route = dir.route(d.number);
  if (route === null)
    return {
      route,
      order: EMPTY,
      refusal: noRoute(`no route for ${d.number} (add one, or a default route +)`),
      module: null,
    };
  if (route.carriers.length === 0)
    return { route, order: EMPTY, refusal: noRoute(`route ${route.prefix} has no carriers`), module: null };
  const found =
    route.mode === 'priority' && !wantRates
      ? null
      : await rates(
          route.carriers.map((c) => c.name),
          d.number,
        );
  // Rates not read for an lcr route: the list order rather than no carrier at all.
  const order =
    route.mode === 'lcr' && found === null
      ? orderRoute({ ...route, mode: 'priority' }, null)
      : orderRoute(route, found, random);
  if (order.ordered.length === 0) {
    const detail = `route ${route.prefix} is lcr and none of its carriers has a rate for ${d.number}`;
    return { route, order, refusal: noRoute(detail, 'No rated carrier'), module: null };
  }
  return { route, order, refusal: null, module: null };
}

/**
 * A call whose cheapest carrier (of those the call would try, by their rate
 * per minute for the number) costs more than the account's price for it is
 * refused 403 Not profitable, unless the account may sell below cost. No
 * price for the number, or no carrier rate: not checked.
 */
export function profitRefusal(order: RouteOrder, price: RateMatch | null, account: Account): NumberRefusal | null {
  if (price === null || account.sellBelowCost === true) return null;
  let cheapest: PlacedCarrier | null = null;
  for (const o of order.ordered)
    if (o.rate !== null && (cheapest === null || o.rate.rate < cheapest.rate!.rate)) cheapest = o;
  if (cheapest === null || cheapest.rate!.rate <= price.rate) return null;
  return {
    status: 403,
    reason: 'Not profitable',
    cause: 'not-profitable',
    detail:
      `the cheapest carrier, ${cheapest.carrier.name}, costs ${formatMicros(cheapest.rate!.rate)}/min; ` +
      `account ${account.name} pays ${formatMicros(price.rate)}/min for ${price.prefix}`,
  };
}

/** The callee as `carrier` is sent it: its dial plan's form, then its tech prefix. */
export function calleeForCarrier(dir: Pick<NumberRouting, 'dialPlan'>, carrier: Carrier, d: DialledNumber): string {
  return `${carrier.prefix ?? ''}${sendNumber(d.number, planOf(dir, carrier), d.emergency, carrier)}`;
}

/** A caller (E.164, or as received when it is none) as `carrier` is sent it. */
export function callerForCarrier(dir: Pick<NumberRouting, 'dialPlan'>, carrier: Carrier, caller: string): string {
  return sendNumber(caller, planOf(dir, carrier), false, carrier);
}

/** A refusal as explain writes it: `484: Address Incomplete (why)`. */
export function refusalText(r: NumberRefusal): string {
  return `${r.status}: ${r.reason} (${r.detail})`;
}
