/**
 * The transport layer: UDP, TCP, TLS, WS and WSS listeners, outgoing
 * connections, the connection table and stream framing. It carries raw SIP
 * messages and never parses SIP beyond what stream framing needs.
 *
 * This class routes sends and owns what the parts share (transport-context.ts):
 * the connection table, the tap, the state. The parts: udp.ts (UDP sockets),
 * stream-server.ts (accepted TCP/TLS/WS/WSS connections), outbound.ts
 * (connections we open), stream-io.ts (reading, writing and closing them).
 */
import { EventEmitter } from 'node:events';

import { hostPort, ipFamily, specName } from './addr.js';
import { ConnectionTable } from './connection-table.js';
import { AddressSet } from '../net/cidr.js';
import { KernelSources, ListenerChoice, type SourceAddresses } from './listener-choice.js';
import { OutboundConnections } from './outbound.js';
import { flowOf, infoOf, type StreamConn } from './stream-connection.js';
import { StreamIo } from './stream-io.js';
import { StreamServer } from './stream-server.js';
import { checkTlsFiles } from './tls-config.js';
import type { TransportContext, TransportEvents, TransportTap } from './transport-context.js';
import { describeError, TransportError, type TransportTarget } from './transport-error.js';
import { UdpTransport, type BoundListener } from './udp.js';
import {
  DEFAULT_LIMITS,
  TRANSPORT_PROTOS,
  type ConnectionInfo,
  type Flow,
  type FramingErrorEvent,
  type InboundMessage,
  type ListenSpec,
  type TlsFiles,
  type TransportLayerOptions,
  type TransportLimits,
  type TransportLogger,
} from './types.js';

export type { TransportEvents, TransportTap } from './transport-context.js';

/** A listen spec as bound: `boundPort` is the actual port (a spec's port 0 is ephemeral). */
export type BoundListenSpec = ListenSpec & { boundPort: number };

const NOOP_LOG: TransportLogger = { warn() {}, info() {}, debug() {} };

export class TransportLayer extends EventEmitter<TransportEvents> {
  private readonly specs: ListenSpec[];
  private readonly limits: TransportLimits;
  private readonly log: TransportLogger;
  private readonly ctx: TransportContext;
  private readonly table: ConnectionTable<StreamConn>;
  private readonly udp: UdpTransport;
  private readonly io: StreamIo;
  private readonly streams: StreamServer;
  private readonly outbound: OutboundConnections;
  private sweepTimer: NodeJS.Timeout | null = null;
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  /** The kernel's source addresses toward destinations (shared with the writer of Via and Record-Route). */
  readonly sources: SourceAddresses;

  constructor(opts: TransportLayerOptions) {
    super();
    this.specs = opts.listen.map((s) => ({ ...s }));
    this.limits = { ...DEFAULT_LIMITS, ...(opts.limits ?? {}) };
    for (const [k, v] of Object.entries(this.limits)) {
      if (typeof v !== 'number' || !(v > 0)) throw new RangeError(`transport limit ${k} must be a positive number`);
    }
    this.log = opts.log ?? NOOP_LOG;
    this.table = new ConnectionTable<StreamConn>(this.limits);
    this.sources = opts.sources ?? new KernelSources();
    this.ctx = {
      events: this,
      limits: this.limits,
      log: this.log,
      table: this.table,
      tap: null,
      running: false,
      tlsFiles: opts.tls,
      tlsClientVerify: opts.tlsClientVerify ?? true,
    };
    this.udp = new UdpTransport(this.ctx);
    this.io = new StreamIo(this.ctx);
    this.streams = new StreamServer(this.ctx, this.io);
    this.outbound = new OutboundConnections(this.ctx, this.io, this.streams.listeners);
  }

  // ---------------------------------------------------------------- lifecycle

  /** Binds every listen spec. Rejects naming the failing spec; nothing stays bound then. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`transport layer cannot start: ${this.state}`);
    this.state = 'starting';
    try {
      for (const spec of this.specs) this.validateSpec(spec);
      if (this.ctx.tlsFiles) checkTlsFiles(this.ctx.tlsFiles);
      for (const spec of this.specs) {
        try {
          if (spec.proto === 'udp') await this.udp.bind(spec);
          else await this.streams.bind(spec);
        } catch (err) {
          throw new Error(`${specName(spec)}: ${describeError(err)}`, { cause: err });
        }
      }
    } catch (err) {
      await this.closeEverything();
      this.state = 'stopped';
      throw err;
    }
    // The idle / handshake sweep runs only while there are stream connections.
    this.table.onOccupied((occupied) => (occupied ? this.startSweep() : this.stopSweep()));
    if (this.table.size > 0) this.startSweep();
    this.useListenerChoice();
    this.state = 'running';
    this.ctx.running = true;
    for (const l of this.boundListeners())
      this.log.debug({ listen: specName({ ...l, port: l.boundPort }) }, 'transport listening');
  }

  /** Closes listeners and all connections. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.ctx.running = false;
    await this.closeEverything();
  }

  private startSweep(): void {
    if (this.sweepTimer !== null || this.state === 'stopped') return;
    const sweepMs = Math.max(
      20,
      Math.min(5000, Math.floor(Math.min(this.limits.idleTimeoutMs, this.limits.handshakeTimeoutMs) / 4)),
    );
    this.sweepTimer = setInterval(() => this.io.sweep(), sweepMs);
    this.sweepTimer.unref();
  }

  private stopSweep(): void {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }

  /** Whether the idle / handshake sweep is scheduled (tests: only while there are connections). */
  get sweeping(): boolean {
    return this.sweepTimer !== null;
  }

