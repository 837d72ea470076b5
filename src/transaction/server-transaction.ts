import type { SipMessage } from '../sip/message.js';
import { SipSyntaxError } from '../sip/errors.js';
import { releasedRequest, releasedResponse } from './released.js';
import { createResponse } from '../sip/response.js';
import { serialize, serializeUnpooled } from '../sip/serializer.js';
import type { Flow } from '../transport/types.js';
import type { TimerHandle, TimerTarget } from './timer-wheel.js';
import { isReliable, type TransactionState } from './types.js';
import { errText, type LayerContext } from './context.js';
import { isRfc3261Branch } from './keys.js';

// Timer ids (TimerTarget.onTimer).
const T_TRYING = 1;
const T_G = 2;
const T_H = 3;
const T_I = 4;
const T_J = 5;
const T_L = 6;

/** What the layer does with an ACK that matched an INVITE server transaction. */
export const enum AckOutcome {
  /** Absorbed by the transaction (Completed/Confirmed, RFC 3261 17.2.1). */
  Absorbed,
  /** Passed to the TU (Accepted, RFC 6026 7.1). */
  ToTu,
}

/**
 * A server transaction (RFC 3261 17.2): INVITE (figure 7 as updated by
 * RFC 6026 figure 7, with Accepted) or non-INVITE (figure 8). The TU answers
 * through respond(); the transaction retransmits responses over unreliable
 * transports, absorbs request retransmissions, and ends itself on its timers.
 */
export class ServerTransaction implements TimerTarget {
  readonly flow: Flow;
  readonly method: string;
  readonly isInvite: boolean;
  /** Top Via branch of the request; '' for an RFC 2543 request without one. */
  readonly branch: string;
  /** @internal map key (17.2.3) */
  readonly key: string;
  state: TransactionState;
  /** Fires once when an INVITE server transaction ends without an ACK (Timer H) or a response cannot be sent. */
  onError?: (reason: 'timeout' | 'transport') => void;

  private readonly ctx: LayerContext;
  private readonly reliable: boolean;
  /**
   * The request, until the transaction only waits out its timers (Accepted,
   * Completed non-INVITE, Confirmed): then it is let go, so that thousands of
   * finished transactions do not keep whole messages and their source
   * buffers alive for 32 s (garbage-collector work grows with the live heap).
   */
  private req: SipMessage | null;
  /** Last response sent, until released as the request is; its status, reason and To tag stay. */
  private last: SipMessage | null = null;
  private lastStatus = 0;
  private lastReason = '';
  /** To tag of the final response sent (RFC 2543 ACK matching); undefined until read or released. */
  private finalToTag: string | null | undefined = undefined;
  /** Bytes of the last response, sent again on a request retransmission or Timer G. */
  private lastBytes: Buffer | null = null;
  /** Timer G (or the 100 Trying delay in Proceeding). */
  private retransTimer: TimerHandle | null = null;
  /** Timer H, I, J or L. */
  private stateTimer: TimerHandle | null = null;
  private interval = 0;

  /** @internal created by TransactionLayer */
  constructor(ctx: LayerContext, request: SipMessage, flow: Flow, key: string, branch: string) {
    this.ctx = ctx;
    this.req = request;
    this.flow = flow;
    this.key = key;
    this.branch = branch;
    this.method = request.method;
    this.isInvite = request.method === 'INVITE';
    this.reliable = isReliable(flow.proto);
    if (this.isInvite) {
      // 17.2.1: Proceeding at once; a 100 Trying unless the TU answers within 200 ms.
      this.state = 'Proceeding';
      this.retransTimer = ctx.wheel.scheduleFor(ctx.timers.trying, this, T_TRYING);
    } else {
      this.state = 'Trying'; // 17.2.2
    }
  }

  /**
   * The request that created the transaction. Once the transaction only
   * waits out its timers the message is released, and this is a stand-in
   * with the method only (no header): the TU has no use for it by then.
   */
  get request(): SipMessage {
    return this.req ?? releasedRequest(this.method);
  }

  /**
   * Last response the TU sent through this transaction, or null. Once the
   * transaction only waits out its timers, a stand-in with the same status
   * and reason (no header).
   */
  get lastResponse(): SipMessage | null {
    if (this.last !== null) return this.last;
    return this.lastStatus === 0 ? null : releasedResponse(this.lastStatus, this.lastReason);
  }

