/**
 * What a call to a dialled number from a trunk would meet: the number as
 * E.164, the DID it is (if one), the route (longest prefix) and its mode,
 * the carriers in the order a call tries them with what each is sent, its
 * rate for the number (the deck's longest matching prefix in force now) and
 * why it is placed there (route-order.ts), its quality figures and
 * demotion (quality-order.ts: a running server's), the carriers left out
 * and why, and why the call would be refused; from an
 * address, first which rule classifies it (a carrier, a trunk, nobody). Shared by
 * `trunkline route explain` and `GET /api/v1/route/explain`; the limits and
 * the caller ID are checked per call, not here.
 */
import { NotFoundError } from '../store/errors.js';
import { calleeForCarrier, decideRoute, profitRefusal, readCaller, readDialled, refusalText } from './dialled.js';
import type { TrunkingSnapshot } from './snapshot.js';
import type { PriceLookup, RateLookup } from './cost.js';
import type { Carrier, RateMatch } from './model.js';
import { orderWithQuality } from './quality-order.js';
import type { QualitySnapshot } from './quality.js';
import { gatewayLoadOut, type CarrierSetting } from './gateway-load.js';
import { qualityLookup, type ModuleEffect, type ModuleHook, type RoutingModule } from './routing-hook.js';

/** What a running server adds to an explanation: its carriers' quality figures, its gateway load settings, the routing module. */
export interface ExplainLive {
  quality?: QualitySnapshot | null;
  carriers?: readonly CarrierSetting[];
  /** The routing module (`routing.module`), run as on a live call (its log lines left out). */
  module?: RoutingModule | null;
  /** The account's sell price for a number (the store's); absent: not checked. */
  prices?: PriceLookup;
  /** The address the call would come from (explainFromSource). */
  source?: { address: string; port: number; transport: string } | null;
}
import { formatIncrements, formatMicros } from './money.js';

/** A rate as explain shows it: money as decimals. */
function rateOut(r: RateMatch | null): Record<string, unknown> | null {
  if (r === null) return null;
  return {
    prefix: r.prefix,
    rate: formatMicros(r.rate),
    increment: formatIncrements(r),
    fee: formatMicros(r.fee),
    effective: r.effectiveAt === 0 ? null : new Date(r.effectiveAt).toISOString(),
  };
}

/**
 * What a call to `dialled` from `trunk` would meet (the checks the data
 * decides; limits and caller ID are the call's), by the live call's own
 * path (dialled.ts): the number as the trunk's dial plan reads it, the
 * route, the carriers in order and what each is sent. `rates` looks up the
 * carriers' rates (the store's); `now` is when (ms); `live` the
 * running server's carrier figures and gateway settings (none at hand: left
 * out).
 */
export async function explainRoute(
  snapshot: TrunkingSnapshot,
  trunkName: string,
  dialled: string,
  rates: RateLookup,
  now: number = Date.now(),
  live: ExplainLive = {},
): Promise<Record<string, unknown>> {
  const entry = snapshot.trunks.get(trunkName);
  if (entry === undefined) throw new NotFoundError(`unknown trunk ${trunkName}`);
  const out: Record<string, unknown> = {
    trunk: entry.trunk.name,
    account: entry.account.name,
    dialPlan: entry.trunk.dialPlan,
    dialled,
  };
  const read = readDialled(snapshot, entry.trunk, dialled);
  if (!('number' in read)) return { ...out, number: null, route: null, carriers: [], refused: refusalText(read) };
  out['number'] = read.number;
  out['emergency'] = read.emergency;
  if (read.emergency)
    out['note'] =
      'an emergency number: no caller ID check, no barring, no limit; the emergency route (else +) in its listed order';
  const hook = explainHook(live, entry.trunk.name, entry.account.name, dialled, now);
  const price =
    read.emergency || live.prices === undefined ? null : await live.prices(entry.account.name, read.number, now);
  const decision = await decideRoute(snapshot, read, (names, n) => rates(names, n, now), null, hook, price !== null);
  const effect = decision.module;
  // The planner's check (src/b2bua/planner.ts planOutbound): the cheapest carrier against what the account pays.
  decision.refusal ??= profitRefusal(decision.order, price, entry.account);
  if (price !== null) out['sellPrice'] = { ...rateOut(price), sellBelowCost: entry.account.sellBelowCost === true };
  const sent = effect?.callee == null ? read : { number: effect.callee, emergency: false };
  const route = decision.route;
  out['route'] = route?.prefix ?? null;
  out['mode'] = route === null ? null : read.emergency ? 'priority' : route.mode;
  const settings = new Map((live.carriers ?? []).map((s) => [s.carrier, s]));
  out['carriers'] = orderWithQuality(decision.order, live.quality ?? null, now).map((o) => ({
    name: o.carrier.name,
    gateways: o.carrier.gateways,
    sends: calleeForCarrier(snapshot, o.carrier, sent),
    rate: rateOut(o.rate),
    ...(o.weight !== null && { weight: o.weight }),
    why: o.why,
    ...(o.quality !== null && { quality: o.quality }),
    ...(o.demotedGateways.length > 0 && { demotedGateways: o.demotedGateways }),
    ...gatewayLoad(settings.get(o.carrier.name), o.carrier.gateways),
  }));
  out['leftOut'] = decision.order.leftOut.map((l) => ({ name: l.carrier.name, why: l.why }));
  const did = read.emergency ? null : snapshot.did(read.number);
  if (did !== null) out['did'] = { number: did.did.number, trunk: did.trunk.name, account: did.account.name };
  if (effect !== null) out['module'] = moduleOut(effect);
  out['refused'] = decision.refusal === null ? null : refusalText(decision.refusal);
  return out;
}

