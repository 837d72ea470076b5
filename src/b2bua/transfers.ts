/**
 * Call transfer in the B2BUA. A REFER inside a call meets the policy of
 * the trunk or carrier it comes from (`trunking.transfer`, transfer-policy.ts):
 *
 * - refuse: 403 (RFC 3515 2.4.2: a REFER may be declined; RFC 5057: a 403
 *   fails that transaction only, the call goes on);
 * - relay: carried to the other leg as any request inside the call
 *   (in-dialog.ts), its NOTIFYs back the same way;
 * - perform: done here (performed-transfer.ts): a new leg to the Refer-To
 *   number, planned as a call of the referrer's trunk, bridged to the party
 *   that stays, the referrer told by NOTIFY and hung up; with Replaces in
 *   the Refer-To (attended, attended-transfer.ts) the leg of the referrer's
 *   other call that it names joins this one instead of a new leg.
 *
 * An INVITE with Replaces naming one of our legs (replacement.ts) takes that
 * leg's place unless the policy of its trunk or carrier is `refuse`. A leg
 * a transfer or a replacement took over keeps answering a while (a BYE
 * crossing ours: 200, anything else: 481). CDRs: transfer-cdr.ts.
 */
import type { SipMessage } from '../sip/message.js';
import { createResponse } from '../sip/response.js';
import type { Flow } from '../transport/types.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { Cdr, HangupSide } from '../trunking/model.js';
import { tryNormalizeNumber } from '../trunking/e164.js';
import type { Dialog } from '../dialog/dialog.js';
import { buildRequest } from '../dialog/request-builder.js';
import { callEnded } from './call-events.js';
import type { Call, Side } from './call.js';
import type { B2buaEnv } from './env.js';
import { planInbound, planOutbound, refuse, type Planner, type PlanResult } from './planner.js';
import { newCallId } from '../dialog/sid.js';
import { CallTransfers, type Party } from './transfer-state.js';
import { transferLegCdr, withNotes, type TransferLegRecord } from './transfer-cdr.js';
import {
  referTargetOf,
  replacesInUriHeaders,
  TransferHeaderError,
  type ReferTarget,
  type Replaces,
} from './transfer-headers.js';
import { AttendedTransfer } from './attended-transfer.js';
import { PerformedTransfer } from './performed-transfer.js';
import { Replacement } from './replacement.js';
import type { TransferPolicyName } from './transfer-policy.js';

/** What transfers need of the B2BUA that holds the calls. */
export interface TransferHost {
  /** The call and side owning one of our dialogs (its Call-ID and our tag). */
  dialogOf(callId: string, localTag: string): { call: Call; side: Side } | undefined;
  unbind(key: string): void;
  writingCdr(done: Promise<void>): void;
  /** A call over without its own end (an attended transfer joined its leg to another call). */
  ended(call: Call): void;
}

/** A leg taken over by another dialog: answered a while, so that a request crossing the takeover is not lost. */
interface RetiredLeg {
  dialog: Dialog;
  /** Its peer hung up (our BYE is then not sent). */
  gone: boolean;
}

/** How long a leg taken over keeps answering (as an ended call's dialogs are kept, 64*T1 at the default T1). */
const RETIRED_MS = 32_000;

export class Transfers {
  private readonly calls = new WeakMap<Call, CallTransfers>();
  private readonly retired = new Map<string, RetiredLeg>();
  /** Dialogs a relayed REFER named in its Replaces, and who may replace them (noteReferredReplaces). */
  private readonly referred = new Map<string, Omit<Party, 'number'>>();
  /** New legs whose CDR is written (once each). */
  private readonly finished = new WeakSet<TransferLegRecord>();

  constructor(
    readonly env: B2buaEnv,
    readonly planner: Planner,
    readonly host: TransferHost,
  ) {}

  /** The transfers of a call (made on first use). */
  stateOf(call: Call): CallTransfers {
    let st = this.calls.get(call);
    if (st === undefined) {
      st = new CallTransfers(call);
      this.calls.set(call, st);
    }
    return st;
  }

