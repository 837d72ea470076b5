/**
 * The ICE and DTLS attributes of a WebRTC leg's SDP: what a DTLS-SRTP
 * section from a browser must hold (RFC 8839 ice-ufrag/ice-pwd, RFC 8122
 * a=fingerprint, RFC 4145 a=setup, RFC 5761 rtcp-mux, which WebRTC
 * requires), and what Trunkline writes back as an ICE-lite agent (RFC 8445
 * 2.5: a=ice-lite, host candidates) and DTLS server (RFC 5763 5:
 * a=setup:passive).
 */
import type { MediaDescription, SessionDescription } from 'sdp-transform';
import { notAcceptable, WARN } from '../errors.js';
import type { RemoteIceDtls } from './ice-dtls.js';

export type { RemoteIceDtls };

/** Hashes a=fingerprint may name that node:crypto computes (RFC 8122 5). */
const FINGERPRINT_HASHES = new Set(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']);

/** What Trunkline writes into a section toward a WebRTC leg. */
export interface IceDtlsPlan {
  ufrag: string;
  pwd: string;
  fingerprint: { type: string; hash: string };
  /** passive in our answer, actpass in our offer (RFC 5763 5): we are the DTLS server either way. */
  setup: 'passive' | 'actpass';
  /** Host candidates: our address and the leg's port (one component: rtcp-mux). */
  candidates: { address: string; port: number }[];
  /** The offer's a=mid, echoed with a BUNDLE group (RFC 8843) when it had one. */
  mid: string | null;
}

/** A DTLS-SRTP section's ICE and DTLS attributes (media level, else session level); 488 when one is missing or unusable. */
export function readIceDtls(sd: SessionDescription, m: MediaDescription): RemoteIceDtls {
  const ufrag = m.iceUfrag ?? sd.iceUfrag;
  const pwd = m.icePwd ?? sd.icePwd;
  if (ufrag === undefined || pwd === undefined)
    throw notAcceptable(WARN.attribute, 'DTLS-SRTP without a=ice-ufrag and a=ice-pwd (ICE is required)');
  const fp = m.fingerprint ?? sd.fingerprint;
  if (fp === undefined || !FINGERPRINT_HASHES.has(String(fp.type).toLowerCase()) || !/^[0-9A-F:]+$/i.test(fp.hash))
    throw notAcceptable(WARN.attribute, 'DTLS-SRTP without a usable a=fingerprint (RFC 8122)');
  // RFC 4145 4: without a=setup the endpoint is active.
  const setup = String(m.setup ?? (sd as { setup?: string }).setup ?? 'active').toLowerCase();
  if (m.rtcpMux === undefined) throw notAcceptable(WARN.attribute, 'DTLS-SRTP without a=rtcp-mux');
  return { ufrag, pwd, fingerprint: { type: String(fp.type).toLowerCase(), hash: fp.hash }, setup };
}

/** Writes our ICE-lite and DTLS attributes into `m` (a copy being written) and a=ice-lite/BUNDLE into `sd`. */
export function writeIceDtls(sd: SessionDescription, m: MediaDescription, plan: IceDtlsPlan): void {
  (sd as { icelite?: string }).icelite = 'ice-lite';
  m.iceUfrag = plan.ufrag;
  m.icePwd = plan.pwd;
  m.fingerprint = { ...plan.fingerprint };
  m.setup = plan.setup;
  m.rtcpMux = 'rtcp-mux';
  m.candidates = plan.candidates.map((c, i) => ({
    foundation: String(i + 1),
    component: 1,
    transport: 'udp',
    // RFC 8445 5.1.2.1 with type preference 126 (host), local preference 65535 - i, component 1.
    priority: 126 * 2 ** 24 + (65535 - i) * 2 ** 8 + 255,
    ip: c.address,
    port: c.port,
    type: 'host',
  }));
  m.endOfCandidates = 'end-of-candidates';
  if (plan.mid !== null) {
    m.mid = plan.mid;
    const others = (sd.groups ?? []).filter((g) => g.type !== 'BUNDLE');
    const bundle = (sd.groups ?? []).find((g) => g.type === 'BUNDLE');
    const mids = bundle === undefined ? plan.mid : `${bundle.mids} ${plan.mid}`;
    sd.groups = [...others, { type: 'BUNDLE', mids }];
  }
}

/**
 * The built-in engine is always the DTLS server: a peer's offer must say
 * actpass or active, its answer to our actpass active (RFC 5763 5).
 */
export function checkDtlsRole(remote: RemoteIceDtls, inAnswer: boolean): void {
  const ok = inAnswer ? remote.setup === 'active' : remote.setup === 'actpass' || remote.setup === 'active';
  if (!ok)
    throw notAcceptable(
      WARN.attribute,
      `a=setup:${remote.setup.slice(0, 20)} not served: Trunkline is the DTLS server (passive)`,
    );
}