  private async closeEverything(): Promise<void> {
    this.stopSweep();
    const streamsClosed = this.streams.close();
    this.outbound.abortAll();
    this.io.destroyAll();
    await Promise.all([streamsClosed, this.udp.close()]);
  }

  private validateSpec(spec: ListenSpec): void {
    const name = specName(spec);
    if (!TRANSPORT_PROTOS.includes(spec.proto)) throw new Error(`${name}: unknown transport`);
    if (ipFamily(spec.host) === 0) throw new Error(`${name}: host must be an IPv4 or IPv6 literal without brackets`);
    if (!Number.isInteger(spec.port) || spec.port < 0 || spec.port > 65535) throw new Error(`${name}: invalid port`);
    if ((spec.proto === 'tls' || spec.proto === 'wss') && !this.ctx.tlsFiles) {
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

  /** Which listener a send leaves from (listener-choice.ts), over every bound listener in spec order. */
  private useListenerChoice(): void {
    const chosen: BoundListener[] = [];
    for (const spec of this.specs) {
      const l = this.listenerOf(spec);
      if (l !== undefined) chosen.push(l);
    }
    const choice = new ListenerChoice(
      chosen.map((l) => ({ proto: l.spec.proto, host: l.host, networks: l.spec.networks })),
      this.sources,
    );
    this.udp.useChoice(choice, chosen);
    this.outbound.useChoice(choice, chosen);
  }

  private listenerOf(spec: ListenSpec): BoundListener | undefined {
    return spec.proto === 'udp'
      ? this.udp.listeners.find((u) => u.spec === spec)
      : this.streams.listeners.find((s) => s.spec === spec);
  }

  // ---------------------------------------------------------------- sending

  /**
   * Reply/route along an existing flow. UDP: from the listening socket matching
   * localHost+localPort. Streams: on flow.connectionId if still open, else on an
   * open connection to remoteHost:remotePort with that proto. False if there is
   * nothing to send on.
   */
  send(flow: Flow, data: Buffer): boolean {
    if (this.state !== 'running') return false;
    if (flow.proto === 'udp') return this.udp.sendOnFlow(flow, data);
    let conn = flow.connectionId !== null ? this.table.get(flow.connectionId) : undefined;
    if (conn && (conn.proto !== flow.proto || conn.state !== 'open')) conn = undefined;
    conn ??= this.table.lookup(flow.proto, flow.remoteHost, flow.remotePort);
    if (!conn) return false;
    return this.io.write(conn, data);
  }

  /**
   * Send to a destination: reuse an open connection to it (accepted ones
   * included, also via aliases), else open one from the address of the
   * listener chosen for it. UDP goes out of the udp listener chosen for the
   * destination (listener-choice.ts). Resolves with the flow used; rejects
   * with a TransportError.
   */
  async sendTo(target: TransportTarget, data: Buffer): Promise<Flow> {
    this.checkTarget(target);
    if (target.proto === 'udp') return this.udp.sendTo(target.host, target.port, data);
    const proto = target.proto;
    if (!TRANSPORT_PROTOS.includes(proto)) throw new TransportError('bad-target', target, 'unknown transport');
    const existing = this.table.lookup(proto, target.host, target.port);
    if (existing && this.io.write(existing, data)) return flowOf(existing);
    const conn = await this.outbound.connect(proto, target.host, target.port);
    if (!this.io.write(conn, data)) throw new TransportError('closed', target, 'connection closed before sending');
    return flowOf(conn);
  }

  /**
   * sendTo() without the promise for UDP (nothing to connect): the flow
   * used, or null for a stream transport (use sendTo()). Throws as sendTo() rejects.
   */
  sendToNow(target: TransportTarget, data: Buffer): Flow | null {
    if (target.proto !== 'udp') return null;
    this.checkTarget(target);
    return this.udp.sendTo(target.host, target.port, data);
  }

  private checkTarget(target: TransportTarget): void {
    if (this.state !== 'running') throw new TransportError('not-running', target, 'transport layer not running');
    if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535)
      throw new TransportError('bad-target', target, 'invalid port');
  }

  /** RFC 5923: the sent-by of a Via with ;alias maps to this connection. */
  registerAlias(connectionId: number, host: string, port: number): void {
    if (!this.table.addAlias(connectionId, host, port)) {
      this.log.debug({ id: connectionId, alias: hostPort(host, port) }, 'alias for unknown connection ignored');
    }
  }

  // ---------------------------------------------------------------- listeners, connections, tap

  /** The listen specs that are bound, in config order, with their actual ports. */
  boundListeners(): BoundListenSpec[] {
    const out: BoundListenSpec[] = [];
    for (const spec of this.specs) {
      const l = this.listenerOf(spec);
      if (l) out.push({ ...spec, boundPort: l.port });
    }
    return out;
  }

  connectionCount(): number {
    return this.table.size;
  }

  connectionInfo(id: number): ConnectionInfo | undefined {
    const conn = this.table.get(id);
    return conn ? infoOf(conn) : undefined;
  }

  connections(): ConnectionInfo[] {
    return [...this.table.values()].map((c) => infoOf(c));
  }

  /** Close a connection gracefully (flush, then close). False if unknown. */
  closeConnection(id: number): boolean {
    const conn = this.table.get(id);
    if (!conn) return false;
    this.io.gracefulClose(conn);
    return true;
  }

  /** New TLS settings for new connections (accepted and outgoing); existing ones are untouched. */
  reloadTls(files: TlsFiles): void {
    checkTlsFiles(files);
    this.ctx.tlsFiles = files;
    this.streams.reloadTls(files);
    this.log.debug({}, 'tls certificates reloaded');
  }

  /** Sets (or with null removes) the tap that sees every message in and out. */
  setTap(fn: TransportTap | null): void {
    this.ctx.tap = fn;
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
}
