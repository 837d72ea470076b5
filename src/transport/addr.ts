import { isIP, isIPv4, isIPv6 } from 'node:net';

/**
 * Canonical form of a host for table keys and comparisons: brackets removed,
 * lower case, IPv4-mapped IPv6 turned into IPv4, IPv6 compressed (RFC 5952).
 * Host names are only lower-cased.
 */
export function normalizeHost(host: string): string {
  let h = host.trim();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  h = h.toLowerCase();
  if (h.startsWith('::ffff:') && isIPv4(h.slice(7))) return h.slice(7);
  if (isIPv6(h) && !h.includes('%')) {
    try {
      return new URL(`http://[${h}]/`).hostname.slice(1, -1);
    } catch {
      return h;
    }
  }
  return h;
}

/** 4, 6, or 0 for a host name. */
export function ipFamily(host: string): 0 | 4 | 6 {
  return isIP(host) as 0 | 4 | 6;
}

/** host:port with IPv6 in brackets. */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** "tcp:127.0.0.1:5060", "udp:[::1]:5060" */
export function specName(spec: { proto: string; host: string; port: number }): string {
  return `${spec.proto}:${hostPort(spec.host, spec.port)}`;
}

export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}
