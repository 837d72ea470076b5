/**
 * Call traces: a ring buffer of the SIP messages of the last N calls (config
 * `capture.traceCalls`, 0 = off), both legs of a B2BUA call under its call
 * sid, for `GET /api/v1/calls/SID/trace`, `trunkline trace CALL-SID` and the
 * console's ladder. Fed by the same transport tap as the HEP capture.
 *
 * A message is filed by its Call-ID. The caller's INVITE arrives before the
 * call exists (the B2BUA plans it first), so INVITE and CANCEL messages of a
 * Call-ID nobody claimed yet wait in a small pending table until
 * `correlate(callId, sid, 'a')` claims them (or they age out). A leg we
 * originate is claimed when its first request leaves: `resolve` asks the
 * B2BUA which call owns that Call-ID and our From tag.
 */
import { CSEQ_NAMES, callIdSpan, fromTagOf, headerValue } from './raw-headers.js';
import type { Flow } from '../transport/types.js';
import type { Direction } from './capture.js';
import type { TraceMessage } from '../api/shapes.js';
import { BoundedSet } from '../core/bounded-set.js';

/** One message of a trace, as the API returns it (its shape is the API's: src/api/shapes.ts). */
export type { TraceMessage };

interface Stored {
  time: number;
  direction: Direction;
  leg: 'a' | 'b';
  callId: string;
  flow: Flow;
  raw: Buffer;
}

interface CallTrace {
  sid: string;
  callIds: string[];
  messages: Stored[];
}

interface Pending {
  since: number;
  messages: Omit<Stored, 'leg'>[];
}

/** Who owns a leg we originate: its call sid and side, or null. */
export type LegResolver = (callId: string, localTag: string) => { callSid: string; side: 'a' | 'b' } | null;

