import type { SipMessage } from '../sip/message.js';
import { mediaOptionsOf } from './plan.js';
import type { Flow } from '../transport/types.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { Dialog } from '../dialog/dialog.js';
import { MediaError } from '../media/errors.js';
import type { Call, Side } from './call.js';
import { NO_HANDLERS } from './callee-search.js';
import { LegTimer } from './leg-timer.js';
import { outcomeAsUac, timerHeadersOfResponse } from './session-timer.js';
import { inSerial, reinvite } from './reinvite.js';
import { wantsNoSubscription } from './transfer-headers.js';
import { notifyReferrer } from './transfer-notify.js';
import { TransferLeg, type AnsweredLeg } from './transfer-leg.js';
import type { TransferLegRecord } from './transfer-cdr.js';
import type { Party, PendingTransfer } from './transfer-state.js';
import type { Transfers } from './transfers.js';

/**
 * A REFER done by the B2BUA (RFC 3515 as a UA would, the SBC way): 202,
 * a NOTIFY "100 Trying" on the referrer's dialog, a new leg to the Refer-To
 * number planned as a call of the referrer's trunk (transfers.ts plan), its
 * INVITE carrying a Referred-By of ours (RFC 3892: the referrer's number,
 * our host; nothing of its addresses). When it answers, its offer goes to
 * the party that stays (the transferee) by re-INVITE through the media
 * engine and the answer comes back in the ACK (RFC 3725 flow I); the new
 * leg takes the referrer's place in the call, the referrer gets NOTIFY
 * "200 OK" (subscription terminated) and then our BYE. A failure is told
 * by NOTIFY with the final status and the call goes on as it was. With
 * `Refer-Sub: false` (RFC 4488) there is no NOTIFY. The referrer may hang
 * up once it has the 202 (a blind transfer): the transfer goes on, and the
 * transferee is hung up only if it fails.
 */
export class PerformedTransfer implements PendingTransfer {
  readonly side: Side;
  private readonly other: Side;
  /** The referrer's dialog (it leaves the call when the transfer succeeds; NOTIFYs still go on it). */
  private readonly referrer: Dialog;
  private readonly party: Party;
  private readonly notifying: boolean;
  private referrerGone = false;
  private abandoned = false;
  private leg: TransferLeg | null = null;

  constructor(
    private readonly transfers: Transfers,
    private readonly call: Call,
    side: Side,
    private readonly refer: SipMessage,
    private readonly tx: ServerTransaction,
    private readonly flow: Flow,
    private readonly user: string | null,
  ) {
    this.side = side;
    this.other = side === 'a' ? 'b' : 'a';
    this.referrer = side === 'a' ? call.a : call.b!;
    this.party = transfers.stateOf(call).party(call, side);
    this.notifying = !wantsNoSubscription(refer);
  }

  private get env() {
    return this.transfers.env;
  }

