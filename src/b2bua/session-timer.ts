/**
 * RFC 4028 session timers, the rules alone (no I/O): reading Session-Expires
 * and Min-SE, what we answer as UAS (section 9), what a 2xx to our request
 * means as UAC (7.2), a 422 (7.3), when to refresh and when to give up (10).
 * The B2BUA runs one session timer per leg (each leg is a session of its
 * own): leg-timer.ts drives them, call-timers.ts ties them to the call.
 */
import type { SipMessage } from '../sip/message.js';

/** RFC 4028 4 and 5: no session interval, and no Min-SE, below 90 seconds. */
export const RFC_MIN_SE = 90;

/** One leg's timer settings, in seconds (config `trunking.sessionTimer`, or its override for the leg's trunk or carrier). */
export interface TimerSettings {
  /** The session interval we ask for and prefer (RFC 4028 recommends 1800). */
  interval: number;
  /** The shortest interval we accept (our Min-SE); at least RFC_MIN_SE. */
  minSE: number;
}

/** Who refreshes, in the words of one transaction: its UAC or its UAS (RFC 4028 4). */
export type Refresher = 'uac' | 'uas';

export interface SessionExpires {
  seconds: number;
  refresher: Refresher | null;
}

/** A malformed Session-Expires or Min-SE in a request: answered 400 naming the header. */
export class SessionTimerHeaderError extends Error {
  constructor(
    readonly header: string,
    value: string,
  ) {
    super(`${header}: not delta-seconds: ${value.slice(0, 40)}`);
    this.name = 'SessionTimerHeaderError';
  }
}

/** Up to 10 digits (RFC 3261 25.1 delta-seconds); more is clamped to a day's worth below. */
const DELTA = /^\s*(\d{1,10})\s*(?:;(.*))?$/s;
const MAX_SECONDS = 86_400 * 7;

/** `Session-Expires: 1800;refresher=uac` (RFC 4028 4). Throws SessionTimerHeaderError when it does not read. */
export function parseSessionExpires(value: string): SessionExpires {
  const m = DELTA.exec(value);
  if (m === null) throw new SessionTimerHeaderError('Session-Expires', value);
  let refresher: Refresher | null = null;
  for (const p of (m[2] ?? '').split(';')) {
    const [name, v] = p.split('=').map((s) => s.trim().toLowerCase());
    if (name !== 'refresher') continue;
    if (v !== 'uac' && v !== 'uas') throw new SessionTimerHeaderError('Session-Expires', value);
    refresher = v;
  }
  return { seconds: Math.min(Number(m[1]), MAX_SECONDS), refresher };
}

/** `Min-SE: 90` (RFC 4028 5). Throws SessionTimerHeaderError when it does not read. */
export function parseMinSE(value: string): number {
  const m = DELTA.exec(value);
  if (m === null) throw new SessionTimerHeaderError('Min-SE', value);
  return Math.min(Number(m[1]), MAX_SECONDS);
}

/** What a message says about session timers. */
export interface TimerHeaders {
  /** `timer` in Supported (or Require): its sender supports session timers. */
  supported: boolean;
  se: SessionExpires | null;
  minSE: number | null;
}

/** The session timer headers of a request; throws SessionTimerHeaderError on a malformed one (the request gets 400). */
export function timerHeadersOf(msg: SipMessage): TimerHeaders {
  const se = msg.get('Session-Expires');
  const min = msg.get('Min-SE');
  const tags = [...msg.optionTags('Supported'), ...msg.optionTags('Require')].map((t) => t.toLowerCase());
  return {
    supported: tags.includes('timer'),
    se: se === undefined ? null : parseSessionExpires(se),
    minSE: min === undefined ? null : parseMinSE(min),
  };
}

/** The same for a response: a malformed header counts as absent (nothing to answer it with). */
export function timerHeadersOfResponse(msg: SipMessage): TimerHeaders {
  try {
    return timerHeadersOf(msg);
  } catch {
    return { supported: msg.optionTags('Supported').some((t) => t.toLowerCase() === 'timer'), se: null, minSE: null };
  }
}

/** Our answer, as UAS, to an INVITE or UPDATE on a leg. */
export type UasAnswer =
  /** RFC 4028 6 and 9: 422 with our Min-SE. */
  { kind: 'too-small'; minSE: number } | { kind: 'accept'; interval: number; refresher: Refresher; weRefresh: boolean };

/**
 * RFC 4028 9: the session interval and refresher of our 2xx to a request.
 * Below our Min-SE: 422, when the peer supports timers (it can ask again
 * with more); a peer that does not could not read a 422 (a proxy put the
 * header there), so its interval is raised to our minimum instead, with
 * us refreshing. We may lower the interval to our preference but never
 * below the request's Min-SE, and never raise a supporting peer's. The
 * refresher follows the section 9 table: the peer's choice when it made
 * one; it when it supports timers and left the choice to us (it knows
 * best whether it is alive); us when it does not support them.
 */
