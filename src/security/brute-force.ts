/**
 * Step 9: brute force. N failed authentications (default 3) from one IP,
 * or against one user, within a window (default 60 s) ban the source IP
 * that made the failure which crossed. The counting is src/auth's
 * FailureCounter, which the digest authenticator of the registrar (and of
 * proxy authentication) feeds; this subclass turns its crossings into bans.
 * It overrides record() rather than only passing onThreshold because a
 * crossing of the per-user count does not carry the source IP, and the IP
 * is what gets banned.
 *
 * Answers for an unknown user and a wrong password are identical (the
 * authenticator's rule), so the ban is the only thing a guesser learns.
 */
import { FailureCounter, type ThresholdEvent } from '../auth/failure-counter.js';

export interface BruteForceConfig {
  threshold: number;
  /** Seconds. */
  window: number;
  banSeconds: number;
}

export type BanIp = (ip: string, reason: string, seconds: number) => void;

export class BanningFailureCounter extends FailureCounter {
  /** Bans made. */
  bans = 0;

  constructor(
    private readonly cfg: BruteForceConfig,
    private readonly ban: BanIp,
    now?: () => number,
  ) {
    super({ threshold: cfg.threshold, windowS: cfg.window, ...(now ? { now } : {}) });
  }

  override record(sourceIp: string, username: string | null, reason: string | null = null): ThresholdEvent[] {
    const events = super.record(sourceIp, username, reason);
    if (events.length > 0) {
      const e = events[0]!;
      const what =
        e.kind === 'ip'
          ? `${e.count} failed authentications from this address`
          : `${e.count} failed authentications against user ${e.key}`;
      this.bans++;
      this.ban(sourceIp, `brute force: ${what} within ${e.windowS} s`, this.cfg.banSeconds);
    }
    return events;
  }
}
