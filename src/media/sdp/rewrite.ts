/**
 * Reading a peer's SDP (RFC 4566, RFC 3264) into what the relay needs, and
 * writing the SDP Trunkline sends to a leg: its own origin (RFC 3264 8: the
 * version moves only when the body changes), its media address in c=, its
 * ports in m= and a=rtcp (RFC 3605), rtcp-mux (RFC 5761), its crypto lines
 * (RFC 4568), and no ICE or DTLS attributes (Trunkline anchors the media
 * itself; a leg never sees the other's addresses).
 */
import sdpTransform, { type MediaDescription, type SessionDescription } from 'sdp-transform';
import { isIP } from 'node:net';
import { notAcceptable, WARN } from '../errors.js';
import type { CryptoLine } from './crypto-attr.js';
import { readIceDtls, type IceDtlsPlan, type RemoteIceDtls, writeIceDtls } from '../webrtc/sdp.js';
import { writeSdp } from './writer.js';
import { cloneSdp } from './clone.js';

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** Transport protocols the relay carries; others get the section rejected or a 488. */
export type Transport = 'RTP/AVP' | 'RTP/SAVP' | 'RTP/AVPF' | 'RTP/SAVPF' | 'UDP/TLS/RTP/SAVPF' | 'udptl';
const TRANSPORTS = new Set<string>(['RTP/AVP', 'RTP/SAVP', 'RTP/AVPF', 'RTP/SAVPF', 'UDP/TLS/RTP/SAVPF', 'UDPTL']);
/** WebRTC's profile: SRTP keyed by DTLS (RFC 5764 8), over ICE. */
export const DTLS_SRTP: Transport = 'UDP/TLS/RTP/SAVPF';

export interface PeerMedia {
  index: number;
  type: string;
  /** 0: the section is rejected/disabled. */
  port: number;
  transport: Transport;
  srtp: boolean;
  /** Where the peer receives RTP; null for 0.0.0.0 / :: (hold, RFC 3264 8.4) or when rejected. */
  address: string | null;
  rtcpPort: number;
  rtcpAddress: string | null;
  rtcpMux: boolean;
  /** Direction from the peer's point of view (c=0.0.0.0 counts as not receiving). */
  direction: Direction;
  crypto: CryptoLine[];
  /** ICE credentials, DTLS fingerprint and setup role of a DTLS-SRTP section; null otherwise. */
  iceDtls: RemoteIceDtls | null;
  /** a=mid (RFC 5888), or null. */
  mid: string | null;
}

export function parseSdp(text: string): SessionDescription {
  if (typeof text !== 'string' || !/^v=0\r?$/m.test(text.slice(0, 8)))
    throw notAcceptable(WARN.misc, 'SDP body is not SDP (no v=0)');
  let sd: SessionDescription;
  try {
    sd = sdpTransform.parse(text);
  } catch {
    // sdp-transform throws plain Errors: each means text it cannot read, answered 488
    throw notAcceptable(WARN.misc, 'SDP cannot be parsed');
  }
  if (!Array.isArray(sd.media) || sd.media.length === 0) throw notAcceptable(WARN.misc, 'SDP has no m= line');
  return sd;
}

function normalTransport(p: string | undefined): Transport | null {
  const up = (p ?? '').toUpperCase();
  if (!TRANSPORTS.has(up)) return null;
  return up === 'UDPTL' ? 'udptl' : (up as Transport);
}

const isUnspecified = (ip: string): boolean => ip === '0.0.0.0' || ip === '::' || /^0+(\.0+){3}$/.test(ip);

function receives(d: Direction): boolean {
  return d === 'sendrecv' || d === 'recvonly';
}

