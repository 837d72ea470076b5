/**
 * Connections we open (TCP, TLS, WS, WSS): from the address of the listener
 * chosen for the destination (listener-choice.ts), one attempt per
 * destination at a time (concurrent sends share it), given up after
 * limits.connectTimeoutMs. A failure rejects with a TransportError.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { WebSocket } from 'ws';
import { hostPort, ipFamily, isWildcard, normalizeHost } from './addr.js';
import type { ListenerChoice } from './listener-choice.js';
import { addStreamConn, setTlsInfo, type StreamConn } from './stream-connection.js';
import type { StreamIo } from './stream-io.js';
import type { StreamListener } from './stream-server.js';
import { clientOptions } from './tls-config.js';
import type { TransportContext } from './transport-context.js';
import {
  codeOf,
  describeError,
  errCode,
  TransportError,
  type TransportErrorCode,
  type TransportTarget,
} from './transport-error.js';
import type { BoundListener } from './udp.js';
import type { StreamProto } from './types.js';

/** Ends an attempt: the connection, or why not. */
interface Attempt {
  readonly target: TransportTarget;
  resolve(conn: StreamConn): void;
  reject(err: TransportError): void;
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

export class OutboundConnections {
  /** Attempts in progress, by connection key; shared by concurrent sends. */
  private readonly connecting = new Map<string, Promise<StreamConn>>();
  private readonly connectingSockets = new Set<{ destroy(): void }>();
  private choice: ListenerChoice | null = null;
  private chosen: readonly BoundListener[] = [];

  constructor(
    private readonly ctx: TransportContext,
    private readonly io: StreamIo,
    /** The stream listeners (a fallback source address). */
    private readonly streamListeners: readonly StreamListener[],
  ) {}

  /** Which listener's address a connection toward a destination is opened from: `choice` indexes `chosen`. */
  useChoice(choice: ListenerChoice, chosen: readonly BoundListener[]): void {
    this.choice = choice;
    this.chosen = chosen;
  }

  /** An open connection to proto:host:port, new or being opened already. */
  connect(proto: StreamProto, host: string, port: number): Promise<StreamConn> {
    const key = `${proto}|${normalizeHost(host)}|${port}`;
    let p = this.connecting.get(key);
    if (!p) {
      p = this.open({ proto, host, port }).finally(() => this.connecting.delete(key));
      this.connecting.set(key, p);
    }
    return p;
  }

  /** Every attempt in progress abandoned (stop). */
  abortAll(): void {
    for (const s of this.connectingSockets) s.destroy();
    this.connectingSockets.clear();
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
    const i = this.choice === null ? -1 : this.choice.choose(proto, dest);
    const chosen = i >= 0 ? this.chosen[i]! : undefined;
    if (chosen !== undefined && chosen.family === family) return isWildcard(chosen.host) ? undefined : chosen.host;
    return this.streamListeners.find((l) => l.family === family && !isWildcard(l.host))?.host;
  }

  private open(target: TransportTarget & { proto: StreamProto }): Promise<StreamConn> {
    const refusal = this.ctx.table.refusal(null);
    if (refusal) return Promise.reject(new TransportError('limit', target, refusal));
    const { proto, host } = target;
    const bareHost = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    const localAddress = this.localAddressFor(proto, bareHost);
    return new Promise<StreamConn>((resolve, reject) => {
      const attempt: Attempt = { target, resolve, reject };
      if (proto === 'ws' || proto === 'wss') this.openWs(attempt, proto, bareHost, localAddress);
      else this.openSocket(attempt, proto, bareHost, localAddress);
    });
  }

