/**
 * Who the ban and flood steps never lock out: the `security.trusted` CIDR
 * list of the config, the server's own addresses, and the addresses a later
 * stage feeds through `setExtra()` (trunk and carrier gateway IPs, so that
 * "a ban never locks out a configured carrier"), and in a cluster the other
 * nodes' SIP addresses (`setPeers()`: a node forwarding calls to another is
 * never flood-counted nor banned by it).
 *
 * The server's own addresses: exactly its listen and advertise IPs (with
 * `trustSelf`, the default), never the rest of 127.0.0.0/8: tests and
 * benches run attackers on 127.0.0.2-127.0.0.254 as other hosts, while a
 * process on the server's own address (a local PBX, the project's interop
 * peers on 127.0.0.1) is the server's own side. A wildcard listen address
 * (0.0.0.0, ::) names no address of its own.
 */
import { isIP } from 'node:net';
import { AddressSet } from '../net/cidr.js';

export class TrustedAddresses {
  private configured: AddressSet;
  private extra = new AddressSet();
  private peers = new AddressSet();
  private readonly self = new Set<string>();
  private readonly listeners: Array<() => void> = [];

  constructor(trusted: readonly string[], selfAddresses: readonly string[], trustSelf: boolean) {
    this.configured = new AddressSet(trusted);
    for (const a of selfAddresses) {
      if (isIP(a) === 0 || a === '0.0.0.0' || a === '::') continue;
      if (!trustSelf) continue;
      this.self.add(a.toLowerCase());
    }
  }

  /** The predicate the steps take. */
  readonly isTrusted = (ip: string): boolean =>
    this.self.has(ip) || this.configured.has(ip) || this.extra.has(ip) || this.peers.has(ip);

  /** Replaces the addresses fed by the trunking stage (trunk and carrier gateway IPs/CIDRs). */
  setExtra(entries: Iterable<string>): void {
    this.extra = new AddressSet(entries);
    for (const l of this.listeners) l();
  }

  /** Replaces the addresses of the other cluster nodes (they forward calls and in-dialog requests to this one). */
  setPeers(entries: Iterable<string>): void {
    this.peers = new AddressSet(entries);
    for (const l of this.listeners) l();
  }

  /** Replaces the configured list (SIGHUP). */
  setConfigured(entries: readonly string[]): void {
    this.configured = new AddressSet(entries);
    for (const l of this.listeners) l();
  }

  /** Runs `fn` whenever the trusted set changes (bans are judged again). */
  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }
}

export function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1' || ip.startsWith('::ffff:127.');
}
