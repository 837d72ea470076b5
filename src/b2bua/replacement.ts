import type { SipMessage } from '../sip/message.js';
import { mediaOptionsOf } from './plan.js';
import { createResponse } from '../sip/response.js';
import { SipSyntaxError } from '../sip/errors.js';
import type { Flow } from '../transport/types.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { Dialog } from '../dialog/dialog.js';
import { uasDialogOf } from '../dialog/uas-dialog.js';
import { MediaError } from '../media/errors.js';
import type { LegMediaOptions } from '../media/engine.js';
import type { Call, Side } from './call.js';
import { NO_HANDLERS } from './callee-search.js';
import { unsupportedRequired } from './headers.js';
import { LegTimer } from './leg-timer.js';
import { inSerial, reinvite } from './reinvite.js';
import {
  answerAsUas,
  responseTimerHeaders,
  SessionTimerHeaderError,
  timerHeadersOf,
  type TimerSettings,
  type UasAnswer,
} from './session-timer.js';
import { replacesOf, TransferHeaderError, type Replaces } from './transfer-headers.js';
import type { Party, PendingTransfer } from './transfer-state.js';
import type { Transfers } from './transfers.js';

type Accepted = Extract<UasAnswer, { kind: 'accept' }>;

/**
 * An INVITE with Replaces (RFC 3891) from a trunk or a carrier, naming one
 * of our legs as its peer sees it (Call-ID, our tag as to-tag, its tag as
 * from-tag, section 3). Answered:
 *
 * - 400: two Replaces, or one without both tags (3, 6.1);
 * - 403: the policy of the trunk or carrier is `refuse` (transfers.ts);
 * - 481: no such dialog, or one that is not the sender's (its trunk or
 *   carrier must be the leg's, or one a relayed REFER of the leg's party
 *   named it to: 3, "authorized"; nothing tells others that the dialog
 *   exists), or an early one (3: one we did not initiate is never
 *   replaced; call pickup of our own early legs is not done here);
 * - 603: a dialog already over (3);
 * - 486: a confirmed dialog and `early-only` (3);
 * - 491: another transfer or replacement of the call is in progress.
 *
 * Else the new dialog takes the leg's place: its offer goes to the other
 * party by re-INVITE through the media engine, the answer comes back in
 * our 2xx (an INVITE without offer: the other party's offer in our 2xx,
 * the answer from the ACK), and the replaced leg gets BYE.
 */
export class Replacement implements PendingTransfer {
  side: Side = 'a';
  private abandoned = false;

  constructor(
    private readonly transfers: Transfers,
    private readonly req: SipMessage,
    private readonly tx: ServerTransaction,
    private readonly flow: Flow,
    private readonly from: Omit<Party, 'number'>,
  ) {}

  private get env() {
    return this.transfers.env;
  }

  private refuse(status: number, reason?: string, extra: Array<[string, string]> = []): void {
    this.env.counters.inc(`b2bua_replaces_refused_${status}`);
    this.transfers.answer(this.tx, this.req, status, reason, extra);
  }

  run(): void {
    const env = this.env;
    const req = this.req;
    let r: Replaces | null;
    try {
      r = replacesOf(req);
    } catch (err) {
      if (!(err instanceof TransferHeaderError)) throw err;
      this.refuse(err.status, err.reasonPhrase);
      return;
    }
    if (r === null) return;
    if ((env.transfers?.forParty(this.from.kind, this.from.name) ?? 'relay') === 'refuse') {
      this.refuse(403, 'Replacement not allowed');
      return;
    }
    const found = this.transfers.host.dialogOf(r.callId, r.toTag);
    if (found === undefined) {
      if (this.transfers.isRetired(r.callId, r.toTag)) this.refuse(603, 'Declined');
      else this.refuse(481);
      return;
    }
    const { call, side } = found;
    const d = side === 'a' ? call.a : call.b;
    const st = this.transfers.stateOf(call);
    const party = st.party(call, side);
    const sameParty = party.kind === this.from.kind && party.name === this.from.name;
    if (
      d === null ||
      d.remoteTag !== r.fromTag ||
      (!sameParty && !this.transfers.referredTo(r.callId, r.toTag, this.from))
    ) {
      this.refuse(481);
      return;
    }
    if (call.state === 'ended') return this.refuse(603, 'Declined');
    if (call.state !== 'confirmed') return this.refuse(481);
    if (r.earlyOnly) return this.refuse(486);
    if (st.pending !== null || st.inviteBusy) return this.refuse(491);
    const unsupported = unsupportedRequired(req);
    if (unsupported.length > 0) return this.refuse(420, 'Bad Extension', [['Unsupported', unsupported.join(', ')]]);
    const settings = env.sessionTimers?.forLeg(this.from.kind, this.from.name) ?? null;
    let accepted: Accepted | null = null;
    if (settings !== null && call.timers !== null) {
      let a: UasAnswer;
      try {
        a = answerAsUas(timerHeadersOf(req), settings);
      } catch (err) {
        if (!(err instanceof SessionTimerHeaderError)) throw err;
        return this.refuse(400, `Bad ${err.header}`);
      }
      if (a.kind === 'too-small') return this.refuse(422, 'Session Interval Too Small', [['Min-SE', String(a.minSE)]]);
      accepted = a;
    }
    this.side = side;
    st.pending = this;
    env.counters.inc('b2bua_replaces_started');
    void this.replace(call, side, settings, accepted)
      .catch((err: unknown) => {
        if (this.answered) return;
        // A header of the new INVITE that does not read (its Contact, say): 400, as anywhere.
        if (err instanceof SipSyntaxError) return this.refuse(400, err.reasonPhrase);
        env.log.warn({ callSid: call.callSid, err: String(err) }, 'b2bua: replacement failed');
        this.refuse(500);
      })
      .finally(() => {
        if (st.pending === this) st.pending = null;
        st.inviteBusy = false;
      });
  }

