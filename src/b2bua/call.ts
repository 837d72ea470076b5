import type { SipMessage } from '../sip/message.js';
import { sendStateless } from './uac-leg.js';
import { createResponse } from '../sip/response.js';
import { releasedRequest } from '../transaction/released.js';
import type { Flow } from '../transport/types.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { Cdr, HangupSide } from '../trunking/model.js';
import type { Dialog } from '../dialog/dialog.js';
import { uasDialogOf } from '../dialog/uas-dialog.js';
import type { RetransmitClock } from '../dialog/ack-wait.js';
import { newLegSid } from '../dialog/sid.js';
import { relayedResponseHeaders } from './headers.js';
import type { B2buaEnv } from './env.js';
import { answeredAttempt, callEnded } from './call-events.js';
import { cdrOf, logCallEnded, mosOfExtra } from './call-cdr.js';
import type { AnsweredAttempt, CallPlan } from './plan.js';
import { CalleeSearch, NO_HANDLERS } from './callee-search.js';
import { InDialogRelay } from './in-dialog.js';
import { CallTimers } from './call-timers.js';
import { EarlyDialogs } from './early-dialogs.js';
import { MediaError } from '../media/errors.js';
import type { LegMediaOptions } from '../media/engine.js';

export type Side = 'a' | 'b';
export type CallState = 'trying' | 'early' | 'confirmed' | 'ended';

/** The registry a call reports its dialogs to, so that in-dialog requests find it. */
export interface CallRegistry {
  bind(key: string, call: Call, side: Side): void;
  unbind(key: string): void;
  /** Its state, a dialog or its media changed (a cluster writes the call's record again). */
  changed(call: Call): void;
  ended(call: Call): void;
  /** The call's CDR on its way to the store (settles when written or failed), so that shutdown waits for it. */
  writingCdr(done: Promise<void>): void;
  /** A request inside the call that call transfer takes first (transfers.ts): true when taken. */
  takeRequest?(call: Call, side: Side, req: SipMessage, tx: ServerTransaction, flow: Flow): boolean;
  /** The call's CDR just before it is written: a transfer notes itself in it (transfers.ts). */
  cdrReady?(call: Call, cdr: Cdr): void;
}

/**
 * One trunk call: the caller's leg (a: we are its UAS) and the callee's leg
 * (b: we are its UAC), each its own dialog with its own Call-ID, tags, Via
 * and Contact. The b leg is searched for by a CalleeSearch (attempt after
 * attempt, callee-search.ts); the call relays its provisionals, takes its
 * answer, relays what happens inside the dialogs (in-dialog.ts), and ends
 * once, with its CDR.
 */
export class Call {
  state: CallState = 'trying';
  /** The caller's leg (a transfer may give it to a new dialog: replaceLeg). */
  a: Dialog;
  b: Dialog | null = null;
  readonly startAt = Date.now();
  answerAt: number | null = null;
  /** The carrier that answered (or was last tried). */
  carrier: string | null = null;
  /** For the CDR (call-cdr.ts): its gateway, the first ringing, the Reason (RFC 3326) of the end. */
  gateway: string | null = null;
  alertAt: number | null = null;
  endReason: string | null = null;
  /** The attempt that answered, toward a carrier gateway: reported with its call's duration and MOS at the end. */
  answeredAttempt: AnsweredAttempt | null = null;
  legSidA = newLegSid();
  legSidB: string | null = null;

  /** The caller cancelled, or we gave up on the callee (abandon), before an answer. */
  cancelled = false;
  /** The registry key of the callee leg's current dialog. */
  private bKey: string | null = null;
  private readonly search: CalleeSearch;
  readonly relay: InDialogRelay;
  /** Each leg's session timer (RFC 4028, call-timers.ts); null without session timers. */
  readonly timers: CallTimers | null;
  /** Reliable provisionals, PRACK and UPDATE before the answer, per leg (early-dialogs.ts). */
  readonly early: EarlyDialogs;
  private lastFinal = 0;
  /** Media options of the callee's leg (its current attempt's trunk or carrier). */
  mediaB: LegMediaOptions = { profile: 'as-offered', codecs: [] };
  /** Steps that touch media run one after another, in the order their messages came. */
  private chain: Promise<void> = Promise.resolve();
  /** What times our 2xx retransmissions (RFC 3261 13.3.1.4). */
  private readonly clock: RetransmitClock;
  /** The caller's INVITE, let go when the call ends (aInvite). */
  private invite: SipMessage | null;

