/**
 * The ng flags of calls with a WebRTC leg (rtpengine runs ICE, DTLS-SRTP
 * and transcoding itself): in an offer toward a browser ICE forced, DTLS passive, the
 * UDP/TLS/RTP/SAVPF profile with rtcp-mux and no SDES; from a browser's
 * offer toward a SIP leg plain RTP/AVP (RTP/SAVP when the leg wants SRTP)
 * without ICE or DTLS, rtcp-mux not offered; where the two legs share no
 * voice codec, rtpengine transcodes to the SIP leg's codecs.
 */
import type { SessionDescription } from 'sdp-transform';
import type { BValue } from './bencode.js';
import type { LegMediaOptions } from './engine.js';
import { MediaError, WARN } from './errors.js';
import { restrictCodecs } from './sdp/codecs.js';
import type { PeerMedia } from './sdp/rewrite.js';
import { cloneSdp } from './sdp/clone.js';

type Dict = { [key: string]: BValue };

const AUXILIARY = /^(telephone-event|CN)$/i;

/** Sets the flags of an offer from `peers` toward `toOther` when either side is WebRTC; true when one is. */
export function webrtcOfferFlags(req: Dict, peers: readonly PeerMedia[], toOther: LegMediaOptions): boolean {
  if (toOther.webrtc === true) {
    req.ICE = 'force';
    req.DTLS = 'passive';
    req['transport-protocol'] = 'UDP/TLS/RTP/SAVPF';
    req['rtcp-mux'] = ['offer', 'require'];
    req.SDES = 'off';
    return true;
  }
  if (peers.some((p) => p.iceDtls !== null)) {
    req.ICE = 'remove';
    req.DTLS = 'off';
    req['transport-protocol'] = toOther.profile === 'RTP/SAVP' ? 'RTP/SAVP' : 'RTP/AVP';
    req['rtcp-mux'] = ['demux'];
    return true;
  }
  return false;
}

/**
 * The answer toward a browser that offered: rtpengine's ICE and DTLS answer
 * it, rtpengine keeping the active role (RFC 5763 5 recommends it for the
 * answerer). rtpengine takes that role, and may start the handshake, as soon
 * as the offer: a `DTLS=passive` in the answer resets it, and when its early
 * ClientHello had made the browser the server, both sides waited as servers.
 */
export function webrtcAnswerFlags(req: Dict): void {
  req.ICE = 'force';
}

/**
 * The voice codecs rtpengine must transcode to for the leg `toOther` when
 * the offer shares none with its list (a browser's Opus toward a G.711
 * carrier); [] when a codec is shared or the list is empty.
 */
export function transcodeTargets(sd: SessionDescription, toOther: LegMediaOptions): string[] {
  try {
    for (const m of cloneSdp(sd.media)) if (Number(m.port) !== 0) restrictCodecs(m, toOther.codecs);
    return [];
  } catch (err) {
    if (!(err instanceof MediaError) || err.warnCode !== WARN.format) throw err;
    return toOther.codecs.filter((c) => !AUXILIARY.test(c));
  }
}
