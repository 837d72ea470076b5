/**
 * What a call to a dialled number from a trunk would meet: the number as
 * E.164, the DID it is (if one), the route (longest prefix), the carriers in
 * order with what each is sent, and why it would be refused; from an
 * address, first which rule classifies it (a carrier, a trunk, nobody). Shared by
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
    return {
      ...out,
      number: null,
      route: null,
      carriers: [],
      refused: `404: the dialled number is not a phone number (${err.message})`,
    };
  }
  out['number'] = number;
  const prefix = snapshot.routeFor(number);
  const carriers = snapshot.carriersFor(number);
  out['route'] = prefix;
  out['carriers'] = carriers.map((c) => ({ name: c.name, gateways: c.gateways, sends: formatForCarrier(number, c) }));
  const did = snapshot.did(number);
  if (did !== null) out['did'] = { number: did.did.number, trunk: did.trunk.name, account: did.account.name };
  out['refused'] =
    prefix === null
      ? `404: no route for ${number} (add one, or a default route +)`
      : carriers.length === 0
        ? `503: route ${prefix} has no carriers`
        : null;
  return out;
}

/**
 * What a call to `dialled` from the address `ip` over `transport` would
 * meet: how the source is classified and by which rule (snapshot.ts:
 * a carrier gateway's address first, then the most specific trunk range),
 * then the outbound route (a trunk), the DID (a carrier), or the refusal.
 */
export function explainFromSource(
  snapshot: TrunkingSnapshot,
  ip: string,
  transport: string,
  dialled: string,
): Record<string, unknown> {
  const s = snapshot.explainSource(ip, transport);
  const m = s.match;
  const source: Record<string, unknown> = { ip: s.address || ip, transport: transport.toLowerCase(), kind: m.kind };
  if (m.kind === 'trunk' || m.kind === 'wrong-transport')
    Object.assign(source, { trunk: m.trunk.name, account: m.account.name, cidr: s.cidr });
  if (m.kind === 'carrier') Object.assign(source, { carrier: m.carrier.name, gateway: s.gateway });
  source['rule'] = s.rule;
  if (m.kind === 'trunk') return { source, direction: 'outbound', ...explainRoute(snapshot, m.trunk.name, dialled) };
  if (m.kind === 'carrier') return { source, direction: 'inbound', ...explainInbound(snapshot, dialled) };
  const refused =
    m.kind === 'wrong-transport'
      ? `403: Transport not allowed (trunk ${m.trunk.name} allows ${m.trunk.transport ?? 'any'} only)`
      : '403: Forbidden, unknown source (no carrier gateway or trunk range holds it; only a registration trunk proving its subscriber by digest may call from there)';
  return { source, direction: null, dialled, refused };
}

/** A call from a carrier to `dialled`: the DID it is and where its trunk takes it. */
function explainInbound(snapshot: TrunkingSnapshot, dialled: string): Record<string, unknown> {
  const out: Record<string, unknown> = { dialled };
  let number: string;
  try {
    number = normalizeNumber(dialled);
  } catch (err) {
    if (!(err instanceof NumberError)) throw err;
    return { ...out, number: null, refused: `404: Unknown number (${err.message})` };
  }
  out['number'] = number;
  const did = snapshot.did(number);
  if (did === null) return { ...out, did: null, refused: `404: Unknown DID (${number} is no DID)` };
  out['did'] = { number: did.did.number, trunk: did.trunk.name, account: did.account.name };
  out['destination'] =
    did.trunk.dest ?? (did.trunk.register !== null ? `the registered contact of ${did.trunk.register}` : null);
  out['refused'] = out['destination'] === null ? '480: Trunk not reachable (the trunk has no destination)' : null;
  return out;
}
