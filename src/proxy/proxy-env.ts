import type { SipUri } from '../sip/uri.js';
import type { Flow, TransportProto } from '../transport/types.js';
import type { Admission } from '../core/admission.js';
import type { StageEnv, StageLog } from '../core/stage-env.js';
import type { SipMessage } from '../sip/message.js';
import type { Uri } from '../sip/uri.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { BranchTarget } from './forward-context.js';
import type { DialogStamp } from './dialog-stamp.js';

/** The registrar as the proxy sees it (src/registrar/registrar.ts). */
export interface RegistrarService {
  /** Whether a REGISTER for this Request-URI is the registrar's: its host is a local domain. */
  isLocalDomain(uri: SipUri): Promise<boolean>;
  /** Answers the REGISTER through tx. */
  handle(req: SipMessage, tx: ServerTransaction, flow: Flow): Promise<void>;
}

/** Proxy authentication as the proxy sees it (src/auth/proxy-auth.ts). */
/** A subscriber who proved who they are (digest). */
export interface AuthenticatedUser {
  username: string;
  domain: string;
}

export interface ProxyAuthService {
  /** ok: go on; else the response to send (407, 403, 400). */
  authenticate(
    req: SipMessage,
    flow: Flow,
  ): Promise<{ ok: true; subscriber: AuthenticatedUser | null } | { ok: false; response: SipMessage }>;
}

/** The location stage as the proxy sees it (src/registrar/location.ts). */
export interface LocationService {
  lookup(
    uri: Uri,
  ): Promise<
    | { kind: 'not-local' }
    | { kind: 'unknown' }
    | { kind: 'offline' }
    | { kind: 'found'; targets: Array<BranchTarget & { requestUri: string }> }
  >;
}

/**
 * Bindings this node holds for the other nodes of a cluster
 * (src/registrar/cluster-flows.ts): a request routed to us with a flow
 * token (flow-token.ts) goes out on the binding's flow.
 */
export interface FlowDelivery {
  /** Where a token's request goes: the binding's flow; null when the token does not verify or the flow is gone. */
  resolve(token: string): Promise<BranchTarget | null>;
}

/** The trunking stage as the proxy sees it (src/b2bua/b2bua.ts). */
export interface TrunkingStage {
  /** An initial request (from `user` when proxy authentication identified one): true when it is a trunk call (taken: a call started or refused). */
  handleInitial(req: SipMessage, tx: ServerTransaction, flow: Flow, user?: AuthenticatedUser | null): boolean;
  /** The flow comes from a static-IP trunk or a carrier gateway: admitted by address, never challenged. */
  isTrunkSource(flow: Flow): boolean;
  /** A request with a To tag, or a 2xx ACK: true when it belongs to one of the B2BUA's calls. */
  claimInDialog(req: SipMessage, tx: ServerTransaction | null, flow: Flow): boolean;
  /** The caller's CANCEL of an INVITE: true when that INVITE is a B2BUA call's. */
  cancel(invite: ServerTransaction): boolean;
  /** Whether any trunk or carrier is configured: then a stranger's request for this server is refused 403, not 404. */
  inUse(): boolean;
  /** That 403 to a stranger (no trunk, carrier or user): counted, logged once per source per minute. */
  unknownSource?(req: SipMessage, flow: Flow): void;
}

/** A cluster's calls as the proxy sees them (src/b2bua/shared-calls.ts). */
export interface DialogOwners {
  /** The SIP address of the other live node whose call has this Call-ID, or null (none, or Redis cannot say). */
  nodeOf(callId: string, proto: TransportProto): Promise<SipUri | null>;
}

/** Logging the proxy does: one line per refusal or failure, at most. */
export type ProxyLog = StageLog;

/**
 * What the proxy needs from the rest of the server: the shared record
 * (src/core/stage-env.ts) and its own stages, named so tests and wiring
 * see one list. The Server header of the answers it makes itself is
 * `agentName`.
 */
export interface ProxyEnv extends StageEnv {
  /** host[:port] names this server (Via sent-by, Route); no port means the default port. */
  isOurs(host: string, port: number | null): boolean;
  /** host is one of this server's names or addresses, whatever the port. */
  isLocalHost(host: string): boolean;
  /** The source may send requests with a Route set naming other hosts (security.trusted, our own address: src/security/trust.ts). */
  isTrustedSource(ip: string): boolean;
  /** Stamps of our Record-Route entries: in-dialog requests are relayed only along a verified one (route-policy.ts). */
  dialogStamp: DialogStamp;
  /** Timer C (RFC 3261 16.6 step 11), ms: an INVITE branch ringing this long is cancelled. */
  timerC: number;
  /** REGISTERs for local domains go here before the routes; absent: REGISTER is routed like any request. */
  registrar?: RegistrarService;
  /** The location stage (`then: location` and the default chain); absent: 501 / the old 404-403 answer. */
  location?: LocationService;
  /** The trunking stage (`then: trunking` and first in the default chain); absent: 501 / skipped. */
  trunking?: TrunkingStage;
  /** Initial requests other than REGISTER pass it before the routes (RFC 3261 22.3); absent: none challenged. */
  proxyAuth?: ProxyAuthService;
  /** In a cluster: requests routed to us for a flow we hold; absent alone (a flow token is then ignored). */
  flows?: FlowDelivery;
  /** Whether new dialogs are taken (draining, stopping: 503); absent: always. */
  admission?: Admission;
  /** In a cluster: in-dialog requests for another node's call are forwarded to it; absent: a node alone. */
  dialogOwners?: DialogOwners;
}