  /**
   * Sends a response of the TU (17.2.1, 17.2.2, RFC 6026 7.1). A response the
   * state no longer allows (a second final response) is dropped and logged.
   * A 2xx to an INVITE after the transaction ended is still sent (RFC 6026
   * 8.5: the TU retransmits its 2xx itself).
   */
  respond(res: SipMessage): void {
    const status = res.status;
    if (res.isRequest || status < 100 || status > 699) {
      this.ctx.log.warn({ callId: this.callIdSafe() }, 'transaction: respond() with something that is not a response');
      return;
    }
    const state = this.state;
    if (this.isInvite) {
      if (state === 'Proceeding') {
        this.cancelRetrans(); // the 100 Trying timer: the TU answered
        if (!this.sendResponse(res)) return;
        if (status < 200) return;
        if (status < 300) {
          // RFC 6026 7.1: Accepted, Timer L; the TU retransmits its 2xx.
          this.state = 'Accepted';
          this.lastBytes = null; // absorbed retransmissions never need them
          this.release();
          this.stateTimer = this.ctx.wheel.scheduleFor(64 * this.ctx.timers.t1, this, T_L);
        } else {
          // 17.2.1: Completed; Timer G retransmits over unreliable transports, Timer H waits for the ACK.
          this.state = 'Completed';
          if (!this.reliable) {
            this.interval = this.ctx.timers.t1;
            this.retransTimer = this.ctx.wheel.scheduleFor(this.interval, this, T_G);
          }
          this.stateTimer = this.ctx.wheel.scheduleFor(64 * this.ctx.timers.t1, this, T_H);
        }
        return;
      }
      if ((state === 'Accepted' || state === 'Terminated') && status >= 200 && status < 300) {
        // RFC 6026 7.1: 2xx retransmissions from the TU go out; Accepted stays.
        const bytes = serialize(res);
        if (!this.transmit(bytes)) return;
        // In Accepted the bytes are never sent again (INVITE retransmissions are absorbed): note only the status.
        if (state === 'Accepted') this.noteStatus(res);
        return;
      }
    } else if (state === 'Trying' || state === 'Proceeding') {
      if (!this.sendResponse(res)) return;
      if (status < 200) {
        this.state = 'Proceeding';
        return;
      }
      // 17.2.2: Completed; Timer J (64*T1 unreliable, 0 reliable) keeps absorbing retransmissions.
      this.state = 'Completed';
      if (this.reliable) this.end();
      else {
        this.release();
        this.stateTimer = this.ctx.wheel.scheduleFor(64 * this.ctx.timers.t1, this, T_J);
      }
      return;
    }
    this.ctx.log.debug(
      { callId: this.callIdSafe(), state, status, method: this.method },
      'transaction: response not allowed in this state dropped',
    );
  }

  /** Ends the transaction now: timers cancelled, removed from the layer, no callbacks. */
  terminate(): void {
    if (this.state !== 'Terminated') this.end();
  }

  // ---- from the layer -----------------------------------------------------------

  /** @internal A retransmission of the request (17.2.1, 17.2.2, RFC 6026 7.1). */
  retransmission(): void {
    switch (this.state) {
      case 'Proceeding':
        if (this.lastBytes !== null) this.transmit(this.lastBytes);
        else if (this.isInvite) {
          // The client is retransmitting: no need to wait out the 200 ms.
          this.cancelRetrans();
          this.sendTrying();
        }
        return;
      case 'Completed':
        if (this.lastBytes !== null) this.transmit(this.lastBytes);
        return;
      default:
        // Trying (17.2.2), Accepted (RFC 6026 7.1), Confirmed (17.2.1): absorbed.
        return;
    }
  }

  /** @internal An ACK that matched this INVITE transaction. */
  ack(): AckOutcome | null {
    switch (this.state) {
      case 'Completed':
        // 17.2.1: Confirmed; Timer G stops, Timer I (T4 unreliable, 0 reliable) absorbs ACK retransmissions.
        this.cancelRetrans();
        this.cancelState();
        this.state = 'Confirmed';
        if (this.reliable) this.end();
        else {
          // Retransmitted ACKs are absorbed without a send: nothing to keep.
          this.lastBytes = null;
          this.release();
          this.stateTimer = this.ctx.wheel.scheduleFor(this.ctx.timers.t4, this, T_I);
        }
        return AckOutcome.Absorbed;
      case 'Confirmed':
        return AckOutcome.Absorbed;
      case 'Accepted':
        return AckOutcome.ToTu;
      default:
        // Proceeding: an ACK before any final response acknowledges nothing.
        return null;
    }
  }

  /** @internal To tag of the final response sent (RFC 2543 ACK matching, 17.2.3; an RFC 3261 transaction lets it go on release). */
  responseToTag(): string | null {
    if (this.lastStatus < 200) return null;
    if (this.finalToTag === undefined) this.finalToTag = toTagOf(this.last);
    return this.finalToTag;
  }