  constructor(
    readonly env: B2buaEnv,
    readonly plan: CallPlan,
    aInvite: SipMessage,
    readonly aTx: ServerTransaction,
    aFlow: Flow,
    private readonly registry: CallRegistry,
  ) {
    // RFC 3261 12.1.1: the UAS route set is the Record-Route of the request, in order.
    this.invite = aInvite;
    this.a = uasDialogOf(aInvite, aFlow, env.interfaces.forFlow(aFlow));
    this.relay = new InDialogRelay(this);
    this.timers = CallTimers.of(this);
    this.early = new EarlyDialogs(this);
    this.search = new CalleeSearch(this);
    this.clock = { wheel: env.wheel, t1: env.timers.t1, t2: env.timers.t2 };
  }

  /**
   * The caller's INVITE. Once the call has ended it is let go (an ended call
   * lingers 32 s for crossing BYEs and retransmissions, and the garbage
   * collector walks whatever it keeps), and this is a stand-in with the
   * method only: nothing reads the INVITE of an ended call.
   */
  get aInvite(): SipMessage {
    return this.invite ?? releasedRequest('INVITE');
  }

  /** Ended (a state read again after an await). */
  isEnded(): boolean {
    return this.state === 'ended';
  }

  /** Ended or cancelled (checked again after every await). */
  isOver(): boolean {
    return this.state === 'ended' || this.cancelled;
  }

  get callSid(): string {
    return this.plan.callSid;
  }

  /** A dialog of the call changed outside the call's own steps (a request relayed into it: its CSeq). */
  noteChange(): void {
    this.registry.changed(this);
  }

  get dialogKeyA(): string {
    return dialogKey(this.a.callId, this.a.localTag);
  }

  start(): void {
    this.registry.bind(this.dialogKeyA, this, 'a');
    this.env.counters.inc('b2bua_calls_started');
    this.env.bus.publish('call.started', {
      callSid: this.callSid,
      direction: this.plan.direction,
      ...(this.plan.trunk !== null && { trunk: this.plan.trunk }),
      from: this.plan.from,
      to: this.plan.to,
    });
    this.search.start();
    this.registry.changed(this);
  }

  // ---- the callee leg (its search: callee-search.ts) ------------------------------------

  /** The dialog of a new attempt toward the callee: the callee's in-dialog requests find the call by it from now on. */
  bindLeg(b: Dialog): void {
    if (this.bKey !== null) this.registry.unbind(this.bKey);
    this.b = b;
    this.early.callee.reset();
    this.bKey = dialogKey(b.callId, b.localTag);
    this.registry.bind(this.bKey, this, 'b');
    this.registry.changed(this);
  }

  /**
   * A leg taken over by a new dialog (a transfer, RFC 3515; a replacement,
   * RFC 3891): in-dialog requests find the call by the new one, whose media
   * options are `media`. Returns the old dialog's registry key, still bound
   * (the caller retires it).
   */
  replaceLeg(side: Side, d: Dialog, media: LegMediaOptions): string {
    const old = side === 'a' ? this.dialogKeyA : this.bKey!;
    const key = dialogKey(d.callId, d.localTag);
    if (side === 'a') {
      this.a = d;
      this.plan.mediaA = media;
    } else {
      this.b = d;
      this.bKey = key;
      this.mediaB = media;
    }
    this.registry.bind(key, this, side);
    this.registry.changed(this);
    return old;
  }

  /** The call gives up on the callee (caller's CANCEL, hang-up, ring timeout, media failure): a CANCEL toward it. */
  abandon(): void {
    this.cancelled = true;
    this.search.cancel();
  }

  /** A provisional of the callee (not 100): the call is early; the caller gets it, its SDP through the media engine. */
  relayProvisional(res: SipMessage): void {
    this.state = 'early';
    this.alertAt ??= Date.now();
    const sdp = this.env.media.sdpOf(res);
    // A late offer's callee offering in a reliable provisional (early-dialogs.ts): its SDP is an offer.
    const step = this.early.heldOffer() ? 'offer' : 'answer';
    this.serial(async () => {
      const body = sdp === null ? undefined : await this.env.media[step](this.callSid, 'b', sdp, this.plan.mediaA);
      if (this.isOver()) return;
      this.early.toCaller(this.responseToA(res, res.status, body));
      this.registry.changed(this);
    });
  }

