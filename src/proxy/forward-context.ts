import type { SipMessage } from '../sip/message.js';
import { createResponse } from '../sip/response.js';
import { H } from '../sip/header-names.js';
import type { SipUri } from '../sip/uri.js';
import type { Flow } from '../transport/types.js';
import type { Target } from '../transaction/types.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { ClientTransaction, ClientHandlers } from '../transaction/client-transaction.js';
import type { TimerHandle, TimerTarget } from '../transaction/timer-wheel.js';
import { newBranch } from './branch.js';
import { recordRouteUri, viaSentBy, type Interfaces, type SipInterface } from '../dialog/interfaces.js';
import { nextHopUri } from './route-set.js';
import { allowsFailover, chooseBest } from './best-response.js';
import { buildCancel } from './cancel.js';
import { releasedRequest } from '../transaction/released.js';
import type { ProxyEnv } from './proxy-env.js';

/**
 * A destination that also rewrites the branch (the location stage): its
 * Request-URI (RFC 3261 16.6 step 2: the contact), Route values to preload
 * (a binding's Path, RFC 3327), and the next hop to send to.
 */
export interface BranchTarget {
  hop: SipUri;
  requestUri?: string;
  routes?: string[];
  /** The status of the branch when its hop cannot be reached (transport error, timeout) instead of 503/408. */
  unreachable?: number;
}

/** A destination: a next hop URI, a BranchTarget, or null for "the route set / Request-URI decides". */
export type Destination = SipUri | BranchTarget | null;

/** Timer id of Timer C (Branch.onTimer). */
const TIMER_C = 1;

/** One attempt toward one destination (16.6: a branch), with its RFC 3263 target list. */
class Branch implements ClientHandlers, TimerTarget {
  tx: ClientTransaction | null = null;
  targets: Target[] = [];
  targetIndex = 0;
  done = false;
  cancelWanted = false;
  cancelSent = false;
  timerC: TimerHandle | null = null;
  /** BranchTarget.unreachable of its destination, or null. */
  unreachable: number | null = null;

  constructor(
    readonly ctx: ForwardContext,
    /** The branch's copy of the request; a stand-in once the context is done. */
    public msg: SipMessage,
  ) {}

  onProvisional(res: SipMessage): void {
    this.ctx.onProvisional(this, res);
  }

  onFinal(res: SipMessage): void {
    this.ctx.onFinal(this, res);
  }

  onRetransmitted2xx(res: SipMessage): void {
    this.ctx.relayUpstream(res);
  }

  onTimeout(): void {
    this.ctx.onBranchFailure(this, 408, 'Request Timeout');
  }

  onTransportError(): void {
    this.ctx.onBranchFailure(this, 503, 'Service Unavailable');
  }

  /** Timer C (no closure per INVITE branch). */
  onTimer(id: number): void {
    if (id !== TIMER_C) return;
    this.timerC = null;
    this.ctx.onTimerC(this);
  }
}

/**
 * The proxy's state for one forwarded request (RFC 3261 16.6-16.10): its
 * branches (in parallel, or one after another for serial forking), the
 * final responses collected, CANCELs, and which response goes upstream.
 */
export class ForwardContext {
  private readonly branches: Branch[] = [];
  private readonly finals: SipMessage[] = [];
  /** Destinations not tried yet (serial mode). */
  private readonly queue: Destination[];
  private finalSent = false;
  private cancelled = false;
  /** The dialog's Record-Route stamp, made once for all branches. */
  private stamp: string | null = null;

  constructor(
    private readonly env: ProxyEnv,
    private readonly interfaces: Interfaces,
    /** The request as received; a stand-in once the context is done. */
    private req: SipMessage,
    readonly serverTx: ServerTransaction,
    private readonly inFlow: Flow,
    destinations: Destination[],
    private readonly mode: 'parallel' | 'serial',
    private readonly recordRoute: boolean,
    private readonly onDone: (ctx: ForwardContext) => void,
  ) {
    this.queue = [...destinations];
  }

  start(): void {
    if (this.mode === 'parallel') while (this.queue.length > 0) this.startNext();
    else this.startNext();
  }

