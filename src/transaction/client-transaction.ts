import type { SipMessage } from '../sip/message.js';
import { releasedRequest } from './released.js';
import { serialize, serializeUnpooled } from '../sip/serializer.js';
import type { Flow } from '../transport/types.js';
import { TransportError } from '../transport/transport-error.js';
import type { TimerHandle, TimerTarget } from './timer-wheel.js';
import { isReliable, type Target, type TransactionState } from './types.js';
import { errText, type LayerContext } from './context.js';
import { buildNon2xxAck } from './ack.js';

/** What the TU hears from a client transaction. Handlers run after the state change. */
export interface ClientHandlers {
  onProvisional?(res: SipMessage, tx: ClientTransaction): void;
  /** The first final response. For INVITE, further 2xx (Accepted) go to onRetransmitted2xx. */
  onFinal(res: SipMessage, tx: ClientTransaction): void;
  /** A 2xx to the INVITE while Accepted (RFC 6026 7.2): a retransmission or another fork's 2xx. */
  onRetransmitted2xx?(res: SipMessage, tx: ClientTransaction): void;
  /** Timer B/F fired: the TU acts as if a 408 came (RFC 3261 8.1.3.1, 16.7 step 2). */
  onTimeout(tx: ClientTransaction): void;
  /**
   * The request could not be sent: the TU acts as if a 503 came (8.1.3.1, RFC 3263 4.3 failover).
   * `err.code` says why (e.g. 'connect-refused': nothing listens at the target).
   */
  onTransportError(tx: ClientTransaction, err: TransportError): void;
}

// Timer ids (TimerTarget.onTimer).
const T_A = 11;
const T_B = 12;
const T_D = 13;
const T_E = 14;
const T_F = 15;
const T_K = 16;
const T_M = 17;

/**
 * A client transaction (RFC 3261 17.1): INVITE (figure 5 as updated by
 * RFC 6026 figure 5, with Accepted) or non-INVITE (figure 6). It sends the
 * request, retransmits it over unreliable transports, matches responses
 * (17.1.3, by the layer), ACKs 3xx-6xx responses itself and times out.
 */
export class ClientTransaction implements TimerTarget {
  readonly target: Target;
  readonly method: string;
  readonly branch: string;
  readonly isInvite: boolean;
  /** @internal map key (17.1.3) */
  readonly key: string;
  state: TransactionState;
  /** The flow the request went out on; null until sendTo() resolves. */
  flow: Flow | null = null;
  /** Last provisional status seen, 0 before any (9.1: a CANCEL only after a provisional). */
  lastProvisional = 0;

  private readonly ctx: LayerContext;
  /** The TU's handlers; a no-op set once nothing more can reach the TU (Completed, Terminated). */
  private handlers: ClientHandlers;
  /**
   * The request, until a final response came: then it is let go (Accepted,
   * Completed only wait out Timers M, D, K), so that finished transactions do
   * not keep whole messages alive for 32 s.
   */
  private req: SipMessage | null;
  private reliable: boolean;
  /** Request bytes, kept for retransmission over unreliable transports. */
  private bytes: Buffer | null;
  /** The ACK of a 3xx-6xx, sent again for each retransmitted final response (17.1.1.2). */
  private ackBytes: Buffer | null = null;
  /** Timer A or E. */
  private retransTimer: TimerHandle | null = null;
  /** Timer B, F, D, K or M. */
  private stateTimer: TimerHandle | null = null;
  private interval = 0;

  /** @internal created by TransactionLayer.sendRequest */
  constructor(
    ctx: LayerContext,
    request: SipMessage,
    target: Target,
    handlers: ClientHandlers,
    key: string,
    branch: string,
    flow: Flow | undefined,
  ) {
    this.ctx = ctx;
    this.req = request;
    this.method = request.method;
    this.target = target;
    this.handlers = handlers;
    this.key = key;
    this.branch = branch;
    this.isInvite = request.method === 'INVITE';
    this.state = this.isInvite ? 'Calling' : 'Trying';
    this.reliable = isReliable(flow !== undefined ? flow.proto : target.proto);
    this.bytes = serialize(request);
  }

