/**
 * SIP Digest authentication, server side (RFC 3261 22, RFC 7616, RFC 8760).
 *
 * A registrar challenges REGISTER with 401 and WWW-Authenticate, and reads
 * Authorization; a proxy challenges every other request with 407 and
 * Proxy-Authenticate, and reads Proxy-Authorization (RFC 3261 22.2, 22.3).
 * Each challenge offers one value per algorithm, the preferred one first
 * (RFC 8760 2.3: SHA-256 before MD5), all with qop="auth" and one stateless
 * nonce (./nonce.ts).
 *
 *   HA1      = H(username ":" realm ":" password)            (stored, never the password)
 *   HA2      = H(method ":" digest-uri)
 *   response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)     with qop=auth
 *   response = H(HA1 ":" nonce ":" HA2)                                without qop (RFC 2069/2617 clients)
 *
 * verify() checks, in order: credentials for the realm present and well
 * formed; algorithm one of those offered; opaque returned unchanged; the
 * digest-uri equal to the Request-URI (RFC 7616 3.4.6; else 400, RFC 2617
 * 3.2.2.5: a fresh challenge would only be answered with the same uri
 * again, a loop that ends in a flood ban); the nonce genuine and
 * issued to this source address; the response (constant-time compare); the
 * nonce not expired (expired but correct: 'stale', the caller re-challenges
 * with stale=true); the nonce-count not seen before; the From user equal to
 * the authenticated user (403 otherwise, unless configured off).
 *
 * An unknown user is checked against a decoy HA1 exactly like a known one, so
 * both give kind 'fail' and the same re-challenge: the reason is for logs and
 * counters only, never sent.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { SipSyntaxError } from '../sip/errors.js';
import type { SipMessage } from '../sip/message.js';
import { isSipUri, isTelUri, parseUri, unescapeUriPart, uriEquals, type Uri } from '../sip/uri.js';
import {
  findCredentials,
  hashHexLength,
  peekUsername,
  type ChallengeAlgorithm,
  type DigestAlgorithm,
  type DigestCredentials,
} from './credentials.js';
import type { NonceService } from './nonce.js';
import { NcTracker } from './nc-tracker.js';
import type { FailureCounter } from './failure-counter.js';
import { LogThrottle } from '../core/log-throttle.js';

export type { ChallengeAlgorithm, DigestAlgorithm, DigestCredentials } from './credentials.js';

export interface Challenge {
  header: 'WWW-Authenticate' | 'Proxy-Authenticate';
  /** One value per algorithm, the preferred first (RFC 8760 2.3): one header line each. */
  values: string[];
  status: 401 | 407;
}

/**
 * What verify() found. The caller answers:
 *  - ok: go on (the request is from `username`);
 *  - missing / fail: the challenge again (rejection() gives it), a fresh nonce, no stale;
 *  - stale: the challenge with stale=true;
 *  - malformed: 400;
 *  - forbidden: 403 (authenticated, but the From user is not the authenticated user).
 * `reason` is for logs and counters only: it must never be sent.
 */
export type AuthOutcome =
  | { kind: 'ok'; username: string }
  | { kind: 'missing' }
  | { kind: 'stale'; username: string }
  | { kind: 'fail'; username: string | null; reason: string }
  | { kind: 'malformed'; reason: string }
  | { kind: 'forbidden'; username: string; reason: string };

/** Returns the stored HA1 (hex) of a user for the realm and algorithm, or null when the user is unknown. */
export type Ha1Lookup = (user: string, realm: string, alg: ChallengeAlgorithm) => Promise<string | null>;

/** A response to send instead of processing the request. */
export interface Rejection {
  status: 400 | 401 | 403 | 407;
  /** Reason phrase; the default for the status when absent. */
  reason?: string;
  headers: Array<[string, string]>;
}

export interface DigestAuthenticatorOptions {
  nonces: NonceService;
  /** Algorithms offered, preferred first (default SHA-256 then MD5). */
  algorithms?: ChallengeAlgorithm[];
  /** Sent in every challenge and required back unchanged; none when absent. */
  opaque?: string;
  /** Nonce-count replay protection (default: a NcTracker of 100 000 nonces on Date.now). */
  ncTracker?: NcTracker;
  /** Every fail, stale, malformed and forbidden outcome is recorded here (source IP and username). */
  failures?: FailureCounter;
  /** Require the From user to equal the authenticated username (default true; 403 otherwise). */
  matchFromUser?: boolean;
  /** Accept credentials without qop (RFC 2617 compatibility, no replay protection; default true). */
  allowNoQop?: boolean;
  /** Each 400 (malformed credentials, a digest uri that is not the Request-URI) is logged here at info, throttled per source and reason. */
  log?: DigestLog;
}