/** What a peer's SDP says about each m= section; throws 488 on what Trunkline cannot carry. */
export function describePeer(sd: SessionDescription): PeerMedia[] {
  const sessionDir = (sd.direction as Direction | undefined) ?? 'sendrecv';
  return sd.media.map((m, index) => {
    if (typeof m.type !== 'string' || typeof m.protocol !== 'string' || m.port === undefined) {
      throw notAcceptable(WARN.misc, `bad m= line ${index + 1}`);
    }
    const port = Number(m.port);
    const transport = normalTransport(m.protocol);
    if (transport === null) {
      if (port === 0) {
        return {
          index,
          type: m.type,
          port: 0,
          transport: 'RTP/AVP',
          srtp: false,
          address: null,
          rtcpPort: 0,
          rtcpAddress: null,
          rtcpMux: false,
          direction: 'inactive',
          crypto: [],
          iceDtls: null,
          mid: null,
        };
      }
      const why = /TLS|DTLS/i.test(m.protocol)
        ? `media transport ${m.protocol.slice(0, 40)} not supported (DTLS-SRTP as ${DTLS_SRTP} only)`
        : `media transport ${m.protocol.slice(0, 40)} not supported`;
      throw notAcceptable(WARN.transport, why);
    }
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw notAcceptable(WARN.misc, `bad m= port ${String(m.port).slice(0, 10)}`);
    const iceDtls = transport === DTLS_SRTP && port !== 0 ? readIceDtls(sd, m) : null;
    const ip = m.connection?.ip ?? sd.connection?.ip;
    if (port !== 0 && ip === undefined) throw notAcceptable(WARN.address, 'SDP without c= line');
    if (ip !== undefined && isIP(ip) === 0) throw notAcceptable(WARN.address, 'c= address is not an IP address');
    let direction: Direction = ((m.direction as Direction | undefined) ?? sessionDir) as Direction;
    const held = ip !== undefined && isUnspecified(ip);
    if (held && receives(direction)) direction = direction === 'sendrecv' ? 'sendonly' : 'inactive';
    // A DTLS-SRTP peer is reached where ICE finds it (webrtc/ice-dtls.ts), not at c=.
    const address = port === 0 || ip === undefined || held || iceDtls !== null ? null : ip;
    const rtcpMux = m.rtcpMux !== undefined;
    const rtcpPort = m.rtcp?.port !== undefined ? Number(m.rtcp.port) : port === 0 ? 0 : port + 1;
    const rtcpIp = m.rtcp?.address;
    return {
      index,
      type: m.type,
      port,
      transport,
      srtp: transport === 'RTP/SAVP' || transport === 'RTP/SAVPF',
      address,
      rtcpPort: rtcpMux ? port : rtcpPort,
      rtcpAddress: rtcpIp !== undefined && isIP(rtcpIp) !== 0 && !isUnspecified(rtcpIp) ? rtcpIp : address,
      rtcpMux,
      direction,
      crypto: (m.crypto ?? []) as CryptoLine[],
      iceDtls,
      mid: m.mid === undefined ? null : String(m.mid),
    };
  });
}

/** The transport to write toward a leg, given the offerer's and the leg's wanted profile. */
export function transportToward(offered: Transport, want: 'RTP/AVP' | 'RTP/SAVP' | 'as-offered'): Transport {
  // A SIP leg cannot do DTLS-SRTP: it gets SDES (RTP/SAVP) when its profile wants SRTP, else RTP/AVP.
  if (offered === DTLS_SRTP) return want === 'RTP/SAVP' ? 'RTP/SAVP' : 'RTP/AVP';
  if (offered === 'udptl' || want === 'as-offered') return offered;
  const feedback = offered.endsWith('F');
  if (want === 'RTP/SAVP') return feedback ? 'RTP/SAVPF' : 'RTP/SAVP';
  return feedback ? 'RTP/AVPF' : 'RTP/AVP';
}

/** What Trunkline writes into one m= section toward a leg. */
export interface SectionPlan {
  /** 0 rejects the section. */
  port: number;
  /** RTCP port for a=rtcp; null with rtcp-mux. */
  rtcpPort: number | null;
  rtcpMux: boolean;
  transport: Transport;
  /** Crypto lines (SAVP), none otherwise. */
  crypto: CryptoLine[];
  /** Direction to write; undefined keeps the source's. */
  direction?: Direction;
  /** Toward a WebRTC leg: our ICE-lite credentials, candidate, DTLS fingerprint and role. */
  iceDtls?: IceDtlsPlan;
}

