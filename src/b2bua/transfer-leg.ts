import type { SipMessage } from '../sip/message.js';
import { againHeaders, attemptDialog, sendStateless, StrayAnswers, strayOrigin, type StrayOrigin } from './uac-leg.js';
import type { Target } from '../transaction/types.js';
import type { ClientHandlers, ClientTransaction } from '../transaction/client-transaction.js';
import type { TimerHandle } from '../transaction/timer-wheel.js';
import type { SipInterface } from '../dialog/interfaces.js';
import { Dialog } from '../dialog/dialog.js';
import { allowsFailover } from '../proxy/best-response.js';
import { buildCancel } from '../proxy/cancel.js';
import { applyHeaderRule } from './headers.js';
import { answerChallenge } from './uac-auth.js';
import { NO_HANDLERS } from './callee-search.js';
import { after422, minSEof, requestTimerHeaders, type TimerSettings } from './session-timer.js';
import type { B2buaEnv } from './env.js';
import type { CallPlan, LegAttempt } from './plan.js';

/** A transfer's new leg answered: its dialog (confirmed), the 2xx, and what the caller still owes it. */
export interface AnsweredLeg {
  kind: 'answered';
  dialog: Dialog;
  res: SipMessage;
  attempt: LegAttempt;
  /** Our session timer on the leg (RFC 4028): its settings and what our INVITE asked; null without one. */
  timer: { settings: TimerSettings; asked: { interval: number; minSE: number } } | null;
  /** ACKs the 2xx (with the answer to the offer it carried), and again for each retransmission of it. */
  ack(body?: Buffer): void;
  /** Ends the leg (after its ACK). */
  bye(reason?: string): void;
}

export type LegOutcome = AnsweredLeg | { kind: 'failed'; status: number; reason: string; carrier: string | null };

/**
 * The new leg of a transfer (transfers.ts): a call planned as if the
 * referrer's trunk (or carrier) had called the Refer-To number, tried
 * attempt after attempt as a call's callee is (callee-search.ts): a
 * challenge answered once with the carrier's credentials (RFC 3261 22.2),
 * a 422 once with the interval raised (RFC 4028 7.3), failover on timeouts
 * and server failures, a gateway silent past the gateway timeout passed
 * over, ringing past the ring timeout cancelled (408). The INVITE carries
 * no offer: the party that stays gets the new leg's offer from its 2xx
 * (RFC 3725 flow I), and the ACK carries its answer.
 */
export class TransferLeg {
  readonly done: Promise<LegOutcome>;
  private settle!: (o: LegOutcome) => void;
  private settled = false;
  private index = -1;
  private tx: ClientTransaction | null = null;
  private invite: SipMessage | null = null;
  private dialog: Dialog | null = null;
  private attempt: LegAttempt | null = null;
  private authTried = false;
  private gotResponse = false;
  private cancelWanted = false;
  private abandoned = false;
  private asked: { interval: number; minSE: number } | null = null;
  /** The answered attempt's transaction and our ACK of its 2xx, sent again for each retransmission of it. */
  private answeredTx: ClientTransaction | null = null;
  private ack: SipMessage | null = null;
  /** 2xx answers of attempts given up, and second dialogs forked from the answered one. */
  private readonly strays: StrayAnswers;
  private gatewayTimer: TimerHandle | null = null;
  private ringTimer: TimerHandle | null = null;

  constructor(
    private readonly env: B2buaEnv,
    private readonly plan: CallPlan,
    /** Headers of every attempt's INVITE besides the attempt's own (Referred-By). */
    private readonly extra: Array<[string, string]>,
    /** The request whose headers a leg's header rule may keep (the REFER). */
    private readonly source: SipMessage,
  ) {
    this.done = new Promise((r) => (this.settle = r));
    this.strays = new StrayAnswers(env);
  }

  start(): void {
    this.next(503, 'Service Unavailable');
  }

  /** The transfer is given up (the call ended): a CANCEL toward the attempt ringing; a late 2xx is ACKed and hung up. */
  abandon(): void {
    if (this.abandoned) return;
    this.abandoned = true;
    this.clearTimers();
    this.cancel();
    this.finish({ kind: 'failed', status: 487, reason: 'Request Terminated', carrier: this.attempt?.carrier ?? null });
  }

  private finish(o: LegOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.clearTimers();
    this.settle(o);
  }

  private next(status: number, reason: string): void {
    this.index++;
    const attempt = this.plan.attempts[this.index];
    if (attempt === undefined || this.abandoned) {
      this.finish({ kind: 'failed', status, reason, carrier: this.attempt?.carrier ?? null });
      return;
    }
    void this.send(attempt);
  }

