import type { SipMessage } from '../sip/message.js';
import { createResponse } from '../sip/response.js';
import { SipSyntaxError } from '../sip/errors.js';
import { parseUri, isSipUri, type SipUri, type Uri } from '../sip/uri.js';
import type { Flow } from '../transport/types.js';
import { statusLabel } from '../core/counters.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { TransactionUser } from '../transaction/transaction-layer.js';
import type { Router } from './router.js';
import { checkProxyRequest, type Refusal } from './request-checks.js';
import { nextHopUri } from './route-set.js';
import { RoutePolicy, type RouteVerdict } from './route-policy.js';
import { ForwardContext, type Destination } from './forward-context.js';
import { StatelessForwarder } from './stateless-forward.js';
import type { AuthenticatedUser, ProxyEnv } from './proxy-env.js';

/** Methods Trunkline understands (Allow header of its OPTIONS answer). */
export const ALLOWED_METHODS =
  'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, PRACK, UPDATE, INFO, REFER, NOTIFY, SUBSCRIBE, MESSAGE';

/** Requests that create a dialog and so get our Record-Route (RFC 3261 16.6 step 4). */
const DIALOG_CREATING: ReadonlySet<string> = new Set(['INVITE', 'SUBSCRIBE', 'REFER', 'NOTIFY']);

/**
 * The stateful proxy core (RFC 3261 section 16), the transaction user of
 * the transaction layer. Per request: OPTIONS to ourselves answered; 16.3
 * checks; 16.4 route preprocessing; in-dialog requests follow their route
 * set when it came through a Record-Route of ours (route-policy.ts);
 * initial requests follow the routing table (forward / reply / stage), and
 * with no rule matching, nobody may relay through us (403), neither by
 * Request-URI nor by Route. Its place in the whole request pipeline, and
 * the stages it asks in order: src/server/pipeline.ts.
 */
export class Proxy implements TransactionUser {
  private readonly contexts = new Map<ServerTransaction, ForwardContext>();
  private readonly stateless: StatelessForwarder;
  /** Who may use the Route header through us (initial requests, in-dialog requests). */
  private readonly routes: RoutePolicy;
  /** Sees stray responses first; true = consumed (keep-alive OPTIONS answers), not relayed. */
  private strayHook: ((res: SipMessage, flow: Flow) => boolean) | null = null;

  constructor(
    private readonly env: ProxyEnv,
    private router: Router,
  ) {
    this.stateless = new StatelessForwarder(env, env.interfaces);
    this.routes = new RoutePolicy(env);
  }

  /** Swaps the routing table (SIGHUP, API): calls in progress keep their contexts. */
  setRouter(router: Router): void {
    this.router = router;
  }

  get activeContexts(): number {
    return this.contexts.size;
  }

  onRequest(req: SipMessage, tx: ServerTransaction | null, flow: Flow): void {
    try {
      // A request inside one of the B2BUA's calls is the B2BUA's (it is their UA, not a proxy on their path).
      const trunking = this.env.trunking;
      if (trunking !== undefined && req.toTag !== null && trunking.claimInDialog(req, tx, flow)) return;
      if (tx === null) this.onAck(req, flow);
      else if (req.method === 'CANCEL') this.onCancel(req, tx);
      else this.onNewRequest(req, tx, flow);
    } catch (err) {
      if (!(err instanceof SipSyntaxError)) throw err;
      // A header the proxy needed was malformed (a Route, say): a clear 400, never a crash.
      if (tx !== null && req.method !== 'ACK') this.reply(tx, req, { status: 400, reason: err.reasonPhrase });
    }
  }

  /** A hook that may consume stray responses before they are relayed (null removes it). */
  setStrayResponseHook(hook: ((res: SipMessage, flow: Flow) => boolean) | null): void {
    this.strayHook = hook;
  }

  onStrayResponse(res: SipMessage, flow: Flow): void {
    if (this.strayHook !== null && this.strayHook(res, flow)) return;
    this.stateless.forwardResponse(res, flow);
  }