  /** The caller's CANCEL (16.10): cancel every pending branch, start no new one. */
  cancel(): void {
    this.cancelled = true;
    this.queue.length = 0;
    for (const b of this.branches) if (!b.done) this.cancelBranch(b);
    this.maybeFinish();
  }

  private startNext(): void {
    const dest = this.queue.shift();
    if (dest === undefined) return;
    // Each branch starts from the request as received (after 16.4 preprocessing).
    const branch = new Branch(this, this.req.clone());
    this.branches.push(branch);
    void this.route(branch, dest);
  }

  /** 16.6 steps 2-8 for one branch, then the first target of its RFC 3263 list. */
  private async route(branch: Branch, dest: Destination): Promise<void> {
    const m = branch.msg;
    let hop: SipUri | null;
    if (dest !== null && 'hop' in dest) {
      // 16.6 step 2: the target becomes the Request-URI; a Path is preloaded as Route.
      if (dest.requestUri !== undefined) m.requestUri = dest.requestUri;
      branch.unreachable = dest.unreachable ?? null;
      const routes = dest.routes ?? [];
      for (let i = routes.length - 1; i >= 0; i--) m.prependHeader('Route', routes[i]!);
      hop = dest.hop;
    } else {
      hop = dest ?? nextHopUri(m);
    }
    if (hop === null) {
      this.synthesizeFinal(branch, 416, 'Unsupported URI Scheme');
      return;
    }
    try {
      branch.targets = await this.env.locate(hop);
    } catch {
      branch.targets = []; // DNS failed (NXDOMAIN, timeout): answered below like no target
    }
    if (branch.targets.length === 0) {
      this.synthesizeFinal(branch, 503, 'Unresolvable destination');
      return;
    }
    // Listeners on several networks: the kernel's route toward a new target decides which one we leave from.
    const ready = this.interfaces.prepare(branch.targets);
    if (ready !== null) await ready;
    // 16.6 step 3: Max-Forwards.
    const mf = m.maxForwards;
    m.setHeader('Max-Forwards', String(mf === null ? 70 : mf - 1));
    this.sendToTarget(branch, true);
  }

  /** Sends the branch to its current target; on no usable interface moves down the list. */
  private sendToTarget(branch: Branch, first: boolean): void {
    let self = false;
    while (branch.targetIndex < branch.targets.length) {
      const target = branch.targets[branch.targetIndex]!;
      // RFC 3261 16.5: a next hop that is one of our own sockets is us: sent there, the request would only come back.
      if (this.env.isOurs(target.host, target.port)) {
        self = true;
        branch.targetIndex++;
        continue;
      }
      const out = this.interfaces.forProto(target.proto, target.host);
      if (out === null) {
        branch.targetIndex++;
        continue;
      }
      const m = branch.msg;
      if (first && this.recordRoute) this.addRecordRoute(m, out);
      if (!first) m.removeFirstValue('Via');
      // 16.6 step 8: our Via, with a branch that also serves loop detection.
      m.prependHeader('Via', `${viaSentBy(out)};branch=${newBranch(this.req)}`);
      this.env.counters.inc('proxy_requests_forwarded');
      branch.tx = this.env.layer.sendRequest(m, target, branch);
      if (m.method === 'INVITE') this.armTimerC(branch);
      return;
    }
    if (self) {
      this.env.counters.inc('proxy_next_hop_self');
      this.synthesizeFinal(branch, 482, 'Next Hop Is This Server');
      return;
    }
    this.synthesizeFinal(branch, 503, 'No usable transport to destination');
  }

  /**
   * 16.6 step 4: our Record-Route; two when the request leaves on another
   * transport or interface than it came in on, so that in-dialog requests
   * from either side arrive at the interface that side can reach.
   */
  private addRecordRoute(m: SipMessage, out: SipInterface): void {
    // Both entries carry the dialog's stamp: in-dialog requests are relayed only along a verified one (route-policy.ts).
    this.stamp ??= this.env.dialogStamp.of(this.req.callId, this.req.fromTag ?? '');
    const inIf = this.interfaces.forFlow(this.inFlow);
    if (inIf.proto !== out.proto || inIf.host !== out.host || inIf.port !== out.port) {
      m.prependHeader('Record-Route', `<${recordRouteUri(inIf, this.stamp)}>`);
    }
    m.prependHeader('Record-Route', `<${recordRouteUri(out, this.stamp)}>`);
  }

