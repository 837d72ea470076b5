import type { Target } from '../transaction/types.js';
import type { ProbeCancel } from '../transport/udp-probe.js';
import type { TransportError } from '../transport/transport-error.js';
import type { StageEnv, StageLog } from '../core/stage-env.js';
import type { Cdr } from '../trunking/model.js';
import type { MediaLink } from './media-link.js';
import type { SessionTimerPolicy } from './timer-policy.js';
import type { TransferPolicy } from './transfer-policy.js';

export type B2buaLog = StageLog;

/** Where CDRs go (the store's cdrs repository). Never throws into the call. */
export interface CdrSink {
  write(cdr: Cdr): Promise<void>;
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

/**
 * What the B2BUA needs from the rest of the server: the shared record
 * (src/core/stage-env.ts; calls are published on its `bus`: call.started,
 * call.answered, call.ended, source.refused) and its own parts.
 */
export interface B2buaEnv extends StageEnv {
  timers: B2buaTimers;
  cdrs: CdrSink;
  /** The media engine (SDP anchored), or a link without one (SDP passes as is). */
  media: MediaLink;
  /**
   * Probes a UDP target for an ICMP port unreachable (src/transport/udp-probe.ts):
   * `onRefused` runs if nothing listens there (a TransportError 'connect-refused'); returns a cancel function,
   * told whether the target answered (then it is not probed again for a while). Absent: no probe.
   */
  probeUdp?(target: Target, onRefused: (err: TransportError) => void): ProbeCancel;
  /** RFC 4028 session timers per leg (`trunking.sessionTimer`); absent: none (Session-Expires crosses as any header). */
  sessionTimers?: SessionTimerPolicy;
  /** What a REFER or an INVITE with Replaces meets per trunk / carrier (`trunking.transfer`); absent: REFER relayed. */
  transfers?: TransferPolicy;
  /** Concurrent calls per carrier and gateway (`routing.carriers`, src/trunking/gateway-load.ts); absent: no capacity. */
  load?: { tryAcquire(carrier: string, gateway: string): (() => void) | null };
}
