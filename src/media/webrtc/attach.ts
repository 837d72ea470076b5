/**
 * Where the built-in engine meets WebRTC: the ICE/DTLS state of the legs
 * whose peer offered DTLS-SRTP, and the section written back to them.
 */
import type { Logger } from '../../log.js';
import type { RelayLeg } from '../relay.js';
import { DTLS_SRTP, type PeerMedia, type SectionPlan } from '../sdp/rewrite.js';
import type { DtlsCertificate } from './certificate.js';
import { IceDtlsLeg } from './ice-dtls.js';

/**
 * Gives `leg` its ICE/DTLS side: for the peer's DTLS-SRTP section `p` (its
 * offer or answer), or with `p` null for our offer toward a WebRTC leg (the
 * peer's attributes come with its answer). An existing side is kept, with
 * the peer's latest attributes.
 */
export function attachIceDtls(leg: RelayLeg, p: PeerMedia | null, cert: DtlsCertificate, log?: Logger, sid = ''): void {
  if (p !== null && p.iceDtls === null) return;
  if (leg.ice instanceof IceDtlsLeg) {
    if (p?.iceDtls != null) leg.ice.setRemote(p.iceDtls);
  } else new IceDtlsLeg(leg, cert, p?.iceDtls ?? null, log, sid);
}

/** The section of our offer toward a WebRTC leg: ICE-lite, host candidate, fingerprint, setup:actpass (RFC 5763 5), rtcp-mux, mid. */
export function iceDtlsOfferPlan(leg: RelayLeg, index: number, address: string, cert: DtlsCertificate): SectionPlan {
  const ice = leg.ice as IceDtlsLeg;
  return {
    port: leg.rtpPort,
    rtcpPort: null,
    rtcpMux: true,
    transport: DTLS_SRTP,
    crypto: [],
    iceDtls: {
      ufrag: ice.localUfrag,
      pwd: ice.localPwd,
      fingerprint: cert.fingerprint,
      setup: 'actpass',
      candidates: [{ address, port: leg.rtpPort }],
      mid: String(index),
    },
  };
}

/** The section of our answer to a DTLS-SRTP offer: ICE-lite, host candidate at `address`, our fingerprint, setup:passive, rtcp-mux. */
export function iceDtlsAnswerPlan(leg: RelayLeg, off: PeerMedia, address: string, cert: DtlsCertificate): SectionPlan {
  const ice = leg.ice as IceDtlsLeg;
  return {
    port: leg.rtpPort,
    rtcpPort: null,
    rtcpMux: true,
    transport: off.transport,
    crypto: [],
    iceDtls: {
      ufrag: ice.localUfrag,
      pwd: ice.localPwd,
      fingerprint: cert.fingerprint,
      setup: 'passive',
      candidates: [{ address, port: leg.rtpPort }],
      mid: off.mid,
    },
  };
}