  /** 16.6 step 11: an INVITE branch that rings longer than Timer C is cancelled. */
  private armTimerC(branch: Branch): void {
    branch.timerC = this.env.wheel.scheduleFor(this.env.timerC, branch, TIMER_C);
  }

  /** @internal Timer C fired for a branch. */
  onTimerC(branch: Branch): void {
    if (!branch.done) this.cancelBranch(branch);
  }

  onProvisional(branch: Branch, res: SipMessage): void {
    if (branch.cancelWanted && !branch.cancelSent) this.sendCancel(branch);
    if (res.status === 100) return; // hop by hop (16.7 step 5)
    if (branch.timerC !== null) {
      // 16.6 step 11: a provisional restarts Timer C.
      this.env.wheel.cancel(branch.timerC);
      this.armTimerC(branch);
    }
    if (!this.finalSent) this.relayUpstream(res);
  }

  onFinal(branch: Branch, res: SipMessage): void {
    if (branch.done) return;
    const status = res.status;
    // RFC 3263 4.3: a 503 from one server of the destination moves on to the next.
    if (status === 503 && !this.cancelled && this.tryNextTarget(branch)) return;
    this.endBranch(branch);
    if (status >= 200 && status < 300) {
      // 16.7 step 10: every 2xx goes up at once; pending branches are cancelled.
      this.finalSent = true;
      this.relayUpstream(res);
      this.cancelPending();
      this.maybeFinish();
      return;
    }
    // 16.7 step 3: our Via comes off every response before it can go upstream.
    res.removeFirstValue('Via');
    this.finals.push(res);
    if (status >= 600) {
      // A 6xx ends the search (16.7 step 9 / 16.6): cancel the rest, try nothing more.
      this.queue.length = 0;
      this.cancelPending();
    } else if (this.mode === 'serial' && !this.cancelled && allowsFailover(status)) {
      this.startNext();
    } else if (this.mode === 'serial') {
      // A refusal (486, 603, most 4xx) is the callee's answer: no failover.
      this.queue.length = 0;
    }
    this.maybeFinish();
  }

  /** Timeout or transport error of a branch: the next RFC 3263 target, else a synthesized 408/503. */
  onBranchFailure(branch: Branch, status: number, reason: string): void {
    if (branch.done) return;
    if (!this.cancelled && this.tryNextTarget(branch)) return;
    const res =
      branch.unreachable === null
        ? createResponse(branch.msg, status, { reason })
        : createResponse(branch.msg, branch.unreachable);
    res.removeFirstValue('Via');
    this.endBranch(branch);
    this.finals.push(res);
    if (this.mode === 'serial' && !this.cancelled) this.startNext();
    this.maybeFinish();
  }

  private tryNextTarget(branch: Branch): boolean {
    if (branch.targetIndex + 1 >= branch.targets.length) return false;
    branch.targetIndex++;
    this.clearTimerC(branch);
    this.sendToTarget(branch, false);
    return true;
  }

  private synthesizeFinal(branch: Branch, status: number, reason: string): void {
    const res = createResponse(this.req, status, { reason });
    this.endBranch(branch);
    this.finals.push(res);
    if (this.mode === 'serial' && !this.cancelled && allowsFailover(status)) this.startNext();
    this.maybeFinish();
  }

  private endBranch(branch: Branch): void {
    branch.done = true;
    this.clearTimerC(branch);
  }

  private clearTimerC(branch: Branch): void {
    if (branch.timerC !== null) {
      this.env.wheel.cancel(branch.timerC);
      branch.timerC = null;
    }
  }

  private cancelPending(): void {
    for (const b of this.branches) if (!b.done) this.cancelBranch(b);
  }

