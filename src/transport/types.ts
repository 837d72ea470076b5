/**
 * Public types of the transport layer. The transport layer moves raw SIP
 * messages between the network and the SIP core; it does not parse SIP beyond
 * what stream framing (RFC 3261 18.3) needs.
 */

import type { SourceAddresses } from './listener-choice.js';

export type TransportProto = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';
/** Connection-oriented transports (everything but UDP). */
export type StreamProto = Exclude<TransportProto, 'udp'>;

export const TRANSPORT_PROTOS: readonly TransportProto[] = ['udp', 'tcp', 'tls', 'ws', 'wss'];

/** host: IPv4 or IPv6 literal WITHOUT brackets. port 0 = ephemeral. */
export interface ListenSpec {
  proto: TransportProto;
  host: string;
  port: number;
  /** Destinations (IP or CIDR) that leave from this listener whatever the kernel's routes say (listener-choice.ts). */
  networks?: readonly string[];
}

/** Where a message came from / goes to. */
export interface Flow {
  proto: TransportProto;
  localHost: string;
  localPort: number;
  remoteHost: string;
  remotePort: number;
  /** Stream transports: id in the connection table; udp: null. */
  connectionId: number | null;
}

export interface InboundMessage {
  data: Buffer;
  flow: Flow;
}

/** PEM contents (not paths). */
export interface TlsFiles {
  cert: string | Buffer;
  key: string | Buffer;
  /** Trust anchors: verify TLS clients (verifyClient) and servers we connect to. */
  ca?: string | Buffer;
  /** Require a client certificate that verifies against `ca` (requestCert + rejectUnauthorized). */
  verifyClient?: boolean;
  /**
   * Ask clients for a certificate without rejecting unverifiable ones, so that
   * its fingerprint can be matched (self-signed trunk certificates). Ignored
   * when verifyClient is set. Default false. Extension to the base spec.
   */
  requestClientCert?: boolean;
  /** Lowest / highest TLS version ('1.2' or '1.3'); defaults 1.2 and 1.3. */
  minVersion?: '1.2' | '1.3';
  maxVersion?: '1.2' | '1.3';
}

export interface TransportLimits {
  /** A stream message (headers+body) larger than this is refused (413). WS: larger message = close. */
  maxStreamMessageBytes: number;
  /** A header section without CRLFCRLF by then is refused (513). */
  maxHeaderBytes: number;
  /** Streams without traffic (either direction) for this long are closed. */
  idleTimeoutMs: number;
  /** Further accepts from that IP are closed at once. */
  maxConnectionsPerIp: number;
  /** Overall cap on connections (accepted and outgoing). */
  maxConnections: number;
  /** TLS handshake / WebSocket upgrade must finish within this (accepted connections). */
  handshakeTimeoutMs: number;
  /** Outgoing connection attempts (TCP connect + TLS/WS handshake) give up after this. */
  connectTimeoutMs: number;
  /** A peer that does not read: once this much is queued for it, the connection is dropped. */
  maxSendBufferBytes: number;
}

export const DEFAULT_LIMITS: Readonly<TransportLimits> = Object.freeze({
  maxStreamMessageBytes: 65536,
  maxHeaderBytes: 16384,
  idleTimeoutMs: 300_000,
  maxConnectionsPerIp: 64,
  maxConnections: 10_000,
  handshakeTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  maxSendBufferBytes: 1 << 20,
});

export interface FramingErrorEvent {
  flow: Flow;
  reason: string;
  status: 400 | 413 | 513;
  /** The complete header section (without the final CRLFCRLF) when it was read, else null. */
  headerText: string | null;
}

/** pino-compatible subset. */
export interface TransportLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export type ConnectionState = 'handshaking' | 'open' | 'closing';

export interface ConnectionInfo {
  id: number;
  proto: StreamProto;
  direction: 'inbound' | 'outbound';
  state: ConnectionState;
  localHost: string;
  localPort: number;
  remoteHost: string;
  remotePort: number;
  /** ms since epoch */
  createdAt: number;
  /** ms since epoch, last byte received or sent */
  lastActivity: number;
  /** `host|port` aliases registered with registerAlias (RFC 5923). */
  aliases: string[];
  /** SHA-256 fingerprint of the peer certificate (AA:BB:...), TLS/WSS only, when the peer sent one. */
  tlsFingerprint?: string;
  /** Whether the peer certificate verified against the trust anchors (TLS/WSS). */
  tlsAuthorized?: boolean;
  /** TLS protocol version negotiated, e.g. "TLSv1.3". */
  tlsProtocol?: string;
}

export interface TransportLayerOptions {
  listen: ListenSpec[];
  tls?: TlsFiles;
  limits?: Partial<TransportLimits>;
  log?: TransportLogger;
  /**
   * Verify the server certificate on outgoing TLS/WSS connections (against
   * tls.ca when given, else the system trust store). Default true; only tests
   * should turn it off.
   */
  tlsClientVerify?: boolean;
  /**
   * The kernel's source addresses toward destinations, shared with whoever
   * writes our address into messages (src/dialog/interfaces.ts) so that both
   * choose the same listener; default: a KernelSources of its own.
   */
  sources?: SourceAddresses;
}
