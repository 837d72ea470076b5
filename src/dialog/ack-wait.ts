import type { SipMessage } from '../sip/message.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { TimerHandle, TimerWheel } from '../transaction/timer-wheel.js';

/** The timer wheel and RFC 3261 T1 and T2 (ms) that time a 2xx's retransmissions. */
export interface RetransmitClock {
  wheel: TimerWheel;
  t1: number;
  t2: number;
}

/** What follows a 2xx we answered: its ACK, or none within 64*T1. */
export interface AckWaitHandlers {
  onAck(ack: SipMessage): void;
  onTimeout(): void;
}

/**
 * A 2xx we answered to an INVITE, waiting for its ACK: the transaction
 * layer does not retransmit it (RFC 3261 17.2.1), so it is sent again over
 * UDP, doubling from T1 to T2, until the ACK comes or 64*T1 has passed
 * (13.3.1.4). Over a reliable transport it is sent once and the wait is
 * the same 64*T1.
 */
export class AckWait {
  private interval: number;
  private elapsed = 0;
  private timer: TimerHandle | null;
  private readonly reliable: boolean;
  /** The dialog ends once acknowledged: the handlers are what ends it (RFC 3261 15: no BYE before the ACK). */
  ending = false;

  constructor(
    readonly res: SipMessage,
    private readonly tx: ServerTransaction,
    private readonly clock: RetransmitClock,
    private handlers: AckWaitHandlers,
    /** Called once the wait is over (acknowledged or timed out), before the handler runs. */
    private readonly settled: () => void,
  ) {
    this.interval = clock.t1;
    this.reliable = tx.flow.proto !== 'udp';
    tx.respond(res);
    this.timer = clock.wheel.schedule(this.reliable ? 64 * clock.t1 : clock.t1, () => this.tick());
  }

  /** The peer's ACK: true when it acknowledges this 2xx (same CSeq); the wait ends and onAck runs. */
  ack(ack: SipMessage): boolean {
    if (ack.cseq.seq !== this.res.cseq.seq) return false;
    this.stop();
    this.settled();
    this.handlers.onAck(ack);
    return true;
  }

  /** Other handlers from now on, and the wait marked as ending the dialog. */
  endWith(handlers: AckWaitHandlers): void {
    this.handlers = handlers;
    this.ending = true;
  }

  /** No more retransmissions, no handler. */
  stop(): void {
    if (this.timer !== null) this.clock.wheel.cancel(this.timer);
    this.timer = null;
  }

  private tick(): void {
    this.timer = null;
    // Over a reliable transport the one timer was the whole wait.
    this.elapsed = this.reliable ? 64 * this.clock.t1 : this.elapsed + this.interval;
    if (this.elapsed >= 64 * this.clock.t1) {
      this.settled();
      this.handlers.onTimeout();
      return;
    }
    this.tx.respond(this.res);
    this.interval = Math.min(this.interval * 2, this.clock.t2);
    this.timer = this.clock.wheel.schedule(this.interval, () => this.tick());
  }
}
