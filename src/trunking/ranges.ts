/**
 * Trunk ranges against carrier gateways, for the checks made when a trunk
 * or a carrier is written (the classification itself is in snapshot.ts).
 *
 * A carrier gateway's address always keeps its meaning: the most specific
 * match wins and a gateway is a whole address, so no trunk range takes a
 * carrier's calls. A trunk range that holds a gateway's address, or every
 * address (`0.0.0.0/0`, `::/0`), is still refused unless forced: it is most
 * likely a typo, and it would take every other stranger's requests.
 * Gateways given by host name are not checked here (their addresses are
 * known once resolved, by the directory); the precedence covers them too.
 */
import { parseCidr } from '../net/cidr.js';
import { CidrTable } from '../net/cidr-table.js';
import { canonicalIp, gatewayHost } from './snapshot.js';

/** Why a trunk range is refused without force. */
export type RangeProblem =
  | { kind: 'everything'; cidr: string }
  | { kind: 'gateway'; cidr: string; address: string; carrier: string; gateway: string };

/** What the checks need of a carrier or a trunk. */
export type CarrierGateways = { name: string; gateways: readonly string[] };
export type TrunkRanges = { name: string; ip: readonly string[] };

/** `10.0.0.0/8` -> its prefix length (a bare address: 32 or 128; -1 when it does not parse). */
function prefixLength(cidr: string): number {
  return parseCidr(cidr)?.bits ?? -1;
}

/** A CIDR with its address canonical (as the snapshot keys it), or null. */
function canonicalCidr(cidr: string): string | null {
  const slash = cidr.indexOf('/');
  const ip = canonicalIp(slash < 0 ? cidr : cidr.slice(0, slash));
  return ip === '' ? null : slash < 0 ? ip : `${ip}${cidr.slice(slash)}`;
}

/** The IP literal gateways of carriers: address, carrier, gateway URI. */
function gatewayAddresses(
  carriers: readonly CarrierGateways[],
): Array<{ address: string; carrier: string; gateway: string }> {
  const out: Array<{ address: string; carrier: string; gateway: string }> = [];
  for (const c of carriers) {
    for (const g of c.gateways) {
      const h = gatewayHost(g);
      if (h !== null && h.literal && h.host !== '') out.push({ address: h.host, carrier: c.name, gateway: g });
    }
  }
  return out;
}

/** What is wrong with giving a trunk these ranges: [] when nothing is. */
export function trunkRangeProblems(cidrs: readonly string[], carriers: readonly CarrierGateways[]): RangeProblem[] {
  const problems: RangeProblem[] = [];
  const table = new CidrTable<string>();
  for (const cidr of cidrs) {
    if (prefixLength(cidr) === 0) problems.push({ kind: 'everything', cidr });
    const c = canonicalCidr(cidr);
    if (c !== null) table.add(c, cidr);
  }
  for (const gw of gatewayAddresses(carriers)) {
    table.find(gw.address, (cidr) => {
      if (prefixLength(cidr) > 0) problems.push({ kind: 'gateway', cidr, ...gw });
      return true;
    });
  }
  return problems;
}

/** A problem in words, for the one-line error. */
export function describeRangeProblems(problems: readonly RangeProblem[]): string {
  const p = problems[0]!;
  const first =
    p.kind === 'everything'
      ? `${p.cidr} holds every address: requests from anywhere would be this trunk's`
      : `${p.cidr} holds ${p.address}, the address of carrier ${p.carrier}'s gateway ${p.gateway} (its requests stay the carrier's)`;
  return problems.length === 1 ? first : `${first} (and ${problems.length - 1} more like it)`;
}

/** The gateways (IP literals) of a carrier that lie inside trunk ranges: allowed (the carrier wins there), worth a note. */
export function gatewaysInTrunkRanges(
  carrier: CarrierGateways,
  trunks: readonly TrunkRanges[],
): Array<{ gateway: string; address: string; trunk: string; cidr: string }> {
  const table = new CidrTable<{ trunk: string; cidr: string }>();
  for (const t of trunks) {
    for (const cidr of t.ip) {
      const c = canonicalCidr(cidr);
      if (c !== null) table.add(c, { trunk: t.name, cidr });
    }
  }
  const out: Array<{ gateway: string; address: string; trunk: string; cidr: string }> = [];
  for (const gw of gatewayAddresses([carrier])) {
    table.find(gw.address, (r) => {
      out.push({ gateway: gw.gateway, address: gw.address, trunk: r.trunk, cidr: r.cidr });
      return true;
    });
  }
  return out;
}