  /**
   * The request sent. After the final response it is released, and this is
   * a stand-in with the method only (no header).
   */
  get request(): SipMessage {
    return this.req ?? releasedRequest(this.method);
  }

  /** Ends the transaction now: timers cancelled, removed from the layer, no callbacks (e.g. Timer C, 16.8). */
  terminate(): void {
    if (this.state !== 'Terminated') this.end();
  }

  // ---- from the layer -----------------------------------------------------------------

  /** @internal Sends the request and starts the timers (17.1.1.2, 17.1.2.2). */
  start(flow: Flow | undefined): void {
    const t1 = this.ctx.timers.t1;
    // Timer B / F run from the start, across a connection attempt too.
    this.stateTimer = this.ctx.wheel.scheduleFor(64 * t1, this, this.isInvite ? T_B : T_F);
    if (flow !== undefined) {
      let ok: boolean;
      try {
        ok = this.ctx.transport.send(flow, this.bytes!);
      } catch (err) {
        this.ctx.log.warn({ err: errText(err) }, 'transaction: transport send threw');
        ok = false;
      }
      if (ok) this.sent(flow);
      // Reported after sendRequest() returned, as a failed sendTo() is.
      else queueMicrotask(() => this.sendFailed(new TransportError('closed', this.target, 'send on flow failed')));
      return;
    }
    const transport = this.ctx.transport;
    if (transport.sendToNow !== undefined) {
      // UDP: no connection to wait for, so no promise and no microtask per request.
      let now: Flow | null;
      try {
        now = transport.sendToNow(this.target, this.bytes!);
      } catch (err) {
        queueMicrotask(() => this.sendFailed(err));
        return;
      }
      if (now !== null) {
        this.sent(now);
        return;
      }
    }
    let p: Promise<Flow>;
    try {
      p = transport.sendTo(this.target, this.bytes!);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (f) => this.sent(f),
      (err: unknown) => this.sendFailed(err),
    );
  }

  /** @internal A response matched this transaction (17.1.3). */
  receive(res: SipMessage, flow: Flow): void {
    const status = res.status;
    if (this.isInvite) this.receiveInvite(res, status, flow);
    else this.receiveNonInvite(res, status);
  }

  /** @internal stop timers without callbacks (layer stop()). */
  kill(): void {
    this.cancelRetrans();
    this.cancelState();
    this.state = 'Terminated';
  }

  onTimer(id: number): void {
    switch (id) {
      case T_A:
        this.retransTimer = null;
        if (this.state !== 'Calling') return;
        // 17.1.1.2: retransmit, Timer A doubles (no T2 cap for INVITE).
        if (!this.retransmit()) return;
        this.interval *= 2;
        this.retransTimer = this.ctx.wheel.scheduleFor(this.interval, this, T_A);
        return;
      case T_E: {
        this.retransTimer = null;
        if (this.state !== 'Trying' && this.state !== 'Proceeding') return;
        // 17.1.2.2: retransmit; doubling up to T2 in Trying, T2 in Proceeding.
        if (!this.retransmit()) return;
        const t2 = this.ctx.timers.t2;
        this.interval = this.state === 'Proceeding' ? t2 : Math.min(this.interval * 2, t2);
        this.retransTimer = this.ctx.wheel.scheduleFor(this.interval, this, T_E);
        return;
      }
      case T_B:
      case T_F:
        this.stateTimer = null;
        if (this.state !== 'Calling' && this.state !== 'Trying' && this.state !== 'Proceeding') return;
        // 17.1.1.2 / 17.1.2.2: the TU is told of the timeout (it acts as on a 408).
        this.end();
        try {
          this.handlers.onTimeout(this);
        } catch (err) {
          this.tuThrew('onTimeout', err);
        }
        return;
      case T_D:
      case T_K:
      case T_M:
        this.stateTimer = null;
        this.end();
        return;
      default:
        return;
    }
  }

  // ---- internals -----------------------------------------------------------------------

