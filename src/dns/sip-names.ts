/**
 * Names of RFC 3263 4: the TARGET of a URI (maddr or host), the NAPTR
 * services and SRV owner names per transport, default ports; used by the
 * locator in resolver.ts.
 */
import { isIP } from 'node:net';
import type { SipUri } from '../sip/uri.js';
import type { TransportProto } from '../transport/types.js';
import { DnsLookupError } from './errors.js';

/**
 * NAPTR services (RFC 3263 4.1 and the IANA registry; SIP+D2W / SIPS+D2W
 * from RFC 7118). SCTP (D2S) has no TransportProto and is never usable.
 */
export const NAPTR_SERVICES: Readonly<Record<string, { proto: TransportProto; secure: boolean }>> = {
  'SIP+D2U': { proto: 'udp', secure: false },
  'SIP+D2T': { proto: 'tcp', secure: false },
  'SIPS+D2T': { proto: 'tls', secure: true },
  'SIP+D2W': { proto: 'ws', secure: false },
  'SIPS+D2W': { proto: 'wss', secure: true },
};

/** Default port per transport (RFC 3263 4.2, RFC 3261 19.1.2): 5061 for TLS, else 5060. */
export function defaultPortFor(proto: TransportProto): number {
  return proto === 'tls' || proto === 'wss' ? 5061 : 5060;
}

/**
 * SRV owner name for a transport (RFC 3263 4.2): "_sips" for TLS (for a SIPS
 * URI, and for a SIP URI sent over TLS), else "_sip"; "_tcp" or "_udp".
 * WebSocket has no SRV convention in RFC 3263 or RFC 7118: null.
 */
export function srvNameFor(proto: TransportProto, domain: string): string | null {
  switch (proto) {
    case 'udp':
      return `_sip._udp.${domain}`;
    case 'tcp':
      return `_sip._tcp.${domain}`;
    case 'tls':
      return `_sips._tcp.${domain}`;
    default:
      return null;
  }
}

/** TARGET of RFC 3263 4: an IP literal (no brackets) or a domain (lowercase, no trailing dot). */
export interface Target {
  host: string;
  literal: boolean;
}

/** The URI host without brackets or a trailing dot: SipTarget.name. */
export function identityOf(uri: SipUri): string {
  if (uri.hostType === 'ipv6') return stripBrackets(uri.host);
  return uri.hostType === 'domain' ? normalizeDomain(uri.host) : uri.host;
}

/**
 * TARGET (RFC 3263 4): the maddr parameter when present (RFC 3261 16.5,
 * 19.1.1: maddr overrides the host for where the request is sent), else the
 * URI host.
 */
export function targetOf(uri: SipUri): Target {
  const maddr = uri.params.get('maddr');
  if (typeof maddr === 'string' && maddr !== '') {
    const host = stripBrackets(maddr);
    if (isIP(host) !== 0) return { host: host.toLowerCase(), literal: true };
    if (host === maddr && isDomainName(host)) return { host: normalizeDomain(host), literal: false };
    throw new DnsLookupError('EBADNAME', maddr, `maddr is not a host: ${maddr}`);
  }
  if (uri.hostType === 'domain') return { host: normalizeDomain(uri.host), literal: false };
  return { host: uri.hostType === 'ipv6' ? stripBrackets(uri.host) : uri.host, literal: true };
}

export function stripBrackets(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

export function normalizeDomain(d: string): string {
  const lower = d.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** Dot-separated labels of letters, digits, '-' and '_' (seen in the wild), at most 253 chars. */
export function isDomainName(s: string): boolean {
  return s.length <= 254 && /^[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63})*\.?$/.test(s);
}
