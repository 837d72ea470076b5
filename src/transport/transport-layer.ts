import dns from 'node:dns';
/**
 * The transport layer: UDP, TCP, TLS, WS and WSS listeners, outgoing
 * connections, the connection table and stream framing. It carries raw SIP
 * messages and never parses SIP beyond what stream framing needs.
 *
 * Accepted stream connections all go through one path: a plain net.Server per
 * listen spec accepts the TCP socket, the per-IP and total caps are checked and
 * the connection is entered in the table before any TLS or HTTP work is done,
 * then the socket is handed to a shared tls.Server (TLS, WSS) and/or a shared
 * http.Server + ws (WS, WSS) that never listen themselves.
 */
import { EventEmitter } from 'node:events';
import { isUtf8 } from 'node:buffer';
import * as dgram from 'node:dgram';
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';

import { hostPort, ipFamily, isPlainIpv4, isWildcard, normalizeHost, specName } from './addr.js';
import { ConnectionTable, type TableEntry } from './connection-table.js';
import { AddressSet } from '../net/cidr.js';
import { KernelSources, ListenerChoice, type SourceAddresses } from './listener-choice.js';
import { StreamFramer } from './stream-framer.js';
import { codeOf, describeError, errCode, TransportError, type TransportErrorCode, type TransportTarget } from './transport-error.js';
import {
  checkTlsFiles,
  clientOptions,
  peerTlsInfo,
  secureContextOptions,
  serverOptions,
} from './tls-config.js';
import {
  DEFAULT_LIMITS,
  TRANSPORT_PROTOS,
  type ConnectionInfo,
  type Flow,
  type FramingErrorEvent,
  type InboundMessage,
  type ListenSpec,
  type StreamProto,
  type TlsFiles,
  type TransportLayerOptions,
  type TransportLimits,
  type TransportLogger,
} from './types.js';

/** Sees every SIP message received (`in`) and sent (`out`): capture and metrics. Must not throw. */
export type TransportTap = (dir: 'in' | 'out', data: Buffer, flow: Flow) => void;

export interface TransportEvents {
  message: [InboundMessage];
  framingError: [FramingErrorEvent];
  connectionOpen: [ConnectionInfo];
  connectionClose: [ConnectionInfo];
}

interface StreamConn extends TableEntry {
  /** The TCP socket (accepted, or outgoing tcp/tls). */
  raw: net.Socket | null;
  /** The socket carrying SIP bytes for tcp/tls (raw or TLSSocket). */
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

interface UdpListener {
  spec: ListenSpec;
  host: string;
  port: number;
  family: 4 | 6;
  socket: dgram.Socket;
}

interface StreamListener {
  spec: ListenSpec;
  host: string;
  port: number;
  family: 4 | 6;
  server: net.Server;
}

const NOOP_LOG: TransportLogger = { warn() {}, info() {}, debug() {} };
const CRLF = Buffer.from('\r\n', 'latin1');
const STUN_MAGIC_COOKIE = 0x2112a442;
const UDP_RECV_BUFFER = 4 * 1024 * 1024;
const CLOSE_GRACE_MS = 2000;

function isBlank(data: Buffer): boolean {
  for (let i = 0; i < data.length; i++) {
    const b = data[i];
    if (b !== 0x0d && b !== 0x0a && b !== 0x20 && b !== 0x09) return false;
  }
  return true;
}

function isStunRequest(data: Buffer): boolean {
  return data.length >= 20 && (data[0]! & 0xc0) === 0 && data.readUInt32BE(4) === STUN_MAGIC_COOKIE;
}

function isCrlfPing(data: Buffer): boolean {
  return data.length === 4 && data[0] === 0x0d && data[1] === 0x0a && data[2] === 0x0d && data[3] === 0x0a;
}

function rawDataToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function offersSip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((p) => p.trim().toLowerCase() === 'sip');
}

function tupleOf(sock: net.Socket): string {
  return `${sock.localAddress}|${sock.localPort}|${sock.remoteAddress}|${sock.remotePort}`;
}

/**
 * dgram's address lookup for our sends: every UDP destination here is already
 * an IP literal, so answer at once instead of through dns.lookup and a tick.
 */
function literalLookup(address: string, family: unknown, callback: (err: Error | null, address: string, family: number) => void): void {
  const opts = typeof family === 'object' && family !== null ? (family as { family?: number }) : null;
  const fam = isPlainIpv4(address) ? 4 : ipFamily(address);
  if (fam === 0) {
    dns.lookup(address, opts?.family ?? (typeof family === 'number' ? family : 0), callback as never);
    return;
  }
  callback(null, address, fam);
}


/**
 * The code of a failed WebSocket opening: a socket or TLS error has its
 * errno; the ws library's own errors (a handshake timeout, an HTTP answer
 * other than 101, a bad Sec-WebSocket-Accept) have none.
 */
function wsErrorCode(err: Error): TransportErrorCode {
  if (errCode(err) !== undefined) return codeOf(err);
  return err.message.includes('timed out') ? 'timeout' : 'handshake';
}

