import type { SipMessage } from '../sip/message.js';
import { viaBranch } from '../sip/via.js';
import type { Flow } from '../transport/types.js';
import { TimerWheel, type TimerHandle } from './timer-wheel.js';
import {
  DEFAULT_TIMERS,
  type Target,
  type TimerConfig,
  type TransactionLog,
  type TransactionTransport,
} from './types.js';
import { errText, type LayerContext } from './context.js';
import { ServerTransaction, AckOutcome } from './server-transaction.js';
import { ClientTransaction, type ClientHandlers } from './client-transaction.js';
import { branchWithin, clientKey, isRfc3261Branch, serverKey2543, serverKey3261 } from './keys.js';

export { ServerTransaction } from './server-transaction.js';
export { ClientTransaction, type ClientHandlers } from './client-transaction.js';

/** The transaction user: the proxy core (RFC 3261 16) above this layer. */
export interface TransactionUser {
  /**
   * A new request that is not a retransmission: INVITE/non-INVITE get a
   * server transaction; an ACK that matched no INVITE server transaction
   * (ACK for a 2xx), or one that matched an Accepted one, comes with tx =
   * null. CANCEL gets its own non-INVITE server transaction; the layer
   * answers nothing itself for CANCEL: the TU finds the INVITE with
   * findInviteServerTransaction(cancel) and answers 200/481.
   */
  onRequest(req: SipMessage, tx: ServerTransaction | null, flow: Flow): void;
  /**
   * A response that matched no client transaction (e.g. a 2xx retransmission
   * after the client transaction ended): the proxy forwards it statelessly
   * (RFC 3261 16.7/18.1.2, RFC 6026 7.3). Also a 2xx that arrives at an
   * INVITE client transaction after its non-2xx final response (Completed):
   * a proxy forwards every 2xx (16.7 step 5).
   */
  onStrayResponse(res: SipMessage, flow: Flow): void;
}

export interface TransactionLayerOptions {
  transport: TransactionTransport;
  timers?: Partial<TimerConfig>;
  log?: TransactionLog;
  /** A shared wheel; the layer makes its own (10 ms) when omitted. */
  wheel?: TimerWheel;
}

const NO_LOG: TransactionLog = { warn() {}, debug() {} };

/**
 * The SIP transaction layer (RFC 3261 17, RFC 6026): matches requests and
 * responses to transactions with one Map lookup each, runs the four state
 * machines with their timers on one shared TimerWheel, and hands the TU only
 * what it must see: new requests, ACKs for 2xx, first and further 2xx final
 * responses, and responses no transaction claims.
 */
export class TransactionLayer {
  private readonly ctx: LayerContext;
  private readonly wheel: TimerWheel;
  private readonly ownWheel: boolean;
  private readonly log: TransactionLog;
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly clients = new Map<string, ClientTransaction>();
  private tu: TransactionUser | null = null;
  /** Pending drain() promises, settled by stop() at the latest. */
  private drains: Array<() => void> = [];

  constructor(opts: TransactionLayerOptions) {
    this.log = opts.log ?? NO_LOG;
    this.ownWheel = opts.wheel === undefined;
    this.wheel = opts.wheel ?? new TimerWheel(10);
    const timers = { ...DEFAULT_TIMERS };
    for (const k of Object.keys(opts.timers ?? {}) as Array<keyof TimerConfig>) {
      const v = opts.timers![k];
      if (v !== undefined) {
        if (!(v >= 0) || !Number.isFinite(v))
          throw new RangeError(`transaction timer ${k} must be a finite number >= 0`);
        timers[k] = v;
      }
    }
    if (!(timers.t1 > 0)) throw new RangeError('transaction timer t1 must be > 0');
    const layer = this;
    this.ctx = {
      transport: opts.transport,
      wheel: this.wheel,
      timers: Object.freeze(timers),
      log: this.log,
      serverEnded(tx: ServerTransaction): void {
        layer.removeServer(tx);
      },
      clientEnded(tx: ClientTransaction): void {
        layer.removeClient(tx);
      },
      stray(res: SipMessage, flow: Flow): void {
        layer.deliverStray(res, flow);
      },
    };
  }

