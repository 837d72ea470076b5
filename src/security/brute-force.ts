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
 * In a cluster (`share()`), failures are counted in Redis across the nodes
 * (shared-failures.ts): record() then returns no event (the count is
 * asynchronous) and the node whose failure crossed bans. While Redis cannot
 * be reached, each node counts its own failures, as alone (logged once per
 * outage).
 *
 * Answers for an unknown user and a wrong password are identical (the
 * authenticator's rule), so the ban is the only thing a guesser learns.
 */
import { FailureCounter, type FailureKind, type ThresholdEvent } from '../auth/failure-counter.js';
import { normalizeIp } from '../auth/ip.js';

export interface BruteForceConfig {
  threshold: number;
  /** Seconds. */
  window: number;
  banSeconds: number;
}

export type BanIp = (ip: string, reason: string, seconds: number) => void;

/** Failures counted by all the nodes (SharedFailureCounter). */
export interface SharedCounting {
  readonly up: boolean;
  record(ip: string, username: string | null): Promise<{ kinds: FailureKind[]; atMs: number }>;
  reset(kind: FailureKind, key: string): Promise<void>;
}

export interface BruteForceLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export class BanningFailureCounter extends FailureCounter {
  /** Bans made. */
  bans = 0;
  #shared: SharedCounting | null = null;
  #log: BruteForceLog | null = null;
  /** Counting alone since Redis failed (logged once until a shared count succeeds again). */
  #alone = false;

  constructor(
    private readonly cfg: BruteForceConfig,
    private readonly ban: BanIp,
    now?: () => number,
  ) {
    super({ threshold: cfg.threshold, windowS: cfg.window, ...(now ? { now } : {}) });
  }

  /** Counts in Redis with the other nodes from now on (null: alone again). */
  share(shared: SharedCounting | null, log: BruteForceLog): void {
    this.#shared = shared;
    this.#log = log;
  }

  /** Alone: the crossings it caused (and bans). Shared: [] at once; the ban follows Redis's answer. */
  override record(sourceIp: string, username: string | null, reason: string | null = null): ThresholdEvent[] {
    const shared = this.#shared;
    if (shared === null) return this.#local(sourceIp, username, reason);
    if (!shared.up) {
      this.#fallBack('redis unreachable');
      return this.#local(sourceIp, username, reason);
    }
    shared.record(sourceIp, username).then(
      (r) => {
        if (this.#alone) {
          this.#alone = false;
          this.#log?.info({ mod: 'security' }, 'auth failures: counted with the other nodes again');
        }
        const events = r.kinds.map((kind): ThresholdEvent => ({
          kind,
          key: kind === 'ip' ? normalizeIp(sourceIp) : username!,
          count: this.cfg.threshold,
          windowS: this.cfg.window,
          atMs: r.atMs,
          reason,
        }));
        this.#banFor(sourceIp, events);
      },
      (err: unknown) => {
        this.#fallBack(err instanceof Error ? err.message : String(err));
        this.#local(sourceIp, username, reason);
      },
    );
    return [];
  }

  override reset(kind: FailureKind, key: string): void {
    super.reset(kind, key);
    const shared = this.#shared;
    if (shared !== null && shared.up) shared.reset(kind, key).catch(() => undefined);
  }

  #local(sourceIp: string, username: string | null, reason: string | null): ThresholdEvent[] {
    const events = super.record(sourceIp, username, reason);
    this.#banFor(sourceIp, events);
    return events;
  }

  #banFor(sourceIp: string, events: ThresholdEvent[]): void {
    if (events.length === 0) return;
    const e = events[0]!;
    const what =
      e.kind === 'ip'
        ? `${e.count} failed authentications from this address`
        : `${e.count} failed authentications against user ${e.key}`;
    this.bans++;
    this.ban(sourceIp, `brute force: ${what} within ${e.windowS} s`, this.cfg.banSeconds);
  }

  #fallBack(why: string): void {
    if (this.#alone) return;
    this.#alone = true;
    this.#log?.warn({ mod: 'security', err: why }, 'auth failures: counted on this node alone while redis is down');
  }
}
