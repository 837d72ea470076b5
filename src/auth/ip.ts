/**
 * A source address as a stable key: an IPv4-mapped IPv6 address (what a
 * dual-stack socket reports for an IPv4 peer, `::ffff:192.0.2.1`) becomes the
 * IPv4 address, and IPv6 is lower-cased, so one peer has one key whichever
 * socket its packet came in on.
 */
export function normalizeIp(ip: string): string {
  const lower = ip.toLowerCase();
  if (lower.startsWith('::ffff:') && lower.indexOf('.') > 0) return lower.slice(7);
  return lower;
}
