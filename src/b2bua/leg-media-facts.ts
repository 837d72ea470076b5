/**
 * Per-leg media facts of a call for its CDR (`extra.legs`), read from the
 * answers that crossed, whichever engine wrote them: each side's transport
 * (RTP, SRTP with SDES keys, DTLS-SRTP for a WebRTC leg) and codec (the
 * first voice format of the answer exchanged with that side), and whether
 * the two sides' codecs differ (transcoded, rtpengine only).
 */
import type { Side } from '../media/engine.js';

export type LegTransport = 'RTP' | 'SRTP' | 'DTLS-SRTP';

export interface LegMediaFact {
  transport: LegTransport;
  /** Encoding name, e.g. PCMA, opus; null when the answer had no voice format. */
  codec: string | null;
}

export interface CallLegFacts {
  a?: LegMediaFact;
  b?: LegMediaFact;
  transcoded: boolean;
}

/** Payload types of RFC 3551 that an answer may name without a=rtpmap. */
const STATIC_NAMES: Readonly<Record<string, string>> = {
  '0': 'PCMU',
  '3': 'GSM',
  '8': 'PCMA',
  '9': 'G722',
  '18': 'G729',
};
const NOT_VOICE = /^(telephone-event|CN|red|ulpfec|rtx|comfort-noise)$/i;

/** The first audio section's transport and first voice codec of an SDP answer; null without an audio section. */
export function factOf(sdp: string): LegMediaFact | null {
  const m = /^m=audio \d+ (\S+) ?(.*)$/m.exec(sdp);
  if (m === null) return null;
  const proto = m[1]!.toUpperCase();
  const transport: LegTransport = proto.includes('TLS') ? 'DTLS-SRTP' : proto.includes('SAVP') ? 'SRTP' : 'RTP';
  const section = sdp.slice(m.index).split(/^m=/m)[1] ?? '';
  for (const pt of m[2]!.trim().split(/\s+/)) {
    const map = new RegExp(`^a=rtpmap:${pt} ([^/\\s]+)`, 'm').exec(section);
    const name = map?.[1] ?? STATIC_NAMES[pt];
    if (name !== undefined && !NOT_VOICE.test(name)) return { transport, codec: name };
  }
  return { transport, codec: null };
}

/** Each call's facts, updated at every answer. */
export class LegFactsBook {
  private readonly calls = new Map<string, Partial<Record<Side, LegMediaFact>>>();

  /** An answer crossed: `taken` from side `from`, `written` to the other side. */
  answered(callSid: string, from: Side, taken: string, written: string): void {
    const to: Side = from === 'a' ? 'b' : 'a';
    const cur = { ...this.calls.get(callSid) };
    const f1 = factOf(taken);
    const f2 = factOf(written);
    if (f1 !== null) cur[from] = f1;
    if (f2 !== null) cur[to] = f2;
    this.calls.set(callSid, cur);
  }

  /** The call's facts (forgotten after), or null when no answer crossed. */
  take(callSid: string): CallLegFacts | null {
    const f = this.calls.get(callSid);
    this.calls.delete(callSid);
    if (f === undefined) return null;
    const ca = f.a?.codec?.toUpperCase();
    const cb = f.b?.codec?.toUpperCase();
    return { ...f, transcoded: ca !== undefined && cb !== undefined && ca !== cb };
  }
}
