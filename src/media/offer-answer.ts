/**
 * The built-in engine's offer/answer checks (RFC 3264), which change
 * nothing: what an offer asks of the relay and what is written toward the
 * other leg, and whether an answer fits the offer it answers. builtin.ts
 * binds ports and sets the relay from their results.
 */
import { isIP } from 'node:net';
import type { SessionDescription } from 'sdp-transform';
import type { LegMediaOptions, Side } from './engine.js';
import { MediaError, notAcceptable, WARN } from './errors.js';
import { checkAnswerCodecs, type Codec, codecList, codecsOf, restrictCodecs } from './sdp/codecs.js';
import { checkDtlsRole } from './webrtc/sdp.js';
import { pickCrypto, readCryptoLine, type SdesKey } from './sdp/crypto-attr.js';
import { DTLS_SRTP, type PeerMedia, type Transport, transportToward } from './sdp/rewrite.js';
import { cloneSdp } from './sdp/clone.js';

/** An offer relayed to the other leg, waiting for its answer. */
export interface PendingOffer {
  from: Side;
  peers: PeerMedia[];
  /** Per section: the offerer's chosen crypto (SAVP), the transport and codecs we offered to the other leg, and our keys in that offer. */
  offerKey: (SdesKey | null)[];
  toward: Transport[];
  codecs: Codec[][];
  /** Per section: the codecs of the offer as the offerer wrote it (before the other leg's list restricted them). */
  offererCodecs: Codec[][];
  offeredKeys: SdesKey[][];
  offeredMux: boolean[];
}

/**
 * Per section of an offer: the SDES key the offerer sends with (its first
 * usable a=crypto, SRTP sections only), null otherwise. 488 for an address
 * of another family than the relay's (`family`) or no usable crypto.
 */
export function offerKeys(peers: readonly PeerMedia[], family: number): (SdesKey | null)[] {
  const keys: (SdesKey | null)[] = [];
  for (const p of peers) {
    let key: SdesKey | null = null;
    if (p.port !== 0) {
      if (p.address !== null && isIP(p.address) !== family)
        throw notAcceptable(WARN.network, `media address family IPv${isIP(p.address)} not served`);
      if (p.iceDtls !== null) checkDtlsRole(p.iceDtls, false);
      if (p.srtp) {
        const v = pickCrypto(p.crypto);
        if (!v.ok) throw notAcceptable(WARN.attribute, v.reason);
        key = v.key;
      }
    }
    keys.push(key);
  }
  return keys;
}

/** The offer as the other leg gets it: a copy of the SDP with codecs restricted and ordered for that leg, and per section the transport and codecs offered. */
export function offerToward(
  sd: SessionDescription,
  peers: readonly PeerMedia[],
  toOther: LegMediaOptions,
): { outSd: SessionDescription; toward: Transport[]; codecs: Codec[][] } {
  const outSd = cloneSdp(sd);
  const toward: Transport[] = [];
  const codecs: Codec[][] = [];
  peers.forEach((p, i) => {
    toward.push(
      toOther.webrtc === true && p.transport !== 'udptl' ? DTLS_SRTP : transportToward(p.transport, toOther.profile),
    );
    const m = outSd.media[i]!;
    if (p.iceDtls !== null) dropWebrtcExtras(outSd, m);
    codecs.push(
      p.port === 0 || p.transport === 'udptl'
        ? codecsOf(m)
        : withTranscodeHint(p, () => restrictCodecs(m, toOther.codecs)),
    );
  });
  return { outSd, toward, codecs };
}

/** An answer's format the check let through though its leg was not offered it (logged). */
export interface ToleratedCodecs {
  section: number;
  relayed: string;
  dropped: string;
}

/** What an answer that fits its offer brings, per section. */
export interface CheckedAnswer {
  /** The key the answerer sends with (SRTP), else null. */
  answerKey: (SdesKey | null)[];
  /** Our key of the offer that the answerer chose, else null. */
  ourKeyToAnswerer: (SdesKey | null)[];
  tolerated: ToleratedCodecs[];
}

