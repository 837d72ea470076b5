import type { SipMessage } from '../sip/message.js';
import { createResponse } from '../sip/response.js';
import type { Flow } from '../transport/types.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { TrunkingDirectory } from '../trunking/model.js';
import type { AuthenticatedUser } from '../proxy/proxy-env.js';
import type { Limiter } from '../trunking/limits.js';
import { Call, dialogKey, type CallRegistry, type Side } from './call.js';
import type { B2buaEnv } from './env.js';
import { unsupportedRequired } from './headers.js';
import { refuseForTimer, type TimerRefusal } from './call-timers.js';
import {
  planInbound,
  planOutbound,
  refuse,
  requestUser,
  userOf,
  type Planner,
  type PlanResult,
  type Refusal,
} from './planner.js';
import { newCallSid } from '../dialog/sid.js';
import { callEnded } from './call-events.js';
import { RETRY_AFTER_S } from '../core/admission.js';
import { statusLabel } from '../core/counters.js';
import type { CallDirection, Cdr } from '../trunking/model.js';
import { receivedText } from './call-cdr.js';
import { UnknownSources, type UnknownSource } from './unknown-sources.js';
import { Transfers } from './transfers.js';

/** Who a refused call came from, for its CDR. */
interface RefusedFrom {
  direction: CallDirection;
  carrier: string | null;
  account: string | null;
  trunk: string | null;
}

/** At most this much of a refused call's From user / Request-URI user goes into its CDR. */
const CDR_USER_MAX = 64;

/** A live call as `trunkline calls` and the API show it. */
export interface LiveCall {
  callSid: string;
  /** The cluster node holding it; null for a node alone. */
  node: string | null;
  direction: string;
  account: string | null;
  trunk: string | null;
  carrier: string | null;
  from: string;
  to: string;
  state: string;
  startAt: number;
  answerAt: number | null;
}

/** What follows the calls of a node in a cluster (src/b2bua/shared-calls.ts): each change, each end. */
export interface CallWatcher {
  changed(call: Call): void;
  ended(call: Call): void;
  /** The flow comes from another node of the cluster (a request of a peer carried to the call's node). */
  isNodeFlow(flow: Flow): boolean;
}

/**
 * The B2BUA of trunk calls: the `trunking` stage of the request pipeline.
 * An INVITE from a carrier gateway's address is an inbound call to a DID;
 * one from a trunk is an outbound call to the PSTN. Each becomes a Call of
 * two dialogs; requests inside them find their call by Call-ID and our tag.
 */
export class B2bua implements CallRegistry {
  private readonly dialogs = new Map<string, { call: Call; side: Side }>();
  private readonly byInvite = new Map<ServerTransaction, Call>();
  private readonly live = new Map<string, Call>();
  /** Ended calls' and refusals' CDRs still on their way to the store. */
  private readonly writing = new Set<Promise<void>>();
  /** No new call (draining, stopping): why one whose planning ends now is refused 503; null while open. */
  private closed: string | null = null;
  private readonly unknown: UnknownSources;
  /** In a cluster: this node's id and what writes its calls to Redis (share()); null alone. */
  private node: string | null = null;
  private watcher: CallWatcher | null = null;
  /** REFER by policy, INVITE with Replaces (transfers.ts). */
  private readonly transfers: Transfers;

  constructor(
    private readonly env: B2buaEnv,
    private readonly planner: Planner,
  ) {
    this.unknown = new UnknownSources(env.counters, env.log, (e) => env.bus.publish('source.refused', e));
    this.transfers = new Transfers(env, planner, {
      dialogOf: (callId, localTag) => this.dialogs.get(dialogKey(callId, localTag)),
      unbind: (key) => this.unbind(key),
      ended: (call) => this.ended(call),
      writingCdr: (done) => this.writingCdr(done),
    });
    // A call whose media stopped is ended, not billed for hours ("Media timeout" in the CDR).
    env.media.onTimeout((callSid) => {
      const call = this.live.get(callSid);
      if (call === undefined) return;
      env.counters.inc('b2bua_media_timeouts');
      call.hangUp('Media timeout', 'system');
    });
  }

