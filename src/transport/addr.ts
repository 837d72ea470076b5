import { isIP, isIPv4, isIPv6 } from 'node:net';

/**
 * Canonical form of a host for table keys and comparisons: brackets removed,
 * lower case, IPv4-mapped IPv6 turned into IPv4, IPv6 compressed (RFC 5952).
 * Host names are only lower-cased.
 */
export function normalizeHost(host: string): string {
  // Hot path: a plain dotted IPv4 address is already canonical.
  if (isPlainIpv4(host)) return host;
  let h = host.trim();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  h = h.toLowerCase();
  if (h.startsWith('::ffff:') && isIPv4(h.slice(7))) return h.slice(7);
  if (isIPv6(h) && !h.includes('%')) {
    try {
      return new URL(`http://[${h}]/`).hostname.slice(1, -1);
    } catch {
      return h; // isIPv6 took it, so URL does too; were it not, the address as written is the best key
    }
  }
  return h;
}

/** 4, 6, or 0 for a host name. */
export function ipFamily(host: string): 0 | 4 | 6 {
  if (isPlainIpv4(host)) return 4;
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

/** Four dot-separated decimal octets 0-255 and nothing else (no regex: this runs per datagram). */
export function isPlainIpv4(h: string): boolean {
  let octets = 0;
  let digits = 0;
  let value = 0;
  for (let i = 0; i < h.length; i++) {
    const c = h.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || octets === 3) return false;
      octets++;
      digits = 0;
      value = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && value === 0) return false; // no leading zeros, as net.isIPv4
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return false;
    } else return false;
  }
  return octets === 3 && digits > 0;
}