export interface DigestLog {
  info(obj: object, msg: string): void;
}

export interface VerifyOptions {
  /** Overrides the authenticator's matchFromUser for this request (a per-domain setting). */
  matchFromUser?: boolean;
}

const HASH: Record<ChallengeAlgorithm, string> = { MD5: 'md5', 'SHA-256': 'sha256' };

function hashOf(alg: DigestAlgorithm): string {
  return alg === 'MD5' || alg === 'MD5-sess' ? 'md5' : 'sha256';
}

function h(hashName: string, s: string): string {
  return createHash(hashName).update(s, 'utf8').digest('hex');
}

/** HA1 = H(user:realm:password), lower-case hex: what a user store keeps per algorithm. */
export function ha1(alg: ChallengeAlgorithm, user: string, realm: string, password: string): string {
  return h(HASH[alg], `${user}:${realm}:${password}`);
}

/**
 * The request-digest (RFC 7616 3.4.1, RFC 2617 3.2.2.1) from HA1. For -sess
 * algorithms HA1 becomes H(HA1:nonce:cnonce) (RFC 7616 3.4.2). `ncText` is
 * the nonce-count as the client wrote it.
 */
export function digestResponse(p: {
  algorithm: DigestAlgorithm;
  ha1: string;
  nonce: string;
  method: string;
  uri: string;
  qop: 'auth' | null;
  ncText: string | null;
  cnonce: string | null;
}): string {
  const hn = hashOf(p.algorithm);
  let a1 = p.ha1;
  if (p.algorithm === 'MD5-sess' || p.algorithm === 'SHA-256-sess') a1 = h(hn, `${a1}:${p.nonce}:${p.cnonce ?? ''}`);
  const ha2 = h(hn, `${p.method}:${p.uri}`);
  if (p.qop === null) return h(hn, `${a1}:${p.nonce}:${ha2}`);
  return h(hn, `${a1}:${p.nonce}:${p.ncText ?? ''}:${p.cnonce ?? ''}:${p.qop}:${ha2}`);
}

/** RFC 3261 22.1: ACK and CANCEL cannot be challenged (they have no response to carry one, or cannot be resubmitted). */
export function canChallenge(method: string): boolean {
  return method !== 'ACK' && method !== 'CANCEL';
}

/** The challenge and credentials headers for a method: 401 for REGISTER, 407 for the rest. */
export function authHeadersFor(method: string): {
  status: 401 | 407;
  challengeHeader: 'WWW-Authenticate' | 'Proxy-Authenticate';
  credentialsHeader: 'Authorization' | 'Proxy-Authorization';
} {
  return method === 'REGISTER'
    ? { status: 401, challengeHeader: 'WWW-Authenticate', credentialsHeader: 'Authorization' }
    : { status: 407, challengeHeader: 'Proxy-Authenticate', credentialsHeader: 'Proxy-Authorization' };
}

export class DigestAuthenticator {
  private readonly nonces: NonceService;
  /** Offered algorithms, preferred first. */
  readonly algorithms: readonly ChallengeAlgorithm[];
  private readonly opaque: string | null;
  readonly ncTracker: NcTracker;
  private readonly failures: FailureCounter | null;
  private readonly matchFromUser: boolean;
  private readonly allowNoQop: boolean;
  private readonly log: DigestLog | null;
  private readonly logThrottle = new LogThrottle();
  /** Key of the decoy HA1 used for unknown users (per process, never leaves it). */
  private readonly decoyKey = randomBytes(32);

  constructor(opts: DigestAuthenticatorOptions) {
    const algs = opts.algorithms ?? ['SHA-256', 'MD5'];
    if (algs.length === 0) throw new RangeError('at least one digest algorithm must be offered');
    for (const a of algs)
      if (a !== 'MD5' && a !== 'SHA-256') throw new RangeError(`unsupported digest algorithm ${String(a)}`);
    if (new Set(algs).size !== algs.length) throw new RangeError('digest algorithm listed twice');
    if (opts.opaque !== undefined) checkQuotable(opts.opaque, 'opaque');
    this.nonces = opts.nonces;
    this.algorithms = [...algs];
    this.opaque = opts.opaque ?? null;
    this.ncTracker = opts.ncTracker ?? new NcTracker();
    this.failures = opts.failures ?? null;
    this.matchFromUser = opts.matchFromUser ?? true;
    this.allowNoQop = opts.allowNoQop ?? true;
    this.log = opts.log ?? null;
  }

