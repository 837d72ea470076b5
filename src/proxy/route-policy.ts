import type { SipMessage } from '../sip/message.js';
import { isSipUri, type Uri } from '../sip/uri.js';
import type { Flow } from '../transport/types.js';
import { preprocessRoutes, RouteScan } from './route-set.js';
import type { Router } from './router.js';
import type { ProxyEnv } from './proxy-env.js';
import { LogThrottle } from '../core/log-throttle.js';

/** The security counters of the refusals (src/metrics/security.ts: trunkline_security_drops_total{reason}). */
export const ROUTE_REFUSAL_COUNTERS = {
  'foreign-route': 'security_route_foreign',
  'forged-dialog': 'security_route_forged',
} as const;

/**
 * What the proxy does with a request once RFC 3261 16.4 took our entries off:
 *
 * - `route`: an initial request with no Route left: the routing table decides
 *   (a Route naming only us, an outbound proxy's, is no route set)
 * - `follow`: relay it along its route set (or its Request-URI)
 * - `for-us`: an in-dialog request addressed to us as a UA that no dialog of
 *   ours claimed: 481 (RFC 3261 12.2.2)
 * - `foreign-route`: an initial request from an untrusted source whose Route
 *   names another host: refused, never relayed
 * - `forged-dialog`: an in-dialog request from an untrusted source that did
 *   not come along a Record-Route of ours for its dialog: refused
 */
/** What the policy needs of the proxy's environment. */
export type RoutePolicyEnv = Pick<
  ProxyEnv,
  'isOurs' | 'isLocalHost' | 'isTrustedSource' | 'dialogStamp' | 'trunking' | 'counters' | 'log'
>;

export type RouteVerdict = 'route' | 'follow' | 'for-us' | 'foreign-route' | 'forged-dialog';

/**
 * Who may use the Route header through us. An edge that followed any Route
 * would carry a stranger's calls to any host it named (a carrier that
 * trusts our address would bill us): so, as an SBC does, an initial request
 * follows a Route set naming others only from a trusted source
 * (`security.trusted`, the server's own address, a trunk or a carrier, a
 * `routes:` rule with `trustRoute: true`), and an in-dialog request only
 * along a Record-Route entry we stamped for its dialog (dialog-stamp.ts).
 * One instance per proxy; requests are judged one at a time (synchronously).
 */
export class RoutePolicy {
  private readonly scan = new RouteScan();
  private readonly throttle = new LogThrottle();

  constructor(private readonly env: RoutePolicyEnv) {}

  /** RFC 3261 16.4: our entries off, their stamp noted; returns the Request-URI to use. */
  preprocess(req: SipMessage): Uri {
    return preprocessRoutes(req, this.env.isOurs, this.scan.reset());
  }

  /** The flow token (flow-token.ts) on an entry of ours the request last preprocessed carried, or null. */
  get flowToken(): string | null {
    return this.scan.flow;
  }

  /** The verdict on the request last preprocessed (`target`: what preprocess returned). */
  verdict(req: SipMessage, flow: Flow, target: Uri, router: Router): RouteVerdict {
    const routed = req.has('Route');
    if (req.toTag === null) {
      if (!routed) return 'route';
      return this.trusts(req, flow, target, router) ? 'follow' : 'foreign-route';
    }
    if (!routed && this.namesUs(target)) return 'for-us';
    const stamp = this.scan.stamp;
    if (stamp !== null && this.env.dialogStamp.verifies(stamp, req.callId, req.fromTag, req.toTag)) return 'follow';
    return this.trusts(req, flow, target, router) ? 'follow' : 'forged-dialog';
  }

  /** A refused request (foreign-route, forged-dialog): its counter, and one log line per source and verdict a minute. */
  refused(req: SipMessage, flow: Flow, verdict: 'foreign-route' | 'forged-dialog'): void {
    this.env.counters.inc(ROUTE_REFUSAL_COUNTERS[verdict]);
    const held = this.throttle.admit(`${flow.remoteHost}|${verdict}`);
    if (held < 0) return;
    const next = req.has('Route') ? req.getAll('Route')[0] : req.requestUri;
    this.env.log.warn(
      {
        mod: 'proxy',
        source: `${flow.proto}:${flow.remoteHost}:${flow.remotePort}`,
        verdict,
        method: req.method,
        next,
        suppressedBefore: held,
      },
      verdict === 'foreign-route'
        ? 'request with a foreign Route refused'
        : 'in-dialog request not along our Record-Route refused',
    );
  }

  /** A sip/sips URI for this server, whatever its user part (a port left out: any of our hosts, see Proxy.isOurDomain). */
  namesUs(uri: Uri): boolean {
    if (!isSipUri(uri)) return false;
    return uri.port === null ? this.env.isLocalHost(uri.host) : this.env.isOurs(uri.host, uri.port);
  }

  private trusts(req: SipMessage, flow: Flow, target: Uri, router: Router): boolean {
    return (
      this.env.isTrustedSource(flow.remoteHost) ||
      this.env.trunking?.isTrunkSource(flow) === true ||
      router.trustsRoute(req, target, flow.remoteHost)
    );
  }
}
