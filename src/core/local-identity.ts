import { networkInterfaces } from 'node:os';
import { isSipUri, type Uri } from '../sip/uri.js';

/**
 * The names and addresses that mean "this server": listen addresses, the
 * advertised address, localhost. A Request-URI or Route naming one of them
 * (at one of our ports, or without a port) is addressed to Trunkline itself.
 */
export class LocalIdentity {
  private readonly hosts = new Set<string>();
  private readonly ports = new Set<number>();

  constructor(listen: Array<{ host: string; port: number }>, advertise?: string | null, extraHosts: string[] = []) {
    for (const l of listen) {
      this.hosts.add(normalizeHost(l.host));
      this.ports.add(l.port);
    }
    if (advertise) this.hosts.add(normalizeHost(advertise));
    for (const h of extraHosts) this.hosts.add(normalizeHost(h));
    this.hosts.add('localhost');
    // A wildcard listener answers for every local address we could be reached at.
    const v4 = this.hosts.has('0.0.0.0');
    const v6 = this.hosts.has('::');
    if (v4) this.hosts.add('127.0.0.1');
    if (v6) this.hosts.add('::1');
    if (v4 || v6) {
      // So that a next hop at one of them is known as us (a request sent there would only come back).
      for (const list of Object.values(networkInterfaces())) {
        for (const a of list ?? [])
          if ((a.family === 'IPv4' && v4) || (a.family === 'IPv6' && v6)) this.hosts.add(normalizeHost(a.address));
      }
    }
  }

  /** Adds a port actually bound (listeners on port 0 learn theirs at start). */
  addPort(port: number): void {
    this.ports.add(port);
  }

  isLocalHost(host: string): boolean {
    return this.hosts.has(normalizeHost(host));
  }

  /** host[:port] naming this server (a Via sent-by, a Route URI's host and port). */
  isLocalHostPort(host: string, port: number | null): boolean {
    // No port means the default port (RFC 3261 19.1.2): 5060, or 5061 for TLS.
    return (
      this.isLocalHost(host) && (port === null ? this.ports.has(5060) || this.ports.has(5061) : this.ports.has(port))
    );
  }

  /** A sip/sips URI for this server: our host and, if given, one of our ports. */
  isLocalUri(uri: Uri): boolean {
    if (!isSipUri(uri)) return false;
    return this.isLocalHostPort(uri.host, uri.port);
  }
}

function normalizeHost(host: string): string {
  const h = host.toLowerCase();
  return h.charCodeAt(0) === 91 ? h.slice(1, -1) : h;
}
