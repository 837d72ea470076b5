/**
 * The CDR webhook (`cdr.webhook` in the config): every CDR is POSTed as
 * JSON (the object `cdr list --json` prints) to `url`, with
 * `Idempotency-Key: <callSid>`.
 *
 * The B2BUA writes each CDR with its outbox row in one transaction (`sink`,
 * CdrRepo.insert with outbox), so a CDR in the store is a CDR to send,
 * whatever stops when. This sender claims due rows (`concurrency` at a
 * time, cdr-outbox.ts), POSTs them and deletes each one its receiver
 * answered 2xx. Delivery is at least once: a crash between the receiver's
 * 2xx and the delete sends that CDR again, and the receiver drops the
 * duplicate by its Idempotency-Key. Under normal operation (restarts of
 * Trunkline or of the receiver included) none is lost and none is sent
 * twice: a stop waits for the POSTs under way, and gives back the rows it
 * did not get to.
 *
 * A failure: no answer (refused, timed out) or any status but 2xx. The
 * sender then waits 1 s, 2 s, 4 s... up to `maxBackoff` before its next
 * try, and the CDR itself is due again after the same backoff of its own
 * attempts. A refusal (4xx but 408 and 429: the receiver does not want
 * this CDR) counts toward `retries`; after that many the CDR is parked:
 * kept in the outbox, not sent again until Trunkline starts again. A
 * receiver that is down is retried without end.
 */
import { randomUUID } from 'node:crypto';
import type { CdrWebhookConfig } from '../config/schema.js';
import type { Store } from '../store/index.js';
import { cdrJson } from '../store/json.js';
import { CdrOutboxRepo, type OutboxItem } from '../store/repos/cdr-outbox.js';
import type { CdrSink } from '../b2bua/env.js';
import { CdrBatch } from './batch.js';
import { packageVersion } from '../api/version.js';

/** How often the outbox is looked at when nothing woke the sender (CDRs of other nodes, rows due again). */
const POLL_MS = 1000;
/** A claim lasts a POST's timeout and this. */
const LEASE_MARGIN_MS = 5000;
/** How long a stop waits for the POSTs under way before it aborts them. */
const STOP_WAIT_MS = 5000;

export interface WebhookLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface WebhookDeps {
  store: Store;
  config: CdrWebhookConfig;
  log: WebhookLog;
  /** This node's name, in claim tokens. */
  node: string;
  /** Other nodes send from the same outbox (a cluster): rows another sender holds are left to it at start. */
  shared: boolean;
}

type Outcome = 'sent' | 'failed' | 'aborted' | 'gone';

/** What the sender has done since it started, for the metrics. */
export interface WebhookFigures {
  sent: number;
  /** Failed POSTs: `refused` by the receiver, or `unavailable` (no answer, 5xx, 408, 429). */
  failures: { refused: number; unavailable: number };
}

export class CdrWebhook {
  readonly figures: WebhookFigures = { sent: 0, failures: { refused: 0, unavailable: 0 } };
  readonly #store: Store;
  readonly #config: CdrWebhookConfig;
  readonly #log: WebhookLog;
  readonly #node: string;
  readonly #shared: boolean;
  readonly #outbox: CdrOutboxRepo;
  readonly #abort = new AbortController();
  readonly #headers: Record<string, string>;
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  /** Tries in a row that sent nothing and failed. */
  #streak = 0;