  /**
   * A challenge for `req` in `realm` with a fresh nonce bound to sourceIp:
   * 401/WWW-Authenticate for REGISTER, 407/Proxy-Authenticate otherwise.
   * The nonce is the last parameter of each value, after every parameter a
   * client looks up by name (some clients find parameters by substring).
   */
  challenge(req: SipMessage, realm: string, sourceIp: string, stale = false): Challenge {
    checkQuotable(realm, 'realm');
    const { status, challengeHeader } = authHeadersFor(req.method);
    const nonce = this.nonces.issue(sourceIp);
    const tail = `${this.opaque !== null ? `, opaque="${quote(this.opaque)}"` : ''}${stale ? ', stale=true' : ''}, nonce="${nonce}"`;
    const values = this.algorithms.map((alg) => `Digest realm="${quote(realm)}", qop="auth", algorithm=${alg}${tail}`);
    return { header: challengeHeader, values, status };
  }

  /**
   * Checks the credentials of `req` for `realm`. lookupHa1 is called at most
   * once, only after the checks that need no user (so a request with a bad
   * nonce or URI costs no lookup); its rejection propagates (a store outage
   * is the caller's 500/503, not an authentication failure).
   */
  async verify(
    req: SipMessage,
    realm: string,
    sourceIp: string,
    lookupHa1: Ha1Lookup,
    opts: VerifyOptions = {},
  ): Promise<AuthOutcome> {
    const outcome = await this.check(req, realm, sourceIp, lookupHa1, opts);
    if (outcome.kind === 'malformed' && this.log !== null) {
      const held = this.logThrottle.admit(`${sourceIp} ${outcome.reason}`);
      if (held >= 0)
        this.log.info(
          {
            mod: 'auth',
            source: sourceIp,
            method: req.method,
            realm,
            reason: outcome.reason,
            ...(held > 0 && { held }),
          },
          'digest credentials refused with 400',
        );
    }
    if (this.failures !== null) {
      if (outcome.kind === 'fail' || outcome.kind === 'forbidden') {
        this.failures.record(sourceIp, outcome.username, outcome.reason);
      } else if (outcome.kind === 'stale') {
        // Right password, expired nonce: counted too (a client replaying old credentials looks the same).
        this.failures.record(sourceIp, outcome.username, 'nonce stale');
      } else if (outcome.kind === 'malformed') {
        const header = authHeadersFor(req.method).credentialsHeader;
        let user: string | null = null;
        for (const v of req.getAll(header)) if ((user = peekUsername(v)) !== null) break;
        this.failures.record(sourceIp, user, outcome.reason);
      }
    }
    return outcome;
  }