  /** The callee answered (its dialog confirmed): ACK it (now, or with the caller's ACK for a late offer), answer the caller. */
  answered(res: SipMessage): void {
    this.state = 'confirmed';
    this.answerAt = Date.now();
    this.env.counters.inc('b2bua_calls_answered');
    this.env.bus.publish('call.answered', { callSid: this.callSid });
    this.timers?.calleeAnswered(res);
    const media = this.env.media;
    const lateOffer = media.sdpOf(this.aInvite) === null;
    if (!lateOffer) this.search.ackCallee();
    const sdp = media.sdpOf(res);
    this.serial(async () => {
      // Late offer (RFC 3261 13.2.1): the callee's 200 carries the offer, the caller's ACK the answer.
      let body: Buffer | undefined;
      if (sdp !== null && !this.early.answeredEarly(res)) {
        try {
          body = lateOffer
            ? await media.offer(this.callSid, 'b', sdp, this.plan.mediaA)
            : await media.answer(this.callSid, 'b', sdp, this.plan.mediaA);
        } catch (err) {
          if (!(err instanceof MediaError)) throw err;
          this.refuseAnswer(err, lateOffer);
          return;
        }
      }
      if (this.state === 'ended') return;
      // RFC 3262 3: no 2xx before the PRACK of a reliable provisional with SDP.
      if (!(await this.early.beforeAnswer()) || this.isEnded()) return;
      this.registry.changed(this);
      const ok = this.responseToA(res, 200, body);
      this.timers?.callerAnswered();
      this.answerWithRetransmit('a', ok, this.aTx, (ack) => {
        if (!lateOffer) return;
        const answer = media.sdpOf(ack);
        this.serial(async () => {
          this.search.ackCallee(
            answer === null ? undefined : await media.answer(this.callSid, 'a', answer, this.mediaB),
          );
        });
      });
    });
  }

  /**
   * The callee's 2xx carries SDP the media engine refuses (a codec that was
   * not offered, crypto it cannot use): the callee's dialog is ACKed (RFC
   * 3261 13.2.2.4: a 2xx is always ACKed; `ackNow` for a late offer, which
   * is not yet) and ended by BYE; the caller, who never got a 2xx, gets the
   * engine's refusal (488 + Warning) and the call is not billed as answered.
   */
  private refuseAnswer(err: MediaError, ackNow: boolean): void {
    if (this.state === 'ended') return;
    this.env.counters.inc('b2bua_media_failures');
    this.env.log.warn({ callSid: this.callSid, err: err.message }, 'b2bua: callee answer refused by the media engine');
    if (ackNow) this.search.ackCallee();
    this.sendBye('b', `SIP;cause=${err.sipStatus};text="${err.warning.replace(/["\\]/g, '')}"`);
    this.state = 'early';
    this.answerAt = null;
    this.cancelled = true;
    this.failCall(err.sipStatus, err.warning, undefined, [['Warning', err.warningHeader()]], true);
  }

  // ---- the caller leg ------------------------------------------------------------------

  /** The caller's CANCEL (RFC 3261 9.2): 487 to the INVITE, CANCEL toward the callee. */
  onCancel(): void {
    if (this.state === 'confirmed' || this.state === 'ended') return;
    this.abandon();
    const terminated = createResponse(this.aInvite, 487, { toTag: this.a.localTag });
    this.end(487, 'Request Terminated', 'caller');
    this.aTx.respond(terminated);
  }

  /**
   * A request inside one of the call's dialogs (or a 2xx ACK); `viaNode`: carried here by another node of a
   * cluster (the peer sent it there), whose flow is not the peer's.
   */
  onInDialog(side: Side, req: SipMessage, tx: ServerTransaction | null, flow: Flow, viaNode = false): void {
    const d = side === 'a' ? this.a : this.b;
    if (d === null) return;
    // Symmetric signalling: answers and requests go where the peer really is.
    if (!viaNode && (side === 'a' || flow.proto !== 'udp')) d.flow = flow.proto === 'udp' ? null : flow;
    if (tx !== null) this.registry.changed(this);
    // A REFER by policy, what a transfer in progress takes (transfers.ts).
    if (tx !== null && this.registry.takeRequest?.(this, side, req, tx, flow) === true) return;
    if (tx === null) {
      // An ACK: of our 2xx it runs what waited for it; any other is absorbed.
      d.takeAck(req);
      return;
    }
    if (req.method === 'BYE') {
      this.onBye(side, req, tx);
      return;
    }
    if (this.state === 'ended') {
      // RFC 3261 12.2.2: the dialog is over (it lingers only for a crossing BYE and retransmissions).
      tx.respond(createResponse(req, 481));
      return;
    }
    // A session refresh is answered on its own leg (call-timers.ts).
    if (this.timers?.takeRequest(side, req, tx) === true) return;
    if (this.early.take(side, req, tx)) return;
    this.relay.relay(side, req, tx);
  }

