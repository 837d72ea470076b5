/**
 * The media engine interface the B2BUA drives: one call (callSid) has two
 * legs, 'a' (the caller's side) and 'b' (the callee's side). Each SDP offer
 * or answer that crosses Trunkline is handed to the engine, which anchors
 * the media (allocates ports, rewrites the SDP so each side sees only
 * Trunkline) and returns the SDP to send on.
 *
 * Two implementations: the built-in relay (builtin.ts) and an rtpengine ng
 * client (rtpengine.ts). `createMediaEngine()` in index.ts picks one from the
 * `media` config block.
 *
 * Call order for one call:
 *   offer(sid, 'a', sdpFromCaller, optsOfLegB)   -> SDP for the callee
 *   answer(sid, 'b', sdpFromCallee, optsOfLegA)  -> SDP for the caller
 *   ... re-INVITE/UPDATE from either side: offer(sid, side, ...) then answer(sid, other, ...)
 *   delete(sid)                                  -> figures for the CDR
 * `toOther` always describes the leg the returned SDP goes to (its trunk's or
 * carrier's media profile and codec list).
 */

export type MediaProfile = 'RTP/AVP' | 'RTP/SAVP';
export type Side = 'a' | 'b';

export interface LegMediaOptions {
  /** The profile the other leg must get; 'as-offered' keeps the offerer's. */
  profile: MediaProfile | 'as-offered';
  /** Allowed codecs (encoding names, e.g. PCMA, PCMU, telephone-event), in preference order; [] = as offered. */
  codecs: string[];
  /**
   * Our media address on each side of the call, when the sides are on
   * different networks (the SIP interface of each leg); a side without one
   * uses the engine's address. The built-in relay binds that side's sockets
   * there and writes it in that side's SDP; rtpengine ignores it.
   */
  sides?: Partial<Record<Side, MediaAddress>>;
  /**
   * The leg is a browser (a WebSocket contact, RFC 7118): an offer toward it
   * is DTLS-SRTP (UDP/TLS/RTP/SAVPF) with ICE-lite and rtcp-mux.
   */
  webrtc?: boolean;
}

/** Our media address on one side of a call: where the relay's sockets bind, and what that side's SDP says (c=, o=). */
export interface MediaAddress {
  bind: string;
  sdp: string;
}

/** Figures of one direction of a call's media (aToB: what a sent, relayed to b). */
export interface FlowStats {
  /** RTP packets and bytes relayed in this direction (bytes of the plain RTP packet: header and payload, no SRTP tag). */
  packets: number;
  bytes: number;
  /** RTCP packets relayed in this direction. */
  rtcpPackets: number;
  /** Packets received for this direction and not relayed (any reason below, or no destination known yet). */
  dropped: number;
  /** Of those: from a source other than the latched one (RFC 7362 latching). */
  strangers: number;
  /** Of those: SRTP/SRTCP authentication failures or replays (RFC 3711 3.3). */
  srtpFailures: number;
  /** Packets lost as reported by the receiver's RTCP (cumulative, RFC 3550 6.4.1); null when it sent none. */
  lost: number | null;
  /** Interarrival jitter reported by the receiver's RTCP, in ms; null when it sent none. */
  jitterMs: number | null;
  /** RFC 4733 (2833) telephone-event events sent in this direction. */
  dtmfEvents: number;
}

export interface CallMediaStats {
  aToB: FlowStats;
  bToA: FlowStats;
  /** Epoch ms of the first offer. */
  startedAt: number;
}

export interface MediaEngine {
  /** An SDP offer from leg `from` ('a' = caller side, 'b' = callee side): returns the SDP to send to the other leg. Throws MediaError (sipStatus 488, warning text) when the offer cannot be accepted. */
  offer(callSid: string, from: Side, sdp: string, toOther: LegMediaOptions): Promise<string>;
  /** The answer to the last offer, from the other leg: returns the SDP to send back to the offerer. */
  answer(callSid: string, from: Side, sdp: string, toOther: LegMediaOptions): Promise<string>;
  /** Ends the call's media: frees every port; returns the figures for the CDR. Unknown call: zero figures. */
  delete(callSid: string): Promise<CallMediaStats>;
  /** Called when a call's media timed out (no RTP from a side for `timeout` s, held streams `holdTimeout`). */
  onTimeout(cb: (callSid: string, side: Side) => void): void;
  stats(callSid: string): CallMediaStats | null;
  close(): Promise<void>;
}

export function emptyFlow(): FlowStats {
  return {
    packets: 0,
    bytes: 0,
    rtcpPackets: 0,
    dropped: 0,
    strangers: 0,
    srtpFailures: 0,
    lost: null,
    jitterMs: null,
    dtmfEvents: 0,
  };
}

export function emptyStats(startedAt = Date.now()): CallMediaStats {
  return { aToB: emptyFlow(), bToA: emptyFlow(), startedAt };
}

export function otherSide(side: Side): Side {
  return side === 'a' ? 'b' : 'a';
}
