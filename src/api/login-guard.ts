/**
 * Failed API logins, counted and limited the way SIP authentication is.
 *
 * A bearer token that the store does not know, or an Authorization header
 * that is not `Bearer TOKEN`, is a failed login: it is logged (source,
 * reason; never the token) and counted per source address in the security
 * edge's brute-force counter, the one SIP digest failures feed. Reaching
 * `security.bruteForce.threshold` failures within its window bans the source
 * for `banSeconds`, like a SIP client guessing passwords: the ban is in the
 * one ban list (`trunkline ban list` shows it, `trunkline ban rm IP` lifts
 * it) and holds for SIP and the API alike. A banned source gets 403 on
 * /api/v1 before its token is looked at (Retry-After when the ban ends).
 * A request without any token is not a failed login (a console that has not
 * logged in yet): it gets its 401 and counts nothing.
 *
 * Never locked out: the addresses the security edge trusts (`security.trusted`,
 * the server's SIP listen/advertise addresses, trunk and carrier addresses)
 * and the API's own listen address (a console or script on the server's own
 * host). Their failures are logged, never counted, and no ban holds them.
 */
import type { Logger } from '../log.js';
import { normalizeIp } from '../auth/ip.js';
import { LogThrottle } from '../core/log-throttle.js';
import type { Counters } from '../core/counters.js';
import { ApiError } from './errors.js';

/** A ban as the guard reports it. */
export interface ApiBan {
  reason: string;
  /** Epoch ms, or null until lifted by hand. */
  expiresAt: number | null;
}

export interface LoginGuardDeps {
  /** The ban enforced on an address now (the security edge's ban list), or undefined. */
  activeBan(ip: string): ApiBan | undefined;
  /** Counts a failure; bans the source when it crosses the threshold. null: failures are logged only (brute force off). */
  record: ((ip: string, reason: string) => void) | null;
  /** Addresses never locked out (the security edge's trusted set). */
  isTrusted(ip: string): boolean;
  /** The API's own listen address (never locked out); a wildcard names none. */
  ownAddress: string | null;
  log: Logger;
  /** api_login_failures and api_banned_refusals (trunkline_..._total at /metrics). */
  counters?: Counters;
  now?: () => number;
}

export class LoginGuard {
  private readonly throttle = new LogThrottle(60_000);
  private readonly own: string | null;
  private readonly now: () => number;

  constructor(private readonly deps: LoginGuardDeps) {
    const own = deps.ownAddress === null ? null : normalizeIp(deps.ownAddress);
    this.own = own === null || own === '0.0.0.0' || own === '::' ? null : own;
    this.now = deps.now ?? Date.now;
  }

  /** Whether `ip` can never be locked out. */
  exempt(ip: string): boolean {
    const key = normalizeIp(ip);
    return key === this.own || this.deps.isTrusted(key);
  }

  /** Throws 403 when the source is banned (and not exempt). */
  check(ip: string): void {
    const key = normalizeIp(ip);
    const ban = this.deps.activeBan(key);
    if (ban === undefined || this.exempt(key)) return;
    this.deps.counters?.inc('api_banned_refusals');
    const held = this.throttle.admit(`banned ${key}`, this.now());
    if (held >= 0)
      this.deps.log.warn(
        { mod: 'api', ip: key, reason: ban.reason, held },
        'API request from a banned address refused',
      );
    const left = ban.expiresAt === null ? null : Math.max(1, Math.ceil((ban.expiresAt - this.now()) / 1000));
    const until = ban.expiresAt === null ? 'until lifted' : `for ${left} s more`;
    throw new ApiError(
      403,
      `address ${key} is banned ${until} (${ban.reason}); trunkline ban rm ${key} lifts it`,
      left === null ? {} : { 'Retry-After': String(left) },
    );
  }

  /** A failed login from `ip`: logged, and counted unless the source is exempt. */
  failed(ip: string, reason: string): void {
    const key = normalizeIp(ip);
    this.deps.counters?.inc('api_login_failures');
    const exempt = this.exempt(key);
    const counted = !exempt && this.deps.record !== null;
    // A counted source is banned after a few failures, so each one is worth its line; otherwise one line a minute per source.
    const held = counted ? 0 : this.throttle.admit(`failed ${key}`, this.now());
    if (held >= 0)
      this.deps.log.warn(
        { mod: 'api', ip: key, reason, ...(exempt && { exempt: true }), ...(held > 0 && { held }) },
        'API login failed',
      );
    if (counted) this.deps.record!(key, `API login: ${reason}`);
  }
}