  private onBye(side: Side, bye: SipMessage, tx: ServerTransaction): void {
    const d = side === 'a' ? this.a : this.b!;
    if (!d.acceptRemoteSeq(bye.cseq.seq, 'BYE')) {
      tx.respond(createResponse(bye, 500, { reason: 'CSeq out of order', headers: [['Retry-After', '1']] }));
      return;
    }
    // The call is over for the limits as its BYE comes (release is idempotent; end() releases too), before our
    // 200 leaves: a PBX whose next call follows that 200 finds its slot free.
    if (this.state === 'confirmed') this.plan.release();
    tx.respond(
      createResponse(bye, 200, this.env.agentName === null ? {} : { headers: [['Server', this.env.agentName]] }),
    );
    this.env.counters.inc('b2bua_byes_received');
    if (this.state === 'confirmed') {
      // After the answer still on its way to the other side (media steps), and not before its ACK.
      const other: Side = side === 'a' ? 'b' : 'a';
      const reason = bye.get('Reason');
      this.endReason = reason ?? null;
      this.serial(() => {
        this.byeWhenAcked(other, reason);
        this.end(200, 'Normal Clearing', side === 'a' ? 'caller' : 'callee');
      });
      return;
    }
    // A BYE from the callee before its answer reached us, or from the caller of an early call.
    if (side === 'a') this.onCancel();
  }

  /** Ends the call from inside (media timeout, API hang-up, missing ACK): BYE to both sides. */
  hangUp(reason: string, by: HangupSide = 'system'): void {
    if (this.state === 'confirmed') {
      const r = `SIP;cause=200;text="${reason.replace(/["\\]/g, '')}"`;
      this.byeWhenAcked('a', r);
      this.byeWhenAcked('b', r);
      this.end(200, reason, by);
      return;
    }
    if (this.state !== 'ended') {
      this.abandon();
      this.failCall(480, reason);
    }
  }

  /** A BYE now, or once the side ACKs the 2xx it is still owed an ACK for (RFC 3261 15). */
  private byeWhenAcked(side: Side, reason?: string): void {
    const bye = (): void => this.sendBye(side, reason);
    const d = side === 'a' ? this.a : this.b;
    const owed = d?.endAfterAck({
      onAck: bye,
      // The call already ended: the owed BYE goes now.
      onTimeout: () => {
        this.env.counters.inc('b2bua_ack_timeouts');
        bye();
      },
    });
    if (owed !== true) bye();
  }

  sendBye(side: Side, reason?: string): void {
    const d = side === 'a' ? this.a : this.b;
    if (d === null) return;
    const headers: Array<[string, string]> = [];
    if (reason !== undefined) headers.push(['Reason', reason]);
    if (this.env.agentName !== null) headers.push(['User-Agent', this.env.agentName]);
    this.env.layer.sendRequest(d.request('BYE', { headers }), d.target, NO_HANDLERS, d.flow ?? undefined);
    this.env.counters.inc('b2bua_byes_sent');
  }

  /** Sends a request without a transaction (an ACK for a 2xx, 17.1.1.3). */
  sendStateless(req: SipMessage, d: Dialog): void {
    sendStateless(this.env, req, d);
  }

  /**
   * Answers a side's INVITE with a 2xx, sent again until its ACK (RFC 3261
   * 13.3.1.4, the dialog's); without an ACK after 64*T1 the call is ended
   * (BYE to both sides). `onAck` runs on the ACK (a late offer's answer).
   */
  answerWithRetransmit(side: Side, res: SipMessage, tx: ServerTransaction, onAck: (ack: SipMessage) => void): void {
    const d = side === 'a' ? this.a : this.b!;
    d.answerInvite(res, tx, this.clock, {
      onAck,
      onTimeout: () => {
        this.env.counters.inc('b2bua_ack_timeouts');
        this.hangUp('No ACK');
      },
    });
  }

  /** A response of the callee leg as the caller leg sends it: our tag and Contact, its body, nothing else of theirs. */
  responseToA(res: SipMessage, status: number, sdp?: Buffer): SipMessage {
    // An SDP the media engine did not rewrite never crosses (it would show the other side's addresses).
    const passBody =
      sdp !== undefined || (res.body.length > 0 && (!this.env.media.active || this.env.media.sdpOf(res) === null));
    const relayed = relayedResponseHeaders(res);
    const headers = (this.timers?.toCaller(status, relayed) ?? relayed).filter(
      ([n]) => passBody || n !== 'Content-Type',
    );
    if (status >= 101 && status < 300) {
      // RFC 3261 12.1.1: a dialog-creating response carries the request's Record-Route, so proxies on the caller's side stay on the path.
      for (const rr of this.aInvite.getAll('Record-Route')) headers.push(['Record-Route', rr]);
      headers.push(['Contact', this.a.contact]);
    }
    if (this.env.agentName !== null) headers.push(['Server', this.env.agentName]);
    const body = sdp ?? (passBody ? res.body : undefined);
    return createResponse(this.aInvite, status, {
      reason: res.reason,
      toTag: this.a.localTag,
      headers,
      ...(body !== undefined && body.length > 0 ? { body } : {}),
    });
  }

