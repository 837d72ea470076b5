import type { SipMessage } from '../sip/message.js';
import type { MediaMode } from '../trunking/model.js';
import type { LegMediaOptions, MediaAddress, MediaEngine, Side } from '../media/engine.js';
import { LegFactsBook } from './leg-media-facts.js';

/**
 * The B2BUA's side of the media engine: which bodies are SDP, each leg's
 * media options from its trunk or carrier, and offer/answer on Buffers.
 * Without an engine (null) SDP passes unchanged.
 */
export class MediaLink {
  /** Each call's media address per side (legs on different networks), given to every offer and answer. */
  private readonly sides = new Map<string, Partial<Record<Side, MediaAddress>>>();
  /** Each call's relay address per side as the SDP last sent to that side shows it (a cluster's call records). */
  private readonly relayed = new Map<string, Partial<Record<Side, string>>>();
  /** Per call, who is told of each SDP that crossed (src/b2bua/call-timers.ts), until the call's end(). */
  private readonly watchers = new Map<string, SdpWatcher>();
  /** Per call, each side's transport and codec from the answers that crossed (the CDR's `extra.legs`). */
  private readonly facts = new LegFactsBook();

  constructor(private readonly engine: MediaEngine | null) {}

  /**
   * Our media address on each side of a call: that of the SIP interface of
   * each leg (Interfaces, per listener). Sides without one use the engine's
   * address; a later call (the next attempt, on another network) replaces it.
   */
  setSides(callSid: string, a: MediaAddress | undefined, b: MediaAddress | undefined): void {
    if (this.engine === null) return;
    if (a === undefined && b === undefined) {
      this.sides.delete(callSid);
      return;
    }
    this.sides.set(callSid, { ...(a !== undefined && { a }), ...(b !== undefined && { b }) });
  }

  private withSides(callSid: string, o: LegMediaOptions): LegMediaOptions {
    const sides = this.sides.get(callSid);
    return sides === undefined ? o : { ...o, sides };
  }

  get active(): boolean {
    return this.engine !== null;
  }

  /** The SDP body of a message, or null (no body, or another type). */
  sdpOf(msg: SipMessage): Buffer | null {
    if (msg.body.length === 0) return null;
    const ct = msg.contentType;
    return ct !== null && ct.toLowerCase().startsWith('application/sdp') ? msg.body : null;
  }

  async offer(callSid: string, from: Side, sdp: Buffer, toOther: LegMediaOptions): Promise<Buffer> {
    if (this.engine === null) return this.crossed(callSid, from, sdp, sdp);
    const out = await this.engine.offer(callSid, from, sdp.toString('utf8'), this.withSides(callSid, toOther));
    this.sent(callSid, from === 'a' ? 'b' : 'a', out);
    return this.crossed(callSid, from, sdp, Buffer.from(out, 'utf8'));
  }

  async answer(callSid: string, from: Side, sdp: Buffer, toOther: LegMediaOptions): Promise<Buffer> {
    if (this.engine === null) return this.crossed(callSid, from, sdp, sdp);
    const taken = sdp.toString('utf8');
    const out = await this.engine.answer(callSid, from, taken, this.withSides(callSid, toOther));
    this.sent(callSid, from === 'a' ? 'b' : 'a', out);
    this.facts.answered(callSid, from, taken, out);
    return this.crossed(callSid, from, sdp, Buffer.from(out, 'utf8'));
  }

  /** `watcher` hears of every SDP of the call that crosses offer() or answer(), until end(). */
  watch(callSid: string, watcher: SdpWatcher): void {
    this.watchers.set(callSid, watcher);
  }

  private crossed(callSid: string, from: Side, taken: Buffer, written: Buffer): Buffer {
    this.watchers.get(callSid)?.(from, taken, written);
    return written;
  }

  /** The relay's addresses (`ip:port`, one per m= line) each side of a call was given; {} without an engine. */
  relayOf(callSid: string): Partial<Record<Side, string>> {
    return this.relayed.get(callSid) ?? {};
  }

  private sent(callSid: string, to: Side, sdp: string): void {
    const host = /^c=IN IP[46] (\S+)/m.exec(sdp)?.[1];
    if (host === undefined) return;
    const h = host.includes(':') ? `[${host}]` : host;
    const ports = [...sdp.matchAll(/^m=\S+ (\d+)/gm)].map((m) => `${h}:${m[1]!}`);
    this.relayed.set(callSid, { ...this.relayed.get(callSid), [to]: ports.join(',') });
  }

  /** A call's media stopped (no RTP for the timeout): `cb` ends the call. */
  onTimeout(cb: (callSid: string, side: Side) => void): void {
    this.engine?.onTimeout(cb);
  }

  async end(callSid: string): Promise<string | null> {
    this.sides.delete(callSid);
    this.relayed.delete(callSid);
    this.watchers.delete(callSid);
    const legs = this.facts.take(callSid);
    if (this.engine === null) return null;
    const media = await this.engine.delete(callSid);
    return JSON.stringify(legs === null ? { media } : { media, legs });
  }
}

/** Told of an SDP taken from side `from` and of the SDP written for the other side from it. */
export type SdpWatcher = (from: Side, taken: Buffer, written: Buffer) => void;

/** A trunk's or carrier's media settings as the engine takes them; `webrtc` for a browser's leg (over WebSocket). */
export function legMedia(mode: MediaMode, codecs: string[], webrtc = false): LegMediaOptions {
  const profile = mode === 'rtp' ? 'RTP/AVP' : mode === 'srtp' ? 'RTP/SAVP' : 'as-offered';
  return webrtc ? { profile, codecs, webrtc } : { profile, codecs };
}