  private onNewRequest(req: SipMessage, tx: ServerTransaction, flow: Flow): void {
    const uri = req.requestUriParsed;
    if (this.answeredAtTheDoor(req, tx, uri)) return;
    const refusal = checkProxyRequest(req, uri, this.env.isOurs);
    if (refusal !== null) {
      this.reply(tx, req, refusal);
      return;
    }
    const target = this.routes.preprocess(req);
    // A node of our cluster routed it to us for a flow we hold (RFC 5626 5.3): it took its decisions already.
    const token = this.routes.flowToken;
    if (token !== null && this.env.flows !== undefined && req.toTag === null && !req.has('Route')) {
      this.deliverOnFlow(req, tx, flow, token);
      return;
    }
    if (this.followedRouteSet(req, tx, flow, target)) return;
    // A REGISTER for a local domain goes to the registrar before the routes.
    const registrar = this.env.registrar;
    if (req.method === 'REGISTER' && registrar !== undefined && isSipUri(target)) {
      this.async(req, tx, async () => {
        if (await registrar.isLocalDomain(target)) await registrar.handle(req, tx, flow);
        else this.routeInitial(req, tx, flow, target);
      });
      return;
    }
    // RFC 3261 22.3: a local user's initial request proves who sent it (src/auth/proxy-auth.ts).
    // Trunks and carriers are admitted by their address: they are never challenged.
    const proxyAuth = this.env.proxyAuth;
    if (proxyAuth !== undefined && req.method !== 'REGISTER' && this.env.trunking?.isTrunkSource(flow) !== true) {
      this.async(req, tx, async () => {
        const a = await proxyAuth.authenticate(req, flow);
        if (tx.lastResponse !== null && tx.lastResponse.status >= 200) return; // CANCELled meanwhile
        if (a.ok) this.routeInitial(req, tx, flow, target, a.subscriber);
        else tx.respond(a.response);
      });
      return;
    }
    this.routeInitial(req, tx, flow, target);
  }

  /** OPTIONS for us, and new dialogs while draining or stopping: answered here; true when it was. */
  private answeredAtTheDoor(req: SipMessage, tx: ServerTransaction, uri: Uri): boolean {
    // Draining or stopping (src/core/admission.ts): no new dialog, and our OPTIONS answer says so (503, Retry-After).
    const admission = this.env.admission;
    const closed = admission !== undefined && !admission.open;
    if (req.method === 'OPTIONS' && this.isForUs(uri) && !req.has('Route')) {
      this.reply(
        tx,
        req,
        closed
          ? admission.refusal()
          : {
              status: 200,
              headers: [
                ['Allow', ALLOWED_METHODS],
                ['Accept', 'application/sdp'],
                ['Supported', 'path, outbound'],
              ],
            },
      );
      return true;
    }
    if (closed && req.toTag === null && DIALOG_CREATING.has(req.method)) {
      this.env.counters.inc('proxy_refused_not_open');
      this.reply(tx, req, admission.refusal());
      return true;
    }
    return false;
  }

  /** In-dialog requests and requests with a route set (16.4, 16.6 step 6-7): true when handled here, false to route it. */
  private followedRouteSet(req: SipMessage, tx: ServerTransaction, flow: Flow, target: Uri): boolean {
    switch (this.routes.verdict(req, flow, target, this.router)) {
      case 'route':
        return false;
      case 'follow':
        this.forward(req, tx, flow, [null], 'parallel', false);
        return true;
      case 'for-us':
        // RFC 3261 12.2.2: a request inside a dialog we (a UA here) do not have (in a cluster: nor any other node).
        this.toOwnerNode(req, tx, flow, () => this.reply(tx, req, { status: 481 }));
        return true;
      case 'foreign-route':
        this.routes.refused(req, flow, 'foreign-route');
        this.reply(tx, req, { status: 403, reason: 'Foreign Route Not Allowed' });
        return true;
      case 'forged-dialog':
        this.toOwnerNode(req, tx, flow, () => {
          this.routes.refused(req, flow, 'forged-dialog');
          this.reply(tx, req, { status: 403, reason: 'Unverified Dialog Route' });
        });
        return true;
    }
  }

  /**
   * An in-dialog request no dialog here claimed: in a cluster, when its
   * Call-ID is a call of another live node (the peer sent it to the wrong
   * node), it is forwarded there, its responses coming back through us
   * (Via); else, or alone, `otherwise` answers it as before.
   */
  private toOwnerNode(req: SipMessage, tx: ServerTransaction, flow: Flow, otherwise: () => void): void {
    const owners = this.env.dialogOwners;
    if (owners === undefined) {
      otherwise();
      return;
    }
    this.async(req, tx, async () => {
      const hop = await owners.nodeOf(req.callId, flow.proto);
      if (tx.lastResponse !== null && tx.lastResponse.status >= 200) return;
      if (hop === null) {
        otherwise();
        return;
      }
      this.env.counters.inc('proxy_cluster_forwarded');
      this.forward(req, tx, flow, [hop], 'parallel', false);
    });
  }