  setUser(tu: TransactionUser): void {
    this.tu = tu;
  }

  /** Timer values in use (defaults filled in). */
  get timers(): Readonly<Required<TimerConfig>> {
    return this.ctx.timers;
  }

  // ---- requests in (17.2.3) -----------------------------------------------------

  /** Called by the ingress for every valid request. */
  receiveRequest(req: SipMessage, flow: Flow): void {
    const method = req.method;
    const via = req.topVia;
    const branch = viaBranch(via);
    const rfc3261 = isRfc3261Branch(branch);

    if (method === 'ACK') {
      const tx = rfc3261 ? this.servers.get(serverKey3261(branch, via, 'INVITE')) : this.find2543Invite(req, branch);
      if (tx !== undefined && tx.isInvite) {
        const outcome = tx.ack();
        if (outcome === AckOutcome.Absorbed) return;
        if (outcome === null) {
          this.log.debug(
            { callId: req.get('Call-ID'), state: tx.state },
            'transaction: ACK before a final response dropped',
          );
          return;
        }
      }
      // ACK for a 2xx: end to end, no transaction (17.1.1.3, RFC 6026 7.1).
      this.deliverRequest(req, null, flow);
      return;
    }

    const key = rfc3261 ? serverKey3261(branch, via, method) : serverKey2543(req, via, branch, method, req.toTag ?? '');
    const existing = this.servers.get(key);
    if (existing !== undefined) {
      existing.retransmission();
      return;
    }
    const tx = new ServerTransaction(this.ctx, req, flow, key, branchWithin(key, branch ?? ''));
    this.servers.set(key, tx);
    this.deliverRequest(req, tx, flow);
  }

  /**
   * RFC 2543 ACK matching (17.2.3): Request-URI, From tag, Call-ID, CSeq
   * number and top Via of the INVITE, and the To tag of the response sent.
   * The INVITE had no To tag (initial) or the same one (re-INVITE).
   */
  private find2543Invite(ack: SipMessage, branch: string | null): ServerTransaction | undefined {
    const via = ack.topVia;
    const ackTag = ack.toTag;
    let tx = this.servers.get(serverKey2543(ack, via, branch, 'INVITE', ''));
    if (tx === undefined && ackTag !== null) tx = this.servers.get(serverKey2543(ack, via, branch, 'INVITE', ackTag));
    if (tx === undefined) return undefined;
    return tx.responseToTag() === ackTag ? tx : undefined;
  }

  /**
   * The INVITE server transaction a CANCEL cancels (9.2): the same branch and
   * sent-by with method INVITE, or for an RFC 2543 CANCEL the 17.2.3 rules
   * as if its method were INVITE.
   */
  findInviteServerTransaction(cancel: SipMessage): ServerTransaction | undefined {
    const via = cancel.topVia;
    const branch = viaBranch(via);
    const key = isRfc3261Branch(branch)
      ? serverKey3261(branch, via, 'INVITE')
      : serverKey2543(cancel, via, branch, 'INVITE', cancel.toTag ?? '');
    const tx = this.servers.get(key);
    return tx !== undefined && tx.isInvite ? tx : undefined;
  }

  // ---- responses in (17.1.3) ------------------------------------------------------

  /** Called by the ingress for every valid response. */
  receiveResponse(res: SipMessage, flow: Flow): void {
    const branch = viaBranch(res.topVia);
    const tx = branch === null ? undefined : this.clients.get(clientKey(branch, res.cseq.method));
    if (tx !== undefined) tx.receive(res, flow);
    else this.deliverStray(res, flow);
  }

  private deliverStray(res: SipMessage, flow: Flow): void {
    const tu = this.tu;
    if (tu === null) {
      this.log.debug({ status: res.status }, 'transaction: stray response with no TU dropped');
      return;
    }
    try {
      tu.onStrayResponse(res, flow);
    } catch (err) {
      this.log.warn({ err: errText(err) }, 'transaction: TU onStrayResponse threw');
    }
  }

  // ---- requests out ---------------------------------------------------------------------