  /** @internal stop timers without callbacks (layer stop()). */
  kill(): void {
    this.cancelRetrans();
    this.cancelState();
    this.state = 'Terminated';
  }

  onTimer(id: number): void {
    switch (id) {
      case T_TRYING:
        this.retransTimer = null;
        if (this.state === 'Proceeding' && this.lastBytes === null) this.sendTrying();
        return;
      case T_G: {
        this.retransTimer = null;
        if (this.state !== 'Completed' || this.lastBytes === null) return;
        // 17.2.1: retransmit, interval doubles up to T2.
        if (!this.transmit(this.lastBytes)) return;
        const t2 = this.ctx.timers.t2;
        this.interval = this.interval * 2 < t2 ? this.interval * 2 : t2;
        this.retransTimer = this.ctx.wheel.scheduleFor(this.interval, this, T_G);
        return;
      }
      case T_H:
        // 17.2.1: no ACK came; the TU learns of the failure.
        this.stateTimer = null;
        if (this.state !== 'Completed') return;
        this.end();
        this.reportError('timeout');
        return;
      case T_I:
      case T_J:
      case T_L:
        this.stateTimer = null;
        this.end();
        return;
      default:
        return;
    }
  }

  // ---- internals -------------------------------------------------------------------

  private sendTrying(): void {
    const req = this.req;
    if (req === null) return;
    const ts = req.get('Timestamp');
    // 8.2.6.1: a 100 Trying copies Timestamp; 8.2.6.2: no To tag is added to a 100.
    const trying = createResponse(req, 100, ts === undefined ? {} : { headers: [['Timestamp', ts]] });
    this.sendResponse(trying);
  }

  /** Serializes, sends, records as last response. False on a transport error (the transaction then ended). */
  private sendResponse(res: SipMessage): boolean {
    // A final response over an unreliable transport is kept for retransmissions (Timers G, J: up to 32 s):
    // its bytes get a buffer of their own, so they do not pin an 8 KiB slab of Node's Buffer pool.
    const bytes =
      res.status >= 200 && !this.reliable && !(this.isInvite && res.status < 300)
        ? serializeUnpooled(res)
        : serialize(res);
    if (!this.transmit(bytes)) return false;
    this.last = res;
    this.noteStatus(res);
    this.lastBytes = bytes;
    return true;
  }

  private noteStatus(res: SipMessage): void {
    this.lastStatus = res.status;
    this.lastReason = res.reason;
    this.finalToTag = undefined;
  }

  /** The transaction only waits out its timers from now on: let the messages go, keep what matching needs. */
  private release(): void {
    // Only RFC 2543 ACK matching asks for the final To tag (17.2.3); an RFC 3261 ACK matches by branch.
    if (this.lastStatus >= 200 && this.finalToTag === undefined && !isRfc3261Branch(this.branch))
      this.finalToTag = toTagOf(this.last);
    this.req = null;
    this.last = null;
  }

  private transmit(bytes: Buffer): boolean {
    let ok: boolean;
    try {
      ok = this.ctx.transport.send(this.flow, bytes);
    } catch (err) {
      this.ctx.log.warn({ err: errText(err) }, 'transaction: transport send threw');
      ok = false;
    }
    if (ok) return true;
    // 17.2.4: a transport failure ends the transaction and is reported to the TU.
    if (this.state !== 'Terminated') {
      this.end();
      this.reportError('transport');
    }
    return false;
  }

  private reportError(reason: 'timeout' | 'transport'): void {
    const cb = this.onError;
    if (cb === undefined) return;
    this.onError = undefined; // once
    try {
      cb(reason);
    } catch (err) {
      this.ctx.log.warn({ err: errText(err), reason }, 'transaction: TU onError handler threw');
    }
  }

  private end(): void {
    this.cancelRetrans();
    this.cancelState();
    this.state = 'Terminated';
    this.lastBytes = null;
    this.release();
    this.ctx.serverEnded(this);
  }

  private cancelRetrans(): void {
    this.retransTimer = this.ctx.wheel.cancelIfSet(this.retransTimer);
  }

  private cancelState(): void {
    this.stateTimer = this.ctx.wheel.cancelIfSet(this.stateTimer);
  }

  private callIdSafe(): string | undefined {
    return this.req?.get('Call-ID');
  }
}

function toTagOf(res: SipMessage | null): string | null {
  if (res === null) return null;
  try {
    return res.toTag;
  } catch (err) {
    // A To we cannot read has no tag to match the ACK by (no closure here: this runs per final response).
    if (err instanceof SipSyntaxError) return null;
    throw err;
  }
}
