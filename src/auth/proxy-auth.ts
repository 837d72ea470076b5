/**
 * Proxy authentication of initial requests other than REGISTER (RFC 3261
 * 22.3, RFC 7616, RFC 8760): a request whose From is a user of a local
 * domain (a row of the store's domains) must carry Proxy-Authorization for
 * the realm of that domain, else 407 with Proxy-Authenticate (one value per
 * configured algorithm, qop="auth", opaque, a stateless nonce; stale=true
 * when an expired nonce was otherwise right). The digest itself is the
 * registrar's (./digest.ts): the same nonces, nonce-count replay
 * protection, decoy HA1 for unknown users (an unknown user and a wrong
 * password get the same 407), 400 for a digest uri that is not the
 * Request-URI, and failure counting.
 *
 * When `checkFromUser` is on (the default), the From user must be the
 * authenticated user: 403 otherwise (RFC 3261 22.3 leaves the policy to the
 * proxy; a subscriber may not call as another).
 *
 * A From outside the local domains is not challenged here: calls from
 * carriers and trunks are the trunking stage's to admit. ACK and CANCEL
 * are never challenged (RFC 3261 22.1); the caller only asks for initial
 * requests.
 */
import type { SipMessage } from '../sip/message.js';
import { createResponse } from '../sip/response.js';
import { SipSyntaxError } from '../sip/errors.js';
import { isSipUri } from '../sip/uri.js';
import type { Flow } from '../transport/types.js';
import { canChallenge, DigestAuthenticator, type ChallengeAlgorithm, type DigestLog } from './digest.js';
import { peekUsername } from './credentials.js';
import type { NonceService } from './nonce.js';
import type { FailureCounter } from './failure-counter.js';
import type { NcTracker } from './nc-tracker.js';
import { randomTag } from './random-pool.js';

/** The store as proxy authentication reads it. */
export interface ProxyAuthStore {
  domains: { exists(domain: string): Promise<boolean> };
  subscribers: { ha1(username: string, domain: string, alg: ChallengeAlgorithm): Promise<string | null> };
}

export interface ProxyAuthOptions {
  store: ProxyAuthStore;
  nonces: NonceService;
  /** Offered algorithms, preferred first (default SHA-256 then MD5). */
  algorithms?: ChallengeAlgorithm[];
  failures?: FailureCounter;
  /** The From user must equal the authenticated user (default true; 403 otherwise). */
  checkFromUser?: boolean;
  /** Sent in every challenge and required back unchanged (default: none). */
  opaque?: string;
  /** Server header of our answers, or null. */
  serverHeader?: string | null;
  /**
   * Whether a user (`user@domain`, from the credentials) may send a From
   * user other than its own: a registration trunk's PBX sends its callers'
   * numbers (the trunking stage checks them against the account's DIDs).
   */
  fromUserExempt?: (aor: string) => boolean;
  /** Nonce-count replay protection (default: its own NcTracker on Date.now, the nonces' clock). */
  ncTracker?: NcTracker;
  /** Where a 400 for bad credentials is logged (info, throttled). */
  log?: DigestLog;
}

/** The authenticated subscriber; null when the request was not ours to challenge (From not local). */
export interface ProxySubscriber {
  username: string;
  domain: string;
}

export type ProxyAuthResult = { ok: true; subscriber: ProxySubscriber | null } | { ok: false; response: SipMessage };

export class ProxyAuth {
  private readonly store: ProxyAuthStore;
  private readonly auth: DigestAuthenticator;
  private readonly serverHeader: string | null;
  private readonly fromUserExempt: ((aor: string) => boolean) | null;

  constructor(opts: ProxyAuthOptions) {
    this.fromUserExempt = opts.fromUserExempt ?? null;
    this.store = opts.store;
    this.auth = new DigestAuthenticator({
      nonces: opts.nonces,
      algorithms: opts.algorithms ?? ['SHA-256', 'MD5'],
      ...(opts.failures ? { failures: opts.failures } : {}),
      ...(opts.opaque !== undefined ? { opaque: opts.opaque } : {}),
      ...(opts.ncTracker ? { ncTracker: opts.ncTracker } : {}),
      ...(opts.log ? { log: opts.log } : {}),
      matchFromUser: opts.checkFromUser ?? true,
    });
    this.serverHeader = opts.serverHeader ?? null;
  }

  /**
   * Whether `req` may go on, and from whom; else the response to send (407
   * challenge, 403 From mismatch, 400 malformed credentials). A store
   * failure rejects (the caller's 500).
   */
  async authenticate(req: SipMessage, flow: Flow): Promise<ProxyAuthResult> {
    if (!canChallenge(req.method) || req.method === 'REGISTER') return { ok: true, subscriber: null };
    let realm: string;
    try {
      const from = req.from.uri;
      if (!isSipUri(from)) return { ok: true, subscriber: null };
      realm = from.host.toLowerCase();
    } catch (err) {
      if (err instanceof SipSyntaxError) return { ok: false, response: this.respond(req, 400, err.reasonPhrase, []) };
      throw err;
    }
    if (!(await this.store.domains.exists(realm))) return { ok: true, subscriber: null };

    const sourceIp = flow.remoteHost;
    const claimed = this.fromUserExempt === null ? null : peekUsername(req.get('Proxy-Authorization') ?? '');
    const exempt = claimed !== null && this.fromUserExempt!(`${claimed}@${realm}`);
    const outcome = await this.auth.verify(
      req,
      realm,
      sourceIp,
      (u, r, alg) => this.store.subscribers.ha1(u, r, alg),
      exempt ? { matchFromUser: false } : {},
    );
    if (outcome.kind === 'ok') return { ok: true, subscriber: { username: outcome.username, domain: realm } };
    const rejection = this.auth.rejection(req, outcome, realm, sourceIp)!;
    return { ok: false, response: this.respond(req, rejection.status, rejection.reason, rejection.headers) };
  }

  private respond(
    req: SipMessage,
    status: number,
    reason: string | undefined,
    headers: Array<[string, string]>,
  ): SipMessage {
    const all = [...headers];
    if (this.serverHeader !== null) all.push(['Server', this.serverHeader]);
    return createResponse(req, status, {
      ...(reason !== undefined ? { reason } : {}),
      headers: all,
      toTag: randomTag(),
    });
  }
}