  /** TCP or TLS: connected (and the TLS handshake done) within connectTimeoutMs. */
  private openSocket(attempt: Attempt, proto: 'tcp' | 'tls', host: string, localAddress: string | undefined): void {
    const port = attempt.target.port;
    let sock: net.Socket;
    if (proto === 'tcp') {
      sock = net.connect({ host, port, localAddress, noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 });
    } else {
      // tls.connect passes localAddress on to net; @types/node does not list it.
      const opts: tls.ConnectionOptions & { localAddress?: string } = {
        ...clientOptions(this.ctx.tlsFiles, this.ctx.tlsClientVerify),
        host,
        port,
      };
      if (localAddress) opts.localAddress = localAddress;
      if (ipFamily(host) === 0) opts.servername = host;
      sock = tls.connect(opts);
      sock.setNoDelay(true);
    }
    sock.on('error', () => {}); // errors are handled below; a late one must never go unhandled
    this.connectingSockets.add(sock);
    const timer = setTimeout(
      () => sock.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })),
      this.ctx.limits.connectTimeoutMs,
    );
    const fail = (err: Error): void => {
      clearTimeout(timer);
      this.connectingSockets.delete(sock);
      sock.destroy();
      attempt.reject(TransportError.of(err, attempt.target));
    };
    const onClose = (): void => fail(this.error(attempt, 'closed', 'connection closed during setup'));
    sock.once('error', fail);
    sock.once('close', onClose);
    sock.once(proto === 'tcp' ? 'connect' : 'secureConnect', () => {
      clearTimeout(timer);
      this.connectingSockets.delete(sock);
      sock.off('error', fail);
      sock.off('close', onClose);
      const why = this.cannotTake(attempt);
      if (why !== null) return fail(why);
      const conn = this.enter(proto, sock, host, port);
      conn.raw = proto === 'tcp' ? sock : null;
      conn.stream = sock;
      if (sock instanceof tls.TLSSocket) setTlsInfo(conn, sock);
      sock.on('error', (err) => this.ctx.log.debug({ id: conn.id, proto, err: err.message }, 'connection error'));
      sock.once('close', () => this.io.onClosed(conn));
      this.io.attachStream(conn, sock);
      this.io.opened(conn);
      attempt.resolve(conn);
    });
  }

  /** WS or WSS (RFC 7118): the upgrade done, with the "sip" subprotocol, within connectTimeoutMs. */
  private openWs(attempt: Attempt, proto: 'ws' | 'wss', host: string, localAddress: string | undefined): void {
    const port = attempt.target.port;
    const ws = new WebSocket(`${proto}://${hostPort(host, port)}/`, 'sip', {
      ...(proto === 'wss' ? clientOptions(this.ctx.tlsFiles, this.ctx.tlsClientVerify) : {}),
      handshakeTimeout: this.ctx.limits.connectTimeoutMs,
      maxPayload: this.ctx.limits.maxStreamMessageBytes,
      perMessageDeflate: false,
      skipUTF8Validation: true,
      ...(localAddress ? { localAddress } : {}),
    });
    ws.on('error', () => {}); // handled below / in attachWs; a late one must never go unhandled
    const handle = { destroy: () => ws.terminate() };
    this.connectingSockets.add(handle);
    let sock: net.Socket | null = null;
    ws.once('upgrade', (res) => {
      sock = res.socket;
    });
    const fail = (err: Error): void => {
      this.connectingSockets.delete(handle);
      ws.terminate();
      attempt.reject(
        err instanceof TransportError
          ? err
          : new TransportError(wsErrorCode(err), attempt.target, describeError(err), { cause: err }),
      );
    };
    const onClose = (): void => fail(this.error(attempt, 'closed', 'connection closed during setup'));
    ws.once('error', fail);
    ws.once('close', onClose);
    ws.once('open', () => {
      this.connectingSockets.delete(handle);
      ws.off('error', fail);
      ws.off('close', onClose);
      if (ws.protocol !== 'sip')
        return fail(this.error(attempt, 'handshake', 'server did not accept the "sip" subprotocol'));
      const why = this.cannotTake(attempt);
      if (why !== null) return fail(why);
      const s: net.Socket | null = sock;
      if (s === null) return fail(this.error(attempt, 'failed', 'no socket'));
      const conn = this.enter(proto, s, host, port);
      if (s instanceof tls.TLSSocket) setTlsInfo(conn, s);
      this.io.attachWs(conn, ws);
      this.io.opened(conn);
      attempt.resolve(conn);
    });
  }

  /** Why a connection just made cannot be entered (stopped meanwhile, the cap reached), or null. */
  private cannotTake(attempt: Attempt): TransportError | null {
    if (!this.ctx.running) return this.error(attempt, 'not-running', 'transport layer stopped');
    const refusal = this.ctx.table.refusal(null);
    return refusal ? this.error(attempt, 'limit', refusal) : null;
  }

  private error(attempt: Attempt, code: TransportErrorCode, reason: string): TransportError {
    return new TransportError(code, attempt.target, reason);
  }

  /** The connection entered in the table, found by its address and by the target as asked for. */
  private enter(proto: StreamProto, sock: net.Socket, host: string, port: number): StreamConn {
    const ends = {
      localHost: normalizeHost(sock.localAddress ?? ''),
      localPort: sock.localPort ?? 0,
      remoteHost: normalizeHost(sock.remoteAddress ?? host),
      remotePort: sock.remotePort ?? port,
    };
    const conn = addStreamConn(this.ctx.table, proto, 'outbound', ends, null);
    // The target as asked for (e.g. a host name) finds the connection too.
    this.ctx.table.addAlias(conn.id, host, port);
    return conn;
  }
}
