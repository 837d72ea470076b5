import type { SipMessage } from '../sip/message.js';
import { mediaOptionsOf } from './plan.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { Dialog } from '../dialog/dialog.js';
import { MediaError } from '../media/errors.js';
import type { LegMediaOptions } from '../media/engine.js';
import { dialogKey, type Call, type Side } from './call.js';
import { NO_HANDLERS } from './callee-search.js';
import { LegTimer } from './leg-timer.js';
import { inSerial, reinvite, type ReinviteOutcome } from './reinvite.js';
import { outcomeAsUac, timerHeadersOfResponse } from './session-timer.js';
import { wantsNoSubscription, type Replaces } from './transfer-headers.js';
import { notifyReferrer } from './transfer-notify.js';
import type { TransferLegRecord } from './transfer-cdr.js';
import type { Party, PendingTransfer } from './transfer-state.js';
import type { Transfers } from './transfers.js';

/** The call the Replaces of a REFER names, and what moves from it. */
interface Consultation {
  call: Call;
  /** The referrer's side in it (the dialog the Replaces names). */
  pbxSide: Side;
  /** The other side: the transfer target, who joins the referrer's call. */
  moving: Side;
  target: Dialog;
  targetMedia: LegMediaOptions;
  targetParty: Party;
}

/**
 * An attended transfer done by the B2BUA (RFC 5589 4, the transferor's
 * REFER carrying Replaces in its Refer-To, RFC 3891): the referrer holds
 * two calls through us, one with the transferee (the call of the REFER)
 * and one with the target (the call whose dialog the Replaces names, as
 * the referrer sees it: our tag as to-tag). No new leg is placed: the
 * target's leg leaves its call and takes the referrer's place in the
 * transferee's. The target is re-INVITEd without an offer, its offer goes
 * to the transferee by re-INVITE through the media engine and the answer
 * back in the ACK (RFC 3725 flow I); the referrer's leg of the other call
 * gets BYE (Reason "Replaced", as the target would send it, RFC 3891 3),
 * the referrer NOTIFY "200 OK" and then BYE. The other call writes no CDR
 * of its own then: its leg's CDR (its SID, from its start) is written when
 * the joined conversation ends, `extra.transferOf` naming the call it
 * joined; the call's CDR lists the transfer (`attended`). A failure is told
 * by NOTIFY with the status a transferee's INVITE with Replaces would have
 * met (481 no such dialog, 491 busy...) and both calls go on.
 */
export class AttendedTransfer implements PendingTransfer {
  readonly side: Side;
  private readonly other: Side;
  private readonly referrer: Dialog;
  private readonly notifying: boolean;
  private referrerGone = false;
  private abandoned = false;

  constructor(
    private readonly transfers: Transfers,
    private readonly call: Call,
    side: Side,
    private readonly refer: SipMessage,
    private readonly tx: ServerTransaction,
    private readonly replaces: Replaces,
  ) {
    this.side = side;
    this.other = side === 'a' ? 'b' : 'a';
    this.referrer = side === 'a' ? call.a : call.b!;
    this.notifying = !wantsNoSubscription(refer);
  }

  private get env() {
    return this.transfers.env;
  }

  async run(): Promise<void> {
    const env = this.env;
    env.counters.inc('b2bua_attended_transfers_started');
    const headers: Array<[string, string]> = [['Contact', this.referrer.contact]];
    if (!this.notifying) headers.push(['Refer-Sub', 'false']);
    this.transfers.answer(this.tx, this.refer, 202, 'Accepted', headers);
    void this.notify(100, 'Trying', false);
    const found = this.consultation();
    if ('status' in found) return this.failed(found.status, found.reason);
    const st2 = this.transfers.stateOf(found.call);
    // The other call's own transfers and re-INVITEs wait for this one (491, 500).
    st2.pending = { side: found.pbxSide, take: () => false, abandon: () => this.abandon() };
    try {
      await this.join(found);
    } catch (err) {
      env.log.warn({ callSid: this.call.callSid, err: String(err) }, 'b2bua: attended transfer failed');
      this.failed(500, 'Server Internal Error');
    } finally {
      st2.inviteBusy = false;
      if (!found.call.isEnded()) st2.pending = null;
    }
  }