  private sent(flow: Flow): void {
    if (this.state === 'Terminated') return;
    this.flow = flow;
    this.reliable = isReliable(flow.proto);
    if (this.reliable) {
      this.bytes = null; // never retransmitted
      return;
    }
    const t1 = this.ctx.timers.t1;
    if (this.state === 'Calling') {
      this.interval = t1;
      this.retransTimer = this.ctx.wheel.scheduleFor(t1, this, T_A);
    } else if (this.state === 'Trying' || this.state === 'Proceeding') {
      this.interval = this.state === 'Trying' ? t1 : this.ctx.timers.t2;
      this.retransTimer = this.ctx.wheel.scheduleFor(this.interval, this, T_E);
    }
  }

  /** `err`: from the transport, a TransportError (anything else is wrapped as one toward the target). */
  private sendFailed(err: unknown): void {
    if (this.state === 'Terminated') return;
    this.failTransport(TransportError.of(err, this.target));
  }

  /** 17.1.4: a transport failure ends the transaction; the TU hears of it. */
  private failTransport(err: TransportError): void {
    this.end();
    try {
      this.handlers.onTransportError(this, err);
    } catch (e) {
      this.tuThrew('onTransportError', e);
    }
  }

  private retransmit(): boolean {
    const flow = this.flow;
    const bytes = this.bytes;
    if (flow === null || bytes === null) return false;
    let ok: boolean;
    try {
      ok = this.ctx.transport.send(flow, bytes);
    } catch (err) {
      this.ctx.log.warn({ err: errText(err) }, 'transaction: transport send threw');
      ok = false;
    }
    if (!ok) this.failTransport(new TransportError('closed', this.target, 'retransmission failed'));
    return ok;
  }

  private receiveInvite(res: SipMessage, status: number, flow: Flow): void {
    switch (this.state) {
      case 'Calling':
      case 'Proceeding':
        if (status < 200) {
          // 17.1.1.2: Proceeding; no more retransmissions, Timer B only runs in Calling.
          if (this.state === 'Calling') {
            this.state = 'Proceeding';
            this.stopSending(); // never retransmitted again: let the bytes go
          }
          this.lastProvisional = status;
          this.provisional(res);
          return;
        }
        this.stopSending();
        if (status < 300) {
          // RFC 6026 7.2: Accepted; the 2xx goes to the TU and is never ACKed here; Timer M.
          this.state = 'Accepted';
          this.req = null;
          this.stateTimer = this.ctx.wheel.scheduleFor(64 * this.ctx.timers.t1, this, T_M);
          this.final(res);
        } else {
          // 17.1.1.2: Completed; the ACK is ours (17.1.1.3); Timer D absorbs retransmitted finals.
          this.state = 'Completed';
          this.sendAck(res);
          this.req = null;
          if (this.reliable) this.end();
          else this.stateTimer = this.ctx.wheel.scheduleFor(this.ctx.timers.d, this, T_D);
          this.finalAndForget(res);
        }
        return;
      case 'Accepted':
        // RFC 6026 7.2: each further 2xx goes to the TU; anything else is absorbed.
        if (status >= 200 && status < 300 && this.handlers.onRetransmitted2xx !== undefined) {
          try {
            this.handlers.onRetransmitted2xx(res, this);
          } catch (err) {
            this.tuThrew('onRetransmitted2xx', err);
          }
        }
        return;
      case 'Completed':
        // 17.1.1.2: a retransmitted final response gets the ACK again, the TU hears nothing.
        if (status >= 300) {
          if (this.ackBytes !== null) this.sendRaw(this.ackBytes);
        } else if (status >= 200) {
          // A 2xx after a non-2xx (a broken or forking downstream): a proxy forwards every 2xx (16.7 step 5).
          this.ctx.stray(res, flow);
        }
        return;
      default:
        return;
    }
  }