export class TransportLayer extends EventEmitter<TransportEvents> {
  private readonly specs: ListenSpec[];
  private tlsFiles: TlsFiles | undefined;
  private readonly limits: TransportLimits;
  private readonly log: TransportLogger;
  private readonly tlsClientVerify: boolean;

  private readonly table: ConnectionTable<StreamConn>;
  private readonly udpListeners: UdpListener[] = [];
  private readonly streamListeners: StreamListener[] = [];
  private tlsServer: tls.Server | null = null;
  private httpServer: http.Server | null = null;
  private wsServer: WebSocketServer | null = null;
  /** Accepted TLS/WSS connections waiting for their handshake, by 4-tuple. */
  private readonly pendingTls = new Map<string, StreamConn>();
  /** Accepted WS/WSS connections waiting for their HTTP upgrade, by the socket given to the HTTP server. */
  private readonly pendingUpgrade = new WeakMap<object, StreamConn>();
  /** Outgoing connection attempts in progress, by connection key; shared by concurrent sendTo calls. */
  private readonly connecting = new Map<string, Promise<StreamConn>>();
  private readonly connectingSockets = new Set<{ destroy(): void }>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  private lastRefusalLog = 0;
  private tap: TransportTap | null = null;
  private refusedSinceLog = 0;
  /** The kernel's source addresses toward destinations (shared with the writer of Via and Record-Route). */
  readonly sources: SourceAddresses;
  /** Which listener a send leaves from (listener-choice.ts), over `chosen`: every bound listener in spec order. */
  private choice = new ListenerChoice([], null);
  private chosen: Array<UdpListener | StreamListener> = [];

  constructor(opts: TransportLayerOptions) {
    super();
    this.specs = opts.listen.map((s) => ({ ...s }));
    this.tlsFiles = opts.tls;
    this.limits = { ...DEFAULT_LIMITS, ...(opts.limits ?? {}) };
    for (const [k, v] of Object.entries(this.limits)) {
      if (typeof v !== 'number' || !(v > 0)) throw new RangeError(`transport limit ${k} must be a positive number`);
    }
    this.log = opts.log ?? NOOP_LOG;
    this.tlsClientVerify = opts.tlsClientVerify ?? true;
    this.table = new ConnectionTable<StreamConn>(this.limits);
    this.sources = opts.sources ?? new KernelSources();
  }

  // ---------------------------------------------------------------- lifecycle

