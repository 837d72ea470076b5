import type { Flow, TransportProto } from '../transport/types.js';

/** Where a new request goes: the next hop after RFC 3263 resolution. */
export interface Target {
  proto: TransportProto;
  /** IP literal, IPv6 without brackets. */
  host: string;
  port: number;
}

/**
 * The part of the transport layer the transaction layer uses. Small on
 * purpose: tests drive the layer with an in-memory one.
 */
export interface TransactionTransport {
  /** Sends on a known flow (responses; requests on a flow); false when it could not be sent. */
  send(flow: Flow, data: Buffer): boolean;
  /** Sends a new request toward a target (may open a connection); rejects on a transport error. */
  sendTo(target: Target, data: Buffer): Promise<Flow>;
  /**
   * Optional fast path of sendTo() for a target that needs no connection
   * (UDP): sends at once and returns the flow used, or null when the send has
   * to go through sendTo(). Throws on a transport error.
   */
  sendToNow?(target: Target, data: Buffer): Flow | null;
}

/** RFC 3261 17.1.1.1 / table 4 timer values in milliseconds. */
export interface TimerConfig {
  /** RTT estimate, default 500. */
  t1: number;
  /** Longest retransmit interval of non-INVITE requests and INVITE responses, default 4000. */
  t2: number;
  /** Longest time a message stays in the network, default 5000. */
  t4: number;
  /** Timer D on unreliable transports (17.1.1.2: at least 32 s), default 32000. Extension: tests shorten it. */
  d?: number;
  /** Delay of the automatic 100 Trying of an INVITE server transaction (17.2.1: 200 ms), default 200. */
  trying?: number;
}

export const DEFAULT_TIMERS: Readonly<Required<TimerConfig>> = Object.freeze({
  t1: 500,
  t2: 4000,
  t4: 5000,
  d: 32000,
  trying: 200,
});

/** Reliable (connection-oriented) transports: no retransmissions, zero-length wait timers (RFC 3261 17). */
export function isReliable(proto: TransportProto): boolean {
  return proto !== 'udp';
}

/** pino-compatible subset. */
export interface TransactionLog {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** State names of RFC 3261 figures 5-8 and RFC 6026 (Accepted). */
export type TransactionState =
  'Calling' | 'Trying' | 'Proceeding' | 'Accepted' | 'Completed' | 'Confirmed' | 'Terminated';