  /** An initial request without a route set: the routing table, then the default chain. */
  private routeInitial(
    req: SipMessage,
    tx: ServerTransaction,
    flow: Flow,
    target: Uri,
    user: AuthenticatedUser | null = null,
  ): void {
    const decision = this.router.decide(req, target, flow.remoteHost);
    switch (decision.kind) {
      case 'forward': {
        const dests = decision.targets.map((t) => toSipUri(t));
        if (decision.stateless) {
          // 16.11: no transaction state; the layer's server transaction is let go at once.
          tx.terminate();
          void this.stateless.forwardRequest(req, dests[0]!);
          return;
        }
        this.forward(req, tx, flow, dests, decision.mode, DIALOG_CREATING.has(req.method));
        return;
      }
      case 'reply':
        this.reply(tx, req, { status: decision.status });
        return;
      case 'stage':
        if (decision.stage === 'location' && this.env.location !== undefined) {
          this.runLocation(req, tx, flow, target);
          return;
        }
        if (decision.stage === 'trunking' && this.env.trunking !== undefined) {
          if (!this.env.trunking.handleInitial(req, tx, flow, user)) this.notLocal(req, tx, flow, target);
          return;
        }
        this.reply(tx, req, { status: 501, reason: `Stage ${decision.stage} not available` });
        return;
      case 'none':
        // The default chain (README.md, Routes): trunking, location, then 404 or 403.
        if (this.env.trunking !== undefined && this.env.trunking.handleInitial(req, tx, flow, user)) return;
        if (this.env.location !== undefined) {
          this.runLocation(req, tx, flow, target);
          return;
        }
        this.notLocal(req, tx, flow, target);
        return;
    }
  }

  /** A request for a local domain's user or alias: 404 unknown, 480 not registered, else a parallel fork to its contacts. */
  private runLocation(req: SipMessage, tx: ServerTransaction, flow: Flow, target: Uri): void {
    const location = this.env.location!;
    this.async(req, tx, async () => {
      const r = await location.lookup(target);
      if (tx.lastResponse !== null && tx.lastResponse.status >= 200) return; // CANCELled meanwhile
      switch (r.kind) {
        case 'not-local':
          this.notLocal(req, tx, flow, target);
          return;
        case 'unknown':
          this.reply(tx, req, { status: 404 });
          return;
        case 'offline':
          this.reply(tx, req, { status: 480 });
          return;
        case 'found':
          this.env.counters.inc('proxy_location_hits');
          this.forward(req, tx, flow, r.targets, 'parallel', DIALOG_CREATING.has(req.method));
          return;
      }
    });
  }

  /** A request for a flow we hold: out on it, or 430 when the token does not verify or the flow is gone (RFC 5626 5.3). */
  private deliverOnFlow(req: SipMessage, tx: ServerTransaction, flow: Flow, token: string): void {
    const flows = this.env.flows!;
    this.async(req, tx, async () => {
      const dest = await flows.resolve(token);
      if (tx.lastResponse !== null && tx.lastResponse.status >= 200) return; // CANCELled meanwhile
      if (dest === null) {
        this.env.counters.inc('proxy_flow_failed');
        this.reply(tx, req, { status: 430 });
        return;
      }
      this.env.counters.inc('proxy_flow_delivered');
      this.forward(req, tx, flow, [dest], 'parallel', DIALOG_CREATING.has(req.method));
    });
  }

  /** Not a local domain: this server's own name is nobody here (404); elsewhere is not ours to relay to (403). */
  private notLocal(req: SipMessage, tx: ServerTransaction, flow: Flow, target: Uri): void {
    const trunking = this.env.trunking;
    if (trunking?.inUse() === true) {
      // With trunks configured, a request from no trunk, carrier or user is refused: 403, counted, logged (throttled).
      this.env.counters.inc('proxy_unknown_source');
      trunking.unknownSource?.(req, flow);
      this.reply(tx, req, { status: 403, reason: 'Forbidden' });
    } else if (isSipUri(target) && this.isOurDomain(target)) this.reply(tx, req, { status: 404 });
    else this.reply(tx, req, { status: 403, reason: 'Relaying Denied' });
  }

  /** Runs an async step of a request: a malformed header is a 400, a failure (the store down) a 500, never a crash. */
  private async(req: SipMessage, tx: ServerTransaction, step: () => Promise<void>): void {
    step().catch((err: unknown) => {
      const answered = tx.lastResponse !== null && tx.lastResponse.status >= 200;
      if (answered) return;
      if (err instanceof SipSyntaxError) {
        this.reply(tx, req, { status: 400, reason: err.reasonPhrase });
        return;
      }
      this.env.log.warn({ err: String(err), method: req.method }, 'request failed');
      this.reply(tx, req, { status: 500 });
    });
  }

