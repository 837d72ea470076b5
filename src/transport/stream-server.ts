/**
 * Accepted stream connections (TCP, TLS, WS, WSS), all through one path: a
 * plain net.Server per listen spec accepts the TCP socket, the per-IP and
 * total caps are checked and the connection is entered in the table before
 * any TLS or HTTP work is done, then the socket is handed to a shared
 * tls.Server (TLS, WSS) and/or a shared http.Server + ws (WS, WSS) that
 * never listen themselves.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { hostPort, ipFamily, normalizeHost, specName } from './addr.js';
import { addStreamConn, setTlsInfo, type StreamConn } from './stream-connection.js';
import type { StreamIo } from './stream-io.js';
import { secureContextOptions, serverOptions } from './tls-config.js';
import type { TransportContext } from './transport-context.js';
import type { BoundListener } from './udp.js';
import type { ListenSpec, StreamProto, TlsFiles } from './types.js';

export interface StreamListener extends BoundListener {
  readonly server: net.Server;
}

function offersSip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((p) => p.trim().toLowerCase() === 'sip');
}

function tupleOf(sock: net.Socket): string {
  return `${sock.localAddress}|${sock.localPort}|${sock.remoteAddress}|${sock.remotePort}`;
}

export class StreamServer {
  readonly listeners: StreamListener[] = [];
  private tlsServer: tls.Server | null = null;
  private httpServer: http.Server | null = null;
  private wsServer: WebSocketServer | null = null;
  /** Accepted TLS/WSS connections waiting for their handshake, by 4-tuple. */
  private readonly pendingTls = new Map<string, StreamConn>();
  /** Accepted WS/WSS connections waiting for their HTTP upgrade, by the socket given to the HTTP server. */
  private readonly pendingUpgrade = new WeakMap<object, StreamConn>();
  private lastRefusalLog = 0;
  private refusedSinceLog = 0;

  constructor(
    private readonly ctx: TransportContext,
    private readonly io: StreamIo,
  ) {}

  bind(spec: ListenSpec): Promise<void> {
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
        server.on('error', (err) => this.ctx.log.warn({ listen: specName(spec), err: err.message }, 'listener error'));
        const addr = server.address() as net.AddressInfo;
        const l: StreamListener = {
          spec,
          host: normalizeHost(spec.host),
          port: addr.port,
          family: ipFamily(spec.host) as 4 | 6,
          server,
        };
        server.on('connection', (sock) => this.onAccept(l, proto, sock));
        this.listeners.push(l);
        resolve();
      });
    });
  }

  /** Stops accepting; resolves once every listener closed (connections are the layer's to destroy). */
  close(): Promise<void> {
    const waits = this.listeners.map((l) => new Promise<void>((resolve) => l.server.close(() => resolve())));
    return Promise.all(waits).then(() => {
      this.listeners.length = 0;
      this.pendingTls.clear();
    });
  }

  /** New certificates for connections accepted from now on. */
  reloadTls(files: TlsFiles): void {
    const server = this.tlsServer;
    if (!server) return;
    server.setSecureContext(secureContextOptions(files));
    // tls.Server reads these per accepted socket.
    const opts = serverOptions(files, this.ctx.limits.handshakeTimeoutMs);
    const mutable = server as unknown as { requestCert: boolean; rejectUnauthorized: boolean };
    mutable.requestCert = opts.requestCert === true;
    mutable.rejectUnauthorized = opts.rejectUnauthorized === true;
  }

  private onAccept(l: StreamListener, proto: StreamProto, raw: net.Socket): void {
    raw.on('error', (err) =>
      this.ctx.log.debug(
        { proto, remote: `${raw.remoteAddress}:${raw.remotePort}`, err: err.message },
        'connection error',
      ),
    );
    if (!this.ctx.running || !raw.remoteAddress || raw.remotePort === undefined) {
      raw.destroy();
      return;
    }
    const remoteHost = normalizeHost(raw.remoteAddress);
    const refusal = this.ctx.table.refusal(remoteHost);
    if (refusal) {
      raw.destroy();
      this.logRefusal(proto, remoteHost, refusal);
      return;
    }
    const ends = {
      localHost: normalizeHost(raw.localAddress ?? l.host),
      localPort: raw.localPort ?? l.port,
      remoteHost,
      remotePort: raw.remotePort,
    };
    const conn = addStreamConn(this.ctx.table, proto, 'inbound', ends, raw);
    raw.once('close', () => this.onRawClose(conn));

    switch (proto) {
      case 'tcp':
        conn.stream = raw;
        this.io.attachStream(conn, raw);
        this.io.opened(conn);
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

  private onRawClose(conn: StreamConn): void {
    if (conn.tupleKey !== null) this.pendingTls.delete(conn.tupleKey);
    this.io.onClosed(conn);
  }

  /** A refused accept: one warning a second at most, with the count since the last. */
  private logRefusal(proto: StreamProto, remoteHost: string, reason: string): void {
    const now = Date.now();
    this.refusedSinceLog++;
    if (now - this.lastRefusalLog < 1000) return;
    this.ctx.log.warn({ proto, remote: remoteHost, refused: this.refusedSinceLog }, `connection refused: ${reason}`);
    this.lastRefusalLog = now;
    this.refusedSinceLog = 0;
  }

  private ensureTlsServer(): void {
    if (this.tlsServer) return;
    const server = tls.createServer(serverOptions(this.ctx.tlsFiles!, this.ctx.limits.handshakeTimeoutMs));
    server.on('secureConnection', (sock) => this.onTlsReady(sock));
    server.on('tlsClientError', (err, sock) => {
      this.ctx.log.debug(
        { remote: `${sock.remoteAddress}:${sock.remotePort}`, err: err.message },
        'tls handshake failed',
      );
      sock.destroy();
    });
    server.on('error', (err) => this.ctx.log.warn({ err: err.message }, 'tls server error'));
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
    sock.on('error', (err) =>
      this.ctx.log.debug({ id: conn.id, proto: conn.proto, err: err.message }, 'connection error'),
    );
    sock.once('close', () => this.io.onClosed(conn));
    setTlsInfo(conn, sock);
    if (conn.proto === 'tls') {
      conn.stream = sock;
      conn.state = 'open';
      conn.lastActivity = Date.now();
      this.io.attachStream(conn, sock);
      this.io.opened(conn);
    } else {
      conn.stream = sock; // for destroy; WSS traffic goes through conn.ws
      this.pendingUpgrade.set(sock, conn);
      this.httpServer!.emit('connection', sock);
    }
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
      maxPayload: this.ctx.limits.maxStreamMessageBytes,
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
    // RFC 7118 4: the client offers the "sip" subprotocol.
    if (!offersSip(req.headers['sec-websocket-protocol'])) {
      this.ctx.log.debug(
        { id: conn.id, remote: hostPort(conn.remoteHost, conn.remotePort) },
        'websocket upgrade without "sip" subprotocol refused',
      );
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
      this.io.attachWs(conn, ws);
      this.io.opened(conn);
    });
  }
}