  /** The new INVITE was answered already (the proxy's 487 to its CANCEL, or ours). */
  private get answered(): boolean {
    return this.tx.lastResponse !== null && this.tx.lastResponse.status >= 200;
  }

  private async replace(
    call: Call,
    side: Side,
    settings: TimerSettings | null,
    accepted: Accepted | null,
  ): Promise<void> {
    const media = this.env.media;
    const other: Side = side === 'a' ? 'b' : 'a';
    const n = this.newLeg();
    const take: Takeover = { call, side, other, n, settings, accepted };
    const offer = media.sdpOf(this.req);
    this.transfers.stateOf(call).inviteBusy = true;
    await inSerial(call, async () => {
      if (this.gaveUp()) return;
      const nm = n.iface.media;
      const om = (other === 'a' ? call.a : call.b!).iface.media;
      media.setSides(call.callSid, side === 'a' ? nm : om, side === 'a' ? om : nm);
      if (offer !== null) await this.withOffer(take, offer);
      else await this.lateOffer(take);
    });
  }

  /** The leg the INVITE with Replaces makes (we are its UAS). */
  private newLeg(): Dialog {
    return uasDialogOf(this.req, this.flow, this.env.interfaces.forFlow(this.flow));
  }

  /** The INVITE offered: the other party is re-INVITEd with it, its answer goes in our 200. */
  private async withOffer(t: Takeover, offer: Buffer): Promise<void> {
    const { call, side, other } = t;
    const media = this.env.media;
    const mine = mediaOptionsOf(call, side);
    let toOther: Buffer;
    try {
      toOther = await media.offer(call.callSid, side, offer, mediaOptionsOf(call, other));
    } catch (err) {
      if (!(err instanceof MediaError)) throw err;
      this.refuse(err.sipStatus, undefined, [['Warning', err.warningHeader()]]);
      return;
    }
    const re = await reinvite(call, other, toOther);
    if (!re.ok) return this.otherRefused(call, re.status);
    if (this.gaveUp()) {
      // The engine commits nothing without our answer: the leg stays as it was.
      re.ack();
      return;
    }
    const answer = media.sdpOf(re.res);
    let body: Buffer | undefined;
    try {
      body = answer === null ? undefined : await media.answer(call.callSid, other, answer, mine);
    } catch (err) {
      if (!(err instanceof MediaError)) throw err;
      re.ack();
      this.refuse(err.sipStatus, undefined, [['Warning', err.warningHeader()]]);
      call.hangUp('Media failure');
      return;
    }
    re.ack();
    this.takeOver(call, side, t.n, mine, body, t.settings, t.accepted, null);
  }

