/**
 * Requests refused 403 because their source is no trunk, no carrier and no
 * authenticated user (the proxy's default chain ends there while trunking
 * is in use). Each costs a counter: an INVITE counts as a refused call,
 * `b2bua_refused_403_unknown-source` (trunkline_calls_refused_total
 * {status="403",cause="unknown-source"}), every request as
 * `b2bua_unknown_source_requests`. A source gets one warn line per minute
 * (LogThrottle, as the security steps) and one `source.refused` event with
 * it, and at most MAX_LINES_PER_MINUTE lines go out in all, whatever the
 * number of sources. The last MAX_RECENT sources are kept for the console
 * (address, transport, last method, count, first and last time).
 *
 * No CDR: the request is nobody's call (no account, trunk or carrier to
 * bill or to search by), and a flood would write one row per packet.
 */
import type { Counters } from '../core/counters.js';
import { LogThrottle } from '../core/log-throttle.js';
import type { SipMessage } from '../sip/message.js';
import type { Flow } from '../transport/types.js';
import type { B2buaLog } from './env.js';

/** A source refused as unknown, as the API shows it. */
export interface UnknownSource {
  /** The address (one source, whatever its port). */
  address: string;
  /** The transport of its last refused request. */
  proto: string;
  /** The last refused request's method. */
  method: string;
  /** Requests refused from it since it was first seen (while kept). */
  count: number;
  firstAt: number;
  lastAt: number;
}

/** The event of a source refused (once per source per minute, with its log line). */
export interface SourceRefusedEvent {
  /** `udp:203.0.113.7:5060`. */
  source: string;
  method: string;
  status: number;
  reason: string;
}

/** Distinct sources kept for the console; the oldest goes first. */
const MAX_RECENT = 32;
/** Sources the log throttle remembers at most (then it forgets the oldest half). */
const MAX_THROTTLED = 4096;
/** Log lines (and events) per minute over all sources, at most. */
const MAX_LINES_PER_MINUTE = 120;
const MINUTE = 60_000;

export class UnknownSources {
  readonly #counters: Counters;
  readonly #log: B2buaLog;
  readonly #publish: ((e: SourceRefusedEvent) => void) | undefined;
  readonly #throttle = new LogThrottle(MINUTE, MAX_THROTTLED);
  /** By source, oldest first (a hit moves a source to the end). */
  readonly #recent = new Map<string, UnknownSource>();
  #windowStart = 0;
  #lines = 0;
  /** Lines held back by the overall cap since the last line that went out. */
  #capped = 0;

  constructor(counters: Counters, log: B2buaLog, publish?: (e: SourceRefusedEvent) => void) {
    this.#counters = counters;
    this.#log = log;
    this.#publish = publish;
  }

  /** A request from an unknown source, answered 403 by the caller. */
  refused(req: SipMessage, flow: Flow, now = Date.now()): void {
    const method = req.method;
    this.#counters.inc('b2bua_unknown_source_requests');
    if (method === 'INVITE') this.#counters.inc('b2bua_refused_403_unknown-source');
    const address = flow.remoteHost;
    this.#remember(address, flow.proto, method, now);
    const held = this.#throttle.admit(address, now);
    if (held < 0) return;
    if (now - this.#windowStart >= MINUTE) {
      this.#windowStart = now;
      this.#lines = 0;
    }
    if (this.#lines >= MAX_LINES_PER_MINUTE) {
      this.#capped++;
      return;
    }
    this.#lines++;
    const capped = this.#capped;
    this.#capped = 0;
    const source = `${flow.proto}:${address}:${flow.remotePort}`;
    this.#log.warn(
      {
        mod: 'trunking',
        source,
        method,
        status: 403,
        cause: 'unknown-source',
        suppressedBefore: held,
        ...(capped > 0 && { otherSourcesNotLogged: capped }),
      },
      'request refused: unknown source (no trunk, carrier or user)',
    );
    this.#publish?.({ source, method, status: 403, reason: 'unknown source' });
  }

  /** The last sources refused, newest first. */
  list(): UnknownSource[] {
    return [...this.#recent.values()].reverse().map((s) => ({ ...s }));
  }

  #remember(address: string, proto: string, method: string, now: number): void {
    const known = this.#recent.get(address);
    if (known !== undefined) {
      known.count++;
      known.lastAt = now;
      known.method = method;
      known.proto = proto;
      // Newest last: delete and set again.
      this.#recent.delete(address);
      this.#recent.set(address, known);
      return;
    }
    if (this.#recent.size >= MAX_RECENT) this.#recent.delete(this.#recent.keys().next().value!);
    this.#recent.set(address, { address, proto, method, count: 1, firstAt: now, lastAt: now });
  }
}
