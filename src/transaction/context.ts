import type { SipMessage } from '../sip/message.js';
import type { Flow } from '../transport/types.js';
import type { TimerWheel } from './timer-wheel.js';
import type { TimerConfig, TransactionLog, TransactionTransport } from './types.js';
import type { ServerTransaction } from './server-transaction.js';
import type { ClientTransaction } from './client-transaction.js';

/** What a transaction needs from the layer that owns it. Internal. */
export interface LayerContext {
  readonly transport: TransactionTransport;
  readonly wheel: TimerWheel;
  readonly timers: Readonly<Required<TimerConfig>>;
  readonly log: TransactionLog;
  /** The transaction reached Terminated: drop it from the maps. */
  serverEnded(tx: ServerTransaction): void;
  clientEnded(tx: ClientTransaction): void;
  /** A response the TU must see although a transaction matched it (goes to onStrayResponse). */
  stray(res: SipMessage, flow: Flow): void;
}

/** Error text for logs. */
export function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