  /** Binds every listen spec. Rejects naming the failing spec; nothing stays bound then. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`transport layer cannot start: ${this.state}`);
    this.state = 'starting';
    try {
      for (const spec of this.specs) this.validateSpec(spec);
      if (this.tlsFiles) checkTlsFiles(this.tlsFiles);
      for (const spec of this.specs) {
        try {
          if (spec.proto === 'udp') await this.bindUdp(spec);
          else await this.bindStream(spec);
        } catch (err) {
          throw new Error(`${specName(spec)}: ${describeError(err)}`, { cause: err });
        }
      }
    } catch (err) {
      await this.closeEverything();
      this.state = 'stopped';
      throw err;
    }
    const sweepMs = Math.max(20, Math.min(5000, Math.floor(Math.min(this.limits.idleTimeoutMs, this.limits.handshakeTimeoutMs) / 4)));
    this.sweepTimer = setInterval(() => this.sweep(), sweepMs);
    this.sweepTimer.unref();
    this.chosen = [];
    for (const spec of this.specs) {
      const l = spec.proto === 'udp' ? this.udpListeners.find((u) => u.spec === spec) : this.streamListeners.find((x) => x.spec === spec);
      if (l !== undefined) this.chosen.push(l);
    }
    this.choice = new ListenerChoice(
      this.chosen.map((l) => ({ proto: l.spec.proto, host: l.host, networks: l.spec.networks })),
      this.sources,
    );
    this.state = 'running';
    for (const l of this.boundListeners()) this.log.debug({ listen: specName({ ...l, port: l.boundPort }) }, 'transport listening');
  }

  /** Closes listeners and all connections. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    await this.closeEverything();
  }

  private async closeEverything(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    const waits: Array<Promise<void>> = [];
    for (const l of this.streamListeners) {
      waits.push(new Promise<void>((resolve) => l.server.close(() => resolve())));
    }
    for (const s of this.connectingSockets) s.destroy();
    this.connectingSockets.clear();
    for (const conn of [...this.table.values()]) this.destroyConn(conn);
    for (const l of this.udpListeners) {
      waits.push(new Promise<void>((resolve) => {
        try {
          l.socket.close(() => resolve());
        } catch {
          resolve();
        }
      }));
    }
    await Promise.all(waits);
    this.streamListeners.length = 0;
    this.udpListeners.length = 0;
    this.pendingTls.clear();
  }

  private validateSpec(spec: ListenSpec): void {
    const name = specName(spec);
    if (!TRANSPORT_PROTOS.includes(spec.proto)) throw new Error(`${name}: unknown transport`);
    if (ipFamily(spec.host) === 0) throw new Error(`${name}: host must be an IPv4 or IPv6 literal without brackets`);
    if (!Number.isInteger(spec.port) || spec.port < 0 || spec.port > 65535) throw new Error(`${name}: invalid port`);
    if ((spec.proto === 'tls' || spec.proto === 'wss') && !this.tlsFiles) {
      throw new Error(`${name}: TLS certificate and key required`);
    }
    if (spec.networks !== undefined) {
      try {
        new AddressSet(spec.networks);
      } catch (err) {
        throw new Error(`${name}: networks: ${(err as Error).message}`);
      }
    }
  }

  // ---------------------------------------------------------------- UDP

  private bindUdp(spec: ListenSpec): Promise<void> {
    const family = ipFamily(spec.host) as 4 | 6;
    const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', lookup: literalLookup });
    return new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        try { socket.close(); } catch { /* not running */ }
        reject(err);
      };
      socket.once('error', onError);
      socket.bind({ port: spec.port, address: spec.host, exclusive: true }, () => {
        socket.off('error', onError);
        socket.on('error', (err) => this.log.warn({ listen: specName(spec), err: err.message }, 'udp socket error'));
        try {
          socket.setRecvBufferSize(UDP_RECV_BUFFER);
        } catch (err) {
          this.log.debug({ listen: specName(spec), err: (err as Error).message }, 'cannot enlarge udp receive buffer');
        }
        const l: UdpListener = { spec, host: normalizeHost(spec.host), port: socket.address().port, family, socket };
        socket.on('message', (msg, rinfo) => this.onDatagram(l, msg, rinfo));
        this.udpListeners.push(l);
        resolve();
      });
    });
  }

  private onDatagram(l: UdpListener, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (isBlank(msg)) return; // CRLF keep-alive
    if (isStunRequest(msg)) return; // RFC 5626 STUN keep-alive: not handled here
    this.deliver({
      data: msg,
      flow: {
        proto: 'udp',
        localHost: l.host,
        localPort: l.port,
        remoteHost: normalizeHost(rinfo.address),
        remotePort: rinfo.port,
        connectionId: null,
      },
    });
  }

  // ---------------------------------------------------------------- stream listeners

  private bindStream(spec: ListenSpec): Promise<void> {
    const proto = spec.proto as StreamProto;
    if (proto === 'tls' || proto === 'wss') this.ensureTlsServer();
    if (proto === 'ws' || proto === 'wss') this.ensureHttpServer();
    const server = net.createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 });
    return new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        server.close();
        reject(err);
      };
      server.once('error', onError);
      server.listen({ host: spec.host, port: spec.port, exclusive: true }, () => {
        server.off('error', onError);
        server.on('error', (err) => this.log.warn({ listen: specName(spec), err: err.message }, 'listener error'));
        const addr = server.address() as net.AddressInfo;
        const l: StreamListener = { spec, host: normalizeHost(spec.host), port: addr.port, family: ipFamily(spec.host) as 4 | 6, server };
        server.on('connection', (sock) => this.onAccept(l, proto, sock));
        this.streamListeners.push(l);
        resolve();
      });
    });
  }

  private onAccept(l: StreamListener, proto: StreamProto, raw: net.Socket): void {
    raw.on('error', (err) => this.log.debug({ proto, remote: `${raw.remoteAddress}:${raw.remotePort}`, err: err.message }, 'connection error'));
    if (this.state !== 'running' || !raw.remoteAddress || raw.remotePort === undefined) {
      raw.destroy();
      return;
    }
    const remoteHost = normalizeHost(raw.remoteAddress);
    const refusal = this.table.refusal(remoteHost);
    if (refusal) {
      raw.destroy();
      this.logRefusal(proto, remoteHost, refusal);
      return;
    }
    const now = Date.now();
    const conn: StreamConn = {
      id: this.table.allocateId(),
      proto,
      direction: 'inbound',
      state: proto === 'tcp' ? 'open' : 'handshaking',
      localHost: normalizeHost(raw.localAddress ?? l.host),
      localPort: raw.localPort ?? l.port,
      remoteHost,
      remotePort: raw.remotePort,
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
    this.table.add(conn);
    raw.once('close', () => this.onClosed(conn));

    switch (proto) {
      case 'tcp':
        conn.stream = raw;
        this.attachStream(conn, raw);
        this.opened(conn);
        break;
      case 'tls':
      case 'wss':
        conn.tupleKey = tupleOf(raw);
        this.pendingTls.set(conn.tupleKey, conn);
        this.tlsServer!.emit('connection', raw);
        break;
      case 'ws':
        this.pendingUpgrade.set(raw, conn);
        this.httpServer!.emit('connection', raw);
        break;
    }
  }

  private logRefusal(proto: StreamProto, remoteHost: string, reason: string): void {
    const now = Date.now();
    this.refusedSinceLog++;
    if (now - this.lastRefusalLog < 1000) return;
    this.log.warn({ proto, remote: remoteHost, refused: this.refusedSinceLog }, `connection refused: ${reason}`);
    this.lastRefusalLog = now;
    this.refusedSinceLog = 0;
  }

  private ensureTlsServer(): void {
    if (this.tlsServer) return;
    const server = tls.createServer(serverOptions(this.tlsFiles!, this.limits.handshakeTimeoutMs));
    server.on('secureConnection', (sock) => this.onTlsReady(sock));
    server.on('tlsClientError', (err, sock) => {
      this.log.debug({ remote: `${sock.remoteAddress}:${sock.remotePort}`, err: err.message }, 'tls handshake failed');
      sock.destroy();
    });
    server.on('error', (err) => this.log.warn({ err: err.message }, 'tls server error'));
    this.tlsServer = server;
  }

  private onTlsReady(sock: tls.TLSSocket): void {
    const key = tupleOf(sock);
    const conn = this.pendingTls.get(key);
    this.pendingTls.delete(key);
    if (!conn || conn.closed || conn.state !== 'handshaking') {
      sock.destroy();
      return;
    }
    conn.tupleKey = null;
    sock.on('error', (err) => this.log.debug({ id: conn.id, proto: conn.proto, err: err.message }, 'connection error'));
    sock.once('close', () => this.onClosed(conn));
    this.setTlsInfo(conn, sock);
    if (conn.proto === 'tls') {
      conn.stream = sock;
      conn.state = 'open';
      conn.lastActivity = Date.now();
      this.attachStream(conn, sock);
      this.opened(conn);
    } else {
      conn.stream = sock; // for destroy; WSS traffic goes through conn.ws
      this.pendingUpgrade.set(sock, conn);
      this.httpServer!.emit('connection', sock);
    }
  }

  private setTlsInfo(conn: StreamConn, sock: tls.TLSSocket): void {
    const info = peerTlsInfo(sock);
    conn.tlsAuthorized = info.authorized;
    if (info.fingerprint) conn.tlsFingerprint = info.fingerprint;
    if (info.protocol) conn.tlsProtocol = info.protocol;
  }

  private ensureHttpServer(): void {
    if (this.httpServer) return;
    const server = http.createServer();
    server.on('request', (_req, res) => {
      res.writeHead(426, { Upgrade: 'websocket', Connection: 'close', 'Content-Type': 'text/plain' });
      res.end('SIP over WebSocket only (RFC 7118)\n');
    });
    server.on('clientError', (_err, socket) => socket.destroy());
    server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.httpServer = server;
    this.wsServer = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: this.limits.maxStreamMessageBytes,
      skipUTF8Validation: true,
      handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
    });
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const conn = this.pendingUpgrade.get(socket);
    this.pendingUpgrade.delete(socket);
    if (!conn || conn.closed || conn.state !== 'handshaking') {
      socket.destroy();
      return;
    }
    if (!offersSip(req.headers['sec-websocket-protocol'])) {
      this.log.debug({ id: conn.id, remote: hostPort(conn.remoteHost, conn.remotePort) }, 'websocket upgrade without "sip" subprotocol refused');
      conn.state = 'closing';
      conn.closingSince = Date.now();
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wsServer!.handleUpgrade(req, socket, head, (ws) => {
      if (conn.closed) {
        ws.terminate();
        return;
      }
      this.attachWs(conn, ws);
      this.opened(conn);
    });
  }

  // ---------------------------------------------------------------- per-connection I/O

  private attachStream(conn: StreamConn, sock: net.Socket): void {
    conn.framer = new StreamFramer(this.limits);
    sock.on('data', (chunk: Buffer) => this.onStreamData(conn, chunk));
  }

  private onStreamData(conn: StreamConn, chunk: Buffer): void {
    conn.lastActivity = Date.now();
    if (conn.state !== 'open' || !conn.framer) return; // closing: drain and discard
    const events = conn.framer.push(chunk);
    for (const ev of events) {
      if (conn.state !== 'open') return;
      if (ev.kind === 'message') {
        this.deliver({ data: ev.data, flow: this.flowOf(conn) });
      } else if (ev.kind === 'ping') {
        this.write(conn, CRLF);
      } else {
        this.log.warn(
          { id: conn.id, proto: conn.proto, remote: hostPort(conn.remoteHost, conn.remotePort), status: ev.status },
          `stream framing error: ${ev.reason}`,
        );
        const event: FramingErrorEvent = { flow: this.flowOf(conn), reason: ev.reason, status: ev.status, headerText: ev.headerText };
        try {
          this.emit('framingError', event);
        } catch (err) {
          this.log.warn({ id: conn.id, err: (err as Error).message }, 'framingError handler threw');
        }
        this.gracefulClose(conn);
        return;
      }
    }
  }

  private attachWs(conn: StreamConn, ws: WebSocket): void {
    conn.ws = ws;
    conn.state = 'open';
    conn.lastActivity = Date.now();
    ws.on('message', (data: RawData) => {
      conn.lastActivity = Date.now();
      if (conn.state !== 'open') return;
      const buf = rawDataToBuffer(data);
      if (isBlank(buf)) {
        if (isCrlfPing(buf)) this.write(conn, CRLF);
        return;
      }
      this.deliver({ data: buf, flow: this.flowOf(conn) });
    });
    ws.on('ping', () => { conn.lastActivity = Date.now(); });
    ws.on('pong', () => { conn.lastActivity = Date.now(); });
    ws.on('error', (err) => {
      const oversize = err instanceof RangeError || errCode(err) === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
      const fields = { id: conn.id, proto: conn.proto, remote: hostPort(conn.remoteHost, conn.remotePort), err: err.message };
      if (oversize) this.log.warn(fields, 'websocket message over size limit, closing');
      else this.log.debug(fields, 'websocket error');
    });
    ws.once('close', () => this.onClosed(conn));
  }

  private opened(conn: StreamConn): void {
    this.log.debug({ id: conn.id, proto: conn.proto, direction: conn.direction, remote: hostPort(conn.remoteHost, conn.remotePort) }, 'connection open');
    try {
      this.emit('connectionOpen', this.infoOf(conn));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'connectionOpen handler threw');
    }
  }

  private onClosed(conn: StreamConn): void {
    if (conn.closed) return;
    conn.closed = true;
    this.table.remove(conn.id);
    if (conn.tupleKey) this.pendingTls.delete(conn.tupleKey);
    // Make sure every layer is gone (e.g. TLS socket when the raw socket closed first).
    conn.ws?.terminate();
    conn.stream?.destroy();
    conn.raw?.destroy();
    this.log.debug({ id: conn.id, proto: conn.proto, remote: hostPort(conn.remoteHost, conn.remotePort) }, 'connection closed');
    try {
      this.emit('connectionClose', this.infoOf(conn));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'connectionClose handler threw');
    }
  }

  /** Queue data on a connection. False if it is not open or its peer does not read. */
  private write(conn: StreamConn, data: Buffer): boolean {
    if (conn.closed || conn.state !== 'open') return false;
    if (this.tap !== null) this.tap('out', data, this.flowOf(conn));
    const ws = conn.ws;
    if (ws) {
      if (ws.readyState !== WebSocket.OPEN) return false;
      if (ws.bufferedAmount > this.limits.maxSendBufferBytes) return this.slowPeer(conn);
      conn.lastActivity = Date.now();
      ws.send(data, { binary: !isUtf8(data) });
      return true;
    }
    const s = conn.stream;
    if (!s || s.destroyed || !s.writable) return false;
    if (s.writableLength > this.limits.maxSendBufferBytes) return this.slowPeer(conn);
    conn.lastActivity = Date.now();
    s.write(data);
    return true;
  }

  private slowPeer(conn: StreamConn): false {
    this.log.warn({ id: conn.id, proto: conn.proto, remote: hostPort(conn.remoteHost, conn.remotePort) }, 'peer does not read, send buffer full: closing');
    this.destroyConn(conn);
    return false;
  }

  /** Flush what is queued, then close; destroyed by the sweep if the peer lingers. */
  private gracefulClose(conn: StreamConn): void {
    if (conn.closed || conn.state === 'closing') return;
    const wasOpen = conn.state === 'open';
    conn.state = 'closing';
    conn.closingSince = Date.now();
    if (!wasOpen) {
      this.destroyConn(conn);
    } else if (conn.ws) {
      conn.ws.close(1000);
    } else {
      conn.stream?.end();
    }
  }

  private destroyConn(conn: StreamConn): void {
    conn.ws?.terminate();
    conn.stream?.destroy();
    conn.raw?.destroy();
    // 'close' events follow asynchronously; remove now so the table is exact.
    this.onClosed(conn);
  }

  private sweep(): void {
    const now = Date.now();
    const due = this.table.sweep(now, {
      idleTimeoutMs: this.limits.idleTimeoutMs,
      handshakeTimeoutMs: this.limits.handshakeTimeoutMs,
      closeGraceMs: CLOSE_GRACE_MS,
    });
    for (const [conn, verdict] of due) {
      this.log.debug({ id: conn.id, proto: conn.proto, remote: hostPort(conn.remoteHost, conn.remotePort) }, `closing connection: ${verdict}`);
      if (verdict === 'idle') this.gracefulClose(conn);
      else this.destroyConn(conn);
    }
  }

  private deliver(m: InboundMessage): void {
    if (this.tap !== null) this.tap('in', m.data, m.flow);
    try {
      this.emit('message', m);
    } catch (err) {
      this.log.warn({ proto: m.flow.proto, remote: hostPort(m.flow.remoteHost, m.flow.remotePort), err: (err as Error).message }, 'message handler threw');
    }
  }

  private flowOf(conn: StreamConn): Flow {
    return {
      proto: conn.proto,
      localHost: conn.localHost,
      localPort: conn.localPort,
      remoteHost: conn.remoteHost,
      remotePort: conn.remotePort,
      connectionId: conn.id,
    };
  }

  private infoOf(conn: StreamConn): ConnectionInfo {
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

  // ---------------------------------------------------------------- public API

  /** Sets (or with null removes) the tap that sees every message in and out. */
  setTap(fn: TransportTap | null): void {
    this.tap = fn;
  }

  /** One complete SIP message per call (UDP datagram, framed stream message, WS message). */
  onMessage(handler: (m: InboundMessage) => void): void {
    this.on('message', handler);
  }

  /**
   * A stream message that broke a limit or had a bad Content-Length. The
   * connection is closed after the handler returns; data sent on it from the
   * handler is flushed first.
   */
  onFramingError(handler: (e: FramingErrorEvent) => void): void {
    this.on('framingError', handler);
  }

  /**
   * Reply/route along an existing flow. UDP: from the listening socket matching
   * localHost+localPort. Streams: on flow.connectionId if still open, else on an
   * open connection to remoteHost:remotePort with that proto. False if there is
   * nothing to send on.
   */
  send(flow: Flow, data: Buffer): boolean {
    if (this.state !== 'running') return false;
    if (flow.proto === 'udp') {
      // Flows we made carry the listener's own host string: compare as is first (hot path), normalize only if that fails.
      let l: UdpListener | undefined;
      for (const u of this.udpListeners) {
        if (u.port === flow.localPort && u.host === flow.localHost) {
          l = u;
          break;
        }
      }
      if (!l) {
        const host = normalizeHost(flow.localHost);
        l = this.udpListeners.find((u) => u.port === flow.localPort && u.host === host);
      }
      if (!l) return false;
      return this.sendDatagram(l, flow.remoteHost, flow.remotePort, data, null);
    }
    let conn = flow.connectionId !== null ? this.table.get(flow.connectionId) : undefined;
    if (conn && (conn.proto !== flow.proto || conn.state !== 'open')) conn = undefined;
    conn ??= this.table.lookup(flow.proto, flow.remoteHost, flow.remotePort);
    if (!conn) return false;
    return this.write(conn, data);
  }

  /**
   * Send to a destination: reuse an open connection to it (accepted ones
   * included, also via aliases), else open one from the address of the
   * listener chosen for it. UDP goes out of the udp listener chosen for the
   * destination (listener-choice.ts). Resolves with the flow used.
   */
  async sendTo(target: TransportTarget, data: Buffer): Promise<Flow> {
    this.checkTarget(target);
    if (target.proto === 'udp') return this.sendUdpTo(target.host, target.port, data);
    const proto = target.proto;
    if (!TRANSPORT_PROTOS.includes(proto)) throw new TransportError('bad-target', target, 'unknown transport');
    const existing = this.table.lookup(proto, target.host, target.port);
    if (existing && this.write(existing, data)) return this.flowOf(existing);
    const conn = await this.connect(proto, target.host, target.port);
    if (!this.write(conn, data)) throw new TransportError('closed', target, 'connection closed before sending');
    return this.flowOf(conn);
  }

  /**
   * sendTo() without the promise for UDP (nothing to connect): the flow
   * used, or null for a stream transport (use sendTo()). Throws as sendTo() rejects.
   */
  sendToNow(target: TransportTarget, data: Buffer): Flow | null {
    if (target.proto !== 'udp') return null;
    this.checkTarget(target);
    return this.sendUdpNow(target.host, target.port, data);
  }

  private checkTarget(target: TransportTarget): void {
    if (this.state !== 'running') throw new TransportError('not-running', target, 'transport layer not running');
    if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) throw new TransportError('bad-target', target, 'invalid port');
  }

  /** RFC 5923: the sent-by of a Via with ;alias maps to this connection. */
  registerAlias(connectionId: number, host: string, port: number): void {
    if (!this.table.addAlias(connectionId, host, port)) {
      this.log.debug({ id: connectionId, alias: hostPort(host, port) }, 'alias for unknown connection ignored');
    }
  }

  /**
   * Without an argument: the listen specs with their actual ports (port 0 in a
   * spec = ephemeral). With an event name: EventEmitter.listeners().
   */
  override listeners(): Array<ListenSpec & { boundPort: number }>;
  override listeners<K extends keyof TransportEvents>(eventName: K): Array<(...args: TransportEvents[K]) => void>;
  override listeners(...args: unknown[]): unknown[] {
    if (args.length > 0) return super.listeners(args[0] as keyof TransportEvents);
    return this.boundListeners();
  }

  private boundListeners(): Array<ListenSpec & { boundPort: number }> {
    const out: Array<ListenSpec & { boundPort: number }> = [];
    for (const spec of this.specs) {
      const l = spec.proto === 'udp'
        ? this.udpListeners.find((u) => u.spec === spec)
        : this.streamListeners.find((s) => s.spec === spec);
      if (l) out.push({ ...spec, boundPort: l.port });
    }
    return out;
  }

  connectionCount(): number {
    return this.table.size;
  }

  connectionInfo(id: number): ConnectionInfo | undefined {
    const conn = this.table.get(id);
    return conn ? this.infoOf(conn) : undefined;
  }

  connections(): ConnectionInfo[] {
    return [...this.table.values()].map((c) => this.infoOf(c));
  }

  /** Close a connection gracefully (flush, then close). False if unknown. */
  closeConnection(id: number): boolean {
    const conn = this.table.get(id);
    if (!conn) return false;
    this.gracefulClose(conn);
    return true;
  }

  /** New TLS settings for new connections (accepted and outgoing); existing ones are untouched. */
  reloadTls(files: TlsFiles): void {
    checkTlsFiles(files);
    this.tlsFiles = files;
    const server = this.tlsServer;
    if (server) {
      server.setSecureContext(secureContextOptions(files));
      // tls.Server reads these per accepted socket.
      const opts = serverOptions(files, this.limits.handshakeTimeoutMs);
      const mutable = server as unknown as { requestCert: boolean; rejectUnauthorized: boolean };
      mutable.requestCert = opts.requestCert === true;
      mutable.rejectUnauthorized = opts.rejectUnauthorized === true;
    }
    this.log.debug({}, 'tls certificates reloaded');
  }

  // ---------------------------------------------------------------- outgoing

  /**
   * Hands a datagram to the socket. Without a completion callback Node sends
   * it synchronously with no request object and no callback back into JS;
   * a failure then surfaces as the socket's 'error' event (logged). With
   * `done`, the caller learns the outcome.
   */
  private sendDatagram(l: UdpListener, host: string, port: number, data: Buffer, done: ((err: Error | null) => void) | null): boolean {
    if (this.tap !== null) this.tap('out', data, { proto: 'udp', localHost: l.host, localPort: l.port, remoteHost: host, remotePort: port, connectionId: null });
    try {
      if (done === null) l.socket.send(data, port, host);
      else
        l.socket.send(data, port, host, (err) => {
          if (err) this.log.debug({ to: hostPort(host, port), err: err.message }, 'udp send failed');
          done(err ?? null);
        });
      return true;
    } catch (err) {
      this.log.debug({ to: hostPort(host, port), err: (err as Error).message }, 'udp send failed');
      return false;
    }
  }


  private async sendUdpTo(host: string, port: number, data: Buffer): Promise<Flow> {
    return this.sendUdpNow(host, port, data);
  }

  private sendUdpNow(host: string, port: number, data: Buffer): Flow {
    // Plain dotted IPv4 (the common case) needs no normalizing or isIP regex.
    const plain = isPlainIpv4(host);
    const remoteHost = plain ? host : normalizeHost(host);
    const family = plain ? 4 : ipFamily(remoteHost);
    if (family === 0) throw new TransportError('bad-target', { proto: 'udp', host, port }, 'udp destination must be an IP literal');
    let l: UdpListener | undefined;
    if (this.udpListeners.length === 1) {
      // One UDP listener (the common case): no choice to make.
      if (this.udpListeners[0]!.family === family) l = this.udpListeners[0];
    } else {
      const i = this.choice.choose('udp', remoteHost);
      const c = i >= 0 ? (this.chosen[i] as UdpListener) : undefined;
      if (c !== undefined && c.family === family) l = c;
    }
    if (!l) throw new TransportError('no-listener', { proto: 'udp', host, port }, `no udp listener for IPv${family}`);
    // UDP has no delivery report worth waiting for: a datagram handed to the socket counts as sent.
    if (!this.sendDatagram(l, remoteHost, port, data, null)) throw new TransportError('closed', { proto: 'udp', host, port }, 'udp socket not running');
    return { proto: 'udp', localHost: l.host, localPort: l.port, remoteHost, remotePort: port, connectionId: null };
  }


  private connect(proto: StreamProto, host: string, port: number): Promise<StreamConn> {
    const key = `${proto}|${normalizeHost(host)}|${port}`;
    let p = this.connecting.get(key);
    if (!p) {
      p = this.openOutbound(proto, host, port).finally(() => this.connecting.delete(key));
      this.connecting.set(key, p);
    }
    return p;
  }

  /**
   * Local address for outgoing connections: the address of the listener
   * chosen for the destination (listener-choice.ts); a wildcard one leaves
   * it to the kernel. Without a listener of the transport: another stream
   * listener's address of the same family.
   */
  private localAddressFor(proto: StreamProto, host: string): string | undefined {
    const dest = normalizeHost(host);
    const family = ipFamily(dest);
    if (family === 0) return undefined;
    const i = this.choice.choose(proto, dest);
    const chosen = i >= 0 ? this.chosen[i]! : undefined;
    if (chosen !== undefined && chosen.family === family) return isWildcard(chosen.host) ? undefined : chosen.host;
    return this.streamListeners.find((l) => l.family === family && !isWildcard(l.host))?.host;
  }

  private newOutbound(proto: StreamProto, sock: net.Socket, host: string, port: number): StreamConn {
    const now = Date.now();
    const remoteHost = normalizeHost(sock.remoteAddress ?? host);
    const remotePort = sock.remotePort ?? port;
    const conn: StreamConn = {
      id: this.table.allocateId(),
      proto,
      direction: 'outbound',
      state: 'open',
      localHost: normalizeHost(sock.localAddress ?? ''),
      localPort: sock.localPort ?? 0,
      remoteHost,
      remotePort,
      createdAt: now,
      lastActivity: now,
      closingSince: 0,
      keys: [],
      raw: null,
      stream: null,
      ws: null,
      framer: null,
      tupleKey: null,
      closed: false,
    };
    this.table.add(conn);
    // The target as asked for (e.g. a host name) finds the connection too.
    this.table.addAlias(conn.id, host, port);
    return conn;
  }

  private openOutbound(proto: StreamProto, host: string, port: number): Promise<StreamConn> {
    const target: TransportTarget = { proto, host, port };
    const refusal = this.table.refusal(null);
    if (refusal) return Promise.reject(new TransportError('limit', target, refusal));
    const bareHost = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    const localAddress = this.localAddressFor(proto, bareHost);
    if (proto === 'ws' || proto === 'wss') return this.openWs(proto, bareHost, port, localAddress, target);

    return new Promise<StreamConn>((resolve, reject) => {
      let sock: net.Socket;
      if (proto === 'tcp') {
        sock = net.connect({ host: bareHost, port, localAddress, noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 });
      } else {
        // tls.connect passes localAddress on to net; @types/node does not list it.
        const opts: tls.ConnectionOptions & { localAddress?: string } = { ...clientOptions(this.tlsFiles, this.tlsClientVerify), host: bareHost, port };
        if (localAddress) opts.localAddress = localAddress;
        if (ipFamily(bareHost) === 0) opts.servername = bareHost;
        sock = tls.connect(opts);
        sock.setNoDelay(true);
      }
      sock.on('error', () => {}); // errors are handled below; a late one must never go unhandled
      this.connectingSockets.add(sock);
      const timer = setTimeout(() => sock.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })), this.limits.connectTimeoutMs);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        this.connectingSockets.delete(sock);
        sock.destroy();
        reject(TransportError.of(err, target));
      };
      const onClose = (): void => fail(new TransportError('closed', target, 'connection closed during setup'));
      sock.once('error', fail);
      sock.once('close', onClose);
      sock.once(proto === 'tcp' ? 'connect' : 'secureConnect', () => {
        clearTimeout(timer);
        this.connectingSockets.delete(sock);
        sock.off('error', fail);
        sock.off('close', onClose);
        if (this.state !== 'running') return fail(new TransportError('not-running', target, 'transport layer stopped'));
        const refusedNow = this.table.refusal(null);
        if (refusedNow) return fail(new TransportError('limit', target, refusedNow));
        const conn = this.newOutbound(proto, sock, bareHost, port);
        conn.raw = proto === 'tcp' ? sock : null;
        conn.stream = sock;
        if (sock instanceof tls.TLSSocket) this.setTlsInfo(conn, sock);
        sock.on('error', (err) => this.log.debug({ id: conn.id, proto, err: err.message }, 'connection error'));
        sock.once('close', () => this.onClosed(conn));
        this.attachStream(conn, sock);
        this.opened(conn);
        resolve(conn);
      });
    });
  }

  private openWs(proto: 'ws' | 'wss', host: string, port: number, localAddress: string | undefined, target: TransportTarget): Promise<StreamConn> {
    return new Promise<StreamConn>((resolve, reject) => {
      const url = `${proto}://${hostPort(host, port)}/`;
      const ws = new WebSocket(url, 'sip', {
        ...(proto === 'wss' ? clientOptions(this.tlsFiles, this.tlsClientVerify) : {}),
        handshakeTimeout: this.limits.connectTimeoutMs,
        maxPayload: this.limits.maxStreamMessageBytes,
        perMessageDeflate: false,
        skipUTF8Validation: true,
        ...(localAddress ? { localAddress } : {}),
      });
      ws.on('error', () => {}); // handled below / in attachWs; a late one must never go unhandled
      const handle = { destroy: () => ws.terminate() };
      this.connectingSockets.add(handle);
      let sock: net.Socket | null = null;
      ws.once('upgrade', (res) => { sock = res.socket; });
      const fail = (err: Error): void => {
        this.connectingSockets.delete(handle);
        ws.terminate();
        reject(err instanceof TransportError ? err : new TransportError(wsErrorCode(err), target, describeError(err), { cause: err }));
      };
      const onClose = (): void => fail(new TransportError('closed', target, 'connection closed during setup'));
      ws.once('error', fail);
      ws.once('close', onClose);
      ws.once('open', () => {
        this.connectingSockets.delete(handle);
        ws.off('error', fail);
        ws.off('close', onClose);
        if (ws.protocol !== 'sip') return fail(new TransportError('handshake', target, 'server did not accept the "sip" subprotocol'));
        if (this.state !== 'running') return fail(new TransportError('not-running', target, 'transport layer stopped'));
        const refusedNow = this.table.refusal(null);
        if (refusedNow) return fail(new TransportError('limit', target, refusedNow));
        if (!sock) return fail(new TransportError('failed', target, 'no socket'));
        const conn = this.newOutbound(proto, sock, host, port);
        if (sock instanceof tls.TLSSocket) this.setTlsInfo(conn, sock);
        this.attachWs(conn, ws);
        this.opened(conn);
        resolve(conn);
      });
    });
  }
}