  private forward(
    req: SipMessage,
    tx: ServerTransaction,
    flow: Flow,
    dests: Destination[],
    mode: 'parallel' | 'serial',
    recordRoute: boolean,
  ): void {
    const ctx = new ForwardContext(this.env, this.env.interfaces, req, tx, flow, dests, mode, recordRoute, (done) =>
      this.contexts.delete(done.serverTx),
    );
    this.contexts.set(tx, ctx);
    ctx.start();
  }

  /** RFC 3261 16.10: 200 to the CANCEL, then CANCEL every pending branch of the INVITE. */
  private onCancel(cancel: SipMessage, tx: ServerTransaction): void {
    const invite = this.env.layer.findInviteServerTransaction(cancel);
    if (invite === undefined) {
      this.reply(tx, cancel, { status: 481 });
      return;
    }
    this.reply(tx, cancel, { status: 200 });
    const ctx = this.contexts.get(invite);
    if (ctx !== undefined) ctx.cancel();
    else if (this.env.trunking?.cancel(invite) === true) return;
    else if (invite.lastResponse === null || invite.lastResponse.status < 200) {
      // Nothing forwarded (we were about to answer ourselves): end the INVITE with 487.
      invite.respond(createResponse(invite.request, 487));
    }
  }

  /**
   * An ACK no transaction took: an ACK for a 2xx is forwarded statelessly
   * along its route set (16.11) when it may be (route-policy.ts). Anything
   * else is absorbed (RFC 3261 17.2.3): an ACK without a To tag (no 2xx has
   * none: a non-2xx's ACK, hop by hop, its transaction gone), one addressed
   * to us, one from a stranger outside our dialogs, one with nowhere to go.
   */
  private onAck(ack: SipMessage, flow: Flow): void {
    const target = this.routes.preprocess(ack);
    const verdict = ack.toTag === null ? null : this.routes.verdict(ack, flow, target, this.router);
    const hop = verdict === 'follow' ? nextHopUri(ack) : null;
    if (hop !== null) {
      void this.stateless.forwardRequest(ack, hop);
      return;
    }
    const owners = this.env.dialogOwners;
    if (owners !== undefined && (verdict === 'for-us' || verdict === 'forged-dialog')) {
      // In a cluster: the ACK of a 2xx another node sent (a re-INVITE's, reaching the wrong node) goes to that node.
      void owners.nodeOf(ack.callId, flow.proto).then((node) => {
        if (node === null) {
          this.absorbAck(ack, flow, verdict);
          return;
        }
        this.env.counters.inc('proxy_cluster_acks_forwarded');
        void this.stateless.forwardRequest(ack, node);
      });
      return;
    }
    this.absorbAck(ack, flow, verdict);
  }

  private absorbAck(ack: SipMessage, flow: Flow, verdict: RouteVerdict | null): void {
    if (verdict === 'forged-dialog') this.routes.refused(ack, flow, verdict);
    this.env.counters.inc('proxy_acks_absorbed');
  }

  /** A Request-URI naming this server itself (no user part). */
  private isForUs(uri: Uri): boolean {
    return isSipUri(uri) && uri.user === null && this.isOurDomain(uri);
  }

  /**
   * A Request-URI for this server's domain. Without a port the host decides:
   * the request reached one of our sockets, so `sip:localhost` sent to our
   * port 5070 is for us (a Route is judged by host and port, see isOurs).
   */
  private isOurDomain(uri: SipUri): boolean {
    return uri.port === null ? this.env.isLocalHost(uri.host) : this.env.isOurs(uri.host, uri.port);
  }

  private reply(tx: ServerTransaction, req: SipMessage, r: Refusal): void {
    const headers = r.headers ? [...r.headers] : [];
    if (this.env.agentName !== null) headers.push(['Server', this.env.agentName]);
    this.env.counters.inc(`proxy_replies_${statusLabel(r.status)}`);
    tx.respond(createResponse(req, r.status, { ...(r.reason ? { reason: r.reason } : {}), headers }));
  }
}

function toSipUri(text: string): SipUri {
  const u = parseUri(text);
  if (!isSipUri(u)) throw new SipSyntaxError('route', `forward target is not a sip: URI: ${text}`);
  return u;
}