  policyOf(party: Party): TransferPolicyName {
    return this.env.transfers?.forParty(party.kind, party.name) ?? 'relay';
  }

  // ---- requests inside calls ----

  /** A request inside a call (Call.onInDialog): true when a transfer took it. */
  takeRequest(call: Call, side: Side, req: SipMessage, tx: ServerTransaction, flow: Flow): boolean {
    if (req.method === 'REFER') return this.onRefer(call, side, req, tx, flow);
    const st = this.calls.get(call);
    if (st === undefined) return false;
    if (st.pending?.take(side, req, tx) === true) return true;
    if (req.method === 'INVITE' && st.inviteBusy) {
      // Our re-INVITE toward the party that stays is in progress (RFC 3261 14.2).
      const d = side === 'a' ? call.a : call.b!;
      const inOrder = d.acceptRemoteSeq(req.cseq.seq, 'INVITE');
      this.env.counters.inc('b2bua_glare');
      this.answer(tx, req, inOrder ? 491 : 500, inOrder ? undefined : 'CSeq out of order');
      return true;
    }
    return false;
  }

  private onRefer(call: Call, side: Side, req: SipMessage, tx: ServerTransaction, flow: Flow): boolean {
    const env = this.env;
    const st = this.stateOf(call);
    const party = st.party(call, side);
    const policy = this.policyOf(party);
    env.counters.inc(`b2bua_refer_${policy}`);
    if (policy === 'relay') {
      this.noteReferredReplaces(call, side, req);
      return false;
    }
    const d = side === 'a' ? call.a : call.b;
    if (d === null || call.state !== 'confirmed') {
      this.answer(tx, req, 481);
      return true;
    }
    if (!d.acceptRemoteSeq(req.cseq.seq, 'REFER')) {
      this.answer(tx, req, 500, 'CSeq out of order', [['Retry-After', '1']]);
      return true;
    }
    if (policy === 'refuse') {
      env.log.info({ callSid: call.callSid, [party.kind]: party.name }, 'b2bua: REFER refused by policy');
      this.answer(tx, req, 403, 'Transfer not allowed');
      return true;
    }
    let target: ReferTarget;
    try {
      target = referTargetOf(req);
    } catch (err) {
      if (!(err instanceof TransferHeaderError)) throw err;
      this.answer(tx, req, err.status, err.status === 400 ? err.reasonPhrase : 'Refer-To not supported');
      return true;
    }
    let replaces: Replaces | null = null;
    try {
      replaces = target.headers === null ? null : replacesInUriHeaders(target.headers);
    } catch (err) {
      if (!(err instanceof TransferHeaderError)) throw err;
      this.answer(tx, req, 400, err.reasonPhrase);
      return true;
    }
    // Headers other than Replaces in the Refer-To, another method: nothing we would send.
    if (target.method !== 'INVITE' || (target.headers !== null && replaces === null)) {
      this.answer(tx, req, 501, 'Transfer of this kind not performed');
      return true;
    }
    if (st.pending !== null || st.inviteBusy) {
      this.answer(tx, req, 500, 'Transfer in progress', [['Retry-After', '5']]);
      return true;
    }
    const transfer =
      replaces === null
        ? new PerformedTransfer(this, call, side, req, tx, flow, target.user)
        : new AttendedTransfer(this, call, side, req, tx, replaces);
    st.pending = transfer;
    void transfer.run().finally(() => {
      if (st.pending === transfer) st.pending = null;
    });
    return true;
  }

