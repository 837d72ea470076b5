/**
 * Address forms of the config file: `PROTO:IP:PORT` listen entries, `IP:PORT`
 * endpoints, IPv6 in brackets (`udp:[::1]:5060`), CIDR blocks. Pure functions,
 * shared by the config schema, the CLI and whoever prints an address back.
 */
import { isIPv4, isIPv6 } from 'node:net';

export const LISTEN_PROTOS = ['udp', 'tcp', 'tls', 'ws', 'wss'] as const;
export type ListenProto = (typeof LISTEN_PROTOS)[number];

export interface HostPort {
  /** An IP literal; IPv6 without brackets (`::1`), ready for `bind()`/`listen()`. */
  host: string;
  /** 0-65535; 0 asks the OS for an ephemeral port (tests). */
  port: number;
}

export interface ListenAddress extends HostPort {
  proto: ListenProto;
}

const HOST_PORT = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/;

/** `IP:PORT` or `[IPv6]:PORT`; undefined when the text is not of that form. */
export function parseHostPort(text: string): HostPort | undefined {
  const m = HOST_PORT.exec(text.trim());
  if (m === null) return undefined;
  const [, v6, v4, portText] = m;
  if (v6 !== undefined && !isIPv6(v6)) return undefined;
  if (v4 !== undefined && !isIPv4(v4)) return undefined;
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return undefined;
  return { host: (v6 ?? v4)!, port };
}

/** `udp|tcp|tls|ws|wss:IP:PORT`; undefined when the text is not of that form. */
export function parseListen(text: string): ListenAddress | undefined {
  return parseProtoHostPort(text, LISTEN_PROTOS);
}

/** `PROTO:IP:PORT` for a given set of protocols (lower case; the input may be any case). */
export function parseProtoHostPort<P extends string>(
  text: string,
  protos: readonly P[],
): (HostPort & { proto: P }) | undefined {
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  const proto = text.slice(0, colon).trim().toLowerCase() as P;
  if (!protos.includes(proto)) return undefined;
  const hp = parseHostPort(text.slice(colon + 1));
  return hp === undefined ? undefined : { proto, ...hp };
}

/** The host as written in a URI or an address: IPv6 in brackets. */
export function formatHost(host: string): string {
  return isIPv6(host) ? `[${host}]` : host;
}

/** `127.0.0.1:5060`, `[::1]:5060`. */
export function formatHostPort(hp: HostPort): string {
  return `${formatHost(hp.host)}:${hp.port}`;
}

/** `udp:127.0.0.1:5060`, `tls:[::1]:5061`: the config file's own form. */
export function formatListen(l: ListenAddress): string {
  return `${l.proto}:${formatHostPort(l)}`;
}

/** An IP literal or `IP/PREFIX` (prefix within the family's bits). */
export { isCidr } from '../net/cidr.js';

const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOSTNAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*\\.?$`);

/** A DNS host name (RFC 1123 labels); IP literals are checked with `isIP`. */
export function isHostname(text: string): boolean {
  return text.length <= 253 && HOSTNAME.test(text);
}
