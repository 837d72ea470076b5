import { randomInt } from 'node:crypto';
import type { SipMessage } from '../sip/message.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { TimerHandle } from '../transaction/timer-wheel.js';
import type { RetransmitClock } from '../dialog/ack-wait.js';
import { REL100, type RAck } from './rel100.js';

/** A reliable provisional sent and not yet PRACKed. */
interface Outstanding {
  res: SipMessage;
  rseq: number;
  /** It carries a session description: no 2xx before its PRACK (RFC 3262 3). */
  sdp: boolean;
  timer: TimerHandle | null;
  interval: number;
  elapsed: number;
}

/**
 * The reliable provisional responses we send as the UAS of one INVITE
 * (RFC 3262 3): each carries Require: 100rel and an RSeq (a random first
 * value, then one more each); it is sent again at T1, doubling with no T2
 * cap, whatever the transport, until its PRACK; after 64*T1 without one,
 * `onTimeout` runs (the request is to be rejected with a 5xx). No more than
 * one is unacknowledged at a time: later ones wait in order.
 */
export class ReliableSender {
  private next = 1 + randomInt(2 ** 30);
  private out: Outstanding | null = null;
  private readonly queue: Array<{ res: SipMessage; sdp: boolean }> = [];
  /** A 2xx waiting for the PRACK of a provisional with SDP: resolved true on it, false on the timeout. */
  private waiting: Array<(acked: boolean) => void> = [];
  private over = false;
  /** A provisional with SDP (the answer) went out. */
  answerSent = false;
  /** The PRACK of a provisional with SDP came: the early offer/answer is complete (RFC 3311 5.1). */
  answerAcked = false;

  constructor(
    private readonly tx: ServerTransaction,
    private readonly inviteSeq: number,
    private readonly clock: RetransmitClock,
    private readonly onTimeout: () => void,
  ) {}

  /** Sends `res` reliably now, or after the PRACKs of those before it. */
  send(res: SipMessage, sdp: boolean): void {
    if (this.over) return;
    if (this.out !== null) this.queue.push({ res, sdp });
    else this.transmit(res, sdp);
  }

  /** Whether a provisional is outstanding or queued (a later unreliable one must not overtake it). */
  get busy(): boolean {
    return this.out !== null || this.queue.length > 0;
  }

  /** A PRACK's RAck: true when it acknowledges the outstanding provisional (answer it 200), false for 481 (RFC 3262 3). */
  prack(rack: RAck): boolean {
    const o = this.out;
    if (o === null || rack.rseq !== o.rseq || rack.cseq !== this.inviteSeq || rack.method !== 'INVITE') return false;
    this.cancel(o);
    this.out = null;
    if (o.sdp) this.answerAcked = true;
    // The next one after the 200 to this PRACK (sent by our caller on return).
    if (!o.sdp || !this.settle(true)) queueMicrotask(() => this.sendNext());
    return true;
  }

  /**
   * Before a 2xx to the INVITE (RFC 3262 3): provisionals not yet sent are
   * dropped; resolves true at once unless the outstanding one carries SDP,
   * then on its PRACK (true) or the timeout (false).
   */
  beforeAnswer(): Promise<boolean> {
    this.queue.length = 0;
    if (this.out === null || !this.out.sdp) {
      this.stop();
      return Promise.resolve(true);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Nothing more is sent (a final response went, the call ended); a PRACK still matches the last one sent. */
  stop(): void {
    this.over = true;
    this.queue.length = 0;
    if (this.out !== null) this.cancel(this.out);
    this.settle(false);
  }

  private sendNext(): void {
    const n = this.queue.shift();
    if (n !== undefined && !this.over && this.out === null) this.transmit(n.res, n.sdp);
  }

  private transmit(res: SipMessage, sdp: boolean): void {
    const rseq = this.next++;
    res.appendHeader('Require', REL100);
    res.appendHeader('RSeq', String(rseq));
    const t1 = this.clock.t1;
    const o: Outstanding = { res, rseq, sdp, timer: null, interval: t1, elapsed: 0 };
    this.out = o;
    if (sdp) this.answerSent = true;
    this.tx.respond(res);
    o.timer = this.clock.wheel.schedule(t1, () => this.tick(o));
  }

  private tick(o: Outstanding): void {
    o.timer = null;
    if (this.out !== o) return;
    o.elapsed += o.interval;
    if (o.elapsed >= 64 * this.clock.t1) {
      this.over = true;
      this.settle(false);
      this.onTimeout();
      return;
    }
    this.tx.respond(o.res);
    o.interval *= 2;
    o.timer = this.clock.wheel.schedule(Math.min(o.interval, 64 * this.clock.t1 - o.elapsed), () => this.tick(o));
  }

  private cancel(o: Outstanding): void {
    if (o.timer !== null) this.clock.wheel.cancel(o.timer);
    o.timer = null;
  }

  /** Resolves the 2xx waiting (if any): true when one was. */
  private settle(acked: boolean): boolean {
    const w = this.waiting;
    if (w.length === 0) return false;
    this.waiting = [];
    if (acked) this.stop();
    for (const resolve of w) resolve(acked);
    return true;
  }
}