  constructor(d: WebhookDeps) {
    this.#store = d.store;
    this.#config = d.config;
    this.#log = d.log;
    this.#node = d.node;
    this.#shared = d.shared;
    this.#outbox = new CdrOutboxRepo(d.store.ctx);
    this.#headers = {
      ...d.config.headers,
      'content-type': 'application/json',
      'user-agent': `Trunkline/${packageVersion()}`,
    };
  }

  /** Where the B2BUA writes CDRs: each CDR with its outbox row (both or neither), in batches (CdrBatch), then the sender woken. */
  readonly sink: CdrSink = new CdrBatch(async (cdrs) => {
    const results = await this.#store.cdrs.insertMany(cdrs, { outbox: true });
    this.#wake?.();
    return results;
  });

  /** The outbox as it stands: rows waiting (parked included) and parked. */
  counts(): Promise<{ depth: number; parked: number }> {
    return this.#outbox.counts();
  }

  /** Parked rows are due again; alone, the rows a previous run held (killed) are too; then the sending starts. */
  async start(): Promise<void> {
    const unparked = await this.#outbox.unpark();
    const released = this.#shared ? 0 : await this.#outbox.release();
    const { depth } = await this.#outbox.counts();
    this.#log.info({ url: this.#config.url, outbox: depth, unparked, released }, 'cdr webhook: sending');
    this.#running = true;
    this.#loop = this.#run();
  }

  /** No more claims; the POSTs under way end (aborted after STOP_WAIT_MS) and what they did not send is given back. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#wake?.();
    const timer = setTimeout(() => this.#abort.abort(), STOP_WAIT_MS);
    try {
      await this.#loop;
    } finally {
      clearTimeout(timer);
    }
  }

  async #run(): Promise<void> {
    while (this.#running) {
      let wait = POLL_MS;
      let wakeable = true;
      try {
        const r = await this.#batch();
        if (r.sent > 0) this.#streakEnds();
        if (r.failed > 0 && r.sent === 0) {
          this.#streak++;
          // A receiver that fails is not tried again sooner because a CDR came.
          wait = this.#backoff(this.#streak);
          wakeable = false;
        } else if (r.claimed > 0) wait = 0;
      } catch (err) {
        this.#streak++;
        wait = this.#backoff(this.#streak);
        this.#log.warn({ err: String(err) }, 'cdr webhook: the outbox cannot be read');
      }
      if (wait > 0 && this.#running) await this.#sleep(wait, wakeable);
    }
  }

  #streakEnds(): void {
    if (this.#streak > 0) this.#log.info({ failedTries: this.#streak }, 'cdr webhook: the receiver takes CDRs again');
    this.#streak = 0;
  }

  /** 1 s, 2 s, 4 s... up to maxBackoff, for the `n`th failure in a row. */
  #backoff(n: number): number {
    return Math.min(1000 * 2 ** Math.min(n - 1, 30), this.#config.maxBackoff * 1000);
  }

  #sleep(ms: number, wakeable: boolean): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      // A stop always wakes; a new CDR only when the receiver is not failing.
      this.#wake = wakeable ? done : () => (this.#running ? undefined : done());
    });
  }

  async #batch(): Promise<{ claimed: number; sent: number; failed: number }> {
    const token = `${this.#node}:${randomUUID()}`;
    const items = await this.#outbox.claim(
      token,
      this.#config.concurrency,
      Date.now() + this.#config.timeout * 1000 + LEASE_MARGIN_MS,
    );
    const outcomes = await Promise.all(items.map((it) => this.#deliver(it, token)));
    if (outcomes.includes('aborted')) await this.#outbox.release(token);
    return {
      claimed: items.length,
      sent: outcomes.filter((o) => o === 'sent').length,
      failed: outcomes.filter((o) => o === 'failed').length,
    };
  }

  async #deliver(it: OutboxItem, token: string): Promise<Outcome> {
    if (it.cdr === null) {
      this.#log.warn({ callSid: it.callSid }, 'cdr webhook: the CDR was removed before it was sent');
      await this.#outbox.done(it.id);
      return 'gone';
    }
    let status = 0;
    let error: string;
    try {
      const res = await fetch(this.#config.url, {
        method: 'POST',
        headers: { ...this.#headers, 'idempotency-key': it.callSid },
        body: JSON.stringify(cdrJson(it.cdr)),
        signal: AbortSignal.any([AbortSignal.timeout(this.#config.timeout * 1000), this.#abort.signal]),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined); // the answer's body is not used: read, so the connection is reused
      error = `HTTP ${status}`;
    } catch (err) {
      if (this.#abort.signal.aborted) return 'aborted';
      error = errorText(err);
    }
    if (status >= 200 && status < 300) {
      // Counted when the receiver takes it, before its outbox row goes:
      // whoever sees the outbox empty sees every CDR it held counted. A
      // failed delete leaves the row to be sent again when its lease ends
      // (the receiver drops it by its Idempotency-Key).
      this.figures.sent++;
      await this.#outbox.done(it.id);
      return 'sent';
    }
    const refused = status >= 400 && status < 500 && status !== 408 && status !== 429;
    if (refused) this.figures.failures.refused++;
    else this.figures.failures.unavailable++;
    const parked = refused && it.refusals + 1 > this.#config.retries;
    const nextAt = parked ? null : Date.now() + this.#backoff(it.attempts + 1);
    await this.#outbox.failed(it.id, token, { nextAt, refused, error });
    if (parked)
      this.#log.warn(
        { callSid: it.callSid, error, refusals: it.refusals + 1 },
        'cdr webhook: the receiver refuses this CDR; parked in the outbox until the next start',
      );
    else if (this.#streak === 0) this.#log.warn({ callSid: it.callSid, error }, 'cdr webhook: POST failed');
    else this.#log.debug({ callSid: it.callSid, error }, 'cdr webhook: POST failed');
    return 'failed';
  }
}

/** fetch's error with its cause (`fetch failed: connect ECONNREFUSED 127.0.0.1:9`). */
function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  if (err.name === 'TimeoutError') return 'timed out';
  return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
}