/** The routing module run as on a live call from the trunk (no caller, no headers), or null when there is none. */
function explainHook(
  live: ExplainLive,
  trunk: string,
  account: string,
  dialled: string,
  now: number,
): ModuleHook | null {
  const module = live.module ?? null;
  if (module === null) return null;
  return {
    module,
    facts: {
      source: live.source ?? null,
      trunk,
      account,
      calleeReceived: dialled,
      caller: { received: null, number: null },
      headers: [],
      explain: true,
      quality: qualityLookup(live.quality ?? null, now),
    },
  };
}

/** What the routing module did, as explain shows it. */
function moduleOut(e: ModuleEffect): Record<string, unknown> {
  return {
    file: e.module,
    ms: e.ms,
    changed: e.error === null ? e.changes : [],
    ...(e.headers.length > 0 && { headers: Object.fromEntries(e.headers) }),
    ...(e.caller !== null && { caller: e.caller }),
    error: e.error === null ? null : `${e.error}: the table's decision stands`,
  };
}

/**
 * What a call to `dialled` from the address `ip` over `transport` would
 * meet: how the source is classified and by which rule (snapshot.ts:
 * a carrier gateway's address first, then the most specific trunk range),
 * then the outbound route (a trunk), the DID (a carrier), or the refusal.
 */
export async function explainFromSource(
  snapshot: TrunkingSnapshot,
  ip: string,
  transport: string,
  dialled: string,
  rates: RateLookup,
  live: ExplainLive = {},
): Promise<Record<string, unknown>> {
  const s = snapshot.explainSource(ip, transport);
  const m = s.match;
  const source: Record<string, unknown> = { ip: s.address || ip, transport: transport.toLowerCase(), kind: m.kind };
  if (m.kind === 'trunk' || m.kind === 'wrong-transport')
    Object.assign(source, { trunk: m.trunk.name, account: m.account.name, cidr: s.cidr });
  if (m.kind === 'carrier') Object.assign(source, { carrier: m.carrier.name, gateway: s.gateway });
  source['rule'] = s.rule;
  if (m.kind === 'trunk')
    return {
      source,
      direction: 'outbound',
      ...(await explainRoute(snapshot, m.trunk.name, dialled, rates, Date.now(), {
        ...live,
        source: { address: s.address || ip, port: 0, transport: transport.toLowerCase() },
      })),
    };
  if (m.kind === 'carrier') return { source, direction: 'inbound', ...explainInbound(snapshot, m.carrier, dialled) };
  const refused =
    m.kind === 'wrong-transport'
      ? `403: Transport not allowed (trunk ${m.trunk.name} allows ${m.trunk.transport ?? 'any'} only)`
      : '403: Forbidden, unknown source (no carrier gateway or trunk range holds it; only a registration trunk proving its subscriber by digest may call from there)';
  return { source, direction: null, dialled, refused };
}

/** `gatewayLoad` of a carrier that has `routing.carriers` settings (priority groups, weights, capacities). */
function gatewayLoad(s: CarrierSetting | undefined, gateways: readonly string[]): Record<string, unknown> {
  const g = gatewayLoadOut(s, gateways);
  return g === null ? {} : { gatewayLoad: g };
}

/** A call from a carrier to `dialled`: the DID it is and where its trunk takes it. */
function explainInbound(snapshot: TrunkingSnapshot, carrier: Carrier, dialled: string): Record<string, unknown> {
  const out: Record<string, unknown> = { dialled, dialPlan: carrier.dialPlan };
  // The planner's reading (src/b2bua/planner.ts findDid): by the carrier's dial plan.
  const number = readCaller(snapshot, carrier, dialled);
  if (number === null) return { ...out, number: null, refused: `404: Unknown number (${dialled} is no number)` };
  out['number'] = number;
  const did = snapshot.did(number);
  if (did === null) return { ...out, did: null, refused: `404: Unknown DID (${number} is no DID)` };
  out['did'] = { number: did.did.number, trunk: did.trunk.name, account: did.account.name };
  out['destination'] =
    did.trunk.dest ?? (did.trunk.register !== null ? `the registered contact of ${did.trunk.register}` : null);
  out['refused'] = out['destination'] === null ? '480: Trunk not reachable (the trunk has no destination)' : null;
  return out;
}