  /** No attempt answered: the caller gets the final status (a downstream 503 becomes 500, 16.7 step 6; our own, `local`, stays 503). */
  failCall(status: number, reason: string, res?: SipMessage, extra: Array<[string, string]> = [], local = false): void {
    if (this.state === 'ended') return;
    if (res !== undefined) this.endReason = res.get('Reason') ?? null;
    const code = status === 503 && !local ? 500 : status;
    const out =
      res !== undefined && res.status === status
        ? this.responseToA(res, code)
        : createResponse(this.aInvite, code, {
            reason,
            toTag: this.a.localTag,
            headers: [
              ...extra,
              ...(this.env.agentName === null ? [] : ([['Server', this.env.agentName]] as Array<[string, string]>)),
            ],
          });
    this.end(status, reason, 'callee');
    // After any provisional still on its way through the media steps.
    this.serial(() => this.aTx.respond(out));
  }

  /** Runs a step after the earlier media steps of the call; a failure ends the call (or is answered 488). */
  serial(step: () => Promise<void> | void): void {
    this.chain = this.chain.then(step).catch((err: unknown) => this.mediaFailed(err));
  }

  /** A media step failed: an unanswered call gets the engine's status (488 + Warning); an answered one is hung up. */
  mediaFailed(err: unknown): void {
    const me = err instanceof MediaError ? err : null;
    this.env.counters.inc('b2bua_media_failures');
    this.env.log.warn({ callSid: this.callSid, err: me?.message ?? String(err) }, 'b2bua: media step failed');
    if (this.state === 'confirmed') {
      this.hangUp('Media failure');
      return;
    }
    if (this.state === 'ended') return;
    this.abandon();
    const warning: Array<[string, string]> = me === null ? [] : [['Warning', me.warningHeader()]];
    this.failCall(me?.sipStatus ?? 500, me?.warning ?? 'Media failure', undefined, warning, me !== null);
  }

  // ---- the end -------------------------------------------------------------------------

  /** Ends the call once: limits released, timers stopped, dialogs forgotten, the CDR written. */
  end(status: number, reason: string, by: HangupSide): void {
    if (this.state === 'ended') return;
    const answered = this.state === 'confirmed';
    this.state = 'ended';
    this.lastFinal = status;
    this.invite = null;
    this.search.stop();
    this.timers?.stop();
    this.early.stop();
    // A side still owed a BYE keeps its 2xx retransmissions until its ACK.
    for (const d of [this.a, this.b]) if (d !== null && !d.endsAfterAck) d.stopAckWait();
    this.plan.release();
    // Dialog keys stay bound a little (a BYE crossing ours, retransmissions) and then go.
    const keys = [this.dialogKeyA, this.bKey];
    this.env.wheel.schedule(32_000, () => {
      for (const k of keys) if (k !== null) this.registry.unbind(k);
    });
    this.registry.ended(this);
    const cdr = cdrOf(this, answered, status, reason, by);
    this.env.counters.inc(answered ? 'b2bua_calls_completed' : 'b2bua_calls_failed');
    logCallEnded(this.env.log, cdr);
    // The media goes (its ports freed) and its figures go into the CDR.
    const written = this.env.media
      .end(this.callSid)
      .catch((err: unknown) => {
        this.env.log.warn({ err: String(err), callSid: this.callSid }, 'b2bua: media not released');
        return null;
      })
      .then((extra) => {
        cdr.extra = extra;
        cdr.mos = mosOfExtra(extra);
        const attempt = answeredAttempt(this.answeredAttempt, cdr);
        if (attempt !== null) this.env.bus.publish('call.attempt', attempt);
        this.registry.cdrReady?.(this, cdr);
        this.env.bus.publish('call.ended', callEnded(cdr));
        return this.env.cdrs.write(cdr);
      })
      .catch((err: unknown) =>
        this.env.log.warn({ err: String(err), callSid: this.callSid }, 'b2bua: CDR not written'),
      );
    this.registry.writingCdr(written);
  }

  get finalStatus(): number {
    return this.lastFinal;
  }
}

export function dialogKey(callId: string, localTag: string): string {
  return `${callId}\n${localTag}`;
}