  get directory(): TrunkingDirectory {
    return this.planner.directory;
  }

  get limiter(): Limiter {
    return this.planner.limiter;
  }

  /**
   * An initial request: true when the trunking stage took it (a call
   * started, or it was refused with an answer), false when it is not a
   * trunk call (the next stage decides).
   */
  handleInitial(req: SipMessage, tx: ServerTransaction, flow: Flow, user: AuthenticatedUser | null = null): boolean {
    if (req.method !== 'INVITE') return false;
    let src = this.planner.directory.classifySource(flow.remoteHost, flow.proto);
    if (src.kind === 'none' && user !== null) {
      // A registration trunk: its PBX proved it is the trunk's subscriber (proxy authentication, 407).
      const reg = this.planner.directory.trunkByRegistration(`${user.username}@${user.domain}`);
      if (reg !== null) src = { kind: 'trunk', trunk: reg.trunk, account: reg.account };
    }
    if (req.has('Replaces') && (src.kind === 'carrier' || src.kind === 'trunk')) {
      // RFC 3891: a new dialog to take the place of one of our legs, not a new call.
      const party = src.kind === 'carrier' ? src.carrier.name : src.trunk.name;
      this.transfers.replace(req, tx, flow, { kind: src.kind, name: party });
      return true;
    }
    let planned: Promise<PlanResult>;
    if (src.kind === 'carrier') planned = planInbound(this.planner, req, flow, src.carrier);
    else if (src.kind === 'trunk') planned = planOutbound(this.planner, req, flow, src.trunk, src.account);
    else if (src.kind === 'wrong-transport')
      planned = Promise.resolve(refuse(403, 'Transport not allowed', 'transport'));
    else return false;
    const from: RefusedFrom =
      src.kind === 'carrier'
        ? { direction: 'inbound', carrier: src.carrier.name, account: null, trunk: null }
        : { direction: 'outbound', carrier: null, account: src.account.name, trunk: src.trunk.name };
    planned.then(
      (result) => this.begin(req, tx, flow, result, from),
      (err: unknown) => {
        this.env.log.warn({ err: String(err), callId: req.callId }, 'b2bua: planning failed');
        this.answer(tx, req, 500, 'Server Internal Error');
      },
    );
    return true;
  }

  private begin(req: SipMessage, tx: ServerTransaction, flow: Flow, result: PlanResult, from: RefusedFrom): void {
    const answered = tx.lastResponse !== null && tx.lastResponse.status >= 200;
    if (this.closed !== null && result.kind === 'call') {
      // Planned while the server stopped taking calls: no leg is started (RFC 3261 21.5.4).
      result.plan.release();
      const plan = result.plan;
      const r = refuse(503, this.closed, 'shutdown', [['Retry-After', String(RETRY_AFTER_S)]]);
      this.refused(req, flow, r, {
        direction: plan.direction,
        carrier: from.carrier,
        account: plan.account,
        trunk: plan.trunk,
      });
      if (!answered) this.answer(tx, req, r.status, r.reason, r.headers);
      return;
    }
    if (result.kind === 'refuse') {
      this.refused(req, flow, result, from);
      if (!answered) this.answer(tx, req, result.status, result.reason, result.headers);
      return;
    }
    if (answered) {
      // CANCELled while planning.
      result.plan.release();
      return;
    }
    // Extensions: Require we cannot honour (420), a session interval below our minimum (422, RFC 4028 6).
    const unsupported = unsupportedRequired(req);
    const ext: TimerRefusal | null =
      unsupported.length > 0
        ? { status: 420, reason: 'Bad Extension', headers: [['Unsupported', unsupported.join(', ')]] }
        : refuseForTimer(this.env, result.plan, req);
    if (ext !== null) {
      result.plan.release();
      const plan = result.plan;
      this.refused(req, flow, refuse(ext.status, ext.reason, 'extension'), {
        direction: plan.direction,
        carrier: null,
        account: plan.account,
        trunk: plan.trunk,
      });
      this.answer(tx, req, ext.status, ext.reason, ext.headers);
      return;
    }
    const call = new Call(this.env, result.plan, req, tx, flow, this);
    this.byInvite.set(tx, call);
    this.live.set(call.callSid, call);
    call.start();
  }