  /** The call and leg the Replaces names, if the referrer may have it joined (RFC 3891 3); else the status why not. */
  private consultation(): Consultation | { status: number; reason: string } {
    const r = this.replaces;
    const found = this.transfers.host.dialogOf(r.callId, r.toTag);
    const noDialog = { status: 481, reason: 'Call/Transaction Does Not Exist' };
    if (found === undefined || found.call === this.call) return noDialog;
    const { call, side } = found;
    const d = side === 'a' ? call.a : call.b;
    const mine = this.transfers.stateOf(this.call).party(this.call, this.side);
    const st2 = this.transfers.stateOf(call);
    const party = st2.party(call, side);
    // Only the referrer's own trunk or carrier may name a dialog of ours; nothing tells others it exists.
    if (d === null || d.remoteTag !== r.fromTag || party.kind !== mine.kind || party.name !== mine.name)
      return noDialog;
    if (call.state !== 'confirmed' || r.earlyOnly) return { status: 486, reason: 'Busy Here' };
    if (st2.pending !== null || st2.inviteBusy) return { status: 491, reason: 'Request Pending' };
    // A call that a transfer already changed keeps its own CDRs: not joined.
    if (st2.legs.size > 0 || st2.notes.length > 0 || st2.replaced > 0)
      return { status: 501, reason: 'Not Implemented' };
    const moving: Side = side === 'a' ? 'b' : 'a';
    return {
      call,
      pbxSide: side,
      moving,
      target: moving === 'a' ? call.a : call.b!,
      targetMedia: mediaOptionsOf(call, moving),
      targetParty: st2.party(call, moving),
    };
  }

  /** The media steps: the target's offer (its re-INVITE without one) to the transferee, the answer back. */
  private async join(c: Consultation): Promise<void> {
    const call = this.call;
    const media = this.env.media;
    const st1 = this.transfers.stateOf(call);
    st1.inviteBusy = true;
    this.transfers.stateOf(c.call).inviteBusy = true;
    try {
      await inSerial(call, async () => {
        const toTarget = await reinvite(c.call, c.moving, undefined);
        if (!toTarget.ok) return this.targetRefused(c, toTarget.status, toTarget.reason);
        const offer = media.sdpOf(toTarget.res);
        if (this.gaveUp(c) || offer === null) {
          toTarget.ack();
          return this.giveUp(c, 488, 'No offer from the target');
        }
        // The referrer's side of this call's media now faces the target's network.
        const tm = c.target.iface.media;
        const om = (this.other === 'a' ? call.a : call.b!).iface.media;
        media.setSides(call.callSid, this.side === 'a' ? tm : om, this.side === 'a' ? om : tm);
        const answered = await this.reofferTransferee(c, toTarget, offer);
        if (answered === null) return;
        toTarget.ack(answered);
        this.takeOver(c, toTarget);
      });
    } finally {
      st1.inviteBusy = false;
    }
  }

  /** The target's offer to the transferee by re-INVITE; its answer for the target's ACK (null: given up, ACKed). */
  private async reofferTransferee(
    c: Consultation,
    toTarget: Extract<ReinviteOutcome, { ok: true }>,
    offer: Buffer,
  ): Promise<Buffer | undefined | null> {
    const call = this.call;
    const media = this.env.media;
    const fail = (status: number, reason: string): null => {
      toTarget.ack();
      this.giveUp(c, status, reason);
      return null;
    };
    let toTransferee: Buffer;
    try {
      toTransferee = await media.offer(call.callSid, this.side, offer, mediaOptionsOf(call, this.other));
    } catch (err) {
      if (!(err instanceof MediaError)) throw err;
      return fail(err.sipStatus, err.warning);
    }
    const re = await reinvite(call, this.other, toTransferee);
    if (!re.ok) {
      // RFC 3261 12.2.1.2: a 481 or 408 to a request inside a dialog ends it.
      if (re.status === 481 || re.status === 408) call.hangUp(`Transfer re-INVITE answered ${re.status}`);
      return fail(re.status, re.reason);
    }
    const answer = media.sdpOf(re.res);
    try {
      const toTarget2 =
        answer === null ? undefined : await media.answer(call.callSid, this.other, answer, c.targetMedia);
      re.ack();
      if (this.gaveUp(c)) return fail(487, 'Request Terminated');
      return toTarget2;
    } catch (err) {
      if (!(err instanceof MediaError)) throw err;
      re.ack();
      call.hangUp('Media failure');
      return fail(err.sipStatus, err.warning);
    }
  }

  /** Either call ended meanwhile, or the referrer's call was given up. */
  private gaveUp(c: Consultation): boolean {
    return this.abandoned || this.call.isEnded() || c.call.isEnded();
  }

  /** The target refused our re-INVITE: the referrer told; both calls go on (481/408: the other call ends). */
  private targetRefused(c: Consultation, status: number, reason: string): void {
    if (status === 481 || status === 408) c.call.hangUp(`Transfer re-INVITE answered ${status}`);
    this.failed(status, reason);
  }

  /**
   * After the target's 2xx to an offerless re-INVITE was ACKed without an
   * answer (RFC 3264 has none to give): its session is not what it was,
   * so the other call ends; the referrer is told, its call goes on.
   */
  private giveUp(c: Consultation, status: number, reason: string): void {
    if (!c.call.isEnded()) c.call.hangUp(`Transfer failed: ${status} ${reason}`);
    this.failed(status, reason);
  }