/**
 * Checks an answer against the pending offer before anything changes on the
 * relay (488 when it does not fit: address family, transport, codecs, SDES
 * crypto), and restricts `ansSd` (the copy written back to the offerer) to
 * the codecs the offerer's leg may get.
 */
export function checkAnswer(
  pend: PendingOffer,
  peers: readonly PeerMedia[],
  ansSd: SessionDescription,
  family: number,
  toOther: LegMediaOptions,
): CheckedAnswer {
  const answerKey: (SdesKey | null)[] = [];
  const ourKeyToAnswerer: (SdesKey | null)[] = [];
  const tolerated: ToleratedCodecs[] = [];
  peers.forEach((p, i) => {
    answerKey.push(null);
    ourKeyToAnswerer.push(null);
    if (p.port === 0 || pend.peers[i]!.port === 0) return;
    if (p.address !== null && isIP(p.address) !== family)
      throw notAcceptable(WARN.network, `media address family IPv${isIP(p.address)} not served`);
    const offered = pend.toward[i]!;
    if (p.transport !== offered)
      throw notAcceptable(WARN.transport, `answer transport ${p.transport} differs from the offer's ${offered}`);
    if (p.transport !== 'udptl') {
      // Written back to the offerer from ansSd: a format dropped by the check is taken out there.
      const found = withTranscodeHint(pend.peers[i]!, () =>
        checkAnswerCodecs(ansSd.media[i]!, pend.codecs[i]!, pend.offererCodecs[i]!),
      );
      if (found.relayed.length + found.dropped.length > 0)
        tolerated.push({ section: i, relayed: codecList(found.relayed), dropped: codecList(found.dropped) });
    }
    if (p.iceDtls !== null) checkDtlsRole(p.iceDtls, true);
    if (p.srtp) {
      const keys = answerCrypto(p, pend.offeredKeys[i]!);
      answerKey[i] = keys.theirs;
      ourKeyToAnswerer[i] = keys.ours;
    }
    if (pend.peers[i]!.transport !== 'udptl') restrictCodecs(ansSd.media[i]!, toOther.codecs);
  });
  return { answerKey, ourKeyToAnswerer, tolerated };
}

/** The one a=crypto of an SRTP answer section, and which of our offered keys it chose (by its tag, RFC 4568). */
function answerCrypto(p: PeerMedia, offered: readonly SdesKey[]): { theirs: SdesKey; ours: SdesKey } {
  if (p.crypto.length !== 1) throw notAcceptable(WARN.attribute, 'SRTP answer must have exactly one a=crypto line');
  const v = readCryptoLine(p.crypto[0]!);
  if (!v.ok) throw notAcceptable(WARN.attribute, v.reason);
  const ours = offered.find((k) => k.tag === v.key.tag);
  if (ours === undefined || ours.suite !== v.key.suite)
    throw notAcceptable(WARN.attribute, 'answer a=crypto tag or suite was not offered');
  return { theirs: v.key, ours };
}

/**
 * A WebRTC section whose legs share no codec (a browser offering Opus to a
 * G.711 carrier): the 488's Warning says the built-in engine does not
 * transcode and which engine does.
 */
function withTranscodeHint<T>(p: PeerMedia, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (p.iceDtls === null || !(err instanceof MediaError) || err.warnCode !== WARN.format) throw err;
    throw notAcceptable(
      WARN.format,
      `${err.warning}: the built-in media engine does not transcode, media.engine rtpengine can`,
    );
  }
}

/** What a browser's offer holds that a SIP leg does not use: RTP header extensions (RFC 8285), reduced-size RTCP (RFC 5506). */
function dropWebrtcExtras(sd: SessionDescription, m: SessionDescription['media'][number]): void {
  const r = m as unknown as Record<string, unknown>;
  for (const k of ['ext', 'extmapAllowMixed', 'rtcpRsize', 'rtcpFb', 'rtcpFbTrrInt', 'invalid']) delete r[k];
  delete (sd as unknown as Record<string, unknown>).extmapAllowMixed;
}