  private async send(attempt: LegAttempt): Promise<void> {
    const env = this.env;
    this.attempt = attempt;
    const route = await routeOf(env, attempt);
    if (this.abandoned) return;
    if (route === null) {
      this.next(503, 'Unresolvable destination');
      return;
    }
    this.dialog = attemptDialog(attempt, route.iface, route.target);
    this.authTried = false;
    this.gotResponse = false;
    const s = this.timerSettings(attempt);
    this.asked = s === null ? null : { interval: s.interval, minSE: s.minSE };
    const base: Array<[string, string]> = [
      ...attempt.headers,
      ...this.extra,
      ...(s === null ? [] : requestTimerHeaders(s.interval, s.minSE, null)),
    ];
    if (env.agentName !== null) base.push(['User-Agent', env.agentName]);
    this.sendInvite(this.dialog.request('INVITE', { headers: applyHeaderRule(base, this.source, attempt.rule) }));
  }

  /** The session timer of the leg's trunk or carrier (RFC 4028), or null. */
  private timerSettings(attempt: LegAttempt): TimerSettings | null {
    const toCarrier = this.plan.direction === 'outbound';
    return (
      this.env.sessionTimers?.forLeg(toCarrier ? 'carrier' : 'trunk', toCarrier ? attempt.carrier : this.plan.trunk) ??
      null
    );
  }

  private sendInvite(invite: SipMessage): void {
    const env = this.env;
    const d = this.dialog!;
    this.invite = invite;
    env.counters.inc('b2bua_invites_sent');
    this.tx = env.layer.sendRequest(invite, d.target, this.handlers(strayOrigin(d, invite.cseq.seq)));
    this.clearTimers();
    this.gatewayTimer = env.wheel.schedule(env.timers.gatewayTimeoutMs, () => {
      this.gatewayTimer = null;
      // Not even a 100 Trying: the next gateway (this transaction is let go).
      if (this.gotResponse || this.settled) return;
      env.counters.inc('b2bua_gateway_timeouts');
      this.tx = null;
      this.next(408, 'Request Timeout');
    });
  }

  private handlers(origin: StrayOrigin): ClientHandlers {
    return {
      onProvisional: (res, tx) => {
        if (tx === this.tx) this.onProvisional(res);
      },
      onFinal: (res, tx) => {
        if (tx === this.tx) this.onFinal(res);
        else if (res.status >= 200 && res.status < 300) this.strays.hangUp(res, tx, origin);
      },
      onRetransmitted2xx: (res, tx) => {
        // RFC 3261 13.2.2.4: each retransmission of the 2xx gets our ACK again.
        if (tx === this.answeredTx && res.toTag === this.dialog?.remoteTag) {
          if (this.ack !== null) sendStateless(this.env, this.ack, this.dialog);
        } else if (tx !== this.tx) this.strays.hangUp(res, tx, origin);
      },
      onTimeout: (tx) => {
        if (tx === this.tx) this.failed(408, 'Request Timeout');
      },
      onTransportError: (tx) => {
        if (tx === this.tx) this.failed(503, 'Service Unavailable');
      },
    };
  }

  private onProvisional(res: SipMessage): void {
    this.gotResponse = true;
    this.clearGatewayTimer();
    if (this.cancelWanted) this.cancel();
    if (res.status === 100 || this.ringTimer !== null || this.settled) return;
    this.ringTimer = this.env.wheel.schedule(this.env.timers.ringTimeoutMs, () => {
      this.ringTimer = null;
      if (this.settled) return;
      this.env.counters.inc('b2bua_ring_timeouts');
      this.cancel();
      this.finish({ kind: 'failed', status: 408, reason: 'No Answer', carrier: this.attempt?.carrier ?? null });
    });
  }

  private onFinal(res: SipMessage): void {
    this.gotResponse = true;
    this.clearGatewayTimer();
    const status = res.status;
    const attempt = this.attempt!;
    if (status >= 200 && status < 300) {
      this.onAnswered(res, attempt);
      return;
    }
    if (this.settled) return;
    if ((status === 401 || status === 407) && this.answerChallenge(res, attempt)) return;
    if (status === 422 && this.retryAfter422(res)) return;
    if (allowsFailover(status) && this.index + 1 < this.plan.attempts.length) {
      this.env.counters.inc('b2bua_failovers');
      this.next(status, res.reason);
      return;
    }
    this.finish({ kind: 'failed', status, reason: res.reason, carrier: attempt.carrier });
  }

