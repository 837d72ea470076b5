import type { SipUri } from '../sip/uri.js';
import type { Target } from '../transaction/types.js';
import type { TransactionLayer } from '../transaction/transaction-layer.js';
import type { TimerWheel } from '../transaction/timer-wheel.js';
import type { Counters } from '../core/counters.js';
import type { Flow } from '../transport/types.js';
import type { TransportError } from '../transport/transport-error.js';
import type { Interfaces } from '../dialog/interfaces.js';
import type { Cdr } from '../trunking/model.js';
import type { MediaLink } from './media-link.js';
import type { SourceRefusedEvent } from './unknown-sources.js';

export interface B2buaLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** Where CDRs go (the store's cdrs repository). Never throws into the call. */
export interface CdrSink {
  write(cdr: Cdr): Promise<void>;
}

/** Call events for the live stream and the metrics. */
export interface CallEvents {
  started?(e: { callSid: string; direction: string; trunk: string | null; carrier: string | null; from: string; to: string }): void;
  answered?(e: { callSid: string }): void;
  ended?(cdr: Cdr): void;
  /** A request from an unknown source refused (once per source per minute: unknown-sources.ts). */
  sourceRefused?(e: SourceRefusedEvent): void;
}

export interface B2buaTimers {
  /** RFC 3261 T1 and T2 (ms): 2xx retransmission (13.3.1.4). */
  t1: number;
  t2: number;
  /** No response at all from a gateway within this: the next gateway (dispatcher fr_timer). */
  gatewayTimeoutMs: number;
  /** Ringing longer than this: CANCEL and 408 (Timer C spirit, 16.6 step 11). */
  ringTimeoutMs: number;
}

/** What the B2BUA needs from the rest of the server. */
export interface B2buaEnv {
  layer: TransactionLayer;
  wheel: TimerWheel;
  transport: { sendTo(target: Target, data: Buffer): Promise<Flow>; send(flow: Flow, data: Buffer): boolean };
  interfaces: Interfaces;
  locate(uri: SipUri): Promise<Target[]>;
  counters: Counters;
  log: B2buaLog;
  /** User-Agent / Server value Trunkline writes, or null. */
  userAgent: string | null;
  timers: B2buaTimers;
  cdrs: CdrSink;
  /** The media engine (SDP anchored), or a link without one (SDP passes as is). */
  media: MediaLink;
  events?: CallEvents;
  /**
   * Probes a UDP target for an ICMP port unreachable (src/transport/udp-probe.ts):
   * `onRefused` runs if nothing listens there (a TransportError 'connect-refused'); returns a cancel function. Absent: no probe.
   */
  probeUdp?(target: Target, onRefused: (err: TransportError) => void): () => void;
}