export function answerAsUas(req: TimerHeaders, s: TimerSettings): UasAnswer {
  const floor = Math.max(req.minSE ?? 0, s.minSE);
  let interval: number;
  if (req.se === null) interval = Math.max(s.interval, floor);
  else if (req.se.seconds < s.minSE) {
    if (req.supported) return { kind: 'too-small', minSE: floor };
    interval = floor;
  } else interval = Math.min(req.se.seconds, Math.max(s.interval, floor));
  const refresher: Refresher = !req.supported ? 'uas' : (req.se?.refresher ?? 'uac');
  return { kind: 'accept', interval, refresher, weRefresh: refresher === 'uas' };
}

/** A leg's session as negotiated: its interval and whether we refresh it. */
export interface Negotiated {
  interval: number;
  weRefresh: boolean;
}

/**
 * RFC 4028 7.2: the 2xx to a request we sent on a leg. With Session-Expires,
 * its refresher decides (`uac`: us; absent, which a UAS must not do: us);
 * an interval below what we allow is read as our minimum. Without it the
 * peer does not run a timer: RFC 4028 would leave the session without one;
 * we keep ours, as the refresher, with the interval we asked for (as a
 * proxy does for a UAS without support, 8.1): re-INVITE and UPDATE are
 * plain RFC 3261/3311, and a refresh is how a vanished peer is found.
 */
export function outcomeAsUac(res: TimerHeaders, asked: { interval: number; minSE: number }): Negotiated {
  if (res.se === null) return { interval: asked.interval, weRefresh: true };
  return { interval: Math.max(res.se.seconds, asked.minSE), weRefresh: res.se.refresher !== 'uas' };
}

/**
 * RFC 4028 7.3: a 422 to our request. Ask again with the interval raised to
 * its Min-SE (and our Min-SE with it); null when that changes nothing (a
 * 422 without Min-SE, or one not above what we asked: no endless retries).
 */
export function after422(
  asked: { interval: number; minSE: number },
  minSEof422: number | null,
): { interval: number; minSE: number } | null {
  if (minSEof422 === null || minSEof422 <= asked.interval) return null;
  return { interval: minSEof422, minSE: Math.max(asked.minSE, minSEof422) };
}

/** The Min-SE of a 422 (null when absent or malformed). */
export function minSEof(res: SipMessage): number | null {
  const v = res.get('Min-SE');
  if (v === undefined) return null;
  try {
    return parseMinSE(v);
  } catch {
    return null;
  }
}

/** RFC 4028 10: the refresher refreshes once half the interval has passed. */
export function refreshDelayMs(interval: number): number {
  return (interval * 1000) / 2;
}

/** RFC 4028 10: without a refresh, the session ends min(32 s, interval/3) before it expires. */
export function expiryDelayMs(interval: number): number {
  return (interval - Math.min(32, interval / 3)) * 1000;
}

/** Headers of a request we send on a leg (RFC 4028 7.1, 7.4): our interval, who refreshes in this transaction's words, our Min-SE. */
export function requestTimerHeaders(
  interval: number,
  minSE: number,
  weRefresh: boolean | null,
): Array<[string, string]> {
  const who = weRefresh === null ? '' : `;refresher=${weRefresh ? 'uac' : 'uas'}`;
  return [
    ['Supported', 'timer'],
    ['Session-Expires', `${interval}${who}`],
    ['Min-SE', String(minSE)],
  ];
}

/** Headers of our 2xx as UAS (RFC 4028 9): Require: timer when the peer (the UAC) is to refresh. */
export function responseTimerHeaders(a: { interval: number; refresher: Refresher }): Array<[string, string]> {
  const out: Array<[string, string]> = [
    ['Supported', 'timer'],
    ['Session-Expires', `${a.interval};refresher=${a.refresher}`],
  ];
  if (a.refresher === 'uac') out.push(['Require', 'timer']);
  return out;
}

const TIMER_HEADERS: ReadonlySet<string> = new Set(['session-expires', 'x', 'min-se']);

/**
 * Headers that cross to the other leg, without the session timer ones:
 * each leg negotiates its own (Session-Expires, Min-SE, and `timer` in
 * Supported and Require are written by us per leg).
 */
export function withoutTimerHeaders(headers: Array<[string, string]>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [name, value] of headers) {
    const n = name.toLowerCase();
    if (TIMER_HEADERS.has(n)) continue;
    if (n === 'supported' || n === 'require' || n === 'k') {
      const tags = value
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t !== '' && t.toLowerCase() !== 'timer');
      if (tags.length > 0) out.push([name, tags.join(', ')]);
      continue;
    }
    out.push([name, value]);
  }
  return out;
}

/**
 * The o= line of an SDP body (RFC 4566 5.2), or null. RFC 3264 8: an
 * unchanged session description keeps its version, so a re-INVITE whose
 * o= line is the one its sender last gave is a refresh, not a change.
 */
export function sdpOrigin(body: Buffer): string | null {
  const m = /^o=([^\r\n]*)/m.exec(body.toString('latin1'));
  return m === null ? null : m[1]!.trim().replace(/\s+/g, ' ');
}

/** Whether a method is a session refresh when it succeeds (RFC 4028 3: re-INVITE and UPDATE). */
export function refreshesSession(method: string): boolean {
  return method === 'INVITE' || method === 'UPDATE';
}
