/**
 * Where the built-in engine meets WebRTC: the ICE/DTLS state of the legs
 * whose peer offered DTLS-SRTP, and the section written back to them.
 */
import type { Logger } from '../../log.js';
import type { RelayLeg } from '../relay.js';
import type { PeerMedia, SectionPlan } from '../sdp/rewrite.js';
import type { DtlsCertificate } from './certificate.js';
import { IceDtlsLeg } from './ice-dtls.js';

/** Gives `leg` its ICE/DTLS side for the peer's section `p` (a new one, or the same with the peer's latest credentials). */
export function attachIceDtls(leg: RelayLeg, p: PeerMedia, cert: DtlsCertificate, log?: Logger, sid = ''): void {
  if (p.iceDtls === null) return;
  if (leg.ice instanceof IceDtlsLeg) leg.ice.remote = p.iceDtls;
  else new IceDtlsLeg(leg, cert, p.iceDtls, log, sid);
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