  async run(): Promise<void> {
    const env = this.env;
    const call = this.call;
    env.counters.inc('b2bua_transfers_started');
    const headers: Array<[string, string]> = [['Contact', this.referrer.contact]];
    if (!this.notifying) headers.push(['Refer-Sub', 'false']);
    this.transfers.answer(this.tx, this.refer, 202, 'Accepted', headers);
    this.notify(100, 'Trying', false);
    let rec: TransferLegRecord | null = null;
    try {
      const planned = await this.transfers.plan(this.party, this.user, this.flow);
      if (planned.kind === 'refuse') {
        env.counters.inc('b2bua_transfers_refused');
        this.failed(planned.status, planned.reason);
        return;
      }
      const plan = planned.plan;
      if (this.abandoned) {
        plan.release();
        return;
      }
      rec = {
        plan,
        transferOf: call.callSid,
        startAt: Date.now(),
        answerAt: null,
        carrier: null,
      };
      env.bus.publish('call.started', {
        callSid: plan.callSid,
        direction: plan.direction,
        ...(plan.trunk !== null && { trunk: plan.trunk }),
        from: plan.from,
        to: plan.to,
      });
      const leg = new TransferLeg(
        env,
        plan,
        [['Referred-By', `<sip:${this.party.number}@${this.ourHost}>`]],
        this.refer,
      );
      this.leg = leg;
      leg.start();
      const out = await leg.done;
      if (out.kind === 'failed') {
        rec.carrier = out.carrier;
        this.transfers.legEnded(rec, { endAt: Date.now(), status: out.status, reason: out.reason, hangupBy: 'callee' });
        this.failed(out.status, out.reason);
        return;
      }
      rec.carrier = out.attempt.carrier;
      rec.answerAt = Date.now();
      env.bus.publish('call.answered', { callSid: plan.callSid });
      await this.bridge(out, rec);
    } catch (err) {
      env.log.warn({ callSid: call.callSid, err: String(err) }, 'b2bua: transfer failed');
      // A new leg not in the call ends here (its limits released: legEnded runs once per leg).
      if (rec !== null && ![...this.transfers.stateOf(call).legs.values()].includes(rec))
        this.transfers.legEnded(rec, { endAt: Date.now(), status: 500, reason: 'Transfer failed', hangupBy: 'system' });
      this.failed(500, 'Server Internal Error');
    }
  }

  private get ourHost(): string {
    return this.transfers.planner.ourHost;
  }

  /**
   * The new leg answered with an offer: the transferee gets it by
   * re-INVITE (after the call's earlier media steps), its answer goes to the
   * new leg in the ACK, and the new leg takes the referrer's place.
   */
  private async bridge(out: AnsweredLeg, rec: TransferLegRecord): Promise<void> {
    const call = this.call;
    const env = this.env;
    const media = env.media;
    const st = this.transfers.stateOf(call);
    const giveUp = (status: number, reason: string): void => {
      out.ack();
      out.bye(`SIP;cause=${status};text="${reason.replace(/["\\]/g, '')}"`);
      this.transfers.legEnded(rec, { endAt: Date.now(), status, reason, hangupBy: 'system' });
      this.failed(status, reason);
    };
    const offer = media.sdpOf(out.res);
    if (this.abandoned || call.isEnded()) {
      giveUp(487, 'Request Terminated');
      return;
    }
    if (offer === null) {
      giveUp(488, 'No offer in the answer');
      return;
    }
    st.inviteBusy = true;
    try {
      await inSerial(call, async () => {
        // The relay's side of the referrer now faces the new leg's network.
        const iface = out.dialog.iface.media;
        const other = (this.other === 'a' ? call.a : call.b!).iface.media;
        media.setSides(call.callSid, this.side === 'a' ? iface : other, this.side === 'a' ? other : iface);
        let toTransferee: Buffer;
        try {
          toTransferee = await media.offer(call.callSid, this.side, offer, mediaOptionsOf(this.call, this.other));
        } catch (err) {
          if (!(err instanceof MediaError)) throw err;
          giveUp(err.sipStatus, err.warning);
          return;
        }
        const re = await reinvite(call, this.other, toTransferee);
        if (!re.ok) {
          giveUp(re.status, re.reason);
          // RFC 3261 12.2.1.2: a 481 or 408 to a request inside a dialog ends it.
          if (re.status === 481 || re.status === 408) call.hangUp(`Transfer re-INVITE answered ${re.status}`);
          return;
        }
        const answer = media.sdpOf(re.res);
        let toNewLeg: Buffer | undefined;
        try {
          toNewLeg =
            answer === null ? undefined : await media.answer(call.callSid, this.other, answer, out.attempt.media);
        } catch (err) {
          if (!(err instanceof MediaError)) throw err;
          re.ack();
          giveUp(err.sipStatus, err.warning);
          call.hangUp('Media failure');
          return;
        }
        re.ack();
        out.ack(toNewLeg);
        if (call.isEnded()) {
          out.bye();
          this.transfers.legEnded(rec, { endAt: Date.now(), status: 487, reason: 'Call ended', hangupBy: 'system' });
          return;
        }
        this.takeOver(out, rec);
      });
    } finally {
      st.inviteBusy = false;
    }
  }