  /**
   * A relayed REFER whose Refer-To carries Replaces naming a dialog of ours
   * with the referrer's own trunk or carrier (an attended transfer between
   * two of its calls through us): its recipient may then send that INVITE
   * with Replaces, for a while (RFC 3891 3: the referrer, a party to the
   * dialog, authorizes the replacement by its REFER).
   */
  private noteReferredReplaces(call: Call, side: Side, req: SipMessage): void {
    let r: Replaces | null;
    try {
      const t = referTargetOf(req);
      r = t.headers === null ? null : replacesInUriHeaders(t.headers);
    } catch (err) {
      if (err instanceof TransferHeaderError) return; // relayed as it is; the recipient answers it
      throw err;
    }
    const found = r === null ? undefined : this.host.dialogOf(r.callId, r.toTag);
    if (r === null || found === undefined || found.call === call) return;
    const st = this.stateOf(call);
    const referrer = st.party(call, side);
    const named = this.stateOf(found.call).party(found.call, found.side);
    if (named.kind !== referrer.kind || named.name !== referrer.name) return;
    const recipient = st.party(call, side === 'a' ? 'b' : 'a');
    const key = `${r.callId}\n${r.toTag}`;
    const grant = { kind: recipient.kind, name: recipient.name };
    this.referred.set(key, grant);
    this.env.wheel.schedule(RETIRED_MS, () => {
      if (this.referred.get(key) === grant) this.referred.delete(key);
    });
  }

  /** Whether a relayed REFER let `from` replace our dialog (its Call-ID and our tag). */
  referredTo(callId: string, localTag: string, from: Omit<Party, 'number'>): boolean {
    const grant = this.referred.get(`${callId}\n${localTag}`);
    return grant !== undefined && grant.kind === from.kind && grant.name === from.name;
  }

  /**
   * The referrer's BYE while its transfer goes on (it may leave once it has
   * our 202): answered 200, or 500 when out of order. True: it came in order.
   */
  referrerBye(referrer: Dialog, req: SipMessage, tx: ServerTransaction): boolean {
    if (!referrer.acceptRemoteSeq(req.cseq.seq, 'BYE')) {
      this.answer(tx, req, 500, 'CSeq out of order', [['Retry-After', '1']]);
      return false;
    }
    this.answer(tx, req, 200);
    this.env.counters.inc('b2bua_byes_received');
    return true;
  }

  /** An INVITE with Replaces from a trunk or a carrier (B2bua.handleInitial): always answered here. */
  replace(req: SipMessage, tx: ServerTransaction, flow: Flow, from: Omit<Party, 'number'>): void {
    new Replacement(this, req, tx, flow, from).run();
  }

  answer(
    tx: ServerTransaction,
    req: SipMessage,
    status: number,
    reason?: string,
    extra: Array<[string, string]> = [],
  ): void {
    const headers = [...extra];
    if (this.env.agentName !== null) headers.push(['Server', this.env.agentName]);
    tx.respond(createResponse(req, status, { headers, ...(reason !== undefined && { reason }) }));
  }

  // ---- legs taken over ----

  /** The old dialog of a leg taken over: unbound from the call, answered here for a while. */
  retire(key: string, dialog: Dialog): { readonly gone: boolean } {
    this.host.unbind(key);
    const leg: RetiredLeg = { dialog, gone: false };
    this.retired.set(key, leg);
    this.env.wheel.schedule(RETIRED_MS, () => {
      if (this.retired.get(key) === leg) this.retired.delete(key);
    });
    return leg;
  }

  /** Whether our dialog (its Call-ID and our tag) is a leg taken over lately. */
  isRetired(callId: string, localTag: string): boolean {
    return this.retired.has(`${callId}\n${localTag}`);
  }

  /** A request for a leg taken over (B2bua.claimInDialog): true when it was one. */
  claimRetired(req: SipMessage, tx: ServerTransaction | null): boolean {
    const tag = req.toTag;
    const leg = tag === null ? undefined : this.retired.get(`${req.callId}\n${tag}`);
    if (leg === undefined) return false;
    if (tx === null) return true; // an ACK: nothing waits for it
    if (req.method === 'BYE') {
      leg.gone = true;
      leg.dialog.acceptRemoteSeq(req.cseq.seq, 'BYE');
      this.answer(tx, req, 200);
      return true;
    }
    this.answer(tx, req, 481);
    return true;
  }

