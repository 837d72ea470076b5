/**
 * What a call to a dialled number from a trunk would meet: the number as
 * E.164, the DID it is (if one), the route (longest prefix), the carriers in
 * order with what each is sent, and why it would be refused. Shared by
 * `trunkline route explain` and `GET /api/v1/route/explain`; the limits and
 * the caller ID are checked per call, not here.
 */
import { NotFoundError } from '../store/errors.js';
import { NumberError, formatForCarrier, normalizeNumber } from './e164.js';
import type { TrunkingSnapshot } from './snapshot.js';

/** What a call to `dialled` from `trunk` would meet (the checks the data decides; limits and caller ID are the call's). */
export function explainRoute(snapshot: TrunkingSnapshot, trunkName: string, dialled: string): Record<string, unknown> {
  const entry = snapshot.trunks.get(trunkName);
  if (entry === undefined) throw new NotFoundError(`unknown trunk ${trunkName}`);
  const out: Record<string, unknown> = { trunk: entry.trunk.name, account: entry.account.name, dialled };
  let number: string;
  try {
    number = normalizeNumber(dialled);
  } catch (err) {
    if (!(err instanceof NumberError)) throw err;
    return { ...out, number: null, route: null, carriers: [], refused: `404: the dialled number is not a phone number (${err.message})` };
  }
  out['number'] = number;
  const prefix = snapshot.routeFor(number);
  const carriers = snapshot.carriersFor(number);
  out['route'] = prefix;
  out['carriers'] = carriers.map((c) => ({ name: c.name, gateways: c.gateways, sends: formatForCarrier(number, c) }));
  const did = snapshot.did(number);
  if (did !== null) out['did'] = { number: did.did.number, trunk: did.trunk.name, account: did.account.name };
  out['refused'] =
    prefix === null ? `404: no route for ${number} (add one, or a default route +)` : carriers.length === 0 ? `503: route ${prefix} has no carriers` : null;
  return out;
}
