/**
 * IP addresses and CIDR blocks (IPv4 and IPv6): the one parser of `IP` and
 * `IP/PREFIX` every module uses (config, store, API checks, the security
 * edge, trunking), and AddressSet, a set of them matched with node's
 * BlockList. For many blocks looked up on every request with the most
 * specific first, see CidrTable (cidr-table.ts).
 */
import { BlockList, isIP } from 'node:net';

/** `IP` or `IP/PREFIX`, parsed. */
export interface Cidr {
  /** The address as written (no brackets). */
  ip: string;
  family: 4 | 6;
  /** The prefix length: as written, or 32 / 128 for a bare address. */
  bits: number;
  /** Whether a `/PREFIX` was written. */
  hasPrefix: boolean;
}

/**
 * Parses `IP` or `IP/PREFIX` as written (no trimming, no brackets): the
 * prefix is 1 to 3 digits, at most 32 for IPv4 and 128 for IPv6. Null when
 * it is not one.
 */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const ip = slash < 0 ? text : text.slice(0, slash);
  const family = isIP(ip);
  if (family !== 4 && family !== 6) return null;
  const max = family === 4 ? 32 : 128;
  if (slash < 0) return { ip, family, bits: max, hasPrefix: false };
  const bits = prefixDigits(text, slash + 1);
  return bits >= 0 && bits <= max ? { ip, family, bits, hasPrefix: true } : null;
}

/** The number of 1 to 3 decimal digits from `start` to the end of `text`, or -1. */
function prefixDigits(text: string, start: number): number {
  const n = text.length - start;
  if (n < 1 || n > 3) return -1;
  let v = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** Whether `text` is `IP` or `IP/PREFIX` (parseCidr). */
export function isCidr(text: string): boolean {
  return parseCidr(text) !== null;
}

/**
 * A set of IP addresses and CIDR blocks (IPv4 and IPv6), matched with
 * node's BlockList (a compiled range list, no per-check parsing).
 */
export class AddressSet {
  private readonly list = new BlockList();
  private count = 0;

  constructor(entries: Iterable<string> = []) {
    for (const e of entries) this.add(e);
  }

  /** Adds `IP` or `IP/PREFIX`; throws a RangeError naming the entry when malformed. */
  add(entry: string): void {
    const c = parseCidr(entry);
    if (c === null)
      throw new RangeError(
        isIP(entry.split('/', 1)[0]!) === 0 ? `not an IP address or CIDR: ${entry}` : `bad prefix length: ${entry}`,
      );
    const type = c.family === 6 ? 'ipv6' : 'ipv4';
    if (c.hasPrefix) this.list.addSubnet(c.ip, c.bits, type);
    else this.list.addAddress(c.ip, type);
    this.count++;
  }

  has(ip: string): boolean {
    const family = isIP(ip);
    if (family === 0) return false;
    return this.list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
  }

  get size(): number {
    return this.count;
  }
}