  /**
   * A call of a known trunk or carrier refused before any leg was tried:
   * counted by status and cause, one log line, and a CDR like any other
   * call's (no answer, duration 0, hung up by the system), so the on-call
   * engineer finds "why was my call refused" in the CDRs and the console's
   * failure figures count it.
   */
  private refused(req: SipMessage, flow: Flow, r: Refusal, from: RefusedFrom): void {
    this.env.counters.inc(`b2bua_refused_${statusLabel(r.status)}_${r.cause}`);
    const now = Date.now();
    const cdr: Cdr = {
      callSid: newCallSid(),
      account: r.account ?? from.account,
      trunk: r.trunk ?? from.trunk,
      carrier: from.carrier,
      direction: from.direction,
      // As sent (the request may be why it was refused), cut to CDR_USER_MAX; empty when it does not parse.
      from: (userOf(req.get('From')).user ?? '').slice(0, CDR_USER_MAX),
      to: (requestUser(req) ?? '').slice(0, CDR_USER_MAX),
      fromReceived: receivedText(userOf(req.get('From')).user),
      toReceived: receivedText(requestUser(req)),
      emergency: r.emergency === true,
      startAt: now,
      answerAt: null,
      endAt: now,
      duration: 0,
      status: r.status,
      reason: r.reason,
      hangupBy: 'system',
      extra: null,
    };
    this.env.log[r.emergency === true ? 'warn' : 'info'](
      {
        callSid: cdr.callSid,
        callId: req.callId,
        ...(r.emergency === true && { emergency: true, to: cdr.to }),
        direction: cdr.direction,
        account: cdr.account,
        trunk: cdr.trunk,
        carrier: cdr.carrier,
        status: r.status,
        reason: r.reason,
        cause: r.cause,
        src: flow.remoteHost,
      },
      r.emergency === true ? 'emergency call refused' : 'call refused',
    );
    this.env.bus.publish('call.ended', callEnded(cdr));
    this.writingCdr(
      this.env.cdrs
        .write(cdr)
        .catch((err: unknown) =>
          this.env.log.warn({ err: String(err), callSid: cdr.callSid }, 'b2bua: CDR not written'),
        ),
    );
  }

  private answer(
    tx: ServerTransaction,
    req: SipMessage,
    status: number,
    reason: string,
    extra?: Array<[string, string]>,
  ): void {
    const headers: Array<[string, string]> = [...(extra ?? [])];
    if (this.env.agentName !== null) headers.push(['Server', this.env.agentName]);
    tx.respond(createResponse(req, status, { reason, headers }));
  }

  isTrunkSource(flow: Flow): boolean {
    const k = this.planner.directory.classifySource(flow.remoteHost, flow.proto).kind;
    return k === 'trunk' || k === 'carrier' || k === 'wrong-transport';
  }

  inUse(): boolean {
    return this.planner.inUse();
  }

  /** A request from no trunk, carrier or user, refused 403 by the proxy: counted, logged once per source per minute. */
  unknownSource(req: SipMessage, flow: Flow): void {
    this.unknown.refused(req, flow);
  }

  /** The last sources refused as unknown, newest first. */
  unknownSources(): UnknownSource[] {
    return this.unknown.list();
  }