  // ---- the call's end ----

  /** The call ended: a transfer in progress is given up. */
  ended(call: Call): void {
    this.calls.get(call)?.pending?.abandon();
  }

  /**
   * The call's CDR before it is written: each new leg still up gets its own
   * CDR (ended with the call); the call's says it was transferred.
   */
  cdrReady(call: Call, cdr: Cdr): void {
    const st = this.calls.get(call);
    if (st === undefined) return;
    for (const [d, rec] of st.legs) {
      const side: Side = call.a === d ? 'a' : 'b';
      this.legEnded(rec, {
        endAt: cdr.endAt,
        status: cdr.status,
        reason: cdr.reason,
        hangupBy: legHangup(cdr.hangupBy, side),
      });
    }
    st.legs.clear();
    const notes: Record<string, unknown> = {};
    const last = st.notes[st.notes.length - 1];
    if (last !== undefined) {
      cdr.reason = `Transferred to ${last.to}`;
      notes['transfers'] = st.notes;
    }
    if (st.replaced > 0) notes['replaced'] = st.replaced;
    if (Object.keys(notes).length > 0) cdr.extra = withNotes(cdr.extra, notes);
  }

  /** A transfer's new leg ended (or never answered): its limits released, its CDR written. */
  legEnded(rec: TransferLegRecord, end: { endAt: number; status: number; reason: string; hangupBy: HangupSide }): void {
    if (this.finished.has(rec)) return;
    this.finished.add(rec);
    rec.plan.release();
    const cdr = transferLegCdr(rec, end);
    this.env.bus.publish('call.ended', callEnded(cdr));
    this.host.writingCdr(
      this.env.cdrs
        .write(cdr)
        .catch((err: unknown) =>
          this.env.log.warn({ err: String(err), callSid: cdr.callSid }, 'b2bua: CDR not written'),
        ),
    );
  }

  // ---- planning ----

  /**
   * The new leg of a transfer, planned as a call of the referrer's trunk
   * (outbound routing: its caller ID rules, limits, barring, route and
   * carriers) or, from a carrier, as an inbound call to a DID; the caller ID
   * is the referrer's own number.
   */
  async plan(party: Party, user: string | null, flow: Flow): Promise<PlanResult> {
    const number = user === null ? null : tryNormalizeNumber(user);
    if (number === null) return refuse(484, 'Address Incomplete', 'number');
    const p = this.planner;
    let invite: SipMessage;
    try {
      invite = buildRequest({
        method: 'INVITE',
        uri: `sip:${number}@${p.ourHost}`,
        headers: [
          ['From', `<sip:${party.number}@${p.ourHost}>`],
          ['To', `<sip:${number}@${p.ourHost}>`],
          // The planner reads it (a hash of it may pick the first gateway of a carrier).
          ['Call-ID', newCallId()],
        ],
      });
    } catch {
      return refuse(403, 'Caller ID not allowed', 'caller-id');
    }
    if (party.kind === 'carrier') {
      const carrier = party.name === null ? null : p.directory.carrier(party.name);
      return carrier === null ? refuse(403, 'Forbidden', 'policy') : planInbound(p, invite, flow, carrier);
    }
    const trunk = party.name === null ? null : p.directory.trunk(party.name);
    const account = trunk === null ? null : p.directory.account(trunk.account);
    if (trunk === null || account === null) return refuse(403, 'Forbidden', 'policy');
    return planOutbound(p, invite, flow, trunk, account);
  }
}

/** The hang-up side of a transfer's new leg on `side` of the call: the new leg is its callee. */
function legHangup(by: HangupSide, side: Side): HangupSide {
  if (by === 'system') return 'system';
  const hungUp: Side = by === 'caller' ? 'a' : 'b';
  return hungUp === side ? 'callee' : 'caller';
}
