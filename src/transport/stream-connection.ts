/**
 * One stream connection (TCP, TLS, WS, WSS), accepted or outgoing, as the
 * connection table holds it, and the one place such an entry is made.
 */
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import type { WebSocket } from 'ws';
import type { ConnectionTable, TableEntry } from './connection-table.js';
import type { StreamFramer } from './stream-framer.js';
import { peerTlsInfo } from './tls-config.js';
import type { ConnectionInfo, Flow, StreamProto } from './types.js';

export interface StreamConn extends TableEntry {
  /** The TCP socket (accepted, or outgoing tcp). */
  raw: net.Socket | null;
  /** The socket carrying SIP bytes for tcp/tls (raw or TLSSocket); for WSS the TLSSocket (to destroy). */
  stream: net.Socket | null;
  ws: WebSocket | null;
  framer: StreamFramer | null;
  /** 4-tuple used to find the entry again when the TLS handshake completes. */
  tupleKey: string | null;
  closed: boolean;
  tlsFingerprint?: string;
  tlsAuthorized?: boolean;
  tlsProtocol?: string;
}

export interface ConnectionEnds {
  localHost: string;
  localPort: number;
  remoteHost: string;
  remotePort: number;
}

/**
 * A new connection entered in `table`. An accepted TLS, WS or WSS one is
 * 'handshaking' until its TLS handshake / HTTP upgrade is done; the others
 * are open (outgoing ones are entered once connected).
 */
export function addStreamConn(
  table: ConnectionTable<StreamConn>,
  proto: StreamProto,
  direction: 'inbound' | 'outbound',
  ends: ConnectionEnds,
  raw: net.Socket | null,
): StreamConn {
  const now = Date.now();
  const conn: StreamConn = {
    id: table.allocateId(),
    proto,
    direction,
    state: direction === 'outbound' || proto === 'tcp' ? 'open' : 'handshaking',
    localHost: ends.localHost,
    localPort: ends.localPort,
    remoteHost: ends.remoteHost,
    remotePort: ends.remotePort,
    createdAt: now,
    lastActivity: now,
    closingSince: 0,
    keys: [],
    raw,
    stream: null,
    ws: null,
    framer: null,
    tupleKey: null,
    closed: false,
  };
  table.add(conn);
  return conn;
}

export function setTlsInfo(conn: StreamConn, sock: tls.TLSSocket): void {
  const info = peerTlsInfo(sock);
  conn.tlsAuthorized = info.authorized;
  if (info.fingerprint) conn.tlsFingerprint = info.fingerprint;
  if (info.protocol) conn.tlsProtocol = info.protocol;
}

export function flowOf(conn: StreamConn): Flow {
  return {
    proto: conn.proto,
    localHost: conn.localHost,
    localPort: conn.localPort,
    remoteHost: conn.remoteHost,
    remotePort: conn.remotePort,
    connectionId: conn.id,
  };
}

export function infoOf(conn: StreamConn): ConnectionInfo {
  const info: ConnectionInfo = {
    id: conn.id,
    proto: conn.proto,
    direction: conn.direction,
    state: conn.state,
    localHost: conn.localHost,
    localPort: conn.localPort,
    remoteHost: conn.remoteHost,
    remotePort: conn.remotePort,
    createdAt: conn.createdAt,
    lastActivity: conn.lastActivity,
    aliases: conn.keys.slice(1).map((k) => k.slice(k.indexOf('|') + 1)),
  };
  if (conn.tlsFingerprint !== undefined) info.tlsFingerprint = conn.tlsFingerprint;
  if (conn.tlsAuthorized !== undefined) info.tlsAuthorized = conn.tlsAuthorized;
  if (conn.tlsProtocol !== undefined) info.tlsProtocol = conn.tlsProtocol;
  return info;
}