  /**
   * The response for an outcome, or null for 'ok'. 'missing' and 'fail' get
   * the same fresh challenge (a wrong password and an unknown user look
   * alike); 'stale' gets it with stale=true.
   */
  rejection(req: SipMessage, outcome: AuthOutcome, realm: string, sourceIp: string): Rejection | null {
    switch (outcome.kind) {
      case 'ok':
        return null;
      case 'missing':
      case 'fail':
      case 'stale': {
        const c = this.challenge(req, realm, sourceIp, outcome.kind === 'stale');
        return { status: c.status, headers: c.values.map((v): [string, string] => [c.header, v]) };
      }
      case 'malformed': {
        const header = authHeadersFor(req.method).credentialsHeader;
        const reason = `Bad ${header}: ${outcome.reason}`.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, 120);
        return { status: 400, reason, headers: [] };
      }
      case 'forbidden':
        return { status: 403, headers: [] };
    }
  }

  /** A per-process HA1 for a user that has none: an unknown user is checked like a known one, and fails. */
  private decoy(alg: ChallengeAlgorithm, realm: string, user: string, len: number): string {
    return createHmac('sha256', this.decoyKey).update(`${alg}\0${realm}\0${user}`, 'utf8').digest('hex').slice(0, len);
  }

  private async check(
    req: SipMessage,
    realm: string,
    sourceIp: string,
    lookupHa1: Ha1Lookup,
    opts: VerifyOptions,
  ): Promise<AuthOutcome> {
    const { credentialsHeader } = authHeadersFor(req.method);
    let cred: DigestCredentials | null;
    try {
      cred = findCredentials(req, credentialsHeader, realm, this.algorithms);
    } catch (err) {
      if (err instanceof SipSyntaxError) return { kind: 'malformed', reason: err.message };
      throw err;
    }
    if (cred === null) return { kind: 'missing' };
    const user = cred.username;
    const fail = (reason: string): AuthOutcome => ({ kind: 'fail', username: user, reason });

    const alg = cred.algorithm;
    if (alg !== 'MD5' && alg !== 'SHA-256') return fail(`algorithm ${alg} not offered`);
    if (!this.algorithms.includes(alg)) return fail(`algorithm ${alg} not offered`);
    if (cred.qop === null && !this.allowNoQop) return fail('qop required');
    if (this.opaque !== null && cred.opaque !== this.opaque) return fail('opaque mismatch');
    // RFC 2617 3.2.2.5: "if they are not [the same], the server SHOULD return a 400 Bad Request".
    if (!sameUri(cred.uri, req.requestUri))
      return { kind: 'malformed', reason: 'digest uri does not match the Request-URI' };

    const nonce = this.nonces.inspect(cred.nonce, sourceIp);
    if (nonce.status === 'invalid') return fail('nonce invalid');

    // Known and unknown users take the same path: an unknown one is checked
    // against a decoy HA1 (and fails), so the work and the answer match.
    const stored = await lookupHa1(user, realm, alg);
    const len = hashHexLength(alg);
    const usable = stored !== null && stored.length === len && isHex(stored);
    const expected = digestResponse({
      algorithm: alg,
      ha1: usable ? stored.toLowerCase() : this.decoy(alg, realm, user, len),
      nonce: cred.nonce,
      method: req.method,
      uri: cred.uri,
      qop: cred.qop,
      ncText: cred.ncText,
      cnonce: cred.cnonce,
    });
    const match = constantTimeEqual(expected, cred.response);
    if (!match || !usable) {
      return fail(stored === null ? 'unknown user' : usable ? 'wrong password' : 'stored HA1 malformed');
    }

    if (nonce.status === 'stale') return { kind: 'stale', username: user };

    if (cred.qop !== null) {
      const verdict = this.ncTracker.accept(cred.nonce, cred.nc!, nonce.expiresAtMs);
      if (verdict !== 'ok') return fail(`nonce-count ${verdict}`);
    }

    if (opts.matchFromUser ?? this.matchFromUser) {
      let fromUser: string | null;
      try {
        fromUser = uriUser(req.from.uri);
      } catch (err) {
        if (err instanceof SipSyntaxError) return { kind: 'malformed', reason: `From: ${err.message}` };
        throw err;
      }
      if (fromUser !== user)
        return { kind: 'forbidden', username: user, reason: 'From user is not the authenticated user' };
    }
    return { kind: 'ok', username: user };
  }
}

/** Whether s is all hex digits (a stored HA1 is checked before use). */
function isHex(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) | 0x20;
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return s.length > 0;
}

/** The user part of a From URI, unescaped (sip/sips), or the number (tel); null otherwise. */
function uriUser(u: Uri): string | null {
  if (isSipUri(u)) return u.user === null ? null : unescapeUriPart(u.user);
  if (isTelUri(u)) return u.number;
  return null;
}

/** The digest-uri names the Request-URI: the same text, or URIs equal by RFC 3261 19.1.4. */
function sameUri(digestUri: string, requestUri: string): boolean {
  if (digestUri === requestUri) return true;
  try {
    return uriEquals(parseUri(digestUri), parseUri(requestUri));
  } catch (err) {
    if (err instanceof SipSyntaxError) return false;
    throw err;
  }
}

/** Equal-length hex strings compared in constant time (the lengths are public: fixed per algorithm). */
function constantTimeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a, 'latin1');
  const bb = Buffer.from(b, 'latin1');
  if (ba.length !== bb.length) {
    timingSafeEqual(ba, ba);
    return false;
  }
  return timingSafeEqual(ba, bb);
}

function quote(s: string): string {
  return s.replace(/[\\"]/g, (c) => `\\${c}`);
}

function checkQuotable(s: string, what: string): void {
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(s)) throw new RangeError(`${what} contains a control character`);
}