  /**
   * Sends a request through a new client transaction. The request's top Via
   * must already carry the branch (the caller adds the Via; the layer keys on
   * it). With flow, the request goes on that existing flow (in-dialog
   * requests on a connection) instead of transport.sendTo(target).
   * Transport errors are reported to handlers.onTransportError, never thrown,
   * and always after this returns.
   */
  sendRequest(req: SipMessage, target: Target, handlers: ClientHandlers, flow?: Flow): ClientTransaction {
    if (!req.isRequest || req.method === 'ACK') {
      throw new Error('sendRequest: ACK and responses have no client transaction (RFC 3261 17.1)');
    }
    const branch = viaBranch(req.topVia);
    if (branch === null || branch.length === 0) throw new Error('sendRequest: top Via has no branch');
    const key = clientKey(branch, req.method);
    if (this.clients.has(key))
      throw new Error(`sendRequest: a client transaction with branch ${branch} ${req.method} exists`);
    const tx = new ClientTransaction(this.ctx, req, target, handlers, key, branchWithin(key, branch), flow);
    this.clients.set(key, tx);
    tx.start(flow);
    return tx;
  }

  // ---- bookkeeping ------------------------------------------------------------------------

  serverCount(): number {
    return this.servers.size;
  }

  clientCount(): number {
    return this.clients.size;
  }

  /** Ends every transaction without callbacks and cancels their timers (tests, shutdown). */
  stop(): void {
    for (const tx of this.servers.values()) tx.kill();
    for (const tx of this.clients.values()) tx.kill();
    this.servers.clear();
    this.clients.clear();
    if (this.ownWheel) this.wheel.stop();
    this.settleDrains();
  }

  /**
   * Resolves when no transaction still waits for or owes a final response
   * (graceful SIGTERM), or after maxMs; client transactions `ignore` selects
   * (pings nobody waits for) are not waited for.
   */
  drain(maxMs: number, ignore?: (tx: ClientTransaction) => boolean): Promise<void> {
    const deadline = Date.now() + maxMs;
    return new Promise<void>((resolve) => {
      let done = false;
      let next: TimerHandle | null = null;
      const finish = (): void => {
        if (done) return;
        done = true;
        if (next !== null) this.wheel.cancel(next);
        this.drains = this.drains.filter((d) => d !== finish);
        resolve();
      };
      this.drains.push(finish);
      // Transactions that only absorb retransmissions (Completed, Accepted,
      // Confirmed) owe nobody anything: shutdown waits for those still
      // expecting or owing a final response. Checked every 50 ms.
      const check = (): void => {
        next = null;
        if (!this.hasPending(ignore) || Date.now() >= deadline) finish();
        else next = this.wheel.schedule(Math.min(50, Math.max(1, deadline - Date.now())), check);
      };
      check();
    });
  }

  /** A server transaction without its final response, or a client transaction without one. */
  private hasPending(ignore?: (tx: ClientTransaction) => boolean): boolean {
    for (const tx of this.servers.values()) if (tx.state === 'Trying' || tx.state === 'Proceeding') return true;
    for (const tx of this.clients.values())
      if ((tx.state === 'Calling' || tx.state === 'Trying' || tx.state === 'Proceeding') && ignore?.(tx) !== true)
        return true;
    return false;
  }

  private removeServer(tx: ServerTransaction): void {
    if (this.servers.get(tx.key) === tx) this.servers.delete(tx.key);
  }

  private removeClient(tx: ClientTransaction): void {
    if (this.clients.get(tx.key) === tx) this.clients.delete(tx.key);
  }

  private settleDrains(): void {
    for (const finish of [...this.drains]) finish();
  }

  private deliverRequest(req: SipMessage, tx: ServerTransaction | null, flow: Flow): void {
    const tu = this.tu;
    if (tu === null) {
      this.log.warn({ method: req.method }, 'transaction: request with no TU set');
      return;
    }
    try {
      tu.onRequest(req, tx, flow);
    } catch (err) {
      this.log.warn({ err: errText(err), method: req.method }, 'transaction: TU onRequest threw');
    }
  }
}