  private receiveNonInvite(res: SipMessage, status: number): void {
    const state = this.state;
    if (state !== 'Trying' && state !== 'Proceeding') return; // Completed: retransmissions absorbed (17.1.2.2)
    if (status < 200) {
      // 17.1.2.2: Proceeding; Timer E keeps running (it resets to T2 when it next fires).
      this.state = 'Proceeding';
      this.lastProvisional = status;
      this.provisional(res);
      return;
    }
    // 17.1.2.2: Completed; Timer K (T4 unreliable, 0 reliable).
    this.stopSending();
    this.req = null;
    this.state = 'Completed';
    if (this.reliable) this.end();
    else this.stateTimer = this.ctx.wheel.scheduleFor(this.ctx.timers.t4, this, T_K);
    this.finalAndForget(res);
  }

  private sendAck(res: SipMessage): void {
    const req = this.req;
    if (req === null) return;
    let bytes: Buffer;
    try {
      // Kept for Timer D (32 s): a buffer of its own, not a slice of a pool slab.
      bytes = serializeUnpooled(buildNon2xxAck(req, res));
    } catch (err) {
      this.ctx.log.warn({ err: errText(err), branch: this.branch }, 'transaction: ACK not built');
      return;
    }
    this.ackBytes = bytes;
    this.sendRaw(bytes);
  }

  /** ACK sends: a failure is logged only (the transaction already has its final response). */
  private sendRaw(bytes: Buffer): void {
    const flow = this.flow;
    try {
      if (flow !== null) {
        if (!this.ctx.transport.send(flow, bytes))
          this.ctx.log.debug({ branch: this.branch }, 'transaction: ACK not sent');
      } else {
        // 17.1.1.3: to where the INVITE went.
        this.ctx.transport.sendTo(this.target, bytes).catch((err: unknown) => {
          this.ctx.log.debug({ err: errText(err), branch: this.branch }, 'transaction: ACK not sent');
        });
      }
    } catch (err) {
      this.ctx.log.debug({ err: errText(err), branch: this.branch }, 'transaction: ACK not sent');
    }
  }

  private provisional(res: SipMessage): void {
    const h = this.handlers.onProvisional;
    if (h === undefined) return;
    try {
      h.call(this.handlers, res, this);
    } catch (err) {
      this.tuThrew('onProvisional', err);
    }
  }

  private final(res: SipMessage): void {
    try {
      this.handlers.onFinal(res, this);
    } catch (err) {
      this.tuThrew('onFinal', err);
    }
  }

  /**
   * The TU gives what it still hears from this transaction to `handlers`,
   * kept instead of its own: a proxy whose forwarding ended keeps only what
   * relays the 2xx of Accepted (RFC 6026 7.2) for Timer M, not its whole
   * forwarding state. A transaction that forgot its TU stays so.
   */
  handOver(handlers: ClientHandlers): void {
    if (this.handlers !== FORGOTTEN) this.handlers = handlers;
  }

  /** The final response to the TU, which hears nothing more from this transaction: its handlers are let go. */
  private finalAndForget(res: SipMessage): void {
    const h = this.handlers;
    this.handlers = FORGOTTEN;
    try {
      h.onFinal(res, this);
    } catch (err) {
      this.tuThrew('onFinal', err);
    }
  }

  private tuThrew(handler: string, err: unknown): void {
    this.ctx.log.warn({ err: errText(err), handler, branch: this.branch }, 'transaction: TU handler threw');
  }

  private end(): void {
    this.stopSending();
    this.ackBytes = null;
    this.req = null;
    this.state = 'Terminated';
    this.ctx.clientEnded(this);
  }

  /** Stops both timers and lets the request bytes go: nothing is (re)sent from here on. */
  private stopSending(): void {
    this.cancelRetrans();
    this.cancelState();
    this.bytes = null;
  }

  private cancelRetrans(): void {
    this.retransTimer = this.ctx.wheel.cancelIfSet(this.retransTimer);
  }

  private cancelState(): void {
    this.stateTimer = this.ctx.wheel.cancelIfSet(this.stateTimer);
  }
}

/** Handlers of a transaction the TU no longer hears from. */
const FORGOTTEN: ClientHandlers = {
  onFinal: () => undefined,
  onTimeout: () => undefined,
  onTransportError: () => undefined,
};
