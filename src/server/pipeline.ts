/**
 * The request pipeline, in the order a request meets it (docs/DESIGN.md
 * has the picture):
 *
 *   1. transport      bytes from a socket                         src/transport/
 *   2. ingress        security gate before parsing (bans, flood);  src/core/ingress.ts
 *                     parse, validate: 400/505/513 for a broken     src/security/gate.ts
 *                     request, a broken response dropped
 *   3. security       scanners, keep-alive OPTIONS, Max-Forwards,  src/security/pipeline.ts
 *                     sanity, ACL, black/white lists
 *   4. transaction    retransmissions absorbed, ACK and CANCEL      src/transaction/
 *                     matched (RFC 3261 17)
 *   5. proxy          a request inside a B2BUA call goes to it;     src/proxy/proxy.ts
 *                     503 while not taking calls; 16.3 checks;
 *                     the route set (16.4, src/proxy/route-policy.ts)
 *   6. registrar/auth REGISTER for a local domain; digest of a      src/registrar/registrar.ts
 *                     local user's other initial requests (407)     src/auth/proxy-auth.ts
 *   7. routes         the `routes:` table: forward, reply, or a     src/proxy/router.ts
 *                     stage; no rule: the default chain
 *   8. trunking /     the B2BUA (trunk calls; call policy,          src/b2bua/, src/security/call-policy.ts
 *      location       limits), or the location table; else          src/registrar/location.ts
 *                     403/404
 *
 * Steps 1-4 are connected before the listeners start (no byte is missed);
 * the proxy becomes the transaction layer's user, steps 5-8, once the
 * trunking directory is loaded (pipelinePart in the parts list).
 */
import type { TrunklineConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Counters } from '../core/counters.js';
import { Ingress } from '../core/ingress.js';
import type { StageEnv } from '../core/stage-env.js';
import type { ParseLimits } from '../sip/parser.js';
import { Proxy } from '../proxy/proxy.js';
import { Router } from '../proxy/router.js';
import type { DialogStamp } from '../proxy/dialog-stamp.js';
import type { DialogOwners, FlowDelivery } from '../proxy/proxy-env.js';
import type { SecurityService } from '../security/service.js';
import type { B2bua } from '../b2bua/b2bua.js';
import type { SipStack } from './sip-stack.js';
import type { Subscribers } from './registrar.js';
import type { Part } from './parts.js';

/** Timer C of RFC 3261 16.6 step 11: greater than 3 minutes. */
const TIMER_C_MS = 181_000;
/** How long SIGTERM waits for proxied transactions in flight to finish. */
const DRAIN_MS = 5_000;
/** How long SIGTERM waits for the answers to its BYEs, CANCELs and un-REGISTERs when nothing is proxied. */
const ANSWER_WAIT_MS = 2_000;

/** Steps 1-4: transport -> ingress (with the security gate and steps) -> transaction layer. */
export function connectIngress(
  config: TrunklineConfig,
  sip: SipStack,
  security: SecurityService,
  counters: Counters,
  log: Logger,
): Ingress {
  const limits: ParseLimits = {
    maxMessageBytes: config.sip.limits.maxMessageBytes,
    maxHeaders: config.sip.limits.maxHeaders,
    maxHeaderLineBytes: config.sip.limits.maxHeaderBytes,
  };
  const { layer, transport } = sip;
  const handlers = { onRequest: layer.receiveRequest.bind(layer), onResponse: layer.receiveResponse.bind(layer) };
  const ingress = new Ingress(limits, sip.responder, counters, log, handlers, security);
  transport.onMessage((m) => ingress.handle(m));
  transport.onFramingError((e) => ingress.handleFramingError(e));
  return ingress;
}

export interface ProxyStages {
  subscribers: Subscribers;
  b2bua: B2bua;
  security: SecurityService;
  dialogStamp: DialogStamp;
  /** In a cluster: where in-dialog requests for another node's calls go; null alone. */
  dialogOwners: DialogOwners | null;
  /** In a cluster: requests routed to us for a flow we hold; null alone. */
  flows: FlowDelivery | null;
}

/** Steps 5-8: the proxy and its stages, in the order it asks them. Not yet the transaction layer's user. */
export function buildProxy(config: TrunklineConfig, sip: SipStack, env: StageEnv, s: ProxyStages): Proxy {
  const { identity } = sip;
  return new Proxy(
    {
      ...env,
      admission: sip.admission,
      isOurs: (host, port) => identity.isLocalHostPort(host, port),
      isLocalHost: (host) => identity.isLocalHost(host),
      isTrustedSource: s.security.trust.isTrusted,
      dialogStamp: s.dialogStamp,
      timerC: TIMER_C_MS,
      registrar: s.subscribers.registrar,
      proxyAuth: s.subscribers.proxyAuth,
      trunking: s.b2bua,
      location: s.subscribers.location,
      ...(s.dialogOwners !== null && { dialogOwners: s.dialogOwners }),
      ...(s.flows !== null && { flows: s.flows }),
    },
    new Router(config.routes),
  );
}

/** The proxy as the transaction layer's user: requests past step 4 are handled from its start on; a reload swaps the routes. */
export function pipelinePart(sip: SipStack, proxy: Proxy, log: Logger): Part {
  return {
    name: 'request pipeline',
    start: () => sip.layer.setUser(proxy),
    reload(next) {
      // Calls in progress keep their forwarding contexts.
      proxy.setRouter(new Router(next.routes));
      log.info({ routes: next.routes.length }, 'routing table reloaded');
    },
  };
}

/**
 * At stop: proxied transactions in flight finish (DRAIN_MS at most); else only the answers to our BYEs, CANCELs and
 * un-REGISTERs are waited for (ANSWER_WAIT_MS at most). A client OPTIONS is a gateway ping nobody waits for, or a
 * proxied one whose server transaction keeps the wait.
 */
export function inFlightPart(sip: SipStack, proxy: Proxy): Part {
  return {
    name: 'transactions in flight',
    stop: () =>
      sip.layer.drain(proxy.activeContexts > 0 ? DRAIN_MS : ANSWER_WAIT_MS, (tx) => tx.request.method === 'OPTIONS'),
  };
}
