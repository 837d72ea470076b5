/**
 * What the parts of the transport layer (udp.ts, stream-server.ts,
 * outbound.ts, stream-io.ts) share, owned by the layer (transport-layer.ts):
 * its limits and log, the connection table, the tap, whether it runs, and
 * the emitter its users listen on.
 */
import type { EventEmitter } from 'node:events';
import { hostPort } from './addr.js';
import type { ConnectionTable } from './connection-table.js';
import type { StreamConn } from './stream-connection.js';
import type {
  ConnectionInfo,
  FramingErrorEvent,
  Flow,
  InboundMessage,
  TlsFiles,
  TransportLimits,
  TransportLogger,
} from './types.js';

/** Sees every SIP message received (`in`) and sent (`out`): capture and metrics. Must not throw. */
export type TransportTap = (dir: 'in' | 'out', data: Buffer, flow: Flow) => void;

export interface TransportEvents {
  message: [InboundMessage];
  framingError: [FramingErrorEvent];
  connectionOpen: [ConnectionInfo];
  connectionClose: [ConnectionInfo];
}

export interface TransportContext {
  readonly events: EventEmitter<TransportEvents>;
  readonly limits: Readonly<TransportLimits>;
  readonly log: TransportLogger;
  readonly table: ConnectionTable<StreamConn>;
  /** Set by TransportLayer.setTap(); null: none. */
  tap: TransportTap | null;
  /** Between a successful start() and stop(). */
  running: boolean;
  /** Certificates for new connections, accepted and outgoing (reloadTls() replaces them). */
  tlsFiles: TlsFiles | undefined;
  /** Verify the certificate of servers we connect to. */
  readonly tlsClientVerify: boolean;
}

/** A complete message received: to the tap, then to the 'message' listeners (a throwing one is logged). */
export function deliver(ctx: TransportContext, m: InboundMessage): void {
  if (ctx.tap !== null) ctx.tap('in', m.data, m.flow);
  try {
    ctx.events.emit('message', m);
  } catch (err) {
    ctx.log.warn(
      { proto: m.flow.proto, remote: hostPort(m.flow.remoteHost, m.flow.remotePort), err: (err as Error).message },
      'message handler threw',
    );
  }
}