  /** The target's leg in the referrer's place; the other call over (no CDR of its own); the referrer told and hung up. */
  private takeOver(c: Consultation, toTarget: Extract<ReinviteOutcome, { ok: true }>): void {
    const call = this.call;
    const env = this.env;
    const st1 = this.transfers.stateOf(call);
    const old = this.referrer;
    const retired = this.transfers.retire(call.replaceLeg(this.side, c.target, c.targetMedia), old);
    const earlier = st1.legs.get(old);
    if (earlier !== undefined) {
      // The referrer was itself a transfer's new leg: its CDR ends here.
      st1.legs.delete(old);
      this.transfers.legEnded(earlier, { endAt: Date.now(), status: 200, reason: 'Transferred', hangupBy: 'callee' });
    }
    const rec: TransferLegRecord = {
      plan: c.call.plan,
      transferOf: call.callSid,
      startAt: c.call.startAt,
      answerAt: c.call.answerAt,
      carrier: c.call.carrier,
    };
    st1.legs.set(c.target, rec);
    st1.parties[this.side] = c.targetParty;
    st1.notes.push({
      to: c.targetParty.number,
      callSid: c.call.callSid,
      carrier: c.call.carrier,
      by: this.side === 'a' ? 'caller' : 'callee',
      at: Date.now(),
      attended: true,
    });
    this.targetTimer(c, toTarget.res);
    this.dissolve(c);
    env.counters.inc('b2bua_attended_transfers_done');
    env.log.info(
      { callSid: call.callSid, joined: c.call.callSid, to: c.targetParty.number },
      'b2bua: call transferred (attended)',
    );
    const bye = (): void => {
      if (this.referrerGone || retired.gone) return;
      this.sendBye(old, 'Call transferred');
    };
    void this.notify(200, 'OK', true).then(bye);
  }

  /**
   * The other call ends without a CDR of its own (its limits stay held:
   * its leg's record releases them): the referrer's leg there answered a
   * while and hung up ("Replaced"), its timers stopped, its media released.
   */
  private dissolve(c: Consultation): void {
    const other = c.call;
    const env = this.env;
    const pbx = c.pbxSide === 'a' ? other.a : other.b!;
    const retired = this.transfers.retire(dialogKey(pbx.callId, pbx.localTag), pbx);
    this.transfers.stateOf(other).pending = null;
    other.state = 'ended';
    other.timers?.stop();
    other.early.stop();
    pbx.stopAckWait();
    this.transfers.host.ended(other);
    void env.media
      .end(other.callSid)
      .catch((err: unknown) => env.log.warn({ err: String(err), callSid: other.callSid }, 'b2bua: media not released'));
    if (!retired.gone) this.sendBye(pbx, 'Replaced');
  }

  /** The target leg's session timer in this call (RFC 4028), as its 2xx to our re-INVITE set it. */
  private targetTimer(c: Consultation, res: SipMessage): void {
    const timers = this.call.timers;
    if (timers === null) return;
    const settings = this.env.sessionTimers?.forLeg(c.targetParty.kind, c.targetParty.name) ?? null;
    if (settings === null) {
      timers.replaceLeg(this.side, null);
      return;
    }
    const leg = new LegTimer(this.call, this.side, settings, timers);
    leg.noteAllow(res);
    timers.replaceLeg(this.side, leg);
    leg.refreshed(outcomeAsUac(timerHeadersOfResponse(res), { interval: settings.interval, minSE: settings.minSE }));
  }

  private sendBye(d: Dialog, text: string): void {
    const env = this.env;
    const headers: Array<[string, string]> = [['Reason', `SIP;cause=200;text="${text}"`]];
    if (env.agentName !== null) headers.push(['User-Agent', env.agentName]);
    env.layer.sendRequest(d.request('BYE', { headers }), d.target, NO_HANDLERS, d.flow ?? undefined);
    env.counters.inc('b2bua_byes_sent');
  }

  /** The transfer did not happen: the referrer told the final status; the call goes on (without a referrer: ended). */
  private failed(status: number, reason: string): void {
    const env = this.env;
    env.counters.inc('b2bua_attended_transfers_failed');
    env.log.info({ callSid: this.call.callSid, status, reason }, 'b2bua: attended transfer failed');
    void this.notify(status, reason, true);
    if (this.referrerGone && !this.abandoned) this.call.hangUp(`Transfer failed: ${status} ${reason}`);
  }

  private async notify(status: number, reason: string, final: boolean): Promise<void> {
    if (!this.notifying || this.referrerGone || this.abandoned) return;
    if (await notifyReferrer(this.call, this.referrer, this.refer, status, reason, final)) this.referrerGone = true;
  }

  // ---- PendingTransfer ----

  take(side: Side, req: SipMessage, tx: ServerTransaction): boolean {
    if (side !== this.side || req.method !== 'BYE') return false;
    if (this.transfers.referrerBye(this.referrer, req, tx)) this.referrerGone = true;
    return true;
  }

  abandon(): void {
    this.abandoned = true;
  }
}