  private failed(status: number, reason: string): void {
    if (this.settled) return;
    if (this.index + 1 < this.plan.attempts.length) this.env.counters.inc('b2bua_failovers');
    this.next(status, reason);
  }

  private onAnswered(res: SipMessage, attempt: LegAttempt): void {
    const d = this.dialog!;
    const tx = this.tx!;
    d.confirm(res);
    if (tx.flow !== null && tx.flow.proto !== 'udp') d.flow = tx.flow;
    const seq = this.invite!.cseq.seq;
    const sendAck = (body?: Buffer): void => {
      this.ack = d.request(
        'ACK',
        body === undefined ? { seq } : { headers: [['Content-Type', 'application/sdp']], body, seq },
      );
      sendStateless(this.env, this.ack, d);
    };
    const bye = (reason?: string): void => {
      const headers: Array<[string, string]> = reason === undefined ? [] : [['Reason', reason]];
      if (this.env.agentName !== null) headers.push(['User-Agent', this.env.agentName]);
      this.env.layer.sendRequest(d.request('BYE', { headers }), d.target, NO_HANDLERS, d.flow ?? undefined);
      this.env.counters.inc('b2bua_byes_sent');
    };
    this.answeredTx = tx;
    this.tx = null;
    if (this.settled) {
      // Given up meanwhile: acknowledged and hung up at once.
      sendAck();
      bye();
      return;
    }
    const s = this.timerSettings(attempt);
    this.finish({
      kind: 'answered',
      dialog: d,
      res,
      attempt,
      timer: s === null || this.asked === null ? null : { settings: s, asked: this.asked },
      ack: sendAck,
      bye,
    });
  }

  /** RFC 3261 22.2: the same INVITE again with credentials, the next CSeq (once per attempt). */
  private answerChallenge(res: SipMessage, attempt: LegAttempt): boolean {
    const previous = this.invite!;
    if (attempt.credentials === null || this.authTried) return false;
    const answer = answerChallenge(res, 'INVITE', previous.requestUri, attempt.credentials);
    if (answer === null) return false;
    this.authTried = true;
    this.env.counters.inc('b2bua_carrier_auth');
    this.sendInvite(this.dialog!.request('INVITE', { headers: [...againHeaders(previous), answer] }));
    return true;
  }

  /** RFC 4028 7.3: a 422 to our Session-Expires: the INVITE again, the interval raised to its Min-SE. */
  private retryAfter422(res: SipMessage): boolean {
    if (this.asked === null) return false;
    const next = after422(this.asked, minSEof(res));
    if (next === null) return false;
    this.asked = next;
    this.env.counters.inc('b2bua_session_422_retries');
    const headers = againHeaders(this.invite!).filter(
      ([n]) => !['session-expires', 'x', 'min-se'].includes(n.toLowerCase()),
    );
    headers.push(...requestTimerHeaders(next.interval, next.minSE, null));
    this.sendInvite(this.dialog!.request('INVITE', { headers }));
    return true;
  }

  /** A CANCEL toward the attempt, only after a provisional (RFC 3261 9.1); until then it waits. */
  private cancel(): void {
    const tx = this.tx;
    if (tx === null) return;
    if (tx.lastProvisional === 0) {
      this.cancelWanted = true;
      return;
    }
    this.cancelWanted = false;
    if (tx.state !== 'Proceeding' && tx.state !== 'Calling') return;
    this.env.layer.sendRequest(buildCancel(tx.request), tx.target, NO_HANDLERS, tx.flow ?? undefined);
    this.env.counters.inc('b2bua_cancels_sent');
  }

  private clearGatewayTimer(): void {
    if (this.gatewayTimer !== null) this.env.wheel.cancel(this.gatewayTimer);
    this.gatewayTimer = null;
  }

  private clearTimers(): void {
    this.clearGatewayTimer();
    if (this.ringTimer !== null) this.env.wheel.cancel(this.ringTimer);
    this.ringTimer = null;
  }
}

/** Where an attempt goes (RFC 3263) and our interface toward it; null when unresolvable or not a transport we listen on. */
async function routeOf(env: B2buaEnv, attempt: LegAttempt): Promise<{ target: Target; iface: SipInterface } | null> {
  let targets: Target[];
  try {
    targets = await env.locate(attempt.hop);
  } catch {
    targets = []; // DNS failed: the next attempt
  }
  const ready = env.interfaces.prepare(targets.slice(0, 1));
  if (ready !== null) await ready;
  const target = targets[0];
  const iface = target === undefined ? null : env.interfaces.forProto(target.proto, target.host);
  return target === undefined || iface === null ? null : { target, iface };
}
