import type { SipUri } from '../sip/uri.js';
import type { Flow } from '../transport/types.js';
import type { Target } from '../transaction/types.js';
import type { TransactionLayer } from '../transaction/transaction-layer.js';
import type { TimerWheel } from '../transaction/timer-wheel.js';
import type { Counters } from '../core/counters.js';
import type { SipMessage } from '../sip/message.js';
import type { Uri } from '../sip/uri.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { BranchTarget } from './forward-context.js';

/** The registrar as the proxy sees it (src/registrar/registrar.ts). */
export interface RegistrarService {
  /** Whether a REGISTER for this Request-URI is the registrar's: its host is a local domain. */
  isLocalDomain(uri: SipUri): Promise<boolean>;
  /** Answers the REGISTER through tx. */
  handle(req: SipMessage, tx: ServerTransaction, flow: Flow): Promise<void>;
}

/** Proxy authentication as the proxy sees it (src/auth/proxy-auth.ts). */
export interface ProxyAuthService {
  /** ok: go on; else the response to send (407, 403, 400). */
  authenticate(req: SipMessage, flow: Flow): Promise<{ ok: true } | { ok: false; response: SipMessage }>;
}

/** The location stage as the proxy sees it (src/registrar/location.ts). */
export interface LocationService {
  lookup(uri: Uri): Promise<
    | { kind: 'not-local' }
    | { kind: 'unknown' }
    | { kind: 'offline' }
    | { kind: 'found'; targets: Array<BranchTarget & { requestUri: string }> }
  >;
}

/** Logging the proxy does: one line per refusal or failure, at most. */
export interface ProxyLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** What the proxy needs from the rest of the server, named so tests and wiring see one list. */
export interface ProxyEnv {
  layer: TransactionLayer;
  /** The timer wheel the transaction layer runs on (Timer C shares it). */
  wheel: TimerWheel;
  transport: { sendTo(target: Target, data: Buffer): Promise<Flow> };
  /** RFC 3263: the ordered targets for a URI (empty when it resolves to nothing). */
  locate(uri: SipUri): Promise<Target[]>;
  /** host[:port] names this server (Via sent-by, Route); no port means the default port. */
  isOurs(host: string, port: number | null): boolean;
  /** host is one of this server's names or addresses, whatever the port. */
  isLocalHost(host: string): boolean;
  counters: Counters;
  log: ProxyLog;
  /** Server header of the answers the proxy makes itself, or null. */
  serverHeader: string | null;
  /** Timer C (RFC 3261 16.6 step 11), ms: an INVITE branch ringing this long is cancelled. */
  timerC: number;
  /** REGISTERs for local domains go here before the routes; absent: REGISTER is routed like any request. */
  registrar?: RegistrarService;
  /** The location stage (`then: location` and the default chain); absent: 501 / the old 404-403 answer. */
  location?: LocationService;
  /** Initial requests other than REGISTER pass it before the routes (RFC 3261 22.3); absent: none challenged. */
  proxyAuth?: ProxyAuthService;
}