  /** The new leg in the referrer's place; the referrer told (NOTIFY 200) and then hung up. */
  private takeOver(out: AnsweredLeg, rec: TransferLegRecord): void {
    const call = this.call;
    const env = this.env;
    const st = this.transfers.stateOf(call);
    const old = this.referrer;
    const key = call.replaceLeg(this.side, out.dialog, out.attempt.media);
    const retired = this.transfers.retire(key, old);
    const earlier = st.legs.get(old);
    if (earlier !== undefined) {
      // The referrer was itself a transfer's new leg: its CDR ends here.
      st.legs.delete(old);
      this.transfers.legEnded(earlier, {
        endAt: Date.now(),
        status: 200,
        reason: `Transferred to ${rec.plan.to}`,
        hangupBy: 'callee',
      });
    }
    st.legs.set(out.dialog, rec);
    st.parties[this.side] = {
      kind: rec.plan.direction === 'outbound' ? 'carrier' : 'trunk',
      name: rec.plan.direction === 'outbound' ? rec.carrier : rec.plan.trunk,
      number: rec.plan.to,
    };
    st.notes.push({
      to: rec.plan.to,
      callSid: rec.plan.callSid,
      carrier: rec.carrier,
      by: this.side === 'a' ? 'caller' : 'callee',
      at: Date.now(),
    });
    this.newLegTimer(out);
    env.counters.inc('b2bua_transfers_done');
    env.log.info(
      { callSid: call.callSid, legSid: rec.plan.callSid, to: rec.plan.to, carrier: rec.carrier },
      'b2bua: call transferred',
    );
    const bye = (): void => {
      if (this.referrerGone || retired.gone) return;
      const headers: Array<[string, string]> = [['Reason', 'SIP;cause=200;text="Call transferred"']];
      if (env.agentName !== null) headers.push(['User-Agent', env.agentName]);
      env.layer.sendRequest(old.request('BYE', { headers }), old.target, NO_HANDLERS, old.flow ?? undefined);
      env.counters.inc('b2bua_byes_sent');
    };
    // A transferor ends its call once told of the success; the referrer's leg is ended for it, after the NOTIFY.
    void this.notify(200, 'OK', true).then(bye);
  }

  /** The new leg's session timer (RFC 4028), as its 2xx negotiated it; the referrer's stops. */
  private newLegTimer(out: AnsweredLeg): void {
    const timers = this.call.timers;
    if (timers === null) return;
    if (out.timer === null) {
      timers.replaceLeg(this.side, null);
      return;
    }
    const leg = new LegTimer(this.call, this.side, out.timer.settings, timers);
    leg.minSE = out.timer.asked.minSE;
    leg.noteAllow(out.res);
    timers.replaceLeg(this.side, leg);
    leg.refreshed(outcomeAsUac(timerHeadersOfResponse(out.res), out.timer.asked));
  }

  /** The transfer did not happen: the referrer told the final status; the call goes on (without a referrer: ended). */
  private failed(status: number, reason: string): void {
    const env = this.env;
    env.counters.inc('b2bua_transfers_failed');
    env.log.info({ callSid: this.call.callSid, status, reason }, 'b2bua: transfer failed');
    void this.notify(status, reason, true);
    if (this.referrerGone && !this.abandoned) this.call.hangUp(`Transfer failed: ${status} ${reason}`);
  }

  /**
   * A NOTIFY of the refer subscription on the referrer's dialog (RFC 3515
   * 2.4.4): none once it hung up or asked for none; resolves on its final
   * response, or when transfer-notify.ts gives up on it.
   */
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
    this.leg?.abandon();
  }
}