  /** A request with a To tag (or a 2xx ACK) of one of our calls: true when taken. */
  claimInDialog(req: SipMessage, tx: ServerTransaction | null, flow: Flow): boolean {
    const tag = req.toTag;
    if (tag === null) return false;
    const e = this.dialogs.get(`${req.callId}\n${tag}`);
    if (e === undefined) return this.transfers.claimRetired(req, tx);
    e.call.onInDialog(e.side, req, tx, flow, this.watcher?.isNodeFlow(flow) === true);
    return true;
  }

  /** The caller's CANCEL of a call's INVITE: true when the INVITE was ours. */
  cancel(invite: ServerTransaction): boolean {
    const call = this.byInvite.get(invite);
    if (call === undefined) return false;
    call.onCancel();
    return true;
  }

  /** Hangs up a live call (API, CLI): false when no such call. */
  hangUp(callSid: string): boolean {
    const call = this.live.get(callSid);
    if (call === undefined) return false;
    call.hangUp('Hung up by operator', 'system');
    return true;
  }

  /** A node of a cluster: its calls are listed with its id, and `watcher` follows them. */
  share(node: string, watcher: CallWatcher): void {
    this.node = node;
    this.watcher = watcher;
  }

  /** A live call by its SID. */
  call(callSid: string): Call | undefined {
    return this.live.get(callSid);
  }

  /** The live calls. */
  calls(): IterableIterator<Call> {
    return this.live.values();
  }

  liveCalls(): LiveCall[] {
    const out: LiveCall[] = [];
    for (const c of this.live.values()) {
      out.push({
        callSid: c.callSid,
        node: this.node,
        direction: c.plan.direction,
        account: c.plan.account,
        trunk: c.plan.trunk,
        carrier: c.carrier,
        from: c.plan.from,
        to: c.plan.to,
        state: c.state,
        startAt: c.startAt,
        answerAt: c.answerAt,
      });
    }
    return out;
  }

  /** The Call-IDs of a live call's legs (the callee's: its current attempt), for HEP and traces. */
  callIds(callSid: string): { a: string; b: string | null } | null {
    const c = this.live.get(callSid);
    return c === undefined ? null : { a: c.a.callId, b: c.b?.callId ?? null };
  }

  /** The call and side owning one of our dialogs (its Call-ID and our tag), for traces. */
  legOwner(callId: string, localTag: string): { callSid: string; side: Side } | null {
    const e = this.dialogs.get(`${callId}\n${localTag}`);
    return e === undefined ? null : { callSid: e.call.callSid, side: e.side };
  }

  get liveCount(): number {
    return this.live.size;
  }

  /** Takes no new call from now on (draining); the calls up go on. */
  stopTakingCalls(reason: string): void {
    this.closed ??= reason;
  }

  /** Ends every call and takes no new one (shutdown): BYE to both sides of answered calls. Returns how many. */
  hangUpAll(reason: string): number {
    this.closed = reason;
    const calls = [...this.live.values()];
    for (const c of calls) c.hangUp(reason, 'system');
    return calls.length;
  }

  /** Resolves once every CDR of a call ended so far is written (or failed, logged). */
  async cdrsWritten(): Promise<void> {
    while (this.writing.size > 0) await Promise.all([...this.writing]);
  }

  // ---- CallRegistry ----

  bind(key: string, call: Call, side: Side): void {
    this.dialogs.set(key, { call, side });
  }

  unbind(key: string): void {
    this.dialogs.delete(key);
  }

  changed(call: Call): void {
    this.watcher?.changed(call);
  }

  ended(call: Call): void {
    this.transfers.ended(call);
    this.byInvite.delete(call.aTx);
    this.live.delete(call.callSid);
    this.watcher?.ended(call);
  }

  takeRequest(call: Call, side: Side, req: SipMessage, tx: ServerTransaction, flow: Flow): boolean {
    return this.transfers.takeRequest(call, side, req, tx, flow);
  }

  cdrReady(call: Call, cdr: Cdr): void {
    this.transfers.cdrReady(call, cdr);
  }

  writingCdr(done: Promise<void>): void {
    this.writing.add(done);
    void done.finally(() => this.writing.delete(done));
  }
}