  /** RFC 3261 9.1: a CANCEL only after a provisional; until then it waits. */
  private cancelBranch(branch: Branch): void {
    if (branch.cancelWanted || branch.msg.method !== 'INVITE') return;
    branch.cancelWanted = true;
    if (branch.tx !== null && branch.tx.lastProvisional > 0) this.sendCancel(branch);
  }

  private sendCancel(branch: Branch): void {
    const tx = branch.tx;
    if (tx === null || branch.cancelSent) return;
    branch.cancelSent = true;
    const cancel = buildCancel(tx.request);
    this.env.counters.inc('proxy_cancels_sent');
    this.env.layer.sendRequest(cancel, tx.target, NO_HANDLERS, tx.flow ?? undefined);
  }

  /** Sends a downstream response upstream: our Via off, through the server transaction. */
  relayUpstream(res: SipMessage): void {
    sendUpstream(this.serverTx, res);
  }

  /** When every branch is done and nothing is queued, the best final response goes up (16.7 step 6-8). */
  private maybeFinish(): void {
    if (this.queue.length > 0 && !this.cancelled) return;
    for (const b of this.branches) if (!b.done) return;
    if (!this.finalSent) {
      const best = chooseBest(this.finals) ?? createResponse(this.req, 500, { reason: 'No branch' });
      this.finalSent = true;
      this.sendBest(best);
    }
    // The branches' client transactions outlive us (RFC 6026 Accepted keeps relaying 2xx retransmissions
    // for Timer M, 32 s, which needs only the server transaction): let the messages go now.
    this.finals.length = 0;
    const released = releasedRequest(this.req.method);
    this.req = released;
    let relay: Relay2xx | null = null;
    for (const b of this.branches) {
      b.msg = released;
      b.targets = NO_TARGETS;
      // An answered INVITE's transaction keeps a 2xx relay, not this context, for its Timer M.
      if (b.tx !== null && b.tx.state === 'Accepted') b.tx.handOver((relay ??= new Relay2xx(this.serverTx)));
      b.tx = null;
    }
    this.onDone(this);
  }

  private sendBest(best: SipMessage): void {
    // 16.7 step 7: a 401/407 carries every challenge of the branches.
    if (best.status === 401 || best.status === 407) {
      const name = best.status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate';
      for (const r of this.finals) {
        if (r === best || r.status !== best.status) continue;
        for (const f of r.fields)
          if (f.id === (best.status === 401 ? H.WwwAuthenticate : H.ProxyAuthenticate))
            best.appendHeader(name, f.value);
      }
    }
    // RFC 5626 11.5: a 430 (a node of ours lost the flow) is for proxies only; the caller hears 480.
    if (best.status === 430) {
      this.serverTx.respond(createResponse(this.req, 480));
      return;
    }
    // 16.7 step 6: a 503 from downstream is not ours to pass on as 503 (it would make the caller avoid us).
    if (best.status === 503) {
      const converted = createResponse(this.req, 500, { reason: 'Downstream Service Unavailable' });
      this.serverTx.respond(converted);
      return;
    }
    this.serverTx.respond(best);
  }
}

const NO_TARGETS: Target[] = [];

/**
 * What an answered INVITE's client transaction keeps of a finished forward:
 * each further 2xx (a retransmission, or another fork's answer) goes
 * upstream on the server transaction (RFC 3261 16.7 step 10, RFC 6026 7.2),
 * as Branch.onRetransmitted2xx does while the forward runs.
 */
class Relay2xx implements ClientHandlers {
  constructor(private readonly serverTx: ServerTransaction) {}

  onFinal(): void {}

  onTimeout(): void {}

  onTransportError(): void {}

  onRetransmitted2xx(res: SipMessage): void {
    sendUpstream(this.serverTx, res);
  }
}

/** A response goes upstream: our Via comes off first (RFC 3261 16.7 step 3). */
function sendUpstream(serverTx: ServerTransaction, res: SipMessage): void {
  res.removeFirstValue('Via');
  serverTx.respond(res);
}

const NO_HANDLERS: ClientHandlers = {
  onFinal: () => undefined,
  onTimeout: () => undefined,
  onTransportError: () => undefined,
};
