import { BlockList, isIP } from 'node:net';

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
    const slash = entry.indexOf('/');
    const ip = slash < 0 ? entry : entry.slice(0, slash);
    const family = isIP(ip);
    if (family === 0) throw new RangeError(`not an IP address or CIDR: ${entry}`);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (slash < 0) this.list.addAddress(ip, type);
    else {
      const prefix = Number(entry.slice(slash + 1));
      const max = family === 6 ? 128 : 32;
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new RangeError(`bad prefix length: ${entry}`);
      this.list.addSubnet(ip, prefix, type);
    }
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