  /** No offer in the INVITE: the other party's, from its 2xx, goes in ours; the answer comes in the ACK. */
  private async lateOffer(t: Takeover): Promise<void> {
    const { call, side, other } = t;
    const media = this.env.media;
    const mine = mediaOptionsOf(call, side);
    const theirs = mediaOptionsOf(call, other);
    const re = await reinvite(call, other, undefined);
    if (!re.ok) return this.otherRefused(call, re.status);
    const theirOffer = media.sdpOf(re.res);
    let toNew: Buffer | undefined;
    try {
      toNew = theirOffer === null ? undefined : await media.offer(call.callSid, other, theirOffer, mine);
    } catch (err) {
      if (!(err instanceof MediaError)) throw err;
      re.ack();
      this.refuse(err.sipStatus, undefined, [['Warning', err.warningHeader()]]);
      call.hangUp('Media failure');
      return;
    }
    if (this.gaveUp()) {
      re.ack();
      return;
    }
    this.takeOver(call, side, t.n, mine, toNew, t.settings, t.accepted, (ack) => {
      const answer = ack === null ? null : media.sdpOf(ack);
      call.serial(async () => {
        re.ack(answer === null ? undefined : await media.answer(call.callSid, side, answer, theirs));
      });
    });
  }

  /** CANCELled (the proxy answered 487), or the call ended meanwhile (481): nothing more to do. */
  private gaveUp(): boolean {
    if (this.abandoned && !this.answered) this.refuse(481);
    return this.answered;
  }

  /** The other party refused our re-INVITE: the new INVITE gets its status; the call goes on (481/408: it ends). */
  private otherRefused(call: Call, status: number): void {
    this.refuse(status >= 300 && status < 700 ? status : 500);
    // RFC 3261 12.2.1.2: a 481 or 408 to a request inside a dialog ends it.
    if (status === 481 || status === 408) call.hangUp(`Replacement re-INVITE answered ${status}`);
  }

  /** The new dialog in the leg's place: our 2xx to it (until its ACK), the replaced leg hung up. */
  private takeOver(
    call: Call,
    side: Side,
    n: Dialog,
    media: LegMediaOptions,
    body: Buffer | undefined,
    settings: TimerSettings | null,
    accepted: Accepted | null,
    onAck: ((ack: SipMessage | null) => void) | null,
  ): void {
    const env = this.env;
    const st = this.transfers.stateOf(call);
    const old = side === 'a' ? call.a : call.b!;
    const key = call.replaceLeg(side, n, media);
    const retired = this.transfers.retire(key, old);
    const rec = st.legs.get(old);
    if (rec !== undefined) {
      st.legs.delete(old);
      st.legs.set(n, rec);
    }
    st.replaced++;
    // The leg is the sender's now (another party's when a relayed REFER allowed it).
    st.parties[side] = { ...this.from, number: st.parties[side].number };
    const headers: Array<[string, string]> = [];
    let leg: LegTimer | null = null;
    if (call.timers !== null) {
      if (settings !== null && accepted !== null) {
        leg = new LegTimer(call, side, settings, call.timers);
        leg.noteAllow(this.req);
        headers.push(...responseTimerHeaders(accepted));
      }
      call.timers.replaceLeg(side, leg);
    }
    for (const rr of this.req.getAll('Record-Route')) headers.push(['Record-Route', rr]);
    headers.push(['Contact', n.contact]);
    if (env.agentName !== null) headers.push(['Server', env.agentName]);
    if (body !== undefined) headers.push(['Content-Type', 'application/sdp']);
    const ok = createResponse(this.req, 200, {
      toTag: n.localTag,
      headers,
      ...(body !== undefined && { body }),
    });
    const clock = { wheel: env.wheel, t1: env.timers.t1, t2: env.timers.t2 };
    n.answerInvite(ok, this.tx, clock, {
      onAck: (ack) => onAck?.(ack),
      onTimeout: () => {
        onAck?.(null);
        env.counters.inc('b2bua_ack_timeouts');
        call.hangUp('No ACK');
      },
    });
    if (leg !== null && accepted !== null) leg.refreshed(accepted);
    env.counters.inc('b2bua_replaces_done');
    env.log.info({ callSid: call.callSid, leg: side === 'a' ? 'caller' : 'callee' }, 'b2bua: leg replaced (RFC 3891)');
    // RFC 3891 3: the replaced dialog is ended with BYE.
    if (!retired.gone) {
      const byeHeaders: Array<[string, string]> = [['Reason', 'SIP;cause=200;text="Replaced"']];
      if (env.agentName !== null) byeHeaders.push(['User-Agent', env.agentName]);
      env.layer.sendRequest(
        old.request('BYE', { headers: byeHeaders }),
        old.target,
        NO_HANDLERS,
        old.flow ?? undefined,
      );
      env.counters.inc('b2bua_byes_sent');
    }
  }

  // ---- PendingTransfer ----

  take(): boolean {
    return false;
  }

  abandon(): void {
    this.abandoned = true;
  }
}

/** What a replacement needs through its media steps. */
interface Takeover {
  call: Call;
  side: Side;
  other: Side;
  n: Dialog;
  settings: TimerSettings | null;
  accepted: Accepted | null;
}
