/**
 * Reading, writing and closing stream connections once they carry SIP:
 * framing of TCP/TLS bytes (RFC 3261 18.3), one message per WebSocket
 * message (RFC 7118), CRLF keep-alive pongs (RFC 5626 3.5.1), a peer that
 * does not read, graceful close, and the idle / handshake sweep. Accepted
 * (stream-server.ts) and outgoing (outbound.ts) connections end up here.
 */
import { isUtf8 } from 'node:buffer';
import type * as net from 'node:net';
import { WebSocket, type RawData } from 'ws';
import { hostPort } from './addr.js';
import { CRLF, isBlank, isCrlfPing } from './keepalive-bytes.js';
import { flowOf, infoOf, type StreamConn } from './stream-connection.js';
import { StreamFramer } from './stream-framer.js';
import { deliver, type TransportContext } from './transport-context.js';
import { errCode } from './transport-error.js';
import type { FramingErrorEvent } from './types.js';

/** How long a gracefully closing connection may linger before it is destroyed. */
const CLOSE_GRACE_MS = 2000;

function rawDataToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export class StreamIo {
  constructor(private readonly ctx: TransportContext) {}

  /** TCP/TLS: SIP bytes arrive on `sock`, framed into messages. */
  attachStream(conn: StreamConn, sock: net.Socket): void {
    conn.framer = new StreamFramer(this.ctx.limits);
    sock.on('data', (chunk: Buffer) => this.onStreamData(conn, chunk));
  }

  private onStreamData(conn: StreamConn, chunk: Buffer): void {
    conn.lastActivity = Date.now();
    if (conn.state !== 'open' || !conn.framer) return; // closing: drain and discard
    const events = conn.framer.push(chunk);
    for (const ev of events) {
      if (conn.state !== 'open') return;
      if (ev.kind === 'message') {
        deliver(this.ctx, { data: ev.data, flow: flowOf(conn) });
      } else if (ev.kind === 'ping') {
        this.write(conn, CRLF);
      } else {
        this.ctx.log.warn(
          { id: conn.id, proto: conn.proto, remote: hostPort(conn.remoteHost, conn.remotePort), status: ev.status },
          `stream framing error: ${ev.reason}`,
        );
        const event: FramingErrorEvent = {
          flow: flowOf(conn),
          reason: ev.reason,
          status: ev.status,
          headerText: ev.headerText,
        };
        try {
          this.ctx.events.emit('framingError', event);
        } catch (err) {
          this.ctx.log.warn({ id: conn.id, err: (err as Error).message }, 'framingError handler threw');
        }
        this.gracefulClose(conn);
        return;
      }
    }
  }

  /** WS/WSS: the upgrade is done; the connection is open. */
  attachWs(conn: StreamConn, ws: WebSocket): void {
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
      deliver(this.ctx, { data: buf, flow: flowOf(conn) });
    });
    ws.on('ping', () => {
      conn.lastActivity = Date.now();
    });
    ws.on('pong', () => {
      conn.lastActivity = Date.now();
    });
    ws.on('error', (err) => {
      const oversize = err instanceof RangeError || errCode(err) === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
      const fields = {
        id: conn.id,
        proto: conn.proto,
        remote: hostPort(conn.remoteHost, conn.remotePort),
        err: err.message,
      };
      if (oversize) this.ctx.log.warn(fields, 'websocket message over size limit, closing');
      else this.ctx.log.debug(fields, 'websocket error');
    });
    ws.once('close', () => this.onClosed(conn));
  }

  /** The connection carries SIP now: 'connectionOpen'. */
  opened(conn: StreamConn): void {
    this.ctx.log.debug(
      { id: conn.id, proto: conn.proto, direction: conn.direction, remote: hostPort(conn.remoteHost, conn.remotePort) },
      'connection open',
    );
    try {
      this.ctx.events.emit('connectionOpen', infoOf(conn));
    } catch (err) {
      this.ctx.log.warn({ err: (err as Error).message }, 'connectionOpen handler threw');
    }
  }

  /** Any of its sockets closed: out of the table, every layer destroyed, 'connectionClose'. Once. */
  onClosed(conn: StreamConn): void {
    if (conn.closed) return;
    conn.closed = true;
    this.ctx.table.remove(conn.id);
    // Make sure every layer is gone (e.g. TLS socket when the raw socket closed first).
    conn.ws?.terminate();
    conn.stream?.destroy();
    conn.raw?.destroy();
    this.ctx.log.debug(
      { id: conn.id, proto: conn.proto, remote: hostPort(conn.remoteHost, conn.remotePort) },
      'connection closed',
    );
    try {
      this.ctx.events.emit('connectionClose', infoOf(conn));
    } catch (err) {
      this.ctx.log.warn({ err: (err as Error).message }, 'connectionClose handler threw');
    }
  }

  /** Queue data on a connection. False if it is not open or its peer does not read. */
  write(conn: StreamConn, data: Buffer): boolean {
    if (conn.closed || conn.state !== 'open') return false;
    const ctx = this.ctx;
    if (ctx.tap !== null) ctx.tap('out', data, flowOf(conn));
    const ws = conn.ws;
    if (ws) {
      if (ws.readyState !== WebSocket.OPEN) return false;
      if (ws.bufferedAmount > ctx.limits.maxSendBufferBytes) return this.slowPeer(conn);
      conn.lastActivity = Date.now();
      ws.send(data, { binary: !isUtf8(data) });
      return true;
    }
    const s = conn.stream;
    if (!s || s.destroyed || !s.writable) return false;
    if (s.writableLength > ctx.limits.maxSendBufferBytes) return this.slowPeer(conn);
    conn.lastActivity = Date.now();
    s.write(data);
    return true;
  }

  private slowPeer(conn: StreamConn): false {
    this.ctx.log.warn(
      { id: conn.id, proto: conn.proto, remote: hostPort(conn.remoteHost, conn.remotePort) },
      'peer does not read, send buffer full: closing',
    );
    this.destroyConn(conn);
    return false;
  }

  /** Flush what is queued, then close; destroyed by the sweep if the peer lingers. */
  gracefulClose(conn: StreamConn): void {
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

  destroyConn(conn: StreamConn): void {
    conn.ws?.terminate();
    conn.stream?.destroy();
    conn.raw?.destroy();
    // 'close' events follow asynchronously; remove now so the table is exact.
    this.onClosed(conn);
  }

  /** Closes idle connections gracefully; destroys those stuck in a handshake or a close. */
  sweep(): void {
    const due = this.ctx.table.sweep(Date.now(), {
      idleTimeoutMs: this.ctx.limits.idleTimeoutMs,
      handshakeTimeoutMs: this.ctx.limits.handshakeTimeoutMs,
      closeGraceMs: CLOSE_GRACE_MS,
    });
    for (const [conn, verdict] of due) {
      this.ctx.log.debug(
        { id: conn.id, proto: conn.proto, remote: hostPort(conn.remoteHost, conn.remotePort) },
        `closing connection: ${verdict}`,
      );
      if (verdict === 'idle') this.gracefulClose(conn);
      else this.destroyConn(conn);
    }
  }

  /** Every connection destroyed (stop). */
  destroyAll(): void {
    for (const conn of [...this.ctx.table.values()]) this.destroyConn(conn);
  }
}