export const DEFAULT_TRACE_CALLS = 200;
/** Messages kept per call; later ones are dropped (a re-INVITE storm must not eat the buffer). */
const MAX_MESSAGES = 500;
/** Unclaimed Call-IDs waiting for their call. */
const MAX_PENDING = 256;
const PENDING_MESSAGES = 16;
const PENDING_MS = 32_000;
/** Call-IDs seen relayed as they are (proxied dialogs, never a call's leg): the newest this many are remembered. */
const MAX_RELAYED = 4096;

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export class CallTraces {
  #max: number;
  readonly #bySid = new Map<string, CallTrace>();
  readonly #byCallId = new Map<string, { trace: CallTrace; leg: 'a' | 'b' }>();
  readonly #pending = new Map<string, Pending>();
  /** Call-IDs the proxy relays (see tap): their messages cost one lookup, no copy. */
  readonly #relayed = new BoundedSet(MAX_RELAYED);
  #resolve: LegResolver | null = null;
  /** Called when a Call-ID joins a call (HEP correlation). */
  onCorrelate: ((callId: string, sid: string) => void) | null = null;

  constructor(maxCalls = DEFAULT_TRACE_CALLS) {
    this.#max = maxCalls;
  }

  get enabled(): boolean {
    return this.#max > 0;
  }

  get size(): number {
    return this.#bySid.size;
  }

  /** A new size (reload); 0 switches traces off and forgets them. */
  configure(maxCalls: number): void {
    this.#max = maxCalls;
    while (this.#bySid.size > this.#max) this.#evictOldest();
    if (this.#max === 0) {
      this.#pending.clear();
      this.#relayed.clear();
    }
  }

  setResolver(r: LegResolver | null): void {
    this.#resolve = r;
  }

  /** `callId` is a leg of call `sid`: its pending messages join the call's trace. */
  correlate(callId: string, sid: string, leg: 'a' | 'b'): void {
    if (!this.enabled) return;
    let t = this.#bySid.get(sid);
    if (t === undefined) {
      t = { sid, callIds: [], messages: [] };
      this.#bySid.set(sid, t);
      while (this.#bySid.size > this.#max) this.#evictOldest();
    }
    if (!this.#byCallId.has(callId)) {
      t.callIds.push(callId);
      this.#byCallId.set(callId, { trace: t, leg });
      this.onCorrelate?.(callId, sid);
    }
    const p = this.#pending.get(callId);
    if (p !== undefined) {
      this.#pending.delete(callId);
      for (const m of p.messages) this.#push(t, { ...m, leg });
      t.messages.sort((x, y) => x.time - y.time);
    }
  }

  /** The transport tap: one message in or out; `span` is where its Call-ID is (callIdSpan), when the caller has found it already. */
  readonly tap = (
    direction: Direction,
    data: Buffer,
    flow: Flow,
    span: [number, number] | null = callIdSpan(data),
  ): void => {
    if (this.#max === 0 || data.length <= 4 || span === null) return;
    const callId = data.toString('latin1', span[0], span[1]);
    const known = this.#byCallId.get(callId);
    if (known !== undefined) {
      const time = performance.timeOrigin + performance.now();
      this.#push(known.trace, { time, direction, leg: known.leg, callId, flow, raw: Buffer.from(data) });
      return;
    }
    if (this.#relayed.has(callId)) return;
    const cseq = headerValue(data, CSEQ_NAMES);
    const method = cseq === null ? '' : cseq.slice(cseq.lastIndexOf(' ') + 1);
    if (method !== 'INVITE' && method !== 'CANCEL') return;
    const time = performance.timeOrigin + performance.now();
    // A request we send on a leg of our own: the B2BUA knows its call by Call-ID and our From tag.
    if (direction === 'out' && !data.subarray(0, 8).toString('latin1').startsWith('SIP/2.0')) {
      const tag = this.#resolve === null ? null : fromTagOf(data);
      const owner = tag === null ? null : this.#resolve!(callId, tag);
      if (owner !== null) {
        this.correlate(callId, owner.callSid, owner.side);
        const t = this.#byCallId.get(callId)!;
        this.#push(t.trace, { time, direction, leg: t.leg, callId, flow, raw: Buffer.from(data) });
        return;
      }
      // Our INVITE of a Call-ID that came in, and no call of ours owns it: the proxy relays that dialog
      // (a B2BUA leg has a Call-ID of its own). No call will claim it: its messages are not kept.
      if (this.#pending.delete(callId)) {
        this.#relayed.add(callId);
        return;
      }
    }
    this.#park(callId, { time, direction, callId, flow, raw: Buffer.from(data) });
  };

  #park(callId: string, m: Omit<Stored, 'leg'>): void {
    let p = this.#pending.get(callId);
    if (p === undefined) {
      // Old and excess entries go first (insertion order is age order).
      for (const [k, v] of this.#pending) {
        if (this.#pending.size < MAX_PENDING && m.time - v.since < PENDING_MS) break;
        this.#pending.delete(k);
      }
      p = { since: m.time, messages: [] };
      this.#pending.set(callId, p);
    }
    if (p.messages.length < PENDING_MESSAGES) p.messages.push(m);
  }

  #push(t: CallTrace, m: Stored): void {
    if (t.messages.length < MAX_MESSAGES) t.messages.push(m);
  }

  #evictOldest(): void {
    const first = this.#bySid.values().next().value;
    if (first === undefined) return;
    this.#bySid.delete(first.sid);
    for (const c of first.callIds) this.#byCallId.delete(c);
  }

  /** The call's messages, oldest first; null when the call is not (or no longer) in the buffer. */
  trace(sid: string): TraceMessage[] | null {
    const t = this.#bySid.get(sid);
    if (t === undefined) return null;
    return t.messages.map((m) => {
      const inbound = m.direction === 'in';
      const local = hostPort(m.flow.localHost, m.flow.localPort);
      const remote = hostPort(m.flow.remoteHost, m.flow.remotePort);
      const eol = m.raw.indexOf('\r\n');
      return {
        time: new Date(m.time).toISOString(),
        direction: m.direction,
        leg: m.leg,
        callId: m.callId,
        proto: m.flow.proto,
        src: inbound ? remote : local,
        dst: inbound ? local : remote,
        firstLine: m.raw.toString('utf8', 0, eol < 0 ? Math.min(m.raw.length, 200) : eol),
        raw: m.raw.toString('utf8'),
      };
    });
  }

  /** The sids in the buffer, newest last. */
  sids(): string[] {
    return [...this.#bySid.keys()];
  }
}