/** Per-leg o= line state (RFC 4566 5.2, RFC 3264 8). */
export interface Origin {
  id: string;
  version: number;
  lastBody: string;
}

export function newOrigin(): Origin {
  return { id: String(Math.floor(Math.random() * 1e12) + 1), version: 1, lastBody: '' };
}

/**
 * Attributes of the peer's m= sections that never cross. Besides transport
 * (ICE, DTLS, c=, rtcp, crypto, rewritten per leg): RFC 5576 a=ssrc and
 * a=ssrc-group, whose cname names the peer (baresip writes
 * `cname:sip:user@its-address`), and WebRTC's a=msid; all optional.
 */
const DROP_MEDIA_KEYS = [
  'candidates',
  'iceUfrag',
  'icePwd',
  'iceOptions',
  'endOfCandidates',
  'fingerprint',
  'setup',
  'connection',
  'rtcp',
  'rtcpMux',
  'crypto',
  'direction',
  'ssrcs',
  'ssrcGroups',
  'msid',
  'mid',
] as const;

/** Removes the attributes that name the peer (a=ssrc cname, a=ssrc-group, a=msid) from a parsed SDP (for rtpengine, which passes them). */
export function stripPeerAttributes(sd: SessionDescription): void {
  delete sd.msidSemantic;
  for (const m of sd.media) {
    delete m.ssrcs;
    delete m.ssrcGroups;
    delete m.msid;
  }
}

/**
 * Writes `src` (a parsed SDP, not modified) as Trunkline's SDP toward a leg,
 * applying one plan per m= section.
 */
export function writeLegSdp(
  src: SessionDescription,
  plans: readonly SectionPlan[],
  address: string,
  origin: Origin,
): string {
  const sd = cloneSdp(src);
  const ipVer = isIP(address) === 6 ? 6 : 4;
  delete sd.iceUfrag;
  delete sd.icePwd;
  delete sd.iceOptions;
  delete sd.fingerprint;
  delete (sd as { setup?: string }).setup;
  delete sd.msidSemantic;
  if (sd.groups) sd.groups = sd.groups.filter((g) => g.type !== 'BUNDLE');
  if (sd.groups?.length === 0) delete sd.groups;
  const sessionDir = sd.direction;
  delete sd.direction;
  sd.connection = { version: ipVer, ip: address };
  sd.media = sd.media.map((m0, i) => {
    const plan = plans[i]!;
    const m = m0 as MediaDescription & Record<string, unknown>;
    const srcDir = (m.direction as Direction | undefined) ?? (sessionDir as Direction | undefined);
    for (const k of DROP_MEDIA_KEYS) delete m[k];
    m.port = plan.port;
    m.protocol = plan.transport === 'udptl' ? m0.protocol : plan.transport;
    if (plan.port === 0) return m;
    if (plan.rtcpMux) m.rtcpMux = 'rtcp-mux';
    if (plan.transport !== 'udptl') {
      // With rtcp-mux offered, a=rtcp names the fallback RTCP port (RFC 5761 5.1.3).
      m.rtcp = { port: plan.rtcpPort ?? plan.port };
    }
    if (plan.crypto.length > 0) m.crypto = plan.crypto.map((c) => ({ ...c }));
    // RTCP feedback (RFC 4585) only on an AVPF profile.
    if (!plan.transport.endsWith('F')) {
      delete m.rtcpFb;
      delete m.rtcpFbTrrInt;
    }
    if (plan.iceDtls !== undefined) writeIceDtls(sd, m, plan.iceDtls);
    const dir = plan.direction ?? srcDir;
    if (dir !== undefined) m.direction = dir;
    return m;
  });
  sd.origin = { username: '-', sessionId: origin.id, sessionVersion: origin.version, netType: 'IN', ipVer, address };
  let body = writeSdp(sd);
  const sansOrigin = body.replace(/^o=.*$/m, '');
  if (origin.lastBody !== '' && sansOrigin !== origin.lastBody) {
    origin.version += 1;
    sd.origin.sessionVersion = origin.version;
    body = writeSdp(sd);
  }
  origin.lastBody = sansOrigin;
  return body;
}
