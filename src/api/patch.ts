/**
 * What a PATCH of each provisioning noun does, shared by the API
 * (resources/*.ts, `update`) and the CLI's `set` commands: the fields given
 * change, the others stay, null clears a nullable one. The bodies are the
 * `patch` views of shapes.ts; the store checks every value and names the
 * field. NotFoundError for an unknown key; a trunk range over a carrier
 * gateway comes back as the store's TrunkRangeError (each caller names its
 * own force option).
 */
import type { z } from 'zod';
import type { CarrierInfo, CarrierInput, DidRow, Store, Subscriber, TrunkInput } from '../store/index.js';
import { NotFoundError } from '../store/errors.js';
import { parseAddress } from '../store/validate.js';
import type { Account, DialPlan, OutboundRoute, Trunk } from '../trunking/model.js';
import { parseRoutePrefix } from '../trunking/validate.js';
import type {
  accountViews,
  carrierViews,
  dialPlanViews,
  didViews,
  routeViews,
  subscriberViews,
  trunkViews,
} from './shapes.js';

export type AccountPatch = z.output<typeof accountViews.patch>;
export type TrunkPatch = z.output<typeof trunkViews.patch>;
export type DidPatch = z.output<typeof didViews.patch>;
export type CarrierPatch = z.output<typeof carrierViews.patch>;
export type RoutePatch = z.output<typeof routeViews.patch>;
export type DialPlanPatch = z.output<typeof dialPlanViews.patch>;
export type SubscriberPatch = z.output<typeof subscriberViews.patch>;

export async function patchAccount(store: Store, name: string, b: AccountPatch): Promise<Account> {
  return store.accounts.update(name, {
    ...(b.cpm !== undefined && { cpm: b.cpm }),
    ...(b.maxCalls !== undefined && { maxCalls: b.maxCalls }),
    ...(b.sellBelowCost !== undefined && { sellBelowCost: b.sellBelowCost }),
  });
}

/** The trunk as `update` takes it: the stored one with the body's fields over it. */
function mergedTrunk(t: Trunk, b: TrunkPatch): TrunkInput {
  const input: TrunkInput = {
    name: t.name,
    account: b.account ?? t.account,
    ip: b.ip ?? t.ip,
    register: b.register !== undefined ? b.register : t.register,
    transport: b.transport !== undefined ? b.transport : t.transport,
    tlsFingerprint: b.tlsFingerprint !== undefined ? b.tlsFingerprint : t.tlsFingerprint,
    dest: b.dest !== undefined ? b.dest : t.dest,
    cpm: b.cpm ?? t.cpm,
    maxCalls: b.maxCalls !== undefined ? b.maxCalls : t.maxCalls,
    media: b.media ?? t.media,
    codecs: b.codecs ?? t.codecs,
    dialPlan: b.dialPlan !== undefined ? b.dialPlan : t.dialPlan,
  };
  // A trunk is one kind or the other: the kind the body gives replaces the stored one.
  if (b.register !== undefined && b.register !== null && b.ip === undefined) input.ip = [];
  if (b.ip !== undefined && b.ip.length > 0 && b.register === undefined) input.register = null;
  return input;
}

/** Giving `register` drops `ip` and the other way round; `force` accepts a range over a carrier gateway. */
export async function patchTrunk(store: Store, name: string, b: TrunkPatch): Promise<Trunk> {
  const input = mergedTrunk(await store.trunks.show(name), b);
  return store.trunks.update(input, { force: b.force === true });
}

/** `trunk` moves the DID to another trunk (and so to that trunk's account). */
export async function patchDid(store: Store, number: string, b: DidPatch): Promise<DidRow> {
  if (b.trunk === undefined) return store.dids.show(number);
  return store.dids.move(number, b.trunk);
}

/** A password left out is kept while the username stays (the store's rule). */
export async function patchCarrier(store: Store, name: string, b: CarrierPatch): Promise<CarrierInfo> {
  const c = await store.carriers.show(name);
  const input: CarrierInput = {
    name: c.name,
    gateways: b.gateways ?? c.gateways,
    username: b.username !== undefined ? b.username : c.username,
    register: b.register ?? c.register,
    prefix: b.prefix !== undefined ? b.prefix : c.prefix,
    plus: b.plus ?? c.plus,
    media: b.media ?? c.media,
    codecs: b.codecs ?? c.codecs,
    dialPlan: b.dialPlan !== undefined ? b.dialPlan : c.dialPlan,
  };
  if (b.password !== undefined) input.password = b.password;
  return store.carriers.update(input);
}

/**
 * `carriers` replaces the route's carriers; `mode` and `weights` its mode
 * (the carriers kept when not given; a weighted route's weights are 1 each
 * unless given).
 */
export async function patchRoute(store: Store, prefix: string, b: RoutePatch): Promise<OutboundRoute> {
  const opts = {
    ...(b.mode !== undefined && { mode: b.mode }),
    ...(b.weights !== undefined && { weights: b.weights }),
  };
  if (b.carriers !== undefined) return store.routes.update(prefix, b.carriers, opts);
  const p = parseRoutePrefix(prefix, 'prefix');
  const found = (await store.routes.list()).find((r) => r.prefix === p);
  if (found === undefined) throw new NotFoundError(`unknown route ${p}`);
  if (b.mode === undefined && b.weights === undefined) return found;
  return store.routes.update(p, found.carriers, opts);
}

/** The fields given replace the stored ones; a prefix or list left out keeps the stored one. */
export async function patchDialPlan(store: Store, name: string, b: DialPlanPatch): Promise<DialPlan> {
  const p = await store.dialPlans.show(name);
  return store.dialPlans.update({
    name: p.name,
    country: b.country ?? p.country,
    nationalPrefix: b.nationalPrefix ?? p.nationalPrefix,
    internationalPrefix: b.internationalPrefix ?? p.internationalPrefix,
    format: b.format ?? p.format,
    emergency: b.emergency ?? p.emergency,
    rules: b.rules !== undefined ? b.rules.map((r) => ({ ...r, direction: r.direction ?? 'in' })) : p.rules,
  });
}

/** `password` sets a new one (the store keeps its HA1s). */
export async function patchSubscriber(store: Store, address: string, b: SubscriberPatch): Promise<Subscriber> {
  const a = parseAddress(address, 'subscriber');
  if (b.password === undefined) return store.subscribers.show(a.username, a.domain);
  return store.subscribers.passwd(a.username, a.domain, b.password);
}
