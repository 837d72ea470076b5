/**
 * What every stage of the signalling core shares, built once by the
 * composition root (src/server/sip-stack.ts): the proxy (ProxyEnv,
 * src/proxy/proxy-env.ts) and the B2BUA (B2buaEnv, src/b2bua/env.ts) each
 * extend it with what only they need.
 */
import type { SipUri } from '../sip/uri.js';
import type { Flow } from '../transport/types.js';
import type { Target } from '../transaction/types.js';
import type { TransactionLayer } from '../transaction/transaction-layer.js';
import type { TimerWheel } from '../transaction/timer-wheel.js';
import type { Interfaces } from '../dialog/interfaces.js';
import type { Counters } from './counters.js';
import type { EventBus } from './events.js';

/** Logging a stage does: one line per refusal or failure, at most. */
export interface StageLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** The transport as the stages use it (src/transport/transport-layer.ts). */
export interface StageTransport {
  sendTo(target: Target, data: Buffer): Promise<Flow>;
  send(flow: Flow, data: Buffer): boolean;
}

export interface StageEnv {
  layer: TransactionLayer;
  /** The timer wheel the transaction layer runs on (Timer C and the B2BUA's timers share it). */
  wheel: TimerWheel;
  transport: StageTransport;
  /** RFC 3263: the ordered targets for a URI (empty when it resolves to nothing). */
  locate(uri: SipUri): Promise<Target[]>;
  /** Each bound listener with its advertised and media address; which one a message leaves by. */
  interfaces: Interfaces;
  counters: Counters;
  log: StageLog;
  /** The Server / User-Agent value Trunkline writes (`sip.serverHeader`), or null for none. */
  agentName: string | null;
  /** The event bus (src/core/events.ts): calls, refused sources, registrations. */
  bus: EventBus;
}
